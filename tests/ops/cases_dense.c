/* Cases for linear, embedding, attention, rope and softmax against naive double loops, over
 * random shapes with odd sizes, every weight dtype, masks with broadcast and -inf.
 * Tolerances: the op computes in f32, the reference in double from the same (dtype-rounded)
 * inputs, so the only gap is f32 rounding; each case states its bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ops/harness.h"
#include "tests/testing.h"

#define U32 (1.0 / 16777216.0) /* f32 unit roundoff 2^-24 */

static const fg_dtype weight_dtypes[] = {FG_F32, FG_BF16, FG_F16, FG_F8_E4M3, FG_F8_E5M2};

static const fg_tensor *opt(const fg_tensor *t) { return t->data ? t : NULL; }

/* Input i widened once (op_in per element is too slow for the big references). */
static float *widened(const op_case *c, int i) {
    int64_t n = fg_tensor_numel(&c->in[i]);
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!v) abort();
    fg_convert_to_f32(v, c->in[i].data, c->in[i].dtype, (size_t)n);
    return v;
}

static double ref_activate(double x, fg_activation act) {
    switch (act) {
    case FG_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case FG_ACT_GELU_ERF: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case FG_ACT_SILU: return x / (1.0 + exp(-x));
    case FG_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    default: return x;
    }
}

static const char *act_name(fg_activation act) {
    static const char *names[] = {"none", "gelu_tanh", "gelu_erf", "silu", "quick_gelu"};
    return names[act];
}

/* ---- linear --------------------------------------------------------------------------- */

static fg_error *run_linear(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_linear(out, &in[0], &in[1], opt(&in[2]), (float)c->fparam[0], (fg_activation)c->iparam[0]);
}

/* x [lead..., K] with 1 to 3 leading dims whose product is m. */
static void add_linear(op_case_list *l, int nlead, const int64_t *lead, int64_t k, int64_t n, fg_dtype wdt,
                       bool with_bias, float w_scale, fg_activation act) {
    op_case *c = op_case_new(l, run_linear, "linear lead%d k%lld n%lld w=%s bias=%d scale=%g act=%s", nlead,
                             (long long)k, (long long)n, fg_dtype_name(wdt), with_bias, (double)w_scale,
                             act_name(act));
    int64_t xs[FG_MAX_DIMS], m = 1;
    for (int i = 0; i < nlead; i++) {
        xs[i] = lead[i];
        m *= lead[i];
    }
    xs[nlead] = k;
    double a = k > 0 ? sqrt(3.0 / (double)k) : 1.0; /* keeps outputs O(1) so activations bend */
    op_case_act(c, l, nlead + 1, xs, -1.0, 1.0);
    op_case_input(c, l, wdt, FG_SHAPE(n, k), -a, a);
    if (with_bias) op_case_input(c, l, wdt, FG_SHAPE(n), -0.5, 0.5);
    else op_case_absent(c);
    c->fparam[0] = w_scale;
    c->iparam[0] = act;
    xs[nlead] = n;
    double *want = op_case_act_output(c, l, nlead + 1, xs);
    double worst_abs_sum = 0;
    float *x = widened(c, 0), *w = widened(c, 1);
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0, abs_sum = 0;
            for (int64_t i = 0; i < k; i++) {
                double t = (double)x[r * k + i] * w[j * k + i] * w_scale;
                s += t;
                abs_sum += fabs(t);
            }
            if (with_bias) s += op_in(c, 2, j);
            want[r * n + j] = ref_activate(s, act);
            if (abs_sum > worst_abs_sum) worst_abs_sum = abs_sum;
        }
    }
    free(x);
    free(w);
    /* f32 dot products of K terms: rounding error ~ sqrt(K) * u * sum|x_k w_k| (random-walk
     * bound; measured errors stay 5-50x below it); activations have slope <= 1.13 and add a
     * few ulp of their own (rtol). */
    c->atol = 1e-7 + sqrt((double)k + 1) * U32 * worst_abs_sum;
    c->rtol = 2e-6;
}

static void linear_cases(op_case_list *l) {
    for (int di = 0; di < 5; di++) {
        for (int b = 0; b < 2; b++) {
            int nlead = (int)op_rand_int(l, 1, 3);
            int64_t lead[3];
            for (int i = 0; i < nlead; i++) lead[i] = op_rand_int(l, 1, nlead == 1 ? 37 : 5);
            fg_dtype wdt = weight_dtypes[di];
            float scale = wdt == FG_F8_E4M3 || wdt == FG_F8_E5M2 || b ? 0.37f : 1.0f;
            add_linear(l, nlead, lead, op_rand_int(l, 1, 97), op_rand_int(l, 1, 77), wdt, b, scale, FG_ACT_NONE);
        }
    }
    for (int act = FG_ACT_GELU_TANH; act <= FG_ACT_QUICK_GELU; act++) {
        add_linear(l, 2, (const int64_t[]){2, 13}, 45, 31, FG_BF16, true, 1.0f, (fg_activation)act);
        add_linear(l, 1, (const int64_t[]){7}, 19, 5, FG_F32, false, 2.5f, (fg_activation)act);
    }
    add_linear(l, 1, (const int64_t[]){1}, 1, 1, FG_F32, true, 1.0f, FG_ACT_NONE);
    add_linear(l, 1, (const int64_t[]){1}, 1, 1, FG_F16, false, 1.0f, FG_ACT_NONE);
    add_linear(l, 1, (const int64_t[]){3}, 0, 5, FG_F32, true, 1.0f, FG_ACT_NONE); /* K = 0: out = bias */
    add_linear(l, 2, (const int64_t[]){2, 9}, 743, 129, FG_F16, true, 1.0f, FG_ACT_NONE);
    /* More than one 4M-float weight tile (2100 x 2048 bf16), with a ragged last tile. */
    add_linear(l, 1, (const int64_t[]){2}, 2048, 2100, FG_BF16, true, 0.5f, FG_ACT_NONE);
    add_linear(l, 1, (const int64_t[]){3}, 2053, 2049, FG_F8_E4M3, false, 1.5f, FG_ACT_NONE);
}

