/* CPU layer, RMS and group normalisation. Statistics are two-pass in double per row/group:
 * the golden fixtures compare at ~1e-6 relative, and activations with a large mean relative
 * to their spread would lose digits in a one-pass f32 sum. Parameters of any float dtype are
 * widened once per call into the calling thread's scratch; rows/groups go to the thread pool. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Widens an optional parameter into scratch slot `slot`; *dst stays NULL when absent. */
static fg_error *widen_param(const char *op, const fg_tensor *p, int slot, const float **dst) {
    *dst = NULL;
    if (!p) return NULL;
    int64_t n = fg_tensor_numel(p);
    float *buf = fg_cpu_scratch(slot, (size_t)(n > 0 ? n : 1));
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld parameters", op, (long long)n);
    fg_cpu_widen(buf, p, 0, n);
    *dst = buf;
    return NULL;
}

static fg_error *need_f32(const char *op, const fg_tensor *out, const fg_tensor *x) {
    if (x->dtype != FG_F32 || out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: the cpu backend needs F32 x and out (got %s and %s)", op,
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    return NULL;
}

static void mean_rstd(const float *x, int64_t n, double eps, double *mean, double *rstd) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = n > 0 ? s / (double)n : 0.0, v = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = x[i] - m;
        v += d * d;
    }
    *mean = m;
    *rstd = 1.0 / sqrt((n > 0 ? v / (double)n : 0.0) + eps);
}

/* ---- layer_norm ----------------------------------------------------------------------- */

typedef struct layer_norm_job {
    float *out;
    const float *x, *weight, *bias, *shift, *scale; /* optional ones NULL */
    int64_t d, l;                                   /* l: rows per batch for the modulation */
    double eps;
} layer_norm_job;

static void layer_norm_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const layer_norm_job *j = ctx;
    (void)worker;
    int64_t d = j->d;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->x + r * d;
        float *o = j->out + r * d;
        double mean, rstd;
        mean_rstd(x, d, j->eps, &mean, &rstd);
        for (int64_t i = 0; i < d; i++) o[i] = (float)((x[i] - mean) * rstd);
        if (j->weight)
            for (int64_t i = 0; i < d; i++) o[i] *= j->weight[i];
        if (j->bias)
            for (int64_t i = 0; i < d; i++) o[i] += j->bias[i];
        if (j->shift) {
            const float *sh = j->shift + (r / j->l) * d, *sc = j->scale + (r / j->l) * d;
            for (int64_t i = 0; i < d; i++) o[i] = o[i] * (1.0f + sc[i]) + sh[i];
        }
    }
}

fg_error *fg_cpu_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                            float eps, const fg_tensor *shift, const fg_tensor *scale) {
    FG_TRY(need_f32("layer_norm", out, x));
    if (shift && (shift->dtype != FG_F32 || scale->dtype != FG_F32))
        return fg_errorf(FG_ERR_UNSUPPORTED, "layer_norm: the cpu backend needs F32 shift and scale (got %s and %s)",
                         fg_dtype_name(shift->dtype), fg_dtype_name(scale->dtype));
    int64_t d = x->shape[x->ndim - 1];
    if (d == 0 || fg_tensor_numel(x) == 0) return NULL;
    layer_norm_job j = {.out = out->data, .x = x->data, .d = d, .l = 1, .eps = eps};
    FG_TRY(widen_param("layer_norm", weight, 0, &j.weight));
    FG_TRY(widen_param("layer_norm", bias, 1, &j.bias));
    if (shift) {
        j.shift = shift->data;
        j.scale = scale->data;
        j.l = x->shape[1];
    }
    fg_parallel_for(fg_threadpool_global(), fg_tensor_numel(x) / d, (2048 + d - 1) / d, layer_norm_rows, &j);
    return NULL;
}

/* ---- rms_norm ------------------------------------------------------------------------- */

typedef struct rms_norm_job {
    float *out;
    const float *x, *weight;
    int64_t d;
    double eps;
} rms_norm_job;

static void rms_norm_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const rms_norm_job *j = ctx;
    (void)worker;
    int64_t d = j->d;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->x + r * d;
        float *o = j->out + r * d;
        double ss = 0.0;
        for (int64_t i = 0; i < d; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / (double)d + j->eps);
        for (int64_t i = 0; i < d; i++) o[i] = (float)(x[i] * inv);
        if (j->weight)
            for (int64_t i = 0; i < d; i++) o[i] *= j->weight[i];
    }
}

fg_error *fg_cpu_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) {
    FG_TRY(need_f32("rms_norm", out, x));
    int64_t d = x->shape[x->ndim - 1];
    if (d == 0 || fg_tensor_numel(x) == 0) return NULL;
    rms_norm_job j = {.out = out->data, .x = x->data, .d = d, .eps = eps};
    FG_TRY(widen_param("rms_norm", weight, 0, &j.weight));
    fg_parallel_for(fg_threadpool_global(), fg_tensor_numel(x) / d, (2048 + d - 1) / d, rms_norm_rows, &j);
    return NULL;
}

