/* Tiled decode and encode with ComfyUI's semantics (comfy.utils.tiled_scale_multidim as
 * VAE.decode_tiled_ / encode_tiled_ call it, comfyui.md 3.6):
 *   - per sample; a pass whose tile covers the whole input is one plain call;
 *   - otherwise tile origins run over range(0, size - overlap, tile - overlap) per dim, each
 *     tile is min(tile, size - origin) long, its output lands at round(origin * scale);
 *   - each tile output is weighted by a mask that ramps linearly over `feather` =
 *     round(overlap * scale) output pixels at each of its four edges (image borders included:
 *     they cancel in the division), factors (t+1)/feather applied rows first, then columns;
 *     a dim whose tile is not longer than the feather keeps weight 1;
 *   - out = sum(tile * mask) / sum(mask);
 *   - the result is the mean of three passes with differently shaped tiles.
 * The tile outputs are weighted and accumulated with ops (the weighted tile is zero-padded to
 * the full output and added), so the arithmetic happens on the computation's device and
 * matches ComfyUI's accumulation bit for bit; the masks and the sum of masks depend only on
 * the geometry and are built on the host. Two steps multiply by a reciprocal where ComfyUI
 * divides (the final / sum(mask), the / 3), at most one float ulp apart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "vae/ae_internal.h"

/* Python's round() on the small non-negative values here: ties to even (the default FP mode). */
static int64_t round_half_even(double v) { return (int64_t)nearbyint(v); }

typedef struct tiled_plan {
    const fg_vae *m;
    bool encode;       /* pixels -> mean latent; else latent -> pixels */
    int64_t num, den;  /* output length = input length * num / den */
    int64_t out_ch;
    int64_t overlap;   /* in input pixels */
} tiled_plan;

static int64_t scaled(const tiled_plan *p, int64_t v) { return round_half_even((double)v * (double)p->num / (double)p->den); }

/* The model on one tile; *out is allocated here. */
static fg_error *run_tile(const tiled_plan *p, const fg_tensor *in, fg_tensor *out) {
    int64_t f = fg_vae_factor(p->m), h = in->shape[2], w = in->shape[3];
    if (!p->encode) {
        FG_TRY(fg_tensor_alloc(out, in->device, in->dtype, FG_SHAPE(1, p->out_ch, h * f, w * f)));
        fg_error *err = vae_decode_act(p->m, in, out);
        if (err) fg_tensor_free(out);
        return err;
    }
    if (h < f || w < f)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "a %lldx%lld pixel tile is smaller than the VAE's factor %lld",
                         (long long)w, (long long)h, (long long)f);
    fg_tensor moments = {0};
    FG_TRY(fg_tensor_alloc(&moments, in->device, in->dtype, FG_SHAPE(1, 2 * p->out_ch, h / f, w / f)));
    fg_error *err = vae_encode_act(p->m, in, &moments);
    if (!err) err = fg_tensor_alloc(out, in->device, in->dtype, FG_SHAPE(1, p->out_ch, h / f, w / f));
    if (!err) err = fg_slice(out, &moments, 1, 0);
    fg_tensor_free(&moments);
    if (err) fg_tensor_free(out);
    return err;
}

static fg_error *extract(const fg_tensor *s, int64_t y, int64_t ly, int64_t x, int64_t lx, fg_tensor *out) {
    fg_tensor rows = {0};
    FG_TRY(fg_tensor_alloc(&rows, s->device, s->dtype, FG_SHAPE(1, s->shape[1], ly, s->shape[3])));
    fg_error *err = fg_slice(&rows, s, 2, y);
    if (!err) err = fg_tensor_alloc(out, s->device, s->dtype, FG_SHAPE(1, s->shape[1], ly, lx));
    if (!err) err = fg_slice(out, &rows, 3, x);
    fg_tensor_free(&rows);
    return err;
}

/* Position i of a dim of length n after ComfyUI's ramps: for t in 0..feather-1 it multiplies
 * index t, then index n-1-t, by (t+1)/feather (a float32 multiply), so an index gets at most two
 * factors, in increasing t. */
