/* Layout generators: one function per model family walks the module tree in the order PyTorch
 * lists its state dict, so the output matches the manifests of the real files line by line. */
#include "models/model_layouts.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"

/* Bound on every configured size, so that products of up to four dims never overflow. */
#define FG_LAYOUT_MAX_DIM (INT64_C(1) << 24)

/* Accumulates tensors; the first error sticks and turns later calls into no-ops, which keeps
 * the generators free of error plumbing on every line. */
typedef struct builder {
    fg_layout *out;
    fg_dtype dtype;
    fg_error *err;
} builder;

static void add_tensor(builder *b, fg_init_kind init, int64_t fan_in, int ndim, const int64_t *shape,
                       const char *fmt, ...) FG_PRINTF(6, 7);

static void add_tensor(builder *b, fg_init_kind init, int64_t fan_in, int ndim, const int64_t *shape,
                       const char *fmt, ...) {
    if (b->err) return;
    fg_layout *l = b->out;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        fg_layout_tensor *grown = realloc(l->tensors, cap * sizeof *grown);
        if (!grown) {
            b->err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "layout: out of memory");
            return;
        }
        l->tensors = grown;
        l->cap = cap;
    }
    fg_layout_tensor *t = &l->tensors[l->count];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof t->name) {
        b->err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "layout: tensor name too long");
        return;
    }
    t->dtype = b->dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->init = init;
    t->fan_in = fan_in;
    l->count++;
}

/* "<prefix>.weight" [out, in] and, when bias, "<prefix>.bias" [out]. */
static void linear(builder *b, const char *prefix, int64_t out, int64_t in, bool bias) {
    add_tensor(b, FG_INIT_WEIGHT, in, FG_SHAPE(out, in), "%s.weight", prefix);
    if (bias) add_tensor(b, FG_INIT_BIAS, 0, FG_SHAPE(out), "%s.bias", prefix);
}

static void conv(builder *b, const char *prefix, int64_t out, int64_t in, int64_t k) {
    add_tensor(b, FG_INIT_WEIGHT, in * k * k, FG_SHAPE(out, in, k, k), "%s.weight", prefix);
    add_tensor(b, FG_INIT_BIAS, 0, FG_SHAPE(out), "%s.bias", prefix);
}

/* Affine norm: weight (ones) and bias (zeros). */
static void norm(builder *b, const char *prefix, int64_t n) {
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(n), "%s.weight", prefix);
    add_tensor(b, FG_INIT_ZEROS, 0, FG_SHAPE(n), "%s.bias", prefix);
}

static fg_error *check_dims(const char *what, int n, const int64_t *dims, const char *const *names) {
    for (int i = 0; i < n; i++)
        if (dims[i] <= 0 || dims[i] > FG_LAYOUT_MAX_DIM)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s config: %s = %lld is out of range", what, names[i],
                             (long long)dims[i]);
    return NULL;
}

static fg_error *finish(builder *b, size_t start) {
    if (!b->err) return NULL;
    b->out->count = start; /* drop the half-built part */
    return b->err;
}

/* ---- FLUX DiT (BFL naming, models.md 1.3) ---------------------------------------------- */

static void flux_double_block(builder *b, const fg_flux_config *c, int64_t n, const char *stream) {
    int64_t H = c->hidden, M = c->mlp_hidden, hd = H / c->num_heads;
    char p[FG_LAYOUT_NAME_MAX];
    snprintf(p, sizeof p, "double_blocks.%lld.%s_mod.lin", (long long)n, stream);
    linear(b, p, 6 * H, H, true);
    snprintf(p, sizeof p, "double_blocks.%lld.%s_attn.qkv", (long long)n, stream);
    linear(b, p, 3 * H, H, c->qkv_bias);
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(hd), "double_blocks.%lld.%s_attn.norm.query_norm.scale", (long long)n,
               stream);
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(hd), "double_blocks.%lld.%s_attn.norm.key_norm.scale", (long long)n,
               stream);
    snprintf(p, sizeof p, "double_blocks.%lld.%s_attn.proj", (long long)n, stream);
    linear(b, p, H, H, true);
    snprintf(p, sizeof p, "double_blocks.%lld.%s_mlp.0", (long long)n, stream);
    linear(b, p, M, H, true);
    snprintf(p, sizeof p, "double_blocks.%lld.%s_mlp.2", (long long)n, stream);
    linear(b, p, H, M, true);
}

