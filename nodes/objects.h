/* The payloads of ComfyUI's data types that travel between nodes. Each is an fg_object
 * (reference counted; nodes never change an object they received, they build a new one).
 * Tensors here are host (CPU) f32 tensors owned by the object; model objects hold the loaded
 * models, shared by reference.
 *
 * Constructors take ownership of the tensors passed in (the caller's fg_tensor is cleared). */
#ifndef FG_NODES_OBJECTS_H
#define FG_NODES_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nodes/value.h"
#include "sampling/noise.h" /* fg_noise_source */

/* LATENT: {"samples": [B,C,h,w] in VAE space, "noise_mask"?: [B or 1,1,h,w],
 *          "batch_index"?: [B] ints} */
typedef struct fg_latent {
    fg_object base;
    fg_tensor samples;
    fg_tensor noise_mask;     /* data NULL when absent */
    int64_t *batch_index;     /* NULL when absent */
    size_t batch_index_count;
} fg_latent;

fg_error *fg_latent_new(fg_tensor *samples, fg_latent **out) FG_MUST_CHECK;
/* A new latent with the same noise_mask / batch_index (copied) and new samples. */
fg_error *fg_latent_with_samples(const fg_latent *like, fg_tensor *samples, fg_latent **out) FG_MUST_CHECK;

/* IMAGE: [B,H,W,C] f32 in 0..1 (C = 3); MASK: [B,H,W] f32, 1 = masked. Both use this. */
typedef struct fg_image_obj {
    fg_object base;
    fg_tensor pixels;
} fg_image_obj;

fg_error *fg_image_obj_new(fg_type type /* IMAGE or MASK */, fg_tensor *pixels, fg_image_obj **out) FG_MUST_CHECK;

/* CONDITIONING: a list of entries [cond, extras]. For FLUX: cond = T5 states [1,L,4096],
 * pooled = CLIP-L pooled [1,768]; optional guidance and timestep range (docs/comfyui.md 3.3). */
typedef struct fg_cond_entry {
    fg_tensor cond;
    fg_tensor pooled;         /* data NULL when absent */
    bool has_guidance;        /* FluxGuidance / CLIPTextEncodeFlux set it */
    double guidance;
    double start_percent, end_percent; /* 0 and 1 unless ConditioningSetTimestepRange */
} fg_cond_entry;

typedef struct fg_conditioning {
    fg_object base;
    fg_cond_entry *entries;
    size_t count;
} fg_conditioning;

/* Entries are moved in (their tensors now belong to the conditioning). */
fg_error *fg_conditioning_new(fg_cond_entry *entries, size_t count, fg_conditioning **out) FG_MUST_CHECK;
/* Deep copy (tensors copied), for nodes that change extras. */
fg_error *fg_conditioning_copy(const fg_conditioning *c, fg_conditioning **out) FG_MUST_CHECK;

/* SIGMAS: [n] f32, descending. */
typedef struct fg_sigmas {
    fg_object base;
    fg_tensor sigmas;
} fg_sigmas;

fg_error *fg_sigmas_new(fg_tensor *sigmas, fg_sigmas **out) FG_MUST_CHECK;

/* SAMPLER: a sampler name with its options (KSamplerSelect uses the defaults). */
typedef struct fg_sampler_obj {
    fg_object base;
    char name[48];
    double eta, s_noise;
} fg_sampler_obj;

/* The name must fit (it is one of ComfyUI's sampler names). */
fg_error *fg_sampler_obj_new(const char *name, double eta, double s_noise, fg_sampler_obj **out) FG_MUST_CHECK;

/* NOISE: RandomNoise(seed) or DisableNoise (seed 0, zeros), as sampling/noise.h's source. */
typedef struct fg_noise_obj {
    fg_object base;
    fg_noise_source source;
} fg_noise_obj;

fg_error *fg_noise_obj_new(fg_noise_source source, fg_noise_obj **out) FG_MUST_CHECK;

/* GUIDER: BasicGuider (negative NULL, cfg 1) or CFGGuider. Holds references. */
typedef struct fg_guider {
    fg_object base;
    fg_object *model;
    fg_object *positive;
    fg_object *negative;
    double cfg;
} fg_guider;

/* Takes new references to model, positive and negative (NULL for BasicGuider). */
fg_error *fg_guider_new(fg_object *model, fg_object *positive, fg_object *negative, double cfg,
                        fg_guider **out) FG_MUST_CHECK;

#endif
