/* The executor: validation, planning (graph/plan.c), a signature-keyed object cache that
 * lives as long as the executor (ComfyUI's classic cache: entries the latest prompt did not
 * use are dropped), ComfyUI-shaped events, and the conversion of JSON constants and links
 * into node input values. */
#include "graph/executor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "graph/plan.h"
#include "graph/validate.h"
#include "nodes/node_args.h"

typedef struct cache_entry {
    char sig[FG_SIG_LEN];
    fg_value out[FG_NODE_MAX_OUTPUTS];
    int n_out;
    json_t *ui;    /* UI result of an output node, or NULL */
    bool used;     /* by the latest prompt */
} cache_entry;

struct fg_executor {
    fg_run_settings settings;
    cache_entry *cache;
    size_t ncache, cap;
};

typedef struct run_state {
    fg_executor *ex;
    const char *prompt_id;
    fg_event_fn on_event;
    void *user;
    fg_plan plan;
    fg_value (*results)[FG_NODE_MAX_OUTPUTS];
    bool *done;
    char *prompt_json, *workflow_json;
} run_state;

fg_error *fg_executor_create(const fg_run_settings *settings, fg_executor **out) {
    FG_CHECK_ARG(settings && out, "fg_executor_create: NULL argument");
    fg_executor *ex = calloc(1, sizeof *ex);
    if (!ex) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating the executor");
    ex->settings = *settings;
    *out = ex;
    return NULL;
}

static void entry_clear(cache_entry *e) {
    for (int j = 0; j < e->n_out; j++) fg_value_clear(&e->out[j]);
    json_decref(e->ui);
    memset(e, 0, sizeof *e);
}

void fg_executor_free(fg_executor *ex) {
    if (!ex) return;
    for (size_t i = 0; i < ex->ncache; i++) entry_clear(&ex->cache[i]);
    free(ex->cache);
    free(ex);
}

static cache_entry *cache_find(fg_executor *ex, const char *sig) {
    for (size_t i = 0; i < ex->ncache; i++)
        if (strcmp(ex->cache[i].sig, sig) == 0) return &ex->cache[i];
    return NULL;
}

static fg_error *cache_store(fg_executor *ex, const char *sig, const fg_value *out, int n, const json_t *ui) {
    if (ex->ncache == ex->cap) {
        size_t cap = ex->cap ? ex->cap * 2 : 16;
        cache_entry *grown = realloc(ex->cache, cap * sizeof *grown);
        if (!grown) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "growing the result cache");
        ex->cache = grown;
        ex->cap = cap;
    }
    cache_entry *e = &ex->cache[ex->ncache];
    memset(e, 0, sizeof *e);
    snprintf(e->sig, sizeof e->sig, "%s", sig);
    for (int j = 0; j < n; j++) {
        fg_error *err = fg_value_copy(&out[j], &e->out[j]);
        e->n_out = j + 1;
        if (err) {
            entry_clear(e);
            return err;
        }
    }
    e->n_out = n;
    e->ui = ui ? json_deep_copy(ui) : NULL;
    e->used = true;
    ex->ncache++;
    return NULL;
}

static void cache_drop_unused(fg_executor *ex) {
    size_t kept = 0;
    for (size_t i = 0; i < ex->ncache; i++) {
        if (ex->cache[i].used) ex->cache[kept++] = ex->cache[i];
        else entry_clear(&ex->cache[i]);
    }
    ex->ncache = kept;
}

/* ---- events ------------------------------------------------------------------------- */

static void emit(run_state *st, fg_event ev) {
    if (!st->on_event) return;
    ev.prompt_id = st->prompt_id;
    st->on_event(st->user, &ev);
}

static void on_progress(void *user, const char *node_id, int64_t value, int64_t max) {
    run_state *st = user;
    size_t k = fg_plan_find(&st->plan, node_id);
    emit(st, (fg_event){.kind = FG_EVENT_PROGRESS, .node_id = node_id, .value = value, .max = max,
                        .class_type = k < st->plan.count ? st->plan.nodes[k].class_type : NULL});
}

/* ---- inputs ------------------------------------------------------------------------- */

static fg_error *gather_input(run_state *st, const fg_plan_node *pn, int i, fg_value *out) {
    const fg_input_spec *in = &pn->spec->inputs[i];
    const json_t *v = json_object_get(pn->inputs, in->name);
    *out = (fg_value){.type = FG_TYPE_NONE};
    if (!v) {
        if (in->optional) return NULL;
        return fg_errorf(FG_ERR_FORMAT, "required input '%s' is missing", in->name);
    }
    char src[128];
    int slot;
    if (fg_plan_link(v, src, sizeof src, &slot)) {
        size_t at = fg_plan_find(&st->plan, src);
        if (at >= st->plan.count || !st->done[at] || slot >= st->plan.nodes[at].spec->n_outputs)
            return fg_errorf(FG_ERR_FORMAT, "input '%s': link to node %s output %d has no value", in->name, src, slot);
        return fg_value_copy(&st->results[at][slot], out);
    }
    return fg_error_wrapf(fg_constant_value(in, v, out), "input '%s'", in->name);
}

