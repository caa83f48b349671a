/* UI (LiteGraph) workflow -> API prompt, as ComfyUI's frontend 1.48.7 builds it when it
 * queues (app.graphToPrompt; docs/ui_workflow_conversion.md): subgraph instances flattened
 * into "outer:inner" ids, virtual nodes (Note, MarkdownNote, Reroute, PrimitiveNode) dropped,
 * muted nodes dropped with the inputs they fed, bypassed nodes looked through by type, widget
 * values laid out from ComfyUI 0.30's node definitions (nodes/comfy_defs.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/dynamic_prompts.h"
#include "graph/workflow.h"
#include "graph/workflow_internal.h"
#include "graph/workflow_ui_internal.h"

/* A node to emit and the subgraph instance it sits in (the frontend's ExecutableNodeDTO). */
typedef struct ui_dto {
    const ui_scope *scope;
    ui_node *node;
} ui_dto;

typedef struct ui_flat {
    ui_dto *dtos;
    size_t n, cap;
    ui_scope **scopes;
    size_t n_scopes, cap_scopes;
} ui_flat;

static fg_error *grow(void **p, size_t *cap, size_t need, size_t elem, const char *label) {
    if (need <= *cap) return NULL;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    *p = q, *cap = c;
    return NULL;
}

/* ---- the root's execution order (LGraph.computeExecutionOrder, §1.4) ------------------- */

static bool js_index_key(const char *s, unsigned long long *v) {
    if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 10) return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return false;
    *v = strtoull(s, NULL, 10);
    return *v < 4294967295ull;
}

static int cmp_index_key(const void *a, const void *b) {
    unsigned long long x = 0, y = 0;
    js_index_key((*(ui_node *const *)a)->id, &x);
    js_index_key((*(ui_node *const *)b)->id, &y);
    return x < y ? -1 : x > y;
}

static fg_error *execution_order(const ui_doc *doc, const ui_graph *g, ui_node **order) {
    size_t n = g->n_nodes, head = 0, tail = 0, placed = 0;
    long long *remaining = calloc(n ? n : 1, sizeof *remaining);
    bool *done = calloc(n ? n : 1, sizeof *done), *visited = calloc(g->n_links ? g->n_links : 1, sizeof *visited);
    ui_node **queue = calloc(n ? n : 1, sizeof *queue);
    fg_error *err = remaining && done && visited && queue ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    for (size_t i = 0; !err && i < n; i++) {
        ui_node *u = g->in_file_order[i];
        for (size_t k = 0; k < u->n_ins; k++) remaining[u - g->nodes] += u->ins[k].link != NULL;
        if (remaining[u - g->nodes] == 0) queue[tail++] = u;
    }
    while (!err && head < tail) {
        ui_node *u = queue[head++];
        order[placed++] = u;
        done[u - g->nodes] = true;
        size_t i, k;
        const json_t *out, *lid;
        json_array_foreach(json_object_get(u->obj, "outputs"), i, out) {
            json_array_foreach(json_object_get(out, "links"), k, lid) {
                const ui_link *l = json_is_integer(lid) ? ui_find_link(g, json_integer_value(lid)) : NULL;
                if (!l || visited[l - g->links]) continue;
                visited[l - g->links] = true;
                ui_node *t = ui_find_node(g, l->to);
                if (t && !done[t - g->nodes] && --remaining[t - g->nodes] == 0) queue[tail++] = t;
            }
        }
    }
    /* The rest (loops, dangling links) in a JS object's key order: index keys ascending, then
     * the others as inserted. */
    size_t first_rest = placed;
    for (int pass = 0; !err && pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            ui_node *u = g->in_file_order[i];
            unsigned long long v;
            if (done[u - g->nodes] || js_index_key(u->id, &v) != (pass == 0)) continue;
            order[placed++] = u;
            done[u - g->nodes] = true;
        }
    size_t n_index = first_rest;
    for (unsigned long long v; n_index < placed && js_index_key(order[n_index]->id, &v);) n_index++;
    qsort(order + first_rest, n_index - first_rest, sizeof *order, cmp_index_key);
    free(remaining), free(done), free(visited), free(queue);
    return err;
}

/* ---- flattening (§1.3, §2.3-2.4) ------------------------------------------------------- */

/* Subgraphs used many times inside subgraphs multiply: a file of a few kilobytes could
 * otherwise flatten into more nodes than memory holds. */
#define MAX_FLAT_NODES 1000000

static fg_error *push_dto(ui_flat *f, const ui_scope *s, ui_node *n, const char *label) {
    if (f->n >= MAX_FLAT_NODES)
        return fg_errorf(FG_ERR_FORMAT, "%s: the subgraphs expand to more than %d nodes", label, MAX_FLAT_NODES);
    FG_TRY(grow((void **)&f->dtos, &f->cap, f->n + 1, sizeof *f->dtos, label));
    f->dtos[f->n++] = (ui_dto){s, n};
    return NULL;
}

