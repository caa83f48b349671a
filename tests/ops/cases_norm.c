/* Cases for layer_norm (affine, adaLN modulation), rms_norm and group_norm (1-D/2-D/3-D and
 * empty spatial, affine, fused SiLU) against naive double loops.
 * Tolerances: statistics are double on both sides, so what remains is the f32 rounding of a
 * few multiply-adds per value on outputs of size <= ~10: ~1e-6 absolute. */
#include <math.h>
#include <stdlib.h>

#include "tests/ops/harness.h"

static const fg_tensor *opt(const fg_tensor *t) { return t->data ? t : NULL; }

static void ref_mean_rstd(const op_case *c, int64_t begin, int64_t n, double eps, double *mean, double *rstd) {
    double s = 0, v = 0;
    for (int64_t i = 0; i < n; i++) s += op_in(c, 0, begin + i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) v += (op_in(c, 0, begin + i) - *mean) * (op_in(c, 0, begin + i) - *mean);
    *rstd = 1.0 / sqrt(v / (double)n + eps);
}

/* An optional parameter input of n values in [lo, hi), or an absent slot. */
static void param_input(op_case *c, op_case_list *l, bool present, fg_dtype dt, int64_t n, double lo, double hi) {
    if (present) op_case_input(c, l, dt, FG_SHAPE(n), lo, hi);
    else op_case_absent(c);
}

/* ---- layer_norm ----------------------------------------------------------------------- */

static fg_error *run_layer_norm(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_layer_norm(out, &in[0], opt(&in[1]), opt(&in[2]), (float)c->fparam[0], opt(&in[3]), opt(&in[4]));
}

typedef struct ln_spec {
    int ndim;
    int64_t shape[4];
    bool weight, bias;
    fg_dtype wdt;
    int mod_ndim; /* 0: no modulation; 2: shift/scale [B, D]; 3: [B, 1, D] */
    double lo, hi;
    double eps;
} ln_spec;

static void add_layer_norm(op_case_list *l, ln_spec s) {
    int64_t d = s.shape[s.ndim - 1];
    op_case *c = op_case_new(l, run_layer_norm, "layer_norm ndim%d d%lld w=%d b=%d %s mod=%d x[%g,%g] eps%g", s.ndim,
                             (long long)d, s.weight, s.bias, fg_dtype_name(s.wdt), s.mod_ndim, s.lo, s.hi, s.eps);
    op_case_act(c, l, s.ndim, s.shape, s.lo, s.hi);
    param_input(c, l, s.weight, s.wdt, d, -1.5, 1.5);
    param_input(c, l, s.bias, s.wdt, d, -1.0, 1.0);
    if (s.mod_ndim) {
        const int64_t *ms = s.mod_ndim == 2 ? (const int64_t[]){s.shape[0], d} : (const int64_t[]){s.shape[0], 1, d};
        op_case_act(c, l, s.mod_ndim, ms, -1.0, 1.0);
        op_case_act(c, l, s.mod_ndim, ms, -1.0, 1.0);
    } else {
        op_case_absent(c);
        op_case_absent(c);
    }
    c->fparam[0] = s.eps;
    double *want = op_case_act_output(c, l, s.ndim, s.shape);
    int64_t rows = fg_tensor_numel(&c->in[0]) / d, per_batch = s.ndim == 3 ? s.shape[1] : 1;
    for (int64_t r = 0; r < rows; r++) {
        double mean, rstd;
        ref_mean_rstd(c, r * d, d, s.eps, &mean, &rstd);
        for (int64_t i = 0; i < d; i++) {
            double y = (op_in(c, 0, r * d + i) - mean) * rstd;
            if (s.weight) y *= op_in(c, 1, i);
            if (s.bias) y += op_in(c, 2, i);
            if (s.mod_ndim) {
                int64_t m = (r / per_batch) * d + i;
                y = y * (1.0 + op_in(c, 4, m)) + op_in(c, 3, m);
            }
            want[r * d + i] = y;
        }
    }
    /* |y| <= ~10 after affine and modulation; each of the <= 5 f32 steps rounds by u. */
    c->atol = 1e-6;
    c->rtol = 1e-6;
    /* A GPU's f32 mean of values near lo is off by a few u * |lo|, which the normalisation
     * divides by the spread (std of a uniform range: width / sqrt 12). */
    c->parity_atol_extra = 8.0 / 16777216.0 * fabs(s.lo) / ((s.hi - s.lo) / sqrt(12.0));
}

