/* JSON with integers beyond int64 (core/json_bigint.h). */
#include "core/json_bigint.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool number_start_context(const char *buf, size_t i) {
    while (i > 0) {
        char c = buf[--i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        return c == ':' || c == '[' || c == ',';
    }
    return true;
}

static bool int_literal_overflows(const char *tok, size_t n) {
    size_t digits = n - (tok[0] == '-');
    if (digits < 19) return false;
    char tmp[64];
    if (n >= sizeof tmp) return true;
    memcpy(tmp, tok, n);
    tmp[n] = 0;
    errno = 0;
    (void)strtoll(tmp, NULL, 10);
    return errno == ERANGE;
}

static char *rewrite_big_ints(const char *buf, size_t len, size_t *out_len) {
    size_t cap = len + 64, used = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        char c = buf[i];
        size_t tok_len = 1;
        bool big = false;
        if (in_string) {
            if (c == '\\' && i + 1 < len) tok_len = 2;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if ((c == '-' || (c >= '0' && c <= '9')) && number_start_context(buf, i)) {
            size_t j = i + 1;
            bool integral = true;
            while (j < len && buf[j] && strchr("0123456789.eE+-", buf[j])) {
                if (!(buf[j] >= '0' && buf[j] <= '9')) integral = false;
                j++;
            }
            tok_len = j - i;
            big = integral && int_literal_overflows(buf + i, tok_len);
        }
        size_t need = used + tok_len + 32;
        if (need > cap) {
            cap = need * 2;
            char *p = realloc(out, cap);
            if (!p) return free(out), NULL;
            out = p;
        }
        if (big) used += (size_t)sprintf(out + used, "{\"" FG_BIGINT_KEY "\": \"");
        memcpy(out + used, buf + i, tok_len);
        used += tok_len;
        if (big) used += (size_t)sprintf(out + used, "\"}");
        i += tok_len;
    }
    *out_len = used;
    return out;
}


json_t *fg_json_loadb_bigint(const void *data, size_t len, size_t flags, json_error_t *err) {
    json_t *out = json_loadb(data, len, flags, err);
    if (out || json_error_code(err) != json_error_numeric_overflow) return out;
    size_t n = 0;
    char *fixed = rewrite_big_ints(data, len, &n);
    if (!fixed) {
        snprintf(err->text, sizeof err->text, "out of memory");
        return NULL;
    }
    json_error_t err2;
    out = json_loadb(fixed, n, flags, &err2);
    free(fixed);
    return out;
}
