/* Internals shared by the autoencoder's files: the parameter structs (views into the
 * checkpoint, in its stored dtype) and the building blocks of docs/models.md 2.2. Not part of the
 * public API (vae/ae_model.h). */
#ifndef FG_VAE_AE_INTERNAL_H
#define FG_VAE_AE_INTERNAL_H

#include <stdbool.h>

#include "kernels/ops.h"
#include "kernels/scope.h"
#include "vae/ae_config.h"
#include "vae/ae_model.h"

/* Longest tensor name (prefix of the view excluded) the loader builds. */
#define VAE_NAME_MAX 160

typedef struct vae_conv {
    fg_tensor w, b; /* [Co, Ci, k, k], [Co] */
} vae_conv;

typedef struct vae_norm {
    fg_tensor w, b; /* [C], [C] */
} vae_norm;

typedef struct vae_resblock {
    vae_norm norm1, norm2;
    vae_conv conv1, conv2;
    vae_conv nin_shortcut; /* 1x1, only when the block changes the channel count */
    bool has_shortcut;
} vae_resblock;

/* q, k, v, proj_out are stored as 1x1 convs [C, C, 1, 1]; kept here as [C, C] views so they run
 * as linear layers on the [B, HW, C] token layout the attention needs. */
typedef struct vae_attn {
    vae_norm norm;
    fg_tensor q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b;
} vae_attn;

typedef struct vae_mid {
    vae_resblock block_1, block_2;
    vae_attn attn_1;
} vae_mid;

/* One resolution level: its residual blocks, then the optional down/up-sampling conv. */
typedef struct vae_level {
    vae_resblock *blocks;
    int64_t block_count;
    bool has_resample;
    vae_conv resample;
} vae_level;

typedef struct vae_coder {
    vae_conv conv_in;
    vae_level levels[FG_AE_MAX_LEVELS];
    vae_mid mid;
    vae_norm norm_out;
    vae_conv conv_out;
} vae_coder;

struct fg_vae {
    fg_ae_config config;
    fg_device device;   /* of the weights: where the activations live */
    fg_dtype act_dtype; /* F32 or BF16 */
    fg_weights *weights; /* the model's own reference to the mapped file(s) */
    vae_coder encoder, decoder;
};

/* ---- loading (ae_blocks.c): every lookup checks the shape the config implies and names
 *      the tensor when it is missing or wrong ------------------------------------------ */
fg_error *vae_load_conv(const fg_weights *w, const char *prefix, int64_t co, int64_t ci, int64_t k,
                        vae_conv *out) FG_MUST_CHECK;
fg_error *vae_load_norm(const fg_weights *w, const char *prefix, int64_t c, vae_norm *out) FG_MUST_CHECK;
fg_error *vae_load_resblock(const fg_weights *w, const char *prefix, int64_t cin, int64_t cout,
                            vae_resblock *out) FG_MUST_CHECK;
fg_error *vae_load_mid(const fg_weights *w, const char *prefix, int64_t c, vae_mid *out) FG_MUST_CHECK;

void vae_coder_free(vae_coder *c);

/* ---- forward (ae_blocks.c). x is [B, C, H, W]; *out is allocated on x's device with x's
 *      dtype from the scope s (kernels/scope.h), temporaries from children of s that end
 *      before the function returns; x is left untouched. ------------------------------ */
fg_error *vae_conv_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, int pad,
                           fg_tensor **out) FG_MUST_CHECK;
/* norm -> swish -> conv 3x3 (the coders' output heads), into a caller-allocated out. */
fg_error *vae_norm_swish_conv(fg_scope *s, const vae_norm *n, const vae_conv *c, const fg_tensor *x,
                              fg_tensor *out) FG_MUST_CHECK;
fg_error *vae_resblock_forward(fg_scope *s, const vae_resblock *b, const fg_tensor *x, fg_tensor **out) FG_MUST_CHECK;
fg_error *vae_attn_forward(fg_scope *s, const vae_attn *a, const fg_tensor *x, fg_tensor **out) FG_MUST_CHECK;
fg_error *vae_mid_forward(fg_scope *s, const vae_mid *m, const fg_tensor *x, fg_tensor **out) FG_MUST_CHECK;
/* Zero-pad one column right and one row bottom, then 3x3 stride-2 conv. */
fg_error *vae_downsample_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, fg_tensor **out) FG_MUST_CHECK;
/* Nearest 2x, then 3x3 conv. */
fg_error *vae_upsample_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, fg_tensor **out) FG_MUST_CHECK;
/* One link of a chain of blocks: the state *h (from s) is released and next becomes it, so a
 * chain holds at most one input and one output at a time:
 *     FG_TRY(vae_resblock_forward(s, b, h, &next));
 *     vae_advance(s, &h, next); */
void vae_advance(fg_scope *s, fg_tensor **h, fg_tensor *next);

/* Argument checks of the public entry points (ae_model.c): shapes, dtypes, devices. For
 * encode, out_channels is 2*z (moments) or z (mean). */
fg_error *vae_check_decode(const fg_vae *m, const fg_tensor *z, const fg_tensor *out) FG_MUST_CHECK;
fg_error *vae_check_encode(const fg_vae *m, const fg_tensor *x, const fg_tensor *out, int64_t out_channels) FG_MUST_CHECK;

/* The coders' forward passes (ae_encoder.c, ae_decoder.c); out is caller-allocated. */
fg_error *vae_encoder_forward(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) FG_MUST_CHECK;
fg_error *vae_decoder_forward(const fg_vae *m, const fg_tensor *z, fg_tensor *out) FG_MUST_CHECK;
/* The same on inputs/outputs of any activation dtype and device: converted to the model's act
 * dtype on its device at entry, back to out's at exit (a no-op when they already match). */
fg_error *vae_encode_act(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) FG_MUST_CHECK;
fg_error *vae_decode_act(const fg_vae *m, const fg_tensor *z, fg_tensor *out) FG_MUST_CHECK;

#endif
