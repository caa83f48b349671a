/* Each adapter rule against a straightforward double-precision evaluation written here from
 * the README's "Scaling rule": LoHa, LoKr's scale rule, DoRA on both axes, LoCon's lora_mid,
 * slices along dims 0 and 1, swap_scale_shift, set and the order of stacked patches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/lora_patch.h"
#include "tests/lora_patch/lp_tests.h"
#include "tests/lora_patch/lp_util.h"
#include "tests/testing.h"

static void free_tensors(fg_tensor **ts, size_t n) {
    for (size_t i = 0; i < n; i++) fg_tensor_free_host(ts[i]);
}

/* Applies p to a copy of w0 and checks it against ref within LP_TOL. */
static void expect_close(const fg_tensor *w0, const fg_lora_patch *p, size_t n, const double *ref, const char *what) {
    fg_tensor w = lp_clone(w0);
    if (CHECK_OK(fg_lora_apply_patches(&w, p, n, what))) {
        double d = lp_max_diff(&w, ref);
        printf("  %-34s max abs vs double %.3g\n", what, d);
        CHECK(d <= LP_TOL, "%s: max abs %.3g", what, d);
    }
    fg_tensor_free_host(&w);
}

/* ref = w0 + coef * delta */
static double *plus(const fg_tensor *w0, const double *delta, double coef) {
    double *r = lp_doubles(w0);
    for (int64_t i = 0; i < fg_tensor_numel(w0); i++) r[i] += coef * delta[i];
    return r;
}

static double *product(const fg_tensor *a, const fg_tensor *b) {
    double *x = lp_doubles(a), *y = lp_doubles(b);
    double *c = lp_matmul(x, y, a->shape[0], a->shape[1], b->shape[1]);
    free(x);
    free(y);
    return c;
}

static void loha_matches_reference(void) {
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(20, 12));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LOHA, .strength = 0.8, .has_alpha = true, .alpha = 3.0};
    p.hada_w1_a = lp_random(FG_F16, 1.0f, FG_SHAPE(20, 4));
    p.hada_w1_b = lp_random(FG_F16, 1.0f, FG_SHAPE(4, 12));
    p.hada_w2_a = lp_random(FG_F16, 1.0f, FG_SHAPE(20, 5));
    p.hada_w2_b = lp_random(FG_F16, 1.0f, FG_SHAPE(5, 12));
    double *m1 = product(&p.hada_w1_a, &p.hada_w1_b), *m2 = product(&p.hada_w2_a, &p.hada_w2_b);
    for (int64_t i = 0; i < 240; i++) m1[i] *= m2[i];
    double *ref = plus(&w0, m1, 0.8 * 3.0 / 4.0); /* alpha / hada_w1_b.shape[0] */
    expect_close(&w0, &p, 1, ref, "loha alpha/w1_b rank");
    free(ref);
    p.has_alpha = false;
    ref = plus(&w0, m1, 0.8);
    expect_close(&w0, &p, 1, ref, "loha without alpha");
    free(ref);
    free(m1);
    free(m2);
    fg_tensor *ts[] = {&w0, &p.hada_w1_a, &p.hada_w1_b, &p.hada_w2_a, &p.hada_w2_b};
    free_tensors(ts, 5);
}

/* kron of two [r, c] double matrices */
static double *kron_ref(const double *a, int64_t ar, int64_t ac, const double *b, int64_t br, int64_t bc) {
    double *k = malloc((size_t)(ar * br * ac * bc) * sizeof(double));
    for (int64_t i = 0; i < ar; i++)
        for (int64_t j = 0; j < ac; j++)
            for (int64_t p = 0; p < br; p++)
                for (int64_t q = 0; q < bc; q++) k[(i * br + p) * (ac * bc) + j * bc + q] = a[i * ac + j] * b[p * bc + q];
    return k;
}