/* An instance is followed by its inner nodes, depth first in the definition's order; inside
 * a subgraph even a muted or bypassed instance is expanded (the frontend checks the mode of
 * root nodes only). */
static fg_error *expand(ui_doc *doc, ui_flat *f, const ui_scope *s, ui_node *n) {
    FG_TRY(push_dto(f, s, n, doc->label));
    if (!n->sub || (s->depth == 0 && (n->mode == 2 || n->mode == 4))) return NULL;
    if (s->depth + 1 > UI_MAX_DEPTH)
        return fg_errorf(FG_ERR_FORMAT, "%s: subgraphs nested deeper than %d (does '%s' contain itself?)", doc->label,
                         UI_MAX_DEPTH, n->sub->name);
    FG_TRY(grow((void **)&f->scopes, &f->cap_scopes, f->n_scopes + 1, sizeof *f->scopes, doc->label));
    ui_scope *child = malloc(sizeof *child);
    if (!child) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    f->scopes[f->n_scopes++] = child;
    ui_scope_child(s, n, child);
    for (size_t i = 0; i < child->g->n_nodes; i++) FG_TRY(expand(doc, f, child, child->g->in_file_order[i]));
    return NULL;
}

/* ---- emitting a node (§1.6-1.8) --------------------------------------------------------- */

/* The value as JSON.stringify writes a JS value: integral numbers without ".0", arrays
 * wrapped as {"__value__": [...]}. */
static json_t *js_value(const json_t *v) {
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d);
        return json_real(d);
    }
    if (json_is_array(v)) return json_pack("{s:O}", "__value__", (json_t *)v);
    return json_deep_copy(v);
}

static const json_t *override_for(const ui_scope *s, const ui_node *n, const char *widget) {
    if (!s->instance || !s->instance->overrides) return NULL;
    return json_object_get(json_object_get(s->instance->overrides, n->id), widget);
}

static fg_error *put(json_t *inputs, const char *name, json_t *v, const char *label) {
    if (!v || json_object_set_new(inputs, name, v) != 0) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    return NULL;
}

static fg_error *node_inputs(ui_doc *doc, const ui_dto *d, json_t *inputs) {
    ui_node *n = d->node;
    for (size_t i = 0; n->layout && i < n->layout->n_widgets; i++) {
        const fg_comfy_widget *w = &n->layout->widgets[i];
        const json_t *v = override_for(d->scope, n, w->name);
        if (!v) v = n->values[i];
        if (!w->serialize || !*w->name || !v) continue;
        if (w->dynamic_prompts && json_is_string(v) && fg_dynamic_prompt_has_syntax(json_string_value(v))) {
            char *text = fg_dynamic_prompt(json_string_value(v), &doc->rng);
            json_t *j = text ? json_string(text) : NULL;
            free(text);
            FG_TRY(put(inputs, w->name, j, doc->label));
            continue;
        }
        FG_TRY(put(inputs, w->name, js_value(v), doc->label));
    }
    for (size_t j = 0; j < n->n_ins; j++) {
        ui_origin o = {0};
        FG_TRY(ui_resolve_input(doc, d->scope, n, j, NULL, 0, &o));
        if (o.kind == UI_LINK)
            FG_TRY(put(inputs, n->ins[j].name, json_pack("[sI]", o.node, (json_int_t)o.slot), doc->label));
        else if (o.kind == UI_VALUE)
            FG_TRY(put(inputs, n->ins[j].name, js_value(o.value), doc->label));
    }
    return NULL;
}

static fg_error *emit(ui_doc *doc, const ui_dto *d, json_t *prompt) {
    ui_node *n = d->node;
    json_t *inputs = json_object();
    if (!inputs) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    fg_error *err = node_inputs(doc, d, inputs);
    if (err) {
        json_decref(inputs);
        return err;
    }
    const char *title = n->title ? n->title : n->layout && n->layout->display_name ? n->layout->display_name : n->type;
    char id[UI_PATH_MAX];
    if (snprintf(id, sizeof id, "%s%s", d->scope->path, n->id) >= (int)sizeof id) id[0] = 0;
    json_t *node = json_pack("{s:o, s:s, s:{s:s}}", "inputs", inputs, "class_type", n->type, "_meta", "title", title);
    if (!node || json_object_set_new(prompt, id, node) != 0) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    return NULL;
}

/* §1.9: a link to a node that was not emitted is dropped. */
static void drop_dangling_links(json_t *prompt) {
    const char *id, *name;
    json_t *node, *v;
    void *tmp;
    json_object_foreach(prompt, id, node) {
        json_t *inputs = json_object_get(node, "inputs");
        json_object_foreach_safe(inputs, tmp, name, v) {
            if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                !json_object_get(prompt, json_string_value(json_array_get(v, 0))))
                json_object_del(inputs, name);
        }
    }
}

