/* Cases for the layout ops (permute, concat, slice, pad2d, patchify, unpatchify, upsample) over
 * several element sizes, and for conv2d, against naive references written from the index
 * formulas; plus their error paths. */
#include <stdio.h>
#include <string.h>

#include "tests/ops/harness.h"
#include "tests/testing.h"

/* One dtype per element size: the layout ops must move bytes, not values. */
static const fg_dtype layout_dtypes[] = {FG_F32, FG_BF16, FG_I64, FG_U8};
#define N_LAYOUT_DTYPES 4

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static void unflatten(int64_t flat, int ndim, const int64_t *shape, int64_t *idx) {
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
}

static int64_t flatten(int ndim, const int64_t *shape, const int64_t *idx) {
    int64_t f = 0;
    for (int d = 0; d < ndim; d++) f = f * shape[d] + idx[d];
    return f;
}

/* Values each dtype holds exactly and that tell elements apart. */
static void value_range(fg_dtype dt, double *lo, double *hi) {
    *lo = dt == FG_U8 ? 0 : -1000;
    *hi = dt == FG_U8 ? 256 : 1000;
}

static int add_input(op_case *c, op_case_list *l, fg_dtype dt, int ndim, const int64_t *shape) {
    double lo, hi;
    value_range(dt, &lo, &hi);
    return op_case_input(c, l, dt, ndim, shape, lo, hi);
}

static void rand_shape(op_case_list *l, int ndim, int64_t lo, int64_t hi, int64_t *shape) {
    for (int i = 0; i < ndim; i++) shape[i] = op_rand_int(l, lo, hi);
}

/* ---- permute ------------------------------------------------------------------------------ */

static fg_error *run_permute(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    int perm[FG_MAX_DIMS];
    for (int i = 0; i < in[0].ndim; i++) perm[i] = (int)c->iparam[i];
    return fg_permute(out, &in[0], perm);
}

static void permute_case(op_case_list *l, fg_dtype dt, int nd, const int64_t *shape, const int *perm) {
    int64_t oshape[5];
    for (int i = 0; i < nd; i++) oshape[i] = shape[perm[i]];
    char sb[64], pb[32] = "";
    for (int i = 0; i < nd; i++) snprintf(pb + strlen(pb), sizeof pb - strlen(pb), "%d", perm[i]);
    op_case *c = op_case_new(l, run_permute, "permute %s %s by %s", fg_dtype_name(dt),
                             fg_shape_str(nd, shape, sb, sizeof sb), pb);
    for (int i = 0; i < nd; i++) c->iparam[i] = perm[i];
    add_input(c, l, dt, nd, shape);
    double *e = op_case_output(c, dt, nd, oshape);
    for (int64_t f = 0; f < numel_of(nd, oshape); f++) {
        int64_t oi[5], ii[5];
        unflatten(f, nd, oshape, oi);
        for (int i = 0; i < nd; i++) ii[perm[i]] = oi[i];
        e[f] = op_in(c, 0, flatten(nd, shape, ii));
    }
}

