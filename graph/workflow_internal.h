/* Private to graph/workflow*.c. */
#ifndef FG_GRAPH_WORKFLOW_INTERNAL_H
#define FG_GRAPH_WORKFLOW_INTERNAL_H

#include "graph/workflow.h"

/* A PNG's "workflow" (UI) or else "prompt" (API) text chunk. */
fg_error *fg_workflow_from_png(const void *data, size_t len, const char *label, fg_workflow **out) FG_MUST_CHECK;
/* Shared by the readers: builds the workflow from a parsed JSON document (takes root). */
fg_error *fg_workflow_from_json_text(const char *text, size_t len, const char *label, fg_workflow **out) FG_MUST_CHECK;

/* The frontend's text replacements in filename_prefix (docs/comfyui.md 1.3 step 9): %Node.widget%
 * (node by "Node name for S&R", else by title) and %date:FORMAT%, applied to the converted
 * prompt of the UI workflow ui. */
fg_error *fg_workflow_ui_text_tokens(const json_t *ui, json_t *prompt) FG_MUST_CHECK;

#endif
