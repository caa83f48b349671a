/* Constant inputs after their conversion (validate_convert.c): min/max, and COMBO membership
 * including model files in the models folder; the ComfyUI-shaped error objects. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/validate.h"
#include "graph/validate_internal.h"
#include "graph/workflow.h"

#define COMBO_LIST_LIMIT 20

static json_t *err_obj(const char *type, const char *msg, const char *details, const fg_input_spec *in, const json_t *v) {
    json_t *extra = json_pack("{s:s}", "input_name", in->name);
    if (v) json_object_set_new(extra, "received_value", json_deep_copy(v));
    return json_pack("{s:s, s:s, s:s, s:o}", "type", type, "message", msg, "details", details, "extra_info", extra);
}

/* details as ComfyUI writes them: "<input>, <value>, <reason>"; the reason again as
 * extra_info.exception_message (after input_name, input_config and received_value). */
json_t *fg_constant_type_error(const fg_input_spec *in, const json_t *v, const char *why) {
    char msg[128], details[512], shown[160] = "";
    snprintf(msg, sizeof msg, "Failed to convert an input value to a %s value", fg_type_name(in->type));
    if (json_is_string(v))
        snprintf(shown, sizeof shown, "%.120s", json_string_value(v));
    else {
        char *text = fg_workflow_dump_api(v);
        snprintf(shown, sizeof shown, "%.120s", text ? text : "?");
        free(text);
    }
    snprintf(details, sizeof details, "%s, %s, %s", in->name, shown, why);
    json_t *err = err_obj("invalid_input_type", msg, details, in, v);
    json_object_set_new(json_object_get(err, "extra_info"), "exception_message", json_string(why));
    return err;
}

static void fmt_num(double x, bool integer, char *out, size_t cap) {
    if (integer && fabs(x) < 9.2e18)
        snprintf(out, cap, "%lld", (long long)x);
    else if (integer && x > 0)
        snprintf(out, cap, "18446744073709551615");
    else
        fg_format_python_float(x, out, cap);
}

json_t *fg_constant_range_error(const fg_input_spec *in, const json_t *v, const char *shown, bool too_small) {
    char lim[64], msg[256];
    fmt_num(too_small ? in->min : in->max, in->type == FG_TYPE_INT, lim, sizeof lim);
    snprintf(msg, sizeof msg, "Value %.100s %s of %s", shown, too_small ? "smaller than min" : "bigger than max", lim);
    return err_obj(too_small ? "value_smaller_than_min" : "value_bigger_than_max", msg, in->name, in, v);
}

/* min/max of a converted INT (an integer or a big-int marker) or FLOAT (a real). */
static json_t *check_range(const fg_input_spec *in, const json_t *v) {
    char shown[64];
    double x;
    if (fg_json_is_bigint(v)) {
        const char *digits = json_string_value(json_object_get(v, FG_BIGINT_KEY));
        uint64_t u;
        if (digits[0] == '-') return fg_constant_range_error(in, v, digits, true);
        if (in->max_u64 && fg_json_get_u64(v, &u)) return NULL;
        return fg_constant_range_error(in, v, digits, false);
    }
    if (json_is_integer(v)) {
        x = (double)json_integer_value(v);
        snprintf(shown, sizeof shown, "%lld", (long long)json_integer_value(v));
    } else {
        x = json_real_value(v);
        fmt_num(x, false, shown, sizeof shown);
    }
    if (in->has_min && x < in->min) return fg_constant_range_error(in, v, shown, true);
    if (in->has_max && !in->max_u64 && x > in->max) return fg_constant_range_error(in, v, shown, false);
    return NULL;
}

/* Relative, '/'-separated, no "..": what a model or image name may look like at all. */
static bool plausible_name(const char *s) {
    if (!*s || s[0] == '/' || strchr(s, '\\')) return false;
    for (const char *p = s; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n + (end != NULL);
        if (!end) break;
    }
    return true;
}