/* ---- embedding ------------------------------------------------------------------------ */

static fg_error *run_embedding(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)c;
    return fg_embedding(out, &in[0], &in[1]);
}

static void add_embedding(op_case_list *l, fg_dtype tdt, fg_dtype idt, int ndim, const int64_t *ids_shape,
                          int64_t v, int64_t d) {
    op_case *c = op_case_new(l, run_embedding, "embedding table=%s ids=%s ndim%d v%lld d%lld", fg_dtype_name(tdt),
                             fg_dtype_name(idt), ndim, (long long)v, (long long)d);
    op_case_input(c, l, idt, ndim, ids_shape, 0, (double)v);
    op_case_input(c, l, tdt, FG_SHAPE(v, d), -2.0, 2.0);
    int64_t os[FG_MAX_DIMS], count = 1;
    for (int i = 0; i < ndim; i++) {
        os[i] = ids_shape[i];
        count *= ids_shape[i];
    }
    os[ndim] = d;
    double *want = op_case_act_output(c, l, ndim + 1, os);
    for (int64_t i = 0; i < count; i++) {
        int64_t id = (int64_t)op_in(c, 0, i);
        for (int64_t j = 0; j < d; j++) want[i * d + j] = op_in(c, 1, id * d + j);
    }
    c->atol = 0; /* a row copy with exact widening */
    c->rtol = 0;
}

static void embedding_cases(op_case_list *l) {
    for (int di = 0; di < 5; di++) {
        fg_dtype idt = di % 2 ? FG_I64 : FG_I32;
        add_embedding(l, weight_dtypes[di], idt, 2, (const int64_t[]){op_rand_int(l, 1, 3), op_rand_int(l, 1, 77)},
                      op_rand_int(l, 1, 301), op_rand_int(l, 1, 67));
    }
    add_embedding(l, FG_F32, FG_I64, 1, (const int64_t[]){1}, 1, 1);
    add_embedding(l, FG_F16, FG_I32, 3, (const int64_t[]){2, 3, 5}, 11, 9);
    add_embedding(l, FG_BF16, FG_I32, 0, (const int64_t[]){1}, 7, 13); /* a scalar id */
}

/* ---- attention ------------------------------------------------------------------------ */

static fg_error *run_attention(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    return fg_attention(out, &in[0], &in[1], &in[2], opt(&in[3]), (float)c->fparam[0]);
}

typedef enum mask_kind { MASK_NONE, MASK_RANDOM, MASK_CAUSAL } mask_kind;

typedef struct attn_shape {
    int64_t b, h, lq, lk, d, dv, mb, mh; /* mb/mh: mask batch/head dims (1 or b/h) */
} attn_shape;

static void attention_reference(op_case *c, const attn_shape *s, double scale, double *want) {
    double *p = calloc((size_t)s->lk, sizeof(double));
    const float *q = widened(c, 0), *k = widened(c, 1), *v = widened(c, 2);
    const float *m = c->in[3].data;
    for (int64_t b = 0; b < s->b; b++)
        for (int64_t h = 0; h < s->h; h++)
            for (int64_t i = 0; i < s->lq; i++) {
                int64_t bh = b * s->h + h, mrow = (((s->mb == 1 ? 0 : b) * s->mh + (s->mh == 1 ? 0 : h)) * s->lq + i);
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < s->lk; j++) {
                    double dot = 0;
                    for (int64_t e = 0; e < s->d; e++)
                        dot += (double)q[(bh * s->lq + i) * s->d + e] * k[(bh * s->lk + j) * s->d + e];
                    p[j] = scale * dot + (m ? m[mrow * s->lk + j] : 0.0);
                    if (p[j] > mx) mx = p[j];
                }
                for (int64_t j = 0; j < s->lk; j++) {
                    p[j] = mx == -INFINITY ? 0.0 : exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t e = 0; e < s->dv; e++) {
                    double o = 0;
                    for (int64_t j = 0; j < s->lk; j++) o += p[j] * v[(bh * s->lk + j) * s->dv + e];
                    want[(bh * s->lq + i) * s->dv + e] = sum > 0 ? o / sum : 0.0;
                }
            }
    free(p);
    free((void *)q);
    free((void *)k);
    free((void *)v);
}

