/* BF16 activations on the CPU: every op with act tensors runs its f32 kernel on widened
 * copies and rounds the f32 result to BF16 (nearest-even, core/dtype.h). The result is
 * exactly "compute in f32 from the bf16 inputs, store bf16", the contract the GPU follows, so
 * the CPU is the reference for the GPU's BF16 path. F32 calls go straight to the kernels.
 *
 * Memory stays bounded: row-wise ops convert a chunk of rows at a time, elementwise ops a
 * chunk of the output (broadcast inputs sliced along), attention one (batch, head), conv2d one
 * image. Each chunk's inputs are widened before its output is written, and a chunk's output
 * covers exactly the input elements it read, so out may alias a same-shape input.
 * The dispatcher has checked that every act tensor shares out's dtype, so out decides. */
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Floats per converted buffer: 16 MiB. */
#define BF16_CHUNK_FLOATS ((int64_t)1 << 22)
/* linear widens its whole weight once per chunk of rows, so it takes chunks of up to 128 MiB
 * of x and out together: a FLUX MLP over 4096 tokens then needs 2 chunks, not 12. */
#define BF16_LINEAR_CHUNK_FLOATS ((int64_t)1 << 25)
#define CONVERT_MIN_CHUNK 32768

/* ---- conversion and views ------------------------------------------------------------- */

typedef struct convert_job {
    float *f32;
    char *raw; /* element 0 of the range in the tensor's dtype */
    fg_dtype dt;
    bool narrow; /* f32 -> dt; else dt -> f32 */
} convert_job;

static void convert_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const convert_job *j = ctx;
    size_t esz = fg_dtype_size(j->dt);
    if (j->narrow) fg_convert_from_f32(j->raw + (size_t)begin * esz, j->dt, j->f32 + begin, (size_t)(end - begin));
    else fg_convert_to_f32(j->f32 + begin, j->raw + (size_t)begin * esz, j->dt, (size_t)(end - begin));
}

/* dst[0, n) = t's elements [begin, begin + n) widened to f32. */
static void widen_range(float *dst, const fg_tensor *t, int64_t begin, int64_t n) {
    convert_job j = {dst, (char *)t->data + (size_t)begin * fg_dtype_size(t->dtype), t->dtype, false};
    fg_parallel_for(fg_threadpool_global(), n, CONVERT_MIN_CHUNK, convert_body, &j);
}

/* t's elements [begin, begin + n) = src rounded to t's dtype. */
static void narrow_range(fg_tensor *t, int64_t begin, const float *src, int64_t n) {
    convert_job j = {(float *)src, (char *)t->data + (size_t)begin * fg_dtype_size(t->dtype), t->dtype, true};
    fg_parallel_for(fg_threadpool_global(), n, CONVERT_MIN_CHUNK, convert_body, &j);
}

/* A view of t's storage from element `offset` with a new shape (same dtype, borrowed). */
static fg_tensor sub_view(const fg_tensor *t, int64_t offset, int ndim, const int64_t *shape) {
    fg_tensor v;
    memset(&v, 0, sizeof v);
    v.dtype = t->dtype;
    v.device = t->device;
    v.ndim = ndim;
    for (int i = 0; i < ndim; i++) v.shape[i] = shape[i];
    v.data = (char *)t->data + (size_t)offset * fg_dtype_size(t->dtype);
    return v;
}

static fg_tensor f32_tensor(float *data, int ndim, const int64_t *shape) {
    fg_tensor like = {.dtype = FG_F32, .device = FG_DEVICE_CPU, .data = data};
    return sub_view(&like, 0, ndim, shape);
}

static fg_error *alloc_floats(const char *op, int64_t n, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld floats for the bf16 conversion", op,
                                (long long)n);
    return NULL;
}

/* ---- row-wise ops ----------------------------------------------------------------------- */

#define ROW_MAX_INPUTS 3

/* out and the act inputs viewed as [rows, cols]; chunks of rows never straddle a multiple of
 * `group` rows (so a chunk lies in one batch, one (b, h) slice, ...). */