/* §1.10: JavaScript lists index-like keys first, ascending, then the rest as inserted. */
static json_t *js_key_order(json_t *prompt) {
    json_t *out = json_object();
    const char *id;
    json_t *node;
    size_t n = json_object_size(prompt), k = 0;
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!out || !ids) return free(ids), json_decref(out), NULL;
    unsigned long long v;
    json_object_foreach(prompt, id, node) {
        if (js_index_key(id, &v)) ids[k++] = id;
    }
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0; j--) {
            unsigned long long a, b;
            js_index_key(ids[j - 1], &a), js_index_key(ids[j], &b);
            if (a <= b) break;
            const char *t = ids[j];
            ids[j] = ids[j - 1], ids[j - 1] = t;
        }
    json_object_foreach(prompt, id, node) {
        if (!js_index_key(id, &v)) ids[k++] = id;
    }
    for (size_t i = 0; i < k; i++) json_object_set(out, ids[i], json_object_get(prompt, ids[i]));
    free(ids);
    return out;
}

static fg_error *flatten_and_emit(ui_doc *doc, json_t *prompt) {
    ui_graph *root = &doc->root;
    ui_node **order = calloc(root->n_nodes ? root->n_nodes : 1, sizeof *order);
    ui_scope top = {.g = root};
    ui_flat f = {0};
    fg_error *err = order ? execution_order(doc, root, order) : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    for (size_t i = 0; !err && i < root->n_nodes; i++) err = expand(doc, &f, &top, order[i]);
    for (size_t i = 0; !err && i < f.n; i++) {
        const ui_node *n = f.dtos[i].node;
        if (ui_is_virtual(n) || n->mode == 2 || n->mode == 4) continue;
        err = emit(doc, &f.dtos[i], prompt);
    }
    for (size_t i = 0; i < f.n_scopes; i++) free(f.scopes[i]);
    free(f.scopes), free(f.dtos), free(order);
    return err;
}

fg_error *fg_workflow_ui_to_api(const json_t *ui, const char *label, json_t **prompt) {
    FG_CHECK_ARG(ui && prompt, "fg_workflow_ui_to_api: NULL argument");
    *prompt = NULL;
    ui_doc doc;
    json_t *out = json_object(), *ordered = NULL;
    fg_error *err =
        out ? ui_doc_open(ui, label ? label : "workflow", &doc) : fg_errorf(FG_ERR_OUT_OF_MEMORY, "workflow");
    if (!err) err = flatten_and_emit(&doc, out);
    if (!err) {
        drop_dangling_links(out);
        if (!(ordered = js_key_order(out))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc.label);
    }
    if (!err) err = fg_workflow_ui_text_tokens(ui, ordered);
    if (out) ui_doc_close(&doc);
    json_decref(out);
    if (err) {
        json_decref(ordered);
        return err;
    }
    *prompt = ordered;
    return NULL;
}

static const json_t *node_with_id(const json_t *graph, const char *id) {
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(graph, "nodes"), i, n) {
        const json_t *nid = json_object_get(n, "id");
        char buf[UI_ID_MAX];
        if (json_is_integer(nid))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(nid));
        else if (json_is_string(nid))
            snprintf(buf, sizeof buf, "%s", json_string_value(nid));
        else
            continue;
        if (strcmp(buf, id) == 0) return n;
    }
    return NULL;
}

void fg_workflow_subgraph_of(const json_t *ui, const char *flat_id, char *out, size_t cap) {
    if (cap) out[0] = 0;
    const json_t *graph = ui, *defs = json_object_get(json_object_get(ui, "definitions"), "subgraphs");
    size_t used = 0;
    for (const char *p = flat_id; p && cap;) {
        const char *colon = strchr(p, ':');
        if (!colon) return;
        char seg[UI_ID_MAX];
        snprintf(seg, sizeof seg, "%.*s", (int)(colon - p < UI_ID_MAX - 1 ? colon - p : UI_ID_MAX - 1), p);
        const char *type = json_string_value(json_object_get(node_with_id(graph, seg), "type"));
        const json_t *def = NULL, *d;
        size_t i;
        json_array_foreach(defs, i, d) {
            const char *id = json_string_value(json_object_get(d, "id"));
            if (type && id && strcmp(id, type) == 0) def = d;
        }
        if (!def) return (void)(out[0] = 0);
        const char *name = json_string_value(json_object_get(def, "name"));
        int w = snprintf(out + used, cap - used, "%s'%s'", used ? " > " : "", name ? name : type);
        if (w < 0 || (size_t)w >= cap - used) return;
        used += (size_t)w;
        graph = def;
        p = colon + 1;
    }
}
