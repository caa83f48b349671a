/* Which keys of a LoRA file patch which weights of a FLUX pipeline, exactly as ComfyUI decides
 * it (comfy/lora.py model_lora_keys_unet / model_lora_keys_clip / load_lora, comfy/lora_convert.py
 * convert_lora). tests/fixtures/lora/README.md is the contract. The arithmetic itself lives in
 * models/lora_patch.h; this file turns file keys into ordered fg_lora_patch lists per weight,
 * and lists the keys nothing matched (never silently ignored). */
#ifndef FG_MODELS_LORA_H
#define FG_MODELS_LORA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/lora_patch.h"
#include "models/weights.h"

typedef enum fg_lora_model {
    FG_LORA_MODEL_DIT = 0, /* FLUX DiT, ComfyUI key "diffusion_model.<file key>" */
    FG_LORA_MODEL_CLIP_L,  /* "clip_l.transformer.<file key>" */
    FG_LORA_MODEL_T5,      /* "t5xxl.transformer.<file key>" */
    FG_LORA_MODEL_COUNT,
} fg_lora_model;

/* An open LoRA file with its keys after ComfyUI's convert_lora (the USO rule renames XLabs
 * processor keys), in data-offset order (ComfyUI's dict order). */
typedef struct fg_lora_file fg_lora_file;

fg_error *fg_lora_open(const char *path, fg_lora_file **out) FG_MUST_CHECK;
void fg_lora_close(fg_lora_file *f);
const char *fg_lora_path(const fg_lora_file *f);
/* True when convert_lora renamed the keys (the XLabs/USO rule). */
bool fg_lora_converted(const fg_lora_file *f);
size_t fg_lora_key_count(const fg_lora_file *f);
/* The i-th key after conversion. */
const char *fg_lora_key(const fg_lora_file *f, size_t i);
/* The tensor of a converted key (a view into the file); FG_ERR_NOT_FOUND when absent. */
fg_error *fg_lora_tensor(const fg_lora_file *f, const char *key, fg_tensor *out) FG_MUST_CHECK;
/* What the keys say the file was made for: "FLUX", "SD1.x/SD2.x", "SDXL", "SD3",
 * "XLabs-AI FLUX (processor keys)", ... ("unknown model" when nothing is recognised). */
const char *fg_lora_intended_model(const fg_lora_file *f);

/* One patch for one base-model weight (file key of that model's checkpoint). */
typedef struct fg_lora_weight_patch {
    fg_lora_model model;
    char *weight;   /* e.g. "double_blocks.0.img_attn.qkv.weight" */
    char *prefix;   /* the LoRA prefix that produced it, for messages */
    fg_lora_patch patch;
} fg_lora_weight_patch;

typedef struct fg_lora_match {
    fg_lora_weight_patch *patches; /* ComfyUI's patch order (add_patches) */
    size_t n_patches;
    char **not_loaded;             /* converted file keys nothing used, in file order */
    size_t n_not_loaded;
} fg_lora_match;

/* The base models a LoRA is matched against (NULL = absent: LoraLoaderModelOnly has no text
 * encoders, so their keys are "not loaded"). Views whose names are the model's file keys. */
typedef struct fg_lora_models {
    const fg_weights *model[FG_LORA_MODEL_COUNT];
} fg_lora_models;

/* Builds the prefix map from the models' tensor names, matches every prefix against the file
 * (first suffix form wins) and returns the patches with strength_model for the DiT and
 * strength_clip for the text encoders. The tensors in the patches view into f (keep it open). */
fg_error *fg_lora_match_models(const fg_lora_file *f, const fg_lora_models *models, double strength_model,
                               double strength_clip, fg_lora_match *out) FG_MUST_CHECK;
void fg_lora_match_free(fg_lora_match *m);

/* Errors when nothing of the file maps (naming the model the keys were made for), or, when
 * strict, when any key is not loaded (naming the keys); otherwise logs the not-loaded keys as
 * one warning naming the file. */
fg_error *fg_lora_check_match(const fg_lora_file *f, const fg_lora_match *m, bool strict) FG_MUST_CHECK;

/* A view equal to `base` (the model's file keys, as given to fg_lora_match_models) in which
 * every weight of `model` that patches[0..n) target is replaced: the base weight widened to
 * F32, its patches applied in order (fg_lora_apply_patches), then stored as F32 when keep_f32
 * (exact: what the fixtures compare) or back in the base weight's dtype (ComfyUI's behaviour;
 * a model patched in full does not double its memory). Untouched weights stay zero-copy views;
 * base is never modified and must outlive the result. */
fg_error *fg_lora_build_patched(const fg_weights *base, fg_lora_model model, const fg_lora_weight_patch *patches,
                                size_t n, bool keep_f32, fg_weights **out) FG_MUST_CHECK;

/* `["a", "b"]` (Python json.dumps style, the fixtures' `not_loaded` metadata). Caller frees. */
char *fg_lora_not_loaded_json(const fg_lora_match *m);

#endif
