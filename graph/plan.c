/* Planning: backward reachability from the output nodes, a depth-first post-order (every
 * source before its consumers) with explicit cycle detection, and input signatures. */
#include "graph/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/image.h"
#include "graph/workflow.h"

bool fg_plan_link(const json_t *v, char *src, size_t cap, int *slot) {
    if (!json_is_array(v) || json_array_size(v) != 2) return false;
    const json_t *id = json_array_get(v, 0), *s = json_array_get(v, 1);
    if (json_is_string(id)) snprintf(src, cap, "%s", json_string_value(id));
    else if (json_is_integer(id)) snprintf(src, cap, "%lld", (long long)json_integer_value(id));
    else return false;
    if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) >= FG_NODE_MAX_OUTPUTS) return false;
    *slot = (int)json_integer_value(s);
    return true;
}

typedef struct graph_scan {
    size_t n;
    const char **ids;
    json_t *index;     /* id -> prompt index */
    size_t **deps;     /* per prompt node: source prompt indices */
    size_t *ndeps;
    unsigned char *color; /* 0 new, 1 on the DFS stack, 2 done */
} graph_scan;

static void scan_free(graph_scan *g) {
    for (size_t i = 0; i < g->n && g->deps; i++) free(g->deps[i]);
    free(g->deps);
    free(g->ndeps);
    free(g->ids);
    free(g->color);
    json_decref(g->index);
}

static fg_error *scan_deps(graph_scan *g, const json_t *prompt, size_t i) {
    const json_t *inputs = json_object_get(json_object_get(prompt, g->ids[i]), "inputs");
    size_t cap = json_object_size(inputs);
    g->deps[i] = cap ? calloc(cap, sizeof(size_t)) : NULL;
    if (cap && !g->deps[i]) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)inputs, name, v) {
        char src[128];
        int slot;
        if (!fg_plan_link(v, src, sizeof src, &slot)) continue;
        json_t *at = json_object_get(g->index, src);
        if (!at) return fg_errorf(FG_ERR_FORMAT, "node %s input '%s' links to missing node %s", g->ids[i], name, src);
        g->deps[i][g->ndeps[i]++] = (size_t)json_integer_value(at);
    }
    return NULL;
}

static fg_error *scan_init(graph_scan *g, const json_t *prompt) {
    memset(g, 0, sizeof *g);
    g->n = json_object_size(prompt);
    g->ids = calloc(g->n + 1, sizeof *g->ids);
    g->deps = calloc(g->n + 1, sizeof *g->deps);
    g->ndeps = calloc(g->n + 1, sizeof *g->ndeps);
    g->color = calloc(g->n + 1, 1);
    g->index = json_object();
    if (!g->ids || !g->deps || !g->ndeps || !g->color || !g->index) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    size_t i = 0;
    const char *key;
    json_t *node;
    json_object_foreach((json_t *)prompt, key, node) {
        g->ids[i] = key;
        if (json_object_set_new(g->index, key, json_integer((json_int_t)i)) != 0)
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
        i++;
    }
    for (i = 0; i < g->n; i++) FG_TRY(scan_deps(g, prompt, i));
    return NULL;
}

static const char *class_of(const json_t *prompt, const char *id) {
    const char *c = json_string_value(json_object_get(json_object_get(prompt, id), "class_type"));
    return c ? c : "?";
}

/* Iterative depth-first search (hostile prompts may chain thousands of nodes). */
static fg_error *visit(graph_scan *g, const json_t *prompt, size_t root, size_t *order, size_t *norder) {
    if (g->color[root] == 2) return NULL;
    size_t *stack = malloc(g->n * sizeof *stack), *pos = calloc(g->n, sizeof *pos);
    if (!stack || !pos) {
        free(stack);
        free(pos);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    }
    fg_error *err = NULL;
    size_t top = 0;
    stack[top++] = root;
    g->color[root] = 1;
    while (top > 0 && !err) {
        size_t cur = stack[top - 1];
        if (pos[cur] < g->ndeps[cur]) {
            size_t next = g->deps[cur][pos[cur]++];
            if (g->color[next] == 1)
                err = fg_errorf(FG_ERR_FORMAT, "node %s (%s): dependency cycle detected", g->ids[next],
                                class_of(prompt, g->ids[next]));
            else if (g->color[next] == 0) {
                g->color[next] = 1;
                stack[top++] = next;
            }
        } else {
            g->color[cur] = 2;
            order[(*norder)++] = cur;
            top--;
        }
    }
    free(stack);
    free(pos);
    return err;
}

