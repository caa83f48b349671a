/* FLUX.1 DiT hyper-parameters, inferred from the tensor shapes of a checkpoint (docs/models.md 1.2)
 * so that the full-size models and the tiny test models go through the same code. Only
 * what the file cannot say is fixed by convention: patch 2, RoPE theta 10000, the timestep
 * embedding constants, eps 1e-6, and axes_dim, which is (16, 56, 56) for head_dim 128 and
 * (head_dim/8, 7 head_dim/16, 7 head_dim/16) otherwise (the project convention of 1.2). */
#ifndef FG_UNET_FLUX_CONFIG_H
#define FG_UNET_FLUX_CONFIG_H

#include "core/error.h"
#include "models/layout_flux.h"
#include "models/model_layouts.h"
#include "models/weights.h"

#define FG_FLUX_PATCH 2
#define FG_FLUX_THETA 10000.0
#define FG_FLUX_EPS 1e-6f
#define FG_FLUX_TIME_FACTOR 1000.0f
#define FG_FLUX_MAX_PERIOD 10000.0

typedef struct fg_flux_params {
    fg_flux_config arch;    /* hidden, heads, mlp, depths, in/out/context/vec/time dims, flags */
    int64_t head_dim;       /* hidden / num_heads */
    int64_t latent_channels; /* in_channels / patch^2 (16) */
    int axes_dim[3];        /* RoPE dims of the three id axes; sum = head_dim */
    double theta;
} fg_flux_params;

/* Reads the config from BFL-named tensors (a diffusers file is converted to BFL names first,
 * see flux_loader.h), as models/layout_flux.c marks them. Every tensor it reads is
 * shape-checked; errors name the tensor. */
fg_error *fg_flux_params_infer(const fg_weights *w, fg_flux_params *out) FG_MUST_CHECK;

/* The RoPE axes for a head dimension: (16, 56, 56) at 128, else (hd/8, 7hd/16, 7hd/16),
 * which must all be even (head_dim a multiple of 32). */
fg_error *fg_flux_axes_for_head_dim(int64_t head_dim, int axes_dim[3]) FG_MUST_CHECK;


/* "hidden 256, 2 heads x 128, 2 double + 2 single blocks, mlp 1024, ..." into buf. */
char *fg_flux_params_describe(const fg_flux_params *p, char *buf, size_t cap);

#endif
