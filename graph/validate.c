/* Prompt validation as ComfyUI's POST /prompt does it (docs/comfyui.md 2.2): class types first
 * (a top-level error), then every output node and its linked ancestors, each error collected
 * in ComfyUI's node_errors shape. Cycles, which ComfyUI only meets as a recursion failure,
 * are detected here and reported on a node of the cycle. */
#include "graph/validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/validate_internal.h"
#include "graph/workflow.h"
#include "nodes/node_info.h"

#define MAX_DEPTH 2000

enum { UNSEEN, VISITING, VALID, INVALID };

typedef struct vnode {
    const char *id;
    const json_t *obj;
    const fg_node_spec *spec;
    int state;
} vnode;

typedef struct vctx {
    vnode *nodes;
    size_t n;
    const fg_run_settings *settings;
    json_t *node_errors;
    json_t *converted; /* fg_validation.prompt, receiving the converted constants */
} vctx;

static int cmp_vnode(const void *a, const void *b) {
    return strcmp(((const vnode *)a)->id, ((const vnode *)b)->id);
}

static vnode *find(vctx *c, const char *id) {
    vnode key = {.id = id};
    return bsearch(&key, c->nodes, c->n, sizeof key, cmp_vnode);
}

/* Node ids in a human order: numeric ids by value, then the rest by name. */
int fg_cmp_node_ids(const char *a, const char *b) {
    char *ea, *eb;
    long long x = strtoll(a, &ea, 10), y = strtoll(b, &eb, 10);
    bool na = *a && !*ea, nb = *b && !*eb;
    if (na && nb && x != y) return x < y ? -1 : 1;
    if (na != nb) return na ? -1 : 1;
    return strcmp(a, b);
}

static json_t *error_obj(const char *type, const char *message, const char *details, json_t *extra) {
    return json_pack("{s:s, s:s, s:s, s:o}", "type", type, "message", message, "details", details, "extra_info",
                     extra ? extra : json_object());
}

static void add_error(vctx *c, vnode *n, json_t *err) {
    json_t *entry = json_object_get(c->node_errors, n->id);
    if (!entry) {
        entry = json_pack("{s:[], s:[], s:s}", "errors", "dependent_outputs", "class_type",
                          n->spec ? n->spec->class_type : "");
        json_object_set_new(c->node_errors, n->id, entry);
    }
    json_array_append_new(json_object_get(entry, "errors"), err);
}

static json_t *extra_for(const char *input, const json_t *value) {
    json_t *e = json_pack("{s:s}", "input_name", input);
    if (value) json_object_set_new(e, "received_value", json_deep_copy(value));
    return e;
}

static void input_error(vctx *c, vnode *n, const char *type, const char *msg, const char *details,
                        const char *input, const json_t *value) {
    add_error(c, n, error_obj(type, msg, details, extra_for(input, value)));
}

static int validate_node(vctx *c, vnode *n, int depth);

static bool check_link(vctx *c, vnode *n, const fg_input_spec *in, const json_t *v, int depth) {
    char details[512];
    const char *src_id = json_string_value(json_array_get(v, 0));
    const json_t *slot = json_array_get(v, 1);
    if (json_array_size(v) != 2 || !src_id || !json_is_integer(slot)) {
        input_error(c, n, "bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                    in->name, in->name, v);
        return false;
    }
    vnode *src = find(c, src_id);
    if (!src) {
        snprintf(details, sizeof details, "%s: linked node '%s' does not exist", in->name, src_id);
        input_error(c, n, "bad_linked_input", "Linked node does not exist", details, in->name, v);
        return false;
    }
    long long k = json_integer_value(slot);
    if (k < 0 || k >= src->spec->n_outputs) {
        snprintf(details, sizeof details, "%s: node %s (%s) has %d output(s), output index %lld does not exist",
                 in->name, src->id, src->spec->class_type, src->spec->n_outputs, k);
        input_error(c, n, "bad_linked_input", "Linked output index out of range", details, in->name, v);
        return false;
    }
    fg_type got = src->spec->outputs[k];
    if (got != in->type) {
        snprintf(details, sizeof details, "%s, received_type(%s) mismatch input_type(%s)", in->name, fg_type_name(got),
                 fg_type_name(in->type));
        input_error(c, n, "return_type_mismatch", "Return type mismatch between linked nodes", details, in->name, NULL);
        return false;
    }
    if (src->state == VISITING) {
        snprintf(details, sizeof details, "%s: links back to node %s (%s), which depends on this node", in->name,
                 src->id, src->spec->class_type);
        input_error(c, n, "dependency_cycle", "Dependency cycle detected", details, in->name, v);
        return false;
    }
    if (depth >= MAX_DEPTH) {
        snprintf(details, sizeof details, "%s: the chain of linked nodes is longer than %d", in->name, MAX_DEPTH);
        input_error(c, n, "bad_linked_input", "Dependency chain too deep", details, in->name, NULL);
        return false;
    }
    return validate_node(c, src, depth + 1) == VALID;
}

/* ComfyUI's conversion, range and list errors carry the input's definition after its name
 * (extra_info.input_config), null for a list longer than 20 (execution.py validate_inputs). */
static void add_input_config(json_t *err, const fg_node_spec *spec, int i, const fg_run_settings *settings) {
    static const char *const types[] = {"invalid_input_type", "value_smaller_than_min", "value_bigger_than_max",
                                        "value_not_in_list"};
    const char *type = json_string_value(json_object_get(err, "type"));
    json_t *extra = json_object_get(err, "extra_info");
    bool wanted = false;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) wanted |= type && strcmp(type, types[k]) == 0;
    if (!wanted || !json_is_object(extra)) return;
    json_t *config = fg_node_input_info(spec, i, settings);
    if (strcmp(type, "value_not_in_list") == 0) {
        const json_t *t = json_array_get(config, 0);
        const json_t *list = json_is_array(t) ? t : json_object_get(json_array_get(config, 1), "options");
        if (json_array_size(list) > 20) json_decref(config), config = json_null();
    }
    json_t *out = json_pack("{s:O, s:o}", "input_name", json_object_get(extra, "input_name"), "input_config",
                            config ? config : json_null());
    const char *key;
    json_t *val;
    json_object_foreach(extra, key, val) if (!json_object_get(out, key)) json_object_set(out, key, val);
    json_object_set_new(err, "extra_info", out);
}

