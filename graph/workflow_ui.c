/* UI (LiteGraph) workflow -> API prompt, as ComfyUI's frontend "graph to prompt" does it
 * (comfyui.md 1.3): virtual nodes dropped, Reroutes followed, PrimitiveNodes inlined, muted
 * nodes dropped with their consumers' inputs omitted, bypassed nodes rewired by type, and
 * widgets_values mapped onto input names through the node declarations (1.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "graph/workflow.h"
#include "graph/workflow_internal.h"
#include "nodes/registry.h"

#define MAX_UI_NODES 100000
#define MAX_UI_LINKS 1000000
#define MAX_HOPS 4096

typedef struct ui_link {
    long long id;
    char from[32];
    long long from_slot;
} ui_link;

typedef struct ui_node {
    char id[32];
    const json_t *obj;
    const char *type;
    long long mode;
} ui_node;

typedef struct ui_graph {
    ui_node *nodes;
    size_t n_nodes;
    ui_link *links;
    size_t n_links;
    const char *label;
} ui_graph;

/* What a link resolves to once virtual, muted and bypassed nodes are looked through. */
typedef enum { ORIGIN_NONE, ORIGIN_LINK, ORIGIN_CONST } origin_kind;
typedef struct origin {
    origin_kind kind;
    const char *node_id;
    long long slot;
    const json_t *value;
} origin;

static bool node_id_string(const json_t *id, char out[32]) {
    if (json_is_integer(id)) return snprintf(out, 32, "%lld", (long long)json_integer_value(id)), true;
    if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) < 32)
        return snprintf(out, 32, "%s", json_string_value(id)), true;
    return false;
}

static int cmp_node(const void *a, const void *b) {
    return strcmp(((const ui_node *)a)->id, ((const ui_node *)b)->id);
}

static int cmp_link(const void *a, const void *b) {
    long long x = ((const ui_link *)a)->id, y = ((const ui_link *)b)->id;
    return x < y ? -1 : x > y;
}

static const ui_node *find_node(const ui_graph *g, const char *id) {
    ui_node key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, g->nodes, g->n_nodes, sizeof key, cmp_node);
}

static const ui_link *find_link(const ui_graph *g, long long id) {
    ui_link key = {.id = id};
    return bsearch(&key, g->links, g->n_links, sizeof key, cmp_link);
}

static bool is_virtual(const char *type) {
    return strcmp(type, "Note") == 0 || strcmp(type, "MarkdownNote") == 0 || strcmp(type, "Reroute") == 0 ||
           strcmp(type, "PrimitiveNode") == 0;
}

static fg_error *read_link(const ui_graph *g, const json_t *l, ui_link *out) {
    const json_t *id, *from, *slot;
    if (json_is_array(l)) {
        if (json_array_size(l) < 5) return fg_errorf(FG_ERR_FORMAT, "%s: a link is not a 6-element array", g->label);
        id = json_array_get(l, 0), from = json_array_get(l, 1), slot = json_array_get(l, 2);
    } else if (json_is_object(l)) {
        id = json_object_get(l, "id"), from = json_object_get(l, "origin_id"), slot = json_object_get(l, "origin_slot");
    } else {
        return fg_errorf(FG_ERR_FORMAT, "%s: a link is neither an array nor an object", g->label);
    }
    if (!json_is_integer(id) || !json_is_integer(slot) || !node_id_string(from, out->from))
        return fg_errorf(FG_ERR_FORMAT, "%s: malformed link (id, origin node and origin slot must be integers)", g->label);
    out->id = json_integer_value(id);
    out->from_slot = json_integer_value(slot);
    if (out->from_slot < 0) return fg_errorf(FG_ERR_FORMAT, "%s: link %lld has a negative origin slot", g->label, out->id);
    return NULL;
}