static fg_error *plan_fill(graph_scan *g, const json_t *prompt, const size_t *order, size_t norder, fg_plan *out) {
    size_t total_deps = 0;
    for (size_t k = 0; k < norder; k++) total_deps += g->ndeps[order[k]];
    out->nodes = calloc(norder + 1, sizeof *out->nodes);
    out->deps = calloc(total_deps + 1, sizeof *out->deps);
    if (!out->nodes || !out->deps) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    size_t *plan_index = malloc((g->n + 1) * sizeof *plan_index);
    if (!plan_index) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    for (size_t k = 0; k < norder; k++) plan_index[order[k]] = k;
    for (size_t k = 0; k < norder; k++) {
        size_t i = order[k];
        fg_plan_node *pn = &out->nodes[k];
        const json_t *node = json_object_get(prompt, g->ids[i]);
        pn->id = g->ids[i];
        pn->class_type = class_of(prompt, g->ids[i]);
        pn->spec = fg_node_find(pn->class_type);
        pn->inputs = json_object_get(node, "inputs");
        pn->deps_start = out->deps_len;
        pn->deps_count = g->ndeps[i];
        for (size_t d = 0; d < g->ndeps[i]; d++) out->deps[out->deps_len++] = plan_index[g->deps[i][d]];
        if (!pn->spec) {
            free(plan_index);
            return fg_errorf(FG_ERR_FORMAT, "node %s (%s): unknown node class", pn->id, pn->class_type);
        }
    }
    free(plan_index);
    out->count = norder;
    if (!(out->index = json_object())) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    for (size_t k = 0; k < norder; k++)
        if (json_object_set_new(out->index, out->nodes[k].id, json_integer((json_int_t)k)) != 0)
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    return NULL;
}

fg_error *fg_plan_build(const json_t *prompt, const json_t *outputs, fg_plan *out) {
    FG_CHECK_ARG(prompt && out && json_is_object(prompt), "fg_plan_build: bad argument");
    memset(out, 0, sizeof *out);
    graph_scan g;
    size_t *order = NULL, norder = 0;
    fg_error *err = scan_init(&g, prompt);
    if (!err && !(order = malloc((g.n + 1) * sizeof *order))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "planning");
    for (size_t k = 0; !err && k < json_array_size(outputs); k++) {
        json_t *at = json_object_get(g.index, json_string_value(json_array_get(outputs, k)) ?: "");
        if (!at) err = fg_errorf(FG_ERR_FORMAT, "output node %s is not in the prompt",
                                 json_string_value(json_array_get(outputs, k)) ?: "?");
        else err = visit(&g, prompt, (size_t)json_integer_value(at), order, &norder);
    }
    if (!err) err = plan_fill(&g, prompt, order, norder, out);
    free(order);
    scan_free(&g);
    if (err) fg_plan_free(out);
    return err;
}

size_t fg_plan_find(const fg_plan *plan, const char *id) {
    json_t *at = id ? json_object_get(plan->index, id) : NULL;
    return at ? (size_t)json_integer_value(at) : (size_t)-1;
}

void fg_plan_free(fg_plan *plan) {
    if (!plan) return;
    free(plan->nodes);
    free(plan->deps);
    json_decref(plan->index);
    memset(plan, 0, sizeof *plan);
}

/* ---- signatures --------------------------------------------------------------------- */

/* Two independent 64-bit streams (FNV-1a and a multiply-xorshift) give a 128-bit key. */
typedef struct sig_hash {
    uint64_t a, b;
} sig_hash;

static void hash_bytes(sig_hash *h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ p[i]) * 0x9E3779B97F4A7C15ULL;
        h->b ^= h->b >> 29;
    }
}

