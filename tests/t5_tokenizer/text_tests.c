/* Tricky text: both vocabulary formats agree, and rules of the algorithm that can be stated
 * without the tokenizer's own output (equivalences, special tokens, <unk> merging, speed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/t5_tokenizer/t5_test_util.h"
#include "tests/testing.h"

static fg_t5_tokenizer *tok, *tok_json, *tok_proto;

#define TEXT(s) {s, sizeof(s) - 1}
static const struct { const char *s; size_t len; } tricky[] = {
    TEXT(""), TEXT(" "), TEXT("     "), TEXT("\t\n\r "), TEXT("  lead"), TEXT("trail   "),
    TEXT("a  b\t\tc\n\nd"), TEXT("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xEF\xBC\x91\xEF\xBC\x92"),
    TEXT("\xEF\xAC\x81nd \xEF\xAC\x82ow"), TEXT("\xE2\x91\xA0 \xE2\x84\xA2 \xE2\x80\xA6 \xC2\xBD \xE3\x8E\x8F"),
    TEXT("e\xCC\x81t\xC3\xA9 n\xCC\x83 a\xCC\x8A\xCC\x81"), TEXT("\xF0\x9F\x99\x82\xF0\x9F\x90\xB1 x \xF0\x9F\x9A\x80"),
    TEXT("a\0b\0\0c"), TEXT("\xFF\xFE bad \xC3 \xE2\x82 \xED\xA0\x80 \xF4\x90\x80\x80 \xC0\xAF"),
    TEXT("\xE3\x80\x80ideographic\xE3\x80\x80space\xC2\xA0nbsp"), TEXT("\x0B\x0C\x1F\x7F\xC2\x85"),
    TEXT("</s>"), TEXT("a</s>b"), TEXT("x <extra_id_0> y<extra_id_99>"), TEXT("<pad><unk>"), TEXT("<extra_id_100>"),
    TEXT("\xE6\x97\xA5\xE6\x9C\xAC \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"),
};

static void test_formats_agree(void) {
    size_t n = sizeof tricky / sizeof tricky[0];
    for (size_t i = 0; i < n; i++) {
        size_t c1, c2, c3;
        int32_t *a = t5_ids(tok_json, tricky[i].s, tricky[i].len, &c1);
        int32_t *b = t5_ids(tok_proto, tricky[i].s, tricky[i].len, &c2);
        int32_t *d = t5_ids(tok, tricky[i].s, tricky[i].len, &c3);
        CHECK(c1 == c2 && c1 == c3 && (c1 == 0 || (memcmp(a, b, c1 * 4) == 0 && memcmp(a, d, c1 * 4) == 0)),
              "tricky string %zu: formats disagree", i);
        for (size_t k = 0; k < c1; k++)
            CHECK(a[k] >= 0 && (size_t)a[k] < fg_t5_vocab_size(tok_json), "tricky string %zu: id %d", i, a[k]);
        free(a), free(b), free(d);
    }
}

/* Two texts the rules say must give the same ids. */
static void expect_same(const char *x, size_t xl, const char *y, size_t yl) {
    size_t c1, c2;
    int32_t *a = t5_ids(tok, x, xl, &c1), *b = t5_ids(tok, y, yl, &c2);
    CHECK(a && b && c1 == c2 && memcmp(a, b, c1 * 4) == 0, "\"%s\" vs \"%s\"", x, y);
    free(a), free(b);
}
#define SAME(x, y) expect_same(x, sizeof(x) - 1, y, sizeof(y) - 1)

static void test_equivalences(void) {
    SAME("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3 \xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93", "ABC 123"); /* fullwidth */
    SAME("\xEF\xAC\x81sh", "fish");                                                              /* ligature */
    SAME("caf" "e\xCC\x81", "caf\xC3\xA9");                                                      /* NFC */
    SAME("\xE2\x91\xA0\xE2\x80\xA6", "1...");
    SAME("  many   spaces\there  ", "many spaces here");
    SAME("a\n\nb\r\nc", "a b c");
    SAME("x\xE3\x80\x80y\xC2\xA0z", "x y z");
    SAME("a\x0B" "b", "ab"); /* vertical tab is deleted */
    SAME("\xFF", "\xC0"); /* invalid bytes become U+FFFD after the charsmap, so not deleted */
}

static void expect_ids(const char *s, size_t len, const int32_t *want, size_t n) {
    size_t c;
    int32_t *ids = t5_ids(tok, s, len, &c);
    CHECK(ids || n == 0);
    CHECK(c == n && (n == 0 || memcmp(ids, want, n * 4) == 0), "\"%s\": %zu ids", s, c);
    free(ids);
}
#define IDS(s, ...)                                                                        \
    do {                                                                                   \
        const int32_t w_[] = {-1, __VA_ARGS__};                                            \
        expect_ids(s, sizeof(s) - 1, w_ + 1, sizeof w_ / sizeof w_[0] - 1);                \
    } while (0)