static fg_error *reject_subgraphs(const json_t *ui, const ui_graph *g) {
    const json_t *subgraphs = json_object_get(json_object_get(ui, "definitions"), "subgraphs");
    if (json_array_size(subgraphs) > 1000) /* keeps the instance lookup below cheap */
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: %zu subgraph definitions; subgraphs are not supported", g->label,
                         json_array_size(subgraphs));
    for (size_t i = 0; i < g->n_nodes; i++) {
        const char *type = g->nodes[i].type;
        if (strncmp(type, "workflow>", 9) == 0 || strncmp(type, "workflow/", 9) == 0)
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "%s: node %s is a legacy group node ('%s'); group nodes are not supported: convert "
                             "it back to regular nodes in ComfyUI",
                             g->label, g->nodes[i].id, type);
        for (size_t k = 0; k < json_array_size(subgraphs); k++) {
            const json_t *sg = json_array_get(subgraphs, k);
            const char *sid = json_string_value(json_object_get(sg, "id"));
            if (sid && strcmp(sid, type) == 0) {
                const char *name = json_string_value(json_object_get(sg, "name"));
                return fg_errorf(FG_ERR_UNSUPPORTED,
                                 "%s: node %s is an instance of subgraph '%s' (%s); subgraphs are not supported: "
                                 "unpack it in ComfyUI",
                                 g->label, g->nodes[i].id, name ? name : "?", sid);
            }
        }
    }
    return NULL;
}

static fg_error *index_graph(const json_t *ui, ui_graph *g) {
    const json_t *nodes = json_object_get(ui, "nodes"), *links = json_object_get(ui, "links");
    if (!json_is_array(nodes)) return fg_errorf(FG_ERR_FORMAT, "%s: \"nodes\" is not an array", g->label);
    if (links && !json_is_array(links)) return fg_errorf(FG_ERR_FORMAT, "%s: \"links\" is not an array", g->label);
    size_t nn = json_array_size(nodes), nl = json_array_size(links);
    if (nn > MAX_UI_NODES || nl > MAX_UI_LINKS) return fg_errorf(FG_ERR_FORMAT, "%s: too many nodes or links", g->label);
    g->nodes = calloc(nn ? nn : 1, sizeof *g->nodes);
    g->links = calloc(nl ? nl : 1, sizeof *g->links);
    if (!g->nodes || !g->links) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g->label);
    for (size_t i = 0; i < nn; i++) {
        const json_t *n = json_array_get(nodes, i);
        ui_node *u = &g->nodes[i];
        u->obj = n;
        u->type = json_string_value(json_object_get(n, "type"));
        const json_t *mode = json_object_get(n, "mode");
        u->mode = json_is_integer(mode) ? json_integer_value(mode) : 0;
        if (!json_is_object(n) || !u->type || !node_id_string(json_object_get(n, "id"), u->id))
            return fg_errorf(FG_ERR_FORMAT, "%s: node #%zu lacks a valid \"id\" or \"type\"", g->label, i);
    }
    for (size_t i = 0; i < nl; i++) FG_TRY(read_link(g, json_array_get(links, i), &g->links[i]));
    g->n_nodes = nn;
    g->n_links = nl;
    qsort(g->nodes, nn, sizeof *g->nodes, cmp_node);
    qsort(g->links, nl, sizeof *g->links, cmp_link);
    for (size_t i = 1; i < nn; i++)
        if (strcmp(g->nodes[i].id, g->nodes[i - 1].id) == 0)
            return fg_errorf(FG_ERR_FORMAT, "%s: two nodes have id %s", g->label, g->nodes[i].id);
    return NULL;
}

static const json_t *slot_at(const ui_node *n, const char *array, long long i) {
    const json_t *a = json_object_get(n->obj, array);
    return i >= 0 && (size_t)i < json_array_size(a) ? json_array_get(a, (size_t)i) : NULL;
}

static fg_error *resolve(const ui_graph *g, const json_t *link_id, const char *consumer, int hops, origin *out);

/* A bypassed node passes its input of the output's type through, preferring the same index. */
static fg_error *resolve_bypass(const ui_graph *g, const ui_node *src, long long slot, int hops, origin *out) {
    const char *type = json_string_value(json_object_get(slot_at(src, "outputs", slot), "type"));
    const json_t *inputs = json_object_get(src->obj, "inputs");
    const json_t *pick = NULL;
    const json_t *same = slot_at(src, "inputs", slot);
    const char *same_type = json_string_value(json_object_get(same, "type"));
    if (type && same_type && strcmp(type, same_type) == 0) pick = same;
    for (size_t i = 0; !pick && type && i < json_array_size(inputs); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(inputs, i), "type"));
        if (t && strcmp(t, type) == 0) pick = json_array_get(inputs, i);
    }
    out->kind = ORIGIN_NONE;
    if (!pick) return NULL;
    return resolve(g, json_object_get(pick, "link"), src->id, hops + 1, out);
}

