/* The one entry from a sampling node to a sampled latent (docs/comfyui.md 4.4): the empty-latent
 * channel fix, the initial noise from the noise source (prepare_noise, with the latent's
 * batch_index), process_in of a non-zero latent, noise scaling at the first sigma, the sampler
 * loop over the guided FLUX model, inverse noise scaling and process_out. KSampler,
 * KSamplerAdvanced, SamplerCustom and SamplerCustomAdvanced all call fg_sample_latent; their
 * schedules come from fg_schedule_for_node (schedulers.h). */
#ifndef FG_SAMPLING_SAMPLE_H
#define FG_SAMPLING_SAMPLE_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "sampling/guidance.h"
#include "sampling/model_sampling.h"
#include "sampling/noise.h"
#include "sampling/samplers.h"
#include "unet/flux_model.h"

typedef struct fg_sample_request {
    /* The MODEL: the DiT (unless cond_model replaces its call, in tests) and its sampling
     * (ModelSamplingFlux's mu or the discrete flow shift). */
    const fg_flux_model *model;
    fg_cond_model_fn cond_model;
    void *cond_model_user;
    fg_sampling_kind sampling;
    double shift;
    /* The GUIDER: CFGGuider, or BasicGuider with no negative entries. */
    const fg_cond_view *positive;
    int n_positive;
    const fg_cond_view *negative;
    int n_negative;
    float cfg;
    /* The SAMPLER and the SIGMAS (n_sigmas 0: the latent comes back unchanged). */
    fg_sampler sampler;
    float eta, s_noise; /* ancestral samplers; ComfyUI's defaults are 1 and 1 */
    const float *sigmas;
    int n_sigmas;
    /* The LATENT (host F32 [B, C, h, w], VAE space) with its batch_index (NULL: none), and the
     * NOISE: the seed also drives the ancestral samplers' stream. */
    const fg_tensor *latent;
    const int64_t *batch_index;
    int n_batch_index;
    fg_noise_source noise;
    /* Progress after every step (may be NULL) and a cancel flag read between steps. */
    fg_step_progress_fn progress;
    void *progress_user;
    const volatile int *cancel;
} fg_sample_request;

/* samples: receives a new host F32 tensor (VAE space, process_out applied); denoised: NULL or
 * receives the last step's denoised prediction through process_out (the latent itself when
 * there was no step). Both are owned by the caller (fg_tensor_free_host). */
fg_error *fg_sample_latent(const fg_sample_request *req, fg_tensor *samples, fg_tensor *denoised) FG_MUST_CHECK;

/* The default cond_model: one DiT evaluation for one entry, denoised = x - sigma * v, the
 * cond/pooled rows repeated over the latent batch. user: a fg_flux_cond_model. */
typedef struct fg_flux_cond_model {
    const fg_flux_model *model;
    struct fg_flux_runner *runner; /* optional: steps through a runner (graph replays), else eager */
} fg_flux_cond_model;

fg_error *fg_flux_cond_denoise(void *flux_cond_model, const fg_tensor *x, float sigma, const fg_cond_view *entry,
                               fg_tensor *denoised) FG_MUST_CHECK;

/* The guidance value the DiT receives for an entry. ComfyUI casts every float extra cond, Flux's
 * guidance included, to the model's compute dtype before the diffusion model runs
 * (comfy/model_base.py: BaseModel._apply_model, convert_tensor, get_dtype_inference: the
 * manual_cast_dtype if set, else the weights' dtype), and timestep_embedding then multiplies it
 * by 1000 in that dtype (comfy/ldm/flux/layers.py). Our compute dtype is the model's activation
 * dtype: F32 keeps the value; BF16 rounds it and the product, and the returned value reproduces
 * that product when the DiT multiplies it by 1000 in float32. */
float fg_flux_effective_guidance(const fg_flux_model *m, float guidance);

#endif
