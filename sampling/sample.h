/* The whole sampling pipeline of one latent (comfyui.md 4.4): empty-latent channel fix,
 * process_in of a non-zero latent, noise scaling at the first sigma, the sampler loop over
 * the guided FLUX model, inverse noise scaling and process_out. The workflow nodes call this
 * once per KSampler / SamplerCustom(Advanced). */
#ifndef FG_SAMPLING_SAMPLE_H
#define FG_SAMPLING_SAMPLE_H

#include "core/error.h"
#include "core/tensor.h"
#include "sampling/guidance.h"
#include "sampling/model_sampling.h"
#include "sampling/samplers.h"
#include "unet/flux_model.h"

typedef struct fg_sample_request {
    const fg_flux_model *model;   /* the DiT (unless cond_model is set) */
    fg_cond_model_fn cond_model;  /* optional replacement of the DiT call (tests) */
    void *cond_model_user;
    const fg_model_sampling *ms;  /* from ModelSamplingFlux or the model's default */
    const fg_cond_view *positive;
    int n_positive;
    const fg_cond_view *negative;
    int n_negative;
    float cfg;
    const fg_tensor *latent;      /* host F32 [B, C, h, w], VAE space (LATENT.samples) */
    const fg_tensor *noise;       /* host F32 like the (fixed) latent, or NULL: noise disabled */
    const float *sigmas;
    int n_sigmas;                 /* 0: the latent is returned unchanged */
    fg_sampler sampler;
    fg_sampler_options options;   /* seed for ancestral noise, eta, progress, cancel */
    bool guidance_in_model_dtype; /* round guidance as a bf16/f16 ComfyUI run does (see below);
                                   * false: an fp32 run, as the golden fixtures */
} fg_sample_request;

/* samples: receives a new host F32 tensor (VAE space, process_out applied); denoised: NULL or
 * receives the last step's denoised prediction through process_out (the latent itself when
 * there was no step). Both are owned by the caller (fg_tensor_free_host). */
fg_error *fg_sample_latent(const fg_sample_request *req, fg_tensor *samples, fg_tensor *denoised) FG_MUST_CHECK;

/* The default cond_model: one DiT evaluation for one entry, denoised = x - sigma * v, the
 * cond/pooled rows repeated over the latent batch. user: a fg_flux_cond_model. */
typedef struct fg_flux_cond_model {
    const fg_flux_model *model;
    bool guidance_in_model_dtype;
    struct fg_flux_runner *runner; /* optional: steps through a runner (graph replays), else eager */
} fg_flux_cond_model;

fg_error *fg_flux_cond_denoise(void *flux_cond_model, const fg_tensor *x, float sigma, const fg_cond_view *entry,
                               fg_tensor *denoised) FG_MUST_CHECK;

/* The guidance value the DiT receives for an entry: ComfyUI casts it to the model's compute
 * dtype (bf16 for BF16/F8 weights, f16 for F16), then multiplies by 1000 in that dtype; the
 * returned value reproduces that product when the DiT multiplies it by 1000 in float32. */
float fg_flux_effective_guidance(const fg_flux_model *m, float guidance);

#endif
