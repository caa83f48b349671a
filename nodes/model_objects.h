/* The MODEL, CLIP and VAE payloads that loader nodes produce, and the process-wide cache of
 * loaded models behind them.
 *
 * A loaded model (a FLUX DiT, a CLIP-L, a T5, an autoencoder) lives in a cache slot keyed by
 * what was loaded and how: kind, resolved real path, options (weight_dtype). Loading the same
 * key again (a second loader node, the next job of a batch) returns the same slot with one
 * more reference; the slot is freed when the last object holding it is dropped, so the cache
 * never keeps a model alive on its own. The fg_objects are cheap wrappers: cloning a MODEL to
 * change its sampling settings shares the loaded DiT. */
#ifndef FG_NODES_MODEL_OBJECTS_H
#define FG_NODES_MODEL_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nodes/value.h"
#include "sampling/model_sampling.h" /* fg_sampling_kind */

typedef struct fg_flux_model fg_flux_model;
typedef struct fg_clip_model fg_clip_model;
typedef struct fg_t5_model fg_t5_model;
typedef struct fg_vae fg_vae;
typedef struct fg_clip_tokenizer fg_clip_tokenizer;
typedef struct fg_t5_tokenizer fg_t5_tokenizer;

/* ---- placement -------------------------------------------------------------------------- */

/* Where loaders put a model: the run's device and the models' activation dtype. On a device
 * other than the CPU the weights are uploaded once (as BF16, in one allocation per model) and
 * the loaded model lives there; on the CPU they stay mapped from the file. NULL means the CPU
 * with F32 activations. The placement is part of the cache key. */
typedef struct fg_model_placement {
    fg_device device;
    fg_dtype act_dtype; /* F32 or BF16 */
} fg_model_placement;

/* ---- the cache -------------------------------------------------------------------------- */

typedef struct fg_loaded fg_loaded; /* one cache slot: a loaded model with a reference count */

/* The model held by a slot (an fg_flux_model*, fg_clip_model*, ... as the slot's kind says). */
void *fg_loaded_model(const fg_loaded *slot);
fg_loaded *fg_loaded_ref(fg_loaded *slot);
/* Drops one reference; the model is freed (and leaves the cache) with the last one. */
void fg_loaded_release(fg_loaded *slot);
/* Loads a model into a new slot, or returns the live slot of the same key with one more
 * reference. The load runs under the cache lock, so two loader nodes asking for one file at
 * once still load it once (a load function must not call back into the cache). */
typedef fg_error *(*fg_model_load_fn)(const void *arg, void **model, void (**free_model)(void *model));
fg_error *fg_model_cache_get(const char *key, fg_model_load_fn load, const void *arg, fg_loaded **out) FG_MUST_CHECK;
/* Number of live slots (tests). */
size_t fg_model_cache_size(void);

/* ---- MODEL ------------------------------------------------------------------------------ */

typedef enum fg_weight_dtype {
    FG_WEIGHT_DEFAULT = 0,   /* the file's dtype */
    FG_WEIGHT_FP8_E4M3FN,    /* cast to fp8 at load, widened per layer at compute */
    FG_WEIGHT_FP8_E4M3FN_FAST, /* as FP8_E4M3FN (no fp8 matmul kernels here): same results */
    FG_WEIGHT_FP8_E5M2,
} fg_weight_dtype;

/* docs/comfyui.md 4.1: dev-type models (guidance_in present) default to ModelSamplingFlux with
 * shift 1.15; schnell-type to ModelSamplingDiscreteFlow with shift 1.0 and multiplier 1.0.
 * ModelSamplingFlux (the node) replaces these in a clone. Prediction is CONST for both. */
typedef struct fg_model_sampling_params {
    fg_sampling_kind kind;
    double shift;      /* mu for FLUX, s for discrete flow */
    double multiplier; /* discrete flow's timestep multiplier (1.0) */
} fg_model_sampling_params;

#define FG_FLUX_DEV_DEFAULT_SHIFT 1.15

/* One LoraLoader in a chain: the LoRA file (real path) and the strength it applies with. */
typedef struct fg_lora_use {
    char *path;
    double strength;
} fg_lora_use;

typedef struct fg_model_obj {
    fg_object base;
    fg_loaded *slot;            /* holds the fg_flux_model (the patched one when LoRAs apply) */
    const fg_flux_model *flux;  /* = the slot's model */
    fg_model_sampling_params sampling;
    /* LoRAs applied, in order (stacked LoraLoaders), and the unpatched DiT they apply to
     * (NULL when none: slot is the base). A patched DiT is built once per distinct
     * (base, LoRA list, strengths) in the model cache; the base is never modified. */
    fg_loaded *base_slot;
    fg_lora_use *loras;
    size_t n_loras;
    fg_model_placement where; /* patched models go where the base is */
} fg_model_obj;

/* Loads (or finds in the cache) the FLUX DiT of `path`: a stand-alone file, an all-in-one
 * checkpoint (model.diffusion_model.) or a diffusers index. */
fg_error *fg_model_obj_load(const char *path, fg_weight_dtype dtype, const fg_model_placement *where,
                            fg_model_obj **out) FG_MUST_CHECK;