static void flux_single_block(builder *b, const fg_flux_config *c, int64_t n) {
    int64_t H = c->hidden, M = c->mlp_hidden, hd = H / c->num_heads;
    char p[FG_LAYOUT_NAME_MAX];
    snprintf(p, sizeof p, "single_blocks.%lld.linear1", (long long)n);
    linear(b, p, 3 * H + M, H, true);
    snprintf(p, sizeof p, "single_blocks.%lld.linear2", (long long)n);
    linear(b, p, H, H + M, true);
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(hd), "single_blocks.%lld.norm.query_norm.scale", (long long)n);
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(hd), "single_blocks.%lld.norm.key_norm.scale", (long long)n);
    snprintf(p, sizeof p, "single_blocks.%lld.modulation.lin", (long long)n);
    linear(b, p, 3 * H, H, true);
}

fg_error *fg_layout_flux(const fg_flux_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_flux: NULL argument");
    const int64_t dims[] = {c->hidden,      c->num_heads,      c->mlp_hidden,     c->depth,
                            c->depth_single + 1, c->in_channels, c->out_channels, c->context_in_dim,
                            c->vec_in_dim,  c->time_dim};
    static const char *const names[] = {"hidden", "num_heads", "mlp_hidden", "depth", "depth_single + 1",
                                        "in_channels", "out_channels", "context_in_dim", "vec_in_dim",
                                        "time_dim"};
    FG_TRY(check_dims("flux", 10, dims, names));
    FG_CHECK_ARG(c->hidden % c->num_heads == 0, "flux config: hidden %lld is not a multiple of %lld heads",
                 (long long)c->hidden, (long long)c->num_heads);
    builder b = {out, c->dtype, NULL};
    size_t start = out->count;
    int64_t H = c->hidden;
    linear(&b, "img_in", H, c->in_channels, true);
    linear(&b, "time_in.in_layer", H, c->time_dim, true);
    linear(&b, "time_in.out_layer", H, H, true);
    linear(&b, "vector_in.in_layer", H, c->vec_in_dim, true);
    linear(&b, "vector_in.out_layer", H, H, true);
    if (c->guidance_embed) {
        linear(&b, "guidance_in.in_layer", H, c->time_dim, true);
        linear(&b, "guidance_in.out_layer", H, H, true);
    }
    linear(&b, "txt_in", H, c->context_in_dim, true);
    for (int64_t n = 0; n < c->depth; n++) {
        flux_double_block(&b, c, n, "img");
        flux_double_block(&b, c, n, "txt");
    }
    for (int64_t n = 0; n < c->depth_single; n++) flux_single_block(&b, c, n);
    linear(&b, "final_layer.linear", c->out_channels, H, true);
    linear(&b, "final_layer.adaLN_modulation.1", 2 * H, H, true);
    return finish(&b, start);
}

/* ---- CLIP-L text encoder (HF CLIPTextModel, models.md 3.2) ----------------------------- */

fg_error *fg_layout_clip(const fg_clip_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_clip: NULL argument");
    const int64_t dims[] = {c->hidden, c->layers, c->heads, c->intermediate, c->vocab, c->positions};
    static const char *const names[] = {"hidden", "layers", "heads", "intermediate", "vocab", "positions"};
    FG_TRY(check_dims("clip", 6, dims, names));
    builder b = {out, c->dtype, NULL};
    size_t start = out->count;
    int64_t D = c->hidden;
    add_tensor(&b, FG_INIT_EMBEDDING, 0, FG_SHAPE(c->vocab, D), "text_model.embeddings.token_embedding.weight");
    add_tensor(&b, FG_INIT_EMBEDDING, 0, FG_SHAPE(c->positions, D),
               "text_model.embeddings.position_embedding.weight");
    static const char *const attn[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    char p[FG_LAYOUT_NAME_MAX];
    for (int64_t n = 0; n < c->layers; n++) {
        long long ln = (long long)n;
        snprintf(p, sizeof p, "text_model.encoder.layers.%lld.layer_norm1", ln);
        norm(&b, p, D);
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "text_model.encoder.layers.%lld.self_attn.%s", ln, attn[i]);
            linear(&b, p, D, D, true);
        }
        snprintf(p, sizeof p, "text_model.encoder.layers.%lld.layer_norm2", ln);
        norm(&b, p, D);
        snprintf(p, sizeof p, "text_model.encoder.layers.%lld.mlp.fc1", ln);
        linear(&b, p, c->intermediate, D, true);
        snprintf(p, sizeof p, "text_model.encoder.layers.%lld.mlp.fc2", ln);
        linear(&b, p, D, c->intermediate, true);
    }
    norm(&b, "text_model.final_layer_norm", D);
    if (c->text_projection) linear(&b, "text_projection", D, D, false);
    return finish(&b, start);
}