/* dead_row >= 0 masks that query row entirely (-inf everywhere): its output must be zeros. */
static void add_attention(op_case_list *l, attn_shape s, mask_kind mk, double scale, int64_t dead_row) {
    op_case *c = op_case_new(l, run_attention, "attention b%lld h%lld lq%lld lk%lld d%lld dv%lld mask=%s[%lld,%lld] dead=%lld",
                             (long long)s.b, (long long)s.h, (long long)s.lq, (long long)s.lk, (long long)s.d,
                             (long long)s.dv, mk == MASK_NONE ? "none" : mk == MASK_CAUSAL ? "causal" : "random",
                             (long long)s.mb, (long long)s.mh, (long long)dead_row);
    op_case_act(c, l, FG_SHAPE(s.b, s.h, s.lq, s.d), -1.0, 1.0);
    op_case_act(c, l, FG_SHAPE(s.b, s.h, s.lk, s.d), -1.0, 1.0);
    op_case_act(c, l, FG_SHAPE(s.b, s.h, s.lk, s.dv), -1.0, 1.0);
    if (mk == MASK_NONE) {
        op_case_absent(c);
    } else {
        int mi = op_case_input(c, l, FG_F32, FG_SHAPE(s.mb, s.mh, s.lq, s.lk), -2.0, 2.0);
        float *m = c->in[mi].data;
        for (int64_t r = 0; r < s.mb * s.mh * s.lq; r++)
            for (int64_t j = 0; j < s.lk; j++) {
                int64_t i = r % s.lq;
                if (mk == MASK_CAUSAL) m[r * s.lk + j] = j <= i + (s.lk - s.lq) ? 0.0f : -INFINITY;
                if (i == dead_row) m[r * s.lk + j] = -INFINITY;
            }
    }
    c->fparam[0] = scale;
    double *want = op_case_act_output(c, l, FG_SHAPE(s.b, s.h, s.lq, s.dv));
    attention_reference(c, &s, scale, want);
    /* Scores carry ~sqrt(D) u relative error, softmax a few u, and each output is a convex
     * combination of |v| <= 1 summed over Lk terms: measured <= 3e-7 absolute. */
    c->atol = 2e-6;
    c->rtol = 1e-5;
    /* Fused GPU attention (cuDNN, our tensor-core kernel) multiplies the softmax weights by V in
     * BF16, as every flash-attention kernel does: each weight is rounded (2^-8 relative), so an
     * output may move by 2^-8 * max|v| = 2^-8 against the CPU's f32 weights. */
    if (c->bf16_act) c->parity_atol_extra = 2.0 / 256.0;
}

static void attention_cases(op_case_list *l) {
    for (int i = 0; i < 4; i++) {
        /* i = 1, 2, 3: mask [B, 1], [1, H], [B, H] with B, H >= 2 so the broadcast matters. */
        attn_shape s = {op_rand_int(l, i ? 2 : 1, 3), op_rand_int(l, i ? 2 : 1, 3), op_rand_int(l, 1, 41), op_rand_int(l, 1, 41),
                        op_rand_int(l, 1, 33), op_rand_int(l, 1, 19), 1, 1};
        s.mb = i & 1 ? s.b : 1;
        s.mh = i & 2 ? s.h : 1;
        add_attention(l, s, i == 0 ? MASK_NONE : MASK_RANDOM, 1.0 / sqrt((double)s.d), -1);
    }
    add_attention(l, (attn_shape){2, 3, 17, 17, 8, 8, 2, 3}, MASK_RANDOM, 1.0 / sqrt(8.0), -1);
    add_attention(l, (attn_shape){3, 2, 11, 14, 5, 6, 3, 1}, MASK_RANDOM, 1.0 / sqrt(5.0), 3);
    add_attention(l, (attn_shape){2, 3, 6, 9, 4, 4, 1, 1}, MASK_RANDOM, 0.5, -1);
    add_attention(l, (attn_shape){1, 2, 23, 29, 32, 32, 1, 1}, MASK_RANDOM, 1.0, -1); /* T5: scale 1 */
    add_attention(l, (attn_shape){2, 2, 13, 13, 7, 5, 1, 1}, MASK_CAUSAL, 1.0 / sqrt(7.0), 6);
    add_attention(l, (attn_shape){2, 1, 9, 9, 4, 4, 2, 1}, MASK_RANDOM, 0.5, 0);
    add_attention(l, (attn_shape){1, 1, 1, 1, 1, 1, 1, 1}, MASK_NONE, 1.0, -1);
    add_attention(l, (attn_shape){1, 1, 1, 1, 1, 1, 1, 1}, MASK_CAUSAL, 1.0, 0);
    /* Longer than one 256-query block: crosses the block boundary with a causal mask. */
    add_attention(l, (attn_shape){1, 2, 300, 300, 16, 16, 1, 1}, MASK_CAUSAL, 0.25, 280);
    add_attention(l, (attn_shape){2, 2, 263, 517, 24, 8, 1, 1}, MASK_NONE, 1.0 / sqrt(24.0), -1);
    /* The models' head sizes, which select the GPU's fused paths: FLUX (128; odd length, with
     * and without a mask), CLIP/T5 (64, causal) and the VAE's one 512-wide head. */
    add_attention(l, (attn_shape){1, 3, 333, 333, 128, 128, 1, 1}, MASK_NONE, 1.0 / sqrt(128.0), -1);
    add_attention(l, (attn_shape){2, 2, 130, 130, 128, 128, 2, 1}, MASK_RANDOM, 1.0 / sqrt(128.0), 7);
    add_attention(l, (attn_shape){2, 2, 77, 77, 64, 64, 1, 1}, MASK_CAUSAL, 0.125, -1);
    add_attention(l, (attn_shape){1, 1, 200, 200, 512, 512, 1, 1}, MASK_NONE, 1.0 / sqrt(512.0), -1);
}

/* ---- rope ----------------------------------------------------------------------------- */

static fg_error *run_rope(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)c;
    return fg_rope(out, &in[0], &in[1], &in[2]);
}