static void test_rules(void) {
    expect_ids("", 0, NULL, 0);
    expect_ids(" \t\n ", 4, NULL, 0);
    expect_ids(NULL, 0, NULL, 0);
    /* "▁" is id 3; an unknown character after it is one <unk>, and a run of them too. */
    IDS("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 3, FG_T5_UNK_ID);
    IDS("\xFF\xFE\xFD", 3, FG_T5_UNK_ID);
    IDS("\0", 3, FG_T5_UNK_ID);
    IDS("\xEF\xBF\xBD"); /* the charsmap maps a real U+FFFD to a space */
    size_t n;
    int32_t *ids = t5_ids(tok, "Hello\0world", 11, &n);
    CHECK(ids && n == 3 && ids[1] == FG_T5_UNK_ID && strcmp(fg_t5_piece(tok, ids[0]), "\xE2\x96\x81Hello") == 0 &&
          strcmp(fg_t5_piece(tok, ids[2]), "world") == 0);
    free(ids);
    /* Special tokens are matched verbatim, longest first; the word after one gets its own "▁"
     * in transformers 5 mode, no dummy "▁" in transformers 4 mode. */
    IDS("</s>", FG_T5_EOS_ID);
    IDS("<extra_id_0><extra_id_99><extra_id_10>", 32099, 32000, 32089);
    for (int m = 0; m < 2; m++) {
        fg_t5_tokenizer_set_compat(tok, m ? FG_TOKENIZER_TRANSFORMERS4 : FG_TOKENIZER_TRANSFORMERS5);
        size_t c;
        ids = t5_ids(tok, "<pad>Hello  world</s>", 21, &c);
        char joined[64] = "";
        for (size_t i = 1; ids && i + 1 < c; i++)
            if (strlen(joined) + strlen(fg_t5_piece(tok, ids[i])) < sizeof joined) strcat(joined, fg_t5_piece(tok, ids[i]));
        CHECK(ids && c >= 3 && ids[0] == FG_T5_PAD_ID && ids[c - 1] == FG_T5_EOS_ID);
        CHECK(strcmp(joined, m ? "Hello\xE2\x96\x81world" : "\xE2\x96\x81Hello\xE2\x96\x81world") == 0, "%s", joined);
        free(ids);
    }
    fg_t5_tokenizer_set_compat(tok, FG_TOKENIZER_TRANSFORMERS5);
}

static void test_rules_pieces(void) {
    /* Pieces named by text, so these follow from the vocabulary rather than from our output. */
    size_t c;
    int32_t *ids = t5_ids(tok, "Hello world", 11, &c);
    if (ids && c == 2) {
        CHECK(strcmp(fg_t5_piece(tok, ids[0]), "\xE2\x96\x81Hello") == 0);
        CHECK(strcmp(fg_t5_piece(tok, ids[1]), "\xE2\x96\x81world") == 0);
    }
    free(ids);
}

static void test_megabyte_prompt(void) {
    static const char unit[] = "a photo of a cat ";
    const int32_t unit_ids[] = {3, 9, 1202, 13, 3, 9, 1712};
    size_t reps = (1 << 20) / (sizeof unit - 1), len = reps * (sizeof unit - 1);
    char *text = malloc(len);
    CHECK(text != NULL);
    if (!text) return;
    for (size_t i = 0; i < reps; i++) memcpy(text + i * (sizeof unit - 1), unit, sizeof unit - 1);
    double t0 = t5_now();
    size_t c;
    int32_t *ids = t5_ids(tok, text, len, &c);
    double dt = t5_now() - t0;
    printf("  1 MB prompt: %zu ids in %.3f s\n", c, dt);
    CHECK(c == reps * 7, "%zu ids", c);
    size_t bad = 0;
    for (size_t i = 0; ids && i < c && i < reps * 7; i++) bad += ids[i] != unit_ids[i % 7];
    CHECK(bad == 0, "%zu ids differ from the repeated pattern", bad);
#if defined(__SANITIZE_ADDRESS__)
    CHECK(dt < test_time_limit(20.0), "%.3f s", dt);
#else
    CHECK(dt < test_time_limit(2.0), "%.3f s", dt);
#endif
    free(ids);
    /* One MB of a single unknown character: one <unk>; of one huge word without spaces. */
    memset(text, 0xFF, len);
    ids = t5_ids(tok, text, len, &c);
    CHECK(c == 2 && ids && ids[0] == 3 && ids[1] == FG_T5_UNK_ID, "%zu ids", c);
    free(ids);
    /* Random bytes: mostly invalid UTF-8, with specials' '<' and charsmap keys here and there. */
    uint32_t x = 99;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = (char)(x >> 16);
    }
    t0 = t5_now();
    size_t c2;
    ids = t5_ids(tok, text, len, &c);
    dt = t5_now() - t0;
    int32_t *ids2 = t5_ids(tok_json, text, len, &c2);
    printf("  1 MB of random bytes: %zu ids in %.3f s\n", c, dt);
    CHECK(ids && ids2 && c == c2 && c > 1000 && memcmp(ids, ids2, c * 4) == 0);
    CHECK(dt < test_time_limit(20.0), "%.3f s", dt);
    free(ids), free(ids2);
    memset(text, 'a', len);
    t0 = t5_now();
    ids = t5_ids(tok, text, len, &c);
    printf("  1 MB of 'a': %zu ids in %.3f s\n", c, t5_now() - t0);
    CHECK(c > 1000 && ids && ids[0] == 3);
    free(ids);
    free(text);
}

static void test_bad_arguments(void) {
    int32_t *ids;
    size_t c;
    CHECK_ERR(fg_t5_tokenize(NULL, "a", 1, &ids, &c), NULL);
    CHECK_ERR(fg_t5_tokenize(tok, NULL, 5, &ids, &c), "NULL text");
    CHECK(fg_t5_vocab_size(NULL) == 0 && fg_t5_piece(NULL, 0) == NULL);
    fg_t5_tokenizer_free(NULL);
}

void t5_run_text_tests(fg_t5_tokenizer *def, fg_t5_tokenizer *json, fg_t5_tokenizer *proto) {
    tok = def, tok_json = json, tok_proto = proto;
    if (!tok || !tok_json || !tok_proto) {
        CHECK(false, "tokenizers did not load");
        return;
    }
    RUN_TEST(test_formats_agree);
    RUN_TEST(test_equivalences);
    RUN_TEST(test_rules);
    RUN_TEST(test_rules_pieces);
    RUN_TEST(test_megabyte_prompt);
    RUN_TEST(test_bad_arguments);
}
