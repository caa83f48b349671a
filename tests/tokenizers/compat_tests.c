/* The transformers 4.x / 5.x tokenizer differences (docs/tokenizers.md), one vector each, with
 * ids taken from the real-library fixtures (tests/fixtures/tokenizers/); and the option value
 * parser. The fixtures themselves are checked in full by tests/test_tokenizer_compat.sh. */
#include <stdlib.h>
#include <string.h>

#include "tests/testing.h"
#include "tests/tokenizers/tok_test_util.h"

void test_compat_parse(void) {
    fg_tokenizer_compat c = FG_TOKENIZER_TRANSFORMERS4;
    CHECK(fg_tokenizer_compat_default() == FG_TOKENIZER_TRANSFORMERS5, "transformers5 is the default");
    CHECK_OK(fg_tokenizer_compat_parse("transformers5", &c));
    CHECK(c == FG_TOKENIZER_TRANSFORMERS5);
    CHECK_OK(fg_tokenizer_compat_parse("transformers4", &c));
    CHECK(c == FG_TOKENIZER_TRANSFORMERS4);
    CHECK_ERR(fg_tokenizer_compat_parse("transformers3", &c), "not 'transformers3'");
    CHECK_ERR(fg_tokenizer_compat_parse("", &c), "transformers5 or transformers4");
    CHECK_ERR(fg_tokenizer_compat_parse("Transformers5", &c), "not 'Transformers5'");
    CHECK(strcmp(fg_tokenizer_compat_name(FG_TOKENIZER_TRANSFORMERS4), "transformers4") == 0);
    CHECK(strcmp(fg_tokenizer_compat_name(FG_TOKENIZER_TRANSFORMERS5), "transformers5") == 0);
    if (tt_clip) CHECK(fg_clip_tokenizer_compat(tt_clip) == FG_TOKENIZER_TRANSFORMERS5);
    if (tt_t5) CHECK(fg_t5_tokenizer_compat(tt_t5) == FG_TOKENIZER_TRANSFORMERS5);
}

typedef struct vec {
    const char *text;
    size_t len; /* 0: strlen */
    int32_t want5[12], want4[12];
    size_t n5, n4;
} vec;


static const vec clip_vecs[] = {
    /* special tokens cut out of the raw text first, also after punctuation */
    {"x,<|endoftext|>", 0, {343, 267, 49407}, {343, 267, 49407}, 3, 3},
    {"hi,<|startoftext|>", 0, {1883, 267, 49406}, {1883, 267, 49406}, 3, 3},
    /* 5.x: <|endoftext|> is case-sensitive; 4.x lower-cases it into its BPE cache entry */
    {"<|ENDOFTEXT|>", 0, {27, 347, 40786, 4160, 91, 285}, {49407}, 6, 1},
    /* <|startoftext|> is matched after lower-casing in 5.x, by the regex + cache in 4.x */
    {"<|STARTOFTEXT|>", 0, {49406}, {49406}, 1, 1},
    /* final sigma: 4.x str.lower() has it, 5.x lower-cases per character */
    {"\xCE\x91\xCE\xA3", 0, {138, 109, 139, 481}, {138, 109, 139, 480}, 4, 4},
    /* CJK ideographs: one letter run in 5.x, one word each in 4.x */
    {"\xE6\x97\xA5\xE6\x9C\xAC", 0, {39121, 19277, 361}, {37156, 19277, 361}, 3, 3},
    /* ZWJ kept (5.x) or dropped (4.x) */
    {"join\xE2\x80\x8Dme", 0, {1384, 728, 491, 614}, {14737, 614}, 4, 2},
    /* VT / FF: White_Space (5.x), control characters dropped (4.x) */
    {"vt\x0B" "ff\x0C" "end", 0, {10291, 1304, 806}, {31732, 1021, 806}, 3, 3},
    {"x\xC2\x85y\xE2\x80\xA8z", 0, {343, 344, 345}, {11443, 345}, 3, 2},
    {"nul\0byte", 8, {1156, 331, 444, 42798}, {29358, 42798}, 4, 2},
    {"Q", 0, {336}, {336}, 1, 1},
};

static const vec t5_vecs[] = {
    /* 5.x: every word after a special token gets its own "▁" */
    {"hello</s>world", 0, {21820, 1, 296}, {21820, 1, 7276}, 3, 3},
    {"a<pad>b", 0, {3, 9, 0, 3, 115}, {3, 9, 0, 115}, 5, 4},
    /* the charsmap per grapheme cluster: a + U+0308 + U+0301 -> "ä" (the acute dropped) */
    {"a\xCC\x88\xCC\x81", 0, {3, 1864}, {3, 1864}, 2, 2},
    {"e\xCC\x81\xCC\x81", 0, {3, 154}, {3, 154}, 2, 2},
    /* U+0085 is whitespace for 5.x's WhitespaceSplit, an unknown character for 4.x */
    {"x\xC2\x85y\xE2\x80\xA8z", 0, {3, 226, 3, 63, 3, 172}, {3, 226, 2, 63, 3, 172}, 6, 6},
    {"  leading and trailing  ", 0, {1374, 11, 5032, 53}, {1374, 11, 5032, 53}, 4, 4},
    {"\xC2\x85", 0, {0}, {0}, 0, 0},
    {"x,<|endoftext|>", 0, {3, 226, 6, 2, 9175, 989, 858, 6327, 9175, 3155},
     {3, 226, 6, 2, 9175, 989, 858, 6327, 9175, 3155}, 10, 10},
};