static void add_rope(op_case_list *l, int64_t b, int64_t h, int64_t len, int64_t d, int64_t bp) {
    op_case *c = op_case_new(l, run_rope, "rope b%lld h%lld l%lld d%lld bp%lld", (long long)b, (long long)h,
                             (long long)len, (long long)d, (long long)bp);
    op_case_act(c, l, FG_SHAPE(b, h, len, d), -2.0, 2.0);
    op_case_input(c, l, FG_F32, FG_SHAPE(bp, len, d / 2), -1.0, 1.0);
    op_case_input(c, l, FG_F32, FG_SHAPE(bp, len, d / 2), -1.0, 1.0);
    double *want = op_case_act_output(c, l, FG_SHAPE(b, h, len, d));
    for (int64_t r = 0; r < b * h * len; r++) {
        int64_t cs = ((bp == 1 ? 0 : r / (h * len)) * len + r % len) * (d / 2);
        for (int64_t i = 0; i < d / 2; i++) {
            double x0 = op_in(c, 0, r * d + 2 * i), x1 = op_in(c, 0, r * d + 2 * i + 1);
            double co = op_in(c, 1, cs + i), si = op_in(c, 2, cs + i);
            want[r * d + 2 * i] = x0 * co - x1 * si;
            want[r * d + 2 * i + 1] = x0 * si + x1 * co;
        }
    }
    /* Two f32 products and a sum of values <= 2 in size: < 3 u * 4 = 7e-7. */
    c->atol = 1e-6;
    c->rtol = 1e-6;
}

static void rope_cases(op_case_list *l) {
    for (int i = 0; i < 4; i++) {
        int64_t b = op_rand_int(l, 1, 3);
        add_rope(l, b, op_rand_int(l, 1, 3), op_rand_int(l, 1, 37), 2 * op_rand_int(l, 1, 20), i & 1 ? b : 1);
    }
    add_rope(l, 3, 2, 11, 6, 3);
    add_rope(l, 1, 1, 1, 2, 1);
}

/* ---- softmax -------------------------------------------------------------------------- */

static fg_error *run_softmax(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    (void)c;
    return fg_softmax(out, &in[0]);
}

/* neg_inf: every third entry becomes -inf and the second row is all -inf. */
static void add_softmax(op_case_list *l, int ndim, const int64_t *shape, double lo, double hi, bool neg_inf) {
    op_case *c = op_case_new(l, run_softmax, "softmax ndim%d n%lld range[%g,%g] -inf=%d", ndim,
                             (long long)shape[ndim - 1], lo, hi, neg_inf);
    op_case_act(c, l, ndim, shape, lo, hi);
    int64_t n = shape[ndim - 1], rows = fg_tensor_numel(&c->in[0]) / n;
    size_t esz = fg_dtype_size(c->in[0].dtype);
    const float ninf = -INFINITY;
    if (neg_inf)
        for (int64_t i = 0; i < rows * n; i++)
            if (i % 3 == 0 || i / n == 1) fg_convert_from_f32((char *)c->in[0].data + (size_t)i * esz, c->in[0].dtype, &ninf, 1);
    float *x = widened(c, 0);
    double *want = op_case_act_output(c, l, ndim, shape);
    for (int64_t r = 0; r < rows; r++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, x[r * n + i]);
        for (int64_t i = 0; i < n; i++) sum += mx == -INFINITY ? 0.0 : exp(x[r * n + i] - mx);
        for (int64_t i = 0; i < n; i++) want[r * n + i] = sum > 0 ? exp(x[r * n + i] - mx) / sum : 0.0;
    }
    free(x);
    /* expf and one normalising multiply: a few u relative on values <= 1. */
    c->atol = 1e-7;
    c->rtol = 1e-5;
}

static void softmax_cases(op_case_list *l) {
    add_softmax(l, 2, (const int64_t[]){op_rand_int(l, 1, 9), op_rand_int(l, 1, 131)}, -5, 5, false);
    add_softmax(l, 3, (const int64_t[]){2, 3, 77}, -5, 5, true);
    add_softmax(l, 1, (const int64_t[]){1}, -5, 5, false);
    add_softmax(l, 4, (const int64_t[]){2, 1, 3, 1031}, 60, 120, false); /* exp would overflow unshifted */
}

void ops_cases_dense(op_case_list *l) {
    linear_cases(l);
    embedding_cases(l);
    attention_cases(l);
    rope_cases(l);
    softmax_cases(l);
}

/* ---- error paths ---------------------------------------------------------------------- */


/* A borrowed copy claiming to live on the GPU: the device check must stop it before any
 * backend touches the (host) pointer. */
static fg_tensor on_cuda(const fg_tensor *t) {
    fg_tensor v = *t;
    v.device = FG_DEVICE_CUDA;
    v.owns_data = false;
    return v;
}

static void expect_code(fg_error *err, fg_error_code code, const char *needle, int line, const char *expr) {
    if (!err) {
        test_fail_at(__FILE__, line, "%s succeeded; expected an error containing \"%s\"", expr, needle);
        return;
    }
    const char *msg = fg_error_message(err);
    if (fg_error_code_of(err) != code)
        test_fail_at(__FILE__, line, "%s: got %s \"%s\", expected %s", expr, fg_error_code_name(fg_error_code_of(err)),
                     msg, fg_error_code_name(code));
    else if (!strstr(msg, needle))
        test_fail_at(__FILE__, line, "%s: error \"%s\" lacks \"%s\"", expr, msg, needle);
    fg_error_free(err);
}
#define EXPECT_INVALID(expr, needle) expect_code((expr), FG_ERR_INVALID_ARGUMENT, (needle), __LINE__, #expr)
#define EXPECT_UNSUPPORTED(expr, needle) expect_code((expr), FG_ERR_UNSUPPORTED, (needle), __LINE__, #expr)

