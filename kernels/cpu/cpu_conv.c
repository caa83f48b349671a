/* CPU conv2d: im2col + one sgemm per tile of output rows.
 * out[b] viewed as [Co, Ho*Wo] = W[Co, K] . col[K, Ho*Wo] with K = Ci*kh*kw; col is built
 * for a band of output rows at a time so its size stays bounded (a 128-channel 3x3 conv on a
 * 1024x1024 image would otherwise need 1.2 GB). The 1x1 stride-1 unpadded conv is a plain
 * GEMM on x itself. OpenBLAS threads sgemm; the pool threads im2col and the bias. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* im2col budget in floats (32 MB). */
#define CONV_COL_BUDGET ((int64_t)8 << 20)

typedef struct {
    float *col;      /* [K, rows*Wo] */
    const float *x;  /* one image [Ci, H, W] */
    int64_t H, W, Wo, kh, kw;
    int64_t oy0, rows; /* output rows of this tile */
    int stride, pad_top, pad_left;
} im2col_job;

/* Index i = k * rows + r fills col row k for output row oy0 + r. */
static void im2col_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const im2col_job *j = ctx;
    int64_t ncols = j->rows * j->Wo;
    for (int64_t i = begin; i < end; i++) {
        int64_t k = i / j->rows, r = i % j->rows;
        int64_t kx = k % j->kw, ky = (k / j->kw) % j->kh, ci = k / (j->kw * j->kh);
        float *dst = j->col + k * ncols + r * j->Wo;
        int64_t y = (j->oy0 + r) * j->stride - j->pad_top + ky;
        if (y < 0 || y >= j->H) {
            memset(dst, 0, (size_t)j->Wo * sizeof(float));
            continue;
        }
        const float *src = j->x + (ci * j->H + y) * j->W;
        int64_t x0 = kx - j->pad_left; /* input column of output column 0 */
        for (int64_t ox = 0; ox < j->Wo; ox++) {
            int64_t xx = x0 + ox * j->stride;
            dst[ox] = xx >= 0 && xx < j->W ? src[xx] : 0.0f;
        }
    }
}

typedef struct {
    float *out;
    const float *bias;
    int64_t Co, plane;
} bias_job;

static void bias_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const bias_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        float b = j->bias[i % j->Co];
        float *o = j->out + i * j->plane;
        for (int64_t p = 0; p < j->plane; p++) o[p] += b;
    }
}

typedef struct {
    float *dst;
    const fg_tensor *t;
} widen_job;

static void widen_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const widen_job *j = ctx;
    fg_cpu_widen(j->dst + begin, j->t, begin, end - begin);
}

/* The float copy of a weight: the tensor itself when F32, else widened (in parallel: the f16
 * decode is scalar) into the calling thread's scratch slot. */
static const float *weight_f32(const fg_tensor *t, int slot) {
    if (t->dtype == FG_F32) return t->data;
    int64_t n = fg_tensor_numel(t);
    float *buf = fg_cpu_scratch(slot, (size_t)(n > 0 ? n : 1));
    if (!buf) return NULL;
    widen_job j = {.dst = buf, .t = t};
    fg_parallel_for(fg_threadpool_global(), n, 65536, widen_body, &j);
    return buf;
}

static fg_error *conv_one_image(float *out, const float *x, const float *w, int64_t Ci, int64_t H, int64_t W,
                                int64_t Co, int64_t Ho, int64_t Wo, int64_t kh, int64_t kw,
                                const fg_conv2d_params *pr) {
    int64_t K = Ci * kh * kw;
    bool direct = kh == 1 && kw == 1 && pr->stride == 1 && !pr->pad_top && !pr->pad_bottom && !pr->pad_left &&
                  !pr->pad_right;
    if (direct) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)(H * W), (int)K, 1.0f, w, (int)K, x,
                    (int)(H * W), 0.0f, out, (int)(Ho * Wo));
        return NULL;
    }
    int64_t rows_per_tile = CONV_COL_BUDGET / (K * Wo);
    if (rows_per_tile < 1) rows_per_tile = 1;
    if (rows_per_tile > Ho) rows_per_tile = Ho;
    float *col = fg_cpu_scratch(2, (size_t)(K * rows_per_tile * Wo));
    if (!col) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conv2d: im2col buffer of %lld floats", (long long)(K * rows_per_tile * Wo));
    for (int64_t oy0 = 0; oy0 < Ho; oy0 += rows_per_tile) {
        int64_t rows = Ho - oy0 < rows_per_tile ? Ho - oy0 : rows_per_tile;
        im2col_job j = {.col = col, .x = x, .H = H, .W = W, .Wo = Wo, .kh = kh, .kw = kw, .oy0 = oy0, .rows = rows,
                        .stride = pr->stride, .pad_top = pr->pad_top, .pad_left = pr->pad_left};
        int64_t min_chunk = 4096 / (Wo > 0 ? Wo : 1) + 1;
        fg_parallel_for(fg_threadpool_global(), K * rows, min_chunk, im2col_body, &j);
        int n = (int)(rows * Wo);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, n, (int)K, 1.0f, w, (int)K, col, n, 0.0f,
                    out + oy0 * Wo, (int)(Ho * Wo));
    }
    return NULL;
}

fg_error *fg_cpu_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        const fg_conv2d_params *params) {
    if (out->dtype != FG_F32 || x->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "conv2d: the cpu backend computes activations in F32, not %s",
                         fg_dtype_name(x->dtype != FG_F32 ? x->dtype : out->dtype));
    int64_t B = x->shape[0], Ci = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Co = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    int64_t Ho = out->shape[2], Wo = out->shape[3];
    int64_t K = Ci * kh * kw, plane = Ho * Wo;
    if (K > INT_MAX || plane > INT_MAX || Co > INT_MAX || H * W > INT_MAX)
        return fg_errorf(FG_ERR_UNSUPPORTED, "conv2d: sizes beyond the BLAS 32-bit index range");
    if (fg_tensor_numel(out) == 0) return NULL;
    float *o = out->data;
    if (K == 0) {
        memset(o, 0, fg_tensor_nbytes(out));
    } else {
        const float *wf = weight_f32(w, 0);
        if (!wf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conv2d: widening the weight");
        const float *xf = x->data;
        for (int64_t b = 0; b < B; b++)
            FG_TRY(conv_one_image(o + b * Co * plane, xf + b * Ci * H * W, wf, Ci, H, W, Co, Ho, Wo, kh, kw, params));
    }
    if (bias) {
        const float *bf = weight_f32(bias, 1);
        if (!bf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conv2d: widening the bias");
        bias_job j = {.out = o, .bias = bf, .Co = Co, .plane = plane};
        fg_parallel_for(fg_threadpool_global(), B * Co, 16384 / (plane > 0 ? plane : 1) + 1, bias_body, &j);
    }
    return NULL;
}