/* ---- T5 v1.1 encoder (HF T5EncoderModel, models.md 4.2) -------------------------------- */

fg_error *fg_layout_t5(const fg_t5_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_t5: NULL argument");
    const int64_t dims[] = {c->d_model, c->layers, c->heads, c->d_kv, c->d_ff, c->vocab, c->buckets};
    static const char *const names[] = {"d_model", "layers", "heads", "d_kv", "d_ff", "vocab", "buckets"};
    FG_TRY(check_dims("t5", 7, dims, names));
    FG_CHECK_ARG(c->heads * c->d_kv <= FG_LAYOUT_MAX_DIM, "t5 config: heads x d_kv = %lld is out of range",
                 (long long)(c->heads * c->d_kv));
    builder b = {out, c->dtype, NULL};
    size_t start = out->count;
    int64_t D = c->d_model, inner = c->heads * c->d_kv;
    for (int64_t n = 0; n < c->layers; n++) {
        long long ln = (long long)n;
        const char *qkv[] = {"q", "k", "v"};
        for (int i = 0; i < 3; i++)
            add_tensor(&b, FG_INIT_WEIGHT, D, FG_SHAPE(inner, D), "encoder.block.%lld.layer.0.SelfAttention.%s.weight",
                       ln, qkv[i]);
        add_tensor(&b, FG_INIT_WEIGHT, inner, FG_SHAPE(D, inner), "encoder.block.%lld.layer.0.SelfAttention.o.weight",
                   ln);
        if (n == 0)
            add_tensor(&b, FG_INIT_EMBEDDING, 0, FG_SHAPE(c->buckets, c->heads),
                       "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        add_tensor(&b, FG_INIT_ONES, 0, FG_SHAPE(D), "encoder.block.%lld.layer.0.layer_norm.weight", ln);
        add_tensor(&b, FG_INIT_WEIGHT, D, FG_SHAPE(c->d_ff, D), "encoder.block.%lld.layer.1.DenseReluDense.wi_0.weight",
                   ln);
        add_tensor(&b, FG_INIT_WEIGHT, D, FG_SHAPE(c->d_ff, D), "encoder.block.%lld.layer.1.DenseReluDense.wi_1.weight",
                   ln);
        add_tensor(&b, FG_INIT_WEIGHT, c->d_ff, FG_SHAPE(D, c->d_ff),
                   "encoder.block.%lld.layer.1.DenseReluDense.wo.weight", ln);
        add_tensor(&b, FG_INIT_ONES, 0, FG_SHAPE(D), "encoder.block.%lld.layer.1.layer_norm.weight", ln);
    }
    add_tensor(&b, FG_INIT_ONES, 0, FG_SHAPE(D), "encoder.final_layer_norm.weight");
    add_tensor(&b, FG_INIT_EMBEDDING, 0, FG_SHAPE(c->vocab, D), "shared.weight");
    return finish(&b, start);
}

/* ---- FLUX autoencoder (BFL ae.safetensors, models.md 2.5) ------------------------------ */

static void resnet_block(builder *b, const char *prefix, int64_t in, int64_t out) {
    char p[FG_LAYOUT_NAME_MAX];
    snprintf(p, sizeof p, "%s.norm1", prefix);
    norm(b, p, in);
    snprintf(p, sizeof p, "%s.conv1", prefix);
    conv(b, p, out, in, 3);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    norm(b, p, out);
    snprintf(p, sizeof p, "%s.conv2", prefix);
    conv(b, p, out, out, 3);
    if (in != out) {
        snprintf(p, sizeof p, "%s.nin_shortcut", prefix);
        conv(b, p, out, in, 1);
    }
}

static void ae_mid(builder *b, const char *part, int64_t C) {
    char p[FG_LAYOUT_NAME_MAX];
    snprintf(p, sizeof p, "%s.mid.block_1", part);
    resnet_block(b, p, C, C);
    snprintf(p, sizeof p, "%s.mid.attn_1.norm", part);
    norm(b, p, C);
    static const char *const proj[] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.mid.attn_1.%s", part, proj[i]);
        conv(b, p, C, C, 1);
    }
    snprintf(p, sizeof p, "%s.mid.block_2", part);
    resnet_block(b, p, C, C);
}

