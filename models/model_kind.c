/* Model detection: find anchor tensors (one per family) under any prefix, attribute every
 * tensor to the component whose prefix and key families fit it best, then read the config
 * from shapes and compare the file with the layout that config generates. Every lookup
 * checks presence and rank first: the file may be valid safetensors but hostile otherwise. */
#include "models/model_kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks beyond this index are not counted (depth is the first missing index anyway). */
#define MAX_INDEXED 4096
#define MAX_DIM (INT64_C(1) << 32)

typedef struct anchor {
    fg_model_family family;
    bool diffusers;
    const char *suffix;
} anchor;

static const anchor anchors[] = {
    {FG_FAMILY_FLUX, false, "img_in.weight"},
    {FG_FAMILY_FLUX, true, "x_embedder.weight"},
    {FG_FAMILY_CLIP, false, "text_model.embeddings.token_embedding.weight"},
    {FG_FAMILY_T5, false, "encoder.block.0.layer.0.SelfAttention.q.weight"},
    {FG_FAMILY_AE, false, "encoder.conv_in.weight"},
    {FG_FAMILY_AE, false, "decoder.conv_in.weight"},
};

/* Key stems each family owns (after the prefix). */
static const char *const flux_stems[] = {"img_in.", "time_in.", "vector_in.", "guidance_in.", "txt_in.",
                                         "double_blocks.", "single_blocks.", "final_layer.", NULL};
static const char *const diffusers_stems[] = {"x_embedder.", "context_embedder.", "time_text_embed.",
                                              "transformer_blocks.", "single_transformer_blocks.", "norm_out.",
                                              "proj_out.", NULL};
static const char *const clip_stems[] = {"text_model.", "text_projection", "logit_scale", NULL};
static const char *const t5_stems[] = {"encoder.block.", "encoder.final_layer_norm.", "encoder.embed_tokens.",
                                       "shared.", "decoder.block.", "decoder.final_layer_norm.",
                                       "decoder.embed_tokens.", "lm_head.", NULL};
static const char *const ae_stems[] = {"encoder.", "decoder.", "quant_conv.", "post_quant_conv.", NULL};

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static const char *const *family_stems(const fg_model_component *c) {
    switch (c->family) {
    case FG_FAMILY_FLUX: return c->diffusers ? diffusers_stems : flux_stems;
    case FG_FAMILY_CLIP: return clip_stems;
    case FG_FAMILY_T5: return t5_stems;
    case FG_FAMILY_AE: return ae_stems;
    default: return NULL;
    }
}

static bool component_owns(const fg_model_component *c, const char *name) {
    if (!starts_with(name, c->prefix)) return false;
    const char *rest = name + strlen(c->prefix);
    const char *const *stems = family_stems(c);
    for (size_t i = 0; stems && stems[i]; i++)
        if (starts_with(rest, stems[i])) return true;
    return false;
}

const char *fg_model_family_name(fg_model_family f) {
    switch (f) {
    case FG_FAMILY_FLUX: return "flux";
    case FG_FAMILY_CLIP: return "clip";
    case FG_FAMILY_T5: return "t5";
    case FG_FAMILY_AE: return "ae";
    default: return "unknown";
    }
}

/* ---- shape lookups under a prefix ------------------------------------------------------ */

static const fg_st_entry *find(const fg_safetensors *st, const char *prefix, const char *key) {
    char name[FG_MODEL_PREFIX_MAX + 128];
    int n = snprintf(name, sizeof name, "%s%s", prefix, key);
    if (n < 0 || (size_t)n >= sizeof name) return NULL;
    return fg_safetensors_find(st, name);
}

/* shape[axis] of prefix+key; 0 ("unknown") when absent, of lower rank, or absurdly large
 * (an empty tensor may have any dim), which keeps all later arithmetic far from overflow. */
static int64_t dim(const fg_safetensors *st, const char *prefix, const char *key, int axis) {
    const fg_st_entry *e = find(st, prefix, key);
    if (!e || e->ndim <= axis || e->shape[axis] > MAX_DIM) return 0;
    return e->shape[axis];
}

