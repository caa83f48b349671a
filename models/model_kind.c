/* Model detection: find anchor tensors (one per family) under any prefix, attribute every
 * tensor to the component whose prefix and key families fit it best, then read the config
 * from shapes and compare the file with the layout that config generates. Every lookup
 * checks presence and rank first: the file may be valid safetensors but hostile otherwise. */
#include "models/model_kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/layout_ae.h"
#include "models/layout_flux.h"
#include "models/layout_text.h"

#define MAX_DIM (INT64_C(1) << 32)

typedef struct anchor {
    fg_model_family family;
    bool diffusers;
    const char *suffix;
} anchor;

static const anchor anchors[] = {
    {FG_FAMILY_FLUX, false, FG_FLUX_ANCHOR},
    {FG_FAMILY_FLUX, true, FG_FLUX_DIFFUSERS_ANCHOR},
    {FG_FAMILY_CLIP, false, "text_model.embeddings.token_embedding.weight"},
    {FG_FAMILY_T5, false, "encoder.block.0.layer.0.SelfAttention.q.weight"},
    {FG_FAMILY_AE, false, "encoder.conv_in.weight"},
    {FG_FAMILY_AE, false, "decoder.conv_in.weight"},
};

/* Key stems each family owns (after the prefix); FLUX: its table says. */
static const char *const clip_stems[] = {"text_model.", "text_projection", "logit_scale", NULL};
static const char *const t5_stems[] = {"encoder.block.", "encoder.final_layer_norm.", "encoder.embed_tokens.",
                                       "shared.", "decoder.block.", "decoder.final_layer_norm.",
                                       "decoder.embed_tokens.", "lm_head.", NULL};
static const char *const ae_stems[] = {"encoder.", "decoder.", "quant_conv.", "post_quant_conv.", NULL};

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static const char *const *family_stems(const fg_model_component *c) {
    switch (c->family) {
    case FG_FAMILY_CLIP: return clip_stems;
    case FG_FAMILY_T5: return t5_stems;
    case FG_FAMILY_AE: return ae_stems;
    default: return NULL;
    }
}

