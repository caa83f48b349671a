/* ComfyUI prompt weighting (see prompt_weights.h). */
#include "text_encoders/prompt_weights.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "text_encoders/clip_tokenizer.h"

/* ---- Python float() -------------------------------------------------------------------- */

/* Non-ASCII characters str.isspace() accepts (the ASCII ones are handled by the caller). */
static bool is_unicode_space(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return c == 0x85 || k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* Value of a decimal digit (category Nd) or -1. Unicode assigns Nd only in contiguous runs of
 * ten ordered 0..9, so the value is the distance from the start of the run, modulo 10. */
static int decimal_value(int32_t c) {
    if (utf8proc_category(c) != UTF8PROC_CATEGORY_ND) return -1;
    int32_t start = c;
    while (start > 0 && utf8proc_category(start - 1) == UTF8PROC_CATEGORY_ND) start--;
    return (int)((c - start) % 10);
}

static bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* _PyUnicode_TransformDecimalAndSpaceToASCII: Unicode spaces -> ' ', decimal digits -> ASCII,
 * any other non-ASCII character -> '?' (which then fails to parse). */
static char *to_ascii(const char *text, size_t len, size_t *out_len) {
    char *s = malloc(len + 1);
    if (!s) return NULL;
    size_t i = 0, k = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (n <= 0 || c < 0) { free(s); return NULL; }
        i += (size_t)n;
        int d;
        s[k++] = c < 128 ? (char)c : is_unicode_space(c) ? ' ' : (d = decimal_value(c)) >= 0 ? (char)('0' + d) : '?';
    }
    s[k] = 0;
    *out_len = k;
    return s;
}

/* _Py_string_to_number_with_underscores: '_' only between two digits; removed in place. */
static bool drop_underscores(char *s, size_t *len) {
    if (!memchr(s, '_', *len)) return true;
    char prev = 0;
    size_t k = 0;
    for (size_t i = 0; i < *len; i++) {
        char c = s[i];
        if (c == '_') {
            if (!(prev >= '0' && prev <= '9')) return false;
        } else {
            if (prev == '_' && !(c >= '0' && c <= '9')) return false;
            s[k++] = c;
        }
        prev = c;
    }
    if (prev == '_') return false;
    s[k] = 0;
    *len = k;
    return true;
}

