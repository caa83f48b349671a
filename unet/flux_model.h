/* The FLUX.1 DiT (flux1-dev / flux1-schnell and tiny models of the same layout): the
 * denoiser's forward pass as ComfyUI runs it (docs/models.md 1.4-1.12), written on the op interface
 * of kernels/ops.h. Weights stay in their stored dtype (BF16/F16/F32/F8 with a per-tensor
 * scale); activations are act_dtype tensors on the device holding the weights, taken from
 * nested activation scopes (kernels/scope.h: one per forward, block and stage) and freed as soon
 * as they are dead. Inputs and output stay F32 at this interface (cast at entry and exit); the RoPE
 * tables stay F32. Load a model with flux_loader.h. */
#ifndef FG_UNET_FLUX_MODEL_H
#define FG_UNET_FLUX_MODEL_H

#include <stdbool.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/weights.h"
#include "unet/flux_config.h"

/* A Linear layer: out = x . (w_scale * w)^T + b. */
typedef struct fg_flux_linear {
    fg_tensor w, b;
    bool has_bias;
    float w_scale; /* fp8 dequantisation scale, 1 otherwise */
} fg_flux_linear;

/* One stream (img or txt) of a double block. */
typedef struct fg_flux_stream {
    fg_flux_linear mod, qkv, proj, mlp0, mlp2;
    fg_tensor q_norm, k_norm; /* RMSNorm scales [head_dim] */
} fg_flux_stream;

typedef struct fg_flux_double_block {
    fg_flux_stream img, txt;
} fg_flux_double_block;

typedef struct fg_flux_single_block {
    fg_flux_linear mod, linear1, linear2;
    fg_tensor q_norm, k_norm;
} fg_flux_single_block;

typedef struct fg_flux_model {
    fg_flux_params p;
    fg_device device;   /* where activations live: the device of the weights (fg_weights_device) */
    fg_dtype act_dtype; /* F32 or BF16: F32 on the CPU, BF16 on CUDA unless set otherwise */
    fg_flux_linear img_in, txt_in, time_in, time_out, guidance_in, guidance_out, vector_in, vector_out;
    fg_flux_linear final_mod, final_linear;
    fg_flux_double_block *double_blocks; /* p.arch.depth */
    fg_flux_single_block *single_blocks; /* p.arch.depth_single */
    fg_weights *weights;                 /* owned: keeps the mappings and converted tensors alive */
    bool diffusers;                      /* loaded from diffusers names (converted at load) */
} fg_flux_model;

/* ComfyUI's calling convention (docs/models.md 1.4), all F32 on the model's device except that
 * timestep and guidance may also be host tensors:
 *   x        [B, C, h, w]  latent in model space; odd h/w are circular-padded, then cropped
 *   timestep [B]           sigma (the model multiplies by 1000)
 *   context  [B, Lt, context_in_dim]
 *   y        [B, >= vec_in_dim] (the first vec_in_dim columns are used)
 *   guidance [B] or NULL   ignored by models without guidance_in; NULL skips the guidance
 *                          term (ComfyUI's wrapper substitutes 3.5 before this point). */
typedef struct fg_flux_inputs {
    const fg_tensor *x, *timestep, *context, *y, *guidance;
} fg_flux_inputs;

/* Debug capture of intermediates (probe and tests): when `enabled`, the forward fills these
 * with owned F32 tensors (cast from the activations) on the model's device; free with fg_flux_trace_free. */
typedef struct fg_flux_trace {
    bool enabled;
    fg_tensor img_tokens;  /* [B, Li, C*4] patchified input (after padding) */
    fg_tensor img_ids;     /* [B, Li, 3] (0, row, col) */
    fg_tensor txt_ids;     /* [B, Lt, 3] zeros */
    fg_tensor vec;         /* [B, H] time_in + guidance_in + vector_in */
    fg_tensor double0_img; /* [B, Li, H] outputs of double_blocks.0 (empty without double blocks) */
    fg_tensor double0_txt; /* [B, Lt, H] */
    fg_tensor doubles_img; /* [B, Li, H] after the last double block */
    fg_tensor doubles_txt; /* [B, Lt, H] */
    /* Set by every fg_flux_forward given a trace, enabled or not: the most bytes its activations
     * (RoPE and time tables included) held at once, counted by its scopes (kernels/scope.h). */
    size_t activation_peak_bytes;
} fg_flux_trace;

void fg_flux_trace_free(fg_flux_trace *t);

/* Sets the activation dtype (F32 or BF16); BF16 on the CPU gives the GPU's numerics. */
fg_error *fg_flux_set_act_dtype(fg_flux_model *m, fg_dtype act_dtype) FG_MUST_CHECK;

/* An upper bound of the bytes of activations live at once in one forward (the single blocks'
 * peak: the sequence, linear1's output and its two slices, the RoPE tables), for a memory check
 * before sampling. Backend scratch (GEMM workspaces) is not included. */
size_t fg_flux_activation_bytes(const fg_flux_params *p, int64_t batch, int64_t img_tokens, int64_t txt_tokens,
                                fg_dtype act_dtype);

/* The memory check before sampling: an error (FG_ERR_OUT_OF_MEMORY) naming the image size,
 * batch, the bytes one forward's activations need and free_bytes, when they do not fit ("FLUX
 * 1024x1024 batch 1 needs 2.1 GiB for activations, 1.2 GiB free on cuda"). */
fg_error *fg_flux_check_activation_memory(const fg_flux_model *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                          int64_t txt_tokens, size_t free_bytes) FG_MUST_CHECK;
/* The same against what the model's device has free now: on a GPU the driver's free bytes plus
 * the backend's cached blocks, on the CPU MemAvailable (or a container's cgroup limit). */
fg_error *fg_flux_check_device_memory(const fg_flux_model *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                      int64_t txt_tokens) FG_MUST_CHECK;

/* out: caller-allocated F32 [B, C, h, w] on the model's device: the predicted velocity. */
fg_error *fg_flux_forward(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out,
                          fg_flux_trace *trace) FG_MUST_CHECK;

#endif
