/* Tiled decode and encode with ComfyUI's semantics (comfy.utils.tiled_scale_multidim as
 * VAE.decode_tiled_ / encode_tiled_ call it, docs/comfyui.md 3.6):
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
 * divides (the final / sum(mask), the / 3), at most one float ulp apart. Every tensor comes from
 * a scope (kernels/scope.h): one per sample, per pass and per tile, host staging included. */
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/scope.h"
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

/* The model on one tile; *out is allocated from s (the encoder's moments are a temporary). */
static fg_error *encode_tile(const tiled_plan *p, fg_scope *s, fg_scope *tmp, const fg_tensor *in, int64_t f,
                             fg_tensor **out) {
    int64_t h = in->shape[2], w = in->shape[3];
    fg_tensor *moments;
    FG_TRY(fg_scope_alloc(tmp, in->device, in->dtype, FG_SHAPE(1, 2 * p->out_ch, h / f, w / f), &moments));
    FG_TRY(vae_encode_act(p->m, in, moments));
    FG_TRY(fg_scope_alloc(s, in->device, in->dtype, FG_SHAPE(1, p->out_ch, h / f, w / f), out));
    return fg_slice(*out, moments, 1, 0);
}

static fg_error *run_tile(const tiled_plan *p, fg_scope *s, const fg_tensor *in, fg_tensor **out) {
    int64_t f = fg_vae_factor(p->m), h = in->shape[2], w = in->shape[3];
    if (!p->encode) {
        FG_TRY(fg_scope_alloc(s, in->device, in->dtype, FG_SHAPE(1, p->out_ch, h * f, w * f), out));
        return vae_decode_act(p->m, in, *out);
    }
    if (h < f || w < f)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "a %lldx%lld pixel tile is smaller than the VAE's factor %lld",
                         (long long)w, (long long)h, (long long)f);
    FG_SCOPED(s, tmp, encode_tile(p, s, &tmp, in, f, out));
    return NULL;
}

/* src[..., y : y + ly, x : x + lx] (from s; the row slice is a temporary). */
static fg_error *extract(fg_scope *s, fg_scope *tmp, const fg_tensor *src, int64_t y, int64_t ly, int64_t x,
                         int64_t lx, fg_tensor **out) {
    fg_tensor *rows;
    FG_TRY(fg_scope_alloc(tmp, src->device, src->dtype, FG_SHAPE(1, src->shape[1], ly, src->shape[3]), &rows));
    FG_TRY(fg_slice(rows, src, 2, y));
    FG_TRY(fg_scope_alloc(s, src->device, src->dtype, FG_SHAPE(1, src->shape[1], ly, lx), out));
    return fg_slice(*out, rows, 3, x);
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

/* Where one tile's output lands and how it is weighted. */
typedef struct tile_place {
    int64_t oh, ow, uy, ux; /* output size and origin */
} tile_place;

/* The tile's F32 mask [1, 1, oh, ow] on dev (from s), built in host memory (from host); also
 * added into the host sum of masks div [OH, OW] at (uy, ux). */
static fg_error *f32_mask(const tiled_plan *p, fg_scope *s, fg_scope *host, fg_device dev, const tile_place *t,
                          fg_tensor *div, fg_tensor **out) {
    const int64_t feather = scaled(p, p->overlap), oh = t->oh, ow = t->ow, OW = div->shape[1];
    fg_tensor *staged;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 1, oh, ow), &staged));
    float *mk = staged->data, *sum = div->data;
    for (int64_t i = 0; i < oh; i++) {
        float row = ramp(1.0f, i, oh, feather);
        for (int64_t j = 0; j < ow; j++) {
            mk[i * ow + j] = ramp(row, j, ow, feather);
            sum[(t->uy + i) * OW + t->ux + j] += mk[i * ow + j];
        }
    }
    FG_TRY(fg_scope_alloc(s, dev, FG_F32, FG_SHAPE(1, 1, oh, ow), out));
    return fg_tensor_copy(*out, staged);
}

/* The tile's mask in like's dtype and device (from s; an F32 copy on the device is a temporary
 * when the dtypes differ). */
static fg_error *tile_mask(const tiled_plan *p, fg_scope *s, fg_scope *tmp, const fg_tensor *like,
                           const tile_place *t, fg_tensor *div, fg_tensor **out) {
    if (like->dtype == FG_F32) {
        FG_SCOPED(NULL, host, f32_mask(p, s, &host, like->device, t, div, out));
        return NULL;
    }
    fg_tensor *f32;
    FG_SCOPED(NULL, host, f32_mask(p, tmp, &host, like->device, t, div, &f32));
    FG_TRY(fg_scope_alloc(s, like->device, like->dtype, FG_SHAPE(1, 1, t->oh, t->ow), out));
    return fg_cast(*out, f32);
}

