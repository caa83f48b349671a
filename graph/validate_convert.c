/* Constants converted once, the way ComfyUI does it: execution.py's validate_inputs turns a
 * constant into its declared type with Python's int(), float(), str() and bool() (after
 * unwrapping {"__value__": v}) and stores the result back into the prompt, so execution, the
 * cache and the "prompt" chunk of saved images all see the converted value. Validation calls
 * fg_convert_constant and keeps the results (fg_validation.prompt); the executor reads its
 * values from that converted prompt through the same function (idempotent there), so a value
 * validation accepts can never fail to convert later (docs/comfyui.md 2.2).
 *
 * Python's rules reproduced here: int() and float() of a string ignore surrounding whitespace
 * and accept '_' between digits ("4_2"), int() of a float truncates, int("2.5") fails, float()
 * accepts "inf"/"nan" (refused afterwards: NaN and infinities are never valid numbers for us,
 * a deliberate check ComfyUI lacks), bool() of a non-empty string is true (also "false"),
 * str() prints numbers as Python does (str(8.0) == "8.0", str(True) == "True",
 * str(None) == "None"). Not reproduced: Unicode digits other than 0-9 in int()/float(), and
 * str() of a JSON object (Python would print its repr): both are refused with
 * invalid_input_type. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/validate.h"
#include "graph/validate_internal.h"
#include "graph/workflow.h"

/* Length of the Python whitespace character at s (str.isspace: ASCII \t\n\v\f\r, \x1c-\x1f,
 * space, and the Unicode spaces in UTF-8), 0 if none. */
static size_t python_space_at(const unsigned char *s) {
    if (*s == ' ' || (*s >= '\t' && *s <= '\r') || (*s >= 0x1c && *s <= 0x1f)) return 1;
    if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3;                 /* U+1680 */
    if (s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3;                                                                 /* U+2000-200A, 2028, 2029, 202F */
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;                 /* U+205F */
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;                 /* U+3000 */
    return 0;
}

/* s without the Python whitespace around it, copied into out (false if it does not fit). */
static bool strip_python(const char *s, char *out, size_t cap) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t k; (k = python_space_at(p)) > 0;) p += k;
    size_t n = strlen((const char *)p), end = 0;
    for (size_t i = 0; i < n;) { /* the end of the last non-space character */
        size_t k = python_space_at(p + i);
        if (k) i += k;
        else end = ++i;
    }
    if (end >= cap) return false;
    memcpy(out, p, end);
    out[end] = '\0';
    return true;
}

/* Digits with single '_' between them (Python's digitpart), copied without the '_'. Returns
 * the characters consumed, 0 if there is no digit at s. */
static size_t digit_part(const char *s, char *out, size_t *used, size_t cap) {
    size_t i = 0;
    if (s[0] < '0' || s[0] > '9') return 0;
    while (s[i] >= '0' && s[i] <= '9') {
        if (*used + 1 < cap) out[(*used)++] = s[i];
        i++;
        if (s[i] == '_' && s[i + 1] >= '0' && s[i + 1] <= '9') i++;
    }
    return i;
}

/* int(s) for base 10: sign and digits, as a decimal string without '_' (leading zeros
 * kept, harmless). false if Python's int() would raise. */
static bool python_int_text(const char *s, char *digits, size_t cap) {
    size_t used = 0, i = 0;
    if (s[0] == '+' || s[0] == '-') digits[used++] = s[i++];
    size_t k = digit_part(s + i, digits, &used, cap);
    if (k == 0 || s[i + k] != '\0' || used + 1 >= cap) return false;
    digits[used] = '\0';
    return true;
}

/* float(s): Python's grammar (sign, inf/infinity/nan, digitpart [. digitpart] [e sign
 * digitpart] with '_' between digits), then strtod on the text without '_'. */
