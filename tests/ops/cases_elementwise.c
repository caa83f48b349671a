/* Cases for the elementwise ops (unary, add, mul, add_gated, axpby, scale_shift, cast) against
 * naive double references, and their error paths. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/ops/harness.h"
#include "tests/testing.h"

/* ---- reference helpers ------------------------------------------------------------------ */

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Flat index into t of the element that broadcasts to out's flat index `flat`. */
static int64_t bcast_index(const fg_tensor *t, int out_ndim, const int64_t *out_shape, int64_t flat) {
    int64_t idx = 0, stride = 1;
    for (int d = out_ndim - 1, td = t->ndim - 1; d >= 0; d--, td--) {
        int64_t coord = flat % out_shape[d];
        flat /= out_shape[d];
        if (td < 0) continue;
        if (t->shape[td] != 1) idx += coord * stride;
        stride *= t->shape[td];
    }
    return idx;
}

/* The textbook formulas, except that for x < 0 the factor 1 + tanh(u) (resp. 1 + erf(z)) is
 * written as 2e^{2u}/(1 + e^{2u}) (resp. erfc(-z)), which are the same numbers without the
 * cancellation that would make even double lose all digits in the negative tail. */
static double ref_activate(double x, fg_activation act) {
    double u = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x), z = x / sqrt(2.0);
    switch (act) {
    case FG_ACT_GELU_TANH: return x >= 0 ? 0.5 * x * (1.0 + tanh(u)) : x * exp(2 * u) / (1.0 + exp(2 * u));
    case FG_ACT_GELU_ERF: return x >= 0 ? 0.5 * x * (1.0 + erf(z)) : 0.5 * x * erfc(-z);
    case FG_ACT_SILU: return x / (1.0 + exp(-x));
    case FG_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    default: return x;
    }
}

/* Round v to a binary format with p significand bits (implicit bit included), minimum normal
 * exponent emin and largest finite value maxv; beyond it: inf, or maxv when saturating. */
static double ref_round(double v, int p, int emin, double maxv, int saturate) {
    if (v == 0 || isnan(v) || isinf(v)) return isinf(v) && saturate ? copysign(maxv, v) : v;
    double a = fabs(v);
    int e;
    frexp(a, &e);
    e -= 1;
    if (e < emin) e = emin;
    double q = ldexp(1.0, e - (p - 1));
    double r = nearbyint(a / q) * q;
    if (r > maxv) r = saturate ? maxv : INFINITY;
    return copysign(r, v);
}

static double ref_to_dtype(double v, fg_dtype dt) {
    switch (dt) {
    case FG_F32: return (float)v;
    case FG_BF16: return ref_round(v, 8, -126, ldexp(255.0, 120), 0);
    case FG_F16: return ref_round(v, 11, -14, 65504.0, 0);
    case FG_F8_E4M3: return ref_round(v, 4, -6, 448.0, 1);
    case FG_F8_E5M2: return ref_round(v, 3, -14, 57344.0, 1);
    case FG_I64: return trunc(v);
    case FG_I32: return trunc(v);
    case FG_U8: return (double)(((int64_t)trunc(v) % 256 + 256) % 256);
    case FG_BOOL: return v != 0;
    default: return NAN;
    }
}

double op_ref_to_dtype(double v, fg_dtype dt) { return ref_to_dtype(v, dt); }

static void rand_shape(op_case_list *l, int ndim, int64_t lo, int64_t hi, int64_t *shape) {
    for (int i = 0; i < ndim; i++) shape[i] = op_rand_int(l, lo, hi);
}

/* ---- unary, axpby, scale_shift ---------------------------------------------------------- */

static fg_error *run_unary(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_unary(out, &in[0], (fg_activation)c->iparam[0]);
}

static void cases_unary(op_case_list *l) {
    static const char *names[] = {"none", "gelu_tanh", "gelu_erf", "silu", "quick_gelu"};
    for (int act = 0; act <= FG_ACT_QUICK_GELU; act++) {
        for (int rep = 0; rep < 3; rep++) {
            int64_t shape[4];
            int nd = 1 + rep;
            rand_shape(l, nd, 1, 37, shape);
            if (rep == 2) shape[0] = 2;
            char sb[64];
            op_case *c = op_case_new(l, run_unary, "unary %s %s", names[act], fg_shape_str(nd, shape, sb, sizeof sb));
            c->iparam[0] = act;
            /* wide range: the negative tail is where a naive float formula cancels */
            op_case_act(c, l, nd, shape, -12.0, 9.0);
            double *e = op_case_act_output(c, l, nd, shape);
            for (int64_t i = 0; i < numel_of(nd, shape); i++) e[i] = ref_activate(op_in(c, 0, i), (fg_activation)act);
            c->atol = 1e-30;
            c->rtol = 1e-6;
        }
    }
}

