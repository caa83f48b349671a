/* test_vae's tiled cases: fg_vae_decode_tiled / fg_vae_encode_tiled against ComfyUI's blending
 * (ref_tiled_scale, each tile run through the untiled entry points), and against the untiled
 * decode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testing.h"
#include "tests/vae/vae_helpers.h"
#include "vae/ae_model.h"

const char *vae_test_tiny_path(void);

static fg_vae *load_tiny(void) {
    fg_weights *w = NULL;
    fg_vae *m = NULL;
    if (CHECK_OK(fg_weights_open(vae_test_tiny_path(), &w))) CHECK_OK(fg_vae_load(w, &m));
    fg_weights_close(w);
    return m;
}

static fg_tensor host(int ndim, const int64_t *shape) {
    fg_tensor t = {0};
    CHECK_OK(fg_tensor_alloc(&t, FG_DEVICE_CPU, FG_F32, ndim, shape));
    return t;
}

/* The untiled entry points on one sample, as ref_tiled_scale wants them. */
static fg_error *decode_fn(void *ctx, const float *in, int64_t h, int64_t w, float **out, int64_t *oh, int64_t *ow) {
    const fg_vae *m = ctx;
    int64_t f = fg_vae_factor(m), zc = fg_vae_config(m)->z_channels;
    fg_tensor z = {0}, o = {0};
    FG_TRY(fg_tensor_view(&z, FG_F32, FG_DEVICE_CPU, FG_SHAPE(1, zc, h, w), (void *)in));
    *out = malloc((size_t)(3 * h * f * w * f) * sizeof **out);
    FG_TRY(fg_tensor_view(&o, FG_F32, FG_DEVICE_CPU, FG_SHAPE(1, 3, h * f, w * f), *out));
    *oh = h * f, *ow = w * f;
    return fg_vae_decode(m, &z, &o);
}

static fg_error *encode_fn(void *ctx, const float *in, int64_t h, int64_t w, float **out, int64_t *oh, int64_t *ow) {
    const fg_vae *m = ctx;
    int64_t f = fg_vae_factor(m), zc = fg_vae_config(m)->z_channels;
    fg_tensor x = {0}, o = {0};
    FG_TRY(fg_tensor_view(&x, FG_F32, FG_DEVICE_CPU, FG_SHAPE(1, 3, h, w), (void *)in));
    *out = malloc((size_t)(zc * (h / f) * (w / f)) * sizeof **out);
    FG_TRY(fg_tensor_view(&o, FG_F32, FG_DEVICE_CPU, FG_SHAPE(1, zc, h / f, w / f), *out));
    *oh = h / f, *ow = w / f;
    return fg_vae_encode_mean(m, &x, &o);
}

/* ComfyUI's VAE.decode_tiled_ for one sample: mean of three tiled_scale passes. */
static void reference_decode_tiled(const fg_vae *m, const float *z, int64_t h, int64_t w, int64_t tile_px,
                                   int64_t overlap_px, float *out) {
    if (tile_px < overlap_px * 4) overlap_px = tile_px / 4;
    int64_t t = tile_px / 8, ov = overlap_px / 8, n = 3 * h * 8 * w * 8;
    const int64_t tiles[3][2] = {{t * 2, t / 2}, {t / 2, t * 2}, {t, t}}; /* (H, W) as tiled_scale passes them */
    float *p = calloc((size_t)(3 * n), sizeof *p);
    for (int k = 0; k < 3; k++)
        CHECK_OK(ref_tiled_scale(decode_fn, (void *)m, z, 16, h, w, tiles[k][0], tiles[k][1], ov, 8, 1, 3, p + k * n));
    for (int64_t i = 0; i < n; i++) out[i] = (p[i] + p[n + i] + p[2 * n + i]) / 3.0f;
    free(p);
}

