/* CPU attention, softmax and rotary embedding.
 * Attention runs per (batch, head) over blocks of query rows, so the score matrix held at
 * once is [block, Lk], never [Lq, Lk] (FLUX at 1024^2 has L = 4608 per head). QK^T and PV are
 * sgemm calls from the calling thread (OpenBLAS threads them); the mask + softmax rows of a
 * block go to the thread pool. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

#define ATTN_QUERY_BLOCK 256

/* In-place stable softmax of one row; a row without any finite-or-+inf entry (all -inf)
 * becomes zeros instead of NaN. */
static void softmax_row(float *row, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = row[i] > mx ? row[i] : mx;
    if (mx == -INFINITY) {
        memset(row, 0, (size_t)n * sizeof(float));
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        row[i] = expf(row[i] - mx);
        sum += row[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) row[i] *= inv;
}

/* ---- softmax -------------------------------------------------------------------------- */

typedef struct softmax_job {
    float *out;
    const float *x;
    int64_t n;
} softmax_job;

static void softmax_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const softmax_job *j = ctx;
    (void)worker;
    for (int64_t r = begin; r < end; r++) {
        float *row = j->out + r * j->n;
        if (row != j->x + r * j->n) memcpy(row, j->x + r * j->n, (size_t)j->n * sizeof(float));
        softmax_row(row, j->n);
    }
}

fg_error *fg_cpu_softmax(fg_tensor *out, const fg_tensor *x) {
    if (x->dtype != FG_F32 || out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "softmax: the cpu backend needs F32 x and out (got %s and %s)",
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    int64_t n = x->shape[x->ndim - 1];
    if (n == 0) return NULL;
    softmax_job j = {out->data, x->data, n};
    fg_parallel_for(fg_threadpool_global(), fg_tensor_numel(x) / n, (1024 + n - 1) / n, softmax_rows, &j);
    return NULL;
}

/* ---- attention ------------------------------------------------------------------------ */

typedef struct mask_softmax_job {
    float *scores;      /* [rows, lk] */
    const float *mask;  /* first row of this block in the mask, or NULL */
    int64_t lk;
} mask_softmax_job;

static void mask_softmax_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const mask_softmax_job *j = ctx;
    (void)worker;
    for (int64_t r = begin; r < end; r++) {
        float *row = j->scores + r * j->lk;
        if (j->mask) {
            const float *m = j->mask + r * j->lk;
            for (int64_t i = 0; i < j->lk; i++) row[i] += m[i];
        }
        softmax_row(row, j->lk);
    }
}

typedef struct attn_dims {
    int64_t b, h, lq, lk, d, dv, mb, mh;
} attn_dims;

/* One (batch, head): blocks of queries through scores -> softmax -> weighted sum of v. */
static void attention_head(const attn_dims *a, float *out, const float *q, const float *k, const float *v,
                           const float *mask, float scale, float *scores) {
    for (int64_t q0 = 0; q0 < a->lq; q0 += ATTN_QUERY_BLOCK) {
        int64_t rows = a->lq - q0 < ATTN_QUERY_BLOCK ? a->lq - q0 : ATTN_QUERY_BLOCK;
        if (a->d > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)a->lk, (int)a->d, scale,
                        q + q0 * a->d, (int)a->d, k, (int)a->d, 0.0f, scores, (int)a->lk);
        else
            memset(scores, 0, (size_t)(rows * a->lk) * sizeof(float));
        mask_softmax_job j = {scores, mask ? mask + q0 * a->lk : NULL, a->lk};
        fg_parallel_for(fg_threadpool_global(), rows, (4096 + a->lk - 1) / a->lk, mask_softmax_rows, &j);
        if (a->dv > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)a->dv, (int)a->lk, 1.0f, scores,
                        (int)a->lk, v, (int)a->dv, 0.0f, out + q0 * a->dv, (int)a->dv);
    }
}

fg_error *fg_cpu_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                           const fg_tensor *mask, float scale) {
    if (q->dtype != FG_F32 || k->dtype != FG_F32 || v->dtype != FG_F32 || out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "attention: the cpu backend needs F32 q, k, v and out (got %s, %s, %s, %s)",
                         fg_dtype_name(q->dtype), fg_dtype_name(k->dtype), fg_dtype_name(v->dtype),
                         fg_dtype_name(out->dtype));
    attn_dims a = {q->shape[0], q->shape[1], q->shape[2], k->shape[2], q->shape[3], v->shape[3],
                   mask ? mask->shape[0] : 0, mask ? mask->shape[1] : 0};
    if (a.b == 0 || a.h == 0 || a.lq == 0 || a.dv == 0) return NULL;
    if (a.lk == 0) {
        /* Nothing to attend to: every row is "fully masked". */
        memset(out->data, 0, fg_tensor_nbytes(out));
        return NULL;
    }
    if (a.lq > INT32_MAX || a.lk > INT32_MAX || a.d > INT32_MAX || a.dv > INT32_MAX)
        return fg_errorf(FG_ERR_UNSUPPORTED, "attention: sequence or head size exceeds the BLAS index range");
    int64_t block = a.lq < ATTN_QUERY_BLOCK ? a.lq : ATTN_QUERY_BLOCK;
    float *scores = fg_cpu_scratch(0, (size_t)(block * a.lk));
    if (!scores)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "attention: cannot allocate %lld x %lld scores", (long long)block,
                         (long long)a.lk);
    for (int64_t b = 0; b < a.b; b++) {
        for (int64_t h = 0; h < a.h; h++) {
            int64_t bh = b * a.h + h;
            const float *m = NULL;
            if (mask) m = (const float *)mask->data + ((a.mb == 1 ? 0 : b) * a.mh + (a.mh == 1 ? 0 : h)) * a.lq * a.lk;
            attention_head(&a, (float *)out->data + bh * a.lq * a.dv, (const float *)q->data + bh * a.lq * a.d,
                           (const float *)k->data + bh * a.lk * a.d, (const float *)v->data + bh * a.lk * a.dv, m,
                           scale, scores);
        }
    }
    return NULL;
}

/* ---- rope ----------------------------------------------------------------------------- */

typedef struct rope_job {
    float *out;
    const float *x, *cos, *sin;
    int64_t h, l, half;
    bool cs_batched; /* cos/sin have a batch dim of B (else 1) */
} rope_job;

static void rope_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const rope_job *j = ctx;
    (void)worker;
    for (int64_t r = begin; r < end; r++) {
        int64_t pos = r % j->l, b = r / (j->l * j->h);
        int64_t cs = ((j->cs_batched ? b : 0) * j->l + pos) * j->half;
        const float *c = j->cos + cs, *s = j->sin + cs, *x = j->x + r * 2 * j->half;
        float *o = j->out + r * 2 * j->half;
        for (int64_t i = 0; i < j->half; i++) {
            float x0 = x[2 * i], x1 = x[2 * i + 1];
            o[2 * i] = x0 * c[i] - x1 * s[i];
            o[2 * i + 1] = x0 * s[i] + x1 * c[i];
        }
    }
}

fg_error *fg_cpu_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) {
    if (x->dtype != FG_F32 || out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "rope: the cpu backend needs F32 x and out (got %s and %s)",
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    int64_t rows = x->shape[0] * x->shape[1] * x->shape[2], half = x->shape[3] / 2;
    if (rows == 0 || half == 0) return NULL;
    rope_job j = {out->data, x->data, cos->data, sin->data, x->shape[1], x->shape[2], half,
                  cos->shape[0] != 1};
    fg_parallel_for(fg_threadpool_global(), rows, (2048 + half - 1) / half, rope_rows, &j);
    return NULL;
}
