/* The FLUX autoencoder's module tree (BFL ae.safetensors, docs/models.md 2.5), walked once for both
 * the layout generator (model_layouts.c) and the VAE loader: its channel counts change from
 * level to level, so it is declared as a walk over modules rather than as a flat table. Each
 * visit names one module (a conv, a norm, a residual block or the mid block) with its channels
 * and where it sits; what a residual block and the mid block hold is the visitor's business. */
#ifndef FG_MODELS_LAYOUT_AE_H
#define FG_MODELS_LAYOUT_AE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "models/model_layouts.h"

typedef enum fg_ae_slot {
    FG_AE_CONV_IN,  /* conv [out, in, 3, 3] */
    FG_AE_BLOCK,    /* residual block in -> out of a level */
    FG_AE_RESAMPLE, /* the level's down/upsampling conv [out, out, 3, 3] */
    FG_AE_MID,      /* the mid block at `out` channels */
    FG_AE_NORM_OUT, /* group norm over `out` channels */
    FG_AE_CONV_OUT, /* conv [out, in, 3, 3] */
} fg_ae_slot;

typedef struct fg_ae_module {
    bool decoder;
    fg_ae_slot slot;
    int64_t level, block; /* FG_AE_BLOCK and FG_AE_RESAMPLE */
    int64_t blocks;       /* FG_AE_BLOCK: residual blocks in this level */
    int64_t in, out;      /* channels */
    char name[FG_LAYOUT_NAME_MAX]; /* "encoder.down.0.block.1", "decoder.mid", ... */
} fg_ae_module;

/* "<name of the module in that slot><suffix>" ("encoder.down.2.block.0" + ".conv1.weight"). */
fg_error *fg_ae_module_name(bool decoder, fg_ae_slot slot, int64_t level, int64_t block, const char *suffix,
                            char *buf, size_t cap) FG_MUST_CHECK;

typedef fg_error *(*fg_ae_visit_fn)(void *ctx, const fg_ae_module *m);

/* Visits the encoder, then the decoder, in state-dict order; stops at the first error. */
fg_error *fg_ae_walk(const fg_ae_config *c, fg_ae_visit_fn fn, void *ctx) FG_MUST_CHECK;

#endif
