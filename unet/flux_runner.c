/* The step runner (see flux_runner.h). One entry per input shape seen (a CFG run alternates
 * two when the negative prompt has another length); each owns, in a scope of its own, its
 * input/output buffers, the RoPE tables of its shape and the time tables, and, once recorded,
 * its graph. */
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
    fg_scope buffers;                 /* holds every tensor below for the entry's lifetime */
    fg_tensor *x, *context, *y, *out; /* F32 on the model's device */
    flux_tables tables;               /* time tables refreshed per call; RoPE fixed */
    fg_graph *graph;
} runner_entry;

struct fg_flux_runner {
    const fg_flux_model *model;
    bool graphs_off; /* disabled, unsupported by the backend, or a capture failed */
    int replays;
    int next_victim;
    size_t activation_peak; /* of the last forward run eagerly (a replay repeats it) */
    runner_entry entries[RUNNER_ENTRIES];
};

static void entry_free(runner_entry *e) {
    fg_graph_free(e->graph);
    fg_scope_end(&e->buffers);
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

size_t fg_flux_runner_activation_peak(const fg_flux_runner *r) { return r ? r->activation_peak : 0; }

static bool entry_matches(const runner_entry *e, const fg_flux_inputs *in) {
    return e->used && memcmp(e->x_shape, in->x->shape, sizeof e->x_shape) == 0 &&
           memcmp(e->ctx_shape, in->context->shape, sizeof e->ctx_shape) == 0 &&
           memcmp(e->y_shape, in->y->shape, sizeof e->y_shape) == 0 && e->has_guidance == (in->guidance != NULL);
}

/* The entry's buffers and RoPE tables (the model keeps no tables: an entry and its graph own
 * the ones of its shape). */
static fg_error *entry_buffers(const fg_flux_model *m, const fg_flux_inputs *in, runner_entry *e) {
    const fg_device dev = m->device;
    const int64_t h2 = (in->x->shape[2] + 1) / 2, w2 = (in->x->shape[3] + 1) / 2;
    FG_TRY(fg_scope_alloc(&e->buffers, dev, FG_F32, 4, in->x->shape, &e->x));
    FG_TRY(fg_scope_alloc(&e->buffers, dev, FG_F32, 3, in->context->shape, &e->context));
    FG_TRY(fg_scope_alloc(&e->buffers, dev, FG_F32, 2, in->y->shape, &e->y));
    FG_TRY(fg_scope_alloc(&e->buffers, dev, FG_F32, 4, in->x->shape, &e->out));
    return flux_rope_tables(m, &e->buffers, in->context->shape[1], h2, w2, &e->tables.cos, &e->tables.sin);
}

static fg_error *entry_init(const fg_flux_model *m, const fg_flux_inputs *in, runner_entry *e) {
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->x_shape, in->x->shape, sizeof e->x_shape);
    memcpy(e->ctx_shape, in->context->shape, sizeof e->ctx_shape);
    memcpy(e->y_shape, in->y->shape, sizeof e->y_shape);
    e->has_guidance = in->guidance != NULL;
    e->buffers = fg_scope_open(NULL);
    fg_error *err = entry_buffers(m, in, e);
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

/* This call's time tables (from fresh) copied into the entry's fixed ones. */
static fg_error *copy_time_tables(const fg_flux_model *m, fg_scope *fresh, const fg_flux_inputs *in,
                                  const flux_tables *fixed) {
    fg_tensor *t_table, *g_table;
    FG_TRY(flux_time_tables(m, fresh, in, &t_table, &g_table));
    FG_TRY(fg_tensor_copy(fixed->t_table, t_table));
    if (g_table) FG_TRY(fg_tensor_copy(fixed->g_table, g_table));
    return NULL;
}

/* Copies the call's inputs into the entry's buffers and refreshes its time tables (the
 * tensors a recorded graph reads). */
static fg_error *load_inputs(const fg_flux_model *m, const fg_flux_inputs *in, runner_entry *e) {
    FG_TRY(fg_tensor_copy(e->x, in->x));
    FG_TRY(fg_tensor_copy(e->context, in->context));
    FG_TRY(fg_tensor_copy(e->y, in->y));
    /* The first call's tables become the fixed buffers. */
    if (!e->tables.t_table) return flux_time_tables(m, &e->buffers, in, &e->tables.t_table, &e->tables.g_table);
    FG_SCOPED(NULL, fresh, copy_time_tables(m, &fresh, in, &e->tables));
    return NULL;
}

/* The forward's device work in a scope of its own, whose peak is the forward's activations. */
static fg_error *run_device_part(fg_flux_runner *r, runner_entry *e) {
    const fg_flux_inputs pin = {.x = e->x, .context = e->context, .y = e->y};
    fg_scope step = fg_scope_open(NULL);
    fg_error *err = flux_forward_prepared(r->model, &step, &pin, &e->tables, e->out, NULL);
    fg_scope_end(&step);
    r->activation_peak = fg_scope_peak_bytes(&step);
    return err;
}

/* The first forward of each shape reports its activations' peak beside the bound the memory
 * check before sampling uses (fg_flux_activation_bytes). */
static void log_activation_peak(const fg_flux_runner *r, const runner_entry *e) {
    const int64_t b = e->x_shape[0], lt = e->ctx_shape[1];
    const int64_t li = ((e->x_shape[2] + 1) / 2) * ((e->x_shape[3] + 1) / 2);
    const double mib = (double)(1 << 20);
    const size_t bound = fg_flux_activation_bytes(&r->model->p, b, li, lt, r->model->act_dtype);
    FG_LOG_D("flux runner: batch %lld, %lld image + %lld text tokens: activations peaked at %.1f MiB (bound %.1f MiB)",
             (long long)b, (long long)li, (long long)lt, (double)r->activation_peak / mib, (double)bound / mib);
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
    fg_error *run_err = run_device_part(r, e);
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
        err = run_device_part(r, e);
        if (!err && e->calls == 0) log_activation_peak(r, e);
    }
    if (!err) err = fg_tensor_copy(out, e->out);
    e->calls++;
    return fg_error_wrapf(err, "flux forward");
}