static fg_error *resolve(const ui_graph *g, const json_t *link_id, const char *consumer, int hops, origin *out) {
    out->kind = ORIGIN_NONE;
    if (!link_id || json_is_null(link_id)) return NULL;
    if (hops > MAX_HOPS) return fg_errorf(FG_ERR_FORMAT, "%s: a loop of Reroute or bypassed nodes", g->label);
    if (!json_is_integer(link_id)) return fg_errorf(FG_ERR_FORMAT, "%s: node %s: a link id is not an integer", g->label, consumer);
    /* A stale link is skipped as the frontend skips it (the input is then omitted and
     * validation names it if it was required); the warning says why. */
    const ui_link *l = find_link(g, json_integer_value(link_id));
    if (!l) {
        FG_LOG_W("%s: node %s refers to link %lld, which does not exist; input omitted", g->label, consumer,
                 (long long)json_integer_value(link_id));
        return NULL;
    }
    const ui_node *src = find_node(g, l->from);
    if (!src) {
        FG_LOG_W("%s: link %lld comes from node %s, which does not exist; input omitted", g->label, l->id, l->from);
        return NULL;
    }
    /* A PrimitiveNode is UI-only whatever its mode: its value is the target widget's value. */
    if (strcmp(src->type, "PrimitiveNode") == 0) {
        const json_t *wv = json_object_get(src->obj, "widgets_values");
        if (json_array_size(wv) > 0) out->kind = ORIGIN_CONST, out->value = json_array_get(wv, 0);
        return NULL;
    }
    if (src->mode == 2) return NULL;
    if (strcmp(src->type, "Reroute") == 0)
        return resolve(g, json_object_get(slot_at(src, "inputs", 0), "link"), src->id, hops + 1, out);
    if (strcmp(src->type, "Note") == 0 || strcmp(src->type, "MarkdownNote") == 0) return NULL;
    if (src->mode == 4) return resolve_bypass(g, src, l->from_slot, hops, out);
    out->kind = ORIGIN_LINK;
    out->node_id = src->id;
    out->slot = l->from_slot;
    return NULL;
}

static bool is_widget(const fg_input_spec *in) {
    return !in->force_input && (in->type == FG_TYPE_INT || in->type == FG_TYPE_FLOAT || in->type == FG_TYPE_STRING ||
                                in->type == FG_TYPE_BOOLEAN || in->type == FG_TYPE_COMBO);
}

static json_t *default_value(const fg_input_spec *in) {
    switch (in->type) {
    case FG_TYPE_INT: return json_integer((json_int_t)in->def);
    case FG_TYPE_FLOAT: return json_real(in->def);
    case FG_TYPE_BOOLEAN: return json_boolean(in->def != 0);
    default: return in->def_string ? json_string(in->def_string) : NULL;
    }
}

/* A FLOAT widget saved as 1 reads back as 1.0, as Python sees the value ComfyUI sent. */
static json_t *widget_value(const fg_input_spec *in, const json_t *v) {
    if (in->type == FG_TYPE_FLOAT && json_is_integer(v)) return json_real((double)json_integer_value(v));
    return json_deep_copy(v);
}

static fg_error *map_widgets(const ui_graph *g, const ui_node *n, const fg_node_spec *spec, json_t *inputs) {
    const json_t *wv = json_object_get(n->obj, "widgets_values");
    if (wv && !json_is_array(wv) && !json_is_object(wv))
        return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): widgets_values is neither an array nor an object",
                         g->label, n->id, n->type);
    size_t idx = 0;
    for (int i = 0; i < spec->n_inputs; i++) {
        const fg_input_spec *in = &spec->inputs[i];
        if (!is_widget(in)) continue;
        const json_t *v = json_is_object(wv) ? json_object_get(wv, in->name)
                          : idx < json_array_size(wv) ? json_array_get(wv, idx) : NULL;
        idx++;
        json_t *val = v ? widget_value(in, v) : default_value(in);
        if (val && json_object_set_new(inputs, in->name, val) != 0)
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g->label);
        /* Pseudo-widgets stored after the value: the seed's control mode, the upload button. */
        if (in->control_after_generate || in->image_upload) idx++;
    }
    return NULL;
}