typedef struct row_plan {
    const char *op;
    fg_tensor *out;
    int64_t out_cols;
    const fg_tensor *in[ROW_MAX_INPUTS]; /* NULL: absent */
    int64_t in_cols[ROW_MAX_INPUTS];
    int64_t rows, group;
    int64_t budget; /* floats of all buffers of one chunk together; 0: BF16_CHUNK_FLOATS each */
} row_plan;

/* Computes rows [r0, r0 + n) in f32: out is [n, out_cols], in[k] [n, in_cols[k]] or NULL. */
typedef fg_error *(*row_fn)(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in);

static int64_t row_step(const row_plan *p) {
    int64_t widest = p->out_cols;
    for (int k = 0; k < ROW_MAX_INPUTS; k++)
        if (p->in[k] && p->in_cols[k] > widest) widest = p->in_cols[k];
    int64_t step = BF16_CHUNK_FLOATS / (widest > 0 ? widest : 1);
    if (p->budget > 0) {
        int64_t all = p->out_cols;
        for (int k = 0; k < ROW_MAX_INPUTS; k++)
            if (p->in[k]) all += p->in_cols[k];
        step = p->budget / (all > 0 ? all : 1);
    }
    if (step < 1) step = 1;
    if (step > p->rows) step = p->rows;
    if (p->group > 0 && step > p->group) step = p->group;
    return step;
}

static fg_error *run_rows(const row_plan *p, row_fn fn, void *ctx) {
    if (p->rows == 0) return NULL;
    int64_t step = row_step(p);
    float *obuf = NULL, *ibuf[ROW_MAX_INPUTS] = {NULL};
    fg_error *err = alloc_floats(p->op, step * p->out_cols, &obuf);
    for (int k = 0; k < ROW_MAX_INPUTS && !err; k++)
        if (p->in[k]) err = alloc_floats(p->op, step * p->in_cols[k], &ibuf[k]);
    for (int64_t r0 = 0; r0 < p->rows && !err;) {
        int64_t n = p->rows - r0 < step ? p->rows - r0 : step;
        if (p->group > 0 && n > p->group - r0 % p->group) n = p->group - r0 % p->group;
        fg_tensor views[ROW_MAX_INPUTS];
        const fg_tensor *in[ROW_MAX_INPUTS] = {NULL};
        for (int k = 0; k < ROW_MAX_INPUTS; k++) {
            if (!p->in[k]) continue;
            widen_range(ibuf[k], p->in[k], r0 * p->in_cols[k], n * p->in_cols[k]);
            views[k] = f32_tensor(ibuf[k], 2, (const int64_t[]){n, p->in_cols[k]});
            in[k] = &views[k];
        }
        fg_tensor o = f32_tensor(obuf, 2, (const int64_t[]){n, p->out_cols});
        err = fn(ctx, r0, n, &o, in);
        if (!err) narrow_range(p->out, r0 * p->out_cols, obuf, n * p->out_cols);
        r0 += n;
    }
    free(obuf);
    for (int k = 0; k < ROW_MAX_INPUTS; k++) free(ibuf[k]);
    return err;
}

static int64_t last_dim(const fg_tensor *t) { return t->ndim > 0 ? t->shape[t->ndim - 1] : 1; }
static int64_t rows_of(const fg_tensor *t) {
    int64_t d = last_dim(t);
    return d > 0 ? fg_tensor_numel(t) / d : 0;
}

/* linear */
typedef struct linear_ctx {
    const fg_tensor *w, *bias;
    float w_scale;
    fg_activation act;
} linear_ctx;

static fg_error *linear_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const linear_ctx *c = ctx;
    (void)r0;
    (void)n;
    return fg_cpu_linear(out, in[0], c->w, c->bias, c->w_scale, c->act);
}

fg_error *fg_cpu_bf16_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                             float w_scale, fg_activation act) {
    if (out->dtype == FG_F32) return fg_cpu_linear(out, x, w, bias, w_scale, act);
    /* Rows come from out: with K = 0, x has no rows to count. */
    row_plan p = {.op = "linear", .out = out, .out_cols = last_dim(out), .in = {x}, .in_cols = {last_dim(x)},
                  .rows = rows_of(out), .budget = BF16_LINEAR_CHUNK_FLOATS};
    linear_ctx c = {w, bias, w_scale, act};
    return run_rows(&p, linear_rows, &c);
}

