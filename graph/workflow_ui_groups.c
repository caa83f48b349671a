/* Legacy group nodes (docs/ui_workflow_conversion.md §6). Frontend 1.48 turns each group node
 * of the root graph into a subgraph when it opens the file: it registers a temporary node
 * type per `extra.groupNodes` entry (its widgets and inputs named from the inner nodes'),
 * pastes the inner nodes with fresh ids, gives them the group node's widget values, rewires
 * the outer links and wraps the pasted nodes into a new subgraph instance (the next id).
 * This file does the same on a copy of the workflow, so the subgraph code flattens the
 * result into the ids the frontend sends ("<instance>:<fresh inner id>"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/workflow_ui_internal.h"

#define MAX_GROUP_NODES 256
#define MAX_GROUP_SLOTS 1024

typedef struct gn_entry {
    int node;          /* index of the inner node */
    const char *inner; /* its input / widget name; NULL for a control combo */
    char name[160];    /* the name on the group node */
} gn_entry;

typedef struct group_type {
    const char *name;
    const json_t *data, *nodes, *links;
    gn_entry sockets[MAX_GROUP_SLOTS], widgets[MAX_GROUP_SLOTS];
    size_t n_sockets, n_widgets;
    int out_node[MAX_GROUP_SLOTS];
    long long out_slot[MAX_GROUP_SLOTS];
    size_t n_outs;
    struct {
        char key[160];
        int count;
    } seen[MAX_GROUP_SLOTS];
    size_t n_seen;
} group_type;

static long long num(const json_t *v) {
    return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : -1;
}

/* The group's first own link [origin, origin_slot, target, target_slot, ...] whose end `at`
 * (0: origin, 2: target) is (node, slot), with both ends set. */
static const json_t *group_link(const group_type *g, size_t at, int node, long long slot) {
    size_t i;
    const json_t *l;
    json_array_foreach(g->links, i, l) {
        bool ends = num(json_array_get(l, 0)) >= 0 && num(json_array_get(l, 1)) >= 0 &&
                    num(json_array_get(l, 2)) >= 0 && num(json_array_get(l, 3)) >= 0;
        if (ends && num(json_array_get(l, at)) == node && num(json_array_get(l, at + 1)) == slot) return l;
    }
    return NULL;
}

static const json_t *link_to(const group_type *g, int node, long long slot) { return group_link(g, 2, node, slot); }
static bool linked_from(const group_type *g, int node, long long slot) { return group_link(g, 0, node, slot) != NULL; }

static bool external_from(const group_type *g, int node, long long slot) {
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(g->data, "external"), i, e) {
        const json_t *type = json_array_get(e, 2);
        if (num(json_array_get(e, 0)) == node && num(json_array_get(e, 1)) == slot && type && !json_is_null(type))
            return true;
    }
    return false;
}

static const json_t *node_config(const group_type *g, int node, const char *kind, const char *key) {
    char idx[24];
    snprintf(idx, sizeof idx, "%d", node);
    return json_object_get(json_object_get(json_object_get(json_object_get(g->data, "config"), idx), kind), key);
}

static int *seen_count(group_type *g, const char *key) {
    for (size_t i = 0; i < g->n_seen; i++)
        if (strcmp(g->seen[i].key, key) == 0) return &g->seen[i].count;
    return NULL;
}

/* groupNode.ts getInputConfig: the custom name, the input's label or its name; a repeated
 * name gets the node's title (or type) in front, then a counter. */
