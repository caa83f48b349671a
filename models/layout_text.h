/* The parameter tables (layout_table.h) of the two text encoders FLUX uses: CLIP-L (HF
 * CLIPTextModel, docs/models.md 3.2) and the T5 v1.1 encoder (HF T5EncoderModel, docs/models.md 4.2). */
#ifndef FG_MODELS_LAYOUT_TEXT_H
#define FG_MODELS_LAYOUT_TEXT_H

#include "models/layout_table.h"
#include "models/model_layouts.h"

/* ---- CLIP ---- */

typedef enum fg_clip_sym {
    FG_CLIP_SYM_HIDDEN, FG_CLIP_SYM_INTERMEDIATE, FG_CLIP_SYM_VOCAB,
    FG_CLIP_SYM_POSITIONS, FG_CLIP_SYM_LAYERS, FG_CLIP_SYM_COUNT
} fg_clip_sym;

enum { FG_CLIP_FLAG_TEXT_PROJECTION = 1 };
enum { FG_CLIP_GROUP_MODEL, FG_CLIP_GROUP_LAYER };

typedef enum fg_clip_param {
    FG_CLIP_TOKEN_EMBEDDING, FG_CLIP_POSITION_EMBEDDING,
    /* per layer */
    FG_CLIP_LN1, FG_CLIP_Q, FG_CLIP_K, FG_CLIP_V, FG_CLIP_OUT, FG_CLIP_LN2, FG_CLIP_FC1, FG_CLIP_FC2,
    FG_CLIP_FINAL_NORM, FG_CLIP_TEXT_PROJECTION, FG_CLIP_PARAM_COUNT
} fg_clip_param;

extern const fg_param_table fg_clip_table;

/* The head size of every CLIP text model (the file cannot say; heads = hidden / 64). */
#define FG_CLIP_TABLE_HEAD_DIM 64

void fg_clip_config_to_table(const fg_clip_config *c, fg_table_config *t);
void fg_clip_config_from_table(const fg_table_config *t, fg_clip_config *c);

/* ---- T5 ---- */

typedef enum fg_t5_sym {
    FG_T5_SYM_D_MODEL, FG_T5_SYM_INNER /* heads x d_kv */, FG_T5_SYM_HEADS, FG_T5_SYM_D_FF,
    FG_T5_SYM_VOCAB, FG_T5_SYM_BUCKETS, FG_T5_SYM_LAYERS, FG_T5_SYM_COUNT
} fg_t5_sym;

enum { FG_T5_GROUP_MODEL, FG_T5_GROUP_BLOCK };

typedef enum fg_t5_param {
    /* per block; the position bias in block 0 only */
    FG_T5_Q, FG_T5_K, FG_T5_V, FG_T5_O, FG_T5_RELATIVE_BIAS, FG_T5_LN0, FG_T5_WI0, FG_T5_WI1, FG_T5_WO, FG_T5_LN1,
    FG_T5_FINAL_NORM, FG_T5_SHARED, FG_T5_PARAM_COUNT
} fg_t5_param;

extern const fg_param_table fg_t5_table;

void fg_t5_config_to_table(const fg_t5_config *c, fg_table_config *t);
void fg_t5_config_from_table(const fg_table_config *t, fg_t5_config *c);

#endif