/* ---- running one node --------------------------------------------------------------- */

static fg_error *check_outputs(const fg_node_spec *spec, const fg_value *outs) {
    for (int j = 0; j < spec->n_outputs; j++) {
        fg_type want = spec->outputs[j] == FG_TYPE_COMBO ? FG_TYPE_STRING : spec->outputs[j];
        if (outs[j].type != want)
            return fg_errorf(FG_ERR_FORMAT, "output %d: produced %s instead of %s", j, fg_type_name(outs[j].type),
                             fg_type_name(want));
    }
    return NULL;
}

static fg_error *call_node(run_state *st, size_t k, json_t **ui) {
    const fg_plan_node *pn = &st->plan.nodes[k];
    if (!pn->spec->execute) return fg_errorf(FG_ERR_UNSUPPORTED, "is not implemented yet");
    fg_value inputs[FG_NODE_MAX_INPUTS] = {0};
    fg_value *outs = st->results[k];
    fg_error *err = NULL;
    for (int i = 0; i < pn->spec->n_inputs && !err; i++) err = gather_input(st, pn, i, &inputs[i]);
    fg_node_ctx ctx = {.node_id = pn->id, .spec = pn->spec, .settings = &st->ex->settings,
                       .prompt_json = st->prompt_json, .workflow_json = st->workflow_json,
                       .progress = on_progress, .progress_user = st};
    fg_node_args args = {.spec = pn->spec, .values = inputs};
    if (!err) err = pn->spec->execute(&ctx, &args, outs);
    if (!err) err = check_outputs(pn->spec, outs);
    for (int i = 0; i < pn->spec->n_inputs; i++) fg_value_clear(&inputs[i]);
    if (!err && ctx.ui_result_json) {
        json_error_t jerr;
        *ui = json_loads(ctx.ui_result_json, JSON_DECODE_ANY, &jerr);
        if (!*ui) err = fg_errorf(FG_ERR_FORMAT, "UI result is not JSON: %s", jerr.text);
    }
    free(ctx.ui_result_json);
    if (err)
        for (int j = 0; j < FG_NODE_MAX_OUTPUTS; j++) fg_value_clear(&outs[j]);
    return err;
}

static fg_error *node_error(run_state *st, size_t k, fg_error *err) {
    const fg_plan_node *pn = &st->plan.nodes[k];
    if (fg_error_code_of(err) == FG_ERR_UNSUPPORTED && !pn->spec->execute) {
        fg_error_free(err);
        err = fg_errorf(FG_ERR_UNSUPPORTED, "node %s (%s) is not implemented yet", pn->id, pn->class_type);
    } else err = fg_error_wrapf(err, "node %s (%s)", pn->id, pn->class_type);
    emit(st, (fg_event){.kind = FG_EVENT_EXECUTION_ERROR, .node_id = pn->id, .class_type = pn->class_type,
                        .message = fg_error_message(err)});
    return err;
}

static bool cancelled(const run_state *st) {
    const volatile int *flag = st->ex->settings.cancel_flag;
    return flag && *flag;
}

static fg_error *reuse_cached(run_state *st, size_t k, const cache_entry *e) {
    for (int j = 0; j < e->n_out; j++) FG_TRY(fg_value_copy(&e->out[j], &st->results[k][j]));
    st->done[k] = true;
    return NULL;
}

static fg_error *run_one(run_state *st, size_t k) {
    const fg_plan_node *pn = &st->plan.nodes[k];
    bool cacheable = !pn->spec->not_idempotent;
    cache_entry *hit = cacheable ? cache_find(st->ex, pn->sig) : NULL;
    if (hit) { /* an identical node earlier in this prompt */
        hit->used = true;
        return reuse_cached(st, k, hit);
    }
    if (cancelled(st)) {
        fg_error *err = fg_errorf(FG_ERR_CANCELLED, "cancelled before node %s (%s)", pn->id, pn->class_type);
        emit(st, (fg_event){.kind = FG_EVENT_EXECUTION_ERROR, .node_id = pn->id, .class_type = pn->class_type,
                            .message = fg_error_message(err)});
        return err;
    }
    emit(st, (fg_event){.kind = FG_EVENT_EXECUTING, .node_id = pn->id, .class_type = pn->class_type});
    double t0 = fg_time_now();
    json_t *ui = NULL;
    fg_error *err = call_node(st, k, &ui);
    if (err) return node_error(st, k, err);
    st->done[k] = true;
    if (cacheable) err = cache_store(st->ex, pn->sig, st->results[k], pn->spec->n_outputs, ui);
    if (!err)
        emit(st, (fg_event){.kind = FG_EVENT_EXECUTED, .node_id = pn->id, .class_type = pn->class_type,
                            .output = ui, .seconds = fg_time_now() - t0});
    json_decref(ui);
    return err ? node_error(st, k, err) : NULL;
}