/* ComfyUI's `inputs[x] = val`: the converted constant replaces the written one. */
static void store_converted(vctx *c, const vnode *n, const char *name, json_t *converted) {
    json_t *inputs = json_object_get(json_object_get(c->converted, n->id), "inputs");
    if (json_is_object(inputs)) json_object_set_new(inputs, name, converted);
    else json_decref(converted);
}

static int validate_node(vctx *c, vnode *n, int depth) {
    if (n->state == VALID || n->state == INVALID) return n->state;
    n->state = VISITING;
    const json_t *inputs = json_object_get(n->obj, "inputs");
    bool ok = true;
    if (inputs && !json_is_object(inputs)) {
        add_error(c, n, error_obj("invalid_input_type", "Node inputs must be a JSON object", "inputs", json_object()));
        ok = false;
        inputs = NULL;
    }
    for (int i = 0; i < n->spec->n_inputs; i++) {
        const fg_input_spec *in = &n->spec->inputs[i];
        const json_t *v = json_object_get(inputs, in->name);
        if (!v) {
            if (!in->optional) {
                input_error(c, n, "required_input_missing", "Required input is missing", in->name, in->name, NULL);
                ok = false;
            }
            continue;
        }
        if (json_is_array(v)) {
            if (!check_link(c, n, in, v, depth)) ok = false;
            continue;
        }
        json_t *converted = NULL, *err = fg_validate_constant(in, v, c->settings, &converted);
        if (!err) store_converted(c, n, in->name, converted);
        if (err) {
            add_input_config(err, n->spec, i, c->settings);
            add_error(c, n, err);
            ok = false;
        }
    }
    /* A cycle may have marked this node already while we were inside it. */
    n->state = ok && n->state == VISITING ? VALID : INVALID;
    return n->state;
}

static fg_error *top_error(fg_validation *out, const char *type, const char *message, const char *details,
                           json_t *extra) {
    out->error = error_obj(type, message, details, extra);
    return out->error ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
}

/* ComfyUI 0.30 (execution.py validate_prompt) stops at the first node, in prompt order,
 * without a class_type or of a class it lacks: error type missing_node_type naming the node
 * by its title. We report that one the same way and list every unsupported class of the
 * prompt in extra_info.unsupported_class_types (and their node ids in unsupported_nodes). */
static fg_error *missing_node_error(fg_validation *out, const char *id, const json_t *node, const char *class_type,
                                    json_t *unsupported, json_t *where) {
    const char *title = json_string_value(json_object_get(json_object_get(node, "_meta"), "title"));
    char msg[600], details[600];
    if (!class_type)
        snprintf(msg, sizeof msg, "Node '%s%.300s' has no class_type. The workflow may be corrupted or a custom node is missing.",
                 title ? "" : "ID #", title ? title : id);
    else
        snprintf(msg, sizeof msg, "Node '%.300s' not found. The custom node may not be installed.", title ? title : class_type);
    snprintf(details, sizeof details, "Node ID '#%.500s'", id);
    const char *sugg[4];
    size_t ns = class_type ? fg_node_suggest(class_type, sugg, 4) : 0;
    json_t *list = json_array();
    for (size_t k = 0; k < ns; k++) json_array_append_new(list, json_string(sugg[k]));
    json_t *extra = json_pack("{s:s, s:s?, s:s?, s:o, s:o, s:o}", "node_id", id, "class_type", class_type, "node_title",
                              title ? title : class_type, "suggestions", list, "unsupported_class_types", unsupported,
                              "unsupported_nodes", where);
    return top_error(out, "missing_node_type", msg, details, extra);
}

