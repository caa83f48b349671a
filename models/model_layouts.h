/* Tensor layouts (names, dtypes, shapes, in state-dict order) of the four FLUX.1 components,
 * generated from a config struct so that one generator yields both the full-size models and
 * the tiny test models (docs/models.md sections 1.3, 2.5, 3.2, 4.2). The DiT, CLIP and T5
 * come from their parameter tables (layout_flux.h, layout_text.h), the autoencoder from code
 * here. Used by `mkmodel` (random-weight files), by `info` (checking a file against the
 * layout its shapes imply) and by benchmarks that build random models in device memory. */
#ifndef FG_MODELS_MODEL_LAYOUTS_H
#define FG_MODELS_MODEL_LAYOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

typedef struct fg_flux_config {
    int64_t hidden;         /* H */
    int64_t num_heads;      /* H / head_dim */
    int64_t mlp_hidden;     /* M, 4H in the real model */
    int64_t depth;          /* double-stream blocks */
    int64_t depth_single;   /* single-stream blocks */
    int64_t in_channels;    /* patched: 16 latent channels x 2 x 2 */
    int64_t out_channels;   /* patched */
    int64_t context_in_dim; /* T5 width */
    int64_t vec_in_dim;     /* CLIP pooled width */
    int64_t time_dim;       /* sinusoidal embedding width (256) */
    bool guidance_embed;    /* dev: true, schnell: false */
    bool qkv_bias;
    fg_dtype dtype;
} fg_flux_config;

typedef struct fg_clip_config {
    int64_t hidden, layers, heads, intermediate, vocab, positions;
    bool text_projection; /* optional in real files; unused by FLUX */
    fg_dtype dtype;
} fg_clip_config;

typedef struct fg_t5_config {
    int64_t d_model, layers, heads, d_kv, d_ff, vocab, buckets;
    fg_dtype dtype;
} fg_t5_config;

#define FG_AE_MAX_LEVELS 8
typedef struct fg_ae_config {
    int64_t ch, levels, ch_mult[FG_AE_MAX_LEVELS], num_res_blocks, z_channels, in_channels, out_ch;
    fg_dtype dtype;
} fg_ae_config;

typedef enum fg_model_family {
    FG_FAMILY_UNKNOWN = 0,
    FG_FAMILY_FLUX,
    FG_FAMILY_CLIP,
    FG_FAMILY_T5,
    FG_FAMILY_AE,
} fg_model_family;

/* How random weights for a tensor are drawn (mkmodel); chosen so a forward pass stays O(1). */
typedef enum fg_init_kind {
    FG_INIT_WEIGHT,     /* normal / sqrt(fan_in) */
    FG_INIT_BIAS,       /* small normal */
    FG_INIT_ONES,       /* norm scales */
    FG_INIT_ZEROS,      /* norm biases */
    FG_INIT_EMBEDDING,  /* unit normal rows */
} fg_init_kind;

#define FG_LAYOUT_NAME_MAX 96

typedef struct fg_layout_tensor {
    char name[FG_LAYOUT_NAME_MAX];
    fg_dtype dtype;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    fg_init_kind init;
    int64_t fan_in; /* for FG_INIT_WEIGHT */
} fg_layout_tensor;

typedef struct fg_layout {
    fg_layout_tensor *tensors;
    size_t count, cap;
} fg_layout;

/* Each generator appends to *out (initialise it with {0}); configs are validated (positive
 * sizes, divisibility) first. Free with fg_layout_free. */
fg_error *fg_layout_flux(const fg_flux_config *c, fg_layout *out) FG_MUST_CHECK;
fg_error *fg_layout_clip(const fg_clip_config *c, fg_layout *out) FG_MUST_CHECK;
fg_error *fg_layout_t5(const fg_t5_config *c, fg_layout *out) FG_MUST_CHECK;
fg_error *fg_layout_ae(const fg_ae_config *c, fg_layout *out) FG_MUST_CHECK;
void fg_layout_free(fg_layout *l);
/* Appends one tensor (name shorter than FG_LAYOUT_NAME_MAX) to l. */
fg_error *fg_layout_add(fg_layout *l, const char *name, fg_dtype dtype, int ndim, const int64_t *shape,
                        fg_init_kind init, int64_t fan_in) FG_MUST_CHECK;
/* Every dims[i] in 1 .. 2^24, else an error naming names[i] ("flux config: hidden = 0 ..."). */
fg_error *fg_layout_check_dims(const char *what, int n, const int64_t *dims, const char *const *names) FG_MUST_CHECK;

int64_t fg_layout_tensor_numel(const fg_layout_tensor *t);
uint64_t fg_layout_params(const fg_layout *l);
uint64_t fg_layout_bytes(const fg_layout *l);
/* Deterministic random contents for t, converted to t->dtype, as t->init says (unit-variance
 * values with bounded tails, scaled by 1/sqrt(fan_in) for weights). The values depend only
 * on (seed, t->name, element index), never on the thread count or on the other tensors, so a
 * tensor shared by two presets gets the same bytes in both. nbytes must be t's byte size. */
fg_error *fg_layout_fill_random(const fg_layout_tensor *t, uint64_t seed, void *buf, size_t nbytes) FG_MUST_CHECK;
/* "name DTYPE 3072x64" (the manifest line format) into buf; returns buf. */
char *fg_layout_tensor_line(const fg_layout_tensor *t, char *buf, size_t cap);

/* ---- presets -------------------------------------------------------------------------- */

typedef struct fg_model_config {
    fg_model_family family;
    union {
        fg_flux_config flux;
        fg_clip_config clip;
        fg_t5_config t5;
        fg_ae_config ae;
    } u;
} fg_model_config;

fg_error *fg_layout_from_config(const fg_model_config *c, fg_layout *out) FG_MUST_CHECK;

/* One file a preset writes: its path below the ComfyUI models folder and its config. */
typedef struct fg_preset_file {
    const char *relpath; /* e.g. "diffusion_models/flux1-dev.safetensors" */
    fg_model_config config;
} fg_preset_file;

#define FG_PRESET_MAX_FILES 4

/* Presets: "tiny" (the four tiny fixture models), "flux-dev", "flux-schnell", "clip-l",
 * "t5xxl", "ae". Returns the number of files (0 for an unknown name). */
size_t fg_preset_files(const char *preset, fg_preset_file files[FG_PRESET_MAX_FILES]);
/* Space-separated preset names, for usage messages. */
const char *fg_preset_names(void);

/* The reference configs (full size and the tiny fixtures). */
fg_flux_config fg_flux_config_dev(void);
fg_flux_config fg_flux_config_schnell(void);
fg_flux_config fg_flux_config_tiny(void);
fg_clip_config fg_clip_config_l(void);
fg_clip_config fg_clip_config_tiny(void);
fg_t5_config fg_t5_config_xxl(void);
fg_t5_config fg_t5_config_tiny(void);
fg_ae_config fg_ae_config_flux(void);
fg_ae_config fg_ae_config_tiny(void);

#endif