static fg_error *map_links(const ui_graph *g, const ui_node *n, json_t *inputs) {
    const json_t *slots = json_object_get(n->obj, "inputs");
    if (slots && !json_is_array(slots))
        return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): \"inputs\" is not an array", g->label, n->id, n->type);
    for (size_t i = 0; i < json_array_size(slots); i++) {
        const json_t *s = json_array_get(slots, i);
        const char *name = json_string_value(json_object_get(s, "name"));
        const json_t *link = json_object_get(s, "link");
        if (!name) return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): input slot %zu has no name", g->label, n->id, n->type, i);
        if (!link || json_is_null(link)) continue;
        origin o;
        FG_TRY(resolve(g, link, n->id, 0, &o));
        json_t *val = NULL;
        if (o.kind == ORIGIN_LINK)
            val = json_pack("[sI]", o.node_id, (json_int_t)o.slot);
        else if (o.kind == ORIGIN_CONST)
            val = json_deep_copy(o.value);
        if (val) {
            if (json_object_set_new(inputs, name, val) != 0) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g->label);
        } else {
            json_object_del(inputs, name); /* fed by a muted node: the input is omitted */
        }
    }
    return NULL;
}

static fg_error *emit_node(const ui_graph *g, const ui_node *n, json_t *prompt) {
    const fg_node_spec *spec = fg_node_find(n->type);
    json_t *inputs = json_object();
    fg_error *err = inputs ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g->label);
    if (!err && spec) err = map_widgets(g, n, spec, inputs);
    if (!err) err = map_links(g, n, inputs);
    if (err) {
        json_decref(inputs);
        return err;
    }
    const char *title = json_string_value(json_object_get(n->obj, "title"));
    if (!title) title = spec ? spec->display_name : n->type;
    json_t *node = json_pack("{s:o, s:s, s:{s:s}}", "inputs", inputs, "class_type", n->type, "_meta", "title", title);
    if (!node || json_object_set_new(prompt, n->id, node) != 0) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g->label);
    return NULL;
}

static int cmp_numeric_id(const void *a, const void *b) {
    const ui_node *x = *(const ui_node *const *)a, *y = *(const ui_node *const *)b;
    char *ex, *ey;
    long long nx = strtoll(x->id, &ex, 10), ny = strtoll(y->id, &ey, 10);
    if (!*ex && !*ey && nx != ny) return nx < ny ? -1 : 1;
    return strcmp(x->id, y->id);
}

fg_error *fg_workflow_ui_to_api(const json_t *ui, const char *label, json_t **prompt) {
    FG_CHECK_ARG(ui && prompt, "fg_workflow_ui_to_api: NULL argument");
    *prompt = NULL;
    ui_graph g = {.label = label ? label : "workflow"};
    const ui_node **order = NULL;
    json_t *out = json_object();
    fg_error *err = out ? index_graph(ui, &g) : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g.label);
    if (!err) err = reject_subgraphs(ui, &g);
    /* Emitted in ascending node id order, as the frontend walks the graph. */
    if (!err && !(order = malloc((g.n_nodes ? g.n_nodes : 1) * sizeof *order)))
        err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", g.label);
    if (!err) {
        for (size_t i = 0; i < g.n_nodes; i++) order[i] = &g.nodes[i];
        qsort(order, g.n_nodes, sizeof *order, cmp_numeric_id);
    }
    for (size_t i = 0; !err && i < g.n_nodes; i++) {
        const ui_node *n = order[i];
        if (is_virtual(n->type) || n->mode == 2 || n->mode == 4) continue;
        err = emit_node(&g, n, out);
    }
    if (!err) err = fg_workflow_ui_text_tokens(ui, out);
    free(order);
    free(g.nodes);
    free(g.links);
    if (err) {
        json_decref(out);
        return err;
    }
    *prompt = out;
    return NULL;
}
