/* Runs a validated prompt: only the nodes the outputs need, in dependency order, each result
 * cached by the node's input signature (class + constants + the signatures of its ancestors,
 * docs/comfyui.md 2.4) so a batch of jobs in one process reuses loaded models and identical text
 * encodings. Reports ComfyUI-shaped events (execution_start, executing, progress, executed,
 * execution_cached, execution_error, execution_success) to a callback. */
#ifndef FG_GRAPH_EXECUTOR_H
#define FG_GRAPH_EXECUTOR_H

#include <jansson.h>

#include "core/error.h"
#include "graph/validate.h"
#include "graph/workflow.h"
#include "nodes/node_ctx.h"

typedef enum fg_event_kind {
    FG_EVENT_EXECUTION_START,
    FG_EVENT_EXECUTION_CACHED, /* node_ids: the nodes served from the cache */
    FG_EVENT_EXECUTING,        /* node_id about to run */
    FG_EVENT_PROGRESS,         /* value / max inside node_id */
    FG_EVENT_EXECUTED,         /* node_id done; output = its UI result or NULL; seconds */
    FG_EVENT_EXECUTION_ERROR,  /* node_id failed; message */
    FG_EVENT_EXECUTION_SUCCESS,
} fg_event_kind;

typedef struct fg_event {
    fg_event_kind kind;
    const char *prompt_id;
    const char *node_id;
    const char *class_type;
    int64_t value, max;
    double seconds;
    const json_t *output;
    const json_t *node_ids;
    const char *message;
} fg_event;

typedef void (*fg_event_fn)(void *user, const fg_event *ev);

typedef struct fg_executor fg_executor;

fg_error *fg_executor_create(const fg_run_settings *settings, fg_executor **out) FG_MUST_CHECK;
void fg_executor_free(fg_executor *ex);
/* Validates, plans and runs wf; the cache persists across calls. Returns the first node error
 * (with node id and class in the message); events describe the whole run. */
fg_error *fg_executor_run(fg_executor *ex, const fg_workflow *wf, const char *prompt_id, fg_event_fn on_event,
                          void *user) FG_MUST_CHECK;
/* The same for a job the caller has validated already (v from fg_validate_prompt over
 * wf->prompt with this executor's settings): each job is validated once, and runs the
 * constants as that validation converted them. */
fg_error *fg_executor_run_validated(fg_executor *ex, const fg_workflow *wf, const fg_validation *v,
                                    const char *prompt_id, fg_event_fn on_event, void *user) FG_MUST_CHECK;

#endif
