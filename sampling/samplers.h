/* ComfyUI's k-diffusion samplers for flow (CONST) models (docs/comfyui.md 4.8), on host F32
 * tensors through the ops. The model is a callback returning the guided denoised prediction
 * D(x, sigma); a progress callback sees every step and a cancel flag is read between steps. */
#ifndef FG_SAMPLING_SAMPLERS_H
#define FG_SAMPLING_SAMPLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

/* denoised = D(x, sigma); denoised is caller-allocated with x's shape. */
typedef fg_error *(*fg_denoise_fn)(void *user, const fg_tensor *x, float sigma, fg_tensor *denoised);
/* After the main model call of step `step` (1-based) of `total`: the current x and denoised. */
typedef void (*fg_step_progress_fn)(void *user, int step, int total, const fg_tensor *x, const fg_tensor *denoised);

typedef enum fg_sampler {
    FG_SAMPLER_EULER = 0,
    FG_SAMPLER_EULER_ANCESTRAL,
    FG_SAMPLER_HEUN,
    FG_SAMPLER_DPM_2,
    FG_SAMPLER_DPM_2_ANCESTRAL,
    FG_SAMPLER_LMS,
    FG_SAMPLER_DPMPP_2M,
    FG_SAMPLER_IPNDM,
    FG_SAMPLER_DEIS,
    FG_SAMPLER_DDIM, /* euler; its "random" inpaint noise only matters with a noise mask */
    FG_SAMPLER_LCM,
    FG_SAMPLER_UNI_PC,     /* UniPC bh1 */
    FG_SAMPLER_UNI_PC_BH2,
    FG_SAMPLER_COUNT
} fg_sampler;

typedef struct fg_sampler_options {
    float eta, s_noise;          /* ancestral samplers (ComfyUI defaults 1, 1) */
    uint64_t seed;               /* ancestral noise: CPU generator seeded seed + 1 */
    const volatile int *cancel;  /* non-zero: stop before the next step (NULL: never) */
    fg_step_progress_fn progress;     /* may be NULL */
    void *progress_user;
} fg_sampler_options;

void fg_sampler_options_default(fg_sampler_options *o);

/* Maps ComfyUI's sampler name. Names of ComfyUI's list that are not implemented give
 * FG_ERR_UNSUPPORTED naming the sampler (the SDE ones explain that they need torchsde's
 * Brownian tree); other names FG_ERR_NOT_FOUND. */
fg_error *fg_sampler_from_name(const char *name, fg_sampler *out) FG_MUST_CHECK;
const char *fg_sampler_name(fg_sampler s);
/* KSampler computes one more step and drops the penultimate sigma for these samplers (dpm_2,
 * dpm_2_ancestral, uni_pc, uni_pc_bh2: KSampler.DISCARD_PENULTIMATE_SIGMA_SAMPLERS). */
bool fg_sampler_discards_penultimate(fg_sampler s);

/* Runs the sampler over sigmas[0..n_sigmas-1] (n_sigmas >= 1; n_sigmas == 1 does nothing).
 * x: host F32, updated in place. last_denoised: NULL or a host F32 tensor of x's shape that
 * receives the denoised prediction of the last step's main model call (left untouched when
 * there is no step). Cancellation: FG_ERR_CANCELLED "cancelled after step k of n". */
fg_error *fg_sampler_run(fg_sampler s, fg_denoise_fn model, void *user, fg_tensor *x, const float *sigmas,
                         int n_sigmas, const fg_sampler_options *opt, fg_tensor *last_denoised) FG_MUST_CHECK;

#endif
