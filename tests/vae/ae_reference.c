/* Independent references: the autoencoder in double precision with plain loops (docs/models.md
 * 2.2-2.4; nothing shared with vae/), and ComfyUI's tiled_scale_multidim blending written out
 * the way the Python does it. Small sizes only: the loops are naive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/vae/vae_helpers.h"

typedef struct act {
    int64_t c, h, w;
    double *d;
} act;

static fg_error *act_new(act *a, int64_t c, int64_t h, int64_t w) {
    a->c = c, a->h = h, a->w = w;
    a->d = calloc((size_t)(c * h * w), sizeof(double));
    return a->d ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "reference activation");
}

static void act_free(act *a) {
    free(a->d);
    a->d = NULL;
}

/* Replaces *a by *b. */
static void act_move(act *a, act *b) {
    act_free(a);
    *a = *b;
    b->d = NULL;
}

static fg_error *sub(char *buf, size_t cap, const char *prefix, const char *leaf) {
    int n = snprintf(buf, cap, "%s.%s", prefix, leaf);
    return n >= 0 && (size_t)n < cap ? NULL : fg_errorf(FG_ERR_INVALID_ARGUMENT, "reference: name too long");
}

static fg_error *param(const fg_weights *w, const char *prefix, const char *leaf, int64_t n, double **out) {
    char name[256];
    FG_TRY(sub(name, sizeof name, prefix, leaf));
    fg_tensor t;
    FG_TRY(fg_weights_get(w, name, &t));
    if (fg_tensor_numel(&t) != n) return fg_errorf(FG_ERR_FORMAT, "reference: %s has %lld elements", name, (long long)fg_tensor_numel(&t));
    float *f = malloc((size_t)n * sizeof *f);
    *out = malloc((size_t)n * sizeof **out);
    if (!f || !*out) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "reference param");
    fg_convert_to_f32(f, t.data, t.dtype, (size_t)n);
    for (int64_t i = 0; i < n; i++) (*out)[i] = f[i];
    free(f);
    return NULL;
}

typedef struct conv_geom {
    int64_t k, stride, top, bottom, left, right;
} conv_geom;

static fg_error *conv(const fg_weights *wt, const char *prefix, const act *x, int64_t co, conv_geom g, act *out) {
    double *w = NULL, *b = NULL;
    FG_TRY(param(wt, prefix, "weight", co * x->c * g.k * g.k, &w));
    FG_TRY(param(wt, prefix, "bias", co, &b));
    int64_t ho = (g.top + x->h + g.bottom - g.k) / g.stride + 1, wo = (g.left + x->w + g.right - g.k) / g.stride + 1;
    FG_TRY(act_new(out, co, ho, wo));
    for (int64_t o = 0; o < co; o++)
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++) {
                double s = b[o];
                for (int64_t ci = 0; ci < x->c; ci++)
                    for (int64_t ky = 0; ky < g.k; ky++)
                        for (int64_t kx = 0; kx < g.k; kx++) {
                            int64_t iy = oy * g.stride - g.top + ky, ix = ox * g.stride - g.left + kx;
                            if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) continue;
                            s += w[((o * x->c + ci) * g.k + ky) * g.k + kx] * x->d[(ci * x->h + iy) * x->w + ix];
                        }
                out->d[(o * ho + oy) * wo + ox] = s;
            }
    free(w);
    free(b);
    return NULL;
}

static const conv_geom same3 = {3, 1, 1, 1, 1, 1}, point = {1, 1, 0, 0, 0, 0}, down = {3, 2, 0, 1, 0, 1};

