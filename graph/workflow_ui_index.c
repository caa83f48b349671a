/* Reading a saved UI workflow into the converter's model (graph/workflow_ui_internal.h):
 * the root graph and the subgraph definitions, each node laid out as the frontend lays it out
 * from ComfyUI's node definitions (§8), widget values assigned by position (§8.3),
 * PrimitiveNodes pushed into their targets (§7.1) and the promoted widgets of subgraph
 * instances (§2.8-2.10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "graph/workflow_ui_internal.h"

#define MAX_UI_NODES 100000
#define MAX_UI_LINKS 1000000
#define MAX_SUBGRAPHS 1000

struct layout_cache {
    char *type;
    fg_comfy_layout *layout; /* NULL: not a core node */
    struct layout_cache *next;
};

static const fg_comfy_layout *layout_for(ui_doc *doc, const char *type) {
    for (struct layout_cache *c = doc->layouts; c; c = c->next)
        if (strcmp(c->type, type) == 0) return c->layout;
    struct layout_cache *c = calloc(1, sizeof *c);
    fg_comfy_layout *L = malloc(sizeof *L);
    if (!c || !L || !(c->type = strdup(type))) {
        free(c), free(L);
        return NULL;
    }
    if (!fg_comfy_layout_of(type, L)) free(L), L = NULL;
    c->layout = L;
    c->next = doc->layouts;
    doc->layouts = c;
    return L;
}

static bool id_string(const json_t *id, char out[UI_ID_MAX]) {
    if (json_is_integer(id)) return snprintf(out, UI_ID_MAX, "%lld", (long long)json_integer_value(id)), true;
    if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) < UI_ID_MAX &&
        !strchr(json_string_value(id), ':'))
        return snprintf(out, UI_ID_MAX, "%s", json_string_value(id)), true;
    return false;
}

static int cmp_node(const void *a, const void *b) { return strcmp(((const ui_node *)a)->id, ((const ui_node *)b)->id); }
static int cmp_link(const void *a, const void *b) {
    long long x = ((const ui_link *)a)->id, y = ((const ui_link *)b)->id;
    return x < y ? -1 : x > y;
}

ui_node *ui_find_node(const ui_graph *g, const char *id) {
    ui_node key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, g->nodes, g->n_nodes, sizeof key, cmp_node);
}

const ui_link *ui_find_link(const ui_graph *g, long long id) {
    ui_link key = {.id = id};
    return bsearch(&key, g->links, g->n_links, sizeof key, cmp_link);
}

bool ui_is_virtual(const ui_node *n) {
    return n->sub || strcmp(n->type, "Note") == 0 || strcmp(n->type, "MarkdownNote") == 0 ||
           strcmp(n->type, "Reroute") == 0 || strcmp(n->type, "PrimitiveNode") == 0;
}

int ui_widget_index(const ui_node *n, const char *name) {
    for (size_t i = 0; n->layout && name && i < n->layout->n_widgets; i++)
        if (strcmp(n->layout->widgets[i].name, name) == 0) return (int)i;
    return -1;
}

/* [id, origin, origin_slot, target, target_slot, type] (schema 0.4) or an object (1). */
static fg_error *read_link(const ui_doc *doc, const char *where, const json_t *l, ui_link *out) {
    const json_t *id, *from, *slot, *to, *to_slot;
    if (json_is_array(l) && json_array_size(l) >= 5) {
        id = json_array_get(l, 0), from = json_array_get(l, 1), slot = json_array_get(l, 2);
        to = json_array_get(l, 3), to_slot = json_array_get(l, 4);
    } else if (json_is_array(l)) {
        return fg_errorf(FG_ERR_FORMAT, "%s%s: a link is not a 6-element array", doc->label, where);
    } else if (json_is_object(l)) {
        id = json_object_get(l, "id"), from = json_object_get(l, "origin_id"), slot = json_object_get(l, "origin_slot");
        to = json_object_get(l, "target_id"), to_slot = json_object_get(l, "target_slot");
    } else {
        return fg_errorf(FG_ERR_FORMAT, "%s%s: a link is neither a 6-element array nor an object", doc->label, where);
    }
    if (!json_is_integer(id) || !json_is_integer(slot) || !id_string(from, out->from))
        return fg_errorf(FG_ERR_FORMAT, "%s%s: malformed link (id, origin node and origin slot must be integers)",
                         doc->label, where);
    out->id = json_integer_value(id);
    out->from_slot = json_integer_value(slot);
    out->to_slot = json_is_integer(to_slot) ? json_integer_value(to_slot) : -1;
    if (!id_string(to, out->to)) out->to[0] = 0;
    if (out->from_slot < 0)
        return fg_errorf(FG_ERR_FORMAT, "%s%s: link %lld has a negative origin slot", doc->label, where, out->id);
    return NULL;
}

