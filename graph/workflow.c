/* Workflow reading: API JSON, UI JSON (converted in workflow_ui.c) and PNGs (workflow_png.c),
 * plus the Python-compatible JSON writer used for `convert` and the PNG "prompt" chunk. */
#include "graph/workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_bigint.h"
#include "graph/workflow_internal.h"

#define MAX_WORKFLOW_BYTES (256u << 20)

void fg_workflow_free(fg_workflow *wf) {
    if (!wf) return;
    json_decref(wf->prompt);
    json_decref(wf->ui);
    free(wf->source);
    free(wf);
}

/* Upper bound on the values (containers, scalars and object keys) a workflow's JSON may hold.
 * The text-size caps do not bound memory: 60 MiB of "[],[]," is 20 million values, ~8 GiB once
 * built. The largest ComfyUI template holds ~6,500 values in 120 KB, so this leaves room for
 * workflows a hundred times larger while keeping the parse to a few hundred MB at worst. */
#define MAX_WORKFLOW_JSON_VALUES 1000000u

/* Counts the values (containers, strings incl. object keys, literals) by scanning the text
 * before anything is built. A literal starts after '[', ',' or ':' (or at the start). */
static size_t count_json_values(const char *text, size_t len) {
    size_t n = 0;
    bool in_string = false;
    char prev = '[';
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        if (c == '"') in_string = true;
        if (c == '[' || c == '{' || c == '"' || ((prev == '[' || prev == ',' || prev == ':') && strchr("-0123456789tfnNI", c)))
            n++;
        prev = c;
    }
    return n;
}

static fg_error *parse_json(const void *data, size_t len, const char *label, json_t **out) {
    *out = NULL;
    size_t values = count_json_values(data, len);
    if (values > MAX_WORKFLOW_JSON_VALUES)
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: the JSON holds about %zu values, more than the %u a workflow may have (refused before "
                         "building it)",
                         label, values, MAX_WORKFLOW_JSON_VALUES);
    json_error_t jerr;
    *out = fg_json_loadb_bigint(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (*out) return NULL;
    if (json_error_code(&jerr) == json_error_out_of_memory) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: reading JSON", label);
    const char *hint = "";
    if (memmem(data, len, "NaN", 3) || memmem(data, len, "Infinity", 8))
        hint = " (NaN and Infinity are not valid workflow values)";
    else if (json_error_code(&jerr) == json_error_numeric_overflow)
        hint = " (a number is out of range)";
    return fg_errorf(FG_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s%s", label, jerr.line, jerr.column,
                     jerr.text, hint);
}

/* Only "-?[0-9]+" counts: the writer prints the digits bare, so a hand-made marker holding
 * anything else must never reach it as a number. */
bool fg_json_is_bigint(const json_t *v) {
    if (!json_is_object(v) || json_object_size(v) != 1) return false;
    const char *s = json_string_value(json_object_get(v, FG_BIGINT_KEY));
    if (!s) return false;
    if (*s == '-') s++;
    if (!*s || strlen(s) > 4096) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

bool fg_json_get_u64(const json_t *v, uint64_t *out) {
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) return false;
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (!fg_json_is_bigint(v)) return false;
    const char *s = json_string_value(json_object_get(v, FG_BIGINT_KEY));
    if (!s || s[0] < '0' || s[0] > '9') return false;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(s, &end, 10);
    if (errno == ERANGE || *end) return false;
    *out = u;
    return true;
}

/* ---- format sniffing ---------------------------------------------------------------------- */

static bool looks_like_ui(const json_t *root) {
    return json_is_array(json_object_get(root, "nodes")) &&
           (json_object_get(root, "links") || json_object_get(root, "version") || json_object_get(root, "state"));
}

/* An API prompt: every value is an object with class_type or inputs. An empty object is
 * accepted here and rejected by validation ("no outputs"). */
static bool looks_like_api(const json_t *root) {
    const char *key;
    json_t *node;
    json_object_foreach((json_t *)root, key, node) {
        if (!json_is_object(node)) return false;
        if (!json_object_get(node, "class_type") && !json_object_get(node, "inputs")) return false;
    }
    return true;
}

/* Takes over prompt and ui (both are released on failure). */
static fg_error *new_workflow(json_t *prompt, json_t *ui, const char *label, fg_workflow **out) {
    fg_workflow *wf = calloc(1, sizeof *wf);
    if (!wf || !(wf->source = strdup(label))) {
        free(wf);
        json_decref(prompt);
        json_decref(ui);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    }
    wf->prompt = prompt;
    wf->ui = ui;
    *out = wf;
    return NULL;
}

static fg_error *from_json(json_t *root, const char *label, fg_workflow **out) {
    if (!json_is_object(root)) {
        json_decref(root);
        return fg_errorf(FG_ERR_FORMAT, "%s: a workflow must be a JSON object", label);
    }
    /* {"prompt": {...}} as POST /prompt bodies carry it. */
    json_t *inner = json_object_get(root, "prompt");
    if (json_is_object(inner) && !json_object_get(inner, "class_type") && !looks_like_ui(root)) {
        json_t *ui = json_object_get(json_object_get(root, "extra_data"), "extra_pnginfo");
        ui = json_object_get(ui, "workflow");
        json_t *prompt = json_incref(inner);
        json_incref(ui);
        json_decref(root);
        root = prompt;
        return new_workflow(root, ui, label, out);
    }
    json_t *prompt = NULL, *ui = NULL;
    if (looks_like_ui(root)) {
        fg_error *err = fg_workflow_ui_to_api(root, label, &prompt);
        if (err) {
            json_decref(root);
            return err;
        }
        ui = root;
    } else if (looks_like_api(root)) {
        prompt = root;
    } else {
        json_decref(root);
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: neither an API prompt ({\"id\": {\"class_type\", \"inputs\"}}) nor a UI workflow "
                         "(\"nodes\" and \"links\")",
                         label);
    }
    return new_workflow(prompt, ui, label, out);
}

fg_error *fg_workflow_from_json_text(const char *text, size_t len, const char *label, fg_workflow **out) {
    json_t *root = NULL;
    FG_TRY(parse_json(text, len, label, &root));
    return from_json(root, label, out);
}

fg_error *fg_workflow_load_buffer(const void *data, size_t len, const char *label, fg_workflow **out) {
    FG_CHECK_ARG(out && (data || len == 0), "fg_workflow_load_buffer: NULL argument");
    *out = NULL;
    if (!label) label = "workflow";
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return fg_workflow_from_png(data, len, label, out);
    if (len >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: JPEG files carry no ComfyUI workflow (only PNG text chunks do)",
                         label);
    json_t *root = NULL;
    FG_TRY(parse_json(data, len, label, &root));
    return from_json(root, label, out);
}

fg_error *fg_workflow_load_file(const char *path, fg_workflow **out) {
    FG_CHECK_ARG(path && out, "fg_workflow_load_file: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fg_errorf(FG_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    fg_error *err = NULL;
    while (buf && !err) {
        if (len == cap) {
            if (cap >= MAX_WORKFLOW_BYTES) {
                err = fg_errorf(FG_ERR_FORMAT, "%s: larger than %u MiB, not a workflow", path, MAX_WORKFLOW_BYTES >> 20);
                break;
            }
            char *p = realloc(buf, cap * 2);
            if (!p) break;
            buf = p;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) err = fg_errorf(FG_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    if (!err && len == cap && cap < MAX_WORKFLOW_BYTES) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    if (!err) err = fg_workflow_load_buffer(buf, len, path, out);
    free(buf);
    return err;
}