static fg_error *norm(const fg_weights *wt, const char *prefix, const act *x, bool swish, act *out) {
    double *g = NULL, *b = NULL;
    FG_TRY(param(wt, prefix, "weight", x->c, &g));
    FG_TRY(param(wt, prefix, "bias", x->c, &b));
    FG_TRY(act_new(out, x->c, x->h, x->w));
    int64_t per = x->c / 32, plane = x->h * x->w;
    for (int64_t grp = 0; grp < 32; grp++) {
        const double *src = x->d + grp * per * plane;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < per * plane; i++) mean += src[i];
        mean /= (double)(per * plane);
        for (int64_t i = 0; i < per * plane; i++) var += (src[i] - mean) * (src[i] - mean);
        var /= (double)(per * plane);
        for (int64_t i = 0; i < per * plane; i++) {
            int64_t c = grp * per + i / plane;
            double y = (src[i] - mean) / sqrt(var + 1e-6) * g[c] + b[c];
            out->d[grp * per * plane + i] = swish ? y / (1.0 + exp(-y)) : y;
        }
    }
    free(g);
    free(b);
    return NULL;
}

static fg_error *resblock(const fg_weights *wt, const char *p, const act *x, int64_t cout, act *out) {
    char n[256];
    act t = {0}, h = {0};
    FG_TRY(sub(n, sizeof n, p, "norm1"));
    FG_TRY(norm(wt, n, x, true, &t));
    FG_TRY(sub(n, sizeof n, p, "conv1"));
    FG_TRY(conv(wt, n, &t, cout, same3, &h));
    act_free(&t);
    FG_TRY(sub(n, sizeof n, p, "norm2"));
    FG_TRY(norm(wt, n, &h, true, &t));
    act_free(&h);
    FG_TRY(sub(n, sizeof n, p, "conv2"));
    FG_TRY(conv(wt, n, &t, cout, same3, out));
    act_free(&t);
    if (x->c != cout) {
        FG_TRY(sub(n, sizeof n, p, "nin_shortcut"));
        FG_TRY(conv(wt, n, x, cout, point, &t));
    }
    const act *s = x->c != cout ? &t : x;
    for (int64_t i = 0; i < cout * x->h * x->w; i++) out->d[i] += s->d[i];
    act_free(&t);
    return NULL;
}

static fg_error *attn(const fg_weights *wt, const char *p, const act *x, act *out) {
    char n[256];
    act hn = {0}, q = {0}, k = {0}, v = {0}, a = {0};
    int64_t C = x->c, L = x->h * x->w;
    FG_TRY(sub(n, sizeof n, p, "norm"));
    FG_TRY(norm(wt, n, x, false, &hn));
    FG_TRY(sub(n, sizeof n, p, "q"));
    FG_TRY(conv(wt, n, &hn, C, point, &q));
    FG_TRY(sub(n, sizeof n, p, "k"));
    FG_TRY(conv(wt, n, &hn, C, point, &k));
    FG_TRY(sub(n, sizeof n, p, "v"));
    FG_TRY(conv(wt, n, &hn, C, point, &v));
    FG_TRY(act_new(&a, C, x->h, x->w));
    double *row = malloc((size_t)L * sizeof *row);
    if (!row) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "reference attention");
    for (int64_t i = 0; i < L; i++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < L; j++) {
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += q.d[c * L + i] * k.d[c * L + j];
            row[j] = s / sqrt((double)C);
            if (row[j] > mx) mx = row[j];
        }
        for (int64_t j = 0; j < L; j++) sum += (row[j] = exp(row[j] - mx));
        for (int64_t c = 0; c < C; c++) {
            double s = 0;
            for (int64_t j = 0; j < L; j++) s += row[j] * v.d[c * L + j];
            a.d[c * L + i] = s / sum;
        }
    }
    free(row);
    FG_TRY(sub(n, sizeof n, p, "proj_out"));
    FG_TRY(conv(wt, n, &a, C, point, out));
    for (int64_t i = 0; i < C * L; i++) out->d[i] += x->d[i];
    act_free(&hn), act_free(&q), act_free(&k), act_free(&v), act_free(&a);
    return NULL;
}

