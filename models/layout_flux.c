/* The FLUX.1 DiT, declared once (BFL names, docs/models.md 1.3; diffusers names, 1.15; the order
 * of the diffusers names is ComfyUI's flux_to_diffusers, which the LoRA key map follows). */
#include "models/layout_flux.h"

#include <stddef.h>

#define S(c, s) {c, FG_FLUX_SYM_##s, 0, 0}
#define S2(c1, s1, c2, s2) {c1, FG_FLUX_SYM_##s1, c2, FG_FLUX_SYM_##s2}
#define NONE {0, 0, 0, 0}

/* A Linear "<name>.weight" [out, in] with a bias; a RMSNorm scale [head_dim]. */
#define LINEAR(g, n, o, i, ...) \
    {.group = FG_FLUX_GROUP_##g, .form = FG_PARAM_LINEAR, .name = n, .out = o, .in = i, .only_block = -1, __VA_ARGS__}
#define QK_SCALE(g, n, ...)                                                                                 \
    {.group = FG_FLUX_GROUP_##g, .form = FG_PARAM_SCALE, .name = n, .out = S(1, HEAD_DIM), .only_block = -1, \
     __VA_ARGS__}
#define IN_DIM 2  /* infer: read dim 1 */
#define OUT_DIM 1 /* infer: read dim 0 */

static const fg_param_desc params[FG_FLUX_PARAM_COUNT] = {
    [FG_FLUX_IMG_IN] = LINEAR(MODEL, "img_in", S(1, HIDDEN), S(1, IN), .infer = OUT_DIM | IN_DIM),
    [FG_FLUX_TIME_IN] = LINEAR(MODEL, "time_in.in_layer", S(1, HIDDEN), S(1, TIME), .infer = IN_DIM),
    [FG_FLUX_TIME_OUT] = LINEAR(MODEL, "time_in.out_layer", S(1, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_VECTOR_IN] = LINEAR(MODEL, "vector_in.in_layer", S(1, HIDDEN), S(1, VEC), .infer = IN_DIM),
    [FG_FLUX_VECTOR_OUT] = LINEAR(MODEL, "vector_in.out_layer", S(1, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_GUIDANCE_IN] = LINEAR(MODEL, "guidance_in.in_layer", S(1, HIDDEN), S(1, TIME),
                                   .present_if = FG_FLUX_FLAG_GUIDANCE),
    [FG_FLUX_GUIDANCE_OUT] = LINEAR(MODEL, "guidance_in.out_layer", S(1, HIDDEN), S(1, HIDDEN),
                                    .present_if = FG_FLUX_FLAG_GUIDANCE),
    [FG_FLUX_TXT_IN] = LINEAR(MODEL, "txt_in", S(1, HIDDEN), S(1, CONTEXT), .infer = IN_DIM),

    [FG_FLUX_IMG_MOD] = LINEAR(DOUBLE, "img_mod.lin", S(6, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_IMG_QKV] = LINEAR(DOUBLE, "img_attn.qkv", S(3, HIDDEN), S(1, HIDDEN), .bias_if = FG_FLUX_FLAG_QKV_BIAS),
    [FG_FLUX_IMG_Q_NORM] = QK_SCALE(DOUBLE, "img_attn.norm.query_norm.scale", .infer = OUT_DIM),
    [FG_FLUX_IMG_K_NORM] = QK_SCALE(DOUBLE, "img_attn.norm.key_norm.scale"),
    [FG_FLUX_IMG_PROJ] = LINEAR(DOUBLE, "img_attn.proj", S(1, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_IMG_MLP0] = LINEAR(DOUBLE, "img_mlp.0", S(1, MLP), S(1, HIDDEN), .infer = OUT_DIM),
    [FG_FLUX_IMG_MLP2] = LINEAR(DOUBLE, "img_mlp.2", S(1, HIDDEN), S(1, MLP)),
    [FG_FLUX_TXT_MOD] = LINEAR(DOUBLE, "txt_mod.lin", S(6, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_TXT_QKV] = LINEAR(DOUBLE, "txt_attn.qkv", S(3, HIDDEN), S(1, HIDDEN), .bias_if = FG_FLUX_FLAG_QKV_BIAS),
    [FG_FLUX_TXT_Q_NORM] = QK_SCALE(DOUBLE, "txt_attn.norm.query_norm.scale"),
    [FG_FLUX_TXT_K_NORM] = QK_SCALE(DOUBLE, "txt_attn.norm.key_norm.scale"),
    [FG_FLUX_TXT_PROJ] = LINEAR(DOUBLE, "txt_attn.proj", S(1, HIDDEN), S(1, HIDDEN)),
    [FG_FLUX_TXT_MLP0] = LINEAR(DOUBLE, "txt_mlp.0", S(1, MLP), S(1, HIDDEN)),
    [FG_FLUX_TXT_MLP2] = LINEAR(DOUBLE, "txt_mlp.2", S(1, HIDDEN), S(1, MLP)),

    [FG_FLUX_SINGLE_LINEAR1] = LINEAR(SINGLE, "linear1", S2(3, HIDDEN, 1, MLP), S(1, HIDDEN), .infer = OUT_DIM),
    [FG_FLUX_SINGLE_LINEAR2] = LINEAR(SINGLE, "linear2", S(1, HIDDEN), S2(1, HIDDEN, 1, MLP)),
    [FG_FLUX_SINGLE_Q_NORM] = QK_SCALE(SINGLE, "norm.query_norm.scale", .infer = OUT_DIM),
    [FG_FLUX_SINGLE_K_NORM] = QK_SCALE(SINGLE, "norm.key_norm.scale"),
    [FG_FLUX_SINGLE_MOD] = LINEAR(SINGLE, "modulation.lin", S(3, HIDDEN), S(1, HIDDEN)),

    [FG_FLUX_FINAL_LINEAR] = LINEAR(MODEL, "final_layer.linear", S(1, OUT), S(1, HIDDEN), .infer = OUT_DIM),
    [FG_FLUX_FINAL_MOD] = LINEAR(MODEL, "final_layer.adaLN_modulation.1", S(2, HIDDEN), S(1, HIDDEN)),
};

#define RENAME(g, n, p) {FG_FLUX_GROUP_##g, FG_ALIAS_RENAME, false, n, FG_FLUX_##p, NONE, NONE}
#define LORA_NAME(g, n, p) {FG_FLUX_GROUP_##g, FG_ALIAS_RENAME, true, n, FG_FLUX_##p, NONE, NONE}
#define ROWS(g, n, p, start, len) {FG_FLUX_GROUP_##g, FG_ALIAS_ROWS, false, n, FG_FLUX_##p, start, len}
#define ZERO {0, FG_FLUX_SYM_HIDDEN, 0, 0}
/* q, k and v: the three hidden-sized row blocks, in order, of a fused qkv (or linear1). */
#define QKV_ROWS(g, q, k, v, p)                                                          \
    ROWS(g, q, p, ZERO, S(1, HIDDEN)), ROWS(g, k, p, S(1, HIDDEN), S(1, HIDDEN)), \
        ROWS(g, v, p, S(2, HIDDEN), S(1, HIDDEN))

static const fg_param_alias aliases[] = {
    QKV_ROWS(DOUBLE, "attn.to_q", "attn.to_k", "attn.to_v", IMG_QKV),
    QKV_ROWS(DOUBLE, "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", TXT_QKV),
    RENAME(DOUBLE, "attn.to_out.0", IMG_PROJ),
    RENAME(DOUBLE, "norm1.linear", IMG_MOD),
    RENAME(DOUBLE, "norm1_context.linear", TXT_MOD),
    RENAME(DOUBLE, "attn.norm_q", IMG_Q_NORM),
    RENAME(DOUBLE, "attn.norm_k", IMG_K_NORM),
    RENAME(DOUBLE, "attn.norm_added_q", TXT_Q_NORM),
    RENAME(DOUBLE, "attn.norm_added_k", TXT_K_NORM),
    RENAME(DOUBLE, "ff.net.0.proj", IMG_MLP0),
    RENAME(DOUBLE, "ff.net.2", IMG_MLP2),
    RENAME(DOUBLE, "ff_context.net.0.proj", TXT_MLP0),
    RENAME(DOUBLE, "ff_context.net.2", TXT_MLP2),
    RENAME(DOUBLE, "attn.to_add_out", TXT_PROJ),
    LORA_NAME(DOUBLE, "ff.linear_in", IMG_MLP0),
    LORA_NAME(DOUBLE, "ff.linear_out", IMG_MLP2),
    LORA_NAME(DOUBLE, "ff_context.linear_in", TXT_MLP0),
    LORA_NAME(DOUBLE, "ff_context.linear_out", TXT_MLP2),

    QKV_ROWS(SINGLE, "attn.to_q", "attn.to_k", "attn.to_v", SINGLE_LINEAR1),
    ROWS(SINGLE, "proj_mlp", SINGLE_LINEAR1, S(3, HIDDEN), S(1, MLP)),
    RENAME(SINGLE, "norm.linear", SINGLE_MOD),
    RENAME(SINGLE, "proj_out", SINGLE_LINEAR2),
    RENAME(SINGLE, "attn.norm_q", SINGLE_Q_NORM),
    RENAME(SINGLE, "attn.norm_k", SINGLE_K_NORM),

    RENAME(MODEL, "proj_out", FINAL_LINEAR),
    RENAME(MODEL, "x_embedder", IMG_IN),
    RENAME(MODEL, "time_text_embed.timestep_embedder.linear_1", TIME_IN),
    RENAME(MODEL, "time_text_embed.timestep_embedder.linear_2", TIME_OUT),
    RENAME(MODEL, "time_text_embed.text_embedder.linear_1", VECTOR_IN),
    RENAME(MODEL, "time_text_embed.text_embedder.linear_2", VECTOR_OUT),
    RENAME(MODEL, "time_text_embed.guidance_embedder.linear_1", GUIDANCE_IN),
    RENAME(MODEL, "time_text_embed.guidance_embedder.linear_2", GUIDANCE_OUT),
    RENAME(MODEL, "context_embedder", TXT_IN),
    /* diffusers stores (scale, shift), BFL (shift, scale) */
    {FG_FLUX_GROUP_MODEL, FG_ALIAS_SWAPPED, false, "norm_out.linear", FG_FLUX_FINAL_MOD, NONE, NONE},
};

static const fg_param_group groups[] = {
    [FG_FLUX_GROUP_MODEL] = {"", "", -1},
    [FG_FLUX_GROUP_DOUBLE] = {"double_blocks.", "transformer_blocks.", FG_FLUX_SYM_DEPTH},
    [FG_FLUX_GROUP_SINGLE] = {"single_blocks.", "single_transformer_blocks.", FG_FLUX_SYM_DEPTH_SINGLE},
};

static const char *const sym_names[FG_FLUX_SYM_COUNT] = {
    [FG_FLUX_SYM_HIDDEN] = "hidden",          [FG_FLUX_SYM_MLP] = "MLP width",
    [FG_FLUX_SYM_HEAD_DIM] = "head_dim",      [FG_FLUX_SYM_IN] = "in_channels",
    [FG_FLUX_SYM_OUT] = "out_channels",       [FG_FLUX_SYM_CONTEXT] = "context_in_dim",
    [FG_FLUX_SYM_VEC] = "vec_in_dim",         [FG_FLUX_SYM_TIME] = "time_dim",
    [FG_FLUX_SYM_DEPTH] = "depth",            [FG_FLUX_SYM_DEPTH_SINGLE] = "depth_single",
};

const fg_param_table fg_flux_table = {FG_PARAM_TABLE("flux", groups, params, sym_names), .aliases = aliases,
                                      .naliases = sizeof aliases / sizeof aliases[0]};

void fg_flux_config_to_table(const fg_flux_config *c, fg_table_config *t) {
    *t = (fg_table_config){.dtype = c->dtype};
    int64_t *s = t->sym;
    s[FG_FLUX_SYM_HIDDEN] = c->hidden;
    s[FG_FLUX_SYM_MLP] = c->mlp_hidden;
    s[FG_FLUX_SYM_HEAD_DIM] = c->num_heads > 0 ? c->hidden / c->num_heads : 0;
    s[FG_FLUX_SYM_IN] = c->in_channels;
    s[FG_FLUX_SYM_OUT] = c->out_channels;
    s[FG_FLUX_SYM_CONTEXT] = c->context_in_dim;
    s[FG_FLUX_SYM_VEC] = c->vec_in_dim;
    s[FG_FLUX_SYM_TIME] = c->time_dim;
    s[FG_FLUX_SYM_DEPTH] = c->depth;
    s[FG_FLUX_SYM_DEPTH_SINGLE] = c->depth_single;
    if (c->guidance_embed) t->flags |= 1u << (FG_FLUX_FLAG_GUIDANCE - 1);
    if (c->qkv_bias) t->flags |= 1u << (FG_FLUX_FLAG_QKV_BIAS - 1);
}

void fg_flux_config_from_table(const fg_table_config *t, fg_flux_config *c) {
    const int64_t *s = t->sym;
    int64_t hd = s[FG_FLUX_SYM_HEAD_DIM], h = s[FG_FLUX_SYM_HIDDEN];
    *c = (fg_flux_config){
        .hidden = h,
        .num_heads = hd > 0 && h > 0 && h % hd == 0 ? h / hd : 0,
        .mlp_hidden = s[FG_FLUX_SYM_MLP],
        .depth = s[FG_FLUX_SYM_DEPTH],
        .depth_single = s[FG_FLUX_SYM_DEPTH_SINGLE],
        .in_channels = s[FG_FLUX_SYM_IN],
        .out_channels = s[FG_FLUX_SYM_OUT],
        .context_in_dim = s[FG_FLUX_SYM_CONTEXT],
        .vec_in_dim = s[FG_FLUX_SYM_VEC],
        .time_dim = s[FG_FLUX_SYM_TIME],
        .guidance_embed = (t->flags & (1u << (FG_FLUX_FLAG_GUIDANCE - 1))) != 0,
        .qkv_bias = (t->flags & (1u << (FG_FLUX_FLAG_QKV_BIAS - 1))) != 0,
        .dtype = t->dtype,
    };
}

/* ---- the variants ---------------------------------------------------------------------- */

/* The 12B DiT of every released FLUX.1: the variants differ in the patched input width (Fill:
 * 64 latent + 320 mask and masked-image channels) and in having a guidance embedder. */
#define FLUX_12B(in, guidance)                                                                                  \
    {.hidden = 3072, .num_heads = 24, .mlp_hidden = 12288, .depth = 19, .depth_single = 38, .in_channels = in, \
     .out_channels = 64, .context_in_dim = 4096, .vec_in_dim = 768, .time_dim = 256, .guidance_embed = guidance, \
     .qkv_bias = true, .dtype = FG_BF16}

/* Each is also an mkmodel preset (fg_preset_names reads this list). Kontext has dev's shapes. */
static const fg_flux_variant variants[] = {
    {"flux-dev", "diffusion_models/flux1-dev.safetensors", FLUX_12B(64, true)},
    {"flux-schnell", "diffusion_models/flux1-schnell.safetensors", FLUX_12B(64, false)},
};

const fg_flux_variant *fg_flux_variants(size_t *count) {
    *count = sizeof variants / sizeof variants[0];
    return variants;
}

fg_flux_config fg_flux_config_dev(void) { return variants[0].config; }
fg_flux_config fg_flux_config_schnell(void) { return variants[1].config; }

fg_flux_config fg_flux_config_tiny(void) {
    return (fg_flux_config){.hidden = 256, .num_heads = 2, .mlp_hidden = 1024, .depth = 2, .depth_single = 2,
                            .in_channels = 64, .out_channels = 64, .context_in_dim = 64, .vec_in_dim = 128,
                            .time_dim = 256, .guidance_embed = true, .qkv_bias = true, .dtype = FG_BF16};
}

/* ---- the layout ------------------------------------------------------------------------ */

fg_error *fg_layout_flux(const fg_flux_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_flux: NULL argument");
    const int64_t dims[] = {c->hidden,      c->num_heads,      c->mlp_hidden,     c->depth,
                            c->depth_single + 1, c->in_channels, c->out_channels, c->context_in_dim,
                            c->vec_in_dim,  c->time_dim};
    static const char *const names[] = {"hidden", "num_heads", "mlp_hidden", "depth", "depth_single + 1",
                                        "in_channels", "out_channels", "context_in_dim", "vec_in_dim",
                                        "time_dim"};
    FG_TRY(fg_layout_check_dims("flux", 10, dims, names));
    FG_CHECK_ARG(c->hidden % c->num_heads == 0, "flux config: hidden %lld is not a multiple of %lld heads",
                 (long long)c->hidden, (long long)c->num_heads);
    fg_table_config t;
    fg_flux_config_to_table(c, &t);
    return fg_table_layout(&fg_flux_table, &t, out);
}
