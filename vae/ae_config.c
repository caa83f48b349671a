/* Config inference from shapes (docs/models.md 2.1). */
#include "vae/ae_config.h"

#include <stdio.h>

#include "models/layout_ae.h"

/* A conv weight [Co, Ci, k, k]; k checked against the expected kernel. */
static fg_error *conv_weight(const fg_weights *w, const char *name, int64_t k, fg_tensor *t) {
    FG_TRY(fg_weights_get(w, name, t));
    char s[96];
    if (t->ndim != 4 || t->shape[2] != k || t->shape[3] != k || t->shape[0] <= 0 || t->shape[1] <= 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has shape %s, expected a %lldx%lld conv weight",
                         fg_weights_path(w), fg_weights_prefix(w), name, fg_tensor_shape_str(t, s, sizeof s),
                         (long long)k, (long long)k);
    return NULL;
}

static fg_error *count_levels(const fg_weights *w, fg_ae_config *c) {
    char name[128];
    c->levels = 0;
    for (int i = 0;; i++) {
        FG_TRY(fg_ae_module_name(false, FG_AE_BLOCK, i, 0, ".conv1.weight", name, sizeof name));
        if (!fg_weights_has(w, name)) break;
        if (i == FG_AE_MAX_LEVELS)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s: more than %d encoder levels ('%s%s' exists)",
                             fg_weights_path(w), FG_AE_MAX_LEVELS, fg_weights_prefix(w), name);
        fg_tensor t;
        FG_TRY(conv_weight(w, name, 3, &t));
        if (t.shape[0] % c->ch != 0)
            return fg_errorf(FG_ERR_FORMAT, "%s: '%s%s' has %lld output channels, not a multiple of ch = %lld",
                             fg_weights_path(w), fg_weights_prefix(w), name, (long long)t.shape[0], (long long)c->ch);
        c->ch_mult[i] = t.shape[0] / c->ch;
        c->levels = i + 1;
    }
    if (c->levels == 0) {
        FG_TRY(fg_ae_module_name(false, FG_AE_BLOCK, 0, 0, ".conv1.weight", name, sizeof name));
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: missing tensor '%s%s'", fg_weights_path(w), fg_weights_prefix(w),
                         name);
    }
    return NULL;
}

static fg_error *count_res_blocks(const fg_weights *w, fg_ae_config *c) {
    char name[128];
    c->num_res_blocks = 0;
    for (int j = 0;; j++) {
        FG_TRY(fg_ae_module_name(false, FG_AE_BLOCK, 0, j, ".conv1.weight", name, sizeof name));
        if (!fg_weights_has(w, name)) break;
        if (j == FG_VAE_MAX_RES_BLOCKS)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s: more than %d residual blocks per level ('%s%s' exists)",
                             fg_weights_path(w), FG_VAE_MAX_RES_BLOCKS, fg_weights_prefix(w), name);
        c->num_res_blocks = j + 1;
    }
    return NULL;
}

static fg_error *check_groups(const fg_weights *w, const fg_ae_config *c) {
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t channels = c->ch * c->ch_mult[i];
        if (channels % FG_VAE_NORM_GROUPS != 0)
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "%s: level %lld has %lld channels, not divisible into %d GroupNorm groups",
                             fg_weights_path(w), (long long)i, (long long)channels, FG_VAE_NORM_GROUPS);
    }
    return NULL;
}

fg_error *fg_vae_infer_config(const fg_weights *w, fg_ae_config *out) {
    FG_CHECK_ARG(w && out, "fg_vae_infer_config: NULL argument");
    fg_ae_config c = {0};
    fg_tensor t;
    char name[128];
    FG_TRY(fg_ae_module_name(false, FG_AE_CONV_IN, 0, 0, ".weight", name, sizeof name));
    FG_TRY(conv_weight(w, name, 3, &t));
    c.ch = t.shape[0];
    c.in_channels = t.shape[1];
    c.dtype = t.dtype;
    FG_TRY(count_levels(w, &c));
    FG_TRY(count_res_blocks(w, &c));
    FG_TRY(fg_ae_module_name(true, FG_AE_CONV_IN, 0, 0, ".weight", name, sizeof name));
    FG_TRY(conv_weight(w, name, 3, &t));
    c.z_channels = t.shape[1];
    FG_TRY(fg_ae_module_name(true, FG_AE_CONV_OUT, 0, 0, ".weight", name, sizeof name));
    FG_TRY(conv_weight(w, name, 3, &t));
    c.out_ch = t.shape[0];
    FG_TRY(check_groups(w, &c));
    /* The layout generator validates the ranges (positive sizes, ch_mult bounds). */
    fg_layout layout = {0};
    fg_error *err = fg_layout_ae(&c, &layout);
    fg_layout_free(&layout);
    if (err) return fg_error_wrapf(err, "%s", fg_weights_path(w));
    *out = c;
    return NULL;
}

int64_t fg_vae_spatial_factor(const fg_ae_config *c) { return (int64_t)1 << (c->levels - 1); }
