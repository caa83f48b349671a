/* /object_info entries of the supported nodes. Everything with behaviour (input types,
 * defaults, ranges, combo options, hidden inputs, outputs) comes from the node's spec (derived
 * from ComfyUI's entry and the node's declaration, nodes/node_decl.h), the same one validation
 * and execution read; only a declared restriction (combos: the values that run) or a models
 * folder's listing makes it differ from ComfyUI's entry. What only describes a node
 * (tooltips, "advanced", python_module, search_aliases, display name ...) and the order of the
 * keys come from ComfyUI 0.30's own entry (nodes/comfy_defs.h): clients read the keys in
 * order, and copying the descriptions keeps them in one place. */
#include "nodes/node_info.h"

#include <stdlib.h>
#include <string.h>

#include "core/json_bigint.h"
#include "core/log.h"
#include "nodes/comfy_defs.h"

/* Keys whose value the declaration decides (per input option, then per node). A key of this
 * kind that ComfyUI has and the declaration lacks is left out, never copied. */
static const char *const option_keys[] = {"default",    "min",          "max",          "step",
                                          "round",      "multiline",    "dynamicPrompts", "control_after_generate",
                                          "image_upload", "forceInput", "multiselect",  "options", NULL};
static const char *const node_keys[] = {"input",       "input_order", "is_input_list", "output",
                                        "output_is_list", "output_name", "name",        "output_node", NULL};

static bool in_list(const char *const *list, const char *key) {
    for (; *list; list++)
        if (strcmp(*list, key) == 0) return true;
    return false;
}

/* Keys in ref's order: the declared ones from mine, the rest copied from ref; then what mine
 * has and ref lacks (a difference the tests report). Takes mine. */
static json_t *merge_in_ref_order(json_t *mine, const json_t *ref, const char *const *declared) {
    if (!json_is_object(ref)) return mine;
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)ref, key, val) {
        json_t *m = json_object_get(mine, key);
        if (!in_list(declared, key))
            json_object_set_new(out, key, json_deep_copy(val));
        else if (m)
            json_object_set(out, key, m);
    }
    json_object_foreach(mine, key, val) if (!json_object_get(out, key)) json_object_set(out, key, val);
    json_decref(mine);
    return out;
}

static json_t *number(double x, bool integer) {
    return integer ? json_integer((json_int_t)x) : json_real(x);
}

static json_t *combo_list(const fg_input_spec *in, const fg_run_settings *settings) {
    json_t *list = json_array();
    if (in->source == FG_COMBO_FIXED) {
        for (const char *const *o = in->options; *o; o++) json_array_append_new(list, json_string(*o));
        return list;
    }
    char **names = NULL;
    size_t n = 0;
    /* An unreadable or absent folder lists nothing, as ComfyUI lists an empty folder; a folder
     * the listing refuses (symlinks fanning out without end) is named on stderr. */
    fg_error *err = fg_node_list_models(settings, in->source, &names, &n);
    if (err && fg_error_code_of(err) != FG_ERR_NOT_FOUND) FG_LOG_W("%s: %s", in->name, fg_error_message(err));
    fg_error_free(err);
    for (size_t i = 0; i < n; i++) json_array_append_new(list, json_string(names[i]));
    fg_string_list_free(names);
    return list;
}

static void set_numbers(json_t *o, const fg_input_spec *in) {
    bool is_int = in->type == FG_TYPE_INT;
    json_object_set_new(o, "default", number(in->def, is_int));
    if (in->has_min) json_object_set_new(o, "min", number(in->min, is_int));
    if (in->has_max)
        json_object_set_new(o, "max", in->max_u64 ? json_pack("{s:s}", FG_BIGINT_KEY, "18446744073709551615")
                                                  : number(in->max, is_int));
    if (in->step > 0) json_object_set_new(o, "step", number(in->step, is_int));
    if (in->round > 0) json_object_set_new(o, "round", json_real(in->round));
}

/* The declared options of an input; v3 puts a combo's list inside them (ComfyUI's V3 schema
 * nodes write ["COMBO", {"multiselect": false, "options": [...]}]). */
static json_t *declared_options(const fg_input_spec *in, const fg_run_settings *settings, bool v3) {
    json_t *o = json_object();
    if (in->type == FG_TYPE_INT || in->type == FG_TYPE_FLOAT)
        set_numbers(o, in);
    else if (in->type == FG_TYPE_BOOLEAN)
        json_object_set_new(o, "default", json_boolean(in->def != 0));
    else if ((in->type == FG_TYPE_STRING || in->type == FG_TYPE_COMBO) && in->def_string)
        json_object_set_new(o, "default", json_string(in->def_string));
    if (in->multiline) json_object_set_new(o, "multiline", json_true());
    if (in->dynamic_prompts) json_object_set_new(o, "dynamicPrompts", json_true());
    if (in->control_after_generate) json_object_set_new(o, "control_after_generate", json_true());
    if (in->image_upload) json_object_set_new(o, "image_upload", json_true());
    if (in->force_input) json_object_set_new(o, "forceInput", json_true());
    if (v3) {
        json_object_set_new(o, "multiselect", json_false());
        json_object_set_new(o, "options", combo_list(in, settings));
    }
    return o;
}

/* [type] or [type, {options}]: an options object whenever ours has options or ComfyUI writes
 * one (V3 nodes write {} for every socket). */
