/* CLIP-L text encoder (OpenAI CLIP ViT-L/14 text tower, HF CLIPTextModel key names), as
 * ComfyUI runs it for FLUX: f32 activations with weights widened per call from their stored
 * dtype, causal additive mask of -FLT_MAX, quick_gelu MLP, LayerNorm eps 1e-5, head_dim 64
 * (docs/models.md section 3, fixtures README stage 3).
 *
 * Keys: `text_model.embeddings.{token,position}_embedding.weight`,
 * `text_model.encoder.layers.N.{layer_norm1,self_attn.{q,k,v,out}_proj,layer_norm2,mlp.fc1,
 * mlp.fc2}.{weight,bias}`, `text_model.final_layer_norm.{weight,bias}`; optional
 * `text_projection.weight` and `text_model.embeddings.position_ids` (ignored). Every size comes
 * from the shapes; heads = hidden / 64 (not stored in the file). fp8 weights may carry a
 * `weight_scale`/`scale_weight` per Linear (docs/models.md 1.16). */
#ifndef FG_TEXT_ENCODERS_CLIP_MODEL_H
#define FG_TEXT_ENCODERS_CLIP_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/model_layouts.h"
#include "models/weights.h"
#include "text_encoders/clip_tokenizer.h" /* FG_CLIP_BOS_ID / FG_CLIP_EOS_ID */

enum { FG_CLIP_HEAD_DIM = 64 }; /* CLIP-L's head size, not stored in the file */

typedef struct fg_clip_model fg_clip_model;

/* Builds the model over a weights view whose names start at "text_model." (make a prefixed
 * view for all-in-one checkpoints). The model borrows tensor views: `w` must outlive it. */
fg_error *fg_clip_load(const fg_weights *w, fg_clip_model **out) FG_MUST_CHECK;
/* Opens a file, finds where the CLIP tensors live (no prefix, or e.g.
 * "text_encoders.clip_l.transformer.": the one prefix in front of
 * "text_model.embeddings.token_embedding.weight") and loads; the model owns the file. */
/* fg_clip_load on a view the model then owns (closed with it, or here on failure): an
 * uploaded copy of the weights. */
fg_error *fg_clip_load_owned(fg_weights *w, fg_clip_model **out) FG_MUST_CHECK;
fg_error *fg_clip_open(const char *path, fg_clip_model **out) FG_MUST_CHECK;
void fg_clip_free(fg_clip_model *m);

/* The inferred configuration (dtype = that of the token embedding). */
const fg_clip_config *fg_clip_model_config(const fg_clip_model *m);
/* Width of text_projection's output, 0 when the file has none. */
int64_t fg_clip_projection_dim(const fg_clip_model *m);

/* Which outputs fg_clip_encode fills. */
enum {
    FG_CLIP_LAST = 1 << 0,        /* last_hidden [B, L, D] after final_layer_norm */
    FG_CLIP_PENULTIMATE = 1 << 1, /* [B, L, D] entering the last layer, no final norm */
    FG_CLIP_POOLED = 1 << 2,      /* [B, D] last_hidden at the first eos (FLUX's y) */
    FG_CLIP_PROJECTED = 1 << 3,   /* [B, P] text_projection(pooled); needs the projection */
};

typedef struct fg_clip_outputs {
    fg_tensor last_hidden, penultimate, pooled, pooled_projected; /* unrequested: empty */
} fg_clip_outputs;

/* Activations are act_dtype tensors on the device of the weights: F32 on the CPU, BF16 on
 * CUDA unless set here (BF16 on the CPU gives the GPU's numerics). */
fg_error *fg_clip_set_act_dtype(fg_clip_model *m, fg_dtype act_dtype) FG_MUST_CHECK;

/* Runs the encoder on ids [batch, len] (host memory; 1 <= len <= the position count) on the
 * weights' device and allocates the requested outputs as F32 tensors on dev. The pooled row of a sequence is that of its first
 * eos (49407); with no eos it is the last position (ComfyUI counts tokens up to the first eos,
 * all of them when there is none, and takes count - 1). */
fg_error *fg_clip_encode(const fg_clip_model *m, fg_device dev, const int32_t *ids, int64_t batch, int64_t len,
                         unsigned want, fg_clip_outputs *out) FG_MUST_CHECK;
void fg_clip_outputs_free(fg_clip_outputs *o);

/* Position whose hidden state is the pooled output: the first eos, else len - 1. */
int64_t fg_clip_pooled_position(const int32_t *ids, int64_t len);

#endif
