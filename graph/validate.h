/* Validation as ComfyUI's POST /prompt does it (docs/comfyui.md 2.2): every error collected, each
 * naming the node id, class type, input and reason, in ComfyUI's node_errors shape. */
#ifndef FG_GRAPH_VALIDATE_H
#define FG_GRAPH_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "nodes/node_ctx.h"

typedef struct fg_validation {
    bool ok;              /* at least one output node is valid */
    json_t *error;        /* top-level {"type","message","details","extra_info"} or NULL */
    json_t *node_errors;  /* {"id": {"errors": [...], "dependent_outputs": [...], "class_type": "X"}} */
    json_t *outputs;      /* ids of the valid output nodes, in a deterministic order */
    /* The prompt with every validated constant replaced by its converted value, as ComfyUI's
     * validate_inputs stores them back (what runs, what the cache keys on and what saved images
     * embed); NULL when validation stopped before the nodes. */
    json_t *prompt;
} fg_validation;

/* settings->models_dir NULL: model names are not checked against files. */
fg_error *fg_validate_prompt(const json_t *prompt, const fg_run_settings *settings, fg_validation *out) FG_MUST_CHECK;
void fg_validation_clear(fg_validation *v);

/* ComfyUI's conversion of a constant to its input's declared type (int(), float(), str(),
 * bool(); graph/validate_convert.c): NULL and *converted (new reference), or a ComfyUI error
 * object (and *converted NULL). Idempotent on converted values. */
json_t *fg_convert_constant(const fg_input_spec *in, const json_t *v, json_t **converted);
/* A constant as the value a node receives, through fg_convert_constant. */
fg_error *fg_constant_value(const fg_input_spec *in, const json_t *v, fg_value *out) FG_MUST_CHECK;
/* Human-readable report, one line per error ("node 12 (KSampler) input 'steps': ..."); ui,
 * the saved UI workflow or NULL, lets it name the subgraph a flattened node id sits in. */
void fg_validation_print(const fg_validation *v, const json_t *ui, FILE *f);
/* {"error": ..., "node_errors": ...} as the HTTP API answers (new reference). */
json_t *fg_validation_to_json(const fg_validation *v);

#endif
