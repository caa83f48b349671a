/* FLUX model sampling (docs/comfyui.md 4.1-4.3): the discretisation (a table of sigmas, sigma <->
 * timestep, percent -> sigma) and the CONST (rectified-flow) prediction type (velocity ->
 * denoised, noise scaling and its inverse). Latent process_in/process_out live in
 * vae/latent_format.h and are reused by sample.c. */
#ifndef FG_SAMPLING_MODEL_SAMPLING_H
#define FG_SAMPLING_MODEL_SAMPLING_H

#include <stdbool.h>

#include "core/error.h"
#include "core/tensor.h"

#define FG_FLUX_SIGMA_COUNT 10000     /* ModelSamplingFlux (dev-type models) */
#define FG_FLOW_SIGMA_COUNT 1000      /* ModelSamplingDiscreteFlow (schnell) */
#define FG_FLUX_DEFAULT_SHIFT 1.15    /* dev without a ModelSamplingFlux node */
#define FG_FLUX_DEFAULT_GUIDANCE 3.5f /* cond entries without a guidance value */

typedef enum fg_sampling_kind {
    FG_SAMPLING_FLUX = 0, /* flux_time_shift(mu, t), 10000 entries */
    FG_SAMPLING_FLOW = 1, /* time_snr_shift(shift, t), 1000 entries */
} fg_sampling_kind;

typedef struct fg_model_sampling {
    fg_sampling_kind kind;
    double shift; /* mu for FLUX, the SNR shift for FLOW */
    int count;
    float sigmas[FG_FLUX_SIGMA_COUNT]; /* ascending; the first `count` are used */
} fg_model_sampling;

/* ModelSamplingFlux node's mu from the image size, in double (4.2). */
double fg_flux_shift_for_size(double max_shift, double base_shift, double width, double height);

/* Fills the table. FG_ERR_INVALID_ARGUMENT for a non-finite shift (or shift <= 0 for FLOW). */
fg_error *fg_model_sampling_init_flux(fg_model_sampling *ms, double mu) FG_MUST_CHECK;
fg_error *fg_model_sampling_init_flow(fg_model_sampling *ms, double shift) FG_MUST_CHECK;
/* A heap table of either kind (it is 40 KB), freed with free(). */
fg_error *fg_model_sampling_new(fg_sampling_kind kind, double shift, fg_model_sampling **out) FG_MUST_CHECK;

static inline float fg_ms_sigma_min(const fg_model_sampling *ms) { return ms->sigmas[0]; }
static inline float fg_ms_sigma_max(const fg_model_sampling *ms) { return ms->sigmas[ms->count - 1]; }

/* sigma(timestep): the table's float32 formula applied to one value. */
float fg_ms_sigma(const fg_model_sampling *ms, float timestep);
/* timestep(sigma) = sigma for both kinds (multiplier 1). */
float fg_ms_timestep(const fg_model_sampling *ms, float sigma);
/* percent_to_sigma in double: p <= 0 -> 1, p >= 1 -> 0 (ConditioningSetTimestepRange). */
double fg_ms_percent_to_sigma(const fg_model_sampling *ms, double percent);

/* denoised = x - sigma * v (CONST prediction); out may alias x or v. */
fg_error *fg_denoised_from_velocity(fg_tensor *out, const fg_tensor *x, const fg_tensor *v, float sigma) FG_MUST_CHECK;
/* out = sigma * noise + (1 - sigma) * latent; noise NULL means zeros. out may alias latent. */
fg_error *fg_noise_scaling(fg_tensor *out, float sigma, const fg_tensor *noise, const fg_tensor *latent) FG_MUST_CHECK;
/* x /= (1 - sigma) in place; an error when sigma is 1 (nothing left to recover). */
fg_error *fg_inverse_noise_scaling(fg_tensor *x, float sigma) FG_MUST_CHECK;

#endif