/* embedding */
typedef struct embedding_ctx {
    const fg_tensor *ids, *table;
} embedding_ctx;

static fg_error *embedding_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const embedding_ctx *c = ctx;
    (void)in;
    fg_tensor ids = sub_view(c->ids, r0, 1, &n);
    FG_TRY_CTX(fg_cpu_embedding(out, &ids, c->table), "ids from position %lld", (long long)r0);
    return NULL;
}

fg_error *fg_cpu_bf16_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    if (out->dtype == FG_F32) return fg_cpu_embedding(out, ids, table);
    row_plan p = {.op = "embedding", .out = out, .out_cols = table->shape[1], .rows = fg_tensor_numel(ids)};
    embedding_ctx c = {ids, table};
    return run_rows(&p, embedding_rows, &c);
}

/* rms_norm and softmax */
typedef struct norm_ctx {
    const fg_tensor *weight, *bias;
    float eps;
    const float *shift, *scale; /* layer_norm modulation, widened: [B, D] */
    int64_t l;                  /* rows per batch */
} norm_ctx;

static fg_error *rms_norm_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const norm_ctx *c = ctx;
    (void)r0;
    (void)n;
    return fg_cpu_rms_norm(out, in[0], c->weight, c->eps);
}

fg_error *fg_cpu_bf16_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) {
    if (out->dtype == FG_F32) return fg_cpu_rms_norm(out, x, weight, eps);
    row_plan p = {.op = "rms_norm", .out = out, .out_cols = last_dim(x), .in = {x}, .in_cols = {last_dim(x)},
                  .rows = rows_of(x)};
    norm_ctx c = {.weight = weight, .eps = eps};
    return run_rows(&p, rms_norm_rows, &c);
}

static fg_error *softmax_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    (void)ctx;
    (void)r0;
    (void)n;
    return fg_cpu_softmax(out, in[0]);
}

fg_error *fg_cpu_bf16_softmax(fg_tensor *out, const fg_tensor *x) {
    if (out->dtype == FG_F32) return fg_cpu_softmax(out, x);
    row_plan p = {.op = "softmax", .out = out, .out_cols = last_dim(x), .in = {x}, .in_cols = {last_dim(x)},
                  .rows = rows_of(x)};
    return run_rows(&p, softmax_rows, NULL);
}

/* layer_norm: with modulation a chunk stays inside one batch and gets that batch's row of
 * the (small, widened once) shift and scale. */
static fg_error *layer_norm_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const norm_ctx *c = ctx;
    if (!c->shift) return fg_cpu_layer_norm(out, in[0], c->weight, c->bias, c->eps, NULL, NULL);
    int64_t d = out->shape[1], b = r0 / c->l;
    fg_tensor o = f32_tensor(out->data, 3, (const int64_t[]){1, n, d});
    fg_tensor x = f32_tensor(in[0]->data, 3, (const int64_t[]){1, n, d});
    fg_tensor sh = f32_tensor((float *)c->shift + b * d, 2, (const int64_t[]){1, d});
    fg_tensor sc = f32_tensor((float *)c->scale + b * d, 2, (const int64_t[]){1, d});
    return fg_cpu_layer_norm(&o, &x, c->weight, c->bias, c->eps, &sh, &sc);
}

fg_error *fg_cpu_bf16_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                                 float eps, const fg_tensor *shift, const fg_tensor *scale) {
    if (out->dtype == FG_F32) return fg_cpu_layer_norm(out, x, weight, bias, eps, shift, scale);
    const char *op = "layer_norm";
    row_plan p = {.op = op, .out = out, .out_cols = last_dim(x), .in = {x}, .in_cols = {last_dim(x)},
                  .rows = rows_of(x)};
    norm_ctx c = {.weight = weight, .bias = bias, .eps = eps};
    float *mod = NULL;
    if (shift) {
        int64_t n = fg_tensor_numel(shift);
        FG_TRY(alloc_floats(op, 2 * n, &mod));
        widen_range(mod, shift, 0, n);
        widen_range(mod + n, scale, 0, n);
        c.shift = mod;
        c.scale = mod + n;
        c.l = x->shape[1];
        p.group = x->shape[1];
    }
    fg_error *err = run_rows(&p, layer_norm_rows, &c);
    free(mod);
    return err;
}