static void input_name(group_type *g, int node, const char *input, char out[160]) {
    const json_t *n = json_array_get(g->nodes, (size_t)node), *s;
    const char *name = json_string_value(json_object_get(node_config(g, node, "input", input), "name"));
    size_t i;
    json_array_foreach(json_object_get(n, "inputs"), i, s) {
        const char *label = json_string_value(json_object_get(s, "label"));
        if (!name && label && strcmp(json_string_value(json_object_get(s, "name")) ?: "", input) == 0) name = label;
    }
    if (!name) name = input;
    const char *type = json_string_value(json_object_get(n, "type")),
               *title = json_string_value(json_object_get(n, "title"));
    char key[160];
    snprintf(key, sizeof key, "%s", name);
    snprintf(out, 160, "%s", name);
    if ((strcmp(type ?: "", "PrimitiveNode") == 0 && title) || seen_count(g, name)) {
        char prefix[100];
        snprintf(prefix, sizeof prefix, "%s ", title ? title : type ? type : "");
        snprintf(key, sizeof key, "%s%s", prefix, input);
        snprintf(out, 160, "%s", key);
        int *c = seen_count(g, key);
        if (c) snprintf(out, 160, "%s%d %s", prefix, *c, input);
    }
    int *c = seen_count(g, key);
    if (c)
        (*c)++;
    else if (g->n_seen < MAX_GROUP_SLOTS) {
        snprintf(g->seen[g->n_seen].key, sizeof g->seen[0].key, "%s", key);
        g->seen[g->n_seen++].count = 2;
    }
}

static void add(gn_entry *list, size_t *n, int node, const char *inner, const char *name) {
    if (*n >= MAX_GROUP_SLOTS) return;
    list[*n].node = node, list[*n].inner = inner;
    snprintf(list[*n].name, sizeof list[*n].name, "%s", name);
    (*n)++;
}

static bool has_control(const json_t *spec, const char *inner, const char *name) {
    const json_t *o = json_array_get(spec, 1), *c = json_object_get(o, "control_after_generate");
    const char *t = json_string_value(json_array_get(spec, 0));
    if (!t || (strcmp(t, "INT") != 0 && strcmp(t, "COMBO") != 0)) return false;
    if (strcmp(inner, "seed") == 0 || strcmp(inner, "noise_seed") == 0) return true; /* getInputConfig sets it */
    if (c) return !json_is_false(c) && !json_is_null(c);
    return strcmp(name, "seed") == 0 || strcmp(name, "noise_seed") == 0;
}

static void add_widget(group_type *g, int node, const char *inner, const json_t *spec) {
    char name[160];
    input_name(g, node, inner, name);
    add(g->widgets, &g->n_widgets, node, inner, name);
    if (has_control(spec, inner, name)) add(g->widgets, &g->n_widgets, node, NULL, "control_after_generate");
}

/* One inner node's contribution (processNodeInputs / processNodeOutputs): its widget inputs
 * (only inputs whose type is a string: list combos become sockets), then its sockets not fed
 * inside the group; converted widgets wait until every node is done. */
static size_t process_node(group_type *g, int i, const json_t *def, const char **converted, size_t *n_conv,
                           int *conv_node) {
    const json_t *n = json_array_get(g->nodes, (size_t)i), *input = json_object_get(def, "input");
    const char *slots[MAX_GROUP_SLOTS];
    size_t n_slots = 0;
    for (int sec = 0; sec < 2; sec++) {
        const char *name;
        const json_t *spec;
        json_object_foreach(json_object_get(input, sec ? "optional" : "required"), name, spec) {
            const char *t = json_string_value(json_array_get(spec, 0));
            if (!(t && fg_comfy_is_widget_type(t))) {
                if (n_slots < MAX_GROUP_SLOTS) slots[n_slots++] = name;
                continue;
            }
            bool conv = false;
            size_t k;
            const json_t *s;
            json_array_foreach(json_object_get(n, "inputs"), k, s) {
                const char *widget = json_string_value(json_object_get(json_object_get(s, "widget"), "name"));
                conv |= strcmp(json_string_value(json_object_get(s, "name")) ?: "", name) == 0 && widget &&
                        strcmp(widget, name) == 0;
            }
            if (conv && *n_conv < MAX_GROUP_SLOTS)
                converted[*n_conv] = name, conv_node[(*n_conv)++] = i;
            else if (!conv)
                add_widget(g, i, name, spec);
        }
    }
    for (size_t j = 0; j < n_slots; j++) {
        if (link_to(g, i, (long long)j)) continue;
        char name[160];
        input_name(g, i, slots[j], name);
        if (json_is_false(json_object_get(node_config(g, i, "input", slots[j]), "visible"))) continue;
        add(g->sockets, &g->n_sockets, i, slots[j], name);
    }
    const json_t *outs = json_object_get(def, "output");
    for (size_t o = 0; o < json_array_size(outs) && g->n_outs < MAX_GROUP_SLOTS; o++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", o);
        const json_t *vis = json_object_get(node_config(g, i, "output", key), "visible");
        bool visible =
            vis ? json_is_true(vis) : !(linked_from(g, i, (long long)o) && !external_from(g, i, (long long)o));
        if (!visible) continue;
        g->out_node[g->n_outs] = i, g->out_slot[g->n_outs++] = (long long)o;
    }
    return n_slots;
}