static int64_t dimf(const fg_safetensors *st, const char *prefix, int axis, const char *fmt, long long i) {
    char key[128];
    snprintf(key, sizeof key, fmt, i);
    return dim(st, prefix, key, axis);
}

static bool present(const fg_safetensors *st, const char *prefix, const char *key) {
    return find(st, prefix, key) != NULL;
}

/* Number of consecutive indices N = 0, 1, ... for which some key "<prefix><stem>N." exists. */
static int64_t count_indexed(const fg_safetensors *st, const char *prefix, const char *stem) {
    unsigned char seen[MAX_INDEXED] = {0};
    size_t plen = strlen(prefix), slen = strlen(stem);
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const char *name = fg_safetensors_entry(st, i)->name;
        if (strncmp(name, prefix, plen) != 0 || strncmp(name + plen, stem, slen) != 0) continue;
        const char *p = name + plen + slen;
        long idx = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++) idx = idx * 10 + (*p - '0');
        if (digits == 0 || *p != '.' || idx >= MAX_INDEXED) continue;
        if (digits > 1 && name[plen + slen] == '0') continue; /* "01" is not block 1 */
        seen[idx] = 1;
    }
    int64_t n = 0;
    while (n < MAX_INDEXED && seen[n]) n++;
    return n;
}

static fg_dtype dtype_of(const fg_safetensors *st, const char *prefix, const char *key) {
    const fg_st_entry *e = find(st, prefix, key);
    return e ? e->dtype : FG_F32;
}

/* ---- per-family inference -------------------------------------------------------------- */

static void flux_heads(fg_flux_config *c, int64_t head_dim) {
    c->num_heads = head_dim > 0 && c->hidden > 0 && c->hidden % head_dim == 0 ? c->hidden / head_dim : 0;
}

static void infer_flux(const fg_safetensors *st, const char *p, fg_flux_config *c) {
    c->hidden = dim(st, p, "img_in.weight", 0);
    c->in_channels = dim(st, p, "img_in.weight", 1);
    c->out_channels = dim(st, p, "final_layer.linear.weight", 0);
    c->context_in_dim = dim(st, p, "txt_in.weight", 1);
    c->vec_in_dim = dim(st, p, "vector_in.in_layer.weight", 1);
    c->time_dim = dim(st, p, "time_in.in_layer.weight", 1);
    c->depth = count_indexed(st, p, "double_blocks.");
    c->depth_single = count_indexed(st, p, "single_blocks.");
    int64_t head_dim = dim(st, p, "double_blocks.0.img_attn.norm.query_norm.scale", 0);
    if (!head_dim) head_dim = dim(st, p, "single_blocks.0.norm.query_norm.scale", 0);
    flux_heads(c, head_dim);
    c->mlp_hidden = dim(st, p, "double_blocks.0.img_mlp.0.weight", 0);
    int64_t linear1 = dim(st, p, "single_blocks.0.linear1.weight", 0);
    if (!c->mlp_hidden && linear1 > 3 * c->hidden) c->mlp_hidden = linear1 - 3 * c->hidden;
    c->guidance_embed = present(st, p, "guidance_in.in_layer.weight");
    c->qkv_bias = present(st, p, "double_blocks.0.img_attn.qkv.bias");
    c->dtype = dtype_of(st, p, "img_in.weight");
}

static void infer_flux_diffusers(const fg_safetensors *st, const char *p, fg_flux_config *c) {
    c->hidden = dim(st, p, "x_embedder.weight", 0);
    c->in_channels = dim(st, p, "x_embedder.weight", 1);
    c->out_channels = dim(st, p, "proj_out.weight", 0);
    c->context_in_dim = dim(st, p, "context_embedder.weight", 1);
    c->vec_in_dim = dim(st, p, "time_text_embed.text_embedder.linear_1.weight", 1);
    c->time_dim = dim(st, p, "time_text_embed.timestep_embedder.linear_1.weight", 1);
    c->depth = count_indexed(st, p, "transformer_blocks.");
    c->depth_single = count_indexed(st, p, "single_transformer_blocks.");
    int64_t head_dim = dim(st, p, "transformer_blocks.0.attn.norm_q.weight", 0);
    if (!head_dim) head_dim = dim(st, p, "single_transformer_blocks.0.attn.norm_q.weight", 0);
    flux_heads(c, head_dim);
    c->mlp_hidden = dim(st, p, "transformer_blocks.0.ff.net.0.proj.weight", 0);
    if (!c->mlp_hidden) c->mlp_hidden = dim(st, p, "single_transformer_blocks.0.proj_mlp.weight", 0);
    c->guidance_embed = present(st, p, "time_text_embed.guidance_embedder.linear_1.weight");
    c->qkv_bias = present(st, p, "transformer_blocks.0.attn.to_q.bias");
    c->dtype = dtype_of(st, p, "x_embedder.weight");
}

