/* Tokenizers as ComfyUI's FLUX text encode uses them: the 31 golden prompts exact (CLIP-L and
 * T5 ids, weights, raw ids; transformers 4.x mode, which they agree with), the CLIP BPE and its
 * text clean-up in both compatibility modes, ComfyUI's weight syntax, chunking across 77, and
 * hostile prompts (1 MB, NUL bytes, invalid UTF-8). The real-library fixtures
 * (tests/fixtures/tokenizers/) are checked through `fluxgraph probe tokenize` by
 * tests/test_tokenizer_compat.sh.
 *   test_tokenizers                                 all tests
 *   test_tokenizers --compare-probe OUT [GOLDEN]    checks a `fluxgraph probe tokenize` output
 *                                                   file against GOLDEN (default: the golden
 *                                                   tokenizers.safetensors) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/testing.h"
#include "tests/tokenizers/tok_test_util.h"
#include "text_encoders/prompt_weights.h"
#include "text_encoders/vocab_data.h"

fg_clip_tokenizer *tt_clip;
fg_t5_tokenizer *tt_t5;

double tt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t tt_first_diff_i32(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return i;
    return na == nb ? SIZE_MAX : n;
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    printf("    %s:", label);
    for (size_t i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

void tt_expect_clip(const char *text, size_t len, const int32_t *want, size_t n) {
    int32_t *ids = NULL;
    size_t count = 0;
    if (!CHECK_OK(fg_clip_tokenize(tt_clip, text, len, &ids, &count))) return;
    size_t d = tt_first_diff_i32(ids, count, want, n);
    if (d != SIZE_MAX) {
        printf("  '%s': first difference at %zu\n", text, d);
        print_ids("have", ids, count);
        print_ids("want", want, n);
    }
    CHECK(d == SIZE_MAX, "'%s'", text);
    free(ids);
}

#define EXPECT_CLIP(text, ...)                                                             \
    do {                                                                                   \
        const int32_t want_[] = {__VA_ARGS__};                                             \
        tt_expect_clip(text, strlen(text), want_, sizeof want_ / sizeof want_[0]);         \
    } while (0)

static void test_load(void) {
    double t0 = tt_now();
    CHECK_OK(fg_clip_tokenizer_load_default(&tt_clip));
    double t1 = tt_now();
    CHECK_OK(fg_t5_tokenizer_load_default(&tt_t5));
    printf("  CLIP tokenizer loads in %.1f ms\n", (t1 - t0) * 1e3);
    if (!tt_clip) return;
    CHECK(fg_clip_token_id(tt_clip, "cat</w>", 7) == 2368);
    CHECK(fg_clip_token_id(tt_clip, "<|endoftext|>", 13) == FG_CLIP_EOS_ID);
    CHECK(fg_clip_token_id(tt_clip, "no such token", 13) == -1);
    CHECK(strcmp(fg_clip_token_text(tt_clip, 320), "a</w>") == 0);
    CHECK(fg_clip_token_text(tt_clip, FG_CLIP_VOCAB_SIZE) == NULL && fg_clip_token_text(tt_clip, -1) == NULL);
}

/* Hostile vocabulary files fail with a message, never a crash. */
static void test_clip_bad_vocab(void) {
    fg_clip_tokenizer *t = NULL;
    fg_blob v = fg_vocab_clip_vocab_json(), m = fg_vocab_clip_merges_txt();
    const char *vj = (const char *)v.data, *mt = (const char *)m.data;
    CHECK_ERR(fg_clip_tokenizer_load("[1, 2]", 6, mt, m.size, &t), "non-empty object");
    CHECK_ERR(fg_clip_tokenizer_load("{\"a\": 0, \"b\": 0}", 16, mt, m.size, &t), "invalid or repeated id");
    CHECK_ERR(fg_clip_tokenizer_load("{\"a\": 5}", 8, mt, m.size, &t), "invalid or repeated id");
    CHECK_ERR(fg_clip_tokenizer_load("{\"a\": ", 6, mt, m.size, &t), "vocab.json");
    CHECK_ERR(fg_clip_tokenizer_load(vj, v.size, "i n\n", 4, &t), "#version");
    CHECK_ERR(fg_clip_tokenizer_load(vj, v.size, "#version: 0.2\ni n\nt h\n", 22, &t), "expected 48894");
    CHECK_ERR(fg_clip_tokenizer_load(vj, v.size, "#version: 0.2\nqqq zzz\n", 22, &t), "missing from vocab.json");
    CHECK_ERR(fg_clip_tokenizer_load(vj, v.size, "#version: 0.2\nin\n", 17, &t), "not 'left right'");
    CHECK(t == NULL);
}