static json_t *input_entry(const fg_input_spec *in, const json_t *ref, const fg_run_settings *settings) {
    const json_t *ref_type = json_array_get(ref, 0), *ref_opts = json_array_get(ref, 1);
    bool v3 = in->type == FG_TYPE_COMBO && json_is_string(ref_type) && strcmp(json_string_value(ref_type), "COMBO") == 0;
    json_t *opts = merge_in_ref_order(declared_options(in, settings, v3), ref_opts, option_keys);
    json_t *type = in->type == FG_TYPE_COMBO ? (v3 ? json_string("COMBO") : combo_list(in, settings))
                                             : json_string(fg_type_name(in->type));
    if (json_object_size(opts) == 0 && !json_is_object(ref_opts)) {
        json_decref(opts);
        return json_pack("[o]", type);
    }
    return json_pack("[o, o]", type, opts);
}

/* ComfyUI's hidden inputs: values the server fills in, never the workflow. */
static const struct {
    unsigned flag;
    const char *name, *type;
} hidden_inputs[] = {{FG_HIDDEN_PROMPT, "prompt", "PROMPT"},
                     {FG_HIDDEN_EXTRA_PNGINFO, "extra_pnginfo", "EXTRA_PNGINFO"},
                     {FG_HIDDEN_UNIQUE_ID, "unique_id", "UNIQUE_ID"}};

/* "input" and "input_order": required, optional, hidden, each only when not empty (required
 * always). */
static void add_inputs(json_t *node, const fg_node_spec *s, const json_t *ref_input, const fg_run_settings *settings) {
    static const char *const sections[] = {"required", "optional", "hidden"};
    json_t *input = json_object(), *order = json_object();
    for (int sec = 0; sec < 3; sec++) {
        json_t *specs = json_object(), *names = json_array();
        const json_t *ref_specs = json_object_get(ref_input, sections[sec]);
        for (int i = 0; sec < 2 && i < s->n_inputs; i++) {
            const fg_input_spec *in = &s->inputs[i];
            if (in->optional != (sec == 1)) continue;
            json_object_set_new(specs, in->name, input_entry(in, json_object_get(ref_specs, in->name), settings));
            json_array_append_new(names, json_string(in->name));
        }
        for (size_t h = 0; sec == 2 && h < sizeof hidden_inputs / sizeof hidden_inputs[0]; h++) {
            if (!(s->hidden & hidden_inputs[h].flag)) continue;
            json_object_set_new(specs, hidden_inputs[h].name, json_string(hidden_inputs[h].type));
            json_array_append_new(names, json_string(hidden_inputs[h].name));
        }
        if (sec == 0 || json_object_size(specs)) {
            json_object_set_new(input, sections[sec], specs);
            json_object_set_new(order, sections[sec], names);
        } else {
            json_decref(specs);
            json_decref(names);
        }
    }
    json_object_set_new(node, "input", input);
    json_object_set_new(node, "input_order", order);
}

json_t *fg_node_info(const fg_node_spec *s, const fg_run_settings *settings) {
    const json_t *ref = fg_comfy_def_find(s->class_type);
    json_t *node = json_object();
    add_inputs(node, s, json_object_get(ref, "input"), settings);
    /* No node of ours takes a whole list as one input or returns one (ComfyUI's INPUT_IS_LIST
     * / OUTPUT_IS_LIST). */
    json_object_set_new(node, "is_input_list", json_false());
    json_t *out = json_array(), *is_list = json_array(), *names = json_array();
    for (int i = 0; i < s->n_outputs; i++) {
        json_array_append_new(out, json_string(fg_type_name(s->outputs[i])));
        json_array_append_new(is_list, json_false());
        json_array_append_new(names, json_string(s->output_names[i] ? s->output_names[i] : fg_type_name(s->outputs[i])));
    }
    json_object_set_new(node, "output", out);
    json_object_set_new(node, "output_is_list", is_list);
    json_object_set_new(node, "output_name", names);
    json_object_set_new(node, "name", json_string(s->class_type));
    if (!ref) { /* not a ComfyUI 0.30 node (no spec is derived without one): its own descriptions */
        json_object_set_new(node, "display_name", json_string(s->display_name));
        json_object_set_new(node, "description", json_string(s->description ? s->description : ""));
        json_object_set_new(node, "category", json_string(s->category));
    }
    json_object_set_new(node, "output_node", json_boolean(s->output_node));
    return merge_in_ref_order(node, ref, node_keys);
}

json_t *fg_node_input_info(const fg_node_spec *s, int i, const fg_run_settings *settings) {
    if (!s || i < 0 || i >= s->n_inputs) return NULL;
    const fg_input_spec *in = &s->inputs[i];
    const json_t *ref_input = json_object_get(fg_comfy_def_find(s->class_type), "input");
    const json_t *ref = json_object_get(json_object_get(ref_input, in->optional ? "optional" : "required"), in->name);
    return input_entry(in, ref, settings);
}

json_t *fg_node_info_all(const fg_run_settings *settings) {
    json_t *all = json_object();
    for (size_t i = 0; all && i < fg_node_count(); i++) {
        json_t *info = fg_node_info(fg_node_at(i), settings);
        if (!info || json_object_set_new(all, fg_node_at(i)->class_type, info) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}