static void reference_encode_tiled(const fg_vae *m, const float *x, int64_t h, int64_t w, int64_t tile,
                                   int64_t overlap, float *out) {
    int64_t n = 16 * (h / 8) * (w / 8);
    const int64_t tiles[3][2] = {{tile, tile}, {tile / 2, tile * 2}, {tile * 2, tile / 2}};
    float *p = calloc((size_t)(3 * n), sizeof *p);
    for (int k = 0; k < 3; k++)
        CHECK_OK(ref_tiled_scale(encode_fn, (void *)m, x, 3, h, w, tiles[k][0], tiles[k][1], overlap, 1, 8, 16, p + k * n));
    for (int64_t i = 0; i < n; i++) {
        out[i] = p[i];
        out[i] += p[n + i];
        out[i] += p[2 * n + i];
        out[i] /= 3.0f;
    }
    free(p);
}

/* Latent 20x12 with 64 px tiles (8 latent) overlapping by 16 px (2 latent): passes of 16x4,
 * 4x16 and 8x8 latent tiles, 25 tiles in all, every kind of edge and corner. The product
 * accumulates like ComfyUI and differs only where it multiplies by a reciprocal (1 ulp). */
void test_tiled_decode_matches_comfyui_math(void) {
    fg_vae *m = load_tiny();
    if (!m) return;
    fg_tensor z = host(FG_SHAPE(1, 16, 20, 12)), out = host(FG_SHAPE(1, 3, 160, 96));
    vae_fill(&z, 5, 2.0f);
    float *want = malloc((size_t)fg_tensor_numel(&out) * sizeof *want);
    if (CHECK_OK(fg_vae_decode_tiled(m, &z, 64, 16, &out))) {
        reference_decode_tiled(m, z.data, 20, 12, 64, 16, want);
        double err = vae_max_abs(out.data, want, fg_tensor_numel(&out));
        printf("  tiled decode vs ComfyUI blending reference: max abs %.2e\n", err);
        CHECK(err <= 2e-6, "%g", err);
    }
    free(want);
    fg_tensor_free(&z), fg_tensor_free(&out);
    fg_vae_free(m);
}

/* Tiled and untiled decodes differ everywhere, not only at seams: each tile normalises with its
 * own GroupNorm statistics and its mid-block attention sees only the tile (ComfyUI's tiled
 * output has the same property). Measured on this 192x192 case with the tiny model: mean abs
 * difference 0.075 against a mean abs deviation of the output of 0.46 (16%), correlation 0.987,
 * spread evenly over the image (smallest at the borders). The bounds catch misplaced or
 * mis-weighted tiles (which decorrelate the images) while allowing that context effect. */
void test_tiled_decode_close_to_untiled(void) {
    fg_vae *m = load_tiny();
    if (!m) return;
    fg_tensor z = host(FG_SHAPE(1, 16, 24, 24)), tiled = host(FG_SHAPE(1, 3, 192, 192)), full = host(FG_SHAPE(1, 3, 192, 192));
    vae_fill(&z, 9, 2.0f);
    if (CHECK_OK(fg_vae_decode_tiled(m, &z, 128, 32, &tiled)) && CHECK_OK(fg_vae_decode(m, &z, &full))) {
        const float *a = tiled.data, *b = full.data;
        int64_t n = fg_tensor_numel(&full);
        double diff = 0, spread = 0, mean = 0, ma = 0, cov = 0, va = 0, vb = 0;
        for (int64_t i = 0; i < n; i++) mean += b[i] / (double)n, ma += a[i] / (double)n;
        for (int64_t i = 0; i < n; i++) {
            diff += fabs((double)a[i] - b[i]) / (double)n;
            spread += fabs(b[i] - mean) / (double)n;
            cov += (a[i] - ma) * (b[i] - mean), va += (a[i] - ma) * (a[i] - ma), vb += (b[i] - mean) * (b[i] - mean);
        }
        printf("  tiled vs untiled decode: mean abs diff %.3e, output mean abs deviation %.3e, corr %.4f\n", diff, spread, cov / sqrt(va * vb));
        CHECK(cov / sqrt(va * vb) >= 0.97 && diff <= 0.25 * spread, "tiled decode strays from the untiled one");
    }
    fg_tensor_free(&z), fg_tensor_free(&tiled), fg_tensor_free(&full);
    fg_vae_free(m);
}