static fg_error *run_axpby(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_axpby(out, (float)c->fparam[0], &in[0], (float)c->fparam[1], in[1].data ? &in[1] : NULL);
}

static fg_error *run_scale_shift(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_scale_shift(out, &in[0], (float)c->fparam[0], (float)c->fparam[1]);
}

static void cases_axpby_scale(op_case_list *l) {
    for (int rep = 0; rep < 4; rep++) {
        int64_t shape[4] = {op_rand_int(l, 1, 3), 16, op_rand_int(l, 1, 33), op_rand_int(l, 1, 33)};
        bool with_y = rep != 1;
        char sb[64];
        op_case *c = op_case_new(l, run_axpby, "axpby %s%s", fg_shape_str(4, shape, sb, sizeof sb),
                                 with_y ? "" : " y=NULL");
        float alpha = (float)op_rand_uniform(l, -2, 2), beta = (float)op_rand_uniform(l, -2, 2);
        c->fparam[0] = alpha;
        c->fparam[1] = beta;
        op_case_act(c, l, 4, shape, -3, 3);
        if (with_y) op_case_act(c, l, 4, shape, -3, 3);
        else op_case_absent(c);
        double *e = op_case_act_output(c, l, 4, shape);
        for (int64_t i = 0; i < numel_of(4, shape); i++)
            e[i] = (double)alpha * op_in(c, 0, i) + (with_y ? (double)beta * op_in(c, 1, i) : 0.0);

        c = op_case_new(l, run_scale_shift, "scale_shift %s", sb);
        c->fparam[0] = (float)op_rand_uniform(l, -2, 2);
        c->fparam[1] = (float)op_rand_uniform(l, -1, 1);
        op_case_act(c, l, 4, shape, -3, 3);
        e = op_case_act_output(c, l, 4, shape);
        for (int64_t i = 0; i < numel_of(4, shape); i++) e[i] = op_in(c, 0, i) * c->fparam[0] + c->fparam[1];
    }
}

/* ---- broadcasting add / mul / add_gated --------------------------------------------------- */

static fg_error *run_add(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return c->iparam[0] ? fg_mul(out, &in[0], &in[1]) : fg_add(out, &in[0], &in[1]);
}

static void add_binary_case(op_case_list *l, const char *kind, bool mul, int nd, const int64_t *out_shape, int nda,
                            const int64_t *a_shape, int ndb, const int64_t *b_shape) {
    char so[64], sa[64], sb[64];
    op_case *c = op_case_new(l, run_add, "%s %s: a %s b %s -> %s", mul ? "mul" : "add", kind,
                             fg_shape_str(nda, a_shape, sa, sizeof sa), fg_shape_str(ndb, b_shape, sb, sizeof sb),
                             fg_shape_str(nd, out_shape, so, sizeof so));
    c->iparam[0] = mul;
    op_case_act(c, l, nda, a_shape, -2, 2);
    op_case_act(c, l, ndb, b_shape, -2, 2);
    double *e = op_case_act_output(c, l, nd, out_shape);
    for (int64_t i = 0; i < numel_of(nd, out_shape); i++) {
        double a = op_in(c, 0, bcast_index(&c->in[0], nd, out_shape, i));
        double b = op_in(c, 1, bcast_index(&c->in[1], nd, out_shape, i));
        e[i] = mul ? a * b : a + b;
    }
}