static fg_error *mid(const fg_weights *wt, const char *part, act *h) {
    char n[256];
    act t = {0};
    snprintf(n, sizeof n, "%s.mid.block_1", part);
    FG_TRY(resblock(wt, n, h, h->c, &t));
    act_move(h, &t);
    snprintf(n, sizeof n, "%s.mid.attn_1", part);
    FG_TRY(attn(wt, n, h, &t));
    act_move(h, &t);
    snprintf(n, sizeof n, "%s.mid.block_2", part);
    FG_TRY(resblock(wt, n, h, h->c, &t));
    act_move(h, &t);
    return NULL;
}

static fg_error *head(const fg_weights *wt, const char *part, act *h, int64_t co, double **out) {
    char n[256];
    act t = {0}, o = {0};
    snprintf(n, sizeof n, "%s.norm_out", part);
    FG_TRY(norm(wt, n, h, true, &t));
    snprintf(n, sizeof n, "%s.conv_out", part);
    FG_TRY(conv(wt, n, &t, co, same3, &o));
    act_free(&t);
    act_free(h);
    *out = o.d;
    return NULL;
}

fg_error *ref_decode(const fg_weights *wt, const fg_ae_config *c, const float *z, int64_t h, int64_t wd, double **out) {
    act x = {0}, hh = {0}, t = {0};
    char n[256];
    FG_TRY(act_new(&x, c->z_channels, h, wd));
    for (int64_t i = 0; i < x.c * h * wd; i++) x.d[i] = z[i];
    FG_TRY(conv(wt, "decoder.conv_in", &x, c->ch * c->ch_mult[c->levels - 1], same3, &hh));
    act_free(&x);
    FG_TRY(mid(wt, "decoder", &hh));
    for (int64_t i = c->levels - 1; i >= 0; i--) {
        for (int64_t j = 0; j <= c->num_res_blocks; j++) {
            snprintf(n, sizeof n, "decoder.up.%lld.block.%lld", (long long)i, (long long)j);
            FG_TRY(resblock(wt, n, &hh, c->ch * c->ch_mult[i], &t));
            act_move(&hh, &t);
        }
        if (i == 0) continue;
        FG_TRY(act_new(&t, hh.c, 2 * hh.h, 2 * hh.w));
        for (int64_t q = 0; q < t.c * t.h * t.w; q++) {
            int64_t ch = q / (t.h * t.w), y = q / t.w % t.h, xx = q % t.w;
            t.d[q] = hh.d[(ch * hh.h + y / 2) * hh.w + xx / 2];
        }
        act_move(&hh, &t);
        snprintf(n, sizeof n, "decoder.up.%lld.upsample.conv", (long long)i);
        FG_TRY(conv(wt, n, &hh, hh.c, same3, &t));
        act_move(&hh, &t);
    }
    return head(wt, "decoder", &hh, c->out_ch, out);
}

fg_error *ref_encode(const fg_weights *wt, const fg_ae_config *c, const float *xin, int64_t H, int64_t W, double **out) {
    act x = {0}, hh = {0}, t = {0};
    char n[256];
    FG_TRY(act_new(&x, c->in_channels, H, W));
    for (int64_t i = 0; i < x.c * H * W; i++) x.d[i] = xin[i];
    FG_TRY(conv(wt, "encoder.conv_in", &x, c->ch, same3, &hh));
    act_free(&x);
    for (int64_t i = 0; i < c->levels; i++) {
        for (int64_t j = 0; j < c->num_res_blocks; j++) {
            snprintf(n, sizeof n, "encoder.down.%lld.block.%lld", (long long)i, (long long)j);
            FG_TRY(resblock(wt, n, &hh, c->ch * c->ch_mult[i], &t));
            act_move(&hh, &t);
        }
        if (i == c->levels - 1) continue;
        snprintf(n, sizeof n, "encoder.down.%lld.downsample.conv", (long long)i);
        FG_TRY(conv(wt, n, &hh, hh.c, down, &t));
        act_move(&hh, &t);
    }
    FG_TRY(mid(wt, "encoder", &hh));
    return head(wt, "encoder", &hh, 2 * c->z_channels, out);
}

/* ---- tiled_scale_multidim, one sample, two spatial dims --------------------------------- */

