#include "unet/flux_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "unet/flux_internal.h"

#define CHECKPOINT_PREFIX "model.diffusion_model."

/* name = stem + suffix, checked for length. */
static fg_error *join(char *buf, size_t cap, const char *stem, const char *suffix) {
    if (snprintf(buf, cap, "%s%s", stem, suffix) >= (int)cap)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s", stem, suffix);
    return NULL;
}

static fg_error *get_linear(const fg_weights *w, const char *stem, int64_t n_out, int64_t n_in, bool bias,
                            fg_flux_linear *l) {
    char name[256];
    FG_TRY(join(name, sizeof name, stem, ".weight"));
    FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(n_out, n_in), &l->w));
    FG_TRY(fg_weights_scale(w, name, &l->w_scale));
    l->has_bias = bias;
    if (!bias) return NULL;
    FG_TRY(join(name, sizeof name, stem, ".bias"));
    return fg_weights_get_shaped(w, name, FG_SHAPE(n_out), &l->b);
}

static fg_error *get_norm(const fg_weights *w, const char *name, int64_t head_dim, fg_tensor *t) {
    return fg_weights_get_shaped(w, name, FG_SHAPE(head_dim), t);
}

static fg_error *load_globals(const fg_weights *w, fg_flux_model *m) {
    const fg_flux_config *a = &m->p.arch;
    int64_t h = a->hidden;
    FG_TRY(get_linear(w, "img_in", h, a->in_channels, true, &m->img_in));
    FG_TRY(get_linear(w, "txt_in", h, a->context_in_dim, true, &m->txt_in));
    FG_TRY(get_linear(w, "time_in.in_layer", h, a->time_dim, true, &m->time_in));
    FG_TRY(get_linear(w, "time_in.out_layer", h, h, true, &m->time_out));
    if (a->guidance_embed) {
        FG_TRY(get_linear(w, "guidance_in.in_layer", h, a->time_dim, true, &m->guidance_in));
        FG_TRY(get_linear(w, "guidance_in.out_layer", h, h, true, &m->guidance_out));
    }
    FG_TRY(get_linear(w, "vector_in.in_layer", h, a->vec_in_dim, true, &m->vector_in));
    FG_TRY(get_linear(w, "vector_in.out_layer", h, h, true, &m->vector_out));
    FG_TRY(get_linear(w, "final_layer.adaLN_modulation.1", 2 * h, h, true, &m->final_mod));
    return get_linear(w, "final_layer.linear", a->out_channels, h, true, &m->final_linear);
}

static fg_error *load_stream(const fg_weights *w, const fg_flux_params *p, int64_t n, const char *s,
                             fg_flux_stream *st) {
    const fg_flux_config *a = &p->arch;
    int64_t h = a->hidden;
    char stem[128];
#define STEM(fmt) (snprintf(stem, sizeof stem, "double_blocks.%lld.%s" fmt, (long long)n, s), stem)
    FG_TRY(get_linear(w, STEM("_mod.lin"), 6 * h, h, true, &st->mod));
    FG_TRY(get_linear(w, STEM("_attn.qkv"), 3 * h, h, a->qkv_bias, &st->qkv));
    FG_TRY(get_norm(w, STEM("_attn.norm.query_norm.scale"), p->head_dim, &st->q_norm));
    FG_TRY(get_norm(w, STEM("_attn.norm.key_norm.scale"), p->head_dim, &st->k_norm));
    FG_TRY(get_linear(w, STEM("_attn.proj"), h, h, true, &st->proj));
    FG_TRY(get_linear(w, STEM("_mlp.0"), a->mlp_hidden, h, true, &st->mlp0));
    FG_TRY(get_linear(w, STEM("_mlp.2"), h, a->mlp_hidden, true, &st->mlp2));
#undef STEM
    return NULL;
}