static const ui_graph *find_definition(const ui_doc *doc, const char *type) {
    for (size_t i = 0; i < doc->n_defs; i++)
        if (strcmp(doc->defs[i].sg_id, type) == 0) return &doc->defs[i];
    return NULL;
}

static const json_t *stored_input(const ui_node *n, const char *name, const char *type) {
    const json_t *ins = json_object_get(n->obj, "inputs"), *s, *by_name = NULL;
    size_t i;
    json_array_foreach(ins, i, s) {
        const char *nm = json_string_value(json_object_get(s, "name"));
        const char *ty = json_string_value(json_object_get(s, "type"));
        if (!nm || strcmp(nm, name) != 0) continue;
        if (!type || (ty && strcmp(ty, type) == 0)) return s;
        if (!by_name) by_name = s;
    }
    return by_name;
}

static const json_t *link_of(const json_t *slot) {
    const json_t *l = json_object_get(slot, "link");
    return l && !json_is_null(l) ? l : NULL;
}

static const char *stored_widget_name(const json_t *slot) {
    return json_string_value(json_object_get(json_object_get(slot, "widget"), "name"));
}

/* §8.2: the class's sockets, then its widget sockets, each taking the stored link of the same
 * name; stored inputs the class does not have follow. Instances take their definition's
 * inputs (matched by name and type, then name); other nodes keep what is stored. */
static fg_error *build_inputs(const ui_doc *doc, ui_node *n) {
    const json_t *stored = json_object_get(n->obj, "inputs");
    if (stored && !json_is_array(stored))
        return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): \"inputs\" is not an array", doc->label, n->id, n->type);
    size_t cap = json_array_size(stored) + (n->layout ? n->layout->n_inputs : 0) + (n->sub ? n->sub->n_inputs : 0);
    n->ins = calloc(cap ? cap : 1, sizeof *n->ins);
    if (!n->ins) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    for (size_t i = 0; n->sub && i < n->sub->n_inputs; i++) {
        const json_t *s = stored_input(n, n->sub->inputs[i].name, n->sub->inputs[i].type);
        n->ins[n->n_ins++] =
            (ui_input){n->sub->inputs[i].name, n->sub->inputs[i].type, link_of(s), stored_widget_name(s)};
    }
    for (size_t i = 0; n->layout && i < n->layout->n_inputs; i++) {
        const fg_comfy_slot *d = &n->layout->inputs[i];
        n->ins[n->n_ins++] =
            (ui_input){d->name, d->type, link_of(stored_input(n, d->name, NULL)), d->widget ? d->name : NULL};
    }
    size_t i;
    const json_t *s;
    json_array_foreach(stored, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name)
            return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): input slot %zu has no name", doc->label, n->id, n->type,
                             i);
        bool known = n->sub != NULL; /* an instance drops inputs its definition lacks */
        for (size_t k = 0; n->layout && k < n->layout->n_inputs && !known; k++)
            known = strcmp(n->ins[k].name, name) == 0;
        if (known) continue;
        const char *type = json_string_value(json_object_get(s, "type"));
        n->ins[n->n_ins++] = (ui_input){name, type ? type : "*", link_of(s), stored_widget_name(s)};
    }
    return NULL;
}

static void build_outputs(ui_node *n) {
    const json_t *stored = json_object_get(n->obj, "outputs");
    size_t cap = n->sub ? n->sub->n_outputs : n->layout ? n->layout->n_outputs : json_array_size(stored);
    n->out_types = calloc(cap ? cap : 1, sizeof *n->out_types);
    if (!n->out_types) return;
    for (size_t i = 0; i < cap; i++) {
        const char *t = n->sub      ? n->sub->outputs[i].type
                        : n->layout ? n->layout->outputs[i]
                                    : json_string_value(json_object_get(json_array_get(stored, i), "type"));
        n->out_types[n->n_outs++] = t ? t : "*";
    }
}

/* What a widget holds when 1.48 assigns it `undefined` (widgets_values stored as an object
 * is read by position, §5.5): a combo falls back to its first option, a text widget to the
 * text "undefined", anything else stays undefined and is not sent. */