/* When every pass fits in one tile, ComfyUI calls the decoder directly: (d + d + d) / 3. */
void test_tiled_single_tile_equals_decode(void) {
    fg_vae *m = load_tiny();
    if (!m) return;
    fg_tensor z = host(FG_SHAPE(1, 16, 6, 7)), a = host(FG_SHAPE(1, 3, 48, 56)), b = host(FG_SHAPE(1, 3, 48, 56));
    vae_fill(&z, 3, 2.0f);
    if (CHECK_OK(fg_vae_decode_tiled(m, &z, 512, 64, &a)) && CHECK_OK(fg_vae_decode(m, &z, &b))) {
        double err = vae_max_abs(a.data, b.data, fg_tensor_numel(&a));
        printf("  single-tile tiled decode vs decode: %.2e\n", err);
        CHECK(err <= 1e-6);
    }
    fg_tensor_free(&z), fg_tensor_free(&a), fg_tensor_free(&b);
    fg_vae_free(m);
}

/* 80x48 pixels, tiles 48 px overlapping by 16 (passes 48x48, 24x96, 96x24; feather 2 latent
 * pixels). */
void test_tiled_encode_matches_comfyui_math(void) {
    fg_vae *m = load_tiny();
    if (!m) return;
    fg_tensor x = host(FG_SHAPE(1, 3, 80, 48)), mean = host(FG_SHAPE(1, 16, 10, 6));
    vae_fill(&x, 17, 1.0f);
    float *want = malloc((size_t)fg_tensor_numel(&mean) * sizeof *want);
    if (CHECK_OK(fg_vae_encode_tiled(m, &x, 48, 16, &mean))) {
        reference_encode_tiled(m, x.data, 80, 48, 48, 16, want);
        double err = vae_max_abs(mean.data, want, fg_tensor_numel(&mean));
        printf("  tiled encode vs ComfyUI blending reference: max abs %.2e\n", err);
        CHECK(err <= 2e-6, "%g", err);
    }
    free(want);
    fg_tensor_free(&x), fg_tensor_free(&mean);
    fg_vae_free(m);
}

/* Batch items are tiled independently; VAEDecodeTiled lowers the overlap to tile_size / 4. */
void test_tiled_batch_and_overlap_rule(void) {
    fg_vae *m = load_tiny();
    if (!m) return;
    fg_tensor z = host(FG_SHAPE(2, 16, 10, 9)), both = host(FG_SHAPE(2, 3, 80, 72));
    fg_tensor z1 = host(FG_SHAPE(1, 16, 10, 9)), one = host(FG_SHAPE(1, 3, 80, 72)), clamped = host(FG_SHAPE(1, 3, 80, 72));
    vae_fill(&z, 23, 2.0f);
    if (CHECK_OK(fg_vae_decode_tiled(m, &z, 64, 16, &both))) {
        int64_t n = fg_tensor_numel(&one);
        for (int64_t b = 0; b < 2; b++) {
            CHECK_OK(fg_slice(&z1, &z, 0, b));
            CHECK_OK(fg_vae_decode_tiled(m, &z1, 64, 16, &one));
            CHECK(memcmp((float *)both.data + b * n, one.data, (size_t)n * 4) == 0, "batch item %lld", (long long)b);
        }
        /* overlap 48 > 64 / 4 becomes 16: the same result as asking for 16 */
        CHECK_OK(fg_vae_decode_tiled(m, &z1, 64, 48, &clamped));
        CHECK(memcmp(clamped.data, one.data, (size_t)n * 4) == 0, "overlap clamped to tile_size / 4");
    }
    fg_tensor_free(&z), fg_tensor_free(&both), fg_tensor_free(&z1), fg_tensor_free(&one), fg_tensor_free(&clamped);
    fg_vae_free(m);
}
