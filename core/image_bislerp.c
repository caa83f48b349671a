/* bislerp: ComfyUI's comfy.utils.bislerp in float32, one operation per PyTorch tensor op and in
 * its order (summation order included), so results agree with ComfyUI's to about an ulp: only
 * acosf / sinf (libm here, Sleef in PyTorch) round differently now and then.
 *
 * Two passes, as ComfyUI does: the width pass resizes every row to `width` into a scratch
 * tensor [batch, channels, in_h, width], the height pass resizes its columns into dst. Each
 * output pixel of a pass is slerp(b1, b2, r) of two source pixels' channel vectors; the pair
 * and r come from a per-axis table (slerp_axis). */
#include "core/image_bislerp.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/threadpool.h"

/* ---- per-axis source pairs -------------------------------------------------------------- */

typedef struct slerp_axis {
    int *lo, *hi;  /* the two source indices of each output position */
    float *ratio;  /* how far towards hi */
} slerp_axis;

static void slerp_axis_free(slerp_axis *a) {
    free(a->lo);
    free(a->hi);
    free(a->ratio);
}

/* One F.interpolate(mode="bilinear", align_corners=False) output of the 1-row tensor `row(k)`:
 * PyTorch's source position, clamped at 0, its two taps (the second clamped to the last) and
 * weights, summed as t0 * w0 + t1 * w1 in float. PyTorch's CPU build (2.x, x86-64) computes the
 * position scale * (o + 0.5) - 0.5 with a fused multiply-add: plain float arithmetic moves
 * some coordinates by an ulp, and an ulp of a coordinate near 8 is 1e-6 of the ratio. fmaf
 * matched torch 2.15 on every size pair 1..69 -> 1..99 (tools/gen_bislerp_fixture.py). */
static float interp_row(int in, float scale, int o, float (*row)(int k, int in)) {
    float real = fmaf(scale, (float)o + 0.5f, -0.5f);
    if (real < 0.0f) real = 0.0f;
    int i0 = (int)real, i1 = i0 < in - 1 ? i0 + 1 : i0;
    float l1 = real - (float)i0;
    l1 = l1 < 0.0f ? 0.0f : l1 > 1.0f ? 1.0f : l1;
    float l0 = 1.0f - l1;
    return row(i0, in) * l0 + row(i1, in) * l1;
}

/* The two coordinate rows ComfyUI's generate_bilinear_data interpolates: arange(in), and
 * arange(in) + 1 with its last entry lowered back to in - 1. */
static float row_index(int k, int in) {
    (void)in;
    return (float)k;
}
static float row_next(int k, int in) { return (float)(k < in - 1 ? k + 1 : in - 1); }

static int clamp_index(int v, int in) { return v < 0 ? 0 : v > in - 1 ? in - 1 : v; }

/* ComfyUI resizes the coordinate rows themselves with bilinear interpolation, then takes
 * int64() (truncation) of each as the index and coords - floor(coords) as the ratio. So the
 * upper neighbour is truncated from its own interpolated row rather than being lo + 1, and the
 * ratio is the fraction of the interpolated value, not PyTorch's lambda. The clamp only guards
 * the gathers (ComfyUI's values never leave [0, in - 1]). */
static fg_error *slerp_axis_build(slerp_axis *a, int in, int out) {
    a->lo = malloc(sizeof *a->lo * (size_t)out);
    a->hi = malloc(sizeof *a->hi * (size_t)out);
    a->ratio = malloc(sizeof *a->ratio * (size_t)out);
    if (!a->lo || !a->hi || !a->ratio) {
        slerp_axis_free(a);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "bislerp: index tables for %d outputs", out);
    }
    float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        float c1 = interp_row(in, scale, o, row_index), c2 = interp_row(in, scale, o, row_next);
        a->ratio[o] = c1 - floorf(c1);
        a->lo[o] = clamp_index((int)c1, in);
        a->hi[o] = clamp_index((int)c2, in);
    }
    return NULL;
}

/* ---- slerp of two channel vectors ------------------------------------------------------- */

/* The channel vectors of one slerp: b1, b2 with their channels `stride` floats apart. */
typedef struct vec_pair {
    const float *b1, *b2;
    size_t stride;
    float n1, n2;
} vec_pair;

