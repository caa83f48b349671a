/* The encoder (models.md 2.3): conv_in, per level num_res_blocks residual blocks and a
 * downsample (all but the deepest level), the mid block, norm -> swish -> conv_out into the
 * 2*z_channels moments (mean, logvar). */
#include <stdio.h>
#include <stdlib.h>

#include "vae/ae_internal.h"

static fg_error *load_level(const fg_weights *w, const fg_ae_config *c, int64_t i, int64_t *block_in,
                            vae_level *level) {
    char p[128];
    int64_t block_out = c->ch * c->ch_mult[i];
    level->blocks = calloc((size_t)c->num_res_blocks, sizeof *level->blocks);
    if (!level->blocks) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "VAE encoder level %lld", (long long)i);
    level->block_count = c->num_res_blocks;
    for (int64_t j = 0; j < c->num_res_blocks; j++) {
        snprintf(p, sizeof p, "encoder.down.%lld.block.%lld", (long long)i, (long long)j);
        FG_TRY(vae_load_resblock(w, p, *block_in, block_out, &level->blocks[j]));
        *block_in = block_out;
    }
    level->has_resample = i != c->levels - 1;
    if (level->has_resample) {
        snprintf(p, sizeof p, "encoder.down.%lld.downsample.conv", (long long)i);
        FG_TRY(vae_load_conv(w, p, block_out, block_out, 3, &level->resample));
    }
    return NULL;
}

fg_error *vae_load_encoder(const fg_weights *w, const fg_ae_config *c, vae_coder *out) {
    FG_TRY(vae_load_conv(w, "encoder.conv_in", c->ch, c->in_channels, 3, &out->conv_in));
    int64_t block_in = c->ch;
    for (int64_t i = 0; i < c->levels; i++) FG_TRY(load_level(w, c, i, &block_in, &out->levels[i]));
    FG_TRY(vae_load_mid(w, "encoder.mid", block_in, &out->mid));
    FG_TRY(vae_load_norm(w, "encoder.norm_out", block_in, &out->norm_out));
    return vae_load_conv(w, "encoder.conv_out", 2 * c->z_channels, block_in, 3, &out->conv_out);
}

static fg_error *down_level(const vae_level *level, fg_tensor *h) {
    fg_tensor next = {0};
    for (int64_t j = 0; j < level->block_count; j++)
        FG_TRY(vae_replace(h, &next, vae_resblock_forward(&level->blocks[j], h, &next)));
    if (level->has_resample) FG_TRY(vae_replace(h, &next, vae_downsample_forward(&level->resample, h, &next)));
    return NULL;
}

fg_error *vae_encoder_forward(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) {
    const vae_coder *e = &m->encoder;
    fg_tensor h = {0}, next = {0};
    FG_TRY(vae_conv_forward(&e->conv_in, x, 1, &h));
    for (int64_t i = 0; i < m->config.levels; i++) FG_TRY(down_level(&e->levels[i], &h));
    FG_TRY(vae_replace(&h, &next, vae_mid_forward(&e->mid, &h, &next)));
    fg_error *err = vae_norm_swish_conv(&e->norm_out, &e->conv_out, &h, moments);
    fg_tensor_free(&h);
    return err;
}
