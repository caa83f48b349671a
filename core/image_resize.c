/* common_upscale: center crop, then PyTorch's interpolate modes or Pillow's LANCZOS on every
 * plane (bislerp, which blends whole channel vectors, lives in image_bislerp.c). Each method
 * first builds per-axis tap tables (indices and weights, as PyTorch's compute_indices_weights
 * does), then the rows are filled in parallel; the sums follow PyTorch's order (width taps
 * inside, height taps outside, left to right). */
#include "core/image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_bislerp.h"
#include "core/threadpool.h"

static const char *const method_names[] = {"nearest-exact", "bilinear", "area", "bicubic", "lanczos", "bislerp"};

fg_error *fg_upscale_method_parse(const char *name, fg_upscale_method *out) {
    FG_CHECK_ARG(name && out, "fg_upscale_method_parse: NULL argument");
    for (int i = 0; i < (int)(sizeof method_names / sizeof *method_names); i++)
        if (strcmp(name, method_names[i]) == 0) {
            *out = (fg_upscale_method)i;
            return NULL;
        }
    return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                     "unknown upscale method '%s' (expected nearest-exact, bilinear, area, bicubic, lanczos or bislerp)", name);
}

const char *fg_upscale_method_name(fg_upscale_method method) {
    return (unsigned)method < sizeof method_names / sizeof *method_names ? method_names[method] : "?";
}

fg_error *fg_upscale_crop_parse(const char *name, fg_upscale_crop *out) {
    FG_CHECK_ARG(name && out, "fg_upscale_crop_parse: NULL argument");
    if (strcmp(name, "disabled") == 0) *out = FG_CROP_DISABLED;
    else if (strcmp(name, "center") == 0) *out = FG_CROP_CENTER;
    else return fg_errorf(FG_ERR_INVALID_ARGUMENT, "unknown crop '%s' (expected disabled or center)", name);
    return NULL;
}

/* ComfyUI's arithmetic in Python doubles; round() is half-to-even, which rint gives in the
 * default rounding mode. */
fg_error *fg_upscale_crop_window(int src_w, int src_h, int width, int height, fg_upscale_crop crop, fg_crop_window *out) {
    FG_CHECK_ARG(out, "fg_upscale_crop_window: NULL output");
    FG_CHECK_ARG(src_w >= 1 && src_h >= 1 && width >= 1 && height >= 1, "upscale: sizes %dx%d -> %dx%d must be positive",
                 src_w, src_h, width, height);
    fg_crop_window win = {0, 0, src_w, src_h};
    if (crop == FG_CROP_CENTER) {
        double old_aspect = (double)src_w / src_h, new_aspect = (double)width / height;
        if (old_aspect > new_aspect) win.x = (int)rint((src_w - src_w * (new_aspect / old_aspect)) / 2);
        else if (old_aspect < new_aspect) win.y = (int)rint((src_h - src_h * (old_aspect / new_aspect)) / 2);
        win.width = src_w - 2 * win.x;
        win.height = src_h - 2 * win.y;
        if (win.width < 1 || win.height < 1)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "upscale: a center crop of %dx%d for %dx%d leaves no pixels", src_w,
                             src_h, width, height);
    }
    *out = win;
    return NULL;
}

/* ---- tap tables ---------------------------------------------------------------------- */

typedef struct axis {
    int taps;      /* per output position */
    int *index;    /* out * taps source indices (within the crop window) */
    float *weight; /* out * taps */
} axis;

static void axis_free(axis *a) {
    free(a->index);
    free(a->weight);
}

static fg_error *axis_alloc(axis *a, int out, int taps) {
    a->taps = taps;
    a->index = malloc(sizeof *a->index * (size_t)out * taps);
    a->weight = malloc(sizeof *a->weight * (size_t)out * taps);
    if (!a->index || !a->weight) {
        axis_free(a);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "upscale: tap tables for %d outputs", out);
    }
    return NULL;
}

