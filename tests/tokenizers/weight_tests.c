/* ComfyUI prompt weighting: the expected segments were produced by ComfyUI's own
 * parse_parentheses / token_weights / escape_important / unescape_important run under CPython
 * on the same strings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testing.h"
#include "tests/tokenizers/tok_test_util.h"
#include "text_encoders/prompt_weights.h"

typedef struct seg { const char *text; double weight; } seg;

/* Parses text (explicit length) and compares with want; weights bitwise (NaN == NaN). */
static void expect_len(const char *text, size_t len, const seg *want, size_t n) {
    fg_prompt_segments s;
    if (!CHECK_OK(fg_prompt_parse_weights(text, len, &s))) return;
    bool ok = s.count == n;
    for (size_t i = 0; ok && i < n; i++) {
        bool same_w = memcmp(&s.items[i].weight, &want[i].weight, sizeof(double)) == 0 ||
                      (isnan(s.items[i].weight) && isnan(want[i].weight));
        ok = s.items[i].len == strlen(want[i].text) && memcmp(s.items[i].text, want[i].text, s.items[i].len) == 0 && same_w;
    }
    if (!ok) {
        printf("  parse of '%s' gave %zu segments:", text, s.count);
        for (size_t i = 0; i < s.count; i++) printf(" ['%s' %.17g]", s.items[i].text, s.items[i].weight);
        printf("\n");
    }
    CHECK(ok, "'%s'", text);
    fg_prompt_segments_free(&s);
}

static void expect(const char *text, const seg *want, size_t n) { expect_len(text, strlen(text), want, n); }
#define EXPECT(text, ...)                                                                  \
    do {                                                                                   \
        const seg want_[] = {__VA_ARGS__};                                                 \
        expect(text, want_, sizeof want_ / sizeof want_[0]);                               \
    } while (0)

static void expect_float(const char *text, bool ok, double want) {
    double v = -12345;
    bool got = fg_py_float_parse(text, strlen(text), &v);
    CHECK(got == ok, "float('%s') %s", text, ok ? "should parse" : "should fail");
    if (got && ok) CHECK(v == want || (isnan(v) && isnan(want)), "float('%s') = %.17g, want %.17g", text, v, want);
}

