/* The guider (docs/comfyui.md 4.7): which conditioning entries are active at a sigma
 * (ConditioningSetTimestepRange), the average over several entries (ConditioningCombine),
 * and CFG, where cfg == 1 never evaluates the negative list. */
#ifndef FG_SAMPLING_GUIDANCE_H
#define FG_SAMPLING_GUIDANCE_H

#include <stdbool.h>

#include "core/error.h"
#include "core/tensor.h"
#include "sampling/model_sampling.h"

/* One CONDITIONING entry as the sampler sees it. */
typedef struct fg_cond_view {
    const fg_tensor *cond;   /* [1, L, D] text tokens (T5) */
    const fg_tensor *pooled; /* [1, P] (CLIP pooled), may be NULL */
    float guidance;          /* FLUX guidance (FG_FLUX_DEFAULT_GUIDANCE when the entry has none) */
    bool has_start, has_end; /* ConditioningSetTimestepRange */
    double start_percent, end_percent;
} fg_cond_view;

/* Runs the diffusion model for one entry: denoised = D(x, sigma | entry). */
typedef fg_error *(*fg_cond_model_fn)(void *user, const fg_tensor *x, float sigma, const fg_cond_view *entry,
                                      fg_tensor *denoised);

typedef struct fg_cfg_guider {
    const fg_model_sampling *ms; /* percent -> sigma of the timestep ranges */
    const fg_cond_view *positive;
    int n_positive;
    const fg_cond_view *negative; /* may be NULL / 0 (BasicGuider) */
    int n_negative;
    float cfg;
    fg_cond_model_fn model;
    void *user;
} fg_cfg_guider;

/* True when an entry takes part at sigma (its timestep_start/end window, compared in float32). */
bool fg_cond_view_active(const fg_model_sampling *ms, const fg_cond_view *e, float sigma);
/* True when cfg is close to 1 (math.isclose), so the negative list is skipped. */
bool fg_cfg_is_one(float cfg);

/* out = uncond + (cond - uncond) * cfg, each the mult-weighted average of its active entries
 * (zeros when none is active). Matches fg_denoise_fn with the guider as user. */
fg_error *fg_cfg_guider_denoise(void *guider, const fg_tensor *x, float sigma, fg_tensor *out) FG_MUST_CHECK;

#endif