static void check_vec(const char *what, fg_tokenizer_compat mode, const vec *v, const int32_t *have, size_t n) {
    const int32_t *want = mode == FG_TOKENIZER_TRANSFORMERS4 ? v->want4 : v->want5;
    size_t wn = mode == FG_TOKENIZER_TRANSFORMERS4 ? v->n4 : v->n5;
    bool same = tt_first_diff_i32(have, n, want, wn) == SIZE_MAX;
    if (!same) {
        printf("  %s %s '%s': have", what, fg_tokenizer_compat_name(mode), v->text);
        for (size_t i = 0; i < n; i++) printf(" %d", have[i]);
        printf("\n");
    }
    CHECK(same, "%s %s '%s'", what, fg_tokenizer_compat_name(mode), v->text);
}

void test_compat_clip_vectors(void) {
    if (!tt_clip) return;
    for (int m = 0; m < 2; m++) {
        fg_tokenizer_compat mode = m ? FG_TOKENIZER_TRANSFORMERS4 : FG_TOKENIZER_TRANSFORMERS5;
        fg_clip_tokenizer_set_compat(tt_clip, mode);
        for (size_t i = 0; i < sizeof clip_vecs / sizeof clip_vecs[0]; i++) {
            const vec *v = &clip_vecs[i];
            int32_t *ids = NULL;
            size_t n = 0;
            if (!CHECK_OK(fg_clip_tokenize(tt_clip, v->text, v->len ? v->len : strlen(v->text), &ids, &n))) continue;
            check_vec("CLIP", mode, v, ids, n);
            free(ids);
        }
    }
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS5);
}

void test_compat_t5_vectors(void) {
    if (!tt_t5) return;
    for (int m = 0; m < 2; m++) {
        fg_tokenizer_compat mode = m ? FG_TOKENIZER_TRANSFORMERS4 : FG_TOKENIZER_TRANSFORMERS5;
        fg_t5_tokenizer_set_compat(tt_t5, mode);
        for (size_t i = 0; i < sizeof t5_vecs / sizeof t5_vecs[0]; i++) {
            const vec *v = &t5_vecs[i];
            int32_t *ids = NULL;
            size_t n = 0;
            if (!CHECK_OK(fg_t5_tokenize(tt_t5, v->text, v->len ? v->len : strlen(v->text), &ids, &n))) continue;
            check_vec("T5", mode, v, ids, n);
            free(ids);
        }
    }
    fg_t5_tokenizer_set_compat(tt_t5, FG_TOKENIZER_TRANSFORMERS5);
}

/* Hostile prompts in both modes: no crash, no error (they are valid UTF-8), bounded time. */
void test_compat_hostile(void) {
    if (!tt_clip || !tt_t5) return;
    static const char *const units[] = {
        "\xCC\x81",           /* one 128 KB grapheme cluster of combining acutes */
        "<|endoftext|>",      /* special tokens back to back */
        "\xE2\x96\x81",       /* "▁" typed by the user */
        "\x0B\xC2\x85 \xE3\x80\x80", /* whitespace runs */
        "\0\x01\xEF\xBF\xBD", /* NUL, control, U+FFFD */
        "\xF0\x9F\x91\xA9\xE2\x80\x8D", /* an endless ZWJ emoji sequence */
        "</s><pad>x,",
        "((x:1.2) \\( ",
    };
    enum { SIZE = 128 * 1024 };
    char *text = malloc(SIZE + 16);
    CHECK(text != NULL);
    if (!text) return;
    for (int m = 0; m < 2; m++) {
        fg_tokenizer_compat mode = m ? FG_TOKENIZER_TRANSFORMERS4 : FG_TOKENIZER_TRANSFORMERS5;
        fg_clip_tokenizer_set_compat(tt_clip, mode);
        fg_t5_tokenizer_set_compat(tt_t5, mode);
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = u == 4 ? 5 : strlen(units[u]), len = 0; /* unit 4 starts with a NUL */
            while (len + ul <= SIZE) memcpy(text + len, units[u], ul), len += ul;
            fg_flux_tokens t;
            double t0 = tt_now();
            if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, text, len, &t))) {
                CHECK(t.clip.rows >= 1 && t.t5.cols >= 256);
                fg_flux_tokens_free(&t);
            }
            CHECK(tt_now() - t0 < test_time_limit(30.0), "%s unit %zu: %.1f s", fg_tokenizer_compat_name(mode), u, tt_now() - t0);
        }
    }
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS5);
    fg_t5_tokenizer_set_compat(tt_t5, FG_TOKENIZER_TRANSFORMERS5);
    free(text);
}
