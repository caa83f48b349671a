/* json.dumps as Python writes it with its defaults: ", " and ": " separators, keys in
 * insertion order, ASCII only (\uXXXX escapes, surrogate pairs above U+FFFF), floats as
 * repr() (shortest round-trip digits, exponent form below 1e-4 and from 1e16 on). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/text_buffer.h"
#include "graph/workflow.h"

/* Python's float repr. */
void fg_format_python_float(double v, char *out, size_t cap) {
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char e[40];
    for (int prec = 0; prec <= 16; prec++) { /* shortest %.Ne that reads back exactly */
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = [-]d[.ddd]e[+-]XX: split into sign, digits and decimal exponent. */
    char digits[32];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int exp10 = atoi(p + 1);
    char *o = out;
    size_t left = cap;
#define EMIT(...) do { int n_ = snprintf(o, left, __VA_ARGS__); if (n_ < 0 || (size_t)n_ >= left) return; o += n_; left -= (size_t)n_; } while (0)
    if (neg) EMIT("-");
    if (exp10 < -4 || exp10 >= 16) {
        EMIT("%c", digits[0]);
        if (nd > 1) EMIT(".%s", digits + 1);
        EMIT("e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        EMIT("0.");
        for (int i = -1; i > exp10; i--) EMIT("0");
        EMIT("%s", digits);
    } else {
        for (int i = 0; i <= exp10; i++) EMIT("%c", (size_t)i < nd ? digits[i] : '0');
        EMIT(".");
        if ((size_t)exp10 + 1 < nd)
            EMIT("%s", digits + exp10 + 1);
        else
            EMIT("0");
    }
#undef EMIT
}

/* Decodes one UTF-8 sequence (Jansson guarantees valid UTF-8); returns its length. */
static int utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
    if (s[0] < 0x80) return *cp = s[0], 1;
    int len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if ((size_t)len > n) return *cp = 0xFFFD, 1;
    unsigned c = s[0] & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) c = (c << 6) | (s[i] & 0x3F);
    *cp = c;
    return len;
}

static void put_string(sbuf *b, const char *s, size_t n) {
    sbuf_puts(b, "\"");
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        int len = utf8_decode(u + i, n - i, &cp);
        i += (size_t)len;
        char tmp[16];
        switch (cp) {
        case '"': sbuf_puts(b, "\\\""); continue;
        case '\\': sbuf_puts(b, "\\\\"); continue;
        case '\n': sbuf_puts(b, "\\n"); continue;
        case '\r': sbuf_puts(b, "\\r"); continue;
        case '\t': sbuf_puts(b, "\\t"); continue;
        case '\b': sbuf_puts(b, "\\b"); continue;
        case '\f': sbuf_puts(b, "\\f"); continue;
        default: break;
        }
        if (cp >= 0x20 && cp < 0x7F) {
            char c = (char)cp;
            sbuf_put(b, &c, 1);
        } else if (cp > 0xFFFF) {
            cp -= 0x10000;
            snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            sbuf_puts(b, tmp);
        } else {
            snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            sbuf_puts(b, tmp);
        }
    }
    sbuf_puts(b, "\"");
}

static void put_value(sbuf *b, const json_t *v, int depth) {
    char tmp[64];
    if (depth > 4096) { /* Jansson caps parsing at 2048 levels; never recurse unbounded */
        b->failed = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (fg_json_is_bigint(v)) {
            sbuf_puts(b, json_string_value(json_object_get(v, FG_BIGINT_KEY)));
            return;
        }
        sbuf_puts(b, "{");
        const char *key;
        json_t *child;
        bool first = true;
        json_object_foreach((json_t *)v, key, child) {
            if (!first) sbuf_puts(b, ", ");
            first = false;
            put_string(b, key, strlen(key));
            sbuf_puts(b, ": ");
            put_value(b, child, depth + 1);
        }
        sbuf_puts(b, "}");
        return;
    }
    case JSON_ARRAY:
        sbuf_puts(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sbuf_puts(b, ", ");
            put_value(b, json_array_get(v, i), depth + 1);
        }
        sbuf_puts(b, "]");
        return;
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        sbuf_puts(b, tmp);
        return;
    case JSON_REAL:
        fg_format_python_float(json_real_value(v), tmp, sizeof tmp);
        sbuf_puts(b, tmp);
        return;
    case JSON_TRUE: sbuf_puts(b, "true"); return;
    case JSON_FALSE: sbuf_puts(b, "false"); return;
    case JSON_NULL: sbuf_puts(b, "null"); return;
    }
}

char *fg_workflow_dump_api(const json_t *prompt) {
    if (!prompt) return NULL;
    sbuf b = {0};
    put_value(&b, prompt, 0);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
