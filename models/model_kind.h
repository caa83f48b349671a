/* Which model(s) a safetensors file holds, told from tensor names and shapes alone: FLUX DiT
 * (BFL or diffusers names), CLIP-L, T5-XXL encoder, FLUX autoencoder, each stand-alone or
 * inside a ComfyUI all-in-one checkpoint under its key prefix (docs/models.md 1.2, 1.15, 1.17,
 * 2.1, 3.1, 4.1). Hyper-parameters are inferred only where the shapes determine them; a
 * value of 0 means "cannot be read from this file". The loaders will build on this. */
#ifndef FG_MODELS_MODEL_KIND_H
#define FG_MODELS_MODEL_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/model_layouts.h"
#include "core/error.h"
#include "core/safetensors.h"

#define FG_MODEL_PREFIX_MAX 256
#define FG_MODEL_MAX_COMPONENTS 8

typedef struct fg_model_component {
    fg_model_family family;
    bool diffusers;                    /* FLUX with diffusers key names (docs/models.md 1.15) */
    char prefix[FG_MODEL_PREFIX_MAX];  /* "" in stand-alone files, e.g. "vae." in checkpoints */
    char kind[192];                    /* "flux-dev", "clip-l (custom size: ...)", ... */
    fg_model_config config;            /* inferred; dtype = that of the main weight */
    size_t tensors;                    /* tensors attributed to this component */
    uint64_t params;
    /* Comparison with the layout fg_layout_from_config generates for `config` (shapes only,
     * dtypes may differ, e.g. fp8 files): done for native names when the config is complete. */
    bool layout_checked;
    size_t layout_missing, layout_mismatched, layout_extra;
    char layout_problem[192]; /* first problem found, or why no check was possible */
} fg_model_component;

typedef struct fg_model_kind {
    char kind[256];  /* one component's kind, "comfyui checkpoint: a + b + ...", or "unknown" */
    size_t ncomponents;
    fg_model_component components[FG_MODEL_MAX_COMPONENTS];
    size_t other_tensors; /* attributed to no component */
} fg_model_kind;

/* Fills *out from the names and shapes of an opened file. Never fails on odd content (that
 * gives "unknown" or a partial config); errors only for bad arguments. */
fg_error *fg_model_kind_detect(const fg_safetensors *st, fg_model_kind *out) FG_MUST_CHECK;

/* "flux", "clip", "t5", "ae", "unknown". */
const char *fg_model_family_name(fg_model_family f);
/* One-line "hidden 3072, heads 24 (head_dim 128), ..." of what was inferred; returns buf. */
char *fg_model_component_hparams(const fg_model_component *c, char *buf, size_t cap);

#endif