static json_t *undefined_value(const fg_comfy_widget *w) {
    if (strcmp(w->type, "COMBO") == 0) return w->first ? json_deep_copy(w->first) : NULL;
    if (strcmp(w->type, "STRING") == 0) return json_string("undefined");
    return NULL;
}

/* §8.3: stored values by position over all widgets (the seed's control combo and the upload
 * button take their places too); fewer keep the defaults, more are ignored; an old save with
 * a value for each forceInput input has those dropped first. */
static fg_error *assign_widgets(const ui_doc *doc, ui_node *n) {
    if (!n->layout) return NULL;
    const fg_comfy_layout *L = n->layout;
    const json_t *wv = json_object_get(n->obj, "widgets_values");
    if (wv && !json_is_array(wv) && !json_is_object(wv) && !json_is_null(wv))
        return fg_errorf(FG_ERR_FORMAT, "%s: node %s (%s): widgets_values is neither an array nor an object",
                         doc->label, n->id, n->type);
    n->values = calloc(L->n_widgets ? L->n_widgets : 1, sizeof *n->values);
    if (!n->values) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    bool drop_forced = json_is_array(wv) && L->has_legacy_force && json_array_size(wv) == L->n_legacy;
    for (size_t i = 0, pos = 0; i < L->n_widgets; i++, pos++) {
        while (drop_forced && pos < L->n_legacy && L->legacy_force[pos]) pos++;
        if (json_is_object(wv)) {
            char key[24];
            snprintf(key, sizeof key, "%zu", i);
            const json_t *v = json_object_get(wv, key);
            n->values[i] = v ? json_deep_copy(v) : undefined_value(&L->widgets[i]);
            continue;
        }
        const json_t *v = L->widgets[i].def;
        if (json_is_array(wv) && pos < json_array_size(wv)) v = json_array_get(wv, pos);
        n->values[i] = v ? json_deep_copy(v) : NULL;
    }
    return NULL;
}

static fg_error *read_io(const ui_doc *doc, ui_graph *g, const char *key, ui_io **out, size_t *n) {
    const json_t *arr = json_object_get(g->obj, key), *s;
    if (arr && !json_is_array(arr))
        return fg_errorf(FG_ERR_FORMAT, "%s: subgraph '%s': \"%s\" is not an array", doc->label, g->name, key);
    *out = calloc(json_array_size(arr) + 1, sizeof **out);
    if (!*out) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    size_t i;
    json_array_foreach(arr, i, s) {
        const char *name = json_string_value(json_object_get(s, "name")),
                   *type = json_string_value(json_object_get(s, "type"));
        if (!name)
            return fg_errorf(FG_ERR_FORMAT, "%s: subgraph '%s': %s slot %zu has no name", doc->label, g->name, key, i);
        (*out)[(*n)++] = (ui_io){name, type ? type : "*", json_object_get(s, "linkIds")};
    }
    return NULL;
}

static fg_error *index_graph(const ui_doc *doc, ui_graph *g) {
    const json_t *nodes = json_object_get(g->obj, "nodes"), *links = json_object_get(g->obj, "links");
    char where[160] = "";
    if (g->sg_id) snprintf(where, sizeof where, ": subgraph '%.100s'", g->name);
    if (!json_is_array(nodes)) return fg_errorf(FG_ERR_FORMAT, "%s%s: \"nodes\" is not an array", doc->label, where);
    if (links && !json_is_array(links))
        return fg_errorf(FG_ERR_FORMAT, "%s%s: \"links\" is not an array", doc->label, where);
    size_t nn = json_array_size(nodes), nl = json_array_size(links);
    if (nn > MAX_UI_NODES || nl > MAX_UI_LINKS)
        return fg_errorf(FG_ERR_FORMAT, "%s%s: too many nodes or links", doc->label, where);
    g->nodes = calloc(nn ? nn : 1, sizeof *g->nodes);
    g->in_file_order = calloc(nn ? nn : 1, sizeof *g->in_file_order);
    g->links = calloc(nl ? nl : 1, sizeof *g->links);
    if (!g->nodes || !g->links || !g->in_file_order) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    for (size_t i = 0; i < nn; i++) {
        const json_t *n = json_array_get(nodes, i);
        ui_node *u = &g->nodes[i];
        u->obj = n;
        u->file_pos = i;
        u->type = json_string_value(json_object_get(n, "type"));
        const json_t *mode = json_object_get(n, "mode");
        u->mode = json_is_integer(mode) ? json_integer_value(mode) : 0;
        u->title = json_string_value(json_object_get(n, "title"));
        if (!json_is_object(n) || !u->type || !id_string(json_object_get(n, "id"), u->id))
            return fg_errorf(FG_ERR_FORMAT, "%s%s: node #%zu lacks a valid \"id\" or \"type\"", doc->label, where, i);
    }
    for (size_t i = 0; i < nl; i++) FG_TRY(read_link(doc, where, json_array_get(links, i), &g->links[i]));
    g->n_nodes = nn, g->n_links = nl;
    qsort(g->nodes, nn, sizeof *g->nodes, cmp_node);
    qsort(g->links, nl, sizeof *g->links, cmp_link);
    for (size_t i = 0; i < nn; i++) g->in_file_order[g->nodes[i].file_pos] = &g->nodes[i];
    for (size_t i = 1; i < nn; i++)
        if (strcmp(g->nodes[i].id, g->nodes[i - 1].id) == 0)
            return fg_errorf(FG_ERR_FORMAT, "%s%s: two nodes have id %s", doc->label, where, g->nodes[i].id);
    return NULL;
}