/* floorf() then PyTorch's guard_index_and_lambda. */
static void guard(float real, int in, int *index, float *lambda) {
    int i = (int)floorf(real);
    if (i > in - 1) i = in - 1;
    float l = real - (float)i;
    *index = i;
    *lambda = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static float cubic1(float x, float A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static float cubic2(float x, float A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

static fg_error *axis_build(axis *a, fg_upscale_method method, int in, int out) {
    int taps = method == FG_UPSCALE_BICUBIC ? 4 : method == FG_UPSCALE_BILINEAR ? 2 : 1;
    FG_TRY(axis_alloc(a, out, taps));
    float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        int *idx = a->index + (size_t)o * taps;
        float *w = a->weight + (size_t)o * taps;
        if (method == FG_UPSCALE_NEAREST_EXACT) {
            int s = (int)floorf((float)(((double)o + 0.5) * (double)scale));
            idx[0] = s < in - 1 ? s : in - 1;
            w[0] = 1.0f;
            continue;
        }
        float real = scale * ((float)o + 0.5f) - 0.5f;
        if (method == FG_UPSCALE_BILINEAR && real < 0.0f) real = 0.0f;
        int i;
        float t;
        guard(real, in, &i, &t);
        if (method == FG_UPSCALE_BILINEAR) {
            idx[0] = i;
            idx[1] = i < in - 1 ? i + 1 : i;
            w[0] = 1.0f - t;
            w[1] = t;
        } else {
            const float A = -0.75f;
            w[0] = cubic2((float)((double)t + 1.0), A);
            w[1] = cubic1(t, A);
            float t2 = (float)(1.0 - (double)t);
            w[2] = cubic1(t2, A);
            w[3] = cubic2((float)((double)t2 + 1.0), A);
            for (int j = 0; j < 4; j++) idx[j] = clampi(i - 1 + j, 0, in - 1);
        }
    }
    return NULL;
}

/* ---- the float methods --------------------------------------------------------------- */

typedef struct resize_job {
    const float *src;       /* first pixel of the crop window in plane 0 */
    size_t src_plane;       /* floats between planes of src */
    int src_stride;         /* floats between rows of src */
    int in_w, in_h;         /* crop window */
    float *dst;
    int out_w, out_h;
    axis ax, ay;            /* taps along x (width) and y (height) */
    fg_upscale_method method;
} resize_job;

static float taps_row(const resize_job *j, const float *row, int ox) {
    const int *ix = j->ax.index + (size_t)ox * j->ax.taps;
    const float *wx = j->ax.weight + (size_t)ox * j->ax.taps;
    float acc = row[ix[0]] * wx[0];
    for (int k = 1; k < j->ax.taps; k++) acc += row[ix[k]] * wx[k];
    return acc;
}

static float area_pixel(const resize_job *j, const float *plane, int oy, int ox) {
    int y0 = (int)((int64_t)oy * j->in_h / j->out_h), y1 = (int)(((int64_t)(oy + 1) * j->in_h + j->out_h - 1) / j->out_h);
    int x0 = (int)((int64_t)ox * j->in_w / j->out_w), x1 = (int)(((int64_t)(ox + 1) * j->in_w + j->out_w - 1) / j->out_w);
    float sum = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) sum += plane[(size_t)y * j->src_stride + x];
    return sum / (float)(y1 - y0) / (float)(x1 - x0);
}

/* One output row per item: item = plane * out_h + oy. */
static void resize_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const resize_job *j = ctx;
    for (int64_t item = begin; item < end; item++) {
        int64_t p = item / j->out_h;
        int oy = (int)(item % j->out_h);
        const float *plane = j->src + (size_t)p * j->src_plane;
        float *out = j->dst + ((size_t)p * j->out_h + oy) * j->out_w;
        if (j->method == FG_UPSCALE_AREA) {
            for (int ox = 0; ox < j->out_w; ox++) out[ox] = area_pixel(j, plane, oy, ox);
            continue;
        }
        const int *iy = j->ay.index + (size_t)oy * j->ay.taps;
        const float *wy = j->ay.weight + (size_t)oy * j->ay.taps;
        if (j->method == FG_UPSCALE_NEAREST_EXACT) {
            const float *row = plane + (size_t)iy[0] * j->src_stride;
            for (int ox = 0; ox < j->out_w; ox++) out[ox] = row[j->ax.index[ox]];
            continue;
        }
        for (int ox = 0; ox < j->out_w; ox++) {
            float acc = taps_row(j, plane + (size_t)iy[0] * j->src_stride, ox) * wy[0];
            for (int k = 1; k < j->ay.taps; k++) acc += taps_row(j, plane + (size_t)iy[k] * j->src_stride, ox) * wy[k];
            out[ox] = acc;
        }
    }
}

