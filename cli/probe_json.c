/* Reading the golden files' per-tensor metadata: small JSON objects stored as strings, e.g.
 * {"seed": "42", "shape": [1, 16, 128, 128]}. Input is hostile: types, ranges and lengths are
 * checked, and malformed text is an error naming what was wrong. */
#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "cli/probe.h"

static fg_error *load_object(const char *json, json_t **out) {
    if (!json) return fg_errorf(FG_ERR_FORMAT, "no metadata");
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fg_errorf(FG_ERR_FORMAT, "metadata is not valid JSON: %s", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fg_errorf(FG_ERR_FORMAT, "metadata is not a JSON object");
    }
    *out = root;
    return NULL;
}

fg_error *probe_json_string(const char *json, const char *key, char *buf, size_t cap) {
    json_t *root;
    FG_TRY(load_object(json, &root));
    const json_t *v = json_object_get(root, key);
    fg_error *err = NULL;
    if (!v) err = fg_errorf(FG_ERR_NOT_FOUND, "metadata has no \"%s\"", key);
    else if (!json_is_string(v)) err = fg_errorf(FG_ERR_FORMAT, "metadata \"%s\" is not a string", key);
    else if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        err = fg_errorf(FG_ERR_FORMAT, "metadata \"%s\" is too long or holds a NUL", key);
    else memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    json_decref(root);
    return err;
}

fg_error *probe_json_shape(const char *json, const char *key, int *ndim, int64_t shape[FG_MAX_DIMS]) {
    json_t *root;
    FG_TRY(load_object(json, &root));
    const json_t *v = json_object_get(root, key);
    fg_error *err = NULL;
    if (!v) err = fg_errorf(FG_ERR_NOT_FOUND, "metadata has no \"%s\"", key);
    else if (!json_is_array(v) || json_array_size(v) > FG_MAX_DIMS)
        err = fg_errorf(FG_ERR_FORMAT, "metadata \"%s\" is not an array of at most %d dims", key, FG_MAX_DIMS);
    for (size_t i = 0; !err && i < json_array_size(v); i++) {
        const json_t *dim = json_array_get(v, i);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0)
            err = fg_errorf(FG_ERR_FORMAT, "metadata \"%s\": dims must be non-negative integers", key);
        else shape[i] = (int64_t)json_integer_value(dim);
    }
    if (!err) *ndim = (int)json_array_size(v);
    json_decref(root);
    return err;
}

fg_error *probe_parse_u64(const char *text, uint64_t *out) {
    uint64_t v = 0;
    if (!*text) return fg_errorf(FG_ERR_FORMAT, "empty number");
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p)) return fg_errorf(FG_ERR_FORMAT, "'%s' is not a decimal integer", text);
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10) return fg_errorf(FG_ERR_FORMAT, "'%s' does not fit in 64 bits", text);
        v = v * 10 + digit;
    }
    *out = v;
    return NULL;
}
