/* Planning for the executor (private to graph/): which nodes of a validated API prompt the
 * output nodes need, in a dependency order, and each node's input signature (docs/comfyui.md 2.4:
 * class + constants + the structure of its ancestors, independent of node ids). */
#ifndef FG_GRAPH_PLAN_H
#define FG_GRAPH_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "nodes/node_ctx.h"

#define FG_SIG_LEN 33 /* 128-bit hash in hex + NUL */

typedef struct fg_plan_node {
    const char *id;          /* borrowed from the prompt */
    const char *class_type;  /* borrowed */
    const fg_node_spec *spec;
    const json_t *inputs;    /* the node's "inputs" object (borrowed) */
    size_t deps_start, deps_count; /* into fg_plan.deps: plan indices of linked sources */
    char sig[FG_SIG_LEN];
} fg_plan_node;

typedef struct fg_plan {
    fg_plan_node *nodes;     /* dependency order: every source before its consumers */
    size_t count;
    size_t *deps;
    size_t deps_len;
    json_t *index;           /* id -> plan index */
} fg_plan;

/* The nodes reachable backwards along links from the output ids (a JSON array of strings),
 * ordered; a dependency cycle is an error naming a node on it. */
fg_error *fg_plan_build(const json_t *prompt, const json_t *outputs, fg_plan *out) FG_MUST_CHECK;
/* Fills every node's signature (LoadImage adds a hash of its file, like its IS_CHANGED). */
fg_error *fg_plan_signatures(fg_plan *plan, const fg_run_settings *settings) FG_MUST_CHECK;
/* Plan index of a node id, or (size_t)-1. */
size_t fg_plan_find(const fg_plan *plan, const char *id);
void fg_plan_free(fg_plan *plan);

/* A link input ["id", slot]: writes the source id (static-sized buffer) and slot. */
bool fg_plan_link(const json_t *v, char *src, size_t cap, int *slot);

#endif