/* group_norm: one row = one (batch, group) span; a chunk of groups in one batch is itself a
 * group norm of [1, groups * cpg, spatial] with the matching slice of weight and bias. */
typedef struct group_norm_ctx {
    const fg_tensor *weight, *bias;
    int64_t groups, cpg, spatial;
    float eps;
    bool silu;
} group_norm_ctx;

static fg_error *group_norm_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const group_norm_ctx *c = ctx;
    int64_t c0 = (r0 % c->groups) * c->cpg, shape[3] = {1, n * c->cpg, c->spatial};
    fg_tensor o = f32_tensor(out->data, 3, shape), x = f32_tensor(in[0]->data, 3, shape);
    fg_tensor w, b;
    if (c->weight) w = sub_view(c->weight, c0, 1, &shape[1]);
    if (c->bias) b = sub_view(c->bias, c0, 1, &shape[1]);
    return fg_cpu_group_norm(&o, &x, (int)n, c->weight ? &w : NULL, c->bias ? &b : NULL, c->eps, c->silu);
}

fg_error *fg_cpu_bf16_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                                 const fg_tensor *bias, float eps, bool fuse_silu) {
    if (out->dtype == FG_F32) return fg_cpu_group_norm(out, x, groups, weight, bias, eps, fuse_silu);
    int64_t spatial = 1;
    for (int i = 2; i < x->ndim; i++) spatial *= x->shape[i];
    group_norm_ctx c = {weight, bias, groups, x->shape[1] / groups, spatial, eps, fuse_silu};
    int64_t span = c.cpg * spatial;
    row_plan p = {.op = "group_norm", .out = out, .out_cols = span, .in = {x}, .in_cols = {span},
                  .rows = x->shape[0] * groups, .group = groups};
    return run_rows(&p, group_norm_rows, &c);
}

/* rope and rms_norm_rope: a chunk stays inside one (b, h) slice, so it is x [1, 1, n, D]
 * at positions l0 .. l0 + n with cos/sin rows [1, n, D/2] of batch b (or 0). */
typedef struct rope_ctx {
    const fg_tensor *cos, *sin, *weight;
    int64_t h, l;
    float eps;
    bool norm;
} rope_ctx;

static fg_error *rope_rows(void *ctx, int64_t r0, int64_t n, fg_tensor *out, const fg_tensor *const *in) {
    const rope_ctx *c = ctx;
    int64_t d = out->shape[1], half = d / 2, l0 = r0 % c->l, b = r0 / (c->l * c->h);
    int64_t cs0 = ((c->cos->shape[0] == 1 ? 0 : b) * c->l + l0) * half;
    int64_t xs[4] = {1, 1, n, d}, cs[3] = {1, n, half};
    fg_tensor o = f32_tensor(out->data, 4, xs), x = f32_tensor(in[0]->data, 4, xs);
    fg_tensor co = sub_view(c->cos, cs0, 3, cs), si = sub_view(c->sin, cs0, 3, cs);
    if (c->norm) return fg_cpu_rms_norm_rope(&o, &x, c->weight, c->eps, &co, &si);
    return fg_cpu_rope(&o, &x, &co, &si);
}

static fg_error *run_rope(const char *op, fg_tensor *out, const fg_tensor *x, const rope_ctx *c) {
    row_plan p = {.op = op, .out = out, .out_cols = x->shape[3], .in = {x}, .in_cols = {x->shape[3]},
                  .rows = x->shape[0] * x->shape[1] * x->shape[2], .group = x->shape[2]};
    return run_rows(&p, rope_rows, (void *)c);
}

fg_error *fg_cpu_bf16_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) {
    if (out->dtype == FG_F32) return fg_cpu_rope(out, x, cos, sin);
    rope_ctx c = {.cos = cos, .sin = sin, .h = x->shape[1], .l = x->shape[2]};
    return run_rope("rope", out, x, &c);
}

fg_error *fg_cpu_bf16_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                                    const fg_tensor *cos, const fg_tensor *sin) {
    if (out->dtype == FG_F32) return fg_cpu_rms_norm_rope(out, x, weight, eps, cos, sin);
    rope_ctx c = {.cos = cos, .sin = sin, .weight = weight, .h = x->shape[1], .l = x->shape[2], .eps = eps,
                  .norm = true};
    return run_rope("rms_norm_rope", out, x, &c);
}