static void hash_str(sig_hash *h, const char *s) {
    hash_bytes(h, s, strlen(s) + 1); /* the NUL separates fields */
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* LoadImage's IS_CHANGED: the file's bytes take part in the key, so an edited image re-runs. */
static void hash_input_file(sig_hash *h, const fg_plan_node *pn, const fg_run_settings *settings) {
    if (strcmp(pn->class_type, "LoadImage") != 0 || !settings || !settings->input_dir) return;
    const char *name = json_string_value(json_object_get(pn->inputs, "image"));
    char path[4096];
    uint8_t *data = NULL;
    size_t size = 0;
    fg_error *err = name ? fg_node_resolve_model(settings, FG_COMBO_INPUT_IMAGES, name, path, sizeof path)
                         : fg_errorf(FG_ERR_NOT_FOUND, "no image");
    if (!err) err = fg_image_load_file(path, &data, &size);
    if (err) hash_str(h, "unreadable"); /* the node itself reports the error */
    else hash_bytes(h, data, size);
    fg_error_free(err);
    free(data);
}

/* A model file's identity (device, inode, size, modification time) takes part in its loader's
 * key: the weights are used straight from a mapping of the file, so a checkpoint rewritten
 * during a batch must be loaded again rather than read through the stale mapping. */
static void hash_model_files(sig_hash *h, const fg_plan_node *pn, const fg_run_settings *settings) {
    if (!settings || !settings->models_dir) return;
    for (int i = 0; i < pn->spec->n_inputs; i++) {
        const fg_input_spec *in = &pn->spec->inputs[i];
        if (in->type != FG_TYPE_COMBO || in->source == FG_COMBO_FIXED || in->source == FG_COMBO_INPUT_IMAGES) continue;
        const char *name = json_string_value(json_object_get(pn->inputs, in->name));
        char path[4096];
        struct stat st;
        fg_error *err = name ? fg_node_resolve_model(settings, in->source, name, path, sizeof path) : NULL;
        if (name && !err && stat(path, &st) == 0) {
            const int64_t id[6] = {(int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size,
                                   (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec,
                                   (int64_t)st.st_ctim.tv_nsec};
            hash_bytes(h, id, sizeof id);
        }
        fg_error_free(err); /* the loader itself reports a missing file */
    }
}

static fg_error *node_signature(fg_plan *plan, size_t k, const fg_run_settings *settings) {
    fg_plan_node *pn = &plan->nodes[k];
    sig_hash h = {0xcbf29ce484222325ULL, 0x243F6A8885A308D3ULL};
    hash_str(&h, pn->class_type);
    if (pn->spec->not_idempotent) hash_str(&h, pn->id);
    size_t n = json_object_size(pn->inputs);
    const char **names = calloc(n + 1, sizeof *names);
    if (!names) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "signatures");
    size_t i = 0;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)pn->inputs, name, v) names[i++] = name;
    qsort(names, n, sizeof *names, cmp_str);
    fg_error *err = NULL;
    for (i = 0; i < n && !err; i++) {
        const json_t *val = json_object_get(pn->inputs, names[i]);
        char src[128];
        int slot;
        hash_str(&h, names[i]);
        if (fg_plan_link(val, src, sizeof src, &slot)) {
            size_t at = fg_plan_find(plan, src);
            if (at >= k) {
                err = fg_errorf(FG_ERR_FORMAT, "node %s: source %s is not planned before it", pn->id, src);
                break;
            }
            hash_str(&h, "link");
            hash_str(&h, plan->nodes[at].sig);
            hash_bytes(&h, &slot, sizeof slot);
        } else {
            char *text = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            if (!text) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "signatures");
            else hash_str(&h, text);
            free(text);
        }
    }
    free(names);
    hash_input_file(&h, pn, settings);
    hash_model_files(&h, pn, settings);
    snprintf(pn->sig, sizeof pn->sig, "%016llx%016llx", (unsigned long long)h.a, (unsigned long long)h.b);
    return err;
}

fg_error *fg_plan_signatures(fg_plan *plan, const fg_run_settings *settings) {
    FG_CHECK_ARG(plan, "fg_plan_signatures: NULL plan");
    for (size_t k = 0; k < plan->count; k++) FG_TRY(node_signature(plan, k, settings));
    return NULL;
}