static void cases_permute(op_case_list *l) {
    /* transposes larger than the 32x32 blocking, with partial blocks */
    permute_case(l, FG_F32, 2, (const int64_t[]){67, 33}, (const int[]){1, 0});
    permute_case(l, FG_BF16, 3, (const int64_t[]){2, 70, 45}, (const int[]){0, 2, 1});
    permute_case(l, FG_I64, 4, (const int64_t[]){2, 37, 3, 40}, (const int[]){0, 3, 2, 1});
    permute_case(l, FG_U8, 4, (const int64_t[]){3, 33, 5, 65}, (const int[]){3, 0, 1, 2});
    int k = 0;
    for (int nd = 2; nd <= 5; nd++) {
        for (int rep = 0; rep < 3; rep++, k++) {
            fg_dtype dt = layout_dtypes[k % N_LAYOUT_DTYPES];
            int64_t shape[5];
            rand_shape(l, nd, 1, nd <= 3 ? 19 : 7, shape);
            shape[0] = op_rand_int(l, 2, 3);
            int perm[5];
            for (int i = 0; i < nd; i++) perm[i] = i;
            /* rep 0: reverse; rep 1: swap the last two (FLUX's head split); rep 2: random */
            if (rep == 0) {
                for (int i = 0; i < nd; i++) perm[i] = nd - 1 - i;
            } else if (rep == 1) {
                perm[nd - 1] = nd - 2;
                perm[nd - 2] = nd - 1;
            } else {
                for (int i = nd - 1; i > 0; i--) {
                    int j = (int)op_rand_int(l, 0, i), t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
            }
            permute_case(l, dt, nd, shape, perm);
        }
    }
}

/* ---- concat / slice ------------------------------------------------------------------------- */

static fg_error *run_concat(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    const fg_tensor *ptrs[OP_MAX_INPUTS];
    for (int i = 0; i < c->iparam[0]; i++) ptrs[i] = &in[i];
    return fg_concat(out, ptrs, (int)c->iparam[0], (int)c->iparam[1]);
}

static void cases_concat(op_case_list *l) {
    int k = 0;
    for (int n = 2; n <= 3; n++) {
        for (int nd = 3; nd <= 4; nd++) {
            for (int dim = 0; dim < nd; dim++, k++) {
                fg_dtype dt = layout_dtypes[k % N_LAYOUT_DTYPES];
                int64_t base[4], shapes[3][4], oshape[4];
                rand_shape(l, nd, 1, 9, base);
                base[0] = op_rand_int(l, 1, 3);
                memcpy(oshape, base, sizeof oshape);
                oshape[dim] = 0;
                for (int i = 0; i < n; i++) {
                    memcpy(shapes[i], base, sizeof base);
                    shapes[i][dim] = op_rand_int(l, i == 1 ? 0 : 1, 7); /* an empty middle input too */
                    oshape[dim] += shapes[i][dim];
                }
                char sb[64];
                op_case *c = op_case_new(l, run_concat, "concat %d %s inputs along dim %d -> %s", n, fg_dtype_name(dt),
                                         dim, fg_shape_str(nd, oshape, sb, sizeof sb));
                c->iparam[0] = n;
                c->iparam[1] = dim;
                for (int i = 0; i < n; i++) add_input(c, l, dt, nd, shapes[i]);
                double *e = op_case_output(c, dt, nd, oshape);
                for (int64_t f = 0; f < numel_of(nd, oshape); f++) {
                    int64_t idx[4];
                    unflatten(f, nd, oshape, idx);
                    int i = 0;
                    while (idx[dim] >= shapes[i][dim]) idx[dim] -= shapes[i++][dim];
                    e[f] = op_in(c, i, flatten(nd, shapes[i], idx));
                }
            }
        }
    }
}

static fg_error *run_slice(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_slice(out, &in[0], (int)c->iparam[0], c->iparam[1]);
}

static void cases_slice(op_case_list *l) {
    int k = 0;
    for (int nd = 2; nd <= 4; nd++) {
        int dims[3] = {0, nd / 2, nd - 1}; /* first, middle, last */
        for (int di = 0; di < 3; di++, k++) {
            int dim = dims[di];
            fg_dtype dt = layout_dtypes[k % N_LAYOUT_DTYPES];
            int64_t shape[4], oshape[4];
            rand_shape(l, nd, 1, 11, shape);
            shape[0] = op_rand_int(l, 2, 3);
            shape[dim] = op_rand_int(l, 3, 20);
            memcpy(oshape, shape, sizeof shape);
            int64_t start = op_rand_int(l, 0, shape[dim] - 1);
            oshape[dim] = op_rand_int(l, 1, shape[dim] - start);
            char sb[64];
            op_case *c = op_case_new(l, run_slice, "slice %s %s dim %d [%lld, +%lld)", fg_dtype_name(dt),
                                     fg_shape_str(nd, shape, sb, sizeof sb), dim, (long long)start,
                                     (long long)oshape[dim]);
            c->iparam[0] = dim;
            c->iparam[1] = start;
            add_input(c, l, dt, nd, shape);
            double *e = op_case_output(c, dt, nd, oshape);
            for (int64_t f = 0; f < numel_of(nd, oshape); f++) {
                int64_t idx[4];
                unflatten(f, nd, oshape, idx);
                idx[dim] += start;
                e[f] = op_in(c, 0, flatten(nd, shape, idx));
            }
        }
    }
}

/* ---- pad2d, patchify, unpatchify, upsample ------------------------------------------------------ */

static fg_error *run_pad(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_pad2d(out, &in[0], (int)c->iparam[0], (int)c->iparam[1], (int)c->iparam[2], (int)c->iparam[3],
                    (fg_pad_mode)c->iparam[4]);
}

static int64_t wrap_index(int64_t i, int64_t n) { return ((i % n) + n) % n; }

/* Expected value of out[b, c, oy, ox] for a pad of x [B, C, H, W]. */
static double pad_ref(const op_case *c, int in, const int64_t *xs, int64_t plane, int64_t oy, int64_t ox, int top,
                      int left, bool circular) {
    int64_t y = oy - top, x = ox - left;
    if (circular) {
        y = wrap_index(y, xs[2]);
        x = wrap_index(x, xs[3]);
    } else if (y < 0 || y >= xs[2] || x < 0 || x >= xs[3]) {
        return 0.0;
    }
    return op_in(c, in, (plane * xs[2] + y) * xs[3] + x);
}

static void cases_pad(op_case_list *l) {
    for (int k = 0; k < 8; k++) {
        bool circular = k % 2;
        fg_dtype dt = layout_dtypes[(k / 2) % N_LAYOUT_DTYPES];
        int64_t xs[4] = {op_rand_int(l, 1, 3), op_rand_int(l, 1, 5), op_rand_int(l, 1, 13), op_rand_int(l, 1, 13)};
        int pads[4];
        for (int i = 0; i < 4; i++) pads[i] = (int)op_rand_int(l, 0, circular ? xs[2 + i / 2] : 4);
        if (k < 2) { /* the VAE / odd-latent pad */
            pads[0] = pads[2] = 0;
            pads[1] = pads[3] = 1;
        }
        int64_t os[4] = {xs[0], xs[1], pads[0] + xs[2] + pads[1], pads[2] + xs[3] + pads[3]};
        char sb[64];
        op_case *c = op_case_new(l, run_pad, "pad2d %s %s %s t%d b%d l%d r%d", circular ? "circular" : "zero",
                                 fg_dtype_name(dt), fg_shape_str(4, xs, sb, sizeof sb), pads[0], pads[1], pads[2],
                                 pads[3]);
        for (int i = 0; i < 4; i++) c->iparam[i] = pads[i];
        c->iparam[4] = circular ? FG_PAD_CIRCULAR : FG_PAD_ZERO;
        add_input(c, l, dt, 4, xs);
        double *e = op_case_output(c, dt, 4, os);
        for (int64_t f = 0; f < numel_of(4, os); f++) {
            int64_t idx[4];
            unflatten(f, 4, os, idx);
            e[f] = pad_ref(c, 0, xs, idx[0] * xs[1] + idx[1], idx[2], idx[3], pads[0], pads[2], circular);
        }
    }
}

/* x[b, c, hi*p + ph, wi*p + pw] -> tokens[b, hi*Wp + wi, (c*p + ph)*p + pw], as a flat index
 * map from a token index to the image index. */
static int64_t patch_source(const int64_t *xs, int64_t p, int64_t tok_flat) {
    int64_t Hp = xs[2] / p, Wp = xs[3] / p, F = xs[1] * p * p;
    int64_t b = tok_flat / (Hp * Wp * F), t = (tok_flat / F) % (Hp * Wp), f = tok_flat % F;
    int64_t hi = t / Wp, wi = t % Wp, c = f / (p * p), ph = (f / p) % p, pw = f % p;
    return ((b * xs[1] + c) * xs[2] + hi * p + ph) * xs[3] + wi * p + pw;
}

/* iparam[0] = p; iparam[1]: 0 patchify, 1 unpatchify, 2 round trip, 3 circular pad to even
 * then patchify (FLUX on an odd latent). */
static fg_error *run_patch(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    int p = (int)c->iparam[0];
    if (c->iparam[1] == 0) return fg_patchify(out, &in[0], p);
    if (c->iparam[1] == 1) return fg_unpatchify(out, &in[0], p);
    fg_tensor mid;
    memset(&mid, 0, sizeof mid);
    fg_error *err = NULL;
    if (c->iparam[1] == 2) {
        const int64_t *s = in[0].shape;
        err = fg_tensor_alloc(&mid, out->device, in[0].dtype, FG_SHAPE(s[0], (s[2] / p) * (s[3] / p), s[1] * p * p));
        if (!err) err = fg_patchify(&mid, &in[0], p);
        if (!err) err = fg_unpatchify(out, &mid, p);
    } else {
        const int64_t *s = in[0].shape;
        err = fg_tensor_alloc(&mid, out->device, in[0].dtype, FG_SHAPE(s[0], s[1], s[2] + s[2] % 2, s[3] + s[3] % 2));
        if (!err) err = fg_pad2d(&mid, &in[0], 0, (int)(s[2] % 2), 0, (int)(s[3] % 2), FG_PAD_CIRCULAR);
        if (!err) err = fg_patchify(out, &mid, p);
    }
    fg_tensor_free(&mid);
    return err;
}

static void cases_patch(op_case_list *l) {
    for (int k = 0; k < 9; k++) {
        int mode = k % 3;
        int64_t p = k < 6 ? 2 : op_rand_int(l, 1, 3);
        fg_dtype dt = layout_dtypes[k % N_LAYOUT_DTYPES];
        int64_t xs[4] = {op_rand_int(l, 1, 3), op_rand_int(l, 1, 17), p * op_rand_int(l, 1, 9), p * op_rand_int(l, 1, 9)};
        int64_t ts[3] = {xs[0], (xs[2] / p) * (xs[3] / p), xs[1] * p * p};
        static const char *names[] = {"patchify", "unpatchify", "patchify+unpatchify"};
        char sb[64];
        op_case *c = op_case_new(l, run_patch, "%s p=%lld %s %s", names[mode], (long long)p, fg_dtype_name(dt),
                                 fg_shape_str(4, xs, sb, sizeof sb));
        c->iparam[0] = p;
        c->iparam[1] = mode;
        if (mode == 0) {
            add_input(c, l, dt, 4, xs);
            double *e = op_case_output(c, dt, 3, ts);
            for (int64_t f = 0; f < numel_of(3, ts); f++) e[f] = op_in(c, 0, patch_source(xs, p, f));
        } else if (mode == 1) {
            add_input(c, l, dt, 3, ts);
            double *e = op_case_output(c, dt, 4, xs);
            for (int64_t f = 0; f < numel_of(3, ts); f++) e[patch_source(xs, p, f)] = op_in(c, 0, f);
        } else {
            add_input(c, l, dt, 4, xs);
            double *e = op_case_output(c, dt, 4, xs);
            for (int64_t f = 0; f < numel_of(4, xs); f++) e[f] = op_in(c, 0, f);
        }
    }
    /* odd latents (e.g. 13x9 -> 14x10), padded circularly then patchified */
    int64_t odd[3][4] = {{1, 16, 13, 9}, {2, 3, 7, 5}, {1, 5, 4, 11}};
    for (int k = 0; k < 3; k++) {
        int64_t *xs = odd[k];
        int64_t ps[4] = {xs[0], xs[1], xs[2] + xs[2] % 2, xs[3] + xs[3] % 2};
        int64_t ts[3] = {xs[0], (ps[2] / 2) * (ps[3] / 2), xs[1] * 4};
        char sb[64];
        op_case *c = op_case_new(l, run_patch, "circular pad + patchify %s", fg_shape_str(4, xs, sb, sizeof sb));
        c->iparam[0] = 2;
        c->iparam[1] = 3;
        op_case_input(c, l, FG_F32, 4, xs, -1, 1);
        double *e = op_case_output(c, FG_F32, 3, ts);
        for (int64_t f = 0; f < numel_of(3, ts); f++) {
            int64_t src = patch_source(ps, 2, f), idx[4];
            unflatten(src, 4, ps, idx);
            e[f] = pad_ref(c, 0, xs, idx[0] * xs[1] + idx[1], idx[2], idx[3], 0, 0, true);
        }
    }
}

static fg_error *run_upsample(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)c;
    return fg_upsample_nearest2x(out, &in[0]);
}

