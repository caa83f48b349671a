/* A node's fg_node_spec from ComfyUI's /object_info entry for its class and fluxgraph's short
 * declaration (nodes/node_decl.h). Every part of the entry that a spec holds is read here, and
 * anything fluxgraph could not honour is an error naming the class and input, so a new
 * declaration fails its first test run instead of misbehaving. */
#include "nodes/node_decl.h"

#include <stdlib.h>
#include <string.h>

#include "core/json_bigint.h"
#include "nodes/comfy_defs.h"

#define U64_MAX_DIGITS "18446744073709551615"
#define U64_MAX_AS_DOUBLE 18446744073709551615.0

/* Where derived combo lists are copied: one block per spec, NULL-terminated lists back to back. */
typedef struct list_pool {
    const char **slots;
    size_t used, cap;
} list_pool;

static const json_t *opt(const json_t *opts, const char *key) { return opts ? json_object_get(opts, key) : NULL; }

static bool flag(const json_t *opts, const char *key) { return json_is_true(opt(opts, key)); }

/* ComfyUI's list of a combo input: the first element of [[...], {...}], or the "options" of a
 * V3 ["COMBO", {...}] entry. NULL when the input is no combo. */
static const json_t *combo_list(const json_t *entry) {
    const json_t *t = json_array_get(entry, 0);
    if (json_is_array(t)) return t;
    if (json_is_string(t) && strcmp(json_string_value(t), "COMBO") == 0) {
        const json_t *list = opt(json_array_get(entry, 1), "options");
        return json_is_array(list) ? list : NULL;
    }
    return NULL;
}

/* The pool a spec needs: every combo list of the entry with its terminator (more than enough,
 * as restricted and models-folder combos take none). */
static size_t list_slots(const json_t *def) {
    const json_t *input = json_object_get(def, "input");
    static const char *const sections[] = {"required", "optional"};
    size_t n = 0;
    for (int s = 0; s < 2; s++) {
        const char *name;
        const json_t *entry;
        json_object_foreach((json_t *)json_object_get(input, sections[s]), name, entry) {
            const json_t *list = combo_list(entry);
            if (list) n += json_array_size(list) + 1;
        }
    }
    return n;
}

static int index_in(const json_t *list, const char *value) {
    for (size_t i = 0; i < json_array_size(list); i++)
        if (json_is_string(json_array_get(list, i)) && strcmp(json_string_value(json_array_get(list, i)), value) == 0)
            return (int)i;
    return -1;
}

/* A restriction must keep ComfyUI's order and offer nothing ComfyUI does not. */
static fg_error *check_subset(const char *cls, const char *name, const char *const *options, const json_t *list) {
    int last = -1;
    for (const char *const *o = options; *o; o++) {
        int at = index_in(list, *o);
        if (at < 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s offers '%s', which ComfyUI does not", cls, name, *o);
        if (at <= last)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s lists '%s' out of ComfyUI's order", cls, name, *o);
        last = at;
    }
    return NULL;
}

/* The combo's options: the rule's folder, the rule's subset, or ComfyUI's list copied. */
static fg_error *derive_combo(const char *cls, fg_input_spec *in, const json_t *list, const fg_input_rule *rule,
                              list_pool *pool) {
    if (rule && rule->options && rule->source != FG_COMBO_FIXED)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s declares both options and a models folder", cls, in->name);
    if (rule && rule->source != FG_COMBO_FIXED) {
        in->source = rule->source;
        return NULL;
    }
    if (rule && rule->options) {
        FG_TRY(check_subset(cls, in->name, rule->options, list));
        in->options = rule->options;
        return NULL;
    }
    if (json_array_size(list) == 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s: ComfyUI lists no values (files?): declare its models folder",
                         cls, in->name);
    if (pool->used + json_array_size(list) + 1 > pool->cap)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s: combo lists overflow", cls, in->name);
    in->options = pool->slots + pool->used;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *v = json_string_value(json_array_get(list, i));
        if (!v) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s: option %zu is not a string", cls, in->name, i);
        pool->slots[pool->used++] = v;
    }
    pool->slots[pool->used++] = NULL;
    return NULL;
}

/* The number ComfyUI declares under key (default, min, ...), if any; beyond int64 only the
 * seeds' maximum 2^64-1 is understood (it is kept as a double with max_u64 set). */