/* The temporary node type; NULL (and no error) when an inner node's class is unknown: the
 * group node then stays an unknown node, as in the frontend. */
static fg_error *build_type(const char *label, const char *name, const json_t *data, group_type **out) {
    *out = NULL;
    const json_t *nodes = json_object_get(data, "nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) > MAX_GROUP_NODES ||
        json_array_size(json_object_get(data, "links")) > MAX_GROUP_SLOTS)
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: group node '%s': \"nodes\" is not an array of at most %d nodes with at most %d links",
                         label, name, MAX_GROUP_NODES, MAX_GROUP_SLOTS);
    group_type *g = calloc(1, sizeof *g);
    if (!g) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    g->name = name, g->data = data, g->nodes = nodes, g->links = json_object_get(data, "links");
    const char *converted[MAX_GROUP_SLOTS];
    int conv_node[MAX_GROUP_SLOTS];
    size_t n_conv = 0, n_slots[MAX_GROUP_NODES] = {0}, conv_seen[MAX_GROUP_NODES] = {0};
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const char *type = json_string_value(json_object_get(json_array_get(nodes, i), "type"));
        const json_t *def = fg_comfy_def_find(type);
        if (type && (strcmp(type, "PrimitiveNode") == 0 || strcmp(type, "Reroute") == 0)) {
            free(g);
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "%s: group node '%s' holds a %s; such group nodes are not supported: open the workflow "
                             "in ComfyUI (which turns it into a subgraph) and save it again",
                             label, name, type);
        }
        if (!def) return free(g), NULL;
        n_slots[i] = process_node(g, (int)i, def, converted, &n_conv, conv_node);
    }
    /* processConvertedWidgets: after all nodes, a converted widget not fed inside the group
     * becomes a widget and an input of the group node. */
    for (size_t k = 0; k < n_conv; k++) {
        int i = conv_node[k];
        if (link_to(g, i, (long long)(n_slots[i] + conv_seen[i]++))) continue;
        const json_t *def =
            fg_comfy_def_find(json_string_value(json_object_get(json_array_get(nodes, (size_t)i), "type")));
        const json_t *spec = json_object_get(json_object_get(json_object_get(def, "input"), "required"), converted[k]);
        if (!spec) spec = json_object_get(json_object_get(json_object_get(def, "input"), "optional"), converted[k]);
        size_t at = g->n_widgets;
        add_widget(g, i, converted[k], spec);
        if (at < g->n_widgets) add(g->sockets, &g->n_sockets, i, converted[k], g->widgets[at].name);
    }
    *out = g;
    return NULL;
}

/* ---- expanding one group node ----------------------------------------------------------- */

static json_t *root_link(json_t *work, const json_t *id) {
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(work, "links"), i, l) {
        const json_t *lid = json_is_array(l) ? json_array_get(l, 0) : json_object_get(l, "id");
        if (json_is_integer(lid) && json_is_integer(id) && json_integer_value(lid) == json_integer_value(id)) return l;
    }
    return NULL;
}

static void set_link_end(json_t *l, bool origin, long long node, long long slot) {
    if (!l) return;
    if (json_is_array(l)) {
        json_array_set_new(l, origin ? 1 : 3, json_integer(node));
        json_array_set_new(l, origin ? 2 : 4, json_integer(slot));
    } else {
        json_object_set_new(l, origin ? "origin_id" : "target_id", json_integer(node));
        json_object_set_new(l, origin ? "origin_slot" : "target_slot", json_integer(slot));
    }
}

