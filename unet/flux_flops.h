/* Floating-point operations of one FLUX DiT forward, counted from the config and the token
 * counts, for benchmarks (achieved TFLOP/s). A multiply-add counts as 2 FLOPs:
 *   linear layers: 2 * rows * out * in per Linear, where the rows are tokens for the
 *     per-token layers and the batch for the modulation / embedding layers applied to vec;
 *   attention: 4 * B * heads * L^2 * head_dim per block (QK^T and PV over the joint sequence
 *     L = image + text tokens; softmax, norms, RoPE and elementwise work are not counted).
 * FLUX.1-dev at 1024x1024 (4096 image + 512 text tokens, batch 1): 59.5 TFLOP in linear layers
 * + 14.9 in attention = 74.4 TFLOP per step. */
#ifndef FG_UNET_FLUX_FLOPS_H
#define FG_UNET_FLUX_FLOPS_H

#include <stdint.h>

#include "models/model_layouts.h"

typedef struct fg_flux_flops {
    double linear;    /* every Linear of the forward */
    double attention; /* QK^T and PV of every block */
    double total;     /* linear + attention */
} fg_flux_flops;

/* FLOPs of one forward of batch `batch` with image_tokens patches and text_tokens T5 tokens.
 * Non-positive counts give zeros. */
fg_flux_flops fg_flux_forward_flops(const fg_flux_config *c, int64_t batch, int64_t image_tokens,
                                    int64_t text_tokens);

/* Image tokens of a width x height pixel image: the VAE's latent (size / 8, floored like
 * EmptyLatentImage), patched 2x2 with odd latent sizes padded up as the forward does
 * ((1024, 1024) -> 4096). 0 when the latent would be empty. */
int64_t fg_flux_image_tokens(int64_t width_px, int64_t height_px);

#endif