/* One LoKr case: w1 [4, 3] and w2 [5, 4], each full or factored with the given rank (0: full). */
static void lokr_case(int rank1, int rank2, double want_scale) {
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(20, 12));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LOKR, .strength = 0.8, .has_alpha = true, .alpha = 3.0};
    double *w1, *w2;
    if (rank1) {
        p.lokr_w1_a = lp_random(FG_BF16, 1.0f, FG_SHAPE(4, rank1));
        p.lokr_w1_b = lp_random(FG_BF16, 1.0f, FG_SHAPE(rank1, 3));
        w1 = product(&p.lokr_w1_a, &p.lokr_w1_b);
    } else {
        p.lokr_w1 = lp_random(FG_BF16, 1.0f, FG_SHAPE(4, 3));
        w1 = lp_doubles(&p.lokr_w1);
    }
    if (rank2) {
        p.lokr_w2_a = lp_random(FG_BF16, 1.0f, FG_SHAPE(5, rank2));
        p.lokr_w2_b = lp_random(FG_BF16, 1.0f, FG_SHAPE(rank2, 4));
        w2 = product(&p.lokr_w2_a, &p.lokr_w2_b);
    } else {
        p.lokr_w2 = lp_random(FG_BF16, 1.0f, FG_SHAPE(5, 4));
        w2 = lp_doubles(&p.lokr_w2);
    }
    double *k = kron_ref(w1, 4, 3, w2, 5, 4);
    double *ref = plus(&w0, k, 0.8 * want_scale);
    char what[64];
    snprintf(what, sizeof what, "lokr rank w1 %d, w2 %d (0 = full)", rank1, rank2);
    expect_close(&w0, &p, 1, ref, what);
    free(ref);
    free(k);
    free(w1);
    free(w2);
    fg_tensor *ts[] = {&w0, &p.lokr_w1, &p.lokr_w1_a, &p.lokr_w1_b, &p.lokr_w2, &p.lokr_w2_a, &p.lokr_w2_b};
    free_tensors(ts, 7);
}

static void lokr_scale_rule(void) {
    lokr_case(0, 0, 1.0);       /* neither factored: alpha ignored */
    lokr_case(2, 0, 3.0 / 2.0); /* w1 factored: alpha / w1_b.shape[0] */
    lokr_case(0, 3, 3.0 / 3.0);
    lokr_case(0, 2, 3.0 / 2.0); /* w2 factored: alpha / w2_b.shape[0] */
    lokr_case(2, 3, 3.0 / 3.0); /* both: w2's rank wins */
    lokr_case(3, 2, 3.0 / 2.0);
}

/* DoRA in double: Wc = W + scale*delta; n = ||W row|| (out axis) or ||Wc column|| (in axis),
 * + eps; Wc *= dora_scale / n; W + strength * (Wc - W). */
static double *dora_ref(const fg_tensor *w0, const double *delta, double scale, const double *ds, int out_axis,
                        double strength) {
    int64_t rows = w0->shape[0], cols = w0->shape[1];
    double *w = lp_doubles(w0), *wc = malloc((size_t)(rows * cols) * sizeof(double));
    for (int64_t i = 0; i < rows * cols; i++) wc[i] = w[i] + scale * delta[i];
    int64_t count = out_axis ? rows : cols;
    for (int64_t c = 0; c < count; c++) {
        double s = 0;
        for (int64_t k = 0; k < (out_axis ? cols : rows); k++) {
            double v = out_axis ? w[c * cols + k] : wc[k * cols + c];
            s += v * v;
        }
        double f = ds[c] / (sqrt(s) + 1.1920929e-07);
        for (int64_t k = 0; k < (out_axis ? cols : rows); k++) wc[out_axis ? c * cols + k : k * cols + c] *= f;
    }
    for (int64_t i = 0; i < rows * cols; i++) w[i] += strength * (wc[i] - w[i]);
    free(wc);
    return w;
}

static void dora_case(int out_axis, double strength) {
    fg_tensor w0 = lp_random(FG_F32, 0.3f, FG_SHAPE(16, 24));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LORA, .strength = strength, .has_alpha = true, .alpha = 4.0};
    p.up = lp_random(FG_BF16, 0.2f, FG_SHAPE(16, 8));
    p.down = lp_random(FG_BF16, 0.2f, FG_SHAPE(8, 24));
    if (out_axis) p.dora_scale = lp_random(FG_BF16, 2.0f, FG_SHAPE(16, 1));
    else p.dora_scale = lp_random(FG_BF16, 2.0f, FG_SHAPE(1, 24));
    double *delta = product(&p.up, &p.down), *ds = lp_doubles(&p.dora_scale);
    double *ref = dora_ref(&w0, delta, 4.0 / 8.0, ds, out_axis, strength);
    char what[64];
    snprintf(what, sizeof what, "dora %s axis, strength %.1f", out_axis ? "out" : "in", strength);
    expect_close(&w0, &p, 1, ref, what);
    /* the norms come from W (out axis) or W + d (in axis): the other choice is measurably off */
    double *wrong = out_axis ? NULL : dora_ref(&w0, delta, 0.0, ds, out_axis, strength);
    if (wrong) {
        fg_tensor w = lp_clone(&w0);
        CHECK_OK(fg_lora_apply_patches(&w, &p, 1, what));
        CHECK(lp_max_diff(&w, wrong) > 1e-4, "in-axis norms were taken of W, not W + d");
        fg_tensor_free_host(&w);
        free(wrong);
    }
    free(ref);
    free(delta);
    free(ds);
    fg_tensor *ts[] = {&w0, &p.up, &p.down, &p.dora_scale};
    free_tensors(ts, 4);
}