static bool python_float_text(const char *s, double *out) {
    char text[512];
    size_t used = 0, i = 0;
    if (s[0] == '+' || s[0] == '-') text[used++] = s[i++];
    const char *rest = s + i;
    if (strcasecmp(rest, "inf") == 0 || strcasecmp(rest, "infinity") == 0) {
        *out = text[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (strcasecmp(rest, "nan") == 0) return *out = NAN, true;
    size_t whole = digit_part(s + i, text, &used, sizeof text), frac = 0;
    i += whole;
    if (s[i] == '.') {
        text[used++] = s[i++];
        frac = digit_part(s + i, text, &used, sizeof text);
        i += frac;
    }
    if (whole == 0 && frac == 0) return false;
    if (s[i] == 'e' || s[i] == 'E') {
        text[used++] = s[i++];
        if (s[i] == '+' || s[i] == '-') text[used++] = s[i++];
        size_t e = digit_part(s + i, text, &used, sizeof text);
        if (e == 0) return false;
        i += e;
    }
    if (s[i] != '\0' || used + 1 >= sizeof text) return false;
    text[used] = '\0';
    errno = 0;
    *out = strtod(text, NULL); /* overflow gives +-inf, as Python's float("1e999") */
    return true;
}

/* A decimal integer text as JSON: an integer within int64, a big-int marker up to 2^64-1,
 * else NULL with *too_small telling the direction. */
static json_t *json_of_int_text(const char *digits, bool *too_small) {
    errno = 0;
    char *end;
    long long v = strtoll(digits, &end, 10);
    if (errno != ERANGE && *end == '\0') return json_integer(v);
    *too_small = digits[0] == '-';
    if (*too_small) return NULL;
    errno = 0;
    unsigned long long u = strtoull(digits[0] == '+' ? digits + 1 : digits, &end, 10);
    if (errno == ERANGE || *end) return NULL;
    char text[32];
    snprintf(text, sizeof text, "%llu", u);
    return json_pack("{s:s}", FG_BIGINT_KEY, text);
}

static json_t *convert_int(const fg_input_spec *in, const json_t *v, json_t **converted) {
    if (fg_json_is_bigint(v)) return *converted = json_deep_copy(v), NULL; /* range-checked later */
    if (json_is_integer(v)) return *converted = json_integer(json_integer_value(v)), NULL;
    if (json_is_boolean(v)) return *converted = json_integer(json_is_true(v)), NULL;
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (!isfinite(x)) return fg_constant_type_error(in, v, "cannot convert float NaN or infinity to integer");
        if (fabs(x) >= 9.2e18) return fg_constant_range_error(in, v, "out of the 64-bit range", x < 0);
        return *converted = json_integer((json_int_t)trunc(x)), NULL; /* int(2.7) == 2 */
    }
    if (!json_is_string(v)) return fg_constant_type_error(in, v, "the value is not a number");
    char stripped[512], digits[512];
    bool too_small = false;
    if (!strip_python(json_string_value(v), stripped, sizeof stripped) ||
        !python_int_text(stripped, digits, sizeof digits)) {
        char why[300];
        snprintf(why, sizeof why, "invalid literal for int() with base 10: '%.200s'", json_string_value(v));
        return fg_constant_type_error(in, v, why);
    }
    *converted = json_of_int_text(digits, &too_small);
    if (!*converted) return fg_constant_range_error(in, v, digits, too_small);
    return NULL;
}

static json_t *convert_float(const fg_input_spec *in, const json_t *v, json_t **converted) {
    double x;
    char stripped[512];
    if (fg_json_is_bigint(v)) {
        const char *digits = json_string_value(json_object_get(v, FG_BIGINT_KEY));
        x = strtod(digits, NULL);
    } else if (json_is_number(v)) x = json_number_value(v);
    else if (json_is_boolean(v)) x = json_is_true(v);
    else if (!json_is_string(v)) return fg_constant_type_error(in, v, "the value is not a number");
    else if (!strip_python(json_string_value(v), stripped, sizeof stripped) || !python_float_text(stripped, &x)) {
        char why[300];
        snprintf(why, sizeof why, "could not convert string to float: '%.200s'", json_string_value(v));
        return fg_constant_type_error(in, v, why);
    }
    if (!isfinite(x)) return fg_constant_type_error(in, v, "NaN and infinite values are not allowed");
    *converted = json_real(x);
    return NULL;
}

/* str(v) as Python prints a JSON scalar. */
static json_t *convert_string(const fg_input_spec *in, const json_t *v, json_t **converted) {
    char text[64];
    if (json_is_string(v)) return *converted = json_string(json_string_value(v)), NULL;
    if (fg_json_is_bigint(v)) return *converted = json_string(json_string_value(json_object_get(v, FG_BIGINT_KEY))), NULL;
    if (json_is_integer(v)) snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) fg_format_python_float(json_real_value(v), text, sizeof text);
    else if (json_is_boolean(v)) snprintf(text, sizeof text, "%s", json_is_true(v) ? "True" : "False");
    else if (json_is_null(v)) snprintf(text, sizeof text, "None");
    else return fg_constant_type_error(in, v, "expected a string");
    *converted = json_string(text);
    return NULL;
}

/* bool(v): Python truthiness. */
static bool python_truth(const json_t *v) {
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_real(v)) return json_real_value(v) != 0.0;
    if (json_is_string(v)) return json_string_length(v) > 0;
    if (json_is_object(v)) return json_object_size(v) > 0;
    return false; /* None */
}

json_t *fg_convert_constant(const fg_input_spec *in, const json_t *v, json_t **converted) {
    *converted = NULL;
    const json_t *inner = json_is_object(v) ? json_object_get(v, "__value__") : NULL;
    if (inner) v = inner;
    json_t *err = NULL;
    switch (in->type) {
    case FG_TYPE_INT: err = convert_int(in, v, converted); break;
    case FG_TYPE_FLOAT: err = convert_float(in, v, converted); break;
    case FG_TYPE_STRING: err = convert_string(in, v, converted); break;
    case FG_TYPE_BOOLEAN: *converted = json_boolean(python_truth(v)); break;
    case FG_TYPE_COMBO: *converted = json_deep_copy(v); break; /* compared as is, never converted */
    default: err = fg_constant_link_error(in, v); break;
    }
    if (!err && !*converted) err = fg_constant_type_error(in, v, "out of memory");
    if (err) {
        json_decref(*converted);
        *converted = NULL;
    }
    return err;
}

fg_error *fg_constant_value(const fg_input_spec *in, const json_t *v, fg_value *out) {
    json_t *c = NULL, *err = fg_convert_constant(in, v, &c);
    *out = (fg_value){.type = FG_TYPE_NONE};
    if (err) {
        fg_error *e = fg_errorf(FG_ERR_FORMAT, "%s", json_string_value(json_object_get(err, "details")));
        json_decref(err);
        return e;
    }
    uint64_t u = 0;
    switch (in->type) {
    case FG_TYPE_INT:
        if (fg_json_is_bigint(c) && fg_json_get_u64(c, &u)) *out = fg_value_int((int64_t)u); /* seeds: same bits */
        else if (json_is_integer(c)) *out = fg_value_int(json_integer_value(c));
        break;
    case FG_TYPE_FLOAT: *out = fg_value_float(json_real_value(c)); break;
    case FG_TYPE_BOOLEAN: *out = fg_value_bool(json_is_true(c)); break;
    default:
        if (json_is_string(c)) *out = fg_value_string(json_string_value(c));
        break;
    }
    json_decref(c);
    if (out->type == FG_TYPE_NONE) return fg_errorf(FG_ERR_FORMAT, "not a valid %s value", fg_type_name(in->type));
    return NULL;
}
