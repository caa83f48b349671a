/* CPU elementwise ops: activations, broadcast add/mul, gated residual, axpby, scalar affine,
 * and dtype casts. Float math in f32 (activations evaluated in double, see fg_cpu_activate).
 * Every loop reads element i of its inputs before writing element i of out, so out may alias
 * any input that has out's shape. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Elements per parallel chunk: large enough that claiming a chunk costs nothing. */
#define EW_MIN_CHUNK 16384

/* Double internally: each GELU/SiLU form is rewritten as x * sigmoid(z) or with erfc so
 * that no 1 + (-1 + tiny) cancellation occurs for negative x, which float tanh would lose. */
float fg_cpu_activate(float x, fg_activation act) {
    double v = x;
    switch (act) {
    case FG_ACT_GELU_TANH: {
        /* 0.5(1 + tanh(u)) == sigmoid(2u) */
        double u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
        return (float)(v / (1.0 + exp(-2.0 * u)));
    }
    case FG_ACT_GELU_ERF: return (float)(0.5 * v * erfc(-v * 0.7071067811865476));
    case FG_ACT_SILU: return (float)(v / (1.0 + exp(-v)));
    case FG_ACT_QUICK_GELU: return (float)(v / (1.0 + exp(-1.702 * v)));
    case FG_ACT_NONE:
    default: return x;
    }
}

static fg_error *require_f32(const char *op, int n, const fg_tensor *const *ts) {
    for (int i = 0; i < n; i++) {
        if (ts[i] && ts[i]->dtype != FG_F32)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s: the cpu backend computes activations in F32, not %s", op,
                             fg_dtype_name(ts[i]->dtype));
    }
    return NULL;
}

/* ---- flat same-shape loops --------------------------------------------------------- */

typedef enum { FLAT_ACT, FLAT_AXPBY, FLAT_AFFINE, FLAT_ADD, FLAT_MUL, FLAT_GATED } flat_kind;

typedef struct {
    flat_kind kind;
    float *out;
    const float *a, *b, *c; /* FLAT_GATED: out = a + b * c */
    float s0, s1;           /* alpha/beta or mul/add */
    fg_activation act;
} flat_job;

static void flat_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const flat_job *j = ctx;
    float *o = j->out;
    const float *a = j->a, *b = j->b, *c = j->c;
    switch (j->kind) {
    case FLAT_ACT:
        for (int64_t i = begin; i < end; i++) o[i] = fg_cpu_activate(a[i], j->act);
        break;
    case FLAT_AXPBY:
        if (b) {
            for (int64_t i = begin; i < end; i++) o[i] = j->s0 * a[i] + j->s1 * b[i];
        } else {
            for (int64_t i = begin; i < end; i++) o[i] = j->s0 * a[i];
        }
        break;
    case FLAT_AFFINE:
        for (int64_t i = begin; i < end; i++) o[i] = a[i] * j->s0 + j->s1;
        break;
    case FLAT_ADD:
        for (int64_t i = begin; i < end; i++) o[i] = a[i] + b[i];
        break;
    case FLAT_MUL:
        for (int64_t i = begin; i < end; i++) o[i] = a[i] * b[i];
        break;
    case FLAT_GATED:
        for (int64_t i = begin; i < end; i++) o[i] = a[i] + b[i] * c[i];
        break;
    }
}

static void run_flat(flat_job *j, int64_t n) {
    fg_parallel_for(fg_threadpool_global(), n, EW_MIN_CHUNK, flat_body, j);
}

fg_error *fg_cpu_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) {
    FG_TRY(require_f32("unary", 2, (const fg_tensor *const[]){out, x}));
    int64_t n = fg_tensor_numel(out);
    if (act == FG_ACT_NONE) {
        if (out->data != x->data && n > 0) memmove(out->data, x->data, (size_t)n * sizeof(float));
        return NULL;
    }
    flat_job j = {.kind = FLAT_ACT, .out = out->data, .a = x->data, .act = act};
    run_flat(&j, n);
    return NULL;
}

fg_error *fg_cpu_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    FG_TRY(require_f32("axpby", 3, (const fg_tensor *const[]){out, x, y}));
    flat_job j = {.kind = FLAT_AXPBY, .out = out->data, .a = x->data, .b = y ? y->data : NULL, .s0 = alpha,
                  .s1 = beta};
    run_flat(&j, fg_tensor_numel(out));
    return NULL;
}

fg_error *fg_cpu_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    FG_TRY(require_f32("scale_shift", 2, (const fg_tensor *const[]){out, x}));
    flat_job j = {.kind = FLAT_AFFINE, .out = out->data, .a = x->data, .s0 = mul, .s1 = add};
    run_flat(&j, fg_tensor_numel(out));
    return NULL;
}