static fg_error *resize_float(resize_job *j, int64_t planes) {
    if (j->method != FG_UPSCALE_AREA) {
        FG_TRY(axis_build(&j->ax, j->method, j->in_w, j->out_w));
        fg_error *err = axis_build(&j->ay, j->method, j->in_h, j->out_h);
        if (err) {
            axis_free(&j->ax);
            return err;
        }
    }
    int64_t rows = planes * j->out_h;
    fg_parallel_for(fg_threadpool_global(), rows, 1 + 65536 / (j->out_w + 1), resize_rows, j);
    axis_free(&j->ax);
    axis_free(&j->ay);
    return NULL;
}

/* ---- Pillow LANCZOS ------------------------------------------------------------------ */

#define PIL_PRECISION_BITS (32 - 8 - 2)

typedef struct pil_axis {
    int ksize;
    int *bounds; /* out * 2: first source index, count */
    int32_t *k;  /* out * ksize fixed-point coefficients */
} pil_axis;

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in). */
static fg_error *pil_axis_build(pil_axis *a, int in, int out) {
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 3.0 * filterscale;
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = malloc(sizeof *a->bounds * 2 * (size_t)out);
    a->k = malloc(sizeof *a->k * (size_t)a->ksize * out);
    double *kk = malloc(sizeof *kk * (size_t)a->ksize);
    if (!a->bounds || !a->k || !kk) {
        free(kk);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "lanczos: coefficients for %d outputs", out);
    }
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            kk[x] = lanczos3((x + xmin - center + 0.5) * ss);
            ww += kk[x];
        }
        int32_t *k = a->k + (size_t)xx * a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? kk[x] / ww : kk[x]) : 0.0;
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PIL_PRECISION_BITS) : 0.5 + v * (1 << PIL_PRECISION_BITS));
        }
        a->bounds[2 * xx] = xmin;
        a->bounds[2 * xx + 1] = xmax;
    }
    free(kk);
    return NULL;
}

