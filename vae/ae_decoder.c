/* The decoder (docs/models.md 2.4): conv_in from z, the mid block, then the levels from the deepest
 * up (the state dict indexes `up` by resolution, 0 = full size, but runs it last), each with
 * num_res_blocks + 1 residual blocks and an upsample (all but level 0), then
 * norm -> swish -> conv_out. Its parameters are loaded by ae_model.c over the module tree of
 * models/layout_ae.c. */
#include "vae/ae_internal.h"

static fg_error *up_level(fg_scope *s, const vae_level *level, fg_tensor **h) {
    fg_tensor *next;
    for (int64_t j = 0; j < level->block_count; j++) {
        FG_TRY(vae_resblock_forward(s, &level->blocks[j], *h, &next));
        vae_advance(s, h, next);
    }
    if (level->has_resample) {
        FG_TRY(vae_upsample_forward(s, &level->resample, *h, &next));
        vae_advance(s, h, next);
    }
    return NULL;
}

static fg_error *decode(fg_scope *s, const fg_vae *m, const fg_tensor *z, fg_tensor *out) {
    const vae_coder *d = &m->decoder;
    fg_tensor *h, *next;
    FG_TRY(vae_conv_forward(s, &d->conv_in, z, 1, &h));
    FG_TRY(vae_mid_forward(s, &d->mid, h, &next));
    vae_advance(s, &h, next);
    for (int64_t i = m->config.levels - 1; i >= 0; i--) FG_TRY(up_level(s, &d->levels[i], &h));
    return vae_norm_swish_conv(s, &d->norm_out, &d->conv_out, h, out);
}

fg_error *vae_decoder_forward(const fg_vae *m, const fg_tensor *z, fg_tensor *out) {
    FG_SCOPED(NULL, s, decode(&s, m, z, out));
    return NULL;
}