/* ---- the run ------------------------------------------------------------------------ */

static fg_error *invalid_prompt(const fg_validation *v) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        fg_validation_print(v, NULL, f);
        fclose(f);
    }
    while (len > 0 && text[len - 1] == '\n') text[--len] = 0;
    fg_error *err = fg_errorf(FG_ERR_FORMAT, "invalid workflow:\n%s", text && len ? text : "no valid output");
    free(text);
    return err;
}

/* Served from the cache before anything runs, reported in one execution_cached event. */
static fg_error *serve_cached(run_state *st) {
    json_t *ids = json_array();
    if (!ids) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "events");
    fg_error *err = NULL;
    for (size_t k = 0; k < st->plan.count && !err; k++) {
        cache_entry *e = st->plan.nodes[k].spec->not_idempotent ? NULL : cache_find(st->ex, st->plan.nodes[k].sig);
        if (!e) continue;
        e->used = true;
        err = reuse_cached(st, k, e);
        json_array_append_new(ids, json_string(st->plan.nodes[k].id));
    }
    if (!err) emit(st, (fg_event){.kind = FG_EVENT_EXECUTION_CACHED, .node_ids = ids});
    /* cached output nodes still report their UI result, as ComfyUI does */
    for (size_t k = 0; k < st->plan.count && !err; k++) {
        cache_entry *e = st->done[k] ? cache_find(st->ex, st->plan.nodes[k].sig) : NULL;
        if (e && e->ui)
            emit(st, (fg_event){.kind = FG_EVENT_EXECUTED, .node_id = st->plan.nodes[k].id,
                                .class_type = st->plan.nodes[k].class_type, .output = e->ui});
    }
    json_decref(ids);
    return err;
}

static fg_error *run_plan(run_state *st) {
    for (size_t i = 0; i < st->ex->ncache; i++) st->ex->cache[i].used = false;
    emit(st, (fg_event){.kind = FG_EVENT_EXECUTION_START});
    FG_TRY(serve_cached(st));
    for (size_t k = 0; k < st->plan.count; k++)
        if (!st->done[k]) FG_TRY(run_one(st, k));
    emit(st, (fg_event){.kind = FG_EVENT_EXECUTING, .node_id = NULL});
    emit(st, (fg_event){.kind = FG_EVENT_EXECUTION_SUCCESS});
    return NULL;
}

/* The plan over the validated (converted) prompt; the saved images embed that prompt, as
 * ComfyUI's do. */
static fg_error *prepare(run_state *st, const fg_workflow *wf, const fg_validation *v) {
    if (!v->ok || v->error) return invalid_prompt(v);
    FG_CHECK_ARG(v->prompt, "the validation holds no converted prompt");
    FG_TRY(fg_plan_build(v->prompt, v->outputs, &st->plan));
    FG_TRY(fg_plan_signatures(&st->plan, &st->ex->settings));
    size_t n = st->plan.count + 1;
    st->results = calloc(n, sizeof *st->results);
    st->done = calloc(n, sizeof *st->done);
    st->prompt_json = fg_workflow_dump_api(v->prompt);
    st->workflow_json = wf->ui ? fg_workflow_dump_api(wf->ui) : NULL;
    if (!st->results || !st->done || !st->prompt_json || (wf->ui && !st->workflow_json))
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "preparing the run");
    return NULL;
}

fg_error *fg_executor_run_validated(fg_executor *ex, const fg_workflow *wf, const fg_validation *v,
                                    const char *prompt_id, fg_event_fn on_event, void *user) {
    FG_CHECK_ARG(ex && wf && wf->prompt && v, "fg_executor_run_validated: NULL argument");
    run_state st = {.ex = ex, .prompt_id = prompt_id ? prompt_id : "", .on_event = on_event, .user = user};
    fg_error *err = prepare(&st, wf, v);
    if (!err) {
        err = run_plan(&st);
        cache_drop_unused(ex);
    }
    for (size_t k = 0; st.results && k < st.plan.count; k++)
        for (int j = 0; j < FG_NODE_MAX_OUTPUTS; j++) fg_value_clear(&st.results[k][j]);
    free(st.results);
    free(st.done);
    free(st.prompt_json);
    free(st.workflow_json);
    fg_plan_free(&st.plan);
    return err;
}

fg_error *fg_executor_run(fg_executor *ex, const fg_workflow *wf, const char *prompt_id, fg_event_fn on_event,
                          void *user) {
    FG_CHECK_ARG(ex && wf && wf->prompt, "fg_executor_run: NULL argument");
    fg_validation v;
    fg_error *err = fg_validate_prompt(wf->prompt, &ex->settings, &v);
    if (!err) err = fg_executor_run_validated(ex, wf, &v, prompt_id, on_event, user);
    fg_validation_clear(&v);
    return err;
}
