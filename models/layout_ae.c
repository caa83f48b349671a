/* The autoencoder's module tree (layout_ae.h). The decoder is built from the deepest level up,
 * but its ModuleList (and so the state dict) is indexed from level 0: up.i takes the channels
 * of level i+1 (or the deepest level). */
#include "models/layout_ae.h"

#include <stdio.h>

/* Module names by coder (encoder, decoder) and slot; %lld: level, then block. */
static const char *const formats[2][6] = {
    {"encoder.conv_in", "encoder.down.%lld.block.%lld", "encoder.down.%lld.downsample.conv", "encoder.mid",
     "encoder.norm_out", "encoder.conv_out"},
    {"decoder.conv_in", "decoder.up.%lld.block.%lld", "decoder.up.%lld.upsample.conv", "decoder.mid",
     "decoder.norm_out", "decoder.conv_out"},
};

fg_error *fg_ae_module_name(bool decoder, fg_ae_slot slot, int64_t level, int64_t block, const char *suffix,
                            char *buf, size_t cap) {
    char stem[FG_LAYOUT_NAME_MAX];
    snprintf(stem, sizeof stem, formats[decoder][slot], (long long)level, (long long)block);
    int n = snprintf(buf, cap, "%s%s", stem, suffix);
    if (n < 0 || (size_t)n >= cap)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s", stem, suffix);
    return NULL;
}

typedef struct walker {
    fg_ae_visit_fn fn;
    void *ctx;
    fg_ae_module m;
} walker;

static fg_error *visit(walker *w, fg_ae_slot slot, int64_t in, int64_t out, int64_t level, int64_t block) {
    w->m.slot = slot, w->m.in = in, w->m.out = out;
    w->m.level = level, w->m.block = block;
    FG_TRY(fg_ae_module_name(w->m.decoder, slot, level, block, "", w->m.name, sizeof w->m.name));
    return w->fn(w->ctx, &w->m);
}

static fg_error *walk_encoder(walker *w, const fg_ae_config *c) {
    w->m.decoder = false;
    FG_TRY(visit(w, FG_AE_CONV_IN, c->in_channels, c->ch, 0, 0));
    int64_t block_in = c->ch;
    w->m.blocks = c->num_res_blocks;
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t block_out = c->ch * c->ch_mult[i];
        for (int64_t j = 0; j < c->num_res_blocks; j++) {
            FG_TRY(visit(w, FG_AE_BLOCK, block_in, block_out, i, j));
            block_in = block_out;
        }
        if (i != c->levels - 1) FG_TRY(visit(w, FG_AE_RESAMPLE, block_in, block_in, i, 0));
    }
    FG_TRY(visit(w, FG_AE_MID, block_in, block_in, 0, 0));
    FG_TRY(visit(w, FG_AE_NORM_OUT, block_in, block_in, 0, 0));
    return visit(w, FG_AE_CONV_OUT, block_in, 2 * c->z_channels, 0, 0);
}

static fg_error *walk_decoder(walker *w, const fg_ae_config *c) {
    w->m.decoder = true;
    int64_t last = c->levels - 1, deepest = c->ch * c->ch_mult[last], top = c->ch * c->ch_mult[0];
    FG_TRY(visit(w, FG_AE_CONV_IN, c->z_channels, deepest, 0, 0));
    FG_TRY(visit(w, FG_AE_MID, deepest, deepest, 0, 0));
    w->m.blocks = c->num_res_blocks + 1;
    for (int64_t i = 0; i < c->levels; i++) {
        int64_t block_in = i == last ? deepest : c->ch * c->ch_mult[i + 1];
        int64_t block_out = c->ch * c->ch_mult[i];
        for (int64_t j = 0; j < c->num_res_blocks + 1; j++) {
            FG_TRY(visit(w, FG_AE_BLOCK, block_in, block_out, i, j));
            block_in = block_out;
        }
        if (i != 0) FG_TRY(visit(w, FG_AE_RESAMPLE, block_out, block_out, i, 0));
    }
    FG_TRY(visit(w, FG_AE_NORM_OUT, top, top, 0, 0));
    return visit(w, FG_AE_CONV_OUT, top, c->out_ch, 0, 0);
}

fg_error *fg_ae_walk(const fg_ae_config *c, fg_ae_visit_fn fn, void *ctx) {
    FG_CHECK_ARG(c && fn, "fg_ae_walk: NULL argument");
    FG_CHECK_ARG(c->levels >= 1 && c->levels <= FG_AE_MAX_LEVELS, "ae config: %lld levels (1..%d allowed)",
                 (long long)c->levels, FG_AE_MAX_LEVELS);
    walker w = {fn, ctx, {0}};
    FG_TRY(walk_encoder(&w, c));
    return walk_decoder(&w, c);
}