static void test_clip_known_ids(void) {
    if (!tt_clip) return;
    EXPECT_CLIP("a photo of a cat", 320, 1125, 539, 320, 2368);
    EXPECT_CLIP("A cat holding a sign that says hello world", 320, 2368, 5050, 320, 2292, 682, 1563, 3306, 1002);
    EXPECT_CLIP("Hello, World! 123", 3306, 267, 1002, 256, 272, 273, 274); /* digits one per token */
    EXPECT_CLIP("aaaa", 19336);
    EXPECT_CLIP("don't", 847, 713);
    EXPECT_CLIP("<|endoftext|>", FG_CLIP_EOS_ID);
    EXPECT_CLIP("a<|startoftext|>", 320, FG_CLIP_BOS_ID);
    int32_t *ids = NULL;
    size_t n = 99;
    CHECK_OK(fg_clip_tokenize(tt_clip, "  \t\n ", 5, &ids, &n));
    CHECK(n == 0 && ids == NULL, "whitespace only gives no ids");
    CHECK_OK(fg_clip_tokenize(tt_clip, NULL, 0, &ids, &n));
    CHECK(n == 0);
}

static void expect_norm_mode(fg_tokenizer_compat mode, const char *text, size_t len, const char *want) {
    char *out = NULL;
    size_t n = 0;
    if (!CHECK_OK(fg_clip_normalize(mode, text, len, &out, &n))) return;
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0, "normalise '%s' -> '%s', want '%s'", text, out, want);
    free(out);
}

#define expect_norm(...) expect_norm_mode(FG_TOKENIZER_TRANSFORMERS4, __VA_ARGS__)
#define expect_norm5(...) expect_norm_mode(FG_TOKENIZER_TRANSFORMERS5, __VA_ARGS__)

/* transformers 5.x: NFC, White_Space runs -> one space (kept at the ends), per-character lower
 * case; nothing dropped, no CJK spacing, no final sigma. */
static void test_clip_normalisation5(void) {
    expect_norm5("  Multiple\t\tSPACES\nand\rlines  ", 30, " multiple spaces and lines ");
    expect_norm5("a\x0B\x0C" "b\xC2\x85" "c\xE2\x80\xA8" "d\xE3\x80\x80" "e", 15, "a b c d e");
    expect_norm5("a\x01" "b\xE2\x80\x8D" "c\xEF\xBB\xBF", 10, "a\x01" "b\xE2\x80\x8D" "c\xEF\xBB\xBF");
    expect_norm5("a\x1C" "b", 3, "a\x1C" "b"); /* U+001C is no White_Space */
    expect_norm5("ab\xE4\xB8\xAD\xE6\x96\x87" "cd", 10, "ab\xE4\xB8\xAD\xE6\x96\x87" "cd");
    expect_norm5("E\xCC\x81", 3, "\xC3\xA9");
    expect_norm5("\xCE\x9F\xCE\xA3", 4, "\xCE\xBF\xCF\x83"); /* ΟΣ -> οσ (no final sigma) */
    expect_norm5("\xC4\xB0", 2, "i\xCC\x87");
}

static void test_clip_normalisation(void) {
    expect_norm("  Multiple\t\tSPACES\nand\rlines  ", 30, "multiple spaces and lines");
    expect_norm("a\xC2\xA0" "b\xE3\x80\x80" "c", 8, "a b c");                   /* Zs -> space */
    expect_norm("a\x01\x7F" "b\xE2\x80\x8D" "c\xEF\xBB\xBF", 12, "abc");     /* Cc, ZWJ, BOM dropped */
    expect_norm("x\0y\xEF\xBF\xBDz", 7, "xyz");                               /* NUL, U+FFFD dropped */
    expect_norm("ab\xE4\xB8\xAD\xE6\x96\x87" "cd", 10, "ab \xE4\xB8\xAD \xE6\x96\x87 cd"); /* CJK spaced */
    expect_norm("e\xCC\x81", 3, "\xC3\xA9");                                   /* NFC */
    expect_norm("\xC3\x89T\xC3\x89", 5, "\xC3\xA9t\xC3\xA9");                  /* ÉTÉ */
    expect_norm("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", 8, "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82"); /* ΟΔΟΣ -> οδος */
    expect_norm("\xCE\xA3", 2, "\xCF\x83");                                    /* lone Σ -> σ */
    expect_norm("\xC4\xB0", 2, "i\xCC\x87");                                   /* İ -> i + U+0307 */
    expect_norm("a\xE2\x80\xA8" "b", 5, "a b");                                /* U+2028 splits */
}