static float ramp(float v, int64_t i, int64_t n, int64_t feather) {
    if (feather >= n) return v;
    int64_t t1 = i, t2 = n - 1 - i;
    int64_t first = t1 <= t2 ? t1 : t2, second = t1 <= t2 ? t2 : t1;
    if (first < feather) v *= (float)((double)(first + 1) / (double)feather);
    if (second < feather) v *= (float)((double)(second + 1) / (double)feather);
    return v;
}

/* The tile's mask as a [1, 1, oh, ow] tensor on the computation's device; also added into the
 * host sum of masks at (uy, ux). */
static fg_error *tile_mask(const tiled_plan *p, const fg_tensor *like, int64_t oh, int64_t ow, int64_t uy,
                           int64_t ux, float *div, int64_t OW, fg_tensor *out) {
    int64_t feather = scaled(p, p->overlap);
    fg_tensor host = {0}, dev = {0};
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, FG_SHAPE(1, 1, oh, ow)));
    float *mk = host.data;
    for (int64_t i = 0; i < oh; i++) {
        float row = ramp(1.0f, i, oh, feather);
        for (int64_t j = 0; j < ow; j++) {
            mk[i * ow + j] = ramp(row, j, ow, feather);
            div[(uy + i) * OW + ux + j] += mk[i * ow + j];
        }
    }
    fg_error *err = fg_tensor_alloc(&dev, like->device, FG_F32, FG_SHAPE(1, 1, oh, ow));
    if (!err) err = fg_tensor_copy(&dev, &host);
    fg_tensor_free_host(&host);
    if (!err && like->dtype != FG_F32) {
        err = fg_tensor_alloc(out, like->device, like->dtype, FG_SHAPE(1, 1, oh, ow));
        if (!err) err = fg_cast(out, &dev);
        fg_tensor_free(&dev);
    } else if (!err) {
        *out = dev;
    }
    if (err) fg_tensor_free(&dev);
    return err;
}

typedef struct pass_state {
    fg_tensor *acc;    /* [1, oc, OH, OW], accumulates sum(tile * mask) */
    fg_tensor padded;  /* scratch of acc's shape */
    float *div;        /* host [OH * OW], sum of masks */
    bool started;      /* the first tile is padded straight into acc, which it fully overwrites */
} pass_state;

/* One tile at input origin (py, px), length (ly, lx): weighted and added into the pass. */
static fg_error *add_tile(const tiled_plan *p, const fg_tensor *s, int64_t py, int64_t ly, int64_t px, int64_t lx,
                          pass_state *st) {
    int64_t OH = st->acc->shape[2], OW = st->acc->shape[3];
    fg_tensor in = {0}, ps = {0}, mask = {0};
    fg_error *err = extract(s, py, ly, px, lx, &in);
    if (!err) err = run_tile(p, &in, &ps);
    fg_tensor_free(&in);
    if (err) return err;
    int64_t oh = ps.shape[2], ow = ps.shape[3], uy = scaled(p, py), ux = scaled(p, px);
    if (uy + oh > OH || ux + ow > OW)
        err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "tile output at (%lld, %lld) overruns the %lldx%lld output",
                        (long long)ux, (long long)uy, (long long)OW, (long long)OH);
    if (!err) err = tile_mask(p, &ps, oh, ow, uy, ux, st->div, OW, &mask);
    if (!err) err = fg_mul(&ps, &ps, &mask);
    fg_tensor *dst = st->started ? &st->padded : st->acc;
    if (!err) err = fg_pad2d(dst, &ps, (int)uy, (int)(OH - uy - oh), (int)ux, (int)(OW - ux - ow), FG_PAD_ZERO);
    if (!err && st->started) err = fg_add(st->acc, st->acc, &st->padded);
    st->started = true;
    fg_tensor_free(&mask);
    fg_tensor_free(&ps);
    return err;
}