static void cases_upsample(op_case_list *l) {
    for (int k = 0; k < 5; k++) {
        fg_dtype dt = layout_dtypes[k % N_LAYOUT_DTYPES];
        int64_t xs[4] = {op_rand_int(l, 1, 3), op_rand_int(l, 1, 9), op_rand_int(l, 1, 15), op_rand_int(l, 1, 15)};
        if (k == 4) dt = FG_F16;
        int64_t os[4] = {xs[0], xs[1], 2 * xs[2], 2 * xs[3]};
        char sb[64];
        op_case *c = op_case_new(l, run_upsample, "upsample_nearest2x %s %s", fg_dtype_name(dt),
                                 fg_shape_str(4, xs, sb, sizeof sb));
        add_input(c, l, dt, 4, xs);
        double *e = op_case_output(c, dt, 4, os);
        for (int64_t f = 0; f < numel_of(4, os); f++) {
            int64_t idx[4];
            unflatten(f, 4, os, idx);
            idx[2] /= 2;
            idx[3] /= 2;
            e[f] = op_in(c, 0, flatten(4, xs, idx));
        }
    }
}

void ops_cases_layout(op_case_list *l) {
    cases_permute(l);
    cases_concat(l);
    cases_slice(l);
    cases_pad(l);
    cases_patch(l);
    cases_upsample(l);
}

