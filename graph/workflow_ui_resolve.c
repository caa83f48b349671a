/* Where an input of a flattened node gets its value (docs/ui_workflow_conversion.md §2-3):
 * through subgraph boundaries (instance inputs and outputs), around bypassed nodes, through
 * legacy Reroutes, to nothing for muted sources; and the promoted widget values of subgraph
 * instances (§2.8-2.10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph/workflow_ui_internal.h"

#define MAX_HOPS 4096

void ui_scope_child(const ui_scope *parent, ui_node *instance, ui_scope *child) {
    child->g = instance->sub;
    child->parent = parent;
    child->instance = instance;
    child->depth = parent->depth + 1;
    if (snprintf(child->path, sizeof child->path, "%s%s:", parent->path, instance->id) >= (int)sizeof child->path)
        child->path[0] = 0; /* unreachable: depth is capped */
}

/* ---- promoted widgets ------------------------------------------------------------------- */

static int def_input_named(const ui_graph *d, const char *name) {
    for (size_t i = 0; name && i < d->n_inputs; i++)
        if (strcmp(d->inputs[i].name, name) == 0) return (int)i;
    return -1;
}

/* §2.8: the first inner input linked from definition input i that feeds a widget (directly,
 * or through a nested instance's own promoted input) gives the initial value. */
static fg_error *initial_promoted(ui_doc *doc, ui_node *inst, size_t i, int depth) {
    const ui_graph *d = inst->sub;
    size_t k;
    const json_t *lid;
    json_array_foreach(d->inputs[i].link_ids, k, lid) {
        const ui_link *l = json_is_integer(lid) ? ui_find_link(d, json_integer_value(lid)) : NULL;
        ui_node *t = l ? ui_find_node(d, l->to) : NULL;
        const json_t *slot =
            t && l->to_slot >= 0 ? json_array_get(json_object_get(t->obj, "inputs"), (size_t)l->to_slot) : NULL;
        if (!slot) continue;
        const json_t *v = NULL;
        if (t->sub) {
            FG_TRY(ui_instance_promoted(doc, t, depth + 1));
            int j = def_input_named(t->sub, json_string_value(json_object_get(slot, "name")));
            if (j < 0 || !t->has_promoted[j]) continue;
            v = t->promoted[j];
        } else {
            const char *w = json_string_value(json_object_get(json_object_get(slot, "widget"), "name"));
            int wi = ui_widget_index(t, w);
            if (wi < 0) continue;
            v = t->values[wi];
        }
        inst->has_promoted[i] = true;
        inst->promoted[i] = v ? json_deep_copy(v) : NULL;
        return NULL;
    }
    return NULL;
}

static void set_promoted(ui_node *inst, int i, const json_t *v) {
    if (i < 0 || !inst->has_promoted[i] || !v) return;
    json_decref(inst->promoted[i]);
    inst->promoted[i] = json_deep_copy(v);
}

/* §2.9: the instance's widgets_values, one per input that has a promoted widget; a
 * quarantined ["-1", NAME] entry's hostValue wins. */
static void apply_instance_values(ui_node *inst) {
    const json_t *wv = json_object_get(inst->obj, "widgets_values");
    size_t n = 0;
    for (size_t i = 0; i < inst->sub->n_inputs; i++) {
        if (!inst->has_promoted[i]) continue;
        if (json_is_array(wv) && n < json_array_size(wv)) set_promoted(inst, (int)i, json_array_get(wv, n));
        n++;
    }
    const json_t *q = json_object_get(json_object_get(inst->obj, "properties"), "proxyWidgetErrorQuarantine"), *e;
    bool done[FG_COMFY_MAX_SLOTS] = {0};
    size_t k;
    json_array_foreach(q, k, e) {
        const json_t *orig = json_object_get(e, "originalEntry"), *host = json_object_get(e, "hostValue");
        const char *src = json_string_value(json_array_get(orig, 0));
        int i = def_input_named(inst->sub, json_string_value(json_array_get(orig, 1)));
        if (!src || strcmp(src, "-1") != 0 || !host || i < 0 || i >= FG_COMFY_MAX_SLOTS || done[i]) continue;
        set_promoted(inst, i, host);
        done[i] = true;
    }
}

/* §2.10: legacy properties.proxyWidgets [innerId, widget]: entry i takes widgets_values[i];
 * a widget already fed by a subgraph input sets that input, any other the inner widget of
 * this instance only (the frontend adds an input for it). */
