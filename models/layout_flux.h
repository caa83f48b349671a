/* The FLUX.1 DiT's parameter table (layout_table.h): every tensor of the BFL layout with its
 * shape in config terms, and the diffusers names each is built from. The layout, config
 * inference, kind detection, the loader, the diffusers conversion and the LoRA key map all
 * read this one table, so a variant with other shapes (Fill: in_channels 384) is a config. */
#ifndef FG_MODELS_LAYOUT_FLUX_H
#define FG_MODELS_LAYOUT_FLUX_H

#include "models/layout_table.h"
#include "models/model_layouts.h"

/* A block index beyond this is a hostile or broken file, not a model. */
#define FG_FLUX_MAX_BLOCKS 4096

/* The tensors that tell a FLUX DiT apart, in each naming. */
#define FG_FLUX_ANCHOR "img_in.weight"
#define FG_FLUX_DIFFUSERS_ANCHOR "x_embedder.weight"

typedef enum fg_flux_sym {
    FG_FLUX_SYM_HIDDEN, FG_FLUX_SYM_MLP, FG_FLUX_SYM_HEAD_DIM, FG_FLUX_SYM_IN,
    FG_FLUX_SYM_OUT, FG_FLUX_SYM_CONTEXT, FG_FLUX_SYM_VEC, FG_FLUX_SYM_TIME,
    FG_FLUX_SYM_DEPTH, FG_FLUX_SYM_DEPTH_SINGLE, FG_FLUX_SYM_COUNT
} fg_flux_sym;

/* Flag numbers (bit 1 << (n - 1) of fg_table_config.flags). */
enum { FG_FLUX_FLAG_GUIDANCE = 1, FG_FLUX_FLAG_QKV_BIAS = 2 };

enum { FG_FLUX_GROUP_MODEL, FG_FLUX_GROUP_DOUBLE, FG_FLUX_GROUP_SINGLE };

/* The parameters in state-dict order; the index into fg_flux_table.params. */
typedef enum fg_flux_param {
    /* the inputs and the embedders */
    FG_FLUX_IMG_IN, FG_FLUX_TIME_IN, FG_FLUX_TIME_OUT, FG_FLUX_VECTOR_IN, FG_FLUX_VECTOR_OUT,
    FG_FLUX_GUIDANCE_IN, FG_FLUX_GUIDANCE_OUT, FG_FLUX_TXT_IN,
    /* double blocks: the img stream, then the txt stream */
    FG_FLUX_IMG_MOD, FG_FLUX_IMG_QKV, FG_FLUX_IMG_Q_NORM, FG_FLUX_IMG_K_NORM,
    FG_FLUX_IMG_PROJ, FG_FLUX_IMG_MLP0, FG_FLUX_IMG_MLP2,
    FG_FLUX_TXT_MOD, FG_FLUX_TXT_QKV, FG_FLUX_TXT_Q_NORM, FG_FLUX_TXT_K_NORM,
    FG_FLUX_TXT_PROJ, FG_FLUX_TXT_MLP0, FG_FLUX_TXT_MLP2,
    /* single blocks */
    FG_FLUX_SINGLE_LINEAR1, FG_FLUX_SINGLE_LINEAR2, FG_FLUX_SINGLE_Q_NORM, FG_FLUX_SINGLE_K_NORM,
    FG_FLUX_SINGLE_MOD,
    /* the final layer */
    FG_FLUX_FINAL_LINEAR, FG_FLUX_FINAL_MOD,
    FG_FLUX_PARAM_COUNT
} fg_flux_param;

extern const fg_param_table fg_flux_table;

/* fg_flux_config <-> the table's symbols and flags (num_heads <-> head_dim). */
void fg_flux_config_to_table(const fg_flux_config *c, fg_table_config *t);
void fg_flux_config_from_table(const fg_table_config *t, fg_flux_config *c);

/* The named variants, told apart by shape alone (Kontext has dev's shapes and is named so). */
typedef struct fg_flux_variant {
    const char *name;    /* "flux-dev": `info`'s kind and mkmodel's preset */
    const char *relpath; /* the preset's file below the models folder */
    fg_flux_config config;
} fg_flux_variant;
const fg_flux_variant *fg_flux_variants(size_t *count);

#endif
