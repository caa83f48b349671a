/* The sampling nodes' door into sampling/: nodes_sampling.c describes what a node asks for
 * (a schedule cut, a sampling run) in these small request structs of plain numbers, tensors
 * and names, and sampling_bridge.c turns them into the sampling layer's objects (model
 * sampling tables, sigma arrays, conditioning views, the CFG guider). Keeping the node files
 * free of the sampler's internals keeps each side readable. */
#ifndef FG_NODES_SAMPLING_BRIDGE_H
#define FG_NODES_SAMPLING_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

typedef struct fg_flux_model fg_flux_model;

/* A MODEL's sampling: kind 0 = ModelSamplingFlux (shift = mu), 1 = discrete flow (shift). */
typedef struct fg_sb_model {
    const fg_flux_model *flux;
    int kind;
    double shift;
} fg_sb_model;

/* ModelSamplingFlux's mu for an image size (comfyui.md 4.2). */
double fg_sb_flux_shift(double max_shift, double base_shift, double width, double height);

/* How a schedule is cut: KSampler (denoise, the discard-penultimate rule of some samplers),
 * KSamplerAdvanced (start/end steps, force_full_denoise) or BasicScheduler (its denoise rule). */
typedef struct fg_sb_schedule_request {
    fg_sb_model model;
    const char *scheduler;
    int steps;
    double denoise;
    bool basic_scheduler_rule;
    const char *ksampler_sampler; /* KSampler/KSamplerAdvanced: the sampler name (penultimate rule) */
    bool advanced;                /* apply start/end below */
    int start_at_step, end_at_step;
    bool force_full_denoise;
} fg_sb_schedule_request;

/* *sigmas: a malloc'd float array of *n values (n may be 0). *unchanged: the advanced start cut
 * left nothing to sample (the node returns its latent). */
fg_error *fg_sb_schedule(const fg_sb_schedule_request *r, float **sigmas, int *n, bool *unchanged) FG_MUST_CHECK;

/* One CONDITIONING entry, guidance already defaulted (3.5 without FluxGuidance). */
typedef struct fg_sb_cond {
    const fg_tensor *cond;
    const fg_tensor *pooled; /* may be NULL */
    double guidance;
    double start_percent, end_percent;
} fg_sb_cond;

typedef void (*fg_sb_progress_fn)(void *user, int step, int total);

typedef struct fg_sb_sample_request {
    fg_sb_model model;
    const fg_sb_cond *positive;
    int n_positive;
    const fg_sb_cond *negative; /* may be NULL / 0 (BasicGuider) */
    int n_negative;
    double cfg;
    const fg_tensor *latent;     /* LATENT samples (host F32 [B,C,h,w]) */
    bool add_noise;
    uint64_t noise_seed;         /* prepare_noise */
    const int64_t *batch_index;  /* the latent's batch_index (NULL: none) */
    size_t n_batch_index;
    uint64_t sampler_seed;       /* ancestral noise (seed + 1 inside) */
    const char *sampler_name;
    double eta, s_noise;
    const float *sigmas;
    int n_sigmas;
    fg_sb_progress_fn progress;
    void *progress_user;
    const volatile int *cancel;
} fg_sb_sample_request;

/* The whole pipeline of sampling/sample.h for one latent. samples / denoised (may be NULL)
 * receive host F32 tensors owned by the caller. */
fg_error *fg_sb_sample(const fg_sb_sample_request *r, fg_tensor *samples, fg_tensor *denoised) FG_MUST_CHECK;

/* FG_ERR_UNSUPPORTED / NOT_FOUND for a sampler name the sampling layer does not run. */
fg_error *fg_sb_check_sampler(const char *name) FG_MUST_CHECK;

#endif