static void test_clip_bad_utf8(void) {
    if (!tt_clip) return;
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_ERR(fg_clip_tokenize(tt_clip, "cat \xFF", 5, &ids, &n), "offset 4");
    CHECK_ERR(fg_clip_tokenize(tt_clip, "\xE2\x82", 2, &ids, &n), "offset 0");
    fg_flux_tokens t;
    CHECK_ERR(fg_flux_tokenize(tt_clip, tt_t5, "ok (x:1.2) \xC3\x28", 13, &t), "offset 11");
}

/* ---- FLUX streams ------------------------------------------------------------------------ */

static bool row_is(const fg_token_chunks *c, int64_t row, const int32_t *ids, size_t n, int32_t fill) {
    for (int64_t i = 0; i < c->cols; i++) {
        int32_t want = (size_t)i < n ? ids[i] : fill;
        if (c->ids[row * c->cols + i] != want) {
            printf("  row %lld col %lld: %d, want %d\n", (long long)row, (long long)i, c->ids[row * c->cols + i], want);
            return false;
        }
    }
    return true;
}

static void test_flux_short_prompt(void) {
    if (!tt_clip || !tt_t5) return;
    fg_flux_tokens t;
    if (!CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "a (cat:1.3)", 11, &t))) return;
    const int32_t clip[] = {49406, 320, 2368, 49407};
    CHECK(t.clip.rows == 1 && t.clip.cols == 77 && row_is(&t.clip, 0, clip, 4, 49407));
    CHECK(t.clip.weights[0] == 1.0f && t.clip.weights[1] == 1.0f && t.clip.weights[2] == 1.3f && t.clip.weights[3] == 1.0f);
    CHECK(t.t5.rows == 1 && t.t5.cols == 256);
    /* "a" and "cat" are separate T5 segments: each gets its own leading "▁". */
    const int32_t t5[] = {3, 9, 1712, 1};
    CHECK(row_is(&t.t5, 0, t5, 4, 0), "T5 ids");
    CHECK(t.t5.weights[2] == 1.3f && t.t5.weights[3] == 1.0f && t.t5.weights[255] == 1.0f);
    fg_flux_tokens_free(&t);

    /* Python float() weights pass through: 1e308 is inf as a float, nan stays nan. */
    if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "(x:1e308) (y:nan) (z:-inf)", 26, &t))) {
        const int32_t xyz[] = {49406, 343, 344, 345, 49407};
        CHECK(row_is(&t.clip, 0, xyz, 5, 49407));
        CHECK(isinf(t.clip.weights[1]) && isnan(t.clip.weights[2]) && isinf(t.clip.weights[3]) && t.clip.weights[3] < 0);
        CHECK(isinf(t.t5.weights[0]) && t.t5.weights[t.t5.cols - 1] == 1.0f);
        fg_flux_tokens_free(&t);
    }
    CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "", 0, &t));
    const int32_t empty_clip[] = {49406, 49407}, empty_t5[] = {1};
    CHECK(t.clip.rows == 1 && row_is(&t.clip, 0, empty_clip, 2, 49407) && row_is(&t.t5, 0, empty_t5, 1, 0));
    fg_flux_tokens_free(&t);
}

/* Every segment goes through the tokenizer, also one whose text + "</w>" is a vocabulary key
 * ("A</w>" is 288, but ComfyUI's tokenizer lower-cases "A" to "a", 320). */
static void test_flux_no_word_shortcut(void) {
    if (!tt_clip || !tt_t5) return;
    fg_token_chunks c;
    if (!CHECK_OK(fg_flux_tokenize_clip(tt_clip, "(A:1.2) A cat", 13, &c))) return;
    const int32_t want[] = {49406, 320, 320, 2368, 49407};
    CHECK(row_is(&c, 0, want, 5, 49407), "no exact-word shortcut");
    CHECK(c.weights[1] == 1.2f && c.weights[2] == 1.0f);
    fg_token_chunks_free(&c);
}