/* ---- rms_norm_rope ---------------------------------------------------------------------- */

/* One pass per row of x [B, H, L, D]: the sum of squares, then each pair normalised and
 * rotated. The normalised values round to f32 exactly as rms_norm stores them, so the result
 * is bit-identical to rms_norm followed by rope. */
typedef struct rms_rope_job {
    float *out;
    const float *x, *weight, *cos, *sin;
    int64_t h, l, half;
    double eps;
    bool cs_batched;
} rms_rope_job;

static void rms_rope_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const rms_rope_job *j = ctx;
    (void)worker;
    int64_t d = 2 * j->half;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->x + r * d;
        float *o = j->out + r * d;
        double ss = 0.0;
        for (int64_t i = 0; i < d; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / (double)d + j->eps);
        int64_t pos = r % j->l, b = r / (j->l * j->h);
        int64_t cs = ((j->cs_batched ? b : 0) * j->l + pos) * j->half;
        const float *c = j->cos + cs, *s = j->sin + cs;
        for (int64_t i = 0; i < j->half; i++) {
            float n0 = (float)(x[2 * i] * inv), n1 = (float)(x[2 * i + 1] * inv);
            if (j->weight) {
                n0 *= j->weight[2 * i];
                n1 *= j->weight[2 * i + 1];
            }
            o[2 * i] = n0 * c[i] - n1 * s[i];
            o[2 * i + 1] = n0 * s[i] + n1 * c[i];
        }
    }
}

fg_error *fg_cpu_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                               const fg_tensor *cos, const fg_tensor *sin) {
    FG_TRY(need_f32("rms_norm_rope", out, x));
    int64_t rows = x->shape[0] * x->shape[1] * x->shape[2], half = x->shape[3] / 2;
    if (rows == 0 || half == 0) return NULL;
    rms_rope_job j = {.out = out->data, .x = x->data, .cos = cos->data, .sin = sin->data, .h = x->shape[1],
                      .l = x->shape[2], .half = half, .eps = eps, .cs_batched = cos->shape[0] != 1};
    FG_TRY(widen_param("rms_norm_rope", weight, 0, &j.weight));
    fg_parallel_for(fg_threadpool_global(), rows, (2048 + 2 * half - 1) / (2 * half), rms_rope_rows, &j);
    return NULL;
}

/* ---- group_norm ----------------------------------------------------------------------- */

typedef struct group_norm_job {
    float *out;
    const float *x, *weight, *bias;
    int64_t channels, groups, spatial;
    double eps;
    bool silu;
} group_norm_job;

/* One (batch, group) is a contiguous span of channels/groups channels x spatial values. */
static void group_norm_groups(void *ctx, int64_t begin, int64_t end, int worker) {
    const group_norm_job *j = ctx;
    (void)worker;
    int64_t cpg = j->channels / j->groups, span = cpg * j->spatial;
    for (int64_t bg = begin; bg < end; bg++) {
        const float *x = j->x + bg * span;
        float *o = j->out + bg * span;
        double mean, rstd;
        mean_rstd(x, span, j->eps, &mean, &rstd);
        for (int64_t ci = 0; ci < cpg; ci++) {
            int64_t c = (bg % j->groups) * cpg + ci;
            /* Folds normalisation and affine into one multiply-add per value, kept in double
             * so a large mean cancels exactly. */
            double a = rstd * (j->weight ? j->weight[c] : 1.0f);
            double b = (j->bias ? j->bias[c] : 0.0f) - mean * a;
            const float *xc = x + ci * j->spatial;
            float *oc = o + ci * j->spatial;
            for (int64_t s = 0; s < j->spatial; s++) oc[s] = (float)(xc[s] * a + b);
            if (j->silu)
                for (int64_t s = 0; s < j->spatial; s++) oc[s] = oc[s] / (1.0f + expf(-oc[s]));
        }
    }
}

fg_error *fg_cpu_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                            const fg_tensor *bias, float eps, bool fuse_silu) {
    FG_TRY(need_f32("group_norm", out, x));
    if (fg_tensor_numel(x) == 0) return NULL;
    int64_t spatial = 1;
    for (int i = 2; i < x->ndim; i++) spatial *= x->shape[i];
    group_norm_job j = {.out = out->data, .x = x->data, .channels = x->shape[1], .groups = groups,
                        .spatial = spatial, .eps = eps, .silu = fuse_silu};
    FG_TRY(widen_param("group_norm", weight, 0, &j.weight));
    FG_TRY(widen_param("group_norm", bias, 1, &j.bias));
    fg_parallel_for(fg_threadpool_global(), x->shape[0] * groups, 1, group_norm_groups, &j);
    return NULL;
}