/* ---- error paths ------------------------------------------------------------------------------ */

static float buf_a[4096], buf_b[4096], buf_c[4096];

static void check_permute_errors(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_a), out = op_view(FG_F32, FG_SHAPE(4, 3, 2), buf_b);
    CHECK_ERR(fg_permute(&out, &x, (const int[]){2, 2, 0}), "permute: perm repeats dim 2");
    CHECK_ERR(fg_permute(&out, &x, (const int[]){3, 1, 0}), "permute: perm[0] = 3 is out of range for 3 dims");
    CHECK_ERR(fg_permute(&out, &x, (const int[]){-1, 1, 0}), "out of range");
    CHECK_ERR(fg_permute(&out, &x, NULL), "permute: perm is NULL");
    CHECK_ERR(fg_permute(&out, &x, (const int[]){0, 2, 1}), "permute: out is [4, 3, 2] but permuting x [2, 3, 4] needs [2, 4, 3]");
    fg_tensor out2 = op_view(FG_F32, FG_SHAPE(12, 2), buf_b);
    CHECK_ERR(fg_permute(&out2, &x, (const int[]){0, 1, 2}), "permute: out has 2 dims but x has 3");
    fg_tensor outbf = op_view(FG_BF16, FG_SHAPE(4, 3, 2), buf_b);
    CHECK_ERR(fg_permute(&outbf, &x, (const int[]){2, 1, 0}), "permute: x is F32 but out is BF16");
    CHECK_ERR(fg_permute(NULL, &x, (const int[]){2, 1, 0}), "permute: out is NULL");
    CHECK_OK(fg_permute(&out, &x, (const int[]){2, 1, 0}));
}

