/* The decoder (models.md 2.4): conv_in from z, the mid block, then the levels from the deepest
 * up (the state dict indexes `up` by resolution, 0 = full size, but runs it last), each with
 * num_res_blocks + 1 residual blocks and an upsample (all but level 0), then
 * norm -> swish -> conv_out. */
#include <stdio.h>
#include <stdlib.h>

#include "vae/ae_internal.h"

static fg_error *load_level(const fg_weights *w, const fg_ae_config *c, int64_t i, vae_level *level) {
    char p[128];
    int64_t last = c->levels - 1;
    int64_t block_in = c->ch * c->ch_mult[i == last ? last : i + 1];
    int64_t block_out = c->ch * c->ch_mult[i];
    int64_t count = c->num_res_blocks + 1;
    level->blocks = calloc((size_t)count, sizeof *level->blocks);
    if (!level->blocks) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "VAE decoder level %lld", (long long)i);
    level->block_count = count;
    for (int64_t j = 0; j < count; j++) {
        snprintf(p, sizeof p, "decoder.up.%lld.block.%lld", (long long)i, (long long)j);
        FG_TRY(vae_load_resblock(w, p, block_in, block_out, &level->blocks[j]));
        block_in = block_out;
    }
    level->has_resample = i != 0;
    if (level->has_resample) {
        snprintf(p, sizeof p, "decoder.up.%lld.upsample.conv", (long long)i);
        FG_TRY(vae_load_conv(w, p, block_out, block_out, 3, &level->resample));
    }
    return NULL;
}

fg_error *vae_load_decoder(const fg_weights *w, const fg_ae_config *c, vae_coder *out) {
    int64_t deepest = c->ch * c->ch_mult[c->levels - 1], top = c->ch * c->ch_mult[0];
    FG_TRY(vae_load_conv(w, "decoder.conv_in", deepest, c->z_channels, 3, &out->conv_in));
    FG_TRY(vae_load_mid(w, "decoder.mid", deepest, &out->mid));
    for (int64_t i = 0; i < c->levels; i++) FG_TRY(load_level(w, c, i, &out->levels[i]));
    FG_TRY(vae_load_norm(w, "decoder.norm_out", top, &out->norm_out));
    return vae_load_conv(w, "decoder.conv_out", c->out_ch, top, 3, &out->conv_out);
}

static fg_error *up_level(const vae_level *level, fg_tensor *h) {
    fg_tensor next = {0};
    for (int64_t j = 0; j < level->block_count; j++)
        FG_TRY(vae_replace(h, &next, vae_resblock_forward(&level->blocks[j], h, &next)));
    if (level->has_resample) FG_TRY(vae_replace(h, &next, vae_upsample_forward(&level->resample, h, &next)));
    return NULL;
}

fg_error *vae_decoder_forward(const fg_vae *m, const fg_tensor *z, fg_tensor *out) {
    const vae_coder *d = &m->decoder;
    fg_tensor h = {0}, next = {0};
    FG_TRY(vae_conv_forward(&d->conv_in, z, 1, &h));
    FG_TRY(vae_replace(&h, &next, vae_mid_forward(&d->mid, &h, &next)));
    for (int64_t i = m->config.levels - 1; i >= 0; i--) FG_TRY(up_level(&d->levels[i], &h));
    fg_error *err = vae_norm_swish_conv(&d->norm_out, &d->conv_out, &h, out);
    fg_tensor_free(&h);
    return err;
}