/* ---- broadcasting ------------------------------------------------------------------- */

/* out viewed as [rows, inner] with inner = out's last dim; each input has an element stride
 * per out dim (0 where it is broadcast), so a row of any input is a run of stride 0 or 1. */
typedef struct {
    flat_kind kind; /* FLAT_ADD, FLAT_MUL or FLAT_GATED */
    float *out;
    const float *in[3];
    int64_t stride[3][FG_MAX_DIMS];
    int64_t shape[FG_MAX_DIMS]; /* out's shape padded on the left to FG_MAX_DIMS */
    int n_in;
} bcast_job;

static void bcast_strides(const fg_tensor *t, const int64_t *out_shape5, int64_t *stride5) {
    int64_t s = 1;
    for (int d = FG_MAX_DIMS - 1; d >= 0; d--) {
        int td = t->ndim - (FG_MAX_DIMS - d); /* the input dim aligned with padded out dim d */
        int64_t size = td >= 0 ? t->shape[td] : 1;
        stride5[d] = (size == 1 && out_shape5[d] != 1) || td < 0 ? 0 : s;
        if (td >= 0) s *= size;
    }
}

static void bcast_row(const bcast_job *j, float *o, const float *const *p, const int64_t *inner_stride,
                      int64_t inner) {
    int64_t sa = inner_stride[0], sb = inner_stride[1], sc = inner_stride[2];
    const float *a = p[0], *b = p[1], *c = p[2];
    if (sa == 1 && sb == 1 && (sc == 1 || j->n_in < 3)) {
        /* rows of a row-vector or gate broadcast: unit strides, so the loop vectorises */
        flat_job f = {.kind = j->kind, .out = o, .a = a, .b = b, .c = c};
        flat_body(&f, 0, inner, 0);
        return;
    }
    switch (j->kind) {
    case FLAT_ADD:
        for (int64_t i = 0; i < inner; i++) o[i] = a[i * sa] + b[i * sb];
        break;
    case FLAT_MUL:
        for (int64_t i = 0; i < inner; i++) o[i] = a[i * sa] * b[i * sb];
        break;
    default:
        for (int64_t i = 0; i < inner; i++) o[i] = a[i * sa] + b[i * sb] * c[i * sc];
        break;
    }
}

static void bcast_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const bcast_job *j = ctx;
    const int last = FG_MAX_DIMS - 1;
    int64_t inner = j->shape[last];
    int64_t inner_stride[3] = {0, 0, 0};
    for (int k = 0; k < j->n_in; k++) inner_stride[k] = j->stride[k][last];
    for (int64_t r = begin; r < end; r++) {
        int64_t rem = r;
        const float *p[3] = {j->in[0], j->in[1], j->in[2]};
        for (int d = last - 1; d >= 0; d--) {
            int64_t idx = rem % j->shape[d];
            rem /= j->shape[d];
            for (int k = 0; k < j->n_in; k++) p[k] += idx * j->stride[k][d];
        }
        bcast_row(j, j->out + r * inner, p, inner_stride, inner);
    }
}

/* ins[0..n_in) combined as `kind` into out; same-shape inputs take the flat path. */
static void run_broadcast(flat_kind kind, fg_tensor *out, int n_in, const fg_tensor *const *ins) {
    int64_t n = fg_tensor_numel(out);
    if (n == 0) return;
    bool all_same = true;
    for (int k = 0; k < n_in; k++) all_same = all_same && fg_tensor_numel(ins[k]) == n;
    if (all_same) {
        flat_job f = {.kind = kind, .out = out->data, .a = ins[0]->data, .b = ins[1]->data,
                      .c = n_in > 2 ? ins[2]->data : NULL};
        run_flat(&f, n);
        return;
    }
    bcast_job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.out = out->data;
    j.n_in = n_in;
    for (int d = 0; d < FG_MAX_DIMS; d++) {
        int od = out->ndim - (FG_MAX_DIMS - d);
        j.shape[d] = od >= 0 ? out->shape[od] : 1;
    }
    for (int k = 0; k < n_in; k++) {
        j.in[k] = ins[k]->data;
        bcast_strides(ins[k], j.shape, j.stride[k]);
    }
    int64_t inner = j.shape[FG_MAX_DIMS - 1];
    int64_t rows = n / inner;
    int64_t min_rows = EW_MIN_CHUNK / inner > 0 ? EW_MIN_CHUNK / inner : 1;
    fg_parallel_for(fg_threadpool_global(), rows, min_rows, bcast_body, &j);
}

