/* CPU linear and embedding. Weights of any float dtype are widened to f32 a block of rows at
 * a time into the calling thread's scratch (bounded, so a 12B-parameter model is never held
 * in f32), then multiplied with OpenBLAS sgemm, which threads itself; our own loops (widening,
 * the bias + activation epilogue, embedding rows) run on the global thread pool. */
#include <cblas.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Widened weight tile bound: 4M floats = 16 MiB per call. */
#define LINEAR_TILE_FLOATS ((int64_t)1 << 22)

typedef struct widen_job {
    float *dst;
    const fg_tensor *w;
    int64_t first_row, k;
} widen_job;

static void widen_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const widen_job *j = ctx;
    (void)worker;
    fg_cpu_widen(j->dst + begin * j->k, j->w, (j->first_row + begin) * j->k, (end - begin) * j->k);
}

typedef struct epilogue_job {
    float *out;
    const float *bias; /* NULL: none */
    int64_t n;
    fg_activation act;
} epilogue_job;

static void bias_act_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const epilogue_job *j = ctx;
    (void)worker;
    for (int64_t r = begin; r < end; r++) {
        float *row = j->out + r * j->n;
        if (j->bias)
            for (int64_t i = 0; i < j->n; i++) row[i] += j->bias[i];
        if (j->act != FG_ACT_NONE)
            for (int64_t i = 0; i < j->n; i++) row[i] = fg_cpu_activate(row[i], j->act);
    }
}

/* Rows of the widened tile: as many as fit the bound, a multiple of 16 when N allows. */
static int64_t tile_rows(int64_t n, int64_t k) {
    int64_t rows = LINEAR_TILE_FLOATS / (k > 0 ? k : 1);
    if (rows >= n) return n;
    if (rows > 16) rows -= rows % 16;
    return rows > 0 ? rows : 1;
}

static fg_error *linear_matmul(float *out, const float *x, const fg_tensor *w, float w_scale, int64_t m,
                               int64_t n, int64_t k) {
    fg_threadpool *pool = fg_threadpool_global();
    if (k == 0) {
        memset(out, 0, (size_t)(m * n) * sizeof(float));
        return NULL;
    }
    if (w->dtype == FG_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, w_scale, x, (int)k,
                    (const float *)w->data, (int)k, 0.0f, out, (int)n);
        return NULL;
    }
    int64_t rows = tile_rows(n, k);
    float *tile = fg_cpu_scratch(0, (size_t)(rows * k));
    if (!tile) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "linear: cannot allocate a %lld x %lld weight tile",
                                (long long)rows, (long long)k);
    for (int64_t n0 = 0; n0 < n; n0 += rows) {
        int64_t tn = n - n0 < rows ? n - n0 : rows;
        widen_job wj = {tile, w, n0, k};
        fg_parallel_for(pool, tn, 16, widen_rows, &wj);
        /* alpha = w_scale scales the widened weight inside the product. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)tn, (int)k, w_scale, x, (int)k, tile,
                    (int)k, 0.0f, out + n0, (int)n);
    }
    return NULL;
}

fg_error *fg_cpu_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        float w_scale, fg_activation act) {
    if (x->dtype != FG_F32 || out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "linear: the cpu backend needs F32 x and out (got %s and %s)",
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    int64_t n = w->shape[0], k = w->shape[1];
    int64_t m = k > 0 ? fg_tensor_numel(x) / k : fg_tensor_numel(out) / (n > 0 ? n : 1);
    if (m == 0 || n == 0) return NULL;
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return fg_errorf(FG_ERR_UNSUPPORTED, "linear: %lld x %lld x %lld exceeds the BLAS index range",
                         (long long)m, (long long)n, (long long)k);
    FG_TRY(linear_matmul(out->data, x->data, w, w_scale, m, n, k));
    if (!bias && act == FG_ACT_NONE) return NULL;
    float *b = NULL;
    if (bias) {
        b = fg_cpu_scratch(1, (size_t)n);
        if (!b) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "linear: cannot allocate the bias");
        fg_cpu_widen(b, bias, 0, n);
    }
    epilogue_job ej = {out->data, b, n, act};
    fg_parallel_for(fg_threadpool_global(), m, (4096 + n - 1) / n, bias_act_rows, &ej);
    return NULL;
}

/* ---- embedding ------------------------------------------------------------------------ */

typedef struct embed_job {
    float *out;
    const void *ids;
    bool ids64;
    const fg_tensor *table;
    int64_t d;
} embed_job;

static int64_t id_at(const void *ids, bool ids64, int64_t i) {
    return ids64 ? ((const int64_t *)ids)[i] : (int64_t)((const int32_t *)ids)[i];
}

static void embed_rows(void *ctx, int64_t begin, int64_t end, int worker) {
    const embed_job *j = ctx;
    (void)worker;
    for (int64_t i = begin; i < end; i++)
        fg_cpu_widen(j->out + i * j->d, j->table, id_at(j->ids, j->ids64, i) * j->d, j->d);
}

fg_error *fg_cpu_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    if (out->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "embedding: the cpu backend needs an F32 out (got %s)",
                         fg_dtype_name(out->dtype));
    int64_t count = fg_tensor_numel(ids), v = table->shape[0];
    bool ids64 = ids->dtype == FG_I64;
    for (int64_t i = 0; i < count; i++) {
        int64_t id = id_at(ids->data, ids64, i);
        if (id < 0 || id >= v)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "embedding: id %lld at position %lld is out of range [0, %lld)",
                             (long long)id, (long long)i, (long long)v);
    }
    embed_job j = {out->data, ids->data, ids64, table, table->shape[1]};
    fg_parallel_for(fg_threadpool_global(), count, 64, embed_rows, &j);
    return NULL;
}
