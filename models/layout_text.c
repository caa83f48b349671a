/* CLIP-L and T5-XXL, declared once: the tensors in state-dict order with their shapes in
 * config terms (the generators of mkmodel's files, `info`'s check and inference). */
#include "models/layout_text.h"

/* ---- CLIP-L ----------------------------------------------------------------------------- */

#define C(c, s) {c, FG_CLIP_SYM_##s, 0, 0}
#define CLIP_PARAM(g, f, n, o, i, ...) \
    {.group = FG_CLIP_GROUP_##g, .form = FG_PARAM_##f, .name = n, .out = o, .in = i, .only_block = -1, __VA_ARGS__}
#define D C(1, HIDDEN)

static const fg_param_desc clip_params[FG_CLIP_PARAM_COUNT] = {
    [FG_CLIP_TOKEN_EMBEDDING] = CLIP_PARAM(MODEL, EMBEDDING, "text_model.embeddings.token_embedding.weight",
                                           C(1, VOCAB), D, .infer = 3),
    [FG_CLIP_POSITION_EMBEDDING] = CLIP_PARAM(MODEL, EMBEDDING, "text_model.embeddings.position_embedding.weight",
                                              C(1, POSITIONS), D, .infer = 1),
    [FG_CLIP_LN1] = CLIP_PARAM(LAYER, NORM, "layer_norm1", D, D),
    [FG_CLIP_Q] = CLIP_PARAM(LAYER, LINEAR, "self_attn.q_proj", D, D),
    [FG_CLIP_K] = CLIP_PARAM(LAYER, LINEAR, "self_attn.k_proj", D, D),
    [FG_CLIP_V] = CLIP_PARAM(LAYER, LINEAR, "self_attn.v_proj", D, D),
    [FG_CLIP_OUT] = CLIP_PARAM(LAYER, LINEAR, "self_attn.out_proj", D, D),
    [FG_CLIP_LN2] = CLIP_PARAM(LAYER, NORM, "layer_norm2", D, D),
    [FG_CLIP_FC1] = CLIP_PARAM(LAYER, LINEAR, "mlp.fc1", C(1, INTERMEDIATE), D, .infer = 1),
    [FG_CLIP_FC2] = CLIP_PARAM(LAYER, LINEAR, "mlp.fc2", D, C(1, INTERMEDIATE)),
    [FG_CLIP_FINAL_NORM] = CLIP_PARAM(MODEL, NORM, "text_model.final_layer_norm", D, D),
    /* optional in real files and unused by FLUX */
    [FG_CLIP_TEXT_PROJECTION] = CLIP_PARAM(MODEL, LINEAR, "text_projection", D, D, .bias_if = FG_BIAS_NEVER,
                                           .present_if = FG_CLIP_FLAG_TEXT_PROJECTION),
};
#undef D

/* No diffusers names: the model, then its layers. */
static const fg_param_group clip_groups[] = {{"", NULL, -1}, {"text_model.encoder.layers.", NULL, FG_CLIP_SYM_LAYERS}};

static const char *const clip_sym_names[FG_CLIP_SYM_COUNT] = {
    [FG_CLIP_SYM_HIDDEN] = "hidden", [FG_CLIP_SYM_INTERMEDIATE] = "intermediate", [FG_CLIP_SYM_VOCAB] = "vocab",
    [FG_CLIP_SYM_POSITIONS] = "positions", [FG_CLIP_SYM_LAYERS] = "layers",
};

const fg_param_table fg_clip_table = {FG_PARAM_TABLE("clip", clip_groups, clip_params, clip_sym_names)};

void fg_clip_config_to_table(const fg_clip_config *c, fg_table_config *t) {
    *t = (fg_table_config){
        .sym = {[FG_CLIP_SYM_HIDDEN] = c->hidden, [FG_CLIP_SYM_INTERMEDIATE] = c->intermediate,
                [FG_CLIP_SYM_VOCAB] = c->vocab, [FG_CLIP_SYM_POSITIONS] = c->positions,
                [FG_CLIP_SYM_LAYERS] = c->layers},
        .flags = c->text_projection ? 1u << (FG_CLIP_FLAG_TEXT_PROJECTION - 1) : 0,
        .dtype = c->dtype,
    };
}

void fg_clip_config_from_table(const fg_table_config *t, fg_clip_config *c) {
    int64_t hidden = t->sym[FG_CLIP_SYM_HIDDEN];
    *c = (fg_clip_config){
        .hidden = hidden,
        .layers = t->sym[FG_CLIP_SYM_LAYERS],
        .heads = hidden > 0 && hidden % FG_CLIP_TABLE_HEAD_DIM == 0 ? hidden / FG_CLIP_TABLE_HEAD_DIM : 0,
        .intermediate = t->sym[FG_CLIP_SYM_INTERMEDIATE],
        .vocab = t->sym[FG_CLIP_SYM_VOCAB],
        .positions = t->sym[FG_CLIP_SYM_POSITIONS],
        .text_projection = (t->flags & (1u << (FG_CLIP_FLAG_TEXT_PROJECTION - 1))) != 0,
        .dtype = t->dtype,
    };
}

/* ---- T5 v1.1 encoder ---------------------------------------------------------------------- */

#define T(c, s) {c, FG_T5_SYM_##s, 0, 0}
/* T5's linears have no bias; its norms are RMSNorm scales. */
#define T5_LINEAR(n, o, i, ...)                                                                                  \
    {.group = FG_T5_GROUP_BLOCK, .form = FG_PARAM_LINEAR, .name = n, .out = o, .in = i, .bias_if = FG_BIAS_NEVER, \
     .only_block = -1, __VA_ARGS__}
#define T5_SCALE(g, n) \
    {.group = FG_T5_GROUP_##g, .form = FG_PARAM_SCALE, .name = n, .out = T(1, D_MODEL), .only_block = -1}
#define D T(1, D_MODEL)

static const fg_param_desc t5_params[FG_T5_PARAM_COUNT] = {
    [FG_T5_Q] = T5_LINEAR("layer.0.SelfAttention.q", T(1, INNER), D, .infer = 3),
    [FG_T5_K] = T5_LINEAR("layer.0.SelfAttention.k", T(1, INNER), D),
    [FG_T5_V] = T5_LINEAR("layer.0.SelfAttention.v", T(1, INNER), D),
    [FG_T5_O] = T5_LINEAR("layer.0.SelfAttention.o", D, T(1, INNER)),
    [FG_T5_RELATIVE_BIAS] = {.group = FG_T5_GROUP_BLOCK, .form = FG_PARAM_EMBEDDING,
                             .name = "layer.0.SelfAttention.relative_attention_bias.weight", .out = T(1, BUCKETS),
                             .in = T(1, HEADS), .infer = 3, .only_block = 0},
    [FG_T5_LN0] = T5_SCALE(BLOCK, "layer.0.layer_norm.weight"),
    [FG_T5_WI0] = T5_LINEAR("layer.1.DenseReluDense.wi_0", T(1, D_FF), D, .infer = 1),
    [FG_T5_WI1] = T5_LINEAR("layer.1.DenseReluDense.wi_1", T(1, D_FF), D),
    [FG_T5_WO] = T5_LINEAR("layer.1.DenseReluDense.wo", D, T(1, D_FF)),
    [FG_T5_LN1] = T5_SCALE(BLOCK, "layer.1.layer_norm.weight"),
    [FG_T5_FINAL_NORM] = T5_SCALE(MODEL, "encoder.final_layer_norm.weight"),
    /* the token embedding, tied; exports name it either way (docs/models.md 4.2) */
    [FG_T5_SHARED] = {.group = FG_T5_GROUP_MODEL, .form = FG_PARAM_EMBEDDING, .name = "shared.weight",
                      .out = T(1, VOCAB), .in = D, .infer = 3, .only_block = -1,
                      .alt_name = "encoder.embed_tokens.weight"},
};
#undef D

static const fg_param_group t5_groups[] = {{"", NULL, -1}, {"encoder.block.", NULL, FG_T5_SYM_LAYERS}};

static const char *const t5_sym_names[FG_T5_SYM_COUNT] = {
    [FG_T5_SYM_D_MODEL] = "d_model", [FG_T5_SYM_INNER] = "heads x d_kv", [FG_T5_SYM_HEADS] = "heads",
    [FG_T5_SYM_D_FF] = "d_ff",       [FG_T5_SYM_VOCAB] = "vocab",        [FG_T5_SYM_BUCKETS] = "buckets",
    [FG_T5_SYM_LAYERS] = "layers",
};

const fg_param_table fg_t5_table = {FG_PARAM_TABLE("t5", t5_groups, t5_params, t5_sym_names)};

void fg_t5_config_to_table(const fg_t5_config *c, fg_table_config *t) {
    *t = (fg_table_config){
        .sym = {[FG_T5_SYM_D_MODEL] = c->d_model, [FG_T5_SYM_INNER] = c->heads * c->d_kv, [FG_T5_SYM_HEADS] = c->heads,
                [FG_T5_SYM_D_FF] = c->d_ff, [FG_T5_SYM_VOCAB] = c->vocab, [FG_T5_SYM_BUCKETS] = c->buckets,
                [FG_T5_SYM_LAYERS] = c->layers},
        .dtype = c->dtype,
    };
}

void fg_t5_config_from_table(const fg_table_config *t, fg_t5_config *c) {
    int64_t inner = t->sym[FG_T5_SYM_INNER], heads = t->sym[FG_T5_SYM_HEADS];
    *c = (fg_t5_config){
        .d_model = t->sym[FG_T5_SYM_D_MODEL],
        .layers = t->sym[FG_T5_SYM_LAYERS],
        .heads = heads,
        .d_kv = heads > 0 && inner % heads == 0 ? inner / heads : 0,
        .d_ff = t->sym[FG_T5_SYM_D_FF],
        .vocab = t->sym[FG_T5_SYM_VOCAB],
        .buckets = t->sym[FG_T5_SYM_BUCKETS],
        .dtype = t->dtype,
    };
}