fg_error *fg_cpu_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    FG_TRY(require_f32("add", 3, (const fg_tensor *const[]){out, a, b}));
    run_broadcast(FLAT_ADD, out, 2, (const fg_tensor *const[]){a, b});
    return NULL;
}

fg_error *fg_cpu_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    FG_TRY(require_f32("mul", 3, (const fg_tensor *const[]){out, a, b}));
    run_broadcast(FLAT_MUL, out, 2, (const fg_tensor *const[]){a, b});
    return NULL;
}

fg_error *fg_cpu_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) {
    FG_TRY(require_f32("add_gated", 4, (const fg_tensor *const[]){out, x, gate, y}));
    run_broadcast(FLAT_GATED, out, 3, (const fg_tensor *const[]){x, gate, y});
    return NULL;
}

/* ---- cast ---------------------------------------------------------------------------- */

typedef struct {
    void *dst;
    const void *src;
    fg_dtype dst_dt, src_dt;
} cast_job;

static bool is_int_dtype(fg_dtype dt) { return dt == FG_I64 || dt == FG_I32 || dt == FG_U8 || dt == FG_BOOL; }

static int64_t load_int(const void *p, fg_dtype dt, int64_t i) {
    switch (dt) {
    case FG_I64: return ((const int64_t *)p)[i];
    case FG_I32: return ((const int32_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

/* Integer to integer: exact, narrowing wraps modulo 2^bits like torch's .to(). */
static void store_int(void *p, fg_dtype dt, int64_t i, int64_t v) {
    switch (dt) {
    case FG_I64: ((int64_t *)p)[i] = v; break;
    case FG_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case FG_U8: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v; break;
    default: ((uint8_t *)p)[i] = v != 0; break;
    }
}

static void cast_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const cast_job *j = ctx;
    if (is_int_dtype(j->src_dt) && is_int_dtype(j->dst_dt)) {
        for (int64_t i = begin; i < end; i++) store_int(j->dst, j->dst_dt, i, load_int(j->src, j->src_dt, i));
        return;
    }
    size_t ssz = fg_dtype_size(j->src_dt), dsz = fg_dtype_size(j->dst_dt);
    enum { BLOCK = 1024 };
    float buf[BLOCK];
    for (int64_t i = begin; i < end; i += BLOCK) {
        size_t n = (size_t)(end - i < BLOCK ? end - i : BLOCK);
        fg_convert_to_f32(buf, (const char *)j->src + (size_t)i * ssz, j->src_dt, n);
        fg_convert_from_f32((char *)j->dst + (size_t)i * dsz, j->dst_dt, buf, n);
    }
}

fg_error *fg_cpu_cast(fg_tensor *out, const fg_tensor *x) {
    int64_t n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    if (out->dtype == x->dtype) {
        if (out->data != x->data) memmove(out->data, x->data, fg_tensor_nbytes(out));
        return NULL;
    }
    cast_job j = {.dst = out->data, .src = x->data, .dst_dt = out->dtype, .src_dt = x->dtype};
    fg_parallel_for(fg_threadpool_global(), n, EW_MIN_CHUNK, cast_body, &j);
    return NULL;
}

/* ---- fill_uniform --------------------------------------------------------------------- */

typedef struct fill_job {
    void *dst;
    fg_dtype dt;
    uint64_t seed;
    float lo, hi;
} fill_job;

/* Each element depends on its index only, so any split over threads gives the same tensor.
 * The value is computed as ops.h spells it, one f32 rounding per operation (the build has
 * -ffp-contract=off, so no fused multiply-add): span = hi - lo, v = lo + span * u. */
static void fill_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const fill_job *j = ctx;
    size_t esz = fg_dtype_size(j->dt);
    enum { BLOCK = 1024 };
    float buf[BLOCK];
    float span = j->hi - j->lo;
    for (int64_t i = begin; i < end; i += BLOCK) {
        int64_t n = end - i < BLOCK ? end - i : BLOCK;
        for (int64_t k = 0; k < n; k++) {
            float u = (float)(fg_fill_hash(j->seed, (uint64_t)(i + k)) >> 40) * 0x1p-24f;
            buf[k] = j->lo + span * u;
        }
        fg_convert_from_f32((char *)j->dst + (size_t)i * esz, j->dt, buf, (size_t)n);
    }
}

fg_error *fg_cpu_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi) {
    fill_job j = {out->data, out->dtype, seed, lo, hi};
    fg_parallel_for(fg_threadpool_global(), fg_tensor_numel(out), EW_MIN_CHUNK, fill_body, &j);
    return NULL;
}