static void linear_errors(void) {
    fg_tensor *x = op_held(FG_F32, FG_SHAPE(4, 64)), *w = op_held(FG_BF16, FG_SHAPE(128, 64)), *out = op_held(FG_F32, FG_SHAPE(4, 128));
    fg_tensor *b = op_held(FG_F32, FG_SHAPE(128));
    CHECK_OK(fg_linear(out, x, w, b, 1.0f, FG_ACT_NONE));
    EXPECT_INVALID(fg_linear(out, op_held(FG_F32, FG_SHAPE(4, 63)), w, NULL, 1.0f, FG_ACT_NONE),
                   "linear: w is [128, 64] but x's last dim is 63");
    EXPECT_INVALID(fg_linear(op_held(FG_F32, FG_SHAPE(4, 127)), x, w, NULL, 1.0f, FG_ACT_NONE),
                   "linear: w is [128, 64] but out's last dim is 127");
    EXPECT_INVALID(fg_linear(op_held(FG_F32, FG_SHAPE(5, 128)), x, w, NULL, 1.0f, FG_ACT_NONE), "leading dims must match");
    EXPECT_INVALID(fg_linear(op_held(FG_F32, FG_SHAPE(1, 4, 128)), x, w, NULL, 1.0f, FG_ACT_NONE), "leading dims");
    EXPECT_INVALID(fg_linear(out, x, w, op_held(FG_F32, FG_SHAPE(127)), 1.0f, FG_ACT_NONE), "linear: bias is [127] but w is");
    EXPECT_INVALID(fg_linear(out, x, w, op_held(FG_F32, FG_SHAPE(1, 128)), 1.0f, FG_ACT_NONE), "bias is [1, 128]");
    EXPECT_INVALID(fg_linear(out, x, op_held(FG_F32, FG_SHAPE(128, 64, 1)), NULL, 1.0f, FG_ACT_NONE),
                   "linear: w is [128, 64, 1], expected 2 dims");
    EXPECT_INVALID(fg_linear(out, NULL, w, NULL, 1.0f, FG_ACT_NONE), "linear: x is NULL");
    EXPECT_INVALID(fg_linear(out, x, NULL, NULL, 1.0f, FG_ACT_NONE), "linear: w is NULL");
    EXPECT_INVALID(fg_linear(NULL, x, w, NULL, 1.0f, FG_ACT_NONE), "linear: out is NULL");
    EXPECT_INVALID(fg_linear(out, x, op_held(FG_I32, FG_SHAPE(128, 64)), NULL, 1.0f, FG_ACT_NONE),
                   "linear: w has dtype I32, expected a float dtype");
    EXPECT_INVALID(fg_linear(out, x, w, NULL, 1.0f, (fg_activation)99), "linear: unknown activation 99");
    EXPECT_INVALID(fg_linear(out, op_held(FG_F32, 0, (const int64_t[]){1}), w, NULL, 1.0f, FG_ACT_NONE), "x is a scalar");
    fg_tensor xc = on_cuda(x), bc = on_cuda(b);
    EXPECT_INVALID(fg_linear(out, &xc, w, NULL, 1.0f, FG_ACT_NONE), "linear: x is on cuda but the output is on cpu");
    EXPECT_INVALID(fg_linear(out, x, w, &bc, 1.0f, FG_ACT_NONE), "linear: bias is on cuda");
    EXPECT_INVALID(fg_linear(out, op_held(FG_BF16, FG_SHAPE(4, 64)), w, NULL, 1.0f, FG_ACT_NONE),
                   "linear: x is BF16 but out is F32 (the activations of one call share one dtype)");
    EXPECT_INVALID(fg_linear(op_held(FG_BF16, FG_SHAPE(4, 128)), x, w, NULL, 1.0f, FG_ACT_NONE), "linear: x is F32 but out is BF16");
    EXPECT_INVALID(fg_linear(op_held(FG_F16, FG_SHAPE(4, 128)), op_held(FG_F16, FG_SHAPE(4, 64)), w, NULL, 1.0f, FG_ACT_NONE),
                   "linear: out is F16; activations must be F32 or BF16");
    CHECK_OK(fg_linear(op_held(FG_BF16, FG_SHAPE(4, 128)), op_held(FG_BF16, FG_SHAPE(4, 64)), w, b, 1.0f, FG_ACT_NONE));
    fg_tensor *sq = op_held(FG_F32, FG_SHAPE(64, 64)), *sqw = op_held(FG_F32, FG_SHAPE(64, 64));
    EXPECT_INVALID(fg_linear(sq, sq, sqw, NULL, 1.0f, FG_ACT_NONE), "linear: out overlaps x in memory");
    /* Hostile headers: too many dims, a negative dim, missing storage. */
    fg_tensor bad = *x;
    bad.ndim = 9;
    EXPECT_INVALID(fg_linear(out, &bad, w, NULL, 1.0f, FG_ACT_NONE), "linear: x");
    bad = *x;
    bad.shape[0] = -4;
    EXPECT_INVALID(fg_linear(out, &bad, w, NULL, 1.0f, FG_ACT_NONE), "negative");
    bad = *x;
    bad.data = NULL;
    EXPECT_INVALID(fg_linear(out, &bad, w, NULL, 1.0f, FG_ACT_NONE), "linear: x has no data");
    bad = *w;
    bad.dtype = (fg_dtype)77;
    EXPECT_INVALID(fg_linear(out, x, &bad, NULL, 1.0f, FG_ACT_NONE), "linear: w");
    op_release_held();
}