static fg_error *lay_out_nodes(ui_doc *doc, ui_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ui_node *n = &g->nodes[i];
        n->sub = find_definition(doc, n->type);
        if (!n->sub && !ui_is_virtual(n)) n->layout = layout_for(doc, n->type);
        FG_TRY(build_inputs(doc, n));
        build_outputs(n);
        if (!n->out_types) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
        FG_TRY(assign_widgets(doc, n));
    }
    return NULL;
}

/* §7.1: a PrimitiveNode (muted or not) sets the widget behind every input it feeds. */
static fg_error *apply_primitives(const ui_doc *doc, ui_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ui_node *p = &g->nodes[i];
        if (strcmp(p->type, "PrimitiveNode") != 0) continue;
        const json_t *wv = json_object_get(p->obj, "widgets_values");
        const json_t *links = json_object_get(json_array_get(json_object_get(p->obj, "outputs"), 0), "links");
        if (!json_is_array(wv) || json_array_size(wv) == 0) continue;
        size_t k;
        const json_t *lid;
        json_array_foreach(links, k, lid) {
            const ui_link *l = json_is_integer(lid) ? ui_find_link(g, json_integer_value(lid)) : NULL;
            ui_node *t = l ? ui_find_node(g, l->to) : NULL;
            if (!t || l->to_slot < 0) continue;
            const json_t *slot = json_array_get(json_object_get(t->obj, "inputs"), (size_t)l->to_slot);
            int w = ui_widget_index(t, stored_widget_name(slot));
            if (w < 0) continue;
            json_decref(t->values[w]);
            if (!(t->values[w] = json_deep_copy(json_array_get(wv, 0))))
                return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
        }
    }
    return NULL;
}

static fg_error *open_definitions(const json_t *ui, ui_doc *doc) {
    const json_t *subgraphs = json_object_get(json_object_get(ui, "definitions"), "subgraphs");
    if (subgraphs && !json_is_array(subgraphs))
        return fg_errorf(FG_ERR_FORMAT, "%s: definitions.subgraphs is not an array", doc->label);
    if (json_array_size(subgraphs) > MAX_SUBGRAPHS)
        return fg_errorf(FG_ERR_FORMAT, "%s: %zu subgraph definitions (at most %d)", doc->label,
                         json_array_size(subgraphs), MAX_SUBGRAPHS);
    doc->defs = calloc(json_array_size(subgraphs) + 1, sizeof *doc->defs);
    if (!doc->defs) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    size_t i;
    const json_t *sg;
    json_array_foreach(subgraphs, i, sg) {
        ui_graph *g = &doc->defs[doc->n_defs++];
        g->obj = sg;
        g->sg_id = json_string_value(json_object_get(sg, "id"));
        g->name = json_string_value(json_object_get(sg, "name"));
        if (!g->name) g->name = g->sg_id ? g->sg_id : "?";
        if (!json_is_object(sg) || !g->sg_id || !*g->sg_id)
            return fg_errorf(FG_ERR_FORMAT, "%s: subgraph definition #%zu has no \"id\"", doc->label, i);
        for (size_t k = 0; k + 1 < doc->n_defs; k++)
            if (strcmp(doc->defs[k].sg_id, g->sg_id) == 0)
                return fg_errorf(FG_ERR_FORMAT, "%s: two subgraph definitions have id %s", doc->label, g->sg_id);
        FG_TRY(index_graph(doc, g));
        FG_TRY(read_io(doc, g, "inputs", &g->inputs, &g->n_inputs));
        FG_TRY(read_io(doc, g, "outputs", &g->outputs, &g->n_outputs));
    }
    return NULL;
}

