/* Sigma schedules as ComfyUI's schedulers compute them (docs/comfyui.md 4.5-4.6): float32 arrays,
 * descending, normally ending in 0. */
#ifndef FG_SAMPLING_SCHEDULERS_H
#define FG_SAMPLING_SCHEDULERS_H

#include <stdbool.h>

#include "core/error.h"
#include "sampling/model_sampling.h"
#include "sampling/samplers.h"

typedef enum fg_scheduler {
    FG_SCHED_SIMPLE = 0,
    FG_SCHED_NORMAL,
    FG_SCHED_KARRAS,
    FG_SCHED_EXPONENTIAL,
    FG_SCHED_SGM_UNIFORM,
    FG_SCHED_BETA,
    FG_SCHED_LINEAR_QUADRATIC,
    FG_SCHED_DDIM_UNIFORM,
    FG_SCHED_KL_OPTIMAL,
    FG_SCHED_COUNT
} fg_scheduler;

/* An owned sigma array (n may be 0: "sample nothing"). */
typedef struct fg_sigma_array {
    float *v;
    int n;
} fg_sigma_array;

void fg_sigma_array_free(fg_sigma_array *s);
fg_error *fg_sigmas_from(fg_sigma_array *s, const float *v, int n) FG_MUST_CHECK;

/* ComfyUI's scheduler name ("simple", "beta", ...). Unknown names: FG_ERR_NOT_FOUND listing
 * the known ones. */
fg_error *fg_scheduler_from_name(const char *name, fg_scheduler *out) FG_MUST_CHECK;

/* Largest step count accepted (ComfyUI allows 10000; denoise can multiply it). */
#define FG_MAX_SCHEDULE_STEPS 1000000

/* The full schedule for `steps` (>= 1). */
fg_error *fg_schedule(const fg_model_sampling *ms, fg_scheduler sched, int steps, fg_sigma_array *out) FG_MUST_CHECK;

/* How a node applies denoise and the penultimate-sigma rule. */
typedef enum fg_denoise_rule {
    FG_DENOISE_KSAMPLER = 0, /* full schedule when denoise > 0.9999 */
    FG_DENOISE_BASIC_SCHEDULER, /* full schedule when denoise >= 1.0 */
} fg_denoise_rule;

/* denoise <= 0 -> empty; partial: schedule(int(steps / denoise)) keeping the last steps + 1.
 * discard_penultimate (KSampler with dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2): every
 * schedule is computed for one more step and its second-to-last sigma removed. */
fg_error *fg_schedule_denoise(const fg_model_sampling *ms, fg_scheduler sched, int steps, double denoise,
                              fg_denoise_rule rule, bool discard_penultimate, fg_sigma_array *out) FG_MUST_CHECK;

/* KSamplerAdvanced: end_at_step cut (force_full_denoise sets the new last sigma to 0), then
 * the start_at_step cut. *unchanged = true when the start cut leaves nothing to sample (the
 * node returns its input latent). Steps are >= 0. */
fg_error *fg_sigmas_advanced_slice(fg_sigma_array *s, int start_at_step, int end_at_step, bool force_full_denoise,
                                   bool *unchanged) FG_MUST_CHECK;

/* ---- the sampling nodes' schedules: one entry ---------------------------------------------- */

/* Which node's rules cut the schedule (docs/comfyui.md 4.6):
 * KSAMPLER: denoise with the KSampler rule, and its sampler's penultimate rule;
 * KSAMPLER_ADVANCED: the full schedule with the penultimate rule, then the end/start cut;
 * BASIC_SCHEDULER: denoise with BasicScheduler's rule, no penultimate rule. */
typedef enum fg_schedule_node {
    FG_SCHEDULE_KSAMPLER = 0,
    FG_SCHEDULE_KSAMPLER_ADVANCED,
    FG_SCHEDULE_BASIC_SCHEDULER,
} fg_schedule_node;

typedef struct fg_schedule_request {
    fg_schedule_node node;
    fg_sampling_kind sampling;      /* the MODEL's sampling: ModelSamplingFlux's mu or the flow shift */
    double shift;
    fg_scheduler scheduler;
    int steps;                      /* 1 .. FG_MAX_SCHEDULE_STEPS */
    double denoise;                 /* KSampler, BasicScheduler (KSamplerAdvanced: unused) */
    fg_sampler sampler;             /* KSampler, KSamplerAdvanced */
    int start_at_step, end_at_step; /* KSamplerAdvanced, >= 0 */
    bool force_full_denoise;        /* KSamplerAdvanced: return_with_leftover_noise off */
} fg_schedule_request;

/* The node's sigmas into *out (n may be 0). *unchanged: KSamplerAdvanced's start cut left
 * nothing to sample, so the node returns its latent as it is (false for the other nodes). */
fg_error *fg_schedule_for_node(const fg_schedule_request *r, fg_sigma_array *out, bool *unchanged) FG_MUST_CHECK;

#endif