static fg_error *number(const char *cls, const fg_input_spec *in, const json_t *o, const char *key, double *out,
                        bool *has, bool *u64) {
    const json_t *j = opt(o, key);
    if (!j) return NULL;
    const char *big = json_string_value(json_object_get(j, FG_BIGINT_KEY));
    if (big && u64 && in->type == FG_TYPE_INT && strcmp(big, U64_MAX_DIGITS) == 0) {
        *out = U64_MAX_AS_DOUBLE;
        *u64 = *has = true;
        return NULL;
    }
    if (!json_is_number(j)) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s: %s is not a number", cls, in->name, key);
    *out = json_number_value(j);
    *has = true;
    return NULL;
}

/* 0 stands for an undeclared default, step or round, as fg_input_spec documents. */
static fg_error *derive_numbers(const char *cls, fg_input_spec *in, const json_t *o) {
    bool declared;
    FG_TRY(number(cls, in, o, "default", &in->def, &declared, NULL));
    FG_TRY(number(cls, in, o, "min", &in->min, &in->has_min, NULL));
    FG_TRY(number(cls, in, o, "max", &in->max, &in->has_max, &in->max_u64));
    FG_TRY(number(cls, in, o, "step", &in->step, &declared, NULL));
    /* ComfyUI's round may be false (no rounding): only a number is kept */
    if (json_is_number(opt(o, "round"))) FG_TRY(number(cls, in, o, "round", &in->round, &declared, NULL));
    return NULL;
}

/* One input from its entry [type or list, {options}]. */
static fg_error *derive_input(const char *cls, const char *name, const json_t *entry, bool optional,
                              const fg_input_rule *rule, list_pool *pool, fg_input_spec *in) {
    *in = (fg_input_spec){.name = name, .optional = optional};
    const json_t *t = json_array_get(entry, 0), *o = json_array_get(entry, 1), *list = combo_list(entry);
    if (!json_is_array(entry) || (o && !json_is_object(o)) || (!list && !json_is_string(t)))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s: unreadable ComfyUI definition", cls, name);
    in->type = list ? FG_TYPE_COMBO : fg_type_from_name(json_string_value(t));
    if (in->type == FG_TYPE_NONE || (in->type == FG_TYPE_COMBO && !list))
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s.%s has type %s, which fluxgraph has no values of", cls, name,
                         json_string_value(t));
    if (rule && in->type != FG_TYPE_COMBO)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s.%s is of type %s, not a combo to restrict", cls, name,
                         fg_type_name(in->type));
    if (in->type == FG_TYPE_INT || in->type == FG_TYPE_FLOAT) FG_TRY(derive_numbers(cls, in, o));
    if (in->type == FG_TYPE_BOOLEAN) in->def = flag(o, "default") ? 1.0 : 0.0;
    if (in->type == FG_TYPE_STRING || in->type == FG_TYPE_COMBO) in->def_string = json_string_value(opt(o, "default"));
    if (in->type == FG_TYPE_COMBO) FG_TRY(derive_combo(cls, in, list, rule, pool));
    in->control_after_generate = flag(o, "control_after_generate");
    in->image_upload = flag(o, "image_upload");
    in->force_input = flag(o, "forceInput");
    in->multiline = flag(o, "multiline");
    in->dynamic_prompts = flag(o, "dynamicPrompts");
    return NULL;
}

static const fg_input_rule *rule_for(const fg_node_decl *decl, const char *name, bool *used) {
    for (int r = 0; r < FG_NODE_MAX_RULES && decl->rules[r].name; r++)
        if (strcmp(decl->rules[r].name, name) == 0) {
            used[r] = true;
            return &decl->rules[r];
        }
    return NULL;
}

/* One input of a section, unless it is already there (input_order names it and the section
 * lists it again) or the section lacks it. Names borrow from the embedded definition. */
static fg_error *add_input(const fg_node_decl *decl, const json_t *specs, const char *name, bool optional, bool *used,
                           list_pool *pool, fg_node_spec *out) {
    const json_t *entry = name ? json_object_get(specs, name) : NULL;
    if (!entry || fg_node_input_index(out, name) >= 0) return NULL;
    if (out->n_inputs == FG_NODE_MAX_INPUTS)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s has more than %d inputs", decl->class_type, FG_NODE_MAX_INPUTS);
    FG_TRY(derive_input(decl->class_type, name, entry, optional, rule_for(decl, name, used), pool,
                        &out->inputs[out->n_inputs]));
    out->n_inputs++;
    return NULL;
}