static fg_error *load_single(const fg_weights *w, const fg_flux_params *p, int64_t n, fg_flux_single_block *b) {
    const fg_flux_config *a = &p->arch;
    int64_t h = a->hidden;
    char stem[128];
#define STEM(suffix) (snprintf(stem, sizeof stem, "single_blocks.%lld.%s", (long long)n, suffix), stem)
    FG_TRY(get_linear(w, STEM("modulation.lin"), 3 * h, h, true, &b->mod));
    FG_TRY(get_linear(w, STEM("linear1"), 3 * h + a->mlp_hidden, h, true, &b->linear1));
    FG_TRY(get_linear(w, STEM("linear2"), h, h + a->mlp_hidden, true, &b->linear2));
    FG_TRY(get_norm(w, STEM("norm.query_norm.scale"), p->head_dim, &b->q_norm));
    FG_TRY(get_norm(w, STEM("norm.key_norm.scale"), p->head_dim, &b->k_norm));
#undef STEM
    return NULL;
}

static fg_error *load_all(fg_flux_model *m) {
    const fg_weights *w = m->weights;
    if (m->diffusers) FG_TRY(fg_flux_convert_diffusers(m->weights));
    FG_TRY(fg_flux_params_infer(w, &m->p));
    const fg_flux_config *a = &m->p.arch;
    m->double_blocks = calloc((size_t)(a->depth ? a->depth : 1), sizeof *m->double_blocks);
    m->single_blocks = calloc((size_t)(a->depth_single ? a->depth_single : 1), sizeof *m->single_blocks);
    if (!m->double_blocks || !m->single_blocks) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "flux blocks");
    FG_TRY(load_globals(w, m));
    for (int64_t n = 0; n < a->depth; n++) {
        FG_TRY(load_stream(w, &m->p, n, "img", &m->double_blocks[n].img));
        FG_TRY(load_stream(w, &m->p, n, "txt", &m->double_blocks[n].txt));
    }
    for (int64_t n = 0; n < a->depth_single; n++) FG_TRY(load_single(w, &m->p, n, &m->single_blocks[n]));
    return NULL;
}

bool fg_flux_is_diffusers(const fg_weights *w) {
    return fg_weights_has(w, "x_embedder.weight") && !fg_weights_has(w, "img_in.weight");
}

fg_error *fg_flux_load_weights(fg_weights *w, fg_flux_model **out) {
    FG_CHECK_ARG(w && out, "fg_flux_load_weights: NULL argument");
    *out = NULL;
    fg_flux_model *m = calloc(1, sizeof *m);
    if (!m) {
        fg_weights_close(w);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "flux model");
    }
    m->weights = w;
    m->device = fg_weights_device(w);
    m->act_dtype = m->device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    m->diffusers = fg_flux_is_diffusers(w);
    fg_error *err = load_all(m);
    if (err) {
        fg_flux_free(m);
        return fg_error_wrapf(err, "loading the FLUX DiT");
    }
    char desc[512];
    FG_LOG_D("flux: %s%s", fg_flux_params_describe(&m->p, desc, sizeof desc), m->diffusers ? " (diffusers names)" : "");
    *out = m;
    return NULL;
}

/* The view holding the DiT: no prefix, or a checkpoint's "model.diffusion_model.". */
static fg_error *find_dit(fg_weights *base, fg_weights **dit) {
    static const char *const anchors[] = {"img_in.weight", "x_embedder.weight"};
    for (int a = 0; a < 2; a++) {
        if (fg_weights_has(base, anchors[a])) return fg_weights_view(base, "", dit);
        char name[64];
        snprintf(name, sizeof name, CHECKPOINT_PREFIX "%s", anchors[a]);
        if (fg_weights_has(base, name)) return fg_weights_view(base, CHECKPOINT_PREFIX, dit);
    }
    return fg_errorf(FG_ERR_NOT_FOUND,
                     "%s: no FLUX DiT in this file (neither img_in.weight nor x_embedder.weight, with or without the "
                     "prefix " CHECKPOINT_PREFIX ")",
                     fg_weights_path(base));
}

fg_error *fg_flux_load(const char *path, fg_flux_model **out) {
    FG_CHECK_ARG(path && out, "fg_flux_load: NULL argument");
    *out = NULL;
    fg_weights *base = NULL, *dit = NULL;
    FG_TRY(fg_weights_open(path, &base));
    fg_error *err = find_dit(base, &dit);
    fg_weights_close(base); /* the view keeps the files open */
    if (err) return err;
    return fg_flux_load_weights(dit, out);
}

void fg_flux_free(fg_flux_model *m) {
    if (!m) return;
    flux_rope_cache_free(m);
    free(m->double_blocks);
    free(m->single_blocks);
    fg_weights_close(m->weights);
    free(m);
}