static fg_error *apply_proxy_widgets(ui_doc *doc, ui_node *inst) {
    const json_t *proxies = json_object_get(json_object_get(inst->obj, "properties"), "proxyWidgets");
    const json_t *wv = json_object_get(inst->obj, "widgets_values"), *e;
    json_t *parsed = NULL;
    if (json_is_string(proxies)) proxies = parsed = json_loads(json_string_value(proxies), 0, NULL);
    size_t i;
    json_array_foreach(proxies, i, e) {
        const char *inner = json_string_value(json_array_get(e, 0)), *widget = json_string_value(json_array_get(e, 1));
        const json_t *v = json_is_array(wv) ? json_array_get(wv, i) : NULL;
        if (!inner || !widget || !v) continue;
        if (strcmp(inner, "-1") == 0) {
            set_promoted(inst, def_input_named(inst->sub, widget), v);
            continue;
        }
        ui_node *t = ui_find_node(inst->sub, inner);
        if (!t || ui_widget_index(t, widget) < 0) continue;
        const ui_link *l = NULL;
        for (size_t k = 0; k < t->n_ins && !l; k++)
            if (t->ins[k].widget && strcmp(t->ins[k].widget, widget) == 0 && json_is_integer(t->ins[k].link))
                l = ui_find_link(inst->sub, json_integer_value(t->ins[k].link));
        if (l && strcmp(l->from, "-10") == 0) {
            set_promoted(inst, (int)l->from_slot < (int)inst->sub->n_inputs ? (int)l->from_slot : -1, v);
            continue;
        }
        if (!inst->overrides) inst->overrides = json_object();
        json_t *per = json_object_get(inst->overrides, inner);
        if (!per && inst->overrides) json_object_set_new(inst->overrides, inner, per = json_object());
        if (!per || json_object_set_new(per, widget, json_deep_copy(v)) != 0) {
            json_decref(parsed);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
        }
    }
    json_decref(parsed);
    return NULL;
}

fg_error *ui_instance_promoted(ui_doc *doc, ui_node *inst, int depth) {
    if (inst->promoted_state == 2) return NULL;
    if (inst->promoted_state == 1 || depth > UI_MAX_DEPTH)
        return fg_errorf(FG_ERR_FORMAT, "%s: subgraph '%s' contains itself (node %s)", doc->label, inst->sub->name,
                         inst->id);
    inst->promoted_state = 1;
    size_t n = inst->sub->n_inputs;
    inst->promoted = calloc(n ? n : 1, sizeof *inst->promoted);
    inst->has_promoted = calloc(n ? n : 1, sizeof *inst->has_promoted);
    if (!inst->promoted || !inst->has_promoted) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", doc->label);
    for (size_t i = 0; i < n; i++) FG_TRY(initial_promoted(doc, inst, i, depth));
    apply_instance_values(inst);
    FG_TRY(apply_proxy_widgets(doc, inst));
    inst->promoted_state = 2;
    return NULL;
}

/* ---- link resolution -------------------------------------------------------------------- */

static bool type_part_eq(const char *a, size_t na, const char *b, size_t nb) {
    return na == nb && strncasecmp(a, b, na) == 0;
}

/* LiteGraph's isValidConnection: "", "*" match anything; else equal ignoring case, or any
 * pair of comma-separated alternatives equal. */
static bool compatible(const char *a, const char *b) {
    if (!a || !b || !*a || !*b || strcmp(a, "*") == 0 || strcmp(b, "*") == 0) return true;
    if (strcasecmp(a, b) == 0) return true;
    if (!strchr(a, ',') && !strchr(b, ',')) return false;
    for (const char *p = a; *p;) {
        size_t np = strcspn(p, ",");
        for (const char *q = b; *q;) {
            size_t nq = strcspn(q, ",");
            if (type_part_eq(p, np, q, nq)) return true;
            q += nq + (q[nq] == ',');
        }
        p += np + (p[np] == ',');
    }
    return false;
}

/* §3.2: which input of a bypassed node stands in for its output k, for a consumer of type want. */
static int bypass_slot(const ui_node *o, long long k, const char *want) {
    size_t n = o->n_ins;
    const char *out_type = k >= 0 && (size_t)k < o->n_outs ? o->out_types[k] : "*";
    if (!want || !*want || strcmp(want, "*") == 0) return (size_t)k < n ? (int)k : n ? 0 : -1;
    if ((size_t)k < n && compatible(o->ins[k].type, out_type) && compatible(o->ins[k].type, want)) return (int)k;
    for (size_t i = 0; i < n; i++)
        if (o->ins[i].type && strcmp(o->ins[i].type, want) == 0) return (int)i;
    for (size_t i = 0; i < n; i++)
        if (compatible(o->ins[i].type, out_type) && compatible(o->ins[i].type, want)) return (int)i;
    return -1;
}