/* ---- node ids of subgraph definitions (§8.4) ------------------------------------------------
 * An inner node whose id is already taken (by a root node or a node of an earlier definition)
 * is renumbered from the workflow's last node id on, with its definition's links and the
 * proxyWidgets of its instances patched, as the frontend does when it opens the file. */

#define MAX_NODE_ID 100000000

/* A set of id strings (open addressing; ids are short). */
typedef struct id_set {
    char **slots;
    size_t n, cap;
} id_set;

static size_t hash_id(const char *k) {
    size_t h = 1469598103934665603ull;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

static bool set_has(const id_set *s, const char *k) {
    for (size_t i = s->cap ? hash_id(k) & (s->cap - 1) : 0; s->cap && s->slots[i]; i = (i + 1) & (s->cap - 1))
        if (strcmp(s->slots[i], k) == 0) return true;
    return false;
}

static bool set_add(id_set *s, const char *k) {
    if (2 * (s->n + 1) > s->cap) {
        id_set bigger = {calloc(s->cap ? s->cap * 2 : 256, sizeof(char *)), 0, s->cap ? s->cap * 2 : 256};
        if (!bigger.slots) return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i]) continue;
            size_t j = hash_id(s->slots[i]) & (bigger.cap - 1);
            while (bigger.slots[j]) j = (j + 1) & (bigger.cap - 1);
            bigger.slots[j] = s->slots[i];
            bigger.n++;
        }
        free(s->slots);
        *s = bigger;
    }
    size_t j = hash_id(k) & (s->cap - 1);
    while (s->slots[j]) j = (j + 1) & (s->cap - 1);
    return (s->slots[j] = strdup(k)) ? (s->n++, true) : false;
}

static void set_free(id_set *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->slots[i]);
    free(s->slots);
}

/* A canonical integer id ("12", 12), else -1. */
static long long numeric_id(const json_t *id) {
    if (json_is_integer(id)) return json_integer_value(id);
    const char *t = json_string_value(id);
    if (!t || !*t || strlen(t) > 15 || (t[0] == '0' && t[1])) return -1;
    for (const char *p = t; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    return atoll(t);
}

static void patch_link_end(json_t *link, const char *key, size_t index, const json_t *remap) {
    json_t *end = json_is_array(link) ? json_array_get(link, index) : json_object_get(link, key);
    char k[UI_ID_MAX];
    if (!id_string(end, k)) return;
    json_t *to = json_object_get(remap, k);
    if (!to) return;
    if (json_is_array(link))
        json_array_set(link, index, to);
    else
        json_object_set(link, key, to);
}

static void patch_proxy_widgets(json_t *nodes, const json_t *remaps) {
    size_t i, k;
    json_t *n, *e;
    json_array_foreach(nodes, i, n) {
        const json_t *remap = json_object_get(remaps, json_string_value(json_object_get(n, "type")) ?: "");
        json_t *proxies = json_object_get(json_object_get(n, "properties"), "proxyWidgets");
        if (!remap) continue;
        json_array_foreach(proxies, k, e) {
            const json_t *to = json_object_get(remap, json_string_value(json_array_get(e, 0)) ?: "");
            char buf[UI_ID_MAX];
            if (to && id_string(to, buf)) json_array_set_new(e, 0, json_string(buf));
        }
    }
}

static bool remap_definition(json_t *def, id_set *used, long long *last, json_t *remap) {
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(def, "nodes"), i, n) {
        char key[UI_ID_MAX];
        if (!id_string(json_object_get(n, "id"), key)) continue;
        if (!set_has(used, key)) {
            long long v = numeric_id(json_object_get(n, "id"));
            if (v > *last) *last = v;
            if (!set_add(used, key)) return false;
            continue;
        }
        char fresh[UI_ID_MAX];
        do snprintf(fresh, sizeof fresh, "%lld", ++*last);
        while (set_has(used, fresh) && *last < MAX_NODE_ID);
        json_t *id = json_integer(*last);
        if (!id || !set_add(used, fresh) || json_object_set(remap, key, id) != 0 ||
            json_object_set_new(n, "id", id) != 0)
            return false;
    }
    json_t *l;
    json_array_foreach(json_object_get(def, "links"), i, l) {
        patch_link_end(l, "origin_id", 1, remap);
        patch_link_end(l, "target_id", 3, remap);
    }
    return true;
}

