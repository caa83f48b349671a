/* Helpers of test_vae: modified copies of a checkpoint, and an independent double-precision
 * reference of the autoencoder (plain loops straight from docs/models.md 2.2-2.4) and of ComfyUI's
 * tiled blending (comfy.utils.tiled_scale_multidim written out directly). */
#ifndef FG_TESTS_VAE_HELPERS_H
#define FG_TESTS_VAE_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/model_layouts.h"
#include "models/weights.h"

typedef struct ae_copy_opts {
    const char *prefix;     /* prepended to every name; NULL for none */
    bool convert;           /* store float tensors as `dtype` */
    fg_dtype dtype;
    bool round_only;        /* round through `dtype` but store F32 (same values, F32 storage) */
    const char *omit;       /* leave this tensor out */
    const char *reshape;    /* store this tensor with `new_shape` (zeros) instead */
    int new_ndim;
    int64_t new_shape[FG_MAX_DIMS];
    const char *extra;      /* add a small tensor of this name (another model's, say) */
} ae_copy_opts;

/* Writes a modified copy of the safetensors file src to dst. */
fg_error *ae_write_copy(const char *src, const char *dst, const ae_copy_opts *o) FG_MUST_CHECK;

/* Reference decoder / encoder for one sample, in double: z [zc, h, w] -> out [oc, h*f, w*f];
 * x [3, H, W] -> moments [2*zc, H/f, W/f]. out is malloc'ed. */
fg_error *ref_decode(const fg_weights *w, const fg_ae_config *c, const float *z, int64_t h, int64_t wd,
                     double **out) FG_MUST_CHECK;
fg_error *ref_encode(const fg_weights *w, const fg_ae_config *c, const float *x, int64_t H, int64_t W,
                     double **out) FG_MUST_CHECK;

/* One sample through some model: in [cin, h, w] -> out [cout, h', w'] (malloc'ed floats). */
typedef fg_error *(*ref_tile_fn)(void *ctx, const float *in, int64_t h, int64_t w, float **out, int64_t *oh,
                                 int64_t *ow);
/* ComfyUI's tiled_scale_multidim for one sample of cin channels, tiles {th, tw}, overlap in
 * input pixels, scale num/den, out [cout, OH, OW] with OH = round(h*num/den). */
fg_error *ref_tiled_scale(ref_tile_fn fn, void *ctx, const float *in, int64_t cin, int64_t h, int64_t w,
                          int64_t th, int64_t tw, int64_t overlap, int64_t num, int64_t den, int64_t cout,
                          float *out) FG_MUST_CHECK;

/* Deterministic values in [-amp, amp] into an F32 host tensor. */
void vae_fill(fg_tensor *t, uint32_t seed, float amp);
/* Largest |a[i] - b[i]|; NaN propagates. */
double vae_max_abs(const float *a, const float *b, int64_t n);

#endif
