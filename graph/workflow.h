/* A workflow as fluxgraph runs it: the API-format prompt ({"id": {"class_type", "inputs",
 * "_meta"}}), plus the UI workflow it came from (kept to embed in saved PNGs). Readers accept
 * the API JSON, the UI/saved JSON (nodes, links, widgets_values; schema 0.4 and 1) converted
 * the way ComfyUI's frontend converts it (docs/comfyui.md 1.3-1.4: Reroute, PrimitiveNode, Note,
 * muted and bypassed nodes, control_after_generate), and PNG files carrying either in their
 * text chunks (prefer "workflow", fall back to "prompt"). */
#ifndef FG_GRAPH_WORKFLOW_H
#define FG_GRAPH_WORKFLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json_bigint.h"

typedef struct fg_workflow {
    json_t *prompt;   /* API format (owned) */
    json_t *ui;       /* UI workflow or NULL (owned) */
    char *source;     /* file name or label, for messages */
} fg_workflow;

/* Reads a .json (API or UI) or an image with an embedded workflow. */
fg_error *fg_workflow_load_file(const char *path, fg_workflow **out) FG_MUST_CHECK;
/* Same over a buffer (label names it in errors). */
fg_error *fg_workflow_load_buffer(const void *data, size_t len, const char *label, fg_workflow **out) FG_MUST_CHECK;
void fg_workflow_free(fg_workflow *wf);

/* UI -> API conversion against the node registry. Nodes of unknown class are still emitted
 * (validation reports them); subgraphs / group nodes that cannot be expanded are an error
 * naming them. */
fg_error *fg_workflow_ui_to_api(const json_t *ui, const char *label, json_t **prompt) FG_MUST_CHECK;

/* The subgraph a flattened node id ("194:31", "112:57:44") sits in, as the names of the
 * definitions on its path ("'Outer' > 'Inner'"); "" for a root node or an unknown path. */
void fg_workflow_subgraph_of(const json_t *ui, const char *flat_id, char *out, size_t cap);

/* JSON integers beyond int64 (seeds go up to 2^64-1) cannot be held by Jansson: the readers
 * turn such a literal into {FG_BIGINT_KEY: "<digits>"}; validation range-checks it exactly
 * and fg_workflow_dump_api prints it back as the bare number. */
bool fg_json_is_bigint(const json_t *v);
/* An integer input as u64 (seeds): a JSON integer >= 0 or a bigint marker within 2^64-1. */
bool fg_json_get_u64(const json_t *v, uint64_t *out);

/* The API prompt as ComfyUI's json.dumps writes it (", " and ": " separators, ASCII with
 * \uXXXX escapes), for the PNG "prompt" chunk and `fluxgraph convert`. malloc'd. */
char *fg_workflow_dump_api(const json_t *prompt);
/* repr(float) as Python prints it ("1.0", "0.1", "1e-05", "1e+16"). */
void fg_format_python_float(double v, char *out, size_t cap);

#endif