/* "embedding:NAME" (no such file): NAME is dropped, commas after it and the rest stay. */
static void test_flux_missing_embedding(void) {
    if (!tt_clip || !tt_t5) return;
    fg_token_chunks c;
    if (!CHECK_OK(fg_flux_tokenize_clip(tt_clip, "a cat embedding:foo, dog", 24, &c))) return;
    const int32_t want[] = {49406, 320, 2368, 267, 1929, 49407};
    CHECK(row_is(&c, 0, want, 6, 49407), "embedding name dropped");
    fg_token_chunks_free(&c);
    /* "embedding:" with no name: ComfyUI raises (IndexError), fluxgraph names the problem. */
    static const char *const bad[] = {"cat embedding:", "embedding:", "embedding: \t", "(embedding:\n:1.2)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(fg_flux_tokenize_clip(tt_clip, bad[i], strlen(bad[i]), &c), "not followed by an embedding name");
        CHECK_ERR(fg_flux_tokenize_t5(tt_t5, bad[i], strlen(bad[i]), 256, &c), "'embedding:'");
    }
    CHECK_OK(fg_flux_tokenize_clip(tt_clip, "cat embedding: dog", 18, &c)); /* the name is "dog" */
    const int32_t only_cat[] = {49406, 2368, 49407};
    CHECK(row_is(&c, 0, only_cat, 3, 49407));
    fg_token_chunks_free(&c);
}

/* 200 words in one segment: a group of >= 8 tokens is split at the chunk boundaries. */
static void test_flux_long_group_splits(void) {
    if (!tt_clip || !tt_t5) return;
    char text[300 * 4 + 1] = "";
    for (int i = 0; i < 200; i++) strcat(text, "cat ");
    fg_flux_tokens t;
    if (!CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, text, strlen(text), &t))) return;
    CHECK(t.clip.rows == 3, "%lld chunks", (long long)t.clip.rows);
    int32_t full[77];
    full[0] = 49406;
    for (int i = 1; i < 76; i++) full[i] = 2368;
    full[76] = 49407;
    CHECK(t.clip.rows == 3 && row_is(&t.clip, 0, full, 77, 0) && row_is(&t.clip, 1, full, 77, 0));
    full[51] = 49407; /* 200 - 2 * 75 = 50 cats */
    CHECK(t.clip.rows == 3 && row_is(&t.clip, 2, full, 52, 49407));
    CHECK(t.t5.rows == 1 && t.t5.cols == 256, "T5 %lld", (long long)t.t5.cols);
    fg_flux_tokens_free(&t);
    /* T5 has no chunks: 300 words stay in one row (each "cat" is one piece) past 256. */
    for (int i = 0; i < 100; i++) strcat(text, "cat ");
    fg_token_chunks c;
    if (CHECK_OK(fg_flux_tokenize_t5(tt_t5, text, strlen(text), 256, &c))) {
        CHECK(c.rows == 1 && c.cols == 301 && c.ids[299] != 0 && c.ids[300] == FG_T5_EOS_ID, "T5 %lld", (long long)c.cols);
        fg_token_chunks_free(&c);
    }
    if (CHECK_OK(fg_flux_tokenize_t5(tt_t5, "cat", 3, 0, &c))) {
        CHECK(c.cols == 2 && c.ids[1] == FG_T5_EOS_ID, "min_length 0: no padding");
        fg_token_chunks_free(&c);
    }
}

/* A short group (< 8 tokens) that does not fit moves whole to the next chunk. */
static void test_flux_short_group_moves(void) {
    if (!tt_clip || !tt_t5) return;
    char text[1024] = "";
    for (int i = 0; i < 70; i++) strcat(text, "cat ");
    strcat(text, "(a b c d e f:1.2)");
    fg_token_chunks c;
    if (!CHECK_OK(fg_flux_tokenize_clip(tt_clip, text, strlen(text), &c))) return;
    CHECK(c.rows == 2, "%lld chunks", (long long)c.rows);
    int32_t row0[72];
    row0[0] = 49406;
    for (int i = 1; i <= 70; i++) row0[i] = 2368;
    row0[71] = 49407;
    const int32_t row1[] = {49406, 320, 321, 322, 323, 324, 325, 49407};
    CHECK(c.rows == 2 && row_is(&c, 0, row0, 72, 49407) && row_is(&c, 1, row1, 8, 49407));
    CHECK(c.rows == 2 && c.weights[77 + 1] == 1.2f && c.weights[77 + 6] == 1.2f && c.weights[77 + 7] == 1.0f);
    fg_token_chunks_free(&c);
}

