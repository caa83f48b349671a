#include "graph_eval.h"

#include <stdlib.h>
#include <string.h>

#include "nodes/node_args.h"
#include "nodes/registry.h"

void graph_eval_init(graph_eval *g, json_t *prompt) {
    memset(g, 0, sizeof *g);
    g->prompt = prompt;
    g->results = json_object();
    g->settings.models_dir = "tests/fixtures/models";
    g->settings.output_dir = g->settings.temp_dir = g->settings.input_dir = "/nonexistent-e2e";
    g->settings.device = FG_DEVICE_CPU;
    g->settings.cancel_flag = (volatile int *)&g->cancel;
}

void graph_eval_free(graph_eval *g) {
    for (size_t i = 0; i < g->n_values; i++)
        for (int j = 0; j < FG_NODE_MAX_OUTPUTS; j++) fg_value_clear(&g->values[i][j]);
    free(g->values);
    json_decref(g->results);
}

static void on_progress(void *user, const char *node_id, int64_t value, int64_t max) {
    (void)node_id;
    (void)max;
    graph_eval *g = user;
    g->progress_reports++;
    if (g->cancel_after_steps > 0 && value >= g->cancel_after_steps) g->cancel = 1;
}

static fg_error *constant(const fg_input_spec *spec, const json_t *v, fg_value *out) {
    switch (spec->type) {
    case FG_TYPE_INT:
        FG_CHECK_ARG(json_is_integer(v), "input %s: not an integer", spec->name);
        *out = fg_value_int(json_integer_value(v));
        return NULL;
    case FG_TYPE_FLOAT:
        FG_CHECK_ARG(json_is_number(v), "input %s: not a number", spec->name);
        *out = fg_value_float(json_number_value(v));
        return NULL;
    case FG_TYPE_BOOLEAN:
        FG_CHECK_ARG(json_is_boolean(v), "input %s: not a boolean", spec->name);
        *out = fg_value_bool(json_is_true(v));
        return NULL;
    case FG_TYPE_STRING:
    case FG_TYPE_COMBO:
        FG_CHECK_ARG(json_is_string(v), "input %s: not a string", spec->name);
        *out = fg_value_string(json_string_value(v));
        return NULL;
    default: return fg_errorf(FG_ERR_FORMAT, "input %s: a socket needs a link", spec->name);
    }
}

static fg_error *run_node(graph_eval *g, const char *id, size_t *slot) {
    json_t *node = json_object_get(g->prompt, id);
    FG_CHECK_ARG(node, "no node %s", id);
    const char *cls = json_string_value(json_object_get(node, "class_type"));
    const fg_node_spec *spec = cls ? fg_node_find(cls) : NULL;
    FG_CHECK_ARG(spec && spec->execute, "node %s: unknown or unimplemented class", id);
    json_t *inputs = json_object_get(node, "inputs");
    fg_value in[FG_NODE_MAX_INPUTS] = {0};
    fg_error *err = NULL;
    for (int i = 0; i < spec->n_inputs && !err; i++) {
        json_t *v = json_object_get(inputs, spec->inputs[i].name);
        if (!v) err = spec->inputs[i].optional ? NULL : fg_errorf(FG_ERR_FORMAT, "node %s: missing input", id);
        else if (json_is_array(v))
            err = graph_eval_output(g, json_string_value(json_array_get(v, 0)),
                                    (int)json_integer_value(json_array_get(v, 1)), &in[i]);
        else err = constant(&spec->inputs[i], v, &in[i]);
    }
    void *grown = err ? NULL : realloc(g->values, (g->n_values + 1) * sizeof *g->values);
    if (!err && !grown) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "results");
    if (!err) {
        g->values = grown;
        *slot = g->n_values++;
        memset(g->values[*slot], 0, sizeof g->values[*slot]);
        fg_node_ctx ctx = {.node_id = id, .spec = spec, .settings = &g->settings, .progress = on_progress,
                           .progress_user = g};
        err = spec->execute(&ctx, &(fg_node_args){.spec = spec, .values = in}, g->values[*slot]);
        free(ctx.ui_result_json);
        if (err) g->n_values--;
        else json_object_set_new(g->results, id, json_integer((json_int_t)*slot));
    }
    for (int i = 0; i < spec->n_inputs; i++) fg_value_clear(&in[i]);
    return err ? fg_error_wrapf(err, "node %s (%s)", id, cls) : NULL;
}

fg_error *graph_eval_output(graph_eval *g, const char *id, int index, fg_value *out) {
    FG_CHECK_ARG(id && index >= 0 && index < FG_NODE_MAX_OUTPUTS, "bad link");
    json_t *known = json_object_get(g->results, id);
    size_t slot = known ? (size_t)json_integer_value(known) : 0;
    if (!known) FG_TRY(run_node(g, id, &slot));
    return fg_value_copy(&g->values[slot][index], out);
}