static void cases_binary(op_case_list *l) {
    for (int mul = 0; mul < 2; mul++) {
        int64_t B = op_rand_int(l, 2, 3), L = op_rand_int(l, 1, 41), D = op_rand_int(l, 1, 67);
        int64_t C = op_rand_int(l, 1, 7), H = op_rand_int(l, 1, 13), W = op_rand_int(l, 1, 13);
        int64_t s3[3] = {B, L, D};
        add_binary_case(l, "same", mul, 3, s3, 3, s3, 3, s3);
        add_binary_case(l, "row vector", mul, 3, s3, 3, s3, 1, (int64_t[]){D});
        add_binary_case(l, "row vector on a", mul, 3, s3, 1, (int64_t[]){D}, 3, s3);
        add_binary_case(l, "gate", mul, 3, s3, 3, s3, 3, (int64_t[]){B, 1, D});
        add_binary_case(l, "column", mul, 3, s3, 3, s3, 3, (int64_t[]){B, L, 1});
        add_binary_case(l, "scalar [1]", mul, 3, s3, 3, s3, 1, (int64_t[]){1});
        add_binary_case(l, "scalar 0-d", mul, 3, s3, 3, s3, 0, (int64_t[]){1});
        int64_t s4[4] = {B, C, H, W};
        add_binary_case(l, "channel", mul, 4, s4, 4, s4, 4, (int64_t[]){1, C, 1, 1});
        add_binary_case(l, "leading dims", mul, 4, s4, 3, (int64_t[]){C, H, W}, 4, s4);
        add_binary_case(l, "both broadcast", mul, 3, (int64_t[]){B, H, W}, 3, (int64_t[]){B, 1, W}, 3,
                        (int64_t[]){1, H, 1});
        add_binary_case(l, "expand both", mul, 2, (int64_t[]){H, W}, 2, (int64_t[]){1, W}, 1, (int64_t[]){W});
        /* random 5-d pattern of ones */
        int64_t s5[5], a5[5], b5[5];
        rand_shape(l, 5, 1, 5, s5);
        for (int d = 0; d < 5; d++) {
            a5[d] = op_rand_int(l, 0, 1) ? s5[d] : 1;
            b5[d] = op_rand_int(l, 0, 1) ? s5[d] : 1;
        }
        add_binary_case(l, "5-d random", mul, 5, s5, 5, a5, 5, b5);
        int64_t big[3] = {2, 301, 129}; /* enough rows for the thread pool to split */
        add_binary_case(l, "large gate", mul, 3, big, 3, big, 3, (int64_t[]){2, 1, 129});
    }
}

static fg_error *run_add_gated(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_add_gated(out, &in[0], &in[1], &in[2]);
}

static void cases_add_gated(op_case_list *l) {
    for (int kind = 0; kind < 5; kind++) {
        int64_t B = op_rand_int(l, 1, 3), L = op_rand_int(l, 1, 45), D = op_rand_int(l, 1, 70);
        if (kind == 4) {
            B = 2;
            L = 257;
            D = 96;
        }
        int64_t s[3] = {B, L, D};
        int64_t g[5][3] = {{B, 1, D}, {B, L, D}, {1, 1, D}, {B, L, 1}, {B, 1, D}};
        static const char *names[] = {"[B,1,D]", "same", "[1,1,D]", "[B,L,1]", "[B,1,D] large"};
        char sb[64];
        op_case *c = op_case_new(l, run_add_gated, "add_gated gate %s x %s", names[kind], fg_shape_str(3, s, sb, sizeof sb));
        op_case_act(c, l, 3, s, -2, 2);
        op_case_act(c, l, 3, g[kind], -2, 2);
        op_case_act(c, l, 3, s, -2, 2);
        double *e = op_case_act_output(c, l, 3, s);
        for (int64_t i = 0; i < numel_of(3, s); i++)
            e[i] = op_in(c, 0, i) + op_in(c, 1, bcast_index(&c->in[1], 3, s, i)) * op_in(c, 2, i);
    }
}

/* ---- cast ------------------------------------------------------------------------------------ */

static fg_error *run_cast(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)c;
    return fg_cast(out, &in[0]);
}

static void cast_case(op_case_list *l, fg_dtype from, fg_dtype to, double lo, double hi) {
    int64_t shape[3] = {op_rand_int(l, 1, 3), op_rand_int(l, 1, 17), op_rand_int(l, 1, 33)};
    char sb[64];
    op_case *c = op_case_new(l, run_cast, "cast %s -> %s %s [%g, %g)", fg_dtype_name(from), fg_dtype_name(to),
                             fg_shape_str(3, shape, sb, sizeof sb), lo, hi);
    op_case_input(c, l, from, 3, shape, lo, hi);
    double *e = op_case_output(c, to, 3, shape);
    for (int64_t i = 0; i < numel_of(3, shape); i++) e[i] = ref_to_dtype(op_in(c, 0, i), to);
    c->atol = 0;
    c->rtol = 0;
}