static void test_flux_nul_bytes(void) {
    if (!tt_clip || !tt_t5) return;
    fg_flux_tokens a, b;
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS4);
    if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "a c\0at", 6, &a))) {
        if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "a cat", 5, &b))) {
            CHECK(a.clip.rows == b.clip.rows && memcmp(a.clip.ids, b.clip.ids, 77 * sizeof(int32_t)) == 0,
                  "NUL is dropped by the transformers 4 CLIP clean-up");
            fg_flux_tokens_free(&b);
        }
        fg_flux_tokens_free(&a);
    }
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS5);
    /* transformers 5 keeps it: a pre-token of its own, byte-encoded. */
    if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, "a c\0at", 6, &a))) {
        const int32_t want[] = {49406, 320, 322, 444, 536, 49407}; /* a, c, NUL, at (transformers 5.25) */
        CHECK(row_is(&a.clip, 0, want, 6, 49407), "NUL kept by transformers 5");
        fg_flux_tokens_free(&a);
    }
}

/* 1 MB of prompt: ordinary words, one giant letter run (BPE heap), and weighted pieces. */
static void test_flux_one_megabyte(void) {
    if (!tt_clip || !tt_t5) return;
    size_t big = 1 << 20;
    char *text = malloc(big);
    uint32_t state = 12345;
    for (size_t i = 0; i < big; i++) {
        state = state * 1664525u + 1013904223u;
        unsigned r = state >> 24;
        text[i] = r < 40 ? ' ' : r < 44 ? ',' : r < 46 ? '(' : r < 48 ? ')' : (char)('a' + r % 26);
    }
    const char *names[] = {"random words", "one letter run"};
    for (int k = 0; k < 2; k++) {
        if (k == 1) memset(text, 'q', big);
        fg_flux_tokens t;
        double t0 = tt_now();
        if (CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, text, big, &t))) {
            double dt = tt_now() - t0;
            printf("  1 MB prompt (%s): %lld CLIP chunks, %lld T5 tokens in %.2f s\n", names[k], (long long)t.clip.rows,
                   (long long)t.t5.cols, dt);
            CHECK(t.clip.rows > 1000 && t.t5.cols > 1000);
            CHECK(dt < test_time_limit(30.0), "%.1f s", dt);
            fg_flux_tokens_free(&t);
        }
    }
    /* One byte more is refused before any tokenizing (issue 15: a 40 MB prompt in a 41 KB PNG
     * took 1.6 GiB and 7.5 s to reach the T5 token limit). */
    char *over = malloc(big + 1);
    if (over) {
        memset(over, 'q', big + 1);
        fg_flux_tokens t;
        CHECK_ERR(fg_flux_tokenize(tt_clip, tt_t5, over, big + 1, &t), "the prompt is 1048577 bytes, more than the 1048576");
        fg_token_chunks c;
        CHECK_ERR(fg_flux_tokenize_t5(tt_t5, over, big + 1, 256, &c), "T5 tokens: the prompt is 1048577 bytes");
        free(over);
    }
    free(text);
}

static const char *probe_out_path, *probe_golden_path;
static void test_probe_output_matches_golden(void) { test_probe_output(probe_out_path, probe_golden_path); }

int main(int argc, char **argv) {
    const char *probe_out = NULL;
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--compare-probe") == 0) {
        probe_out = argv[2];
        probe_golden_path = argc == 4 ? argv[3] : NULL;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--compare-probe FILE [GOLDEN]]\n", argv[0]);
        return 2;
    }
    if (probe_out) {
        probe_out_path = probe_out;
        RUN_TEST(test_probe_output_matches_golden);
        return test_summary();
    }
    RUN_TEST(test_load);
    RUN_TEST(test_golden_prompts);
    RUN_TEST(test_clip_bad_vocab);
    RUN_TEST(test_clip_known_ids);
    RUN_TEST(test_clip_normalisation);
    RUN_TEST(test_clip_normalisation5);
    RUN_TEST(test_compat_parse);
    RUN_TEST(test_compat_clip_vectors);
    RUN_TEST(test_compat_t5_vectors);
    RUN_TEST(test_clip_bad_utf8);
    RUN_TEST(test_py_float);
    RUN_TEST(test_weights_basic);
    RUN_TEST(test_weights_escapes_and_unbalanced);
    RUN_TEST(test_weights_hostile);
    RUN_TEST(test_flux_short_prompt);
    RUN_TEST(test_flux_no_word_shortcut);
    RUN_TEST(test_flux_missing_embedding);
    RUN_TEST(test_flux_long_group_splits);
    RUN_TEST(test_flux_short_group_moves);
    RUN_TEST(test_flux_nul_bytes);
    RUN_TEST(test_flux_one_megabyte);
    RUN_TEST(test_compat_hostile);
    fg_clip_tokenizer_free(tt_clip);
    fg_t5_tokenizer_free(tt_t5);
    return test_summary();
}