static bool component_owns(const fg_model_component *c, const char *name) {
    if (!starts_with(name, c->prefix)) return false;
    const char *rest = name + strlen(c->prefix);
    if (c->family == FG_FAMILY_FLUX) return fg_table_owns_name(&fg_flux_table, rest, c->diffusers);
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

static int64_t count_indexed(const fg_safetensors *st, const char *prefix, const char *stem) {
    return fg_table_count_blocks(st, prefix, stem);
}

static fg_dtype dtype_of(const fg_safetensors *st, const char *prefix, const char *key) {
    const fg_st_entry *e = find(st, prefix, key);
    return e ? e->dtype : FG_F32;
}

/* ---- per-family inference -------------------------------------------------------------- */

/* The family's parameter table, or NULL (the AE's layout is generated in model_layouts.c). */
static const fg_param_table *table_of(fg_model_family f) {
    switch (f) {
    case FG_FAMILY_FLUX: return &fg_flux_table;
    case FG_FAMILY_CLIP: return &fg_clip_table;
    case FG_FAMILY_T5: return &fg_t5_table;
    default: return NULL;
    }
}

/* The config a table reads from the shapes under prefix (lenient: unknown stays 0). */
static fg_table_config infer_table(const fg_safetensors *st, const char *prefix, fg_model_family f, bool diffusers) {
    fg_table_st_ctx ctx = {st, prefix};
    fg_table_lookup look = fg_table_lookup_safetensors(&ctx, diffusers);
    fg_table_config t;
    fg_error_free(fg_table_infer(table_of(f), &look, &t)); /* errors only for bad arguments */
    return t;
}

/* shape[axis] of the weight of an AE module (layout_ae.c names it), 0 when unknown. */
static int64_t ae_dim(const fg_safetensors *st, const char *prefix, bool decoder, fg_ae_slot slot, int64_t level,
                      const char *suffix, int axis) {
    char name[FG_LAYOUT_NAME_MAX + 32];
    fg_error *err = fg_ae_module_name(decoder, slot, level, 0, suffix, name, sizeof name);
    if (err) {
        fg_error_free(err);
        return 0;
    }
    return dim(st, prefix, name, axis);
}

static void infer_ae(const fg_safetensors *st, const char *p, fg_ae_config *c) {
    c->ch = ae_dim(st, p, false, FG_AE_CONV_IN, 0, ".weight", 0);
    c->in_channels = ae_dim(st, p, false, FG_AE_CONV_IN, 0, ".weight", 1);
    c->out_ch = ae_dim(st, p, true, FG_AE_CONV_OUT, 0, ".weight", 0);
    c->z_channels = ae_dim(st, p, true, FG_AE_CONV_IN, 0, ".weight", 1);
    if (!c->z_channels) c->z_channels = ae_dim(st, p, false, FG_AE_CONV_OUT, 0, ".weight", 0) / 2;
    c->levels = count_indexed(st, p, "encoder.down.");
    if (c->levels > FG_AE_MAX_LEVELS) c->levels = 0;
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t out = ae_dim(st, p, false, FG_AE_BLOCK, i, ".conv1.weight", 0);
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
    const char *layout = comp->diffusers ? " in diffusers layout" : "";
    size_t nvariants;
    const fg_flux_variant *variants = fg_flux_variants(&nvariants);
    for (size_t i = 0; i < nvariants; i++) {
        if (flux_same_arch(c, &variants[i].config)) {
            snprintf(comp->kind, sizeof comp->kind, "%s%s", variants[i].name, layout);
            return;
        }
    }
    snprintf(comp->kind, sizeof comp->kind,
             "flux (custom size: hidden %lld, %lld double + %lld single blocks, %lld heads, context %lld, "
             "vec %lld, %s)%s",
             (long long)c->hidden, (long long)c->depth, (long long)c->depth_single, (long long)c->num_heads,
             (long long)c->context_in_dim, (long long)c->vec_in_dim, c->guidance_embed ? "guidance" : "no guidance",
             layout);
}

/* "clip-l", or "clip-l (custom size: hidden 128, 2 layers)" when the width or the depth differs
 * from the reference model's. */
static void name_text_encoder(fg_model_component *comp, const char *name, const char *width_name, int64_t width,
                              int64_t layers, int64_t ref_width, int64_t ref_layers) {
    if (width == ref_width && layers == ref_layers) snprintf(comp->kind, sizeof comp->kind, "%s", name);
    else
        snprintf(comp->kind, sizeof comp->kind, "%s (custom size: %s %lld, %lld layers)", name, width_name,
                 (long long)width, (long long)layers);
}

static void name_component(fg_model_component *comp) {
    const fg_model_config *mc = &comp->config;
    switch (comp->family) {
    case FG_FAMILY_FLUX: name_flux(comp); break;
    case FG_FAMILY_CLIP: {
        fg_clip_config ref = fg_clip_config_l();
        name_text_encoder(comp, "clip-l", "hidden", mc->u.clip.hidden, mc->u.clip.layers, ref.hidden, ref.layers);
        break;
    }
    case FG_FAMILY_T5: {
        fg_t5_config ref = fg_t5_config_xxl();
        name_text_encoder(comp, "t5-xxl", "d_model", mc->u.t5.d_model, mc->u.t5.layers, ref.d_model, ref.layers);
        break;
    }
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

/* The tensor under the other name some exports use (T5's tied embedding, docs/models.md 4.2). */
static const fg_st_entry *find_alt(const fg_safetensors *st, const fg_model_component *comp, const char *name) {
    const fg_param_table *t = table_of(comp->family);
    for (size_t i = 0; t && i < t->nparams; i++)
        if (t->params[i].alt_name && t->params[i].group == 0 && strcmp(t->params[i].name, name) == 0)
            return find(st, comp->prefix, t->params[i].alt_name);
    return NULL;
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
        if (!e) e = find_alt(st, comp, t->name);
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
    fg_table_config t;
    switch (comp->family) {
    case FG_FAMILY_FLUX:
        t = infer_table(st, comp->prefix, comp->family, comp->diffusers);
        fg_flux_config_from_table(&t, &comp->config.u.flux);
        break;
    case FG_FAMILY_CLIP:
        t = infer_table(st, comp->prefix, comp->family, false);
        fg_clip_config_from_table(&t, &comp->config.u.clip);
        break;
    case FG_FAMILY_T5:
        t = infer_table(st, comp->prefix, comp->family, false);
        fg_t5_config_from_table(&t, &comp->config.u.t5);
        break;
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
