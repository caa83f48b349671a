/* ComfyUI 0.30's /object_info, embedded (nodes/comfy_defs.h). The layout rules are the
 * frontend's (1.48.7), see docs/ui_workflow_conversion.md §8.1-8.2. */
#include "nodes/comfy_defs.h"

#include <pthread.h>
#include <string.h>

#include "core/embed.h"
#include "core/json_bigint.h"
#include "core/log.h"

FG_EMBED(fg_comfy_object_info_json, "nodes/comfyui/object_info.json")

static json_t *g_defs;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static json_t *g_false, *g_zero, *g_empty, *g_randomize, *g_upload;

static void load_defs(void) {
    fg_blob b = fg_comfy_object_info_json();
    json_error_t err;
    g_defs = fg_json_loadb_bigint(b.data, b.size, 0, &err);
    if (!json_is_object(g_defs)) {
        FG_LOG_E("embedded ComfyUI node definitions are unreadable: %s", err.text);
        json_decref(g_defs);
        g_defs = NULL;
    }
    g_false = json_false(), g_zero = json_integer(0), g_empty = json_string("");
    g_randomize = json_string("randomize"), g_upload = json_string("image");
}

const json_t *fg_comfy_defs(void) {
    pthread_once(&g_once, load_defs);
    return g_defs;
}

const json_t *fg_comfy_def_find(const char *class_type) {
    const json_t *defs = fg_comfy_defs();
    const json_t *d = defs && class_type ? json_object_get(defs, class_type) : NULL;
    return json_is_object(d) ? d : NULL;
}

/* Types the frontend builds a widget for (scripts/widgets.ts ComfyWidgets). */
bool fg_comfy_is_widget_type(const char *t) {
    static const char *const types[] = {"INT",   "FLOAT",       "BOOLEAN",        "STRING",       "MARKDOWN",
                                        "COMBO", "IMAGEUPLOAD", "COLOR",          "IMAGECOMPARE", "BOUNDING_BOX",
                                        "CHART", "GALLERIA",    "PAINTER",        "COMPOSITOR",   "TEXTAREA",
                                        "CURVE", "RANGE",       "BOUNDING_BOXES", "COLORS"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0) return true;
    return false;
}

static bool dynamic_type(const char *t) { return strncmp(t, "COMFY_", 6) == 0 && strstr(t, "_V3") != NULL; }

/* An input spec [type_or_options, {opts}] as (type, options object, combo option list). */
typedef struct spec_view {
    const char *name, *type;
    const json_t *opts, *list;
    bool optional;
} spec_view;

static bool view_spec(const char *name, const json_t *spec, bool optional, spec_view *v) {
    if (!json_is_array(spec) || json_array_size(spec) < 1) return false;
    const json_t *t = json_array_get(spec, 0), *o = json_array_get(spec, 1);
    v->name = name, v->optional = optional;
    v->opts = json_is_object(o) ? o : NULL;
    v->list = NULL;
    if (json_is_array(t)) {
        v->type = "COMBO";
        v->list = t;
    } else if (json_is_string(t)) {
        v->type = json_string_value(t);
        if (strcmp(v->type, "COMBO") == 0) v->list = json_object_get(v->opts, "options");
    } else {
        return false;
    }
    return true;
}

static const json_t *opt(const spec_view *v, const char *key) { return v->opts ? json_object_get(v->opts, key) : NULL; }

static bool truthy(const json_t *j) {
    if (!j || json_is_null(j) || json_is_false(j)) return false;
    if (json_is_string(j)) return json_string_length(j) > 0;
    if (json_is_integer(j)) return json_integer_value(j) != 0;
    if (json_is_real(j)) return json_real_value(j) != 0;
    return true;
}

/* The widget's initial value (renderer/.../use*Widget.ts): default ?? 0 / false / "", a
 * combo's truthy default or else its first option. */
static const json_t *default_of(const spec_view *v) {
    const json_t *d = opt(v, "default");
    if (strcmp(v->type, "COMBO") == 0) {
        if (truthy(d)) return d;
        return json_array_size(v->list) ? json_array_get(v->list, 0) : NULL;
    }
    if (d && !json_is_null(d)) return d;
    if (strcmp(v->type, "INT") == 0 || strcmp(v->type, "FLOAT") == 0) return g_zero;
    if (strcmp(v->type, "BOOLEAN") == 0) return g_false;
    if (strcmp(v->type, "STRING") == 0 || strcmp(v->type, "MARKDOWN") == 0) return g_empty;
    return NULL;
}

static bool upload_combo(const spec_view *v) {
    return strcmp(v->type, "COMBO") == 0 && (truthy(opt(v, "image_upload")) ||
                                             truthy(opt(v, "animated_image_upload")) || truthy(opt(v, "video_upload")));
}

static void add_widget(fg_comfy_layout *L, const char *name, const char *type, const json_t *def, bool serialize,
                       const json_t *first) {
    if (L->n_widgets < FG_COMFY_MAX_SLOTS)
        L->widgets[L->n_widgets++] = (fg_comfy_widget){name, type, def, first, serialize, false};
}