typedef struct pass_state {
    fg_tensor *acc;    /* [1, oc, OH, OW], accumulates sum(tile * mask) */
    fg_tensor *padded; /* scratch of acc's shape */
    fg_tensor *div;    /* host F32 [OH, OW], sum of masks */
    bool started;      /* the first tile is padded straight into acc, which it fully overwrites */
} pass_state;

/* The model's output on the tile at input origin (py, px), length (ly, lx), from s; the input
 * tile is a temporary. */
static fg_error *tile_output(const tiled_plan *p, fg_scope *s, fg_scope *tmp, const fg_tensor *src, int64_t py,
                             int64_t ly, int64_t px, int64_t lx, fg_tensor **out) {
    fg_tensor *in;
    FG_SCOPED(tmp, rows, extract(tmp, &rows, src, py, ly, px, lx, &in));
    return run_tile(p, s, in, out);
}

/* One tile at input origin (py, px), length (ly, lx): weighted and added into the pass; its
 * tensors come from tile. */
static fg_error *add_tile(const tiled_plan *p, fg_scope *tile, const fg_tensor *src, int64_t py, int64_t ly,
                          int64_t px, int64_t lx, pass_state *st) {
    int64_t OH = st->acc->shape[2], OW = st->acc->shape[3];
    fg_tensor *ps, *mask;
    FG_SCOPED(tile, in, tile_output(p, tile, &in, src, py, ly, px, lx, &ps));
    const tile_place t = {.oh = ps->shape[2], .ow = ps->shape[3], .uy = scaled(p, py), .ux = scaled(p, px)};
    if (t.uy + t.oh > OH || t.ux + t.ow > OW)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tile output at (%lld, %lld) overruns the %lldx%lld output",
                         (long long)t.ux, (long long)t.uy, (long long)OW, (long long)OH);
    FG_SCOPED(tile, cast, tile_mask(p, tile, &cast, ps, &t, st->div, &mask));
    FG_TRY(fg_mul(ps, ps, mask));
    fg_tensor *dst = st->started ? st->padded : st->acc;
    st->started = true;
    FG_TRY(fg_pad2d(dst, ps, (int)t.uy, (int)(OH - t.uy - t.oh), (int)t.ux, (int)(OW - t.ux - t.ow), FG_PAD_ZERO));
    if (dst == st->padded) FG_TRY(fg_add(st->acc, st->acc, st->padded));
    return NULL;
}

/* 1 / div on the acc's device (from s), built in host memory (from host). */
static fg_error *reciprocal(fg_scope *s, fg_scope *host, const pass_state *st, fg_tensor **out) {
    const int64_t OH = st->acc->shape[2], OW = st->acc->shape[3];
    const float *div = st->div->data;
    fg_tensor *staged;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 1, OH, OW), &staged));
    float *r = staged->data;
    for (int64_t i = 0; i < OH * OW; i++) r[i] = 1.0f / div[i];
    FG_TRY(fg_scope_alloc(s, st->acc->device, FG_F32, FG_SHAPE(1, 1, OH, OW), out));
    return fg_tensor_copy(*out, staged);
}

/* acc *= 1 / div, refusing output pixels no tile reached (ComfyUI would produce NaN). */
static fg_error *normalise(fg_scope *tmp, pass_state *st) {
    const int64_t OW = st->acc->shape[3];
    const float *div = st->div->data;
    fg_tensor *inv;
    for (int64_t i = 0; i < fg_tensor_numel(st->div); i++) {
        if (!(div[i] > 0.0f))
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "the tiles leave output pixel (%lld, %lld) uncovered",
                             (long long)(i % OW), (long long)(i / OW));
    }
    FG_SCOPED(NULL, host, reciprocal(tmp, &host, st, &inv));
    return fg_mul(st->acc, st->acc, inv);
}

/* Tile origins along one dim (host I64 [count], from s): range(0, size - overlap, tile - overlap),
 * or {0} when one tile covers it. *count = 0 never happens for valid arguments. */
static fg_error *origins(fg_scope *s, int64_t size, int64_t tile, int64_t overlap, fg_tensor **pos, int64_t *count) {
    *count = 0;
    int64_t step = tile - overlap, n = 1;
    if (size > tile) {
        if (step <= 0)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tile of %lld with overlap %lld does not advance",
                             (long long)tile, (long long)overlap);
        n = size - overlap > 0 ? (size - overlap + step - 1) / step : 0;
    }
    FG_TRY(fg_scope_alloc(s, FG_DEVICE_CPU, FG_I64, FG_SHAPE(n > 0 ? n : 1), pos));
    for (int64_t i = 0; i < n; i++) ((int64_t *)(*pos)->data)[i] = i * step;
    *count = n;
    return NULL;
}