static void ae_encoder(builder *b, const fg_ae_config *c) {
    char p[FG_LAYOUT_NAME_MAX];
    conv(b, "encoder.conv_in", c->ch, c->in_channels, 3);
    int64_t block_in = c->ch;
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t block_out = c->ch * c->ch_mult[i];
        for (int64_t j = 0; j < c->num_res_blocks; j++) {
            snprintf(p, sizeof p, "encoder.down.%lld.block.%lld", (long long)i, (long long)j);
            resnet_block(b, p, block_in, block_out);
            block_in = block_out;
        }
        if (i != c->levels - 1) {
            snprintf(p, sizeof p, "encoder.down.%lld.downsample.conv", (long long)i);
            conv(b, p, block_in, block_in, 3);
        }
    }
    ae_mid(b, "encoder", block_in);
    norm(b, "encoder.norm_out", block_in);
    conv(b, "encoder.conv_out", 2 * c->z_channels, block_in, 3);
}

/* The decoder is built from the deepest level up, but its ModuleList (and so the state dict)
 * is indexed from level 0: up.i takes the channels of level i+1 (or the deepest level). */
static void ae_decoder(builder *b, const fg_ae_config *c) {
    char p[FG_LAYOUT_NAME_MAX];
    int64_t last = c->levels - 1, deepest = c->ch * c->ch_mult[last];
    conv(b, "decoder.conv_in", deepest, c->z_channels, 3);
    ae_mid(b, "decoder", deepest);
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t block_in = i == last ? deepest : c->ch * c->ch_mult[i + 1];
        int64_t block_out = c->ch * c->ch_mult[i];
        for (int64_t j = 0; j < c->num_res_blocks + 1; j++) {
            snprintf(p, sizeof p, "decoder.up.%lld.block.%lld", (long long)i, (long long)j);
            resnet_block(b, p, block_in, block_out);
            block_in = block_out;
        }
        if (i != 0) {
            snprintf(p, sizeof p, "decoder.up.%lld.upsample.conv", (long long)i);
            conv(b, p, block_out, block_out, 3);
        }
    }
    norm(b, "decoder.norm_out", c->ch * c->ch_mult[0]);
    conv(b, "decoder.conv_out", c->out_ch, c->ch * c->ch_mult[0], 3);
}

fg_error *fg_layout_ae(const fg_ae_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_ae: NULL argument");
    FG_CHECK_ARG(c->levels >= 1 && c->levels <= FG_AE_MAX_LEVELS, "ae config: %lld levels (1..%d allowed)",
                 (long long)c->levels, FG_AE_MAX_LEVELS);
    const int64_t dims[] = {c->ch, c->num_res_blocks, c->z_channels, c->in_channels, c->out_ch};
    static const char *const names[] = {"ch", "num_res_blocks", "z_channels", "in_channels", "out_ch"};
    FG_TRY(check_dims("ae", 5, dims, names));
    for (int64_t i = 0; i < c->levels; i++)
        FG_CHECK_ARG(c->ch_mult[i] > 0 && c->ch_mult[i] <= 64 && c->ch * c->ch_mult[i] <= FG_LAYOUT_MAX_DIM,
                     "ae config: ch_mult[%lld] = %lld is out of range", (long long)i, (long long)c->ch_mult[i]);
    builder b = {out, c->dtype, NULL};
    size_t start = out->count;
    ae_encoder(&b, c);
    ae_decoder(&b, c);
    return finish(&b, start);
}

/* ---- common ---------------------------------------------------------------------------- */

fg_error *fg_layout_from_config(const fg_model_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_from_config: NULL argument");
    switch (c->family) {
    case FG_FAMILY_FLUX: return fg_layout_flux(&c->u.flux, out);
    case FG_FAMILY_CLIP: return fg_layout_clip(&c->u.clip, out);
    case FG_FAMILY_T5: return fg_layout_t5(&c->u.t5, out);
    case FG_FAMILY_AE: return fg_layout_ae(&c->u.ae, out);
    default: return fg_errorf(FG_ERR_INVALID_ARGUMENT, "no layout for an unknown model family");
    }
}

void fg_layout_free(fg_layout *l) {
    if (!l) return;
    free(l->tensors);
    memset(l, 0, sizeof *l);
}

