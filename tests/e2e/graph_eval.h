/* A minimal evaluator of API-format prompts for the end-to-end tests: it runs the nodes an
 * output needs by calling their execute functions directly, so a test can look at any node's
 * output (the sampler's LATENT), count progress reports and cancel between steps. The real
 * executor (graph/executor.c) is exercised by the CLI half of the tests. */
#ifndef FG_TESTS_E2E_GRAPH_EVAL_H
#define FG_TESTS_E2E_GRAPH_EVAL_H

#include <jansson.h>

#include "nodes/node_ctx.h"
#include "nodes/value.h"

typedef struct graph_eval {
    json_t *prompt;            /* borrowed */
    fg_run_settings settings;  /* models_dir = tests/fixtures/models */
    volatile int cancel;
    int cancel_after_steps;    /* > 0: set cancel once a node reports this progress value */
    int progress_reports;
    json_t *results;           /* node id -> index into values */
    fg_value (*values)[FG_NODE_MAX_OUTPUTS];
    size_t n_values;
} graph_eval;

void graph_eval_init(graph_eval *g, json_t *prompt);
void graph_eval_free(graph_eval *g);
/* A new reference / copy of output `index` of node `id`, evaluating what it needs. */
fg_error *graph_eval_output(graph_eval *g, const char *id, int index, fg_value *out) FG_MUST_CHECK;

#endif