/* A new MODEL sharing m's loaded DiT and patches, with other sampling settings. */
fg_error *fg_model_obj_clone(const fg_model_obj *m, fg_model_obj **out) FG_MUST_CHECK;
/* ComfyUI's default sampling of a model: dev (guidance_in) -> FLUX 1.15, else discrete flow 1. */
fg_model_sampling_params fg_model_default_sampling(const fg_flux_model *flux);

/* ---- CLIP ------------------------------------------------------------------------------- */

typedef struct fg_clip_obj {
    fg_object base;
    fg_loaded *clip_l_slot, *t5_slot; /* either may be NULL (CLIPLoader with one encoder) */
    const fg_clip_model *clip_l;
    const fg_t5_model *t5;
    fg_loaded *tokenizers_slot;       /* the built-in CLIP-L BPE and T5 SentencePiece vocabularies */
    char *clip_l_path, *t5_path;      /* the base files (LoRAs rebuild from them) */
    fg_lora_use *loras;               /* as in fg_model_obj; both slots then hold the patched pair */
    size_t n_loras;
    fg_model_placement where;
} fg_clip_obj;

/* The built-in CLIP-L and T5 tokenizers as a cache slot (one more reference). Defined in
 * nodes_conditioning.c, where tokenization happens: the tokenizer headers cannot share a
 * translation unit with the encoder headers (they declare the same names). */
fg_error *fg_flux_tokenizers_acquire(fg_loaded **slot) FG_MUST_CHECK;
/* The tokenizers of a CLIP object (shared by all CLIP objects while one is alive). */
fg_clip_tokenizer *fg_clip_obj_clip_tokenizer(const fg_clip_obj *c);
const fg_t5_tokenizer *fg_clip_obj_t5_tokenizer(const fg_clip_obj *c);

typedef enum fg_text_encoder_kind { FG_TEXT_ENCODER_UNKNOWN = 0, FG_TEXT_ENCODER_CLIP_L, FG_TEXT_ENCODER_T5 } fg_text_encoder_kind;

/* What a text-encoder file holds, from its tensor names (any prefix): CLIP-L when it has
 * "text_model.encoder.layers.1.mlp.fc1.weight" (ComfyUI's test), T5 when it has
 * "encoder.final_layer_norm.weight". */
fg_error *fg_text_encoder_detect(const char *path, fg_text_encoder_kind *out) FG_MUST_CHECK;
/* FLUX text encoding of already tokenized streams (flux_text_encode.h): clip ids/weights
 * [clip_chunks, clip_len], t5 ids/weights [t5_len] (weights NULL: all 1) -> host f32
 * *cond [1, t5_len, d_model] and *pooled [1, hidden]. Both encoders must be present; the error
 * says which one is missing. */
fg_error *fg_clip_obj_encode(const fg_clip_obj *c, const int32_t *clip_ids, const float *clip_weights,
                             int64_t clip_chunks, int64_t clip_len, const int32_t *t5_ids, const float *t5_weights,
                             int64_t t5_len, fg_tensor *cond, fg_tensor *pooled) FG_MUST_CHECK;
/* A CLIP object from stand-alone text-encoder files (either may be NULL). */
fg_error *fg_clip_obj_load(const char *clip_l_path, const char *t5_path, const fg_model_placement *where,
                           fg_clip_obj **out) FG_MUST_CHECK;

/* ---- VAE -------------------------------------------------------------------------------- */

typedef struct fg_vae_obj {
    fg_object base;
    fg_loaded *slot;
    const fg_vae *vae;
} fg_vae_obj;

fg_error *fg_vae_obj_load(const char *path, const fg_model_placement *where, fg_vae_obj **out) FG_MUST_CHECK;

/* ---- LoRA ------------------------------------------------------------------------------- */

/* LoraLoader: `model` and/or `clip` (either may be NULL: LoraLoaderModelOnly) with the LoRA at
 * lora_path applied after the LoRAs they already carry. The file's keys are matched against
 * every model given (comfy/lora.py); keys nothing maps are logged as a warning naming the file
 * (an error when strict), and a file of which nothing maps is an error naming the model it was
 * made for. Outputs are new objects (the inputs are unchanged). */
fg_error *fg_lora_apply_objects(const fg_model_obj *model, const fg_clip_obj *clip, const char *lora_path,
                                double strength_model, double strength_clip, bool strict, fg_model_obj **model_out,
                                fg_clip_obj **clip_out) FG_MUST_CHECK;

/* ---- all-in-one checkpoints ------------------------------------------------------------- */

/* CheckpointLoaderSimple (docs/models.md 1.17): the DiT under "model.diffusion_model.", the VAE
 * under "vae.", CLIP-L under "text_encoders.clip_l.transformer.", T5 under
 * "text_encoders.t5xxl.transformer.". A missing DiT is an error; missing text encoders or VAE
 * leave *clip / *vae NULL (the node outputs None, like ComfyUI). */
fg_error *fg_checkpoint_load(const char *path, const fg_model_placement *where, fg_model_obj **model,
                             fg_clip_obj **clip, fg_vae_obj **vae) FG_MUST_CHECK;

#endif
