/* The encoder (docs/models.md 2.3): conv_in, per level num_res_blocks residual blocks and a
 * downsample (all but the deepest level), the mid block, norm -> swish -> conv_out into the
 * 2*z_channels moments (mean, logvar). Its parameters are loaded by ae_model.c over the module
 * tree of models/layout_ae.c. */
#include "vae/ae_internal.h"

static fg_error *down_level(fg_scope *s, const vae_level *level, fg_tensor **h) {
    fg_tensor *next;
    for (int64_t j = 0; j < level->block_count; j++) {
        FG_TRY(vae_resblock_forward(s, &level->blocks[j], *h, &next));
        vae_advance(s, h, next);
    }
    if (level->has_resample) {
        FG_TRY(vae_downsample_forward(s, &level->resample, *h, &next));
        vae_advance(s, h, next);
    }
    return NULL;
}

static fg_error *encode(fg_scope *s, const fg_vae *m, const fg_tensor *x, fg_tensor *moments) {
    const vae_coder *e = &m->encoder;
    fg_tensor *h, *next;
    FG_TRY(vae_conv_forward(s, &e->conv_in, x, 1, &h));
    for (int64_t i = 0; i < m->config.levels; i++) FG_TRY(down_level(s, &e->levels[i], &h));
    FG_TRY(vae_mid_forward(s, &e->mid, h, &next));
    vae_advance(s, &h, next);
    return vae_norm_swish_conv(s, &e->norm_out, &e->conv_out, h, moments);
}

fg_error *vae_encoder_forward(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) {
    FG_SCOPED(NULL, s, encode(&s, m, x, moments));
    return NULL;
}