int64_t fg_layout_tensor_numel(const fg_layout_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

uint64_t fg_layout_params(const fg_layout *l) {
    uint64_t n = 0;
    for (size_t i = 0; i < l->count; i++) n += (uint64_t)fg_layout_tensor_numel(&l->tensors[i]);
    return n;
}

uint64_t fg_layout_bytes(const fg_layout *l) {
    uint64_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += (uint64_t)fg_layout_tensor_numel(&l->tensors[i]) * fg_dtype_size(l->tensors[i].dtype);
    return n;
}

char *fg_layout_tensor_line(const fg_layout_tensor *t, char *buf, size_t cap) {
    if (!cap) return buf;
    size_t len = (size_t)snprintf(buf, cap, "%s %s ", t->name, fg_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    return buf;
}

/* ---- reference configs and presets ----------------------------------------------------- */

fg_flux_config fg_flux_config_dev(void) {
    return (fg_flux_config){.hidden = 3072, .num_heads = 24, .mlp_hidden = 12288, .depth = 19, .depth_single = 38,
                            .in_channels = 64, .out_channels = 64, .context_in_dim = 4096, .vec_in_dim = 768,
                            .time_dim = 256, .guidance_embed = true, .qkv_bias = true, .dtype = FG_BF16};
}

fg_flux_config fg_flux_config_schnell(void) {
    fg_flux_config c = fg_flux_config_dev();
    c.guidance_embed = false;
    return c;
}

fg_flux_config fg_flux_config_tiny(void) {
    return (fg_flux_config){.hidden = 256, .num_heads = 2, .mlp_hidden = 1024, .depth = 2, .depth_single = 2,
                            .in_channels = 64, .out_channels = 64, .context_in_dim = 64, .vec_in_dim = 128,
                            .time_dim = 256, .guidance_embed = true, .qkv_bias = true, .dtype = FG_BF16};
}

fg_clip_config fg_clip_config_l(void) {
    return (fg_clip_config){.hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072, .vocab = 49408,
                            .positions = 77, .text_projection = true, .dtype = FG_F16};
}

fg_clip_config fg_clip_config_tiny(void) {
    return (fg_clip_config){.hidden = 128, .layers = 2, .heads = 2, .intermediate = 512, .vocab = 49408,
                            .positions = 77, .text_projection = true, .dtype = FG_F16};
}

fg_t5_config fg_t5_config_xxl(void) {
    return (fg_t5_config){.d_model = 4096, .layers = 24, .heads = 64, .d_kv = 64, .d_ff = 10240, .vocab = 32128,
                          .buckets = 32, .dtype = FG_F16};
}

fg_t5_config fg_t5_config_tiny(void) {
    return (fg_t5_config){.d_model = 64, .layers = 2, .heads = 2, .d_kv = 32, .d_ff = 128, .vocab = 32128,
                          .buckets = 32, .dtype = FG_F16};
}

fg_ae_config fg_ae_config_flux(void) {
    return (fg_ae_config){.ch = 128, .levels = 4, .ch_mult = {1, 2, 4, 4}, .num_res_blocks = 2, .z_channels = 16,
                          .in_channels = 3, .out_ch = 3, .dtype = FG_F32};
}

fg_ae_config fg_ae_config_tiny(void) {
    return (fg_ae_config){.ch = 32, .levels = 4, .ch_mult = {1, 2, 2, 2}, .num_res_blocks = 1, .z_channels = 16,
                          .in_channels = 3, .out_ch = 3, .dtype = FG_F32};
}

static fg_preset_file flux_file(const char *relpath, fg_flux_config c) {
    return (fg_preset_file){relpath, {FG_FAMILY_FLUX, {.flux = c}}};
}

const char *fg_preset_names(void) { return "tiny flux-dev flux-schnell clip-l t5xxl ae"; }

size_t fg_preset_files(const char *preset, fg_preset_file files[FG_PRESET_MAX_FILES]) {
    if (!preset) return 0;
    if (strcmp(preset, "tiny") == 0) {
        files[0] = flux_file("diffusion_models/tiny-flux.safetensors", fg_flux_config_tiny());
        files[1] = (fg_preset_file){"text_encoders/tiny-clip-l.safetensors",
                                    {FG_FAMILY_CLIP, {.clip = fg_clip_config_tiny()}}};
        files[2] = (fg_preset_file){"text_encoders/tiny-t5xxl.safetensors",
                                    {FG_FAMILY_T5, {.t5 = fg_t5_config_tiny()}}};
        files[3] = (fg_preset_file){"vae/tiny-ae.safetensors", {FG_FAMILY_AE, {.ae = fg_ae_config_tiny()}}};
        return 4;
    }
    if (strcmp(preset, "flux-dev") == 0) {
        files[0] = flux_file("diffusion_models/flux1-dev.safetensors", fg_flux_config_dev());
        return 1;
    }
    if (strcmp(preset, "flux-schnell") == 0) {
        files[0] = flux_file("diffusion_models/flux1-schnell.safetensors", fg_flux_config_schnell());
        return 1;
    }
    if (strcmp(preset, "clip-l") == 0) {
        files[0] = (fg_preset_file){"text_encoders/clip_l.safetensors", {FG_FAMILY_CLIP, {.clip = fg_clip_config_l()}}};
        return 1;
    }
    if (strcmp(preset, "t5xxl") == 0) {
        files[0] = (fg_preset_file){"text_encoders/t5xxl_fp16.safetensors", {FG_FAMILY_T5, {.t5 = fg_t5_config_xxl()}}};
        return 1;
    }
    if (strcmp(preset, "ae") == 0) {
        files[0] = (fg_preset_file){"vae/ae.safetensors", {FG_FAMILY_AE, {.ae = fg_ae_config_flux()}}};
        return 1;
    }
    return 0;
}

/* ---- random contents ------------------------------------------------------------------- */

/* Elements per independently seeded stretch: the unit of parallel work and of the f32 scratch
 * buffer (on the stack, so kept small). */
#define FILL_CHUNK 4096

static uint64_t splitmix64(uint64_t x) {
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

typedef struct fill_job {
    const fg_layout_tensor *t;
    uint64_t key; /* mixes seed and name */
    float scale, offset;
    char *dst;
    int64_t numel;
    size_t elem_size;
} fill_job;

/* Sum of four 16-bit uniforms (Irwin-Hall): mean 0, variance 1 after scaling, tails bounded
 * at +-3.47, which keeps fp16/bf16 weights far from overflow. One 64-bit draw per value. */
static void fill_chunks(void *ctx, int64_t begin, int64_t end, int worker) {
    const fill_job *job = ctx;
    float scratch[FILL_CHUNK];
    const float inv_std = 1.0f / 37837.23f; /* 65536 * sqrt(4/12) */
    for (int64_t c = begin; c < end; c++) {
        int64_t first = c * FILL_CHUNK;
        int64_t n = job->numel - first < FILL_CHUNK ? job->numel - first : FILL_CHUNK;
        uint64_t state = splitmix64(job->key ^ ((uint64_t)c * UINT64_C(0xD1B54A32D192ED03)));
        for (int64_t i = 0; i < n; i++) {
            state += UINT64_C(0x9E3779B97F4A7C15);
            uint64_t r = splitmix64(state);
            uint32_t sum = (uint32_t)(r & 0xFFFF) + (uint32_t)((r >> 16) & 0xFFFF) + (uint32_t)((r >> 32) & 0xFFFF) +
                           (uint32_t)(r >> 48);
            float normal = ((float)sum - 131070.0f) * inv_std;
            scratch[i] = job->offset + job->scale * normal;
        }
        fg_convert_from_f32(job->dst + (size_t)first * job->elem_size, job->t->dtype, scratch, (size_t)n);
    }
}

fg_error *fg_layout_fill_random(const fg_layout_tensor *t, uint64_t seed, void *buf, size_t nbytes) {
    FG_CHECK_ARG(t && (buf || nbytes == 0), "fg_layout_fill_random: NULL argument");
    int64_t numel = fg_layout_tensor_numel(t);
    size_t elem = fg_dtype_size(t->dtype);
    FG_CHECK_ARG((uint64_t)numel * elem == nbytes, "tensor '%s': asked to fill %zu bytes, it has %llu", t->name,
                 nbytes, (unsigned long long)((uint64_t)numel * elem));
    uint64_t key = splitmix64(seed);
    for (const char *p = t->name; *p; p++) key = (key ^ (unsigned char)*p) * UINT64_C(0x100000001B3);
    fill_job job = {t, splitmix64(key), 0.0f, 0.0f, buf, numel, elem};
    switch (t->init) {
    case FG_INIT_WEIGHT: job.scale = t->fan_in > 0 ? 1.0f / sqrtf((float)t->fan_in) : 1.0f; break;
    case FG_INIT_BIAS: job.scale = 0.02f; break;
    case FG_INIT_ONES: job.offset = 1.0f; break;
    case FG_INIT_ZEROS: break;
    case FG_INIT_EMBEDDING: job.scale = 1.0f; break;
    }
    int64_t chunks = (numel + FILL_CHUNK - 1) / FILL_CHUNK;
    fg_parallel_for(fg_threadpool_global(), chunks, 16, fill_chunks, &job);
    return NULL;
}