static void check_concat_errors(void) {
    fg_tensor a = op_view(FG_F32, FG_SHAPE(2, 3), buf_a), b = op_view(FG_F32, FG_SHAPE(2, 4), buf_b);
    fg_tensor out = op_view(FG_F32, FG_SHAPE(2, 7), buf_c);
    const fg_tensor *both[2] = {&a, &b};
    CHECK_OK(fg_concat(&out, both, 2, 1));
    CHECK_ERR(fg_concat(&out, both, 2, 0), "concat: inputs[0] is [2, 3], which does not match out [2, 7] outside dim 0");
    CHECK_ERR(fg_concat(&out, both, 2, 2), "concat: dim 2 is out of range");
    CHECK_ERR(fg_concat(&out, both, 2, -1), "out of range");
    CHECK_ERR(fg_concat(&out, both, 0, 1), "concat: no inputs");
    CHECK_ERR(fg_concat(&out, NULL, 2, 1), "no inputs");
    const fg_tensor *with_null[2] = {&a, NULL};
    CHECK_ERR(fg_concat(&out, with_null, 2, 1), "concat: inputs[1] is NULL");
    fg_tensor out8 = op_view(FG_F32, FG_SHAPE(2, 8), buf_c);
    CHECK_ERR(fg_concat(&out8, both, 2, 1), "concat: inputs add up to 7 along dim 1 but out has 8");
    fg_tensor c3 = op_view(FG_F32, FG_SHAPE(2, 4, 1), buf_b);
    const fg_tensor *rank[2] = {&a, &c3};
    CHECK_ERR(fg_concat(&out, rank, 2, 1), "inputs[1] is [2, 4, 1]");
    fg_tensor bi = op_view(FG_I32, FG_SHAPE(2, 4), buf_b);
    const fg_tensor *mixed[2] = {&a, &bi};
    CHECK_ERR(fg_concat(&out, mixed, 2, 1), "concat: inputs[1] is I32 but out is F32");
    fg_tensor bc = b;
    bc.device = FG_DEVICE_CUDA;
    const fg_tensor *dev[2] = {&a, &bc};
    CHECK_ERR(fg_concat(&out, dev, 2, 1), "concat: inputs[1] is on cuda but the output is on cpu");
}