static void layer_norm_cases(op_case_list *l) {
    int64_t b = op_rand_int(l, 1, 3), len = op_rand_int(l, 1, 29), d = op_rand_int(l, 2, 131);
    add_layer_norm(l, (ln_spec){3, {b, len, d}, false, false, FG_F32, 0, -2, 3, 1e-6});
    add_layer_norm(l, (ln_spec){2, {7, 77}, true, true, FG_F32, 0, -2, 2, 1e-5});   /* CLIP */
    add_layer_norm(l, (ln_spec){2, {5, 33}, true, true, FG_F16, 0, -2, 2, 1e-5});
    add_layer_norm(l, (ln_spec){4, {2, 3, 2, 17}, true, false, FG_BF16, 0, -1, 1, 1e-6});
    add_layer_norm(l, (ln_spec){1, {45}, false, true, FG_F8_E4M3, 0, -1, 1, 1e-6});
    add_layer_norm(l, (ln_spec){3, {b, len, d}, false, false, FG_F32, 2, -2, 2, 1e-6}); /* FLUX adaLN */
    add_layer_norm(l, (ln_spec){3, {2, 19, 64}, false, false, FG_F32, 3, -2, 2, 1e-6});
    add_layer_norm(l, (ln_spec){3, {3, 5, 21}, true, true, FG_BF16, 3, -2, 2, 1e-6});
    /* A large mean relative to the spread: one-pass f32 statistics would lose it. */
    add_layer_norm(l, (ln_spec){2, {4, 300}, false, false, FG_F32, 0, 1000, 1000.5, 1e-6});
    add_layer_norm(l, (ln_spec){2, {3, 1}, true, true, FG_F32, 0, -1, 1, 1e-5}); /* D = 1: out = bias */
    add_layer_norm(l, (ln_spec){3, {1, 1, 1}, false, false, FG_F32, 2, -1, 1, 1e-6});
}

/* ---- rms_norm ------------------------------------------------------------------------- */

static fg_error *run_rms_norm(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_rms_norm(out, &in[0], opt(&in[1]), (float)c->fparam[0]);
}

static void add_rms_norm(op_case_list *l, int ndim, const int64_t *shape, bool weight, fg_dtype wdt, double eps) {
    int64_t d = shape[ndim - 1];
    op_case *c = op_case_new(l, run_rms_norm, "rms_norm ndim%d d%lld w=%d %s eps%g", ndim, (long long)d, weight,
                             fg_dtype_name(wdt), eps);
    op_case_act(c, l, ndim, shape, -3.0, 2.0);
    param_input(c, l, weight, wdt, d, -2.0, 2.0);
    c->fparam[0] = eps;
    double *want = op_case_act_output(c, l, ndim, shape);
    int64_t rows = fg_tensor_numel(&c->in[0]) / d;
    for (int64_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int64_t i = 0; i < d; i++) ss += op_in(c, 0, r * d + i) * op_in(c, 0, r * d + i);
        double inv = 1.0 / sqrt(ss / (double)d + eps);
        for (int64_t i = 0; i < d; i++) want[r * d + i] = op_in(c, 0, r * d + i) * inv * (weight ? op_in(c, 1, i) : 1.0);
    }
    /* Two f32 roundings on values <= ~8. */
    c->atol = 1e-6;
    c->rtol = 1e-6;
}

static void rms_norm_cases(op_case_list *l) {
    add_rms_norm(l, 3, (const int64_t[]){2, op_rand_int(l, 1, 40), 64}, true, FG_F16, 1e-6); /* T5 */
    add_rms_norm(l, 4, (const int64_t[]){1, 2, 17, 128}, true, FG_BF16, 1e-6);              /* FLUX q/k norm */
    add_rms_norm(l, 2, (const int64_t[]){5, op_rand_int(l, 1, 99)}, false, FG_F32, 1e-6);
    add_rms_norm(l, 2, (const int64_t[]){3, 37}, true, FG_F32, 1e-5);
    add_rms_norm(l, 1, (const int64_t[]){1}, true, FG_F8_E5M2, 1e-6);
}