static void embedding_errors(void) {
    fg_tensor *ids = op_held(FG_I32, FG_SHAPE(2, 3)), *table = op_held(FG_F16, FG_SHAPE(10, 4)), *out = op_held(FG_F32, FG_SHAPE(2, 3, 4));
    CHECK_OK(fg_embedding(out, ids, table));
    int32_t *id = ids->data;
    id[4] = 10;
    id[5] = 11;
    EXPECT_INVALID(fg_embedding(out, ids, table), "embedding: id 10 at position 4 is out of range [0, 10)");
    id[1] = -3;
    EXPECT_INVALID(fg_embedding(out, ids, table), "id -3 at position 1");
    fg_tensor *ids64 = op_held(FG_I64, FG_SHAPE(2, 3));
    ((int64_t *)ids64->data)[0] = (int64_t)1 << 40;
    EXPECT_INVALID(fg_embedding(out, ids64, table), "id 1099511627776 at position 0");
    EXPECT_INVALID(fg_embedding(out, op_held(FG_F32, FG_SHAPE(2, 3)), table), "embedding: ids has dtype F32, expected I32 or I64");
    EXPECT_INVALID(fg_embedding(op_held(FG_F32, FG_SHAPE(2, 3, 5)), ids64, table), "expected ids.shape + [D]");
    EXPECT_INVALID(fg_embedding(op_held(FG_F32, FG_SHAPE(3, 2, 4)), ids64, table), "out is [3, 2, 4] but ids is [2, 3]");
    EXPECT_INVALID(fg_embedding(out, ids64, op_held(FG_I32, FG_SHAPE(10, 4))), "table has dtype I32");
    EXPECT_INVALID(fg_embedding(out, ids64, op_held(FG_F32, FG_SHAPE(40))), "table is [40], expected 2 dims");
    EXPECT_INVALID(fg_embedding(out, NULL, table), "embedding: ids is NULL");
    fg_tensor tc = on_cuda(table);
    EXPECT_INVALID(fg_embedding(out, ids64, &tc), "embedding: table is on cuda");
    ((int64_t *)ids64->data)[0] = 9;
    CHECK_OK(fg_embedding(op_held(FG_BF16, FG_SHAPE(2, 3, 4)), ids64, table));
    EXPECT_INVALID(fg_embedding(op_held(FG_F16, FG_SHAPE(2, 3, 4)), ids64, table), "embedding: out is F16; activations must be F32 or BF16");
    op_release_held();
}

static void attention_errors(void) {
    fg_tensor *q = op_held(FG_F32, FG_SHAPE(2, 3, 5, 8)), *k = op_held(FG_F32, FG_SHAPE(2, 3, 7, 8)),
              *v = op_held(FG_F32, FG_SHAPE(2, 3, 7, 6)), *out = op_held(FG_F32, FG_SHAPE(2, 3, 5, 6)),
              *mask = op_held(FG_F32, FG_SHAPE(2, 1, 5, 7));
    CHECK_OK(fg_attention(out, q, k, v, mask, 0.5f));
    EXPECT_INVALID(fg_attention(out, q, op_held(FG_F32, FG_SHAPE(2, 3, 7, 9)), v, NULL, 0.5f),
                   "attention: q is [2, 3, 5, 8] but k is [2, 3, 7, 9] (B, H and D must match)");
    EXPECT_INVALID(fg_attention(out, q, k, op_held(FG_F32, FG_SHAPE(2, 3, 6, 6)), NULL, 0.5f), "B, H and Lk must match");
    EXPECT_INVALID(fg_attention(op_held(FG_F32, FG_SHAPE(2, 3, 5, 7)), q, k, v, NULL, 0.5f), "expected [B, H, Lq, Dv]");
    EXPECT_INVALID(fg_attention(out, q, k, v, op_held(FG_F32, FG_SHAPE(1, 2, 5, 7)), 0.5f), "attention: mask is [1, 2, 5, 7]");
    EXPECT_INVALID(fg_attention(out, q, k, v, op_held(FG_F32, FG_SHAPE(1, 1, 5, 6)), 0.5f), "mask is [1, 1, 5, 6]");
    EXPECT_INVALID(fg_attention(out, q, k, v, op_held(FG_BF16, FG_SHAPE(1, 1, 5, 7)), 0.5f), "mask has dtype BF16, expected F32");
    EXPECT_INVALID(fg_attention(out, q, k, v, op_held(FG_F32, FG_SHAPE(1, 5, 7)), 0.5f), "mask is [1, 5, 7], expected 4 dims");
    EXPECT_INVALID(fg_attention(out, op_held(FG_F32, FG_SHAPE(6, 5, 8)), k, v, NULL, 0.5f), "attention: q is [6, 5, 8], expected 4 dims");
    EXPECT_INVALID(fg_attention(out, q, k, NULL, NULL, 0.5f), "attention: v is NULL");
    EXPECT_INVALID(fg_attention(out, q, k, v, NULL, NAN), "scale nan is not finite");
    EXPECT_INVALID(fg_attention(out, q, k, v, NULL, INFINITY), "not finite");
    fg_tensor mc = on_cuda(mask), kc = on_cuda(k);
    EXPECT_INVALID(fg_attention(out, q, k, v, &mc, 0.5f), "attention: mask is on cuda");
    EXPECT_INVALID(fg_attention(out, q, &kc, v, NULL, 0.5f), "attention: k is on cuda");
    EXPECT_INVALID(fg_attention(out, q, k, op_held(FG_F16, FG_SHAPE(2, 3, 7, 6)), NULL, 0.5f), "attention: v is F16 but out is F32");
    EXPECT_INVALID(fg_attention(out, q, op_held(FG_BF16, FG_SHAPE(2, 3, 7, 8)), v, NULL, 0.5f), "attention: k is BF16 but out is F32");
    fg_tensor *qb = op_held(FG_BF16, FG_SHAPE(2, 3, 5, 8)), *kb = op_held(FG_BF16, FG_SHAPE(2, 3, 7, 8)),
              *vb = op_held(FG_BF16, FG_SHAPE(2, 3, 7, 6)), *ob = op_held(FG_BF16, FG_SHAPE(2, 3, 5, 6));
    CHECK_OK(fg_attention(ob, qb, kb, vb, mask, 0.5f)); /* the mask stays F32 with BF16 activations */
    EXPECT_INVALID(fg_attention(ob, q, kb, vb, NULL, 0.5f), "attention: q is F32 but out is BF16");
    fg_tensor *same = op_held(FG_F32, FG_SHAPE(1, 1, 4, 4));
    EXPECT_INVALID(fg_attention(same, same, same, same, NULL, 0.5f), "attention: out overlaps q");
    op_release_held();
}