static uint8_t pil_clip8(int32_t v) {
    if (v <= 0) return 0;
    v >>= PIL_PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* One filtered sample: `n` taps of src with the given stride. */
static uint8_t pil_tap(const uint8_t *src, size_t stride, const int32_t *k, int n) {
    int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
    for (int i = 0; i < n; i++) ss += src[(size_t)i * stride] * k[i];
    return pil_clip8(ss);
}

/* ComfyUI's uint8(clip(255 * x, 0, 255)); NaN becomes 0. */
static uint8_t to_u8(float x) {
    float v = 255.0f * x;
    if (!(v > 0.0f)) return 0;
    return v >= 255.0f ? 255 : (uint8_t)v;
}

static void lanczos_plane(const resize_job *j, const float *src, float *dst, uint8_t *in8, uint8_t *tmp, uint8_t *out8,
                          const pil_axis *ax, const pil_axis *ay) {
    for (int y = 0; y < j->in_h; y++)
        for (int x = 0; x < j->in_w; x++) in8[(size_t)y * j->in_w + x] = to_u8(src[(size_t)y * j->src_stride + x]);
    /* Pillow skips a pass whose size is unchanged; the horizontal one runs first. */
    const uint8_t *cur = in8;
    int cur_w = j->in_w;
    if (j->out_w != j->in_w) {
        for (int y = 0; y < j->in_h; y++)
            for (int xx = 0; xx < j->out_w; xx++) {
                const int *b = ax->bounds + 2 * xx;
                tmp[(size_t)y * j->out_w + xx] = pil_tap(in8 + (size_t)y * j->in_w + b[0], 1, ax->k + (size_t)xx * ax->ksize, b[1]);
            }
        cur = tmp;
        cur_w = j->out_w;
    }
    if (j->out_h != j->in_h) {
        for (int yy = 0; yy < j->out_h; yy++) {
            const int *b = ay->bounds + 2 * yy;
            for (int x = 0; x < cur_w; x++)
                out8[(size_t)yy * cur_w + x] = pil_tap(cur + (size_t)b[0] * cur_w + x, (size_t)cur_w, ay->k + (size_t)yy * ay->ksize, b[1]);
        }
        cur = out8;
    }
    size_t n = (size_t)j->out_w * j->out_h;
    for (size_t i = 0; i < n; i++) dst[i] = (float)cur[i] / 255.0f;
}

static fg_error *resize_lanczos(resize_job *j, int64_t planes) {
    pil_axis ax = {0}, ay = {0};
    size_t in_n = (size_t)j->in_w * j->in_h, tmp_n = (size_t)j->out_w * j->in_h, out_n = (size_t)j->out_w * j->out_h;
    uint8_t *in8 = malloc(in_n), *tmp = malloc(tmp_n), *out8 = malloc(out_n);
    fg_error *err = NULL;
    if (!in8 || !tmp || !out8) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "lanczos: buffers for %dx%d", j->out_w, j->out_h);
    if (!err) err = pil_axis_build(&ax, j->in_w, j->out_w);
    if (!err) err = pil_axis_build(&ay, j->in_h, j->out_h);
    for (int64_t p = 0; !err && p < planes; p++)
        lanczos_plane(j, j->src + (size_t)p * j->src_plane, j->dst + (size_t)p * out_n, in8, tmp, out8, &ax, &ay);
    free(ax.bounds);
    free(ax.k);
    free(ay.bounds);
    free(ay.k);
    free(in8);
    free(tmp);
    free(out8);
    return err;
}

fg_error *fg_common_upscale(const float *src, int64_t batch, int64_t channels, int src_h, int src_w, float *dst,
                            int width, int height, fg_upscale_method method, fg_upscale_crop crop) {
    FG_CHECK_ARG(src && dst, "fg_common_upscale: NULL buffer");
    FG_CHECK_ARG(batch >= 1 && channels >= 1, "upscale: batch %lld, channels %lld must be positive", (long long)batch,
                 (long long)channels);
    FG_CHECK_ARG(width <= 16384 * 4 && height <= 16384 * 4, "upscale: output %dx%d too large", width, height);
    fg_crop_window win;
    FG_TRY(fg_upscale_crop_window(src_w, src_h, width, height, crop, &win));
    resize_job j = {
        .src = src + (size_t)win.y * src_w + win.x,
        .src_plane = (size_t)src_w * src_h,
        .src_stride = src_w,
        .in_w = win.width,
        .in_h = win.height,
        .dst = dst,
        .out_w = width,
        .out_h = height,
        .method = method,
    };
    int64_t planes = batch * channels;
    switch (method) {
    case FG_UPSCALE_NEAREST_EXACT:
    case FG_UPSCALE_BILINEAR:
    case FG_UPSCALE_AREA:
    case FG_UPSCALE_BICUBIC: return resize_float(&j, planes);
    case FG_UPSCALE_LANCZOS:
        if (channels != 1 && channels != 3)
            return fg_errorf(FG_ERR_UNSUPPORTED, "upscale: lanczos on %lld channels (Pillow premultiplies alpha; only 1 or 3 "
                             "channels are supported)", (long long)channels);
        return resize_lanczos(&j, planes);
    case FG_UPSCALE_BISLERP:
        return fg_bislerp(j.src, j.src_plane, j.src_stride, batch, channels, j.in_h, j.in_w, dst, width, height);
    }
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "upscale: unknown method %d", (int)method);
}
