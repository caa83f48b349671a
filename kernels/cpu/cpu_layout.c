/* CPU layout ops: pure data movement, so they work on any dtype by element size. Contiguous
 * runs go through memcpy; strided gathers use a copy specialised on the element size. Each
 * op splits its output into independent rows for the thread pool. */
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Bytes per parallel chunk, roughly. */
#define LAYOUT_MIN_BYTES 65536

static int64_t min_rows_for(int64_t row_bytes) {
    return row_bytes >= LAYOUT_MIN_BYTES ? 1 : LAYOUT_MIN_BYTES / (row_bytes > 0 ? row_bytes : 1);
}

static void run_rows(int64_t rows, int64_t row_bytes, fg_parallel_fn fn, void *ctx) {
    fg_parallel_for(fg_threadpool_global(), rows, min_rows_for(row_bytes), fn, ctx);
}

/* Fixed-size memcpy compiles to one load and store and has no alignment requirement (views
 * into a checkpoint mapping need not be aligned to their element size). */
#define GATHER_LOOP(SZ)                                                                    \
    for (int64_t i = 0; i < n; i++) memcpy(dst + i * (SZ), src + i * stride * (SZ), (SZ))

/* dst[i] = src[i * stride] for n elements of esz bytes. */
static void gather(char *dst, const char *src, int64_t n, int64_t stride, size_t esz) {
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * esz);
        return;
    }
    switch (esz) {
    case 1: GATHER_LOOP(1); break;
    case 2: GATHER_LOOP(2); break;
    case 4: GATHER_LOOP(4); break;
    case 8: GATHER_LOOP(8); break;
    default: GATHER_LOOP((int64_t)esz); break;
    }
}

/* ---- permute ------------------------------------------------------------------------ */

typedef struct {
    char *out;
    const char *in;
    size_t esz;
    int ndim;
    int c;                           /* the out dim that is x's last (contiguous) dim */
    int64_t out_shape[FG_MAX_DIMS];
    int64_t in_stride[FG_MAX_DIMS];  /* input element stride for each out dim */
    int64_t out_stride[FG_MAX_DIMS];
    int64_t n_ctiles;
} permute_job;

/* x's last dim stays last: one output row (all dims but the last fixed) per index, each a
 * contiguous copy. */
static void permute_rows_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const permute_job *j = ctx;
    int last = j->ndim - 1;
    int64_t inner = j->out_shape[last];
    for (int64_t r = begin; r < end; r++) {
        int64_t rem = r, off = 0;
        for (int d = last - 1; d >= 0; d--) {
            off += (rem % j->out_shape[d]) * j->in_stride[d];
            rem /= j->out_shape[d];
        }
        gather(j->out + r * inner * (int64_t)j->esz, j->in + off * (int64_t)j->esz, inner, 1, j->esz);
    }
}

/* A transpose in disguise: out dims c and last are swapped relative to x's memory order. Work
 * in PERMUTE_TILE x PERMUTE_TILE blocks so both the strided reads and the writes stay in
 * cache; one index = one band of PERMUTE_TILE values of dim c for one combination of the
 * other dims. */
#define PERMUTE_TILE 32

static void permute_tiled_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const permute_job *j = ctx;
    int last = j->ndim - 1, c = j->c;
    int64_t esz = (int64_t)j->esz, n_last = j->out_shape[last], s_last = j->in_stride[last];
    for (int64_t idx = begin; idx < end; idx++) {
        int64_t rem = idx / j->n_ctiles, in_off = 0, out_off = 0;
        for (int d = last - 1; d >= 0; d--) {
            if (d == c) continue;
            int64_t k = rem % j->out_shape[d];
            rem /= j->out_shape[d];
            in_off += k * j->in_stride[d];
            out_off += k * j->out_stride[d];
        }
        int64_t i0 = (idx % j->n_ctiles) * PERMUTE_TILE;
        int64_t i1 = i0 + PERMUTE_TILE < j->out_shape[c] ? i0 + PERMUTE_TILE : j->out_shape[c];
        for (int64_t j0 = 0; j0 < n_last; j0 += PERMUTE_TILE) {
            int64_t len = n_last - j0 < PERMUTE_TILE ? n_last - j0 : PERMUTE_TILE;
            for (int64_t i = i0; i < i1; i++)
                gather(j->out + (out_off + i * j->out_stride[c] + j0) * esz,
                       j->in + (in_off + i * j->in_stride[c] + j0 * s_last) * esz, len, s_last, j->esz);
        }
    }
}