/* ---- elementwise ops, with broadcasting ------------------------------------------------- */

#define EW_MAX_INPUTS 3

/* Every shape padded on the left to FG_MAX_DIMS. out is split at dim `split`: each chunk
 * fixes the dims before it and takes a range of it, which is a contiguous run of out and of
 * every input that is not broadcast there (a broadcast input keeps its one index). */
typedef struct ew_plan {
    int n_in;
    int64_t oshape[FG_MAX_DIMS];
    int64_t ishape[EW_MAX_INPUTS][FG_MAX_DIMS];
    int64_t istride[EW_MAX_INPUTS][FG_MAX_DIMS]; /* element strides, 0 where broadcast */
    int split;
    int64_t inner, step; /* out elements after `split`; indices of `split` per chunk */
} ew_plan;

/* Runs the f32 op on chunk views: out and in[k] have FG_MAX_DIMS - split dims. */
typedef fg_error *(*ew_fn)(void *ctx, fg_tensor *out, const fg_tensor *const *in);

static void pad_shape(const fg_tensor *t, int64_t *shape5) {
    for (int d = 0; d < FG_MAX_DIMS; d++) {
        int td = t->ndim - (FG_MAX_DIMS - d);
        shape5[d] = td >= 0 ? t->shape[td] : 1;
    }
}

static void ew_make_plan(ew_plan *p, const fg_tensor *out, int n_in, const fg_tensor *const *ins) {
    memset(p, 0, sizeof *p);
    p->n_in = n_in;
    pad_shape(out, p->oshape);
    for (int k = 0; k < n_in; k++) {
        pad_shape(ins[k], p->ishape[k]);
        int64_t s = 1;
        for (int d = FG_MAX_DIMS - 1; d >= 0; d--) {
            p->istride[k][d] = p->ishape[k][d] == 1 ? 0 : s;
            s *= p->ishape[k][d];
        }
    }
    /* The outermost dim whose inner block fits a chunk. */
    p->split = FG_MAX_DIMS - 1;
    p->inner = 1;
    while (p->split > 0 && p->inner * p->oshape[p->split] <= BF16_CHUNK_FLOATS) {
        p->inner *= p->oshape[p->split];
        p->split--;
    }
    p->step = BF16_CHUNK_FLOATS / (p->inner > 0 ? p->inner : 1);
    if (p->step < 1) p->step = 1;
    if (p->step > p->oshape[p->split]) p->step = p->oshape[p->split];
}

/* Elements of input k in one chunk of `n` indices of the split dim. */
static int64_t ew_in_count(const ew_plan *p, int k, int64_t n) {
    int64_t c = p->ishape[k][p->split] == 1 ? 1 : n;
    for (int d = p->split + 1; d < FG_MAX_DIMS; d++) c *= p->ishape[k][d];
    return c;
}

typedef struct ew_bufs {
    float *out, *in[EW_MAX_INPUTS];
} ew_bufs;

/* One chunk: outer index tuple `outer` over dims < split, indices [i0, i0 + n) of split. */
static fg_error *ew_chunk(const ew_plan *p, const ew_bufs *bufs, fg_tensor *out, const fg_tensor *const *ins,
                          int64_t outer, int64_t i0, int64_t n, ew_fn fn, void *ctx) {
    int nd = FG_MAX_DIMS - p->split;
    int64_t idx[FG_MAX_DIMS] = {0};
    for (int d = p->split - 1; d >= 0; d--) {
        idx[d] = outer % p->oshape[d];
        outer /= p->oshape[d];
    }
    fg_tensor views[EW_MAX_INPUTS];
    const fg_tensor *in[EW_MAX_INPUTS] = {NULL};
    for (int k = 0; k < p->n_in; k++) {
        int64_t off = i0 * p->istride[k][p->split];
        for (int d = 0; d < p->split; d++) off += idx[d] * p->istride[k][d];
        widen_range(bufs->in[k], ins[k], off, ew_in_count(p, k, n));
        int64_t shape[FG_MAX_DIMS];
        for (int d = p->split; d < FG_MAX_DIMS; d++) shape[d - p->split] = p->ishape[k][d];
        if (shape[0] != 1) shape[0] = n;
        views[k] = f32_tensor(bufs->in[k], nd, shape);
        in[k] = &views[k];
    }
    int64_t oshape[FG_MAX_DIMS], ooff = 0;
    for (int d = p->split; d < FG_MAX_DIMS; d++) oshape[d - p->split] = p->oshape[d];
    oshape[0] = n;
    for (int d = 0; d < p->split; d++) ooff = ooff * p->oshape[d] + idx[d];
    ooff = (ooff * p->oshape[p->split] + i0) * p->inner;
    fg_tensor o = f32_tensor(bufs->out, nd, oshape);
    FG_TRY(fn(ctx, &o, in));
    narrow_range(out, ooff, bufs->out, n * p->inner);
    return NULL;
}