/* A zero row of W has norm eps alone: the f32 eps is what keeps the factor finite. */
static void dora_zero_row_uses_eps(void) {
    fg_tensor w0 = lp_random(FG_F32, 0.3f, FG_SHAPE(4, 6));
    memset(w0.data, 0, 6 * sizeof(float));
    float up_v[8] = {1e-8f, -2e-8f, 0.1f, 0.2f, -0.3f, 0.1f, 0.05f, 0.2f};
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LORA, .strength = 0.5};
    p.up = lp_values(FG_F32, up_v, FG_SHAPE(4, 2));
    p.down = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 6));
    p.dora_scale = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 1));
    double *delta = product(&p.up, &p.down), *ds = lp_doubles(&p.dora_scale);
    double *ref = dora_ref(&w0, delta, 1.0, ds, 1, 0.5);
    expect_close(&w0, &p, 1, ref, "dora zero row (norm = eps)");
    free(ref), free(delta), free(ds);
    fg_tensor *ts[] = {&w0, &p.up, &p.down, &p.dora_scale};
    free_tensors(ts, 4);
}

static void dora_both_axes(void) {
    dora_case(1, 0.8);
    dora_case(1, 1.0);
    dora_case(0, 0.6);
    dora_case(0, 1.0);
    dora_zero_row_uses_eps();
}

/* LoCon Tucker: down'[a, i, hw] = sum_b down[b, i] mid[a, b, hw]; delta = up @ down'. */
static void lora_mid_matches_reference(void) {
    int64_t out = 6, in = 5, r = 3, hw = 9;
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(out, in, 3, 3));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LORA, .strength = 0.9, .has_alpha = true, .alpha = 1.5};
    p.up = lp_random(FG_F32, 1.0f, FG_SHAPE(out, r));
    p.down = lp_random(FG_F32, 1.0f, FG_SHAPE(r, in, 1, 1));
    p.mid = lp_random(FG_F32, 1.0f, FG_SHAPE(r, r, 3, 3));
    double *u = lp_doubles(&p.up), *d = lp_doubles(&p.down), *m = lp_doubles(&p.mid);
    double *folded = calloc((size_t)(r * in * hw), sizeof(double));
    for (int64_t a = 0; a < r; a++)
        for (int64_t i = 0; i < in; i++)
            for (int64_t k = 0; k < hw; k++)
                for (int64_t b = 0; b < r; b++) folded[(a * in + i) * hw + k] += d[b * in + i] * m[(a * r + b) * hw + k];
    double *delta = lp_matmul(u, folded, out, r, in * hw);
    double *ref = plus(&w0, delta, 0.9 * 1.5 / 3.0);
    expect_close(&w0, &p, 1, ref, "lora with lora_mid (Tucker)");
    free(u), free(d), free(m), free(folded), free(delta), free(ref);
    fg_tensor *ts[] = {&w0, &p.up, &p.down, &p.mid};
    free_tensors(ts, 4);
}