/* ComfyUI divides by the norm and then sets the entries of zero-norm vectors to 0 (replacing
 * the 0/0 NaNs), so a zero vector normalises to the zero vector. */
static float unit(float x, float norm) { return norm == 0.0f ? 0.0f : x / norm; }

static float term_sq1(const vec_pair *v, int64_t k) { return v->b1[k * v->stride] * v->b1[k * v->stride]; }
static float term_sq2(const vec_pair *v, int64_t k) { return v->b2[k * v->stride] * v->b2[k * v->stride]; }
static float term_dot(const vec_pair *v, int64_t k) {
    return unit(v->b1[k * v->stride], v->n1) * unit(v->b2[k * v->stride], v->n2);
}

/* A float sum over the channels in PyTorch's order, which depends on the memory layout of
 * ComfyUI's [pixels, channels] tensors. They are reshaped from [n, h, w, c] views: with one
 * batch item (or one pixel per plane) the reshape is a view whose channels are a plane apart,
 * and PyTorch reduces such a strided dimension channel by channel (`lanes` false); otherwise
 * the reshape copies to a contiguous tensor, and PyTorch's vectorised last-dim reductions
 * (torch.norm, Tensor.sum) keep 8 float lanes over the whole multiples of 8, add the lanes left
 * to right, then the rest one by one. Against torch 2.15 the 8-lane order is bit-exact for 4, 8,
 * 16, 24 and 32 channels (FLUX latents have 16, SD's 4); other counts may differ by an ulp. */
#define SUM_LANES 8
static float channel_sum(float (*term)(const vec_pair *, int64_t), const vec_pair *v, int64_t c, bool lanes) {
    float lane[SUM_LANES] = {0};
    int64_t body = lanes ? c - c % SUM_LANES : 0, k = 0;
    for (; k < body; k++) lane[k % SUM_LANES] += term(v, k);
    float sum = lane[0];
    for (int j = 1; j < SUM_LANES; j++) sum += lane[j];
    for (; k < c; k++) sum += term(v, k);
    return sum;
}

/* ComfyUI compares the float32 dot product with the Python floats 1 - 1e-5 and 1e-5 - 1;
 * PyTorch casts such scalars to the tensor's float32 before comparing. */
#define NEAR_PARALLEL ((float)(1.0 - 1e-5))
#define NEAR_OPPOSITE ((float)(1e-5 - 1.0))

/* out = slerp(b1, b2, r) over c channels (strides in floats). As in ComfyUI: the unit vectors
 * are slerped, then scaled by the linearly interpolated norm ("technically not mathematically
 * correct" says its comment); near-parallel pairs keep b1 unchanged and near-opposite pairs
 * fall back to the linear blend. A zero vector has dot 0 with anything, so it takes the
 * ordinary path with omega = pi / 2. NaN dots take the ordinary path too, as in PyTorch. */
static void slerp_vec(const float *b1, const float *b2, size_t in_stride, float r, float *out, size_t out_stride,
                      int64_t c, bool lanes) {
    vec_pair v = {.b1 = b1, .b2 = b2, .stride = in_stride};
    v.n1 = sqrtf(channel_sum(term_sq1, &v, c, lanes));
    v.n2 = sqrtf(channel_sum(term_sq2, &v, c, lanes));
    float n1 = v.n1, n2 = v.n2, dot = channel_sum(term_dot, &v, c, lanes);
    float one_minus_r = 1.0f - r;
    if (dot > NEAR_PARALLEL) {
        for (int64_t k = 0; k < c; k++) out[k * out_stride] = b1[k * in_stride];
        return;
    }
    if (dot < NEAR_OPPOSITE) {
        for (int64_t k = 0; k < c; k++) out[k * out_stride] = b1[k * in_stride] * one_minus_r + b2[k * in_stride] * r;
        return;
    }
    float omega = acosf(dot), so = sinf(omega);
    float s1 = sinf(one_minus_r * omega) / so, s2 = sinf(r * omega) / so;
    float scale = n1 * one_minus_r + n2 * r;
    for (int64_t k = 0; k < c; k++)
        out[k * out_stride] = (s1 * unit(b1[k * in_stride], n1) + s2 * unit(b2[k * in_stride], n2)) * scale;
}

/* ---- the two passes ---------------------------------------------------------------------- */

/* One pass: output rows x cols pixels per batch item, each channel vector gathered from src
 * along the rows (along_w: source columns lo/hi of the same row) or along the columns
 * (source rows lo/hi of the same column). */
