/* T5 v1.1 encoder (T5-XXL for FLUX, HF T5EncoderModel key names) as ComfyUI runs it: f32
 * activations with weights widened per call from their stored dtype (F32/F16/BF16/F8), RMS
 * norms (eps 1e-6), attention without 1/sqrt(d) scaling plus the relative position bias of
 * block 0 in every layer, gated-GELU (tanh) feed-forward, no clamping
 * (docs/models.md section 4, fixtures README stage 4).
 *
 * Keys: `shared.weight` and/or `encoder.embed_tokens.weight`,
 * `encoder.block.N.layer.0.{layer_norm.weight,SelfAttention.{q,k,v,o}.weight}`,
 * `encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads],
 * `encoder.block.N.layer.1.{layer_norm.weight,DenseReluDense.{wi_0,wi_1,wo}.weight}`,
 * `encoder.final_layer_norm.weight`. Sizes come from the shapes (heads from the bias table);
 * the maximum relative distance is 128 by convention (not stored). fp8 weights may carry a
 * `weight_scale`/`scale_weight` each; fp8 embeddings have their NaN entries read as 0, like
 * ComfyUI's nan_to_num on the embedding output of fp8 T5 models (docs/models.md 1.16). */
#ifndef FG_TEXT_ENCODERS_T5_MODEL_H
#define FG_TEXT_ENCODERS_T5_MODEL_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/model_layouts.h"
#include "models/weights.h"

#define FG_T5_MAX_DISTANCE 128

typedef struct fg_t5_model fg_t5_model;

/* Builds the model over a weights view whose names start at "encoder." / "shared." (make a
 * prefixed view for all-in-one checkpoints). Borrows tensor views: `w` must outlive it. */
fg_error *fg_t5_load(const fg_weights *w, fg_t5_model **out) FG_MUST_CHECK;
/* Before an upload: an fp8 token embedding with NaN (or e5m2 infinity) bytes is replaced in w
 * by the finite copy fg_t5_load would read (ComfyUI's nan_to_num on fp8 T5 embeddings), so the
 * BF16 copy holds none. A no-op for other tables. */
fg_error *fg_t5_sanitize_view(fg_weights *w) FG_MUST_CHECK;
/* Opens a file, finds the prefix in front of "encoder.final_layer_norm.weight" (none, or e.g.
 * "text_encoders.t5xxl.transformer.") and loads; the model owns the file. */
/* fg_t5_load on a view the model then owns (closed with it, or here on failure): an
 * uploaded copy of the weights. */
fg_error *fg_t5_load_owned(fg_weights *w, fg_t5_model **out) FG_MUST_CHECK;
fg_error *fg_t5_open(const char *path, fg_t5_model **out) FG_MUST_CHECK;
void fg_t5_free(fg_t5_model *m);

/* The inferred configuration (dtype = that of block 0's q weight). */
const fg_t5_config *fg_t5_model_config(const fg_t5_model *m);

/* Activations are act_dtype tensors on the device of the weights: F32 on the CPU, BF16 on
 * CUDA unless set here (BF16 on the CPU gives the GPU's numerics). */
fg_error *fg_t5_set_act_dtype(fg_t5_model *m, fg_dtype act_dtype) FG_MUST_CHECK;
/* Encodes ids [batch, len] (host memory) on the weights' device into *out, allocated on dev as f32
 * [batch, len, d_model] (after the final norm). key_mask: NULL for none (ComfyUI's FLUX path),
 * or host [batch, len] where keys whose value is not exactly 1 are masked with -FLT_MAX, as
 * ComfyUI turns an attention_mask into an additive bias. */
fg_error *fg_t5_encode(const fg_t5_model *m, fg_device dev, const int32_t *ids, int64_t batch, int64_t len,
                       const float *key_mask, fg_tensor *out) FG_MUST_CHECK;

/* Bidirectional relative position bucket of r = key - query (HF/ComfyUI
 * _relative_position_bucket, log part in f32 and truncated like the references). */
int32_t fg_t5_relative_bucket(int64_t r, int64_t num_buckets, int64_t max_distance);

#endif