/* acc *= 1 / div, refusing output pixels no tile reached (ComfyUI would produce NaN). */
static fg_error *normalise(pass_state *st) {
    int64_t OH = st->acc->shape[2], OW = st->acc->shape[3];
    fg_tensor host = {0}, dev = {0};
    for (int64_t i = 0; i < OH * OW; i++) {
        if (!(st->div[i] > 0.0f))
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "the tiles leave output pixel (%lld, %lld) uncovered",
                             (long long)(i % OW), (long long)(i / OW));
    }
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, FG_SHAPE(1, 1, OH, OW)));
    float *r = host.data;
    for (int64_t i = 0; i < OH * OW; i++) r[i] = 1.0f / st->div[i];
    fg_error *err = fg_tensor_alloc(&dev, st->acc->device, FG_F32, FG_SHAPE(1, 1, OH, OW));
    if (!err) err = fg_tensor_copy(&dev, &host);
    fg_tensor_free_host(&host);
    if (!err) err = fg_mul(st->acc, st->acc, &dev);
    fg_tensor_free(&dev);
    return err;
}

/* Tile origins along one dim: range(0, size - overlap, tile - overlap), or {0} when one tile
 * covers it. *count = 0 never happens for valid arguments; the caller frees *pos. */
static fg_error *origins(int64_t size, int64_t tile, int64_t overlap, int64_t **pos, int64_t *count) {
    *pos = NULL;
    *count = 0;
    int64_t step = tile - overlap, n = 1;
    if (size > tile) {
        if (step <= 0)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tile of %lld with overlap %lld does not advance",
                             (long long)tile, (long long)overlap);
        n = size - overlap > 0 ? (size - overlap + step - 1) / step : 0;
    }
    *pos = calloc((size_t)(n > 0 ? n : 1), sizeof **pos);
    if (!*pos) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tile origins");
    for (int64_t i = 0; i < n; i++) (*pos)[i] = i * step;
    *count = n;
    return NULL;
}

static fg_error *run_tiles(const tiled_plan *p, const fg_tensor *s, int64_t th, int64_t tw, pass_state *st) {
    int64_t H = s->shape[2], W = s->shape[3], *ys = NULL, *xs = NULL, ny = 0, nx = 0;
    fg_error *err = origins(H, th, p->overlap, &ys, &ny);
    if (!err) err = origins(W, tw, p->overlap, &xs, &nx);
    for (int64_t a = 0; !err && a < ny; a++) {
        for (int64_t b = 0; !err && b < nx; b++) {
            /* ComfyUI clamps the origin to [0, size - overlap]; range() already keeps it there. */
            int64_t py = ys[a], px = xs[b];
            int64_t ly = th < H - py ? th : H - py, lx = tw < W - px ? tw : W - px;
            err = add_tile(p, s, py, ly, px, lx, st);
        }
    }
    free(ys);
    free(xs);
    return err;
}

/* One tiled_scale pass over one sample s [1, C, H, W] into out [1, oc, OH, OW]. */
static fg_error *tiled_pass(const tiled_plan *p, const fg_tensor *s, int64_t th, int64_t tw, fg_tensor *out) {
    if (s->shape[2] <= th && s->shape[3] <= tw) {
        fg_tensor ps = {0};
        FG_TRY(run_tile(p, s, &ps));
        fg_error *err = fg_tensor_copy(out, &ps);
        fg_tensor_free(&ps);
        return err;
    }
    pass_state st = {.acc = out};
    int64_t OH = out->shape[2], OW = out->shape[3];
    st.div = calloc((size_t)(OH * OW), sizeof *st.div);
    if (!st.div) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tiled VAE: %lldx%lld mask sum", (long long)OW, (long long)OH);
    fg_error *err = fg_tensor_alloc(&st.padded, out->device, out->dtype, out->ndim, out->shape);
    if (!err) err = run_tiles(p, s, th, tw, &st);
    if (!err) err = normalise(&st);
    fg_tensor_free(&st.padded);
    free(st.div);
    return err;
}