static const json_t *group_input(const json_t *group_node, const char *name) {
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(group_node, "inputs"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")) ?: "", name) == 0) return s;
    }
    return NULL;
}

/* Inner node i with the values it ends up with: its own stored ones by position, then the
 * group node's widget of the same name (a missing one gives the widget's default). */
static json_t *inner_values(const group_type *g, int i, const json_t *inner, const json_t *group_wv) {
    fg_comfy_layout *L = malloc(sizeof *L);
    json_t *out = json_array();
    if (!L || !out || !fg_comfy_layout_of(json_string_value(json_object_get(inner, "type")), L)) return free(L), out;
    const json_t *own = json_object_get(inner, "widgets_values");
    for (size_t k = 0; k < L->n_widgets; k++) {
        const json_t *v = json_is_array(own) && k < json_array_size(own) ? json_array_get(own, k) : L->widgets[k].def;
        for (size_t w = 0; w < g->n_widgets; w++) {
            if (g->widgets[w].node != i || !g->widgets[w].inner || strcmp(g->widgets[w].inner, L->widgets[k].name) != 0)
                continue;
            v = json_is_array(group_wv) && w < json_array_size(group_wv) ? json_array_get(group_wv, w)
                                                                         : L->widgets[k].def;
        }
        json_array_append_new(out, v ? json_deep_copy(v) : json_null());
    }
    free(L);
    return out;
}

static long long inner_input_index(json_t *inner, const char *name, const char *type) {
    json_t *ins = json_object_get(inner, "inputs"), *s;
    size_t i;
    json_array_foreach(ins, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")) ?: "", name) == 0) return (long long)i;
    }
    if (!ins) json_object_set_new(inner, "inputs", ins = json_array());
    json_array_append_new(ins, json_pack("{s:s, s:s, s:{s:s}, s:n}", "name", name, "type", type, "widget", "name", name,
                                         "link"));
    return (long long)json_array_size(ins) - 1;
}

typedef struct expansion {
    json_t *def, *def_nodes, *def_links, *def_inputs, *def_outputs, *inst_inputs, *inst_outputs;
    long long *fresh, next_link;
} expansion;

static void add_def_link(expansion *x, long long from, long long from_slot, long long to, long long to_slot,
                         const char *type) {
    json_array_append_new(x->def_links,
                          json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "id", (json_int_t)x->next_link, "origin_id",
                                    (json_int_t)from, "origin_slot", (json_int_t)from_slot, "target_id", (json_int_t)to,
                                    "target_slot", (json_int_t)to_slot, "type", type ? type : "*"));
    x->next_link++;
}

/* Pasted inner nodes and the links among them (deserialiseAndCreate). */
static void paste_inner(const group_type *g, const json_t *group_node, expansion *x) {
    size_t i;
    const json_t *n, *l;
    json_array_foreach(g->nodes, i, n) {
        json_t *c = json_deep_copy(n);
        json_object_set_new(c, "id", json_integer(x->fresh[i]));
        json_object_del(c, "index");
        json_object_set_new(c, "widgets_values",
                            inner_values(g, (int)i, n, json_object_get(group_node, "widgets_values")));
        json_t *s;
        size_t k;
        json_array_foreach(json_object_get(c, "inputs"), k, s) { json_object_set_new(s, "link", json_null()); }
        json_array_append_new(x->def_nodes, c);
    }
    json_array_foreach(g->links, i, l) {
        long long a = num(json_array_get(l, 0)), as = num(json_array_get(l, 1)), b = num(json_array_get(l, 2)),
                  bs = num(json_array_get(l, 3));
        size_t nn = json_array_size(g->nodes);
        if (a < 0 || b < 0 || as < 0 || bs < 0 || (size_t)a >= nn || (size_t)b >= nn) continue;
        json_t *slot = json_array_get(json_object_get(json_array_get(x->def_nodes, (size_t)b), "inputs"), (size_t)bs);
        if (!slot) continue;
        json_object_set_new(slot, "link", json_integer(x->next_link));
        add_def_link(x, x->fresh[a], as, x->fresh[b], bs, json_string_value(json_array_get(l, 5)));
    }
}