fg_error *fg_cpu_permute(fg_tensor *out, const fg_tensor *x, const int *perm) {
    int64_t n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    size_t esz = fg_dtype_size(x->dtype);
    int nd = out->ndim, last = nd - 1;
    if (nd == 0) {
        memcpy(out->data, x->data, esz);
        return NULL;
    }
    permute_job j = {.out = out->data, .in = x->data, .esz = esz, .ndim = nd};
    int64_t x_stride[FG_MAX_DIMS];
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        x_stride[d] = s;
        s *= x->shape[d];
    }
    s = 1;
    for (int d = last; d >= 0; d--) {
        j.out_shape[d] = out->shape[d];
        j.in_stride[d] = x_stride[perm[d]];
        j.out_stride[d] = s;
        s *= out->shape[d];
        if (perm[d] == last) j.c = d;
    }
    if (j.c == last) {
        int64_t inner = out->shape[last];
        run_rows(n / inner, inner * (int64_t)esz, permute_rows_body, &j);
        return NULL;
    }
    j.n_ctiles = (out->shape[j.c] + PERMUTE_TILE - 1) / PERMUTE_TILE;
    int64_t units = n / (out->shape[j.c] * out->shape[last]) * j.n_ctiles;
    run_rows(units, PERMUTE_TILE * out->shape[last] * (int64_t)esz, permute_tiled_body, &j);
    return NULL;
}

/* ---- concat and slice: [outer, dim, inner] blocks ------------------------------------ */

static void outer_inner(const fg_tensor *t, int dim, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < dim; d++) *outer *= t->shape[d];
    for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

typedef struct {
    char *out;
    const fg_tensor *const *inputs;
    int n;
    int dim;
    int64_t inner_bytes; /* bytes of one index along dim */
    int64_t out_block;   /* bytes of one outer index of out */
} concat_job;

static void concat_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const concat_job *j = ctx;
    for (int64_t o = begin; o < end; o++) {
        char *dst = j->out + o * j->out_block;
        for (int k = 0; k < j->n; k++) {
            int64_t bytes = j->inputs[k]->shape[j->dim] * j->inner_bytes;
            if (bytes == 0) continue;
            memcpy(dst, (const char *)j->inputs[k]->data + o * bytes, (size_t)bytes);
            dst += bytes;
        }
    }
}

fg_error *fg_cpu_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim) {
    if (fg_tensor_numel(out) == 0) return NULL;
    int64_t outer, inner;
    outer_inner(out, dim, &outer, &inner);
    concat_job j = {.out = out->data, .inputs = inputs, .n = n, .dim = dim,
                    .inner_bytes = inner * (int64_t)fg_dtype_size(out->dtype)};
    j.out_block = out->shape[dim] * j.inner_bytes;
    run_rows(outer, j.out_block, concat_body, &j);
    return NULL;
}

typedef struct {
    char *out;
    const char *in;
    int64_t out_block, in_block, start_bytes;
} slice_job;

static void slice_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const slice_job *j = ctx;
    for (int64_t o = begin; o < end; o++)
        memcpy(j->out + o * j->out_block, j->in + o * j->in_block + j->start_bytes, (size_t)j->out_block);
}

fg_error *fg_cpu_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start) {
    if (fg_tensor_numel(out) == 0) return NULL;
    int64_t outer, inner;
    outer_inner(out, dim, &outer, &inner);
    int64_t ib = inner * (int64_t)fg_dtype_size(out->dtype);
    slice_job j = {.out = out->data, .in = x->data, .out_block = out->shape[dim] * ib,
                   .in_block = x->shape[dim] * ib, .start_bytes = start * ib};
    run_rows(outer, j.out_block, slice_body, &j);
    return NULL;
}

/* ---- pad2d ----------------------------------------------------------------------------- */

typedef struct {
    char *out;
    const char *in;
    size_t esz;
    int64_t H, W, Ho, Wo;
    int top, left, right;
    bool circular;
} pad_job;

static int64_t wrap(int64_t i, int64_t n) {
    int64_t r = i % n;
    return r < 0 ? r + n : r;
}

/* One output row per index over [B*C*Ho). */
static void pad_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const pad_job *j = ctx;
    int64_t esz = (int64_t)j->esz;
    for (int64_t r = begin; r < end; r++) {
        int64_t plane = r / j->Ho, oy = r % j->Ho;
        char *dst = j->out + r * j->Wo * esz;
        int64_t y = oy - j->top;
        if (j->circular) y = wrap(y, j->H);
        if (y < 0 || y >= j->H) {
            memset(dst, 0, (size_t)(j->Wo * esz));
            continue;
        }
        const char *src = j->in + (plane * j->H + y) * j->W * esz;
        if (j->circular) {
            /* left pad comes from the row's tail, right pad from its head (pads <= W) */
            memcpy(dst, src + (j->W - j->left) * esz, (size_t)(j->left * esz));
            memcpy(dst + j->left * esz, src, (size_t)(j->W * esz));
            memcpy(dst + (j->left + j->W) * esz, src, (size_t)(j->right * esz));
        } else {
            memset(dst, 0, (size_t)(j->left * esz));
            memcpy(dst + j->left * esz, src, (size_t)(j->W * esz));
            memset(dst + (j->left + j->W) * esz, 0, (size_t)(j->right * esz));
        }
    }
}