static fg_error *check_classes(const json_t *prompt, fg_validation *out, vctx *c) {
    const char *id, *first_id = NULL;
    json_t *node, *first = NULL, *unsupported = json_array(), *where = json_object();
    size_t i = 0;
    json_object_foreach((json_t *)prompt, id, node) {
        const char *class_type = json_string_value(json_object_get(node, "class_type"));
        const fg_node_spec *spec = class_type ? fg_node_find(class_type) : NULL;
        if (!spec && !first_id) first_id = id, first = node;
        if (!class_type) continue;
        if (!spec) {
            bool dup = false;
            for (size_t k = 0; k < json_array_size(unsupported); k++)
                dup = dup || strcmp(json_string_value(json_array_get(unsupported, k)), class_type) == 0;
            if (!dup) json_array_append_new(unsupported, json_string(class_type));
            json_t *ids = json_object_get(where, class_type);
            if (!ids) json_object_set_new(where, class_type, ids = json_array());
            json_array_append_new(ids, json_string(id));
            continue;
        }
        c->nodes[i++] = (vnode){.id = id, .obj = node, .spec = spec};
    }
    if (!first_id) {
        json_decref(unsupported);
        json_decref(where);
        return NULL;
    }
    return missing_node_error(out, first_id, first, json_string_value(json_object_get(first, "class_type")), unsupported,
                              where);
}

/* Every output whose ancestry contains a node with errors depends on that node. */
static void mark_dependents(vctx *c, vnode *n, const char *output, char *seen, int depth) {
    size_t idx = (size_t)(n - c->nodes);
    if (seen[idx] || depth > MAX_DEPTH + 1) return; /* validation stopped at MAX_DEPTH too */
    seen[idx] = 1;
    json_t *entry = json_object_get(c->node_errors, n->id);
    if (entry) json_array_append_new(json_object_get(entry, "dependent_outputs"), json_string(output));
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(n->obj, "inputs"), name, v) {
        const char *src_id = json_is_array(v) ? json_string_value(json_array_get(v, 0)) : NULL;
        vnode *src = src_id ? find(c, src_id) : NULL;
        if (src) mark_dependents(c, src, output, seen, depth + 1);
    }
}

static int cmp_vnode_ptr_ids(const void *a, const void *b) {
    return fg_cmp_node_ids((*(vnode *const *)a)->id, (*(vnode *const *)b)->id);
}

static fg_error *summarize(vctx *c, fg_validation *out) {
    if (out->ok) return NULL;
    size_t cap = 256, len = 0;
    char *details = calloc(1, cap);
    if (!details) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
    const char *id;
    json_t *entry;
    json_object_foreach(c->node_errors, id, entry) {
        json_t *e;
        size_t k;
        json_array_foreach(json_object_get(entry, "errors"), k, e) {
            const char *m = json_string_value(json_object_get(e, "message"));
            const char *d = json_string_value(json_object_get(e, "details"));
            size_t need = len + strlen(m) + strlen(d) + 8;
            if (need > cap) {
                char *p = realloc(details, cap = need * 2);
                if (!p) return free(details), fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
                details = p;
            }
            len += (size_t)sprintf(details + len, "%s%s: %s", len ? "\n" : "", m, d);
        }
    }
    fg_error *err = top_error(out, "prompt_outputs_failed_validation", "Prompt outputs failed validation", details, NULL);
    free(details);
    return err;
}