static void list_repr(char **items, size_t n, char *out, size_t cap) {
    if (n > COMBO_LIST_LIMIT) {
        snprintf(out, cap, "(list of length %zu)", n);
        return;
    }
    size_t used = (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s'%s'", i ? ", " : "", items[i]);
    if (used < cap) snprintf(out + used, cap - used, "]");
}

static json_t *not_in_list(const fg_input_spec *in, const json_t *v, char **items, size_t n, const char *note) {
    char list[2048], details[3000];
    list_repr(items, n, list, sizeof list);
    snprintf(details, sizeof details, "%s: '%.200s' not in %s%s", in->name, json_string_value(v), list, note);
    return err_obj("value_not_in_list", "Value not in list", details, in, v);
}

/* LoadImage has its own validator in ComfyUI: the file must exist in the input folder. */
static json_t *check_image_file(const fg_input_spec *in, const json_t *v, const fg_run_settings *settings) {
    if (!settings || !settings->input_dir) return NULL;
    char path[4096], details[600];
    fg_error *err = fg_node_resolve_model(settings, FG_COMBO_INPUT_IMAGES, json_string_value(v), path, sizeof path);
    if (!err) return NULL;
    fg_error_free(err);
    snprintf(details, sizeof details, "%s - Invalid image file: %.300s", in->name, json_string_value(v));
    return err_obj("custom_validation_failed", "Custom validation failed for node", details, in, v);
}

static json_t *check_combo(const fg_input_spec *in, const json_t *v, const fg_run_settings *settings) {
    if (!json_is_string(v)) return fg_constant_type_error(in, v, "an option must be a string");
    const char *s = json_string_value(v);
    if (in->source == FG_COMBO_FIXED) {
        size_t n = 0;
        while (in->options[n]) n++;
        for (size_t i = 0; i < n; i++)
            if (strcmp(in->options[i], s) == 0) return NULL;
        return not_in_list(in, v, (char **)in->options, n, "");
    }
    if (!plausible_name(s))
        return not_in_list(in, v, NULL, 0, " (names are relative paths inside the folder: no absolute paths, no '..')");
    if (in->source == FG_COMBO_INPUT_IMAGES) return check_image_file(in, v, settings);
    const char *base = in->source == FG_COMBO_INPUT_IMAGES ? (settings ? settings->input_dir : NULL)
                                                            : (settings ? settings->models_dir : NULL);
    if (!base) return NULL; /* no folder given: names are not checked against files */
    char **names = NULL;
    size_t n = 0;
    fg_error *err = fg_node_list_models(settings, in->source, &names, &n);
    if (err) {
        char details[600];
        snprintf(details, sizeof details, "%s: %s", in->name, fg_error_message(err));
        fg_error_free(err);
        return err_obj("value_not_in_list", "Value not in list", details, in, v);
    }
    json_t *result = NULL;
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) found = strcmp(names[i], s) == 0;
    if (!found) result = not_in_list(in, v, names, n, n ? "" : " (the folder holds no model files)");
    fg_string_list_free(names);
    return result;
}

json_t *fg_validate_constant(const fg_input_spec *in, const json_t *v, const fg_run_settings *settings,
                             json_t **converted) {
    json_t *err = fg_convert_constant(in, v, converted);
    if (!err && (in->type == FG_TYPE_INT || in->type == FG_TYPE_FLOAT)) err = check_range(in, *converted);
    if (!err && in->type == FG_TYPE_COMBO) err = check_combo(in, *converted, settings);
    if (err) {
        json_decref(*converted);
        *converted = NULL;
    }
    return err;
}

json_t *fg_constant_link_error(const fg_input_spec *in, const json_t *v) {
    char details[256];
    snprintf(details, sizeof details, "%s: a %s input must be linked to a node output, not a constant", in->name,
             fg_type_name(in->type));
    return err_obj("invalid_input_type", "Input must be a link", details, in, v);
}