static void infer_clip(const fg_safetensors *st, const char *p, fg_clip_config *c) {
    const char *tok = "text_model.embeddings.token_embedding.weight";
    c->vocab = dim(st, p, tok, 0);
    c->hidden = dim(st, p, tok, 1);
    c->positions = dim(st, p, "text_model.embeddings.position_embedding.weight", 0);
    c->layers = count_indexed(st, p, "text_model.encoder.layers.");
    c->heads = c->hidden > 0 && c->hidden % 64 == 0 ? c->hidden / 64 : 0; /* head_dim 64 by convention */
    c->intermediate = dim(st, p, "text_model.encoder.layers.0.mlp.fc1.weight", 0);
    c->text_projection = present(st, p, "text_projection.weight");
    c->dtype = dtype_of(st, p, tok);
}

static void infer_t5(const fg_safetensors *st, const char *p, fg_t5_config *c) {
    const char *emb = present(st, p, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    const char *bias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    c->vocab = dim(st, p, emb, 0);
    c->d_model = dim(st, p, emb, 1);
    if (!c->d_model) c->d_model = dim(st, p, "encoder.block.0.layer.0.SelfAttention.q.weight", 1);
    c->layers = count_indexed(st, p, "encoder.block.");
    c->buckets = dim(st, p, bias, 0);
    c->heads = dim(st, p, bias, 1);
    int64_t inner = dim(st, p, "encoder.block.0.layer.0.SelfAttention.q.weight", 0);
    c->d_kv = c->heads > 0 && inner % c->heads == 0 ? inner / c->heads : 0;
    c->d_ff = dim(st, p, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight", 0);
    c->dtype = dtype_of(st, p, "encoder.block.0.layer.0.SelfAttention.q.weight");
}

static void infer_ae(const fg_safetensors *st, const char *p, fg_ae_config *c) {
    c->ch = dim(st, p, "encoder.conv_in.weight", 0);
    c->in_channels = dim(st, p, "encoder.conv_in.weight", 1);
    c->out_ch = dim(st, p, "decoder.conv_out.weight", 0);
    c->z_channels = dim(st, p, "decoder.conv_in.weight", 1);
    if (!c->z_channels) c->z_channels = dim(st, p, "encoder.conv_out.weight", 0) / 2;
    c->levels = count_indexed(st, p, "encoder.down.");
    if (c->levels > FG_AE_MAX_LEVELS) c->levels = 0;
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t out = dimf(st, p, 0, "encoder.down.%lld.block.0.conv1.weight", (long long)i);
        c->ch_mult[i] = c->ch > 0 && out % c->ch == 0 ? out / c->ch : 0;
    }
    c->num_res_blocks = count_indexed(st, p, "encoder.down.0.block.");
    c->dtype = dtype_of(st, p, c->ch ? "encoder.conv_in.weight" : "decoder.conv_in.weight");
}

/* ---- kind names ------------------------------------------------------------------------- */

static bool flux_same_arch(const fg_flux_config *a, const fg_flux_config *b) {
    return a->hidden == b->hidden && a->num_heads == b->num_heads && a->mlp_hidden == b->mlp_hidden &&
           a->depth == b->depth && a->depth_single == b->depth_single && a->in_channels == b->in_channels &&
           a->out_channels == b->out_channels && a->context_in_dim == b->context_in_dim &&
           a->vec_in_dim == b->vec_in_dim && a->time_dim == b->time_dim && a->guidance_embed == b->guidance_embed &&
           a->qkv_bias == b->qkv_bias;
}

static bool ae_same_arch(const fg_ae_config *a, const fg_ae_config *b) {
    if (a->ch != b->ch || a->levels != b->levels || a->num_res_blocks != b->num_res_blocks ||
        a->z_channels != b->z_channels || a->in_channels != b->in_channels || a->out_ch != b->out_ch)
        return false;
    for (int64_t i = 0; i < a->levels; i++)
        if (a->ch_mult[i] != b->ch_mult[i]) return false;
    return true;
}

static void name_flux(fg_model_component *comp) {
    const fg_flux_config *c = &comp->config.u.flux;
    fg_flux_config dev = fg_flux_config_dev(), schnell = fg_flux_config_schnell();
    const char *layout = comp->diffusers ? " in diffusers layout" : "";
    if (flux_same_arch(c, &dev)) snprintf(comp->kind, sizeof comp->kind, "flux-dev%s", layout);
    else if (flux_same_arch(c, &schnell)) snprintf(comp->kind, sizeof comp->kind, "flux-schnell%s", layout);
    else
        snprintf(comp->kind, sizeof comp->kind,
                 "flux (custom size: hidden %lld, %lld double + %lld single blocks, %lld heads, context %lld, "
                 "vec %lld, %s)%s",
                 (long long)c->hidden, (long long)c->depth, (long long)c->depth_single, (long long)c->num_heads,
                 (long long)c->context_in_dim, (long long)c->vec_in_dim,
                 c->guidance_embed ? "guidance" : "no guidance", layout);
}

static void name_component(fg_model_component *comp) {
    const fg_model_config *mc = &comp->config;
    switch (comp->family) {
    case FG_FAMILY_FLUX: name_flux(comp); break;
    case FG_FAMILY_CLIP:
        if (mc->u.clip.hidden == 768 && mc->u.clip.layers == 12) snprintf(comp->kind, sizeof comp->kind, "clip-l");
        else
            snprintf(comp->kind, sizeof comp->kind, "clip-l (custom size: hidden %lld, %lld layers)",
                     (long long)mc->u.clip.hidden, (long long)mc->u.clip.layers);
        break;
    case FG_FAMILY_T5:
        if (mc->u.t5.d_model == 4096 && mc->u.t5.layers == 24) snprintf(comp->kind, sizeof comp->kind, "t5-xxl");
        else
            snprintf(comp->kind, sizeof comp->kind, "t5-xxl (custom size: d_model %lld, %lld layers)",
                     (long long)mc->u.t5.d_model, (long long)mc->u.t5.layers);
        break;
    case FG_FAMILY_AE: {
        const fg_ae_config *c = &mc->u.ae;
        fg_ae_config ref = fg_ae_config_flux();
        if (c->z_channels != 16)
            snprintf(comp->kind, sizeof comp->kind, "autoencoder (z_channels %lld: not the FLUX VAE)",
                     (long long)c->z_channels);
        else if (ae_same_arch(c, &ref)) snprintf(comp->kind, sizeof comp->kind, "flux autoencoder");
        else {
            char mult[64] = "";
            for (int64_t i = 0, len = 0; i < c->levels && len < (int64_t)sizeof mult; i++)
                len += snprintf(mult + len, sizeof mult - (size_t)len, i ? ",%lld" : "%lld", (long long)c->ch_mult[i]);
            snprintf(comp->kind, sizeof comp->kind, "flux autoencoder (custom size: ch %lld, ch_mult %s, %lld res blocks)",
                     (long long)c->ch, mult, (long long)c->num_res_blocks);
        }
        break;
    }
    default: snprintf(comp->kind, sizeof comp->kind, "unknown"); break;
    }
}

char *fg_model_component_hparams(const fg_model_component *comp, char *buf, size_t cap) {
    const fg_model_config *mc = &comp->config;
    if (!cap) return buf;
    buf[0] = '\0';
    switch (comp->family) {
    case FG_FAMILY_FLUX: {
        const fg_flux_config *c = &mc->u.flux;
        snprintf(buf, cap,
                 "hidden %lld, heads %lld (head_dim %lld), depth %lld, single depth %lld, in_channels %lld, "
                 "out_channels %lld, context %lld, vec %lld, mlp %lld, guidance %s, qkv_bias %s",
                 (long long)c->hidden, (long long)c->num_heads,
                 (long long)(c->num_heads ? c->hidden / c->num_heads : 0), (long long)c->depth,
                 (long long)c->depth_single, (long long)c->in_channels, (long long)c->out_channels,
                 (long long)c->context_in_dim, (long long)c->vec_in_dim, (long long)c->mlp_hidden,
                 c->guidance_embed ? "yes" : "no", c->qkv_bias ? "yes" : "no");
        break;
    }
    case FG_FAMILY_CLIP: {
        const fg_clip_config *c = &mc->u.clip;
        snprintf(buf, cap, "hidden %lld, layers %lld, heads %lld (hidden/64), intermediate %lld, vocab %lld, positions %lld",
                 (long long)c->hidden, (long long)c->layers, (long long)c->heads, (long long)c->intermediate,
                 (long long)c->vocab, (long long)c->positions);
        break;
    }
    case FG_FAMILY_T5: {
        const fg_t5_config *c = &mc->u.t5;
        snprintf(buf, cap, "d_model %lld, layers %lld, heads %lld, d_kv %lld, d_ff %lld, vocab %lld, buckets %lld",
                 (long long)c->d_model, (long long)c->layers, (long long)c->heads, (long long)c->d_kv,
                 (long long)c->d_ff, (long long)c->vocab, (long long)c->buckets);
        break;
    }
    case FG_FAMILY_AE: {
        const fg_ae_config *c = &mc->u.ae;
        size_t len = (size_t)snprintf(buf, cap, "ch %lld, ch_mult ", (long long)c->ch);
        for (int64_t i = 0; i < c->levels && len < cap; i++)
            len += (size_t)snprintf(buf + len, cap - len, i ? ",%lld" : "%lld", (long long)c->ch_mult[i]);
        if (len < cap)
            snprintf(buf + len, cap - len, "%s, z_channels %lld, num_res_blocks %lld", c->levels ? "" : "?",
                     (long long)c->z_channels, (long long)c->num_res_blocks);
        break;
    }
    default: break;
    }
    return buf;
}

/* ---- layout check ----------------------------------------------------------------------- */

static bool same_shape(const fg_st_entry *e, const fg_layout_tensor *t) {
    if (e->ndim != t->ndim) return false;
    for (int i = 0; i < t->ndim; i++)
        if (e->shape[i] != t->shape[i]) return false;
    return true;
}

static void note_problem(fg_model_component *comp, const char *what, const char *name) {
    if (comp->layout_problem[0]) return;
    snprintf(comp->layout_problem, sizeof comp->layout_problem, "%s: %s", what, name);
}

static void check_layout(const fg_safetensors *st, fg_model_component *comp) {
    if (comp->family == FG_FAMILY_FLUX && comp->diffusers) {
        snprintf(comp->layout_problem, sizeof comp->layout_problem, "not checked (diffusers names)");
        return;
    }
    fg_layout layout = {0};
    fg_error *err = fg_layout_from_config(&comp->config, &layout);
    if (err) {
        snprintf(comp->layout_problem, sizeof comp->layout_problem, "not checked: %s", fg_error_message(err));
        fg_error_free(err);
        return;
    }
    size_t found = 0;
    for (size_t i = 0; i < layout.count; i++) {
        const fg_layout_tensor *t = &layout.tensors[i];
        const fg_st_entry *e = find(st, comp->prefix, t->name);
        /* T5 exports name the tied embedding either way (models.md 4.2). */
        if (!e && strcmp(t->name, "shared.weight") == 0) e = find(st, comp->prefix, "encoder.embed_tokens.weight");
        if (!e) {
            comp->layout_missing++;
            note_problem(comp, "missing", t->name);
            continue;
        }
        found++;
        if (!same_shape(e, t)) {
            comp->layout_mismatched++;
            note_problem(comp, "unexpected shape", e->name);
        }
    }
    comp->layout_extra = comp->tensors > found ? comp->tensors - found : 0;
    comp->layout_checked = true;
    fg_layout_free(&layout);
}

/* ---- discovery and attribution ----------------------------------------------------------- */

static void add_component(fg_model_kind *k, const anchor *a, const char *name, size_t plen) {
    if (plen >= FG_MODEL_PREFIX_MAX) return;
    for (size_t i = 0; i < k->ncomponents; i++) {
        const fg_model_component *c = &k->components[i];
        if (c->family == a->family && strlen(c->prefix) == plen && strncmp(c->prefix, name, plen) == 0) return;
    }
    if (k->ncomponents == FG_MODEL_MAX_COMPONENTS) return;
    fg_model_component *c = &k->components[k->ncomponents++];
    c->family = a->family;
    c->diffusers = a->diffusers;
    memcpy(c->prefix, name, plen);
    c->prefix[plen] = '\0';
}

/* Components in anchor order (FLUX, CLIP, T5, AE), so that on equal prefixes the more
 * specific T5 stems win over the AE's catch-all "encoder."/"decoder.". */
static void discover(const fg_safetensors *st, fg_model_kind *k) {
    size_t n = fg_safetensors_count(st);
    for (size_t a = 0; a < sizeof anchors / sizeof anchors[0]; a++) {
        size_t slen = strlen(anchors[a].suffix);
        for (size_t i = 0; i < n; i++) {
            const char *name = fg_safetensors_entry(st, i)->name;
            size_t len = strlen(name);
            if (len < slen || strcmp(name + len - slen, anchors[a].suffix) != 0) continue;
            size_t plen = len - slen;
            if (plen > 0 && name[plen - 1] != '.') continue; /* "ximg_in.weight" is no anchor */
            add_component(k, &anchors[a], name, plen);
        }
    }
}

static uint64_t entry_numel(const fg_st_entry *e) {
    uint64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
    return n;
}

static void attribute(const fg_safetensors *st, fg_model_kind *k) {
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        fg_model_component *best = NULL;
        size_t best_len = 0;
        for (size_t c = 0; c < k->ncomponents; c++) {
            fg_model_component *comp = &k->components[c];
            size_t plen = strlen(comp->prefix);
            if (component_owns(comp, e->name) && (!best || plen > best_len)) {
                best = comp;
                best_len = plen;
            }
        }
        if (best) {
            best->tensors++;
            best->params += entry_numel(e);
        } else {
            k->other_tensors++;
        }
    }
}