/* NULL with *copy NULL when no id collides; else a patched deep copy of the workflow. */
static fg_error *dedup_definitions(const ui_doc *doc, const json_t *ui, json_t **copy) {
    *copy = NULL;
    const json_t *subgraphs = json_object_get(json_object_get(ui, "definitions"), "subgraphs");
    if (!json_is_array(subgraphs) || json_array_size(subgraphs) == 0) return NULL;
    json_t *work = json_deep_copy(ui), *remaps = json_object();
    id_set used = {0};
    bool ok = work && remaps;
    const json_t *state = json_object_get(ui, "state");
    long long last = json_is_integer(json_object_get(ui, "last_node_id"))
                         ? json_integer_value(json_object_get(ui, "last_node_id"))
                     : json_is_integer(json_object_get(state, "lastNodeId"))
                         ? json_integer_value(json_object_get(state, "lastNodeId"))
                         : 0;
    size_t i;
    json_t *n, *def;
    json_array_foreach(json_object_get(work, "nodes"), i, n) {
        char key[UI_ID_MAX];
        if (ok && json_is_integer(json_object_get(n, "id")) && id_string(json_object_get(n, "id"), key))
            ok = set_add(&used, key);
    }
    json_array_foreach(json_object_get(json_object_get(work, "definitions"), "subgraphs"), i, def) {
        json_t *remap = json_object();
        const char *sg_id = json_string_value(json_object_get(def, "id"));
        ok = ok && remap && remap_definition(def, &used, &last, remap);
        if (ok && sg_id && json_object_size(remap)) ok = json_object_set(remaps, sg_id, remap) == 0;
        json_decref(remap);
    }
    if (ok && json_object_size(remaps)) {
        patch_proxy_widgets(json_object_get(work, "nodes"), remaps);
        json_array_foreach(json_object_get(json_object_get(work, "definitions"), "subgraphs"), i, def)
            patch_proxy_widgets(json_object_get(def, "nodes"), remaps);
    }
    set_free(&used);
    if (ok && json_object_size(remaps)) *copy = json_incref(work);
    json_decref(work);
    json_decref(remaps);
    return ok ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: renumbering subgraph nodes", doc->label);
}

fg_error *ui_doc_open(const json_t *ui, const char *label, ui_doc *doc) {
    memset(doc, 0, sizeof *doc);
    doc->label = label;
    FG_TRY(dedup_definitions(doc, ui, &doc->renumbered));
    if (doc->renumbered) ui = doc->renumbered;
    if (ui_has_group_nodes(ui)) {
        if (!doc->renumbered && !(doc->renumbered = json_deep_copy(ui)))
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
        ui = doc->renumbered;
        FG_TRY(ui_expand_group_nodes(doc->renumbered, label));
    }
    doc->root.obj = ui;
    FG_TRY(open_definitions(ui, doc));
    FG_TRY(index_graph(doc, &doc->root));
    FG_TRY(lay_out_nodes(doc, &doc->root));
    for (size_t i = 0; i < doc->n_defs; i++) FG_TRY(lay_out_nodes(doc, &doc->defs[i]));
    FG_TRY(apply_primitives(doc, &doc->root));
    for (size_t i = 0; i < doc->n_defs; i++) FG_TRY(apply_primitives(doc, &doc->defs[i]));
    return NULL;
}

static void free_graph(ui_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ui_node *n = &g->nodes[i];
        for (size_t k = 0; n->values && n->layout && k < n->layout->n_widgets; k++) json_decref(n->values[k]);
        for (size_t k = 0; n->promoted && k < n->sub->n_inputs; k++) json_decref(n->promoted[k]);
        free(n->values), free(n->ins), free(n->out_types), free(n->promoted), free(n->has_promoted);
        json_decref(n->overrides);
    }
    free(g->nodes), free(g->in_file_order), free(g->links), free(g->inputs), free(g->outputs);
}

void ui_doc_close(ui_doc *doc) {
    free_graph(&doc->root);
    for (size_t i = 0; i < doc->n_defs; i++) free_graph(&doc->defs[i]);
    free(doc->defs);
    while (doc->layouts) {
        struct layout_cache *c = doc->layouts;
        doc->layouts = c->next;
        free(c->type), free(c->layout), free(c);
    }
    json_decref(doc->renumbered);
}