/* reconnectInputs / reconnectOutputs: each outer link now ends at the new instance. */
static void rewire(json_t *work, const group_type *g, const json_t *group_node, long long inst, expansion *x) {
    for (size_t k = 0; k < g->n_sockets; k++) {
        const json_t *gin = group_input(group_node, g->sockets[k].name), *lid = json_object_get(gin, "link");
        if (!json_is_integer(lid)) continue;
        const char *type = json_string_value(json_object_get(gin, "type")) ?: "*";
        size_t at = json_array_size(x->def_inputs);
        json_t *inner = json_array_get(x->def_nodes, (size_t)g->sockets[k].node);
        long long slot = inner_input_index(inner, g->sockets[k].inner, type);
        json_object_set_new(json_array_get(json_object_get(inner, "inputs"), (size_t)slot), "link",
                            json_integer(x->next_link));
        json_array_append_new(x->def_inputs, json_pack("{s:s, s:s, s:[I]}", "name", g->sockets[k].name, "type", type,
                                                       "linkIds", (json_int_t)x->next_link));
        add_def_link(x, UI_INPUT_NODE, (long long)at, x->fresh[g->sockets[k].node], slot, type);
        json_array_append_new(x->inst_inputs,
                              json_pack("{s:s, s:s, s:O}", "name", g->sockets[k].name, "type", type, "link", lid));
        set_link_end(root_link(work, lid), false, inst, (long long)at);
    }
    size_t o;
    const json_t *out;
    json_array_foreach(json_object_get(group_node, "outputs"), o, out) {
        const json_t *links = json_object_get(out, "links");
        if (o >= g->n_outs || json_array_size(links) == 0) continue;
        const char *type = json_string_value(json_object_get(out, "type")) ?: "*";
        size_t at = json_array_size(x->def_outputs);
        json_array_append_new(x->def_outputs, json_pack("{s:s, s:s, s:[I]}", "name",
                                                        json_string_value(json_object_get(out, "name")) ?: type, "type",
                                                        type, "linkIds", (json_int_t)x->next_link));
        add_def_link(x, x->fresh[g->out_node[o]], g->out_slot[o], UI_OUTPUT_NODE, (long long)at, type);
        json_array_append_new(x->inst_outputs,
                              json_pack("{s:s, s:s, s:O}", "name", type, "type", type, "links", links));
        size_t k;
        const json_t *lid;
        json_array_foreach(links, k, lid) { set_link_end(root_link(work, lid), true, inst, (long long)at); }
    }
}

static fg_error *expand_one(json_t *work, size_t pos, const group_type *g, long long *last, int serial,
                            const char *label) {
    json_t *nodes = json_object_get(work, "nodes"), *group_node = json_incref(json_array_get(nodes, pos));
    expansion x = {.next_link = 1};
    x.fresh = calloc(json_array_size(g->nodes) + 1, sizeof *x.fresh);
    for (size_t i = 0; x.fresh && i < json_array_size(g->nodes); i++) x.fresh[i] = ++*last;
    long long inst = ++*last;
    char def_id[200];
    snprintf(def_id, sizeof def_id, "group-node:%s:%d", g->name, serial);
    x.def_nodes = json_array(), x.def_links = json_array(), x.def_inputs = json_array(), x.def_outputs = json_array();
    x.inst_inputs = json_array(), x.inst_outputs = json_array();
    bool ok = x.fresh && x.def_nodes && x.def_links && x.def_inputs && x.def_outputs && x.inst_inputs && x.inst_outputs;
    if (ok) {
        paste_inner(g, group_node, &x);
        rewire(work, g, group_node, inst, &x);
        json_t *def = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "id", def_id, "name", g->name, "nodes", x.def_nodes,
                                "links", x.def_links, "inputs", x.def_inputs, "outputs", x.def_outputs);
        json_t *instance = json_pack("{s:I, s:s, s:i, s:O, s:O, s:[]}", "id", (json_int_t)inst, "type", def_id, "mode",
                                     0, "inputs", x.inst_inputs, "outputs", x.inst_outputs, "widgets_values");
        json_t *defs = json_object_get(work, "definitions");
        if (!json_is_object(defs)) json_object_set_new(work, "definitions", defs = json_object());
        json_t *subgraphs = json_object_get(defs, "subgraphs");
        if (!json_is_array(subgraphs)) json_object_set_new(defs, "subgraphs", subgraphs = json_array());
        ok = def && instance && json_array_append_new(subgraphs, def) == 0 && json_array_remove(nodes, pos) == 0 &&
             json_array_append_new(nodes, instance) == 0;
    }
    json_decref(x.def_nodes), json_decref(x.def_links), json_decref(x.def_inputs), json_decref(x.def_outputs);
    json_decref(x.inst_inputs), json_decref(x.inst_outputs), json_decref(group_node);
    free(x.fresh);
    return ok ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: expanding group node '%s'", label, g->name);
}