static void infer(const fg_safetensors *st, fg_model_component *comp) {
    comp->config.family = comp->family;
    switch (comp->family) {
    case FG_FAMILY_FLUX:
        if (comp->diffusers) infer_flux_diffusers(st, comp->prefix, &comp->config.u.flux);
        else infer_flux(st, comp->prefix, &comp->config.u.flux);
        break;
    case FG_FAMILY_CLIP: infer_clip(st, comp->prefix, &comp->config.u.clip); break;
    case FG_FAMILY_T5: infer_t5(st, comp->prefix, &comp->config.u.t5); break;
    case FG_FAMILY_AE: infer_ae(st, comp->prefix, &comp->config.u.ae); break;
    default: break;
    }
}

static void name_file(fg_model_kind *k) {
    if (k->ncomponents == 0) {
        snprintf(k->kind, sizeof k->kind, "unknown");
        return;
    }
    if (k->ncomponents == 1 && k->components[0].prefix[0] == '\0') {
        snprintf(k->kind, sizeof k->kind, "%s", k->components[0].kind);
        return;
    }
    size_t len = (size_t)snprintf(k->kind, sizeof k->kind, "checkpoint:");
    for (size_t i = 0; i < k->ncomponents && len < sizeof k->kind; i++)
        len += (size_t)snprintf(k->kind + len, sizeof k->kind - len, "%s %s", i ? " +" : "", k->components[i].kind);
}

fg_error *fg_model_kind_detect(const fg_safetensors *st, fg_model_kind *out) {
    FG_CHECK_ARG(st && out, "fg_model_kind_detect: NULL argument");
    memset(out, 0, sizeof *out);
    discover(st, out);
    attribute(st, out);
    for (size_t i = 0; i < out->ncomponents; i++) {
        fg_model_component *comp = &out->components[i];
        infer(st, comp);
        name_component(comp);
        check_layout(st, comp);
    }
    name_file(out);
    return NULL;
}