/* ---- group_norm ----------------------------------------------------------------------- */

static fg_error *run_group_norm(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_group_norm(out, &in[0], (int)c->iparam[0], opt(&in[1]), opt(&in[2]), (float)c->fparam[0],
                         c->iparam[1] != 0);
}

static void add_group_norm(op_case_list *l, int ndim, const int64_t *shape, int groups, bool affine, fg_dtype wdt,
                           bool silu, double eps) {
    int64_t ch = shape[1], spatial = 1;
    for (int i = 2; i < ndim; i++) spatial *= shape[i];
    op_case *c = op_case_new(l, run_group_norm, "group_norm ndim%d c%lld s%lld groups%d affine=%d %s silu=%d eps%g",
                             ndim, (long long)ch, (long long)spatial, groups, affine, fg_dtype_name(wdt), silu, eps);
    op_case_act(c, l, ndim, shape, -2.0, 3.0);
    param_input(c, l, affine, wdt, ch, -1.5, 1.5);
    param_input(c, l, affine, wdt, ch, -1.0, 1.0);
    c->iparam[0] = groups;
    c->iparam[1] = silu;
    c->fparam[0] = eps;
    double *want = op_case_act_output(c, l, ndim, shape);
    int64_t cpg = ch / groups, span = cpg * spatial;
    for (int64_t bg = 0; bg < shape[0] * groups; bg++) {
        double mean, rstd;
        ref_mean_rstd(c, bg * span, span, eps, &mean, &rstd);
        for (int64_t i = 0; i < span; i++) {
            int64_t chan = (bg % groups) * cpg + i / spatial;
            double y = (op_in(c, 0, bg * span + i) - mean) * rstd;
            if (affine) y = y * op_in(c, 1, chan) + op_in(c, 2, chan);
            if (silu) y = y / (1.0 + exp(-y));
            want[bg * span + i] = y;
        }
    }
    /* A double multiply-add rounded once to f32, then SiLU in f32 (expf, divide): a few u. */
    c->atol = 1e-6;
    c->rtol = 2e-6;
}

static void group_norm_cases(op_case_list *l) {
    add_group_norm(l, 4, (const int64_t[]){2, 64, 5, 7}, 32, true, FG_F32, true, 1e-6); /* VAE norm + swish */
    add_group_norm(l, 4, (const int64_t[]){1, 64, 9, 3}, 32, true, FG_F32, false, 1e-6);
    add_group_norm(l, 4, (const int64_t[]){2, 12, 3, 3}, 4, false, FG_F32, false, 1e-5);
    add_group_norm(l, 4, (const int64_t[]){2, 12, 3, 3}, 3, false, FG_F32, true, 1e-5);
    add_group_norm(l, 3, (const int64_t[]){3, 10, op_rand_int(l, 1, 50)}, 5, true, FG_F16, false, 1e-6);
    add_group_norm(l, 3, (const int64_t[]){2, 6, 11}, 1, true, FG_BF16, true, 1e-6);  /* one group */
    add_group_norm(l, 3, (const int64_t[]){2, 6, 11}, 6, true, FG_F32, false, 1e-6);  /* group per channel */
    add_group_norm(l, 2, (const int64_t[]){4, 8}, 2, true, FG_F32, true, 1e-6);       /* empty spatial */
    add_group_norm(l, 5, (const int64_t[]){1, 4, 2, 3, 5}, 2, true, FG_F32, false, 1e-6);
    add_group_norm(l, 2, (const int64_t[]){1, 1}, 1, true, FG_F32, false, 1e-6);      /* out = bias */
}

void ops_cases_norm(op_case_list *l) {
    layer_norm_cases(l);
    rms_norm_cases(l);
    group_norm_cases(l);
}