static void rope_errors(void) {
    fg_tensor *x = op_held(FG_F32, FG_SHAPE(2, 2, 5, 6)), *out = op_held(FG_F32, FG_SHAPE(2, 2, 5, 6)),
              *cs = op_held(FG_F32, FG_SHAPE(1, 5, 3)), *sn = op_held(FG_F32, FG_SHAPE(1, 5, 3));
    CHECK_OK(fg_rope(out, x, cs, sn));
    fg_tensor *odd = op_held(FG_F32, FG_SHAPE(2, 2, 5, 7));
    EXPECT_INVALID(fg_rope(odd, odd, cs, sn), "rope: x is [2, 2, 5, 7] but D must be even");
    fg_tensor *c4 = op_held(FG_F32, FG_SHAPE(1, 4, 3));
    EXPECT_INVALID(fg_rope(out, x, c4, c4), "rope: cos/sin are [1, 4, 3] but x is [2, 2, 5, 6]");
    fg_tensor *c3 = op_held(FG_F32, FG_SHAPE(3, 5, 3));
    EXPECT_INVALID(fg_rope(out, x, c3, c3), "expected [1 or B, L, D/2]");
    EXPECT_INVALID(fg_rope(out, x, cs, op_held(FG_F32, FG_SHAPE(2, 5, 3))), "rope: cos is [1, 5, 3] but sin is [2, 5, 3]");
    EXPECT_INVALID(fg_rope(out, x, op_held(FG_BF16, FG_SHAPE(1, 5, 3)), sn), "rope: cos has dtype BF16, expected F32");
    EXPECT_INVALID(fg_rope(op_held(FG_F32, FG_SHAPE(2, 2, 6, 6)), x, cs, sn), "rope: out is [2, 2, 6, 6] but x is");
    EXPECT_INVALID(fg_rope(out, op_held(FG_F32, FG_SHAPE(4, 5, 6)), cs, sn), "expected 4 dims");
    EXPECT_INVALID(fg_rope(out, x, NULL, sn), "rope: cos is NULL");
    fg_tensor sc = on_cuda(sn);
    EXPECT_INVALID(fg_rope(out, x, cs, &sc), "rope: sin is on cuda");
    op_release_held();
}

static void softmax_errors(void) {
    fg_tensor *x = op_held(FG_F32, FG_SHAPE(3, 7)), *out = op_held(FG_F32, FG_SHAPE(3, 7));
    CHECK_OK(fg_softmax(out, x));
    EXPECT_INVALID(fg_softmax(op_held(FG_F32, FG_SHAPE(7, 3)), x), "softmax: out is [7, 3] but x is [3, 7]");
    EXPECT_INVALID(fg_softmax(out, NULL), "softmax: x is NULL");
    EXPECT_INVALID(fg_softmax(out, op_held(FG_I32, FG_SHAPE(3, 7))), "softmax: x has dtype I32");
    EXPECT_INVALID(fg_softmax(out, op_held(FG_F32, 0, (const int64_t[]){1})), "softmax: x is a scalar");
    fg_tensor xc = on_cuda(x);
    EXPECT_INVALID(fg_softmax(out, &xc), "softmax: x is on cuda");
    op_release_held();
}