static void check_slice_errors(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(4, 10), buf_a), out = op_view(FG_F32, FG_SHAPE(4, 3), buf_b);
    CHECK_OK(fg_slice(&out, &x, 1, 7));
    CHECK_ERR(fg_slice(&out, &x, 1, 8), "slice: [8, 8 + 3) is out of range for dim 1 of x [4, 10]");
    CHECK_ERR(fg_slice(&out, &x, 1, -1), "out of range");
    CHECK_ERR(fg_slice(&out, &x, 1, INT64_MAX), "out of range");
    CHECK_ERR(fg_slice(&out, &x, 2, 0), "slice: dim 2 is out of range");
    CHECK_ERR(fg_slice(&out, &x, 0, 0), "slice: out [4, 3] does not match x [4, 10] outside dim 0");
    CHECK_ERR(fg_slice(&out, NULL, 0, 0), "slice: x is NULL");
}

static void check_pad_errors(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(1, 2, 3, 4), buf_a);
    fg_tensor out = op_view(FG_F32, FG_SHAPE(1, 2, 7, 4), buf_b);
    CHECK_OK(fg_pad2d(&out, &x, 2, 2, 0, 0, FG_PAD_ZERO));
    CHECK_ERR(fg_pad2d(&out, &x, 4, 0, 0, 0, FG_PAD_CIRCULAR), "pad2d: circular padding (top 4, bottom 0, left 0, right 0) exceeds the input's 3 x 4");
    CHECK_OK(fg_pad2d(&out, &x, 3, 1, 0, 0, FG_PAD_CIRCULAR));
    fg_tensor wide = op_view(FG_F32, FG_SHAPE(1, 2, 3, 9), buf_b);
    CHECK_ERR(fg_pad2d(&wide, &x, 0, 0, 0, 5, FG_PAD_CIRCULAR), "exceeds");
    CHECK_ERR(fg_pad2d(&out, &x, -1, 5, 0, 0, FG_PAD_ZERO), "pad2d: negative padding");
    CHECK_ERR(fg_pad2d(&out, &x, 1, 1, 0, 0, FG_PAD_ZERO), "pad2d: out is [1, 2, 7, 4] but padding x [1, 2, 3, 4] needs [1, 2, 5, 4]");
    CHECK_ERR(fg_pad2d(&out, &x, 2, 2, 0, 0, (fg_pad_mode)7), "unknown mode");
    fg_tensor x3 = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_a);
    CHECK_ERR(fg_pad2d(&out, &x3, 2, 2, 0, 0, FG_PAD_ZERO), "pad2d: x has 3 dims");
    fg_tensor xc = x;
    xc.device = FG_DEVICE_CUDA;
    CHECK_ERR(fg_pad2d(&out, &xc, 2, 2, 0, 0, FG_PAD_ZERO), "pad2d: x is on cuda");
}

static void check_patch_errors(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(1, 3, 5, 4), buf_a);
    fg_tensor tok = op_view(FG_F32, FG_SHAPE(1, 4, 12), buf_b);
    CHECK_ERR(fg_patchify(&tok, &x, 2), "patchify: x is [1, 3, 5, 4]; H and W must be divisible by the patch size 2");
    CHECK_ERR(fg_patchify(&tok, &x, 0), "patch size 0 must be >= 1");
    fg_tensor x4 = op_view(FG_F32, FG_SHAPE(1, 3, 4, 4), buf_a);
    CHECK_OK(fg_patchify(&tok, &x4, 2));
    fg_tensor badtok = op_view(FG_F32, FG_SHAPE(1, 12, 4), buf_b);
    CHECK_ERR(fg_patchify(&badtok, &x4, 2), "patchify: out is [1, 12, 4] but patchifying x [1, 3, 4, 4] needs [1, 4, 12]");
    CHECK_ERR(fg_unpatchify(&x4, &badtok, 2), "unpatchify: x is [1, 12, 4] but out [1, 3, 4, 4] with patch size 2 needs x [1, 4, 12]");
    CHECK_ERR(fg_unpatchify(&x, &tok, 2), "unpatchify: out is [1, 3, 5, 4]; H and W must be divisible");
    CHECK_OK(fg_unpatchify(&x4, &tok, 2));
    fg_tensor zero = op_view(FG_F32, FG_SHAPE(1, 3, 0, 0), buf_a);
    CHECK_ERR(fg_patchify(&tok, &zero, 2147483647), "patchify: patch size 2147483647 is too large");
    CHECK_ERR(fg_upsample_nearest2x(&x, &x4), "upsample_nearest2x: out is [1, 3, 5, 4] but upsampling x [1, 3, 4, 4] needs [1, 3, 8, 8]");
    CHECK_ERR(fg_upsample_nearest2x(&x, NULL), "upsample_nearest2x: x is NULL");
}