static void cases_cast(op_case_list *l) {
    static const fg_dtype floats[] = {FG_F32, FG_BF16, FG_F16, FG_F8_E4M3, FG_F8_E5M2};
    /* each float pair, with ranges that reach the narrow formats' subnormals and saturation */
    for (int a = 0; a < 5; a++) {
        for (int b = 0; b < 5; b++) {
            if (a == b) continue;
            double range = floats[b] == FG_F8_E4M3 || floats[a] == FG_F8_E4M3 ? 600.0 : 4.0;
            if (floats[a] == FG_F8_E5M2 || floats[b] == FG_F8_E5M2) range = 60000.0;
            cast_case(l, floats[a], floats[b], -range, range);
        }
    }
    cast_case(l, FG_F32, FG_BF16, -1e-3, 1e-3);
    cast_case(l, FG_F32, FG_F16, -1e-4, 1e-4);     /* f16 subnormals */
    cast_case(l, FG_F32, FG_F8_E4M3, -0.05, 0.05); /* e4m3 subnormals */
    cast_case(l, FG_F32, FG_F8_E5M2, -1e-4, 1e-4);
    cast_case(l, FG_F32, FG_F16, -60000, 60000);
    /* integers */
    cast_case(l, FG_F32, FG_I32, -1000, 1000);
    cast_case(l, FG_F32, FG_I64, -1000, 1000);
    cast_case(l, FG_BF16, FG_I32, -100, 100);
    cast_case(l, FG_I32, FG_F32, -100000, 100000);
    cast_case(l, FG_I64, FG_BF16, -100000, 100000);
    cast_case(l, FG_I64, FG_I32, -1000000, 1000000);
    cast_case(l, FG_I32, FG_I64, -1000000, 1000000);
    cast_case(l, FG_I64, FG_U8, -300, 300);
    cast_case(l, FG_U8, FG_F32, 0, 256);
    cast_case(l, FG_I32, FG_BOOL, -2, 3);
    cast_case(l, FG_F32, FG_F32, -5, 5);
}

void ops_cases_elementwise(op_case_list *l) {
    cases_unary(l);
    cases_axpby_scale(l);
    cases_binary(l);
    cases_add_gated(l);
    if (l->act_dtype == FG_F32) cases_cast(l); /* casts name their dtypes; one pass is enough */
}

/* ---- error paths and guarantees the harness cannot express -------------------------------- */

static float buf_a[4096], buf_b[4096], buf_c[4096];

static void check_broadcast_errors(void) {
    fg_tensor out = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_a);
    fg_tensor a = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_b);
    fg_tensor b = op_view(FG_F32, FG_SHAPE(3, 5), buf_c);
    CHECK_ERR(fg_add(&out, &a, &b), "add: b is [3, 5] which does not broadcast to [2, 3, 4]");
    CHECK_ERR(fg_mul(&out, &b, &a), "mul: a is [3, 5]");
    fg_tensor big = op_view(FG_F32, FG_SHAPE(2, 2, 3, 4), buf_c);
    CHECK_ERR(fg_add(&out, &a, &big), "does not broadcast");
    fg_tensor ok = op_view(FG_F32, FG_SHAPE(1, 1, 3, 4), buf_c); /* extra leading ones are fine */
    CHECK_OK(fg_add(&out, &a, &ok));
    fg_tensor bf = op_view(FG_BF16, FG_SHAPE(2, 3, 4), buf_c);
    CHECK_ERR(fg_add(&out, &a, &bf), "add: b is BF16 but out is F32");
    fg_tensor outbf = op_view(FG_BF16, FG_SHAPE(2, 3, 4), buf_a), abf = op_view(FG_BF16, FG_SHAPE(2, 3, 4), buf_b);
    CHECK_OK(fg_add(&outbf, &abf, &bf)); /* BF16 activations run on every backend */
    CHECK_ERR(fg_add(&outbf, &a, &bf), "add: a is F32 but out is BF16 (the activations of one call share one dtype)");
    fg_tensor outi = op_view(FG_I32, FG_SHAPE(2, 3, 4), buf_a), ai = op_view(FG_I32, FG_SHAPE(2, 3, 4), buf_b);
    CHECK_ERR(fg_add(&outi, &ai, &ai), "add: out is I32; activations must be F32 or BF16");
    fg_tensor outh = op_view(FG_F16, FG_SHAPE(2, 3, 4), buf_a), ah = op_view(FG_F16, FG_SHAPE(2, 3, 4), buf_b);
    CHECK_ERR(fg_add(&outh, &ah, &ah), "add: out is F16; activations must be F32 or BF16");
}