fg_error *fg_validate_prompt(const json_t *prompt, const fg_run_settings *settings, fg_validation *out) {
    FG_CHECK_ARG(out, "fg_validate_prompt: NULL output");
    memset(out, 0, sizeof *out);
    out->node_errors = json_object();
    out->outputs = json_array();
    if (!out->node_errors || !out->outputs) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
    if (!json_is_object(prompt))
        return top_error(out, "invalid_prompt", "Cannot execute because the prompt is not a JSON object.", "", NULL);
    out->prompt = json_deep_copy(prompt);
    if (!out->prompt) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
    vctx c = {.n = json_object_size(prompt), .settings = settings, .node_errors = out->node_errors,
              .converted = out->prompt};
    c.nodes = calloc(c.n ? c.n : 1, sizeof *c.nodes);
    vnode **outputs = calloc(c.n ? c.n : 1, sizeof *outputs);
    char *seen = calloc(c.n ? c.n : 1, 1);
    fg_error *err = c.nodes && outputs && seen ? check_classes(prompt, out, &c) : fg_errorf(FG_ERR_OUT_OF_MEMORY, "validation");
    size_t n_out = 0;
    if (!err && !out->error) {
        qsort(c.nodes, c.n, sizeof *c.nodes, cmp_vnode);
        for (size_t i = 0; i < c.n; i++)
            if (c.nodes[i].spec->output_node) outputs[n_out++] = &c.nodes[i];
        qsort(outputs, n_out, sizeof *outputs, cmp_vnode_ptr_ids);
        if (n_out == 0) err = top_error(out, "prompt_no_outputs", "Prompt has no outputs", "", NULL);
    }
    if (!err && !out->error) {
        for (size_t i = 0; i < n_out; i++)
            if (validate_node(&c, outputs[i], 0) == VALID) {
                out->ok = true;
                json_array_append_new(out->outputs, json_string(outputs[i]->id));
            }
        for (size_t i = 0; i < n_out; i++) {
            memset(seen, 0, c.n);
            mark_dependents(&c, outputs[i], outputs[i]->id, seen, 0);
        }
        err = summarize(&c, out);
    }
    free(c.nodes);
    free(outputs);
    free(seen);
    return err;
}

void fg_validation_clear(fg_validation *v) {
    if (!v) return;
    json_decref(v->error);
    json_decref(v->node_errors);
    json_decref(v->outputs);
    json_decref(v->prompt);
    memset(v, 0, sizeof *v);
}

json_t *fg_validation_to_json(const fg_validation *v) {
    json_t *err = v->error ? json_deep_copy(v->error) : json_null();
    return json_pack("{s:o, s:O}", "error", err, "node_errors", v->node_errors ? v->node_errors : json_object());
}

/* Every class fluxgraph cannot run, with the node ids that use it and, for nodes inside
 * subgraphs, the subgraph they sit in (ui: the saved workflow, or NULL). */
static void print_unsupported(const fg_validation *v, const json_t *ui, FILE *f) {
    const json_t *where = json_object_get(json_object_get(v->error, "extra_info"), "unsupported_nodes");
    if (json_object_size(where) == 0) return;
    fprintf(f, "this workflow needs %zu node type%s that fluxgraph cannot run:\n", json_object_size(where),
            json_object_size(where) == 1 ? "" : "s");
    const char *cls;
    const json_t *ids;
    json_object_foreach((json_t *)where, cls, ids) {
        fprintf(f, "  %s: node%s", cls, json_array_size(ids) == 1 ? "" : "s");
        for (size_t i = 0; i < json_array_size(ids) && i < 8; i++) {
            const char *id = json_string_value(json_array_get(ids, i));
            char sub[512] = "";
            if (ui) fg_workflow_subgraph_of(ui, id, sub, sizeof sub);
            fprintf(f, "%s %s%s%s%s", i ? "," : "", id, *sub ? " (in subgraph " : "", sub, *sub ? ")" : "");
        }
        if (json_array_size(ids) > 8) fprintf(f, " and %zu more", json_array_size(ids) - 8);
        if (strncmp(cls, "workflow>", 9) == 0 || strncmp(cls, "workflow/", 9) == 0)
            fprintf(f, " (a legacy group node whose definition is missing from extra.groupNodes)");
        fprintf(f, "\n");
    }
}

void fg_validation_print(const fg_validation *v, const json_t *ui, FILE *f) {
    if (v->error && json_object_size(v->node_errors) == 0) {
        fprintf(f, "%s", json_string_value(json_object_get(v->error, "message")));
        const char *d = json_string_value(json_object_get(v->error, "details"));
        if (d && *d) fprintf(f, " (%s)", d);
        const json_t *sugg = json_object_get(json_object_get(v->error, "extra_info"), "suggestions");
        for (size_t i = 0; i < json_array_size(sugg); i++)
            fprintf(f, "%s%s", i ? ", " : " Did you mean: ", json_string_value(json_array_get(sugg, i)));
        fprintf(f, "%s\n", json_array_size(sugg) ? "?" : "");
        print_unsupported(v, ui, f);
        return;
    }
    const char *id;
    json_t *entry;
    json_object_foreach(v->node_errors, id, entry) {
        const char *cls = json_string_value(json_object_get(entry, "class_type"));
        json_t *e;
        size_t k;
        json_array_foreach(json_object_get(entry, "errors"), k, e) {
            const char *input = json_string_value(json_object_get(json_object_get(e, "extra_info"), "input_name"));
            fprintf(f, "node %s (%s)", id, cls ? cls : "?");
            if (input) fprintf(f, " input '%s'", input);
            fprintf(f, ": %s: %s\n", json_string_value(json_object_get(e, "message")),
                    json_string_value(json_object_get(e, "details")));
        }
    }
    if (v->error) fprintf(f, "%s\n", json_string_value(json_object_get(v->error, "message")));
}
