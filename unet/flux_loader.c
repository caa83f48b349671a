#include "unet/flux_loader.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "unet/flux_internal.h"

#define CHECKPOINT_PREFIX "model.diffusion_model."

/* Where each parameter of models/layout_flux.c lands: an fg_flux_linear (LINEAR) or an
 * fg_tensor (SCALE) in the model, a double block or a single block, by its table group. */
#define IN_MODEL(P, f) [FG_FLUX_##P] = offsetof(fg_flux_model, f)
#define IN_DOUBLE(P, f) [FG_FLUX_##P] = offsetof(fg_flux_double_block, f)
#define IN_SINGLE(P, f) [FG_FLUX_SINGLE_##P] = offsetof(fg_flux_single_block, f)
#define STREAM_FIELDS(P, s)                                                                                     \
    IN_DOUBLE(P##_MOD, s.mod), IN_DOUBLE(P##_QKV, s.qkv), IN_DOUBLE(P##_Q_NORM, s.q_norm),                      \
        IN_DOUBLE(P##_K_NORM, s.k_norm), IN_DOUBLE(P##_PROJ, s.proj), IN_DOUBLE(P##_MLP0, s.mlp0), \
        IN_DOUBLE(P##_MLP2, s.mlp2)
static const size_t field_offset[FG_FLUX_PARAM_COUNT] = {
    IN_MODEL(IMG_IN, img_in), IN_MODEL(TIME_IN, time_in), IN_MODEL(TIME_OUT, time_out),
    IN_MODEL(VECTOR_IN, vector_in), IN_MODEL(VECTOR_OUT, vector_out), IN_MODEL(GUIDANCE_IN, guidance_in),
    IN_MODEL(GUIDANCE_OUT, guidance_out), IN_MODEL(TXT_IN, txt_in), IN_MODEL(FINAL_LINEAR, final_linear),
    IN_MODEL(FINAL_MOD, final_mod), STREAM_FIELDS(IMG, img), STREAM_FIELDS(TXT, txt),
    IN_SINGLE(LINEAR1, linear1), IN_SINGLE(LINEAR2, linear2), IN_SINGLE(Q_NORM, q_norm),
    IN_SINGLE(K_NORM, k_norm), IN_SINGLE(MOD, mod),
};

typedef struct load_ctx {
    fg_flux_model *m;
    fg_table_config config;
} load_ctx;

/* Fills the field of p in the model, the double block or the single block `block`. */
static fg_error *load_param(void *ctx, const fg_param_desc *p, int64_t block) {
    load_ctx *x = ctx;
    fg_flux_model *m = x->m;
    char *base = (char *)m;
    if (p->group == FG_FLUX_GROUP_DOUBLE) base = (char *)&m->double_blocks[block];
    if (p->group == FG_FLUX_GROUP_SINGLE) base = (char *)&m->single_blocks[block];
    size_t at = field_offset[p - fg_flux_table.params];
    if (p->form != FG_PARAM_LINEAR) {
        fg_param_fields tensor = {at, FG_NO_FIELD, FG_NO_FIELD};
        return fg_table_load(m->weights, &fg_flux_table, p, block, &x->config, &tensor, base);
    }
    fg_param_fields linear = {at + offsetof(fg_flux_linear, w), at + offsetof(fg_flux_linear, b),
                              at + offsetof(fg_flux_linear, w_scale)};
    ((fg_flux_linear *)(base + at))->has_bias = fg_table_has_bias(p, &x->config);
    return fg_table_load(m->weights, &fg_flux_table, p, block, &x->config, &linear, base);
}

static fg_error *load_all(fg_flux_model *m) {
    const fg_weights *w = m->weights;
    if (m->diffusers) FG_TRY(fg_flux_convert_diffusers(m->weights));
    FG_TRY(fg_flux_params_infer(w, &m->p));
    const fg_flux_config *a = &m->p.arch;
    m->double_blocks = calloc((size_t)(a->depth ? a->depth : 1), sizeof *m->double_blocks);
    m->single_blocks = calloc((size_t)(a->depth_single ? a->depth_single : 1), sizeof *m->single_blocks);
    if (!m->double_blocks || !m->single_blocks) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "flux blocks");
    load_ctx x = {.m = m};
    fg_flux_config_to_table(a, &x.config);
    return fg_table_each(&fg_flux_table, &x.config, load_param, &x);
}

bool fg_flux_is_diffusers(const fg_weights *w) {
    return fg_weights_has(w, FG_FLUX_DIFFUSERS_ANCHOR) && !fg_weights_has(w, FG_FLUX_ANCHOR);
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
    static const char *const anchors[] = {FG_FLUX_ANCHOR, FG_FLUX_DIFFUSERS_ANCHOR};
    for (int a = 0; a < 2; a++) {
        if (fg_weights_has(base, anchors[a])) return fg_weights_view(base, "", dit);
        char name[64];
        snprintf(name, sizeof name, CHECKPOINT_PREFIX "%s", anchors[a]);
        if (fg_weights_has(base, name)) return fg_weights_view(base, CHECKPOINT_PREFIX, dit);
    }
    return fg_errorf(FG_ERR_NOT_FOUND,
                     "%s: no FLUX DiT in this file (neither " FG_FLUX_ANCHOR " nor " FG_FLUX_DIFFUSERS_ANCHOR
                     ", with or without the "
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
    free(m->double_blocks);
    free(m->single_blocks);
    fg_weights_close(m->weights);
    free(m);
}