/* ---- the whole workflow ------------------------------------------------------------------ */

static const char *group_name_of(const json_t *node) {
    const char *t = json_string_value(json_object_get(node, "type"));
    return t && (strncmp(t, "workflow>", 9) == 0 || strncmp(t, "workflow/", 9) == 0) ? t + 9 : NULL;
}

static long long max_node_id(const json_t *nodes, long long m) {
    size_t i;
    const json_t *n;
    json_array_foreach(nodes, i, n) {
        const json_t *id = json_object_get(n, "id");
        if (json_is_integer(id) && json_integer_value(id) > m) m = json_integer_value(id);
    }
    return m;
}

bool ui_has_group_nodes(const json_t *ui) {
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(ui, "nodes"), i, n) {
        if (group_name_of(n)) return true;
    }
    return false;
}

fg_error *ui_expand_group_nodes(json_t *work, const char *label) {
    const json_t *groups = json_object_get(json_object_get(work, "extra"), "groupNodes");
    const json_t *state = json_object_get(work, "state"), *sg;
    long long last = num(json_object_get(work, "last_node_id"));
    if (last < 0) last = num(json_object_get(state, "lastNodeId"));
    last = max_node_id(json_object_get(work, "nodes"), last < 0 ? 0 : last);
    size_t i;
    json_array_foreach(json_object_get(json_object_get(work, "definitions"), "subgraphs"), i, sg) {
        last = max_node_id(json_object_get(sg, "nodes"), last);
        const json_t *n;
        size_t k;
        json_array_foreach(json_object_get(sg, "nodes"), k, n) {
            if (!group_name_of(n)) continue;
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "%s: subgraph '%s' holds a legacy group node ('%s'); open the workflow in ComfyUI and "
                             "save it again",
                             label, json_string_value(json_object_get(sg, "name")) ?: "?",
                             json_string_value(json_object_get(n, "type")));
        }
    }
    const json_t *kept[MAX_GROUP_NODES]; /* group nodes left as they are (unknown inner class) */
    size_t n_kept = 0;
    for (int serial = 0; serial < 10000; serial++) {
        size_t pos = 0;
        const json_t *node = NULL, *n;
        json_array_foreach(json_object_get(work, "nodes"), i, n) {
            bool skip = false;
            for (size_t k = 0; k < n_kept; k++) skip |= kept[k] == n;
            if (!node && !skip && group_name_of(n) && json_object_get(groups, group_name_of(n))) node = n, pos = i;
        }
        if (!node) return NULL;
        const char *name = group_name_of(node);
        group_type *g = NULL;
        FG_TRY(build_type(label, name, json_object_get(groups, name), &g));
        if (!g) {
            if (n_kept == MAX_GROUP_NODES) return fg_errorf(FG_ERR_FORMAT, "%s: too many group nodes", label);
            kept[n_kept++] = node;
            continue;
        }
        fg_error *err = expand_one(work, pos, g, &last, serial, label);
        free(g);
        if (err) return err;
    }
    return fg_errorf(FG_ERR_FORMAT, "%s: too many group nodes", label);
}
