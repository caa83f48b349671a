/* `fluxgraph probe COMPONENT`: runs one component on the inputs recorded in a golden file and
 * writes what it computed under the golden tensors' names, so an outside tool (or a test) can
 * compare stage by stage. Each component lives in cli/probe_NAME.c and is one row of the table
 * in cmd_probe.c. */
#ifndef FG_CLI_PROBE_H
#define FG_CLI_PROBE_H

#include <stdint.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor.h"

typedef struct probe_ctx probe_ctx;

/* Fills the output through probe_output_add. Must fail (naming the tensor) rather than skip a
 * golden tensor it cannot produce. */
typedef fg_error *(*probe_component_fn)(probe_ctx *ctx);

const fg_safetensors *probe_golden(const probe_ctx *ctx);
/* --model FILE, or NULL when not given. */
const char *probe_model_path(const probe_ctx *ctx);
/* The value of `--NAME VALUE` given on the command line beyond --golden/--out/--model (e.g.
 * "lora" for --lora FILE), or NULL. A component reads the options it understands; one that no
 * component read is an error after the run (a typo never goes unnoticed). */
const char *probe_option(probe_ctx *ctx, const char *name);
/* Sets a __metadata__ entry of the output; golden metadata of the same key is not copied. */
fg_error *probe_output_metadata(probe_ctx *ctx, const char *key, const char *value) FG_MUST_CHECK;
/* Takes ownership of *t (an owned host tensor, cleared on return even on failure) and queues
 * it for the output file under `name`. */
fg_error *probe_output_add(probe_ctx *ctx, const char *name, fg_tensor *t) FG_MUST_CHECK;

/* Copies a result (any device, F32) into an owned host tensor and queues it under golden
 * entry e's name, after checking it has the golden's F32 shape. */
fg_error *probe_output_result(probe_ctx *ctx, const fg_st_entry *e, const fg_tensor *result) FG_MUST_CHECK;

/* ---- the per-tensor metadata values: small JSON objects such as
 *      {"seed": "42", "shape": [1, 16, 128, 128], "note": "..."} ---------------------------- */

/* Copies the string value of `key` into buf (an error if it does not fit). */
fg_error *probe_json_string(const char *json, const char *key, char *buf, size_t cap) FG_MUST_CHECK;
/* Reads an array of at most FG_MAX_DIMS non-negative integers. */
fg_error *probe_json_shape(const char *json, const char *key, int *ndim, int64_t shape[FG_MAX_DIMS]) FG_MUST_CHECK;
/* Decimal string 0..2^64-1 (ComfyUI seeds are u64). */
fg_error *probe_parse_u64(const char *text, uint64_t *out) FG_MUST_CHECK;

/* The golden tensor `name`, I64 or I32 [batch, tokens], as a malloc'd int32 array (ids outside
 * int32 rejected). */
fg_error *probe_read_ids(const fg_safetensors *golden, const char *name, int32_t **ids, int64_t *batch,
                         int64_t *len) FG_MUST_CHECK;

/* Components. */
fg_error *probe_rng(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_tokenize(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_clip(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_t5(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_flux(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_ae(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_sigmas(probe_ctx *ctx) FG_MUST_CHECK;
fg_error *probe_lora(probe_ctx *ctx) FG_MUST_CHECK;

#endif