static fg_error *resolve_link(ui_doc *doc, const ui_scope *s, const ui_link *l, const char *want, int hops,
                              ui_origin *out);

static fg_error *resolve_output(ui_doc *doc, const ui_scope *s, ui_node *o, long long k, const char *want, int hops,
                                ui_origin *out) {
    if (o->mode == 2) return NULL;
    if (o->mode == 4) {
        int j = bypass_slot(o, k, want);
        return j < 0 ? NULL : ui_resolve_input(doc, s, o, (size_t)j, want, hops + 1, out);
    }
    if (o->sub) {
        if (s->depth + 1 > UI_MAX_DEPTH)
            return fg_errorf(FG_ERR_FORMAT, "%s: subgraphs nested deeper than %d (does '%s' contain itself?)",
                             doc->label, UI_MAX_DEPTH, o->sub->name);
        if (k >= (long long)o->sub->n_outputs) return NULL;
        const json_t *first = json_array_get(o->sub->outputs[k].link_ids, 0);
        const ui_link *l = json_is_integer(first) ? ui_find_link(o->sub, json_integer_value(first)) : NULL;
        if (!l) return NULL;
        ui_scope child;
        ui_scope_child(s, o, &child);
        return resolve_link(doc, &child, l, want, hops + 1, out);
    }
    if (strcmp(o->type, "PrimitiveNode") == 0) return NULL; /* its value is already in the widget */
    if (ui_is_virtual(o))
        return k < (long long)o->n_ins ? ui_resolve_input(doc, s, o, (size_t)k, want, hops + 1, out) : NULL;
    /* A core node's outputs are known: the frontend breaks on loading such a link. */
    if (o->layout && k >= (long long)o->n_outs)
        return fg_errorf(
            FG_ERR_FORMAT,
            "%s: a link comes from node %s%s (%s) output index %lld, which does not exist (the node has %zu outputs)",
            doc->label, s->path, o->id, o->type, k, o->n_outs);
    out->kind = UI_LINK;
    if (snprintf(out->node, sizeof out->node, "%s%s", s->path, o->id) >= (int)sizeof out->node) out->kind = UI_NONE;
    out->slot = k;
    return NULL;
}

static fg_error *resolve_link(ui_doc *doc, const ui_scope *s, const ui_link *l, const char *want, int hops,
                              ui_origin *out) {
    if (hops > MAX_HOPS)
        return fg_errorf(FG_ERR_FORMAT, "%s: a loop of Reroute, bypassed or subgraph links", doc->label);
    if (strcmp(l->from, "-10") == 0) {
        ui_node *inst = s->instance;
        if (!inst || l->from_slot >= (long long)inst->n_ins) return NULL;
        if (inst->ins[l->from_slot].link)
            return ui_resolve_input(doc, s->parent, inst, (size_t)l->from_slot, want, hops + 1, out);
        FG_TRY(ui_instance_promoted(doc, inst, s->depth));
        if (inst->has_promoted[l->from_slot] && inst->promoted[l->from_slot]) {
            out->kind = UI_VALUE;
            out->value = inst->promoted[l->from_slot];
        }
        return NULL;
    }
    ui_node *o = ui_find_node(s->g, l->from);
    /* The frontend cannot queue such a workflow either (InvalidLinkError). */
    if (!o)
        return fg_errorf(FG_ERR_FORMAT, "%s: link %lld (into node %s%s) comes from node %s%s, which does not exist",
                         doc->label, l->id, s->path, l->to, s->path, l->from);
    return resolve_output(doc, s, o, l->from_slot, want, hops, out);
}

fg_error *ui_resolve_input(ui_doc *doc, const ui_scope *s, ui_node *n, size_t slot, const char *want, int hops,
                           ui_origin *out) {
    out->kind = UI_NONE;
    const ui_input *in = &n->ins[slot];
    if (!in->link) return NULL;
    if (!json_is_integer(in->link))
        return fg_errorf(FG_ERR_FORMAT, "%s: node %s%s: a link id is not an integer", doc->label, s->path, n->id);
    const ui_link *l = ui_find_link(s->g, json_integer_value(in->link));
    if (!l) /* the frontend cannot queue such a workflow either (InvalidLinkError) */
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: node %s%s (%s) input '%s' refers to link %lld, which is not in the workflow", doc->label,
                         s->path, n->id, n->type, in->name, (long long)json_integer_value(in->link));
    return resolve_link(doc, s, l, want ? want : in->type, hops, out);
}