static void check_shape_errors(void) {
    fg_tensor out = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_a);
    fg_tensor x = op_view(FG_F32, FG_SHAPE(2, 3, 4), buf_b);
    fg_tensor y = op_view(FG_F32, FG_SHAPE(2, 4, 3), buf_c);
    fg_tensor gate = op_view(FG_F32, FG_SHAPE(2, 1, 4), buf_c);
    CHECK_ERR(fg_add_gated(&out, &x, &gate, &y), "add_gated: y is [2, 4, 3] but out is [2, 3, 4]");
    fg_tensor bad_gate = op_view(FG_F32, FG_SHAPE(2, 2, 4), buf_c);
    CHECK_ERR(fg_add_gated(&out, &x, &bad_gate, &x), "add_gated: gate is [2, 2, 4] which does not broadcast");
    CHECK_ERR(fg_axpby(&out, 1, &x, 1, &y), "axpby: y is [2, 4, 3]");
    CHECK_ERR(fg_unary(&out, &y, FG_ACT_SILU), "unary: x is [2, 4, 3]");
    CHECK_ERR(fg_unary(&out, &x, (fg_activation)99), "unknown activation");
    CHECK_ERR(fg_scale_shift(&out, &y, 1, 0), "scale_shift: x is");
    CHECK_ERR(fg_cast(&out, &y), "cast: x is [2, 4, 3]");
}

static void check_null_and_device(void) {
    fg_tensor out = op_view(FG_F32, FG_SHAPE(2, 3), buf_a);
    fg_tensor x = op_view(FG_F32, FG_SHAPE(2, 3), buf_b);
    CHECK_ERR(fg_add(&out, NULL, &x), "add: a is NULL");
    CHECK_ERR(fg_add(NULL, &x, &x), "add: out is NULL");
    CHECK_ERR(fg_add_gated(&out, &x, NULL, &x), "add_gated: gate is NULL");
    CHECK_ERR(fg_axpby(&out, 1, NULL, 1, NULL), "axpby: x is NULL");
    CHECK_ERR(fg_unary(&out, NULL, FG_ACT_NONE), "unary: x is NULL");
    CHECK_ERR(fg_scale_shift(NULL, &x, 1, 0), "scale_shift: out is NULL");
    CHECK_ERR(fg_cast(&out, NULL), "cast: x is NULL");
    fg_tensor nodata = x;
    nodata.data = NULL;
    CHECK_ERR(fg_mul(&out, &x, &nodata), "mul: b has no data");
    fg_tensor bad = x;
    bad.ndim = 9;
    CHECK_ERR(fg_mul(&out, &bad, &x), "mul: a");
    bad = x;
    bad.shape[0] = -2;
    CHECK_ERR(fg_add(&out, &x, &bad), "negative");
    fg_tensor cuda = x;
    cuda.device = FG_DEVICE_CUDA;
    CHECK_ERR(fg_add(&out, &x, &cuda), "add: b is on cuda but the output is on cpu");
    CHECK_ERR(fg_add_gated(&out, &x, &cuda, &x), "add_gated: gate is on cuda");
    CHECK_ERR(fg_axpby(&out, 1, &x, 2, &cuda), "axpby: y is on cuda");
    CHECK_ERR(fg_cast(&out, &cuda), "cast: x is on cuda");
    CHECK_ERR(fg_unary(&out, &cuda, FG_ACT_GELU_TANH), "on cuda");
    CHECK_ERR(fg_scale_shift(&out, &cuda, 1, 1), "on cuda");
}