/* A section's inputs in input_order's order, then any it leaves out (the frontend's order). */
static fg_error *derive_section(const fg_node_decl *decl, const json_t *def, bool optional, bool *used, list_pool *pool,
                                fg_node_spec *out) {
    const char *section = optional ? "optional" : "required";
    const json_t *specs = json_object_get(json_object_get(def, "input"), section);
    const json_t *order = json_object_get(json_object_get(def, "input_order"), section);
    size_t i;
    const json_t *v;
    json_array_foreach(order, i, v) FG_TRY(add_input(decl, specs, json_string_value(v), optional, used, pool, out));
    const char *name;
    json_object_foreach((json_t *)specs, name, v) FG_TRY(add_input(decl, specs, name, optional, used, pool, out));
    return NULL;
}

/* ComfyUI's hidden inputs that fluxgraph fills in; any other is an error. */
static fg_error *derive_hidden(const char *cls, const json_t *def, fg_node_spec *out) {
    static const struct {
        const char *name;
        unsigned flag;
    } known[] = {{"prompt", FG_HIDDEN_PROMPT}, {"extra_pnginfo", FG_HIDDEN_EXTRA_PNGINFO}, {"unique_id", FG_HIDDEN_UNIQUE_ID}};
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(json_object_get(def, "input"), "hidden"), name, v) {
        unsigned f = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(known[k].name, name) == 0) f = known[k].flag;
        if (!f) return fg_errorf(FG_ERR_UNSUPPORTED, "%s has the hidden input '%s', which fluxgraph does not fill", cls, name);
        out->hidden |= f;
    }
    return NULL;
}

static fg_error *derive_outputs(const char *cls, const json_t *def, fg_node_spec *out) {
    const json_t *types = json_object_get(def, "output"), *names = json_object_get(def, "output_name");
    const json_t *lists = json_object_get(def, "output_is_list");
    if (json_array_size(types) > FG_NODE_MAX_OUTPUTS)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s has more than %d outputs", cls, FG_NODE_MAX_OUTPUTS);
    if (json_is_true(json_object_get(def, "is_input_list")))
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s takes whole lists, which fluxgraph does not pass", cls);
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        fg_type type = t ? fg_type_from_name(t) : FG_TYPE_NONE;
        if (type == FG_TYPE_NONE || type == FG_TYPE_COMBO)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s output %zu has type %s, which fluxgraph has no values of", cls, i,
                             t ? t : "(a list)");
        if (json_is_true(json_array_get(lists, i)))
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s output %zu is a list, which fluxgraph does not return", cls, i);
        const char *name = json_string_value(json_array_get(names, i));
        out->outputs[i] = type;
        out->output_names[i] = name ? name : t;
    }
    out->n_outputs = (int)json_array_size(types);
    return NULL;
}

static fg_error *derive(const fg_node_decl *decl, const json_t *def, list_pool *pool, fg_node_spec *out) {
    const char *cls = decl->class_type;
    out->class_type = cls;
    out->execute = decl->execute;
    out->not_idempotent = decl->not_idempotent;
    out->display_name = json_string_value(json_object_get(def, "display_name"));
    out->category = json_string_value(json_object_get(def, "category"));
    out->description = json_string_value(json_object_get(def, "description"));
    out->output_node = json_is_true(json_object_get(def, "output_node"));
    FG_TRY(derive_outputs(cls, def, out));
    FG_TRY(derive_hidden(cls, def, out));
    bool used[FG_NODE_MAX_RULES] = {false};
    FG_TRY(derive_section(decl, def, false, used, pool, out));
    FG_TRY(derive_section(decl, def, true, used, pool, out));
    for (int r = 0; r < FG_NODE_MAX_RULES && decl->rules[r].name; r++)
        if (!used[r])
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s declares a rule for '%s', which ComfyUI's %s has no input of",
                             cls, decl->rules[r].name, cls);
    return NULL;
}

fg_error *fg_node_spec_derive(const fg_node_decl *decl, fg_node_spec *out) {
    memset(out, 0, sizeof *out);
    FG_CHECK_ARG(decl && decl->class_type, "a node declaration without a class");
    const json_t *def = fg_comfy_def_find(decl->class_type);
    if (!def)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s is not a ComfyUI node (nodes/comfyui/object_info.json)",
                         decl->class_type);
    list_pool pool = {.cap = list_slots(def)};
    if (pool.cap && !(pool.slots = calloc(pool.cap, sizeof *pool.slots)))
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", decl->class_type);
    out->owned_options = pool.slots;
    fg_error *err = derive(decl, def, &pool, out);
    if (err) fg_node_spec_release(out);
    return err;
}

void fg_node_spec_release(fg_node_spec *spec) {
    if (!spec) return;
    free(spec->owned_options);
    memset(spec, 0, sizeof *spec);
}