fg_error *fg_cpu_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                       fg_pad_mode mode) {
    (void)bottom;
    int64_t n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    int nd = x->ndim;
    pad_job j = {.out = out->data, .in = x->data, .esz = fg_dtype_size(x->dtype), .H = x->shape[nd - 2],
                 .W = x->shape[nd - 1], .Ho = out->shape[nd - 2], .Wo = out->shape[nd - 1], .top = top,
                 .left = left, .right = right, .circular = mode == FG_PAD_CIRCULAR};
    if (j.circular && (j.H == 0 || j.W == 0)) {
        /* only reachable with all pads 0 on that dim, which leaves nothing to copy */
        return NULL;
    }
    run_rows(n / j.Wo, j.Wo * (int64_t)j.esz, pad_body, &j);
    return NULL;
}

/* ---- patchify / unpatchify --------------------------------------------------------------- */

typedef struct {
    char *tokens;       /* [B, Hp*Wp, C*p*p] */
    char *image;        /* [B, C, H, W] */
    size_t esz;
    int64_t C, H, W, p;
    bool to_tokens;
} patch_job;

/* One patch row (b, hi) per index: moves the p-element runs between image rows and tokens. */
static void patch_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const patch_job *j = ctx;
    int64_t p = j->p, Hp = j->H / p, Wp = j->W / p, esz = (int64_t)j->esz;
    int64_t feat = j->C * p * p;
    size_t run = (size_t)(p * esz);
    for (int64_t r = begin; r < end; r++) {
        int64_t b = r / Hp, hi = r % Hp;
        for (int64_t wi = 0; wi < Wp; wi++) {
            char *tok = j->tokens + ((b * Hp + hi) * Wp + wi) * feat * esz;
            for (int64_t c = 0; c < j->C; c++) {
                for (int64_t ph = 0; ph < p; ph++) {
                    char *img = j->image + (((b * j->C + c) * j->H + hi * p + ph) * j->W + wi * p) * esz;
                    char *t = tok + (c * p + ph) * p * esz;
                    if (j->to_tokens) memcpy(t, img, run);
                    else memcpy(img, t, run);
                }
            }
        }
    }
}

static void run_patch(char *tokens, char *image, const fg_tensor *img, int p, bool to_tokens) {
    patch_job j = {.tokens = tokens, .image = image, .esz = fg_dtype_size(img->dtype), .C = img->shape[1],
                   .H = img->shape[2], .W = img->shape[3], .p = p, .to_tokens = to_tokens};
    int64_t rows = img->shape[0] * (j.H / p);
    if (rows == 0 || j.W == 0 || j.C == 0) return;
    run_rows(rows, j.C * p * j.W * (int64_t)j.esz, patch_body, &j);
}

fg_error *fg_cpu_patchify(fg_tensor *out, const fg_tensor *x, int p) {
    run_patch(out->data, x->data, x, p, true);
    return NULL;
}

fg_error *fg_cpu_unpatchify(fg_tensor *out, const fg_tensor *x, int p) {
    run_patch(x->data, out->data, out, p, false);
    return NULL;
}

/* ---- nearest 2x upsampling ------------------------------------------------------------ */

typedef struct {
    char *out;
    const char *in;
    size_t esz;
    int64_t W;
} upsample_job;

#define DOUBLE_LOOP(SZ)                                                                    \
    for (int64_t x = 0; x < W; x++) {                                                      \
        memcpy(dst + 2 * x * (SZ), src + x * (SZ), (SZ));                                  \
        memcpy(dst + (2 * x + 1) * (SZ), src + x * (SZ), (SZ));                            \
    }

/* One input row per index: widen it into output row 2y, then copy that to row 2y+1. */
static void upsample_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const upsample_job *j = ctx;
    int64_t W = j->W, esz = (int64_t)j->esz;
    for (int64_t r = begin; r < end; r++) {
        const char *src = j->in + r * W * esz;
        char *dst = j->out + r * 4 * W * esz;
        switch (esz) {
        case 1: DOUBLE_LOOP(1); break;
        case 2: DOUBLE_LOOP(2); break;
        case 4: DOUBLE_LOOP(4); break;
        case 8: DOUBLE_LOOP(8); break;
        default: DOUBLE_LOOP(esz); break;
        }
        memcpy(dst + 2 * W * esz, dst, (size_t)(2 * W * esz));
    }
}

fg_error *fg_cpu_upsample_nearest2x(fg_tensor *out, const fg_tensor *x) {
    int64_t n = fg_tensor_numel(x);
    if (n == 0) return NULL;
    upsample_job j = {.out = out->data, .in = x->data, .esz = fg_dtype_size(x->dtype), .W = x->shape[x->ndim - 1]};
    run_rows(n / j.W, 4 * j.W * (int64_t)j.esz, upsample_body, &j);
    return NULL;
}