/* Rows [2, 6) (dim 0) or columns [3, 8) (dim 1) of a [10, 12] weight; the rest stays bitwise. */
static void slice_case(int dim, int swap) {
    int64_t rows = 10, cols = 12, start = dim == 0 ? 2 : 3, len = dim == 0 ? 4 : 5;
    int64_t pr = dim == 0 ? len : rows, pc = dim == 0 ? cols : len;
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(rows, cols));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LORA, .strength = 0.7, .has_alpha = true, .alpha = 1.0};
    p.up = lp_random(FG_F16, 1.0f, FG_SHAPE(pr, 2));
    p.down = lp_random(FG_F16, 1.0f, FG_SHAPE(2, pc));
    p.has_slice = true;
    p.slice_dim = dim;
    p.slice_start = start;
    p.slice_len = len;
    p.swap_scale_shift = swap;
    double *delta = product(&p.up, &p.down), *ref = lp_doubles(&w0);
    int64_t half = (pr + 1) / 2; /* chunk(2): the first half is the larger one */
    for (int64_t i = 0; i < pr; i++)
        for (int64_t j = 0; j < pc; j++) {
            int64_t src = swap ? (i < pr - half ? i + half : i - (pr - half)) : i;
            int64_t wi = dim == 0 ? start + i : i, wj = dim == 1 ? start + j : j;
            ref[wi * cols + wj] += 0.7 * 0.5 * delta[src * pc + j];
        }
    char what[64];
    snprintf(what, sizeof what, "lora slice dim %d%s", dim, swap ? " + swap" : "");
    expect_close(&w0, &p, 1, ref, what);
    fg_tensor w = lp_clone(&w0);
    CHECK_OK(fg_lora_apply_patches(&w, &p, 1, what));
    const float *a = w0.data, *b = w.data;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            int inside = dim == 0 ? (i >= start && i < start + len) : (j >= start && j < start + len);
            if (!inside) CHECK(a[i * cols + j] == b[i * cols + j], "%s: [%lld,%lld] outside the slice changed", what,
                               (long long)i, (long long)j);
        }
    fg_tensor_free_host(&w);
    free(delta);
    free(ref);
    fg_tensor *ts[] = {&w0, &p.up, &p.down};
    free_tensors(ts, 3);
}

static void slices_and_swap_scale_shift(void) {
    slice_case(0, 0);
    slice_case(1, 0);
    slice_case(0, 1); /* 4 rows: halves of 2 */
    slice_case(1, 1); /* 10 rows: halves of 5 */
    /* odd row count, whole weight, diff adapter: [7, 3] swaps rows [4..7) before [0..4) */
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(7, 3));
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_DIFF, .strength = 0.5, .swap_scale_shift = true};
    p.value = lp_random(FG_F32, 1.0f, FG_SHAPE(7, 3));
    double *v = lp_doubles(&p.value), *ref = lp_doubles(&w0);
    for (int64_t i = 0; i < 7; i++)
        for (int64_t j = 0; j < 3; j++) ref[i * 3 + j] += 0.5 * v[(i < 3 ? i + 4 : i - 3) * 3 + j];
    expect_close(&w0, &p, 1, ref, "diff swap_scale_shift, odd rows");
    free(v);
    free(ref);
    fg_tensor *ts[] = {&w0, &p.value};
    free_tensors(ts, 2);
}

/* Patches apply in order: set then diff keeps the diff, diff then set keeps only the set. */
static void set_and_stacking_order(void) {
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(6, 4));
    fg_lora_patch ps[3] = {{.adapter = FG_LORA_ADAPTER_SET, .strength = 0.3},
                           {.adapter = FG_LORA_ADAPTER_DIFF, .strength = 0.5},
                           {.adapter = FG_LORA_ADAPTER_LORA, .strength = 0.25}};
    ps[0].value = lp_random(FG_BF16, 1.0f, FG_SHAPE(6, 4));
    ps[1].value = lp_random(FG_F16, 1.0f, FG_SHAPE(6, 4));
    ps[2].up = lp_random(FG_F32, 1.0f, FG_SHAPE(6, 2));
    ps[2].down = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 4));
    double *s = lp_doubles(&ps[0].value), *d = lp_doubles(&ps[1].value), *l = product(&ps[2].up, &ps[2].down);
    double ref[24], ref2[24];
    for (int i = 0; i < 24; i++) ref[i] = s[i] + 0.5 * d[i] + 0.25 * l[i]; /* set ignores its strength */
    expect_close(&w0, ps, 3, ref, "set, diff, lora in order");
    fg_lora_patch rev[2] = {ps[1], ps[0]};
    memcpy(ref2, s, sizeof ref2);
    expect_close(&w0, rev, 2, ref2, "diff then set");
    free(s), free(d), free(l);
    fg_tensor *ts[] = {&w0, &ps[0].value, &ps[1].value, &ps[2].up, &ps[2].down};
    free_tensors(ts, 5);
}

void lp_run_reference_tests(void) {
    RUN_TEST(loha_matches_reference);
    RUN_TEST(lokr_scale_rule);
    RUN_TEST(dora_both_axes);
    RUN_TEST(lora_mid_matches_reference);
    RUN_TEST(slices_and_swap_scale_shift);
    RUN_TEST(set_and_stacking_order);
}