static fg_error *run_elementwise(const char *op, fg_tensor *out, int n_in, const fg_tensor *const *ins, ew_fn fn,
                                 void *ctx) {
    if (fg_tensor_numel(out) == 0) return NULL;
    ew_plan p;
    ew_make_plan(&p, out, n_in, ins);
    ew_bufs bufs = {NULL, {NULL}};
    fg_error *err = alloc_floats(op, p.step * p.inner, &bufs.out);
    for (int k = 0; k < n_in && !err; k++) err = alloc_floats(op, ew_in_count(&p, k, p.step), &bufs.in[k]);
    int64_t outer = 1;
    for (int d = 0; d < p.split; d++) outer *= p.oshape[d];
    for (int64_t o = 0; o < outer && !err; o++)
        for (int64_t i0 = 0; i0 < p.oshape[p.split] && !err; i0 += p.step) {
            int64_t n = p.oshape[p.split] - i0 < p.step ? p.oshape[p.split] - i0 : p.step;
            err = ew_chunk(&p, &bufs, out, ins, o, i0, n, fn, ctx);
        }
    free(bufs.out);
    for (int k = 0; k < n_in; k++) free(bufs.in[k]);
    return err;
}

typedef struct ew_ctx {
    fg_activation act;
    float s0, s1;
} ew_ctx;

static fg_error *unary_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    return fg_cpu_unary(out, in[0], ((const ew_ctx *)ctx)->act);
}
static fg_error *add_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    (void)ctx;
    return fg_cpu_add(out, in[0], in[1]);
}
static fg_error *mul_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    (void)ctx;
    return fg_cpu_mul(out, in[0], in[1]);
}
static fg_error *add_gated_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    (void)ctx;
    return fg_cpu_add_gated(out, in[0], in[1], in[2]);
}
static fg_error *axpby_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    const ew_ctx *c = ctx;
    return fg_cpu_axpby(out, c->s0, in[0], c->s1, in[1]);
}
static fg_error *axpy0_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    const ew_ctx *c = ctx;
    return fg_cpu_axpby(out, c->s0, in[0], c->s1, NULL);
}
static fg_error *scale_shift_chunk(void *ctx, fg_tensor *out, const fg_tensor *const *in) {
    const ew_ctx *c = ctx;
    return fg_cpu_scale_shift(out, in[0], c->s0, c->s1);
}

fg_error *fg_cpu_bf16_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) {
    if (out->dtype == FG_F32) return fg_cpu_unary(out, x, act);
    ew_ctx c = {.act = act};
    return run_elementwise("unary", out, 1, &x, unary_chunk, &c);
}

fg_error *fg_cpu_bf16_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    if (out->dtype == FG_F32) return fg_cpu_add(out, a, b);
    return run_elementwise("add", out, 2, (const fg_tensor *const[]){a, b}, add_chunk, NULL);
}

fg_error *fg_cpu_bf16_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    if (out->dtype == FG_F32) return fg_cpu_mul(out, a, b);
    return run_elementwise("mul", out, 2, (const fg_tensor *const[]){a, b}, mul_chunk, NULL);
}

fg_error *fg_cpu_bf16_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) {
    if (out->dtype == FG_F32) return fg_cpu_add_gated(out, x, gate, y);
    return run_elementwise("add_gated", out, 3, (const fg_tensor *const[]){x, gate, y}, add_gated_chunk, NULL);
}

