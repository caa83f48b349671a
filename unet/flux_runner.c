/* The step runner (see flux_runner.h). One entry per input shape seen (a CFG run alternates
 * two when the negative prompt has another length); each owns its input/output buffers, the
 * RoPE tables of its shape and, once recorded, its graph. */
#include "unet/flux_runner.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "unet/flux_internal.h"

enum { RUNNER_ENTRIES = 2 };

typedef struct runner_entry {
    bool used;
    int64_t x_shape[4], ctx_shape[3], y_shape[2];
    bool has_guidance;
    int calls;
    fg_tensor x, context, y, out; /* F32 on the model's device */
    flux_tables tables;           /* time tables refreshed per call; RoPE fixed */
    fg_graph *graph;
} runner_entry;

struct fg_flux_runner {
    const fg_flux_model *model;
    bool graphs_off; /* disabled, unsupported by the backend, or a capture failed */
    int replays;
    int next_victim;
    runner_entry entries[RUNNER_ENTRIES];
};

static void entry_free(runner_entry *e) {
    fg_graph_free(e->graph);
    fg_tensor *all[] = {&e->x, &e->context, &e->y, &e->out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
    flux_tables_free(&e->tables);
    memset(e, 0, sizeof *e);
}

fg_error *fg_flux_runner_new(const fg_flux_model *m, fg_flux_runner **out) {
    FG_CHECK_ARG(m && out, "flux runner: NULL argument");
    fg_flux_runner *r = calloc(1, sizeof *r);
    if (!r) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "flux runner");
    r->model = m;
    const char *env = getenv("FG_CUDA_GRAPHS");
    r->graphs_off = env && strcmp(env, "0") == 0;
    *out = r;
    return NULL;
}

void fg_flux_runner_free(fg_flux_runner *r) {
    if (!r) return;
    for (int i = 0; i < RUNNER_ENTRIES; i++) entry_free(&r->entries[i]);
    free(r);
}

int fg_flux_runner_replays(const fg_flux_runner *r) { return r ? r->replays : 0; }

static bool entry_matches(const runner_entry *e, const fg_flux_inputs *in) {
    return e->used && memcmp(e->x_shape, in->x->shape, sizeof e->x_shape) == 0 &&
           memcmp(e->ctx_shape, in->context->shape, sizeof e->ctx_shape) == 0 &&
           memcmp(e->y_shape, in->y->shape, sizeof e->y_shape) == 0 && e->has_guidance == (in->guidance != NULL);
}

static fg_error *entry_init(const fg_flux_model *m, const fg_flux_inputs *in, runner_entry *e) {
    const fg_device dev = m->device;
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->x_shape, in->x->shape, sizeof e->x_shape);
    memcpy(e->ctx_shape, in->context->shape, sizeof e->ctx_shape);
    memcpy(e->y_shape, in->y->shape, sizeof e->y_shape);
    e->has_guidance = in->guidance != NULL;
    const int64_t h2 = (in->x->shape[2] + 1) / 2, w2 = (in->x->shape[3] + 1) / 2;
    fg_error *err = fg_tensor_alloc(&e->x, dev, FG_F32, 4, in->x->shape);
    if (!err) err = fg_tensor_alloc(&e->context, dev, FG_F32, 3, in->context->shape);
    if (!err) err = fg_tensor_alloc(&e->y, dev, FG_F32, 2, in->y->shape);
    if (!err) err = fg_tensor_alloc(&e->out, dev, FG_F32, 4, in->x->shape);
    /* The model's RoPE tables are a cache that follows the last shape; an entry (and its
     * graph) needs its own. */
    fg_tensor cos_view = {0}, sin_view = {0};
    if (!err) err = flux_rope_tables(m, in->context->shape[1], h2, w2, &cos_view, &sin_view);
    if (!err) err = flux_clone(m, &cos_view, &e->tables.cos);
    if (!err) err = flux_clone(m, &sin_view, &e->tables.sin);
    if (err) entry_free(e);
    return err;
}