void test_py_float(void) {
    expect_float("1.3", true, 1.3);
    expect_float("  -2.5e-3\t", true, -2.5e-3);
    expect_float(".5", true, 0.5);
    expect_float("5.", true, 5.0);
    expect_float("+.5e-1", true, 0.05);
    expect_float("1_000.5", true, 1000.5);
    expect_float("1e308", true, 1e308);
    expect_float("1e309", true, INFINITY);
    expect_float("-1e-400", true, -0.0);
    expect_float("nan", true, NAN);
    expect_float("-NaN", true, NAN);
    expect_float("inf", true, INFINITY);
    expect_float("-Infinity", true, -INFINITY);
    expect_float("\xEF\xBC\x91.\xEF\xBC\x95", true, 1.5);            /* fullwidth 1.5 */
    expect_float("\xD9\xA3", true, 3.0);                             /* Arabic-Indic 3 */
    expect_float("\xE2\x80\x83" "2\xE3\x80\x80", true, 2.0);         /* em space, ideographic space */
    expect_float("0.1000000000000000055511151231257827", true, 0.1); /* correctly rounded */
    const char *bad[] = {"", " ", "abc", "1e", "e5", ".", "-", "1__5", "_1", "1_", "1_.5", "in_f", "infinit", "nan1",
                         "0x10", "1.5)", "1,5", "\x1c" "1", "1 2", "--1", "\xC2\xB2" /* superscript 2: No, not Nd */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_float(bad[i], false, 0);
    double v;
    CHECK(!fg_py_float_parse("1\0" "2", 3, &v), "NUL inside");
}

void test_weights_basic(void) {
    EXPECT("a photo of a cat", {"a photo of a cat", 1.0});
    EXPECT("(a)", {"a", 1.1});
    EXPECT("((a))", {"a", 1.1 * 1.1}); /* 1.2100000000000002, multiplied as doubles */
    EXPECT("(a:1.5)", {"a", 1.5});
    EXPECT("((a:1.5))", {"a", 1.5});
    EXPECT("(a:1.5) b", {"a", 1.5}, {" b", 1.0});
    EXPECT("nested (a (b:1.5) c) d", {"nested ", 1.0}, {"a ", 1.1}, {"b", 1.5}, {" c", 1.1}, {" d", 1.0});
    EXPECT("(a:b:2)", {"a:b", 2.0});
    EXPECT("(:1.5)", {":1.5", 1.1});
    fg_prompt_segments s;
    CHECK_OK(fg_prompt_parse_weights("()", 2, &s));
    CHECK(s.count == 0, "'()' gives no segment");
    fg_prompt_segments_free(&s);
    CHECK_OK(fg_prompt_parse_weights(NULL, 0, &s));
    CHECK(s.count == 0, "empty prompt");
    fg_prompt_segments_free(&s);
}

void test_weights_escapes_and_unbalanced(void) {
    EXPECT("\\(x\\)", {"(x)", 1.0});
    EXPECT("(x:1.5\\))", {"x:1.5)", 1.1});
    EXPECT("a \\ b", {"a \\ b", 1.0});
    EXPECT("a ) (b)", {"a ) (b)", 1.0});
    EXPECT("a ) (b) (c)", {"a ) (b) (c)", 1.0});
    EXPECT("(red:1.3", {"(red:1.3", 1.0});
    EXPECT("unbalanced ) paren (", {"unbalanced ) paren (", 1.0});
    EXPECT("((a)", {"(a", 1.1});
    EXPECT("(a))", {"a", 1.1}, {")", 1.0});
    /* ComfyUI's escape markers are plain "\0\1" / "\0\2": a prompt holding them gets parentheses. */
    const seg quirk[] = {{"a)b", 1.0}};
    expect_len("a\0\1" "b", 4, quirk, 1);
    fg_prompt_segments s;
    if (CHECK_OK(fg_prompt_parse_weights("a\0b(c)", 6, &s))) {
        CHECK(s.count == 2 && s.items[0].len == 3 && memcmp(s.items[0].text, "a\0b", 3) == 0, "NUL kept in the text");
        fg_prompt_segments_free(&s);
    }
}

void test_weights_hostile(void) {
    EXPECT("(x:1e308)", {"x", 1e308});
    EXPECT("(x:nan)", {"x", NAN});
    EXPECT("(x:inf)", {"x", INFINITY});
    EXPECT("(x:-Infinity)", {"x", -INFINITY});
    EXPECT("(x:1e309)", {"x", INFINITY});
    EXPECT("(x:abc)", {"x:abc", 1.1});
    EXPECT("(x: 2 )", {"x", 2.0});
    EXPECT("(x:1_5)", {"x", 15.0});
    EXPECT("(x:_1)", {"x:_1", 1.1});
    EXPECT("(x:0x10)", {"x:0x10", 1.1});
    EXPECT("(x:\xEF\xBC\x91.\xEF\xBC\x95)", {"x", 1.5});

    fg_prompt_segments s;
    CHECK_ERR(fg_prompt_parse_weights("ab\xFF" "cd", 5, &s), "offset 2");
    CHECK_ERR(fg_prompt_parse_weights("ok \xC3", 4, &s), "offset 3");           /* truncated sequence */
    CHECK_ERR(fg_prompt_parse_weights("\xED\xA0\x80", 3, &s), "offset 0");      /* surrogate */
    CHECK_ERR(fg_prompt_parse_weights("\xC0\xAF", 2, &s), "offset 0");          /* overlong '/' */

    /* Nesting: 800 levels work (weight 1.1^800), 1000 are refused like ComfyUI's RecursionError. */
    enum { DEEP = 1000 };
    char *p = malloc(2 * DEEP + 2);
    for (int depth = 800; depth <= DEEP; depth += DEEP - 800) {
        memset(p, '(', (size_t)depth);
        p[depth] = 'x';
        memset(p + depth + 1, ')', (size_t)depth);
        fg_error *err = fg_prompt_parse_weights(p, 2 * (size_t)depth + 1, &s);
        if (depth == DEEP) {
            CHECK_ERR(err, "nested deeper");
        } else if (CHECK_OK(err)) {
            double w = 1.0;
            for (int i = 0; i < depth; i++) w *= 1.1;
            CHECK(s.count == 1 && s.items[0].weight == w, "weight %.17g", s.count ? s.items[0].weight : 0);
            fg_prompt_segments_free(&s);
        }
    }
    free(p);

    /* 1 MB of unbalanced parentheses of both kinds: linear, one or a few segments. */
    size_t big = 1 << 20;
    char *q = malloc(big);
    for (size_t i = 0; i < big; i++) q[i] = "((x)))(:1e9"[i % 11];
    double t0 = tt_now();
    if (CHECK_OK(fg_prompt_parse_weights(q, big, &s))) {
        size_t total = 0;
        for (size_t i = 0; i < s.count; i++) total += s.items[i].len;
        printf("  1 MB of mixed parentheses: %zu segments in %.1f ms\n", s.count, (tt_now() - t0) * 1e3);
        CHECK(total > 0 && total <= big);
        fg_prompt_segments_free(&s);
    }
    memset(q, '(', big);
    CHECK_OK(fg_prompt_parse_weights(q, big, &s));
    CHECK(s.count == 1 && s.items[0].len == big, "unclosed '(' is text");
    fg_prompt_segments_free(&s);
    free(q);
}