static void check_conv_errors(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(1, 3, 8, 8), buf_a);
    fg_tensor w = op_view(FG_F32, FG_SHAPE(4, 3, 3, 3), buf_b);
    fg_tensor bias = op_view(FG_F32, FG_SHAPE(4), buf_c);
    fg_tensor out = op_view(FG_F32, FG_SHAPE(1, 4, 8, 8), buf_c + 64);
    fg_conv2d_params same = {.stride = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    CHECK_OK(fg_conv2d(&out, &x, &w, &bias, &same));
    fg_conv2d_params down = {.stride = 2, .pad_bottom = 1, .pad_right = 1};
    CHECK_ERR(fg_conv2d(&out, &x, &w, &bias, &down), "conv2d: out is [1, 4, 8, 8] but x [1, 3, 8, 8] with w [4, 3, 3, 3] (stride 2) gives [1, 4, 4, 4]");
    fg_tensor w2 = op_view(FG_F32, FG_SHAPE(4, 2, 3, 3), buf_b);
    CHECK_ERR(fg_conv2d(&out, &x, &w2, NULL, &same), "conv2d: w is [4, 2, 3, 3] but x [1, 3, 8, 8] needs [Co, 3, kh, kw]");
    fg_tensor bias5 = op_view(FG_F32, FG_SHAPE(5), buf_c);
    CHECK_ERR(fg_conv2d(&out, &x, &w, &bias5, &same), "conv2d: bias is [5] but w [4, 3, 3, 3] needs [4]");
    CHECK_ERR(fg_conv2d(&out, &x, &w, NULL, NULL), "conv2d: params is NULL");
    fg_conv2d_params zero_stride = same;
    zero_stride.stride = 0;
    CHECK_ERR(fg_conv2d(&out, &x, &w, NULL, &zero_stride), "stride 0");
    fg_conv2d_params neg = same;
    neg.pad_left = -1;
    CHECK_ERR(fg_conv2d(&out, &x, &w, NULL, &neg), "negative padding");
    fg_tensor tiny = op_view(FG_F32, FG_SHAPE(1, 3, 1, 1), buf_a);
    fg_conv2d_params nopad = {.stride = 1};
    CHECK_ERR(fg_conv2d(&out, &tiny, &w, NULL, &nopad), "kernel 3x3 does not fit the padded input 1x1");
    fg_tensor wi = op_view(FG_I32, FG_SHAPE(4, 3, 3, 3), buf_b);
    CHECK_ERR(fg_conv2d(&out, &x, &wi, NULL, &same), "weights must be a float dtype");
    fg_tensor wc = w;
    wc.device = FG_DEVICE_CUDA;
    CHECK_ERR(fg_conv2d(&out, &x, &wc, NULL, &same), "conv2d: w is on cuda but the output is on cpu");
    CHECK_ERR(fg_conv2d(&out, NULL, &w, NULL, &same), "conv2d: x is NULL");
    CHECK_ERR(fg_conv2d(&out, &x, NULL, NULL, &same), "conv2d: w is NULL");
    fg_tensor x3 = op_view(FG_F32, FG_SHAPE(3, 8, 8), buf_a);
    CHECK_ERR(fg_conv2d(&out, &x3, &w, NULL, &same), "conv2d: x is [3, 8, 8], not 4 dims");
}

void ops_checks_layout(void) {
    RUN_TEST(check_permute_errors);
    RUN_TEST(check_concat_errors);
    RUN_TEST(check_slice_errors);
    RUN_TEST(check_pad_errors);
    RUN_TEST(check_patch_errors);
    RUN_TEST(check_conv_errors);
}