static void add_value_widget(fg_comfy_layout *L, const spec_view *v) {
    add_widget(L, v->name, v->type, default_of(v), true, json_array_size(v->list) ? json_array_get(v->list, 0) : NULL);
    L->widgets[L->n_widgets - 1].dynamic_prompts = json_is_true(opt(v, "dynamicPrompts"));
    /* A seed's control combo follows it (useIntWidget / useComboWidget). */
    const json_t *cag = opt(v, "control_after_generate");
    bool control =
        cag ? truthy(cag) || json_is_string(cag)
            : strcmp(v->type, "INT") == 0 && (strcmp(v->name, "seed") == 0 || strcmp(v->name, "noise_seed") == 0);
    if (strcmp(v->type, "INT") != 0 && strcmp(v->type, "COMBO") != 0) control = false;
    if (control) add_widget(L, "control_after_generate", "COMBO", json_is_string(cag) ? cag : g_randomize, false, NULL);
}

/* Inputs in input_order (required, then optional), then any not listed; the upload button of
 * a media combo is an extra required input appended last (extensions/core/uploadImage.ts). */
static size_t ordered_specs(const json_t *def, spec_view *out, size_t max) {
    const json_t *input = json_object_get(def, "input"), *order = json_object_get(def, "input_order");
    static const char *const sections[] = {"required", "optional"};
    size_t n = 0;
    for (int s = 0; s < 2; s++) {
        const json_t *specs = json_object_get(input, sections[s]);
        const json_t *names = json_object_get(order, sections[s]);
        size_t i;
        const json_t *nm;
        json_array_foreach(names, i, nm) {
            const char *name = json_string_value(nm);
            if (name && n < max && view_spec(name, json_object_get(specs, name), s == 1, &out[n])) n++;
        }
        const char *key;
        const json_t *spec;
        json_object_foreach((json_t *)specs, key, spec) {
            bool listed = false;
            for (size_t k = 0; k < n; k++) listed |= strcmp(out[k].name, key) == 0;
            if (!listed && n < max && view_spec(key, spec, s == 1, &out[n])) n++;
        }
    }
    return n;
}

/* utils/litegraphUtil.ts migrateWidgetsValues: one position per widget or forceInput input,
 * plus one after an input that declares control_after_generate. */
static void legacy_layout(const spec_view *specs, size_t n, fg_comfy_layout *L) {
    for (size_t i = 0; i < n && L->n_legacy + 2 <= 2 * FG_COMFY_MAX_SLOTS; i++) {
        bool force = truthy(opt(&specs[i], "forceInput"));
        if (!force && !fg_comfy_is_widget_type(specs[i].type)) continue;
        L->legacy_force[L->n_legacy++] = force;
        L->has_legacy_force |= force;
        if (truthy(opt(&specs[i], "control_after_generate")) ||
            json_is_string(opt(&specs[i], "control_after_generate")))
            L->legacy_force[L->n_legacy++] = false;
    }
}

bool fg_comfy_layout_of(const char *class_type, fg_comfy_layout *L) {
    memset(L, 0, sizeof *L);
    const json_t *def = fg_comfy_def_find(class_type);
    if (!def) return false;
    L->display_name = json_string_value(json_object_get(def, "display_name"));
    spec_view specs[FG_COMFY_MAX_SLOTS];
    size_t n = ordered_specs(def, specs, FG_COMFY_MAX_SLOTS);
    bool upload = false;
    for (size_t i = 0; i < n; i++) {
        const spec_view *v = &specs[i];
        bool w = fg_comfy_is_widget_type(v->type) && !truthy(opt(v, "forceInput"));
        L->dynamic_inputs |= dynamic_type(v->type);
        if (!w && L->n_inputs < FG_COMFY_MAX_SLOTS) L->inputs[L->n_inputs++] = (fg_comfy_slot){v->name, v->type, false};
        upload |= !v->optional && upload_combo(v);
    }
    for (size_t i = 0; i < n; i++) {
        const spec_view *v = &specs[i];
        if (!fg_comfy_is_widget_type(v->type) || truthy(opt(v, "forceInput"))) continue;
        add_value_widget(L, v);
        if (L->n_inputs < FG_COMFY_MAX_SLOTS) L->inputs[L->n_inputs++] = (fg_comfy_slot){v->name, v->type, true};
    }
    if (upload) add_widget(L, "upload", "IMAGEUPLOAD", g_upload, false, NULL);
    legacy_layout(specs, n, L);
    const json_t *outs = json_object_get(def, "output");
    for (size_t i = 0; i < json_array_size(outs) && L->n_outputs < FG_COMFY_MAX_SLOTS; i++) {
        const json_t *o = json_array_get(outs, i);
        L->outputs[L->n_outputs++] = json_is_string(o) ? json_string_value(o) : "COMBO";
    }
    return true;
}