typedef struct slerp_pass {
    const float *src;
    size_t src_batch, src_plane; /* floats between batch items / channel planes of src */
    int src_stride;              /* floats between rows of src */
    float *dst;                  /* contiguous [batch, channels, rows, cols] */
    int64_t channels;
    int rows, cols;
    bool along_w;
    bool lanes;                  /* channel sums in PyTorch's contiguous order (channel_sum) */
    slerp_axis axis;
} slerp_pass;

/* One output row per item: item = b * rows + row. */
static void pass_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const slerp_pass *p = ctx;
    size_t dst_plane = (size_t)p->rows * p->cols;
    for (int64_t item = begin; item < end; item++) {
        int64_t b = item / p->rows;
        int row = (int)(item % p->rows);
        const float *base = p->src + (size_t)b * p->src_batch;
        float *out = p->dst + (size_t)b * p->channels * dst_plane + (size_t)row * p->cols;
        for (int col = 0; col < p->cols; col++) {
            const float *b1, *b2;
            float r;
            if (p->along_w) {
                b1 = base + (size_t)row * p->src_stride + p->axis.lo[col];
                b2 = base + (size_t)row * p->src_stride + p->axis.hi[col];
                r = p->axis.ratio[col];
            } else {
                b1 = base + (size_t)p->axis.lo[row] * p->src_stride + col;
                b2 = base + (size_t)p->axis.hi[row] * p->src_stride + col;
                r = p->axis.ratio[row];
            }
            slerp_vec(b1, b2, p->src_plane, r, out + col, dst_plane, p->channels, p->lanes);
        }
    }
}

/* in: the source length along the pass's axis (the table's domain). */
static fg_error *run_pass(slerp_pass *p, int64_t batch, int in) {
    p->lanes = batch > 1 || (int64_t)p->rows * p->cols == 1;
    FG_TRY(slerp_axis_build(&p->axis, in, p->along_w ? p->cols : p->rows));
    /* A row costs about cols * channels * 10 flops: chunks of some 64k of them. */
    int64_t per_row = (int64_t)p->cols * p->channels + 1;
    fg_parallel_for(fg_threadpool_global(), batch * p->rows, 1 + 65536 / per_row, pass_rows, p);
    slerp_axis_free(&p->axis);
    return NULL;
}

fg_error *fg_bislerp(const float *src, size_t src_plane, int src_stride, int64_t batch, int64_t channels, int in_h,
                     int in_w, float *dst, int width, int height) {
    FG_CHECK_ARG(src && dst, "bislerp: NULL buffer");
    FG_CHECK_ARG(batch >= 1 && channels >= 1 && in_h >= 1 && in_w >= 1 && width >= 1 && height >= 1,
                 "bislerp: sizes %lldx%lldx%dx%d -> %dx%d must be positive", (long long)batch, (long long)channels, in_h,
                 in_w, width, height);
    size_t n_tmp;
    if (__builtin_mul_overflow((size_t)batch * (size_t)channels, (size_t)in_h * (size_t)width, &n_tmp) ||
        n_tmp > SIZE_MAX / sizeof(float))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "bislerp: %lldx%lldx%dx%d is too large", (long long)batch,
                         (long long)channels, in_h, width);
    float *tmp = malloc(sizeof *tmp * (n_tmp ? n_tmp : 1));
    if (!tmp) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "bislerp: scratch for %zu floats", n_tmp);
    slerp_pass w_pass = {
        .src = src, .src_batch = src_plane * (size_t)channels, .src_plane = src_plane, .src_stride = src_stride,
        .dst = tmp, .channels = channels, .rows = in_h, .cols = width, .along_w = true,
    };
    size_t tmp_plane = (size_t)in_h * width;
    slerp_pass h_pass = {
        .src = tmp, .src_batch = tmp_plane * (size_t)channels, .src_plane = tmp_plane, .src_stride = width,
        .dst = dst, .channels = channels, .rows = height, .cols = width, .along_w = false,
    };
    fg_error *err = run_pass(&w_pass, batch, in_w);
    if (!err) err = run_pass(&h_pass, batch, in_h);
    free(tmp);
    return fg_error_wrapf(err, "bislerp %dx%d -> %dx%d", in_w, in_h, width, height);
}