static int64_t py_round(double v) { return (int64_t)nearbyint(v); }

/* range(0, size - overlap, tile - overlap) if size > tile else [0] */
static int64_t positions(int64_t size, int64_t tile, int64_t overlap, int64_t *pos, int64_t cap) {
    if (size <= tile) {
        pos[0] = 0;
        return 1;
    }
    int64_t n = 0;
    for (int64_t p = 0; p < size - overlap && n < cap; p += tile - overlap) pos[n++] = p;
    return n;
}

fg_error *ref_tiled_scale(ref_tile_fn fn, void *ctx, const float *in, int64_t cin, int64_t h, int64_t w, int64_t th,
                          int64_t tw, int64_t overlap, int64_t num, int64_t den, int64_t cout, float *out) {
    int64_t OH = py_round((double)h * num / den), OW = py_round((double)w * num / den);
    float *o = NULL;
    int64_t oh, ow;
    if (h <= th && w <= tw) {
        FG_TRY(fn(ctx, in, h, w, &o, &oh, &ow));
        memcpy(out, o, (size_t)(cout * OH * OW) * sizeof *out);
        free(o);
        return NULL;
    }
    float *acc = calloc((size_t)(cout * OH * OW), sizeof *acc), *div = calloc((size_t)(cout * OH * OW), sizeof *div);
    int64_t ys[256], xs[256];
    int64_t ny = positions(h, th, overlap, ys, 256), nx = positions(w, tw, overlap, xs, 256);
    for (int64_t a = 0; a < ny; a++)
        for (int64_t b = 0; b < nx; b++) {
            int64_t py = ys[a] < h - overlap ? ys[a] : h - overlap, px = xs[b] < w - overlap ? xs[b] : w - overlap;
            if (py < 0) py = 0;
            if (px < 0) px = 0;
            int64_t ly = th < h - py ? th : h - py, lx = tw < w - px ? tw : w - px;
            float *tile = malloc((size_t)(cin * ly * lx) * sizeof *tile);
            for (int64_t c = 0; c < cin; c++)
                for (int64_t y = 0; y < ly; y++)
                    for (int64_t x = 0; x < lx; x++) tile[(c * ly + y) * lx + x] = in[(c * h + py + y) * w + px + x];
            FG_TRY(fn(ctx, tile, ly, lx, &o, &oh, &ow));
            free(tile);
            float *mask = malloc((size_t)(oh * ow) * sizeof *mask);
            for (int64_t i = 0; i < oh * ow; i++) mask[i] = 1.0f;
            int64_t feather = py_round((double)overlap * num / den);
            if (feather < oh) /* rows */
                for (int64_t t = 0; t < feather; t++) {
                    float f = (float)((double)(t + 1) / (double)feather);
                    for (int64_t x = 0; x < ow; x++) mask[t * ow + x] *= f;
                    for (int64_t x = 0; x < ow; x++) mask[(oh - 1 - t) * ow + x] *= f;
                }
            if (feather < ow) /* columns */
                for (int64_t t = 0; t < feather; t++) {
                    float f = (float)((double)(t + 1) / (double)feather);
                    for (int64_t y = 0; y < oh; y++) mask[y * ow + t] *= f;
                    for (int64_t y = 0; y < oh; y++) mask[y * ow + ow - 1 - t] *= f;
                }
            int64_t uy = py_round((double)py * num / den), ux = py_round((double)px * num / den);
            for (int64_t c = 0; c < cout; c++)
                for (int64_t y = 0; y < oh; y++)
                    for (int64_t x = 0; x < ow; x++) {
                        int64_t k = (c * OH + uy + y) * OW + ux + x;
                        acc[k] += o[(c * oh + y) * ow + x] * mask[y * ow + x];
                        div[k] += mask[y * ow + x];
                    }
            free(mask);
            free(o);
        }
    for (int64_t i = 0; i < cout * OH * OW; i++) out[i] = acc[i] / div[i];
    free(acc);
    free(div);
    return NULL;
}