static fg_error *run_tiles(const tiled_plan *p, fg_scope *pass, const fg_tensor *s, int64_t th, int64_t tw,
                           pass_state *st) {
    int64_t H = s->shape[2], W = s->shape[3], ny = 0, nx = 0;
    fg_tensor *ys_t, *xs_t;
    FG_TRY(origins(pass, H, th, p->overlap, &ys_t, &ny));
    FG_TRY(origins(pass, W, tw, p->overlap, &xs_t, &nx));
    const int64_t *ys = ys_t->data, *xs = xs_t->data;
    for (int64_t a = 0; a < ny; a++) {
        for (int64_t b = 0; b < nx; b++) {
            /* ComfyUI clamps the origin to [0, size - overlap]; range() already keeps it there. */
            int64_t py = ys[a], px = xs[b];
            int64_t ly = th < H - py ? th : H - py, lx = tw < W - px ? tw : W - px;
            FG_SCOPED(pass, tile, add_tile(p, &tile, s, py, ly, px, lx, st));
        }
    }
    return NULL;
}

/* The tiles of one pass accumulated into st->acc; the scratch and the sums come from pass. */
static fg_error *tiles_pass(const tiled_plan *p, fg_scope *pass, const fg_tensor *s, int64_t th, int64_t tw,
                            pass_state *st) {
    const fg_tensor *out = st->acc;
    FG_TRY(fg_scope_alloc(pass, FG_DEVICE_CPU, FG_F32, FG_SHAPE(out->shape[2], out->shape[3]), &st->div));
    FG_TRY(fg_scope_alloc(pass, out->device, out->dtype, out->ndim, out->shape, &st->padded));
    FG_TRY(run_tiles(p, pass, s, th, tw, st));
    FG_SCOPED(pass, tmp, normalise(&tmp, st));
    return NULL;
}

/* The whole input as one tile, copied into out. */
static fg_error *single_tile(const tiled_plan *p, fg_scope *tmp, const fg_tensor *s, fg_tensor *out) {
    fg_tensor *ps;
    FG_TRY(run_tile(p, tmp, s, &ps));
    return fg_tensor_copy(out, ps);
}

/* One tiled_scale pass over one sample s [1, C, H, W] into out [1, oc, OH, OW]. */
static fg_error *tiled_pass(const tiled_plan *p, fg_scope *parent, const fg_tensor *s, int64_t th, int64_t tw,
                            fg_tensor *out) {
    if (s->shape[2] <= th && s->shape[3] <= tw) {
        FG_SCOPED(parent, tmp, single_tile(p, &tmp, s, out));
        return NULL;
    }
    pass_state st = {.acc = out};
    FG_SCOPED(parent, pass, tiles_pass(p, &pass, s, th, tw, &st));
    return NULL;
}

/* The mean of three passes, tiles[k] = {tile height, tile width}, summed in the listed order;
 * the later passes land in a temporary (from tmp). */
static fg_error *tiled_sample(const tiled_plan *p, fg_scope *tmp, const fg_tensor *s, const int64_t tiles[3][2],
                              fg_tensor *out) {
    fg_tensor *pass_out;
    FG_TRY(tiled_pass(p, tmp, s, tiles[0][0], tiles[0][1], out));
    FG_TRY(fg_scope_alloc(tmp, out->device, out->dtype, out->ndim, out->shape, &pass_out));
    for (int k = 1; k < 3; k++) {
        FG_TRY(tiled_pass(p, tmp, s, tiles[k][0], tiles[k][1], pass_out));
        FG_TRY(fg_add(out, out, pass_out));
    }
    return fg_scale_shift(out, out, 1.0f / 3.0f, 0.0f);
}

/* Sample b of a [B, ...] tensor as a borrowed [1, ...] view. */
static fg_error *sample_view(const fg_tensor *t, int64_t b, fg_tensor *out) {
    int64_t shape[FG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = 1;
    size_t bytes = fg_tensor_nbytes(t) / (size_t)t->shape[0];
    return fg_tensor_view(out, t->dtype, t->device, t->ndim, shape, (char *)t->data + (size_t)b * bytes);
}

/* One sample in a scope of its own: its passes' tensors are gone when it is done. */
static fg_error *tiled_item(const tiled_plan *p, const fg_tensor *s, const int64_t tiles[3][2], fg_tensor *o) {
    FG_SCOPED(NULL, tmp, tiled_sample(p, &tmp, s, tiles, o));
    return NULL;
}

static fg_error *tiled_batch(const tiled_plan *p, const fg_tensor *in, const int64_t tiles[3][2], fg_tensor *out) {
    for (int64_t b = 0; b < in->shape[0]; b++) {
        fg_tensor s, o;
        FG_TRY(sample_view(in, b, &s));
        FG_TRY(sample_view(out, b, &o));
        FG_TRY_CTX(tiled_item(p, &s, tiles, &o), "batch item %lld", (long long)b);
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