static size_t digits(const char *s, size_t i, size_t n) {
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

/* True when s[0..n) is exactly [+-](digits[.digits*]|.digits)([eE][+-]digits)? */
static bool decimal_syntax(const char *s, size_t n) {
    size_t i = (n && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    size_t a = digits(s, i, n), b = a, c;
    if (a < n && s[a] == '.') b = digits(s, a + 1, n);
    if (a == i && b <= a + 1) return false; /* no digit in the mantissa */
    i = b;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        c = digits(s, j, n);
        if (c == j) return false;
        i = c;
    }
    return i == n;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* _Py_parse_inf_or_nan or a correctly rounded decimal (glibc's strtod, like Python's dtoa,
 * rounds correctly; out-of-range values become +-inf or 0 as in Python). */
static bool parse_number(const char *s, size_t n, double *out) {
    size_t i = (n && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    double sign = (n && s[0] == '-') ? -1.0 : 1.0;
    if ((n - i == 3 || n - i == 8) && strncasecmp(s + i, "infinity", n - i) == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (n - i == 3 && strncasecmp(s + i, "nan", 3) == 0) {
        *out = copysign(NAN, sign);
        return true;
    }
    if (!decimal_syntax(s, n)) return false;
    pthread_once(&c_locale_once, make_c_locale);
    *out = c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
    return true;
}

bool fg_py_float_parse(const char *text, size_t len, double *out) {
    size_t n;
    char *s = to_ascii(text, len, &n);
    if (!s) return false;
    size_t b = 0, e = n;
    while (b < e && ascii_space(s[b])) b++;
    while (e > b + 1 && ascii_space(s[e - 1])) e--;
    bool ok = false;
    if (b < e && !memchr(s + b, 0, e - b)) {
        s[e] = 0;
        size_t m = e - b;
        ok = drop_underscores(s + b, &m) && parse_number(s + b, m, out);
    }
    free(s);
    return ok;
}

/* ---- token_weights --------------------------------------------------------------------- */

typedef struct weights_ctx {
    const char *s; /* the escaped prompt */
    fg_prompt_segments *out;
    size_t cap;
} weights_ctx;

/* unescape_important on s[b..e) into a new segment. */
static fg_error *emit_segment(weights_ctx *ctx, size_t b, size_t e, double weight) {
    if (ctx->out->count == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 16;
        fg_prompt_segment *items = realloc(ctx->out->items, cap * sizeof *items);
        if (!items) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "prompt segments");
        ctx->out->items = items;
        ctx->cap = cap;
    }
    char *t = malloc(e - b + 1);
    if (!t) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "prompt segment of %zu bytes", e - b);
    size_t k = 0;
    for (size_t i = b; i < e; i++) {
        if (ctx->s[i] == 0 && i + 1 < e && (ctx->s[i + 1] == 1 || ctx->s[i + 1] == 2)) {
            t[k++] = ctx->s[i + 1] == 1 ? ')' : '(';
            i++;
        } else {
            t[k++] = ctx->s[i];
        }
    }
    t[k] = 0;
    ctx->out->items[ctx->out->count++] = (fg_prompt_segment){t, k, weight};
    return NULL;
}

static fg_error *token_weights(weights_ctx *ctx, size_t b, size_t e, double weight, int depth);

/* One item of parse_parentheses: "(...)" recurses with a new weight, anything else is text. */
static fg_error *weigh_item(weights_ctx *ctx, size_t b, size_t e, double weight, int depth) {
    const char *s = ctx->s;
    if (!(e - b >= 2 && s[b] == '(' && s[e - 1] == ')')) return emit_segment(ctx, b, e, weight);
    b++, e--;
    double w = weight * 1.1;
    size_t colon = e;
    for (size_t i = e; i > b; i--)
        if (s[i - 1] == ':') { colon = i - 1; break; }
    double parsed;
    if (colon < e && colon > b && fg_py_float_parse(s + colon + 1, e - colon - 1, &parsed)) {
        w = parsed;
        e = colon;
    }
    return token_weights(ctx, b, e, w, depth + 1);
}

/* parse_parentheses over s[b..e): items are contiguous, so they are handled as found. */
static fg_error *token_weights(weights_ctx *ctx, size_t b, size_t e, double weight, int depth) {
    if (depth > FG_PROMPT_MAX_NESTING)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "parentheses nested deeper than %d levels", FG_PROMPT_MAX_NESTING);
    const char *s = ctx->s;
    long level = 0;
    size_t start = b;
    for (size_t i = b; i < e; i++) {
        if (s[i] == '(') {
            if (level == 0 && i > start) {
                FG_TRY(weigh_item(ctx, start, i, weight, depth));
                start = i;
            }
            level++;
        } else if (s[i] == ')') {
            if (--level == 0) {
                FG_TRY(weigh_item(ctx, start, i + 1, weight, depth));
                start = i + 1;
            }
        }
    }
    if (start < e) FG_TRY(weigh_item(ctx, start, e, weight, depth));
    return NULL;
}

/* escape_important: "\)" -> "\0\1", "\(" -> "\0\2" (never longer than the input). */
static char *escape_important(const char *text, size_t len, size_t *out_len) {
    char *s = malloc(len + 1);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\' && i + 1 < len && (text[i + 1] == ')' || text[i + 1] == '(')) {
            s[k++] = 0;
            s[k++] = text[i + 1] == ')' ? 1 : 2;
            i++;
        } else {
            s[k++] = text[i];
        }
    }
    s[k] = 0;
    *out_len = k;
    return s;
}

fg_error *fg_prompt_parse_weights(const char *text, size_t len, fg_prompt_segments *out) {
    FG_CHECK_ARG((text || !len) && out, "fg_prompt_parse_weights: NULL argument");
    *out = (fg_prompt_segments){0};
    size_t bad = fg_utf8_first_invalid(text, len);
    if (bad < len)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "prompt is not valid UTF-8: byte 0x%02X at offset %zu",
                         (unsigned char)text[bad], bad);
    size_t n;
    char *escaped = escape_important(text ? text : "", len, &n);
    if (!escaped) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "prompt of %zu bytes", len);
    weights_ctx ctx = {escaped, out, 0};
    fg_error *err = token_weights(&ctx, 0, n, 1.0, 0);
    free(escaped);
    if (err) fg_prompt_segments_free(out);
    return err;
}

void fg_prompt_segments_free(fg_prompt_segments *segs) {
    if (!segs) return;
    for (size_t i = 0; i < segs->count; i++) free(segs->items[i].text);
    free(segs->items);
    *segs = (fg_prompt_segments){0};
}