fg_error *fg_cpu_bf16_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    if (out->dtype == FG_F32) return fg_cpu_axpby(out, alpha, x, beta, y);
    ew_ctx c = {.s0 = alpha, .s1 = beta};
    if (!y) return run_elementwise("axpby", out, 1, &x, axpy0_chunk, &c);
    return run_elementwise("axpby", out, 2, (const fg_tensor *const[]){x, y}, axpby_chunk, &c);
}

fg_error *fg_cpu_bf16_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    if (out->dtype == FG_F32) return fg_cpu_scale_shift(out, x, mul, add);
    ew_ctx c = {.s0 = mul, .s1 = add};
    return run_elementwise("scale_shift", out, 1, &x, scale_shift_chunk, &c);
}

/* ---- attention and conv2d ----------------------------------------------------------------- */

/* An f32 copy of the (b, h) slice [rows, cols] of a [B, H, rows, cols] tensor. */
static fg_tensor widen_head(const fg_tensor *t, int64_t bh, float *buf) {
    int64_t rows = t->shape[2], cols = t->shape[3];
    widen_range(buf, t, bh * rows * cols, rows * cols);
    return f32_tensor(buf, 4, (const int64_t[]){1, 1, rows, cols});
}

static fg_error *attention_heads(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                                 const fg_tensor *mask, float scale, float *buf[4]) {
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2], dv = v->shape[3];
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            int64_t bh = b * H + h;
            fg_tensor qh = widen_head(q, bh, buf[0]), kh = widen_head(k, bh, buf[1]), vh = widen_head(v, bh, buf[2]);
            fg_tensor oh = f32_tensor(buf[3], 4, (const int64_t[]){1, 1, lq, dv}), mh;
            if (mask) {
                int64_t mb = mask->shape[0] == 1 ? 0 : b, mhh = mask->shape[1] == 1 ? 0 : h;
                mh = sub_view(mask, (mb * mask->shape[1] + mhh) * lq * lk, 4, (const int64_t[]){1, 1, lq, lk});
            }
            FG_TRY(fg_cpu_attention(&oh, &qh, &kh, &vh, mask ? &mh : NULL, scale));
            narrow_range(out, bh * lq * dv, buf[3], lq * dv);
        }
    return NULL;
}

fg_error *fg_cpu_bf16_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                                const fg_tensor *mask, float scale) {
    if (out->dtype == FG_F32) return fg_cpu_attention(out, q, k, v, mask, scale);
    const char *op = "attention";
    if (fg_tensor_numel(out) == 0) return NULL;
    const fg_tensor *ts[4] = {q, k, v, out};
    float *buf[4] = {NULL};
    fg_error *err = NULL;
    for (int i = 0; i < 4 && !err; i++) err = alloc_floats(op, ts[i]->shape[2] * ts[i]->shape[3], &buf[i]);
    if (!err) err = attention_heads(out, q, k, v, mask, scale, buf);
    for (int i = 0; i < 4; i++) free(buf[i]);
    return err;
}

/* One image at a time (a convolution's rows need their neighbours, so no finer split). */
fg_error *fg_cpu_bf16_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                             const fg_conv2d_params *params) {
    if (out->dtype == FG_F32) return fg_cpu_conv2d(out, x, w, bias, params);
    const char *op = "conv2d";
    if (fg_tensor_numel(out) == 0) return NULL;
    int64_t xs[4] = {1, x->shape[1], x->shape[2], x->shape[3]}, os[4] = {1, out->shape[1], out->shape[2], out->shape[3]};
    int64_t xn = xs[1] * xs[2] * xs[3], on = os[1] * os[2] * os[3];
    float *xb = NULL, *ob = NULL;
    fg_error *err = alloc_floats(op, xn, &xb);
    if (!err) err = alloc_floats(op, on, &ob);
    for (int64_t b = 0; b < x->shape[0] && !err; b++) {
        widen_range(xb, x, b * xn, xn);
        fg_tensor xv = f32_tensor(xb, 4, xs), ov = f32_tensor(ob, 4, os);
        err = fg_cpu_conv2d(&ov, &xv, w, bias, params);
        if (!err) narrow_range(out, b * on, ob, on);
    }
    free(xb);
    free(ob);
    return err;
}