/* The mean of three passes, tiles[k] = {tile height, tile width}, summed in the listed order. */
static fg_error *tiled_sample(const tiled_plan *p, const fg_tensor *s, const int64_t tiles[3][2], fg_tensor *out) {
    fg_tensor tmp = {0};
    FG_TRY(tiled_pass(p, s, tiles[0][0], tiles[0][1], out));
    fg_error *err = fg_tensor_alloc(&tmp, out->device, out->dtype, out->ndim, out->shape);
    for (int k = 1; k < 3 && !err; k++) {
        err = tiled_pass(p, s, tiles[k][0], tiles[k][1], &tmp);
        if (!err) err = fg_add(out, out, &tmp);
    }
    fg_tensor_free(&tmp);
    if (!err) err = fg_scale_shift(out, out, 1.0f / 3.0f, 0.0f);
    return err;
}

/* Sample b of a [B, ...] tensor as a borrowed [1, ...] view. */
static fg_error *sample_view(const fg_tensor *t, int64_t b, fg_tensor *out) {
    int64_t shape[FG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = 1;
    size_t bytes = fg_tensor_nbytes(t) / (size_t)t->shape[0];
    return fg_tensor_view(out, t->dtype, t->device, t->ndim, shape, (char *)t->data + (size_t)b * bytes);
}

static fg_error *tiled_batch(const tiled_plan *p, const fg_tensor *in, const int64_t tiles[3][2], fg_tensor *out) {
    for (int64_t b = 0; b < in->shape[0]; b++) {
        fg_tensor s, o;
        FG_TRY(sample_view(in, b, &s));
        FG_TRY(sample_view(out, b, &o));
        FG_TRY_CTX(tiled_sample(p, &s, tiles, &o), "batch item %lld", (long long)b);
    }
    return NULL;
}

/* Bounds that keep every product and int conversion far from overflow. */
#define TILE_PX_MAX ((int64_t)1 << 20)

static fg_error *check_tiling(int64_t tile, int64_t overlap) {
    if (tile < 1 || tile > TILE_PX_MAX || overlap < 0 || overlap > TILE_PX_MAX)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tile_size %lld / overlap %lld out of range (1..%lld / 0..%lld)",
                         (long long)tile, (long long)overlap, (long long)TILE_PX_MAX, (long long)TILE_PX_MAX);
    return NULL;
}

fg_error *fg_vae_decode_tiled(const fg_vae *m, const fg_tensor *z, int64_t tile_size_px, int64_t overlap_px,
                              fg_tensor *out) {
    FG_CHECK_ARG(m && z && out, "fg_vae_decode_tiled: NULL argument");
    FG_TRY_CTX(check_tiling(tile_size_px, overlap_px), "VAE tiled decode");
    FG_TRY_CTX(vae_check_decode(m, z, out), "VAE tiled decode");
    int64_t f = fg_vae_factor(m);
    if (tile_size_px < overlap_px * 4) overlap_px = tile_size_px / 4; /* VAEDecodeTiled */
    int64_t t = tile_size_px / f;
    tiled_plan p = {.m = m, .encode = false, .num = f, .den = 1, .out_ch = m->config.out_ch, .overlap = overlap_px / f};
    const int64_t tiles[3][2] = {{t * 2, t / 2}, {t / 2, t * 2}, {t, t}};
    return fg_error_wrapf(tiled_batch(&p, z, tiles, out), "VAE tiled decode");
}

fg_error *fg_vae_encode_tiled(const fg_vae *m, const fg_tensor *x, int64_t tile_size_px, int64_t overlap_px,
                              fg_tensor *mean) {
    FG_CHECK_ARG(m && x && mean, "fg_vae_encode_tiled: NULL argument");
    FG_TRY_CTX(check_tiling(tile_size_px, overlap_px), "VAE tiled encode");
    FG_TRY_CTX(vae_check_encode(m, x, mean, m->config.z_channels), "VAE tiled encode");
    int64_t t = tile_size_px, f = fg_vae_factor(m);
    tiled_plan p = {.m = m, .encode = true, .num = 1, .den = f, .out_ch = m->config.z_channels, .overlap = overlap_px};
    const int64_t tiles[3][2] = {{t, t}, {t / 2, t * 2}, {t * 2, t / 2}};
    return fg_error_wrapf(tiled_batch(&p, x, tiles, mean), "VAE tiled encode");
}