/* out aliasing an input of its shape is allowed (the sampler and residuals update in place). */
static void check_aliasing(void) {
    float x[6] = {1, 2, 3, 4, 5, 6}, g[3] = {1, 10, 100}, y[6] = {1, 1, 1, 2, 2, 2};
    fg_tensor tx = op_view(FG_F32, FG_SHAPE(2, 3), x), tg = op_view(FG_F32, FG_SHAPE(3), g), ty = op_view(FG_F32, FG_SHAPE(2, 3), y);
    CHECK_OK(fg_add_gated(&tx, &tx, &tg, &ty));
    const float want[6] = {2, 12, 103, 6, 25, 206};
    for (int i = 0; i < 6; i++) CHECK(x[i] == want[i], "x[%d] = %g", i, x[i]);
    CHECK_OK(fg_axpby(&ty, 2, &ty, 1, &tx)); /* y = 2y + x */
    CHECK(y[0] == 4 && y[5] == 210, "%g %g", y[0], y[5]);
    CHECK_OK(fg_mul(&tx, &tx, &tg));
    CHECK(x[2] == 10300 && x[3] == 6, "%g %g", x[2], x[3]);
    CHECK_OK(fg_unary(&tx, &tx, FG_ACT_NONE));
    CHECK_OK(fg_scale_shift(&tx, &tx, 0.5f, 1));
    CHECK(x[0] == 2, "%g", x[0]);
}

/* Integers convert exactly, beyond f32's 24-bit mantissa, and narrowing wraps like torch. */
static void check_cast_integers(void) {
    int64_t big[4] = {((int64_t)1 << 53) + 1, -((int64_t)1 << 40) - 3, 4294967297LL, -1};
    int64_t back[4];
    int32_t small[4];
    uint8_t u8[4];
    fg_tensor t64 = op_view(FG_I64, FG_SHAPE(4), big), t64b = op_view(FG_I64, FG_SHAPE(4), back);
    fg_tensor t32 = op_view(FG_I32, FG_SHAPE(4), small), tu8 = op_view(FG_U8, FG_SHAPE(4), u8);
    CHECK_OK(fg_cast(&t64b, &t64));
    for (int i = 0; i < 4; i++) CHECK(back[i] == big[i], "i64 copy %d", i);
    CHECK_OK(fg_cast(&t32, &t64));
    CHECK(small[2] == 1 && small[3] == -1 && small[0] == 1, "wrap %d %d %d", small[0], small[2], small[3]);
    int32_t i32[2] = {2147483647, -2147483647 - 1};
    fg_tensor t32b = op_view(FG_I32, FG_SHAPE(2), i32), t64c = op_view(FG_I64, FG_SHAPE(2), back);
    CHECK_OK(fg_cast(&t64c, &t32b));
    CHECK(back[0] == 2147483647 && back[1] == -2147483648LL, "%lld %lld", (long long)back[0], (long long)back[1]);
    CHECK_OK(fg_cast(&tu8, &t64));
    CHECK(u8[2] == 1 && u8[3] == 255, "%d %d", u8[2], u8[3]);
    /* float -> int truncates toward zero */
    float f[4] = {2.9f, -2.9f, 0.5f, -0.5f};
    int32_t fi[4];
    fg_tensor tf = op_view(FG_F32, FG_SHAPE(4), f), tfi = op_view(FG_I32, FG_SHAPE(4), fi);
    CHECK_OK(fg_cast(&tfi, &tf));
    CHECK(fi[0] == 2 && fi[1] == -2 && fi[2] == 0 && fi[3] == 0, "%d %d %d %d", fi[0], fi[1], fi[2], fi[3]);
}

/* fg_cpu_activate's contract with the linear op: within 1e-6 of double on a dense grid. */
static void check_activation_grid(void) {
    fg_tensor x = op_view(FG_F32, FG_SHAPE(4001), buf_a), out = op_view(FG_F32, FG_SHAPE(4001), buf_b);
    for (int i = 0; i < 4001; i++) buf_a[i] = (float)(-20.0 + i * 0.01);
    for (int act = 1; act <= FG_ACT_QUICK_GELU; act++) {
        CHECK_OK(fg_unary(&out, &x, (fg_activation)act));
        int bad = 0;
        for (int i = 0; i < 4001; i++) {
            double want = ref_activate(buf_a[i], (fg_activation)act);
            if (!(fabs(buf_b[i] - want) <= 1e-6 * fabs(want) + 1e-37)) bad++;
        }
        CHECK(bad == 0, "activation %d: %d values off", act, bad);
    }
}

void ops_checks_elementwise(void) {
    RUN_TEST(check_broadcast_errors);
    RUN_TEST(check_shape_errors);
    RUN_TEST(check_null_and_device);
    RUN_TEST(check_aliasing);
    RUN_TEST(check_cast_integers);
    RUN_TEST(check_activation_grid);
}
