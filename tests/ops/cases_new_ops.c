/* Cases for fill_uniform (exact values from the formula of kernels/ops.h, every float dtype)
 * and rms_norm_rope (against rms_norm then rope in double), and checks of what the case
 * harness cannot express: the BF16 shim against the f32 kernels on tensors larger than one
 * conversion chunk (in place too), the CPU memory statistics, graph capture (unsupported on
 * the CPU) and the act-dtype rules of the dispatchers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ops/harness.h"
#include "tests/testing.h"

static const fg_tensor *opt(const fg_tensor *t) { return t->data ? t : NULL; }

/* ---- fill_uniform ----------------------------------------------------------------------- */

/* SplitMix64's finaliser over seed + (i + 1) * golden gamma, written from the published
 * algorithm; check_fill_hash pins it (and ops.h's copy) to SplitMix64's known outputs. */
static uint64_t ref_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* lo + (hi - lo) * u with one f32 rounding per operation, emulated in double: the product of
 * two floats is exact in double, and so is the sum here (|lo| and the product are within 2^29
 * of each other for the ranges below), so each (float) cast is the f32 operation's rounding. */
static double ref_fill_value(uint64_t seed, int64_t i, float lo, float hi) {
    float span = (float)((double)hi - (double)lo);
    double u = (double)(ref_hash(seed, (uint64_t)i) >> 40) / 16777216.0;
    float prod = (float)((double)span * u);
    return (float)((double)lo + (double)prod);
}

static fg_error *run_fill(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)in;
    return fg_fill_uniform(out, (uint64_t)c->iparam[0], (float)c->fparam[0], (float)c->fparam[1]);
}

static void add_fill(op_case_list *l, fg_dtype dt, int ndim, const int64_t *shape, uint64_t seed, float lo, float hi) {
    char sb[64];
    op_case *c = op_case_new(l, run_fill, "fill_uniform %s %s seed %llx [%g, %g)", fg_dtype_name(dt),
                             fg_shape_str(ndim, shape, sb, sizeof sb), (unsigned long long)seed, (double)lo,
                             (double)hi);
    c->iparam[0] = (int64_t)seed;
    c->fparam[0] = lo;
    c->fparam[1] = hi;
    double *e = op_case_output(c, dt, ndim, shape);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int64_t i = 0; i < n; i++) e[i] = op_ref_to_dtype(ref_fill_value(seed, i, lo, hi), dt);
    c->atol = 0; /* the formula is exact: every backend writes the same bits */
    c->rtol = 0;
}

static void fill_cases(op_case_list *l) {
    static const fg_dtype dts[] = {FG_F32, FG_BF16, FG_F16, FG_F8_E4M3, FG_F8_E5M2};
    for (int k = 0; k < 5; k++) {
        int64_t shape[3] = {op_rand_int(l, 1, 3), op_rand_int(l, 1, 17), op_rand_int(l, 1, 65)};
        add_fill(l, dts[k], 3, shape, 0x1234u + (uint64_t)k, -1.0f, 1.0f);
    }
    add_fill(l, FG_F32, 1, (const int64_t[]){100003}, 42, 0.5f, 3.0f); /* split over the thread pool */
    add_fill(l, FG_BF16, 2, (const int64_t[]){317, 311}, 0xFFFFFFFFFFFFFFFFull, -2.0f, -1.0f);
    add_fill(l, FG_F8_E4M3, 2, (const int64_t[]){7, 9}, 7, -300.0f, 300.0f);
    add_fill(l, FG_F32, 0, (const int64_t[]){1}, 9, 1.0f, 1.0f); /* lo == hi: a constant */
    add_fill(l, FG_F16, 1, (const int64_t[]){0}, 9, 0.0f, 1.0f);
}

/* ---- rms_norm_rope ------------------------------------------------------------------------ */

static fg_error *run_rms_norm_rope(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_rms_norm_rope(out, &in[0], opt(&in[1]), (float)c->fparam[0], &in[2], &in[3]);
}

static void add_rms_norm_rope(op_case_list *l, int64_t b, int64_t h, int64_t len, int64_t d, int64_t bp, bool weight,
                              fg_dtype wdt, double eps) {
    op_case *c = op_case_new(l, run_rms_norm_rope, "rms_norm_rope b%lld h%lld l%lld d%lld bp%lld w=%s eps%g",
                             (long long)b, (long long)h, (long long)len, (long long)d, (long long)bp,
                             weight ? fg_dtype_name(wdt) : "none", eps);
    op_case_act(c, l, FG_SHAPE(b, h, len, d), -3.0, 2.0);
    if (weight) op_case_input(c, l, wdt, FG_SHAPE(d), -2.0, 2.0);
    else op_case_absent(c);
    op_case_input(c, l, FG_F32, FG_SHAPE(bp, len, d / 2), -1.0, 1.0);
    op_case_input(c, l, FG_F32, FG_SHAPE(bp, len, d / 2), -1.0, 1.0);
    c->fparam[0] = eps;
    double *want = op_case_act_output(c, l, FG_SHAPE(b, h, len, d));
    double *n = malloc((size_t)d * sizeof(double));
    if (!n) abort();
    for (int64_t r = 0; r < b * h * len; r++) {
        double ss = 0;
        for (int64_t i = 0; i < d; i++) ss += op_in(c, 0, r * d + i) * op_in(c, 0, r * d + i);
        double inv = 1.0 / sqrt(ss / (double)d + eps);
        for (int64_t i = 0; i < d; i++) n[i] = op_in(c, 0, r * d + i) * inv * (weight ? op_in(c, 1, i) : 1.0);
        int64_t cs = ((bp == 1 ? 0 : r / (h * len)) * len + r % len) * (d / 2);
        for (int64_t i = 0; i < d / 2; i++) {
            double co = op_in(c, 2, cs + i), si = op_in(c, 3, cs + i);
            want[r * d + 2 * i] = n[2 * i] * co - n[2 * i + 1] * si;
            want[r * d + 2 * i + 1] = n[2 * i] * si + n[2 * i + 1] * co;
        }
    }
    free(n);
    /* The normalised values (|n| <= ~8) carry two f32 roundings, the rotation three more on
     * terms of that size: a few u * 16 absolute. */
    c->atol = 5e-6;
    c->rtol = 1e-6;
}

static void rms_norm_rope_cases(op_case_list *l) {
    int64_t b = op_rand_int(l, 1, 3);
    add_rms_norm_rope(l, b, op_rand_int(l, 1, 4), op_rand_int(l, 1, 37), 2 * op_rand_int(l, 1, 33), b, true, FG_F16,
                      1e-6);
    add_rms_norm_rope(l, 2, 3, 5, 6, 2, true, FG_F32, 1e-6);
    add_rms_norm_rope(l, 2, 3, 7, 10, 1, true, FG_BF16, 1e-5);
    add_rms_norm_rope(l, 3, 2, 9, 128, 3, true, FG_BF16, 1e-6); /* FLUX head dim */
    add_rms_norm_rope(l, 1, 3, 11, 128, 1, true, FG_BF16, 1e-6);
    add_rms_norm_rope(l, 2, 1, 13, 18, 2, false, FG_F32, 1e-6);
    add_rms_norm_rope(l, 1, 1, 1, 2, 1, true, FG_F8_E4M3, 1e-6);
}

void ops_cases_new_ops(op_case_list *l) {
    if (l->act_dtype == FG_F32) fill_cases(l); /* fill cases name their own dtypes */
    rms_norm_rope_cases(l);
}