static void layer_norm_errors(void) {
    fg_tensor *x = op_held(FG_F32, FG_SHAPE(2, 3, 8)), *out = op_held(FG_F32, FG_SHAPE(2, 3, 8)), *w = op_held(FG_BF16, FG_SHAPE(8)),
              *sh = op_held(FG_F32, FG_SHAPE(2, 8)), *sc = op_held(FG_F32, FG_SHAPE(2, 1, 8));
    CHECK_OK(fg_layer_norm(out, x, w, w, 1e-6f, sh, sc));
    EXPECT_INVALID(fg_layer_norm(out, x, op_held(FG_F32, FG_SHAPE(7)), NULL, 1e-6f, NULL, NULL),
                   "layer_norm: weight is [7] but x's last dim is 8");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, op_held(FG_F32, FG_SHAPE(1, 8)), 1e-6f, NULL, NULL), "bias is [1, 8]");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, 1e-6f, sh, NULL), "shift and scale must be given together");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, 1e-6f, sh, op_held(FG_F32, FG_SHAPE(2, 2, 8))),
                   "layer_norm: scale is [2, 2, 8] but x is [2, 3, 8]");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, 1e-6f, op_held(FG_F32, FG_SHAPE(1, 8)), sc), "shift is [1, 8]");
    fg_tensor *x2 = op_held(FG_F32, FG_SHAPE(6, 8));
    EXPECT_INVALID(fg_layer_norm(x2, x2, NULL, NULL, 1e-6f, sh, sc), "modulation needs x as [B, L, D] but x is [6, 8]");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, -1.0f, NULL, NULL), "layer_norm: eps -1");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, NAN, NULL, NULL), "eps nan");
    EXPECT_INVALID(fg_layer_norm(x2, x, NULL, NULL, 1e-6f, NULL, NULL), "layer_norm: out is [6, 8] but x is [2, 3, 8]");
    EXPECT_INVALID(fg_layer_norm(out, x, op_held(FG_I64, FG_SHAPE(8)), NULL, 1e-6f, NULL, NULL), "weight has dtype I64");
    fg_tensor wc = on_cuda(w);
    EXPECT_INVALID(fg_layer_norm(out, x, &wc, NULL, 1e-6f, NULL, NULL), "layer_norm: weight is on cuda");
    EXPECT_INVALID(fg_layer_norm(out, x, NULL, NULL, 1e-6f, op_held(FG_BF16, FG_SHAPE(2, 8)), sc),
                   "layer_norm: shift is BF16 but out is F32 (the activations of one call share one dtype)");
    fg_tensor *xb = op_held(FG_BF16, FG_SHAPE(2, 3, 8)), *ob = op_held(FG_BF16, FG_SHAPE(2, 3, 8));
    EXPECT_INVALID(fg_layer_norm(ob, x, NULL, NULL, 1e-6f, NULL, NULL), "layer_norm: x is F32 but out is BF16");
    EXPECT_INVALID(fg_layer_norm(ob, xb, NULL, NULL, 1e-6f, sh, sc), "layer_norm: shift is F32 but out is BF16");
    CHECK_OK(fg_layer_norm(ob, xb, w, NULL, 1e-6f, op_held(FG_BF16, FG_SHAPE(2, 8)), op_held(FG_BF16, FG_SHAPE(2, 1, 8))));
    op_release_held();
}

static void rms_group_norm_errors(void) {
    fg_tensor *x = op_held(FG_F32, FG_SHAPE(2, 6, 4)), *out = op_held(FG_F32, FG_SHAPE(2, 6, 4)), *w6 = op_held(FG_F16, FG_SHAPE(6));
    CHECK_OK(fg_rms_norm(out, x, op_held(FG_F32, FG_SHAPE(4)), 1e-6f));
    EXPECT_INVALID(fg_rms_norm(out, x, op_held(FG_F32, FG_SHAPE(9)), 1e-6f), "rms_norm: weight is [9] but x's last dim is 4");
    EXPECT_INVALID(fg_rms_norm(NULL, x, NULL, 1e-6f), "rms_norm: out is NULL");
    fg_tensor xc = on_cuda(x);
    EXPECT_INVALID(fg_rms_norm(out, &xc, NULL, 1e-6f), "rms_norm: x is on cuda");
    CHECK_OK(fg_group_norm(out, x, 3, w6, w6, 1e-6f, true));
    EXPECT_INVALID(fg_group_norm(out, x, 4, NULL, NULL, 1e-6f, false),
                   "group_norm: x is [2, 6, 4] but 4 groups do not divide its 6 channels");
    EXPECT_INVALID(fg_group_norm(out, x, 0, NULL, NULL, 1e-6f, false), "0 groups");
    fg_tensor *x1 = op_held(FG_F32, FG_SHAPE(6));
    EXPECT_INVALID(fg_group_norm(x1, x1, 1, NULL, NULL, 1e-6f, false), "expected [B, C, *spatial]");
    EXPECT_INVALID(fg_group_norm(out, x, 3, op_held(FG_F32, FG_SHAPE(5)), NULL, 1e-6f, false),
                   "group_norm: weight is [5] but the channel count is 6");
    fg_tensor bc = on_cuda(w6);
    EXPECT_INVALID(fg_group_norm(out, x, 3, w6, &bc, 1e-6f, false), "group_norm: bias is on cuda");
    EXPECT_INVALID(fg_group_norm(op_held(FG_F32, FG_SHAPE(2, 6, 5)), x, 3, NULL, NULL, 1e-6f, false), "out is [2, 6, 5]");
    op_release_held();
}

void ops_checks_dense(void) {
    RUN_TEST(linear_errors);
    RUN_TEST(embedding_errors);
    RUN_TEST(attention_errors);
    RUN_TEST(rope_errors);
    RUN_TEST(softmax_errors);
    RUN_TEST(layer_norm_errors);
    RUN_TEST(rms_group_norm_errors);
}