static fg_error *find_entry(fg_flux_runner *r, const fg_flux_inputs *in, runner_entry **out) {
    for (int i = 0; i < RUNNER_ENTRIES; i++)
        if (entry_matches(&r->entries[i], in)) {
            *out = &r->entries[i];
            return NULL;
        }
    runner_entry *e = NULL;
    for (int i = 0; i < RUNNER_ENTRIES && !e; i++)
        if (!r->entries[i].used) e = &r->entries[i];
    if (!e) { /* a third shape: drop the oldest */
        e = &r->entries[r->next_victim];
        r->next_victim = (r->next_victim + 1) % RUNNER_ENTRIES;
        entry_free(e);
    }
    FG_TRY(entry_init(r->model, in, e));
    *out = e;
    return NULL;
}

/* Copies the call's inputs into the entry's buffers and refreshes its time tables (the
 * tensors a recorded graph reads). */
static fg_error *load_inputs(const fg_flux_model *m, const fg_flux_inputs *in, runner_entry *e) {
    FG_TRY(fg_tensor_copy(&e->x, in->x));
    FG_TRY(fg_tensor_copy(&e->context, in->context));
    FG_TRY(fg_tensor_copy(&e->y, in->y));
    fg_tensor t_table, g_table;
    FG_TRY(flux_time_tables(m, in, &t_table, &g_table));
    fg_error *err = NULL;
    if (!e->tables.t_table.data) {
        e->tables.t_table = t_table; /* the first call's tables become the fixed buffers */
        e->tables.g_table = g_table;
        return NULL;
    }
    err = fg_tensor_copy(&e->tables.t_table, &t_table);
    if (!err && g_table.data) err = fg_tensor_copy(&e->tables.g_table, &g_table);
    fg_tensor_free(&t_table);
    fg_tensor_free(&g_table);
    return err;
}

static fg_error *run_device_part(const fg_flux_model *m, runner_entry *e) {
    const fg_flux_inputs pin = {.x = &e->x, .context = &e->context, .y = &e->y};
    return flux_forward_prepared(m, &pin, &e->tables, &e->out, NULL);
}

/* Records the device part; on any failure the capture is ended, graphs are given up for this
 * runner and the caller runs eagerly. */
static void try_capture(fg_flux_runner *r, runner_entry *e) {
    fg_error *err = fg_graph_capture_begin(r->model->device);
    if (err) {
        if (fg_error_code_of(err) != FG_ERR_UNSUPPORTED) FG_LOG_W("flux runner: no graph: %s", fg_error_message(err));
        fg_error_free(err);
        r->graphs_off = true;
        return;
    }
    fg_error *run_err = run_device_part(r->model, e);
    fg_graph *g = NULL;
    err = fg_graph_capture_end(r->model->device, &g);
    if (run_err || err) {
        fg_error *shown = run_err ? run_err : err;
        FG_LOG_W("flux runner: recording the step failed, running eagerly: %s", fg_error_message(shown));
        fg_error_free(run_err);
        fg_error_free(err);
        fg_graph_free(g);
        r->graphs_off = true;
        return;
    }
    e->graph = g;
}

fg_error *fg_flux_runner_forward(fg_flux_runner *r, const fg_flux_inputs *in, fg_tensor *out) {
    FG_CHECK_ARG(r && in && out, "flux runner: NULL argument");
    const fg_flux_model *m = r->model;
    FG_TRY(flux_check_inputs(m, in, out, true));
    runner_entry *e = NULL;
    FG_TRY(find_entry(r, in, &e));
    fg_error *err = load_inputs(m, in, e);
    if (!err && !e->graph && !r->graphs_off && e->calls >= 1) try_capture(r, e);
    if (!err && e->graph) {
        err = fg_graph_launch(e->graph);
        if (!err) r->replays++;
    } else if (!err) {
        err = run_device_part(m, e);
    }
    if (!err) err = fg_tensor_copy(out, &e->out);
    e->calls++;
    return fg_error_wrapf(err, "flux forward");
}
