/* Unit tests of fg_lora_apply_patches: strength 0, the alpha rule, the exact float32 rounding
 * order, and errors (shape mismatches name the weight; hostile input never crashes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/lora_patch.h"
#include "tests/lora_patch/lp_tests.h"
#include "tests/lora_patch/lp_util.h"
#include "tests/testing.h"

/* A LoRA patch up [out, r] @ down [r, in] in dtype dt (the caller frees both). */
static fg_lora_patch lora_patch(fg_dtype dt, int64_t out, int64_t r, int64_t in, double strength) {
    fg_lora_patch p = {0};
    p.adapter = FG_LORA_ADAPTER_LORA;
    p.strength = strength;
    p.up = lp_random(dt, 0.5f, FG_SHAPE(out, r));
    p.down = lp_random(dt, 0.5f, FG_SHAPE(r, in));
    return p;
}

static void free_patch(fg_lora_patch *p) {
    fg_tensor *ts[] = {&p->up, &p->down, &p->mid, &p->hada_w1_a, &p->hada_w1_b, &p->hada_w2_a, &p->hada_w2_b,
                       &p->lokr_w1, &p->lokr_w1_a, &p->lokr_w1_b, &p->lokr_w2, &p->lokr_w2_a, &p->lokr_w2_b,
                       &p->value, &p->dora_scale};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) fg_tensor_free_host(ts[i]);
}

/* W + coef * (up @ down) in double. */
static double *lora_reference(const fg_tensor *w, const fg_lora_patch *p, double coef) {
    double *wd = lp_doubles(w), *u = lp_doubles(&p->up), *d = lp_doubles(&p->down);
    double *prod = lp_matmul(u, d, p->up.shape[0], p->down.shape[0], p->down.shape[1]);
    for (int64_t i = 0; i < fg_tensor_numel(w); i++) wd[i] += coef * prod[i];
    free(u);
    free(d);
    free(prod);
    return wd;
}

static void strength_zero_leaves_weight_unchanged(void) {
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(16, 12));
    fg_lora_patch ps[5] = {0};
    ps[0] = lora_patch(FG_BF16, 16, 4, 12, 0.0);
    ps[0].has_alpha = true;
    ps[0].alpha = 2.0;
    ps[1] = lora_patch(FG_F16, 16, 4, 12, 0.0);
    ps[1].dora_scale = lp_random(FG_F32, 1.0f, FG_SHAPE(16, 1));
    ps[2].adapter = FG_LORA_ADAPTER_LOHA;
    ps[2].hada_w1_a = lp_random(FG_F32, 1.0f, FG_SHAPE(16, 2));
    ps[2].hada_w1_b = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 12));
    ps[2].hada_w2_a = lp_random(FG_F32, 1.0f, FG_SHAPE(16, 2));
    ps[2].hada_w2_b = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 12));
    ps[3].adapter = FG_LORA_ADAPTER_LOKR;
    ps[3].lokr_w1 = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 3));
    ps[3].lokr_w2 = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 4));
    ps[4].adapter = FG_LORA_ADAPTER_DIFF;
    ps[4].value = lp_random(FG_BF16, 1.0f, FG_SHAPE(16, 12));
    for (size_t i = 0; i < 5; i++) {
        fg_tensor w = lp_clone(&w0);
        CHECK_OK(fg_lora_apply_patches(&w, &ps[i], 1, "w"));
        CHECK(lp_same_bits(&w, &w0), "patch %zu at strength 0 changed the weight", i);
        /* the same patch at strength 0.5 does change it (so the comparison above means something) */
        ps[i].strength = 0.5;
        CHECK_OK(fg_lora_apply_patches(&w, &ps[i], 1, "w"));
        CHECK(!lp_same_bits(&w, &w0), "patch %zu at strength 0.5 left the weight unchanged", i);
        fg_tensor_free_host(&w);
        free_patch(&ps[i]);
    }
    fg_tensor_free_host(&w0);
}

static void alpha_absent_means_scale_one(void) {
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(24, 20));
    fg_lora_patch p = lora_patch(FG_F16, 24, 4, 20, 0.7);
    fg_tensor w = lp_clone(&w0);
    CHECK_OK(fg_lora_apply_patches(&w, &p, 1, "w"));
    double *ref = lora_reference(&w0, &p, 0.7);
    double d_no_alpha = lp_max_diff(&w, ref);
    CHECK(d_no_alpha <= LP_TOL, "no alpha: max abs %.3g", d_no_alpha);
    free(ref);
    fg_tensor_free_host(&w);

    /* alpha 2 over rank 4 halves the delta */
    p.has_alpha = true;
    p.alpha = 2.0;
    w = lp_clone(&w0);
    CHECK_OK(fg_lora_apply_patches(&w, &p, 1, "w"));
    ref = lora_reference(&w0, &p, 0.7 * 0.5);
    double d_alpha = lp_max_diff(&w, ref);
    CHECK(d_alpha <= LP_TOL, "alpha 2 / rank 4: max abs %.3g", d_alpha);
    double *full = lora_reference(&w0, &p, 0.7);
    CHECK(lp_max_diff(&w, full) > 1e-3, "alpha had no effect");
    printf("  LoRA vs double: no alpha %.3g, alpha/r %.3g\n", d_no_alpha, d_alpha);
    free(ref);
    free(full);
    fg_tensor_free_host(&w);
    free_patch(&p);
    fg_tensor_free_host(&w0);
}

/* ComfyUI multiplies the f32 delta by the f32 rounding of the double strength * scale, then
 * adds in f32: with exactly representable deltas the result is known to the bit. */
static void rounding_order_matches_torch(void) {
    const double strengths[] = {0.8, 0.6, 0.7, 0.9, 0.3};
    double strength = 0, scale = 1.0 / 3.0; /* alpha 1, rank 3 */
    for (size_t i = 0; i < sizeof strengths / sizeof strengths[0] && strength == 0; i++)
        if ((float)(strengths[i] * scale) != (float)strengths[i] * (float)scale) strength = strengths[i];
    CHECK(strength != 0, "no strength tells the two rounding orders apart");
    const float up_v[] = {1, 2, -3, 0.5f, 4, 1, -1, 2, 3, 0, 1, -2};   /* [4, 3] */
    const float down_v[] = {2, -1, 0.25f, 1, 3, 1, -2, 0.5f, 1, 1, 1, -1}; /* [3, 4] */
    fg_lora_patch p = {.adapter = FG_LORA_ADAPTER_LORA, .strength = strength, .has_alpha = true, .alpha = 1.0};
    p.up = lp_values(FG_F32, up_v, FG_SHAPE(4, 3));
    p.down = lp_values(FG_F32, down_v, FG_SHAPE(3, 4));
    fg_tensor w0 = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 4));
    fg_tensor w = lp_clone(&w0);
    CHECK_OK(fg_lora_apply_patches(&w, &p, 1, "w"));
    float coef = (float)(strength * scale);
    const float *a = w0.data, *got = w.data;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float d = 0;
            for (int k = 0; k < 3; k++) d += up_v[i * 3 + k] * down_v[k * 4 + j]; /* exact: small dyadics */
            float scaled = coef * d;
            float want = a[i * 4 + j] + scaled;
            CHECK(got[i * 4 + j] == want, "[%d,%d]: %.9g, want %.9g", i, j, got[i * 4 + j], want);
        }
    fg_tensor_free_host(&w);
    free_patch(&p);

    /* diff: W + f32(strength) * D */
    fg_lora_patch diff = {.adapter = FG_LORA_ADAPTER_DIFF, .strength = 0.6};
    diff.value = lp_random(FG_BF16, 1.0f, FG_SHAPE(4, 4));
    w = lp_clone(&w0);
    CHECK_OK(fg_lora_apply_patches(&w, &diff, 1, "w"));
    fg_tensor dv = lp_clone(&diff.value);
    for (int i = 0; i < 16; i++) {
        float scaled = (float)0.6 * ((const float *)dv.data)[i];
        float want = a[i] + scaled;
        CHECK(((const float *)w.data)[i] == want, "diff [%d]", i);
    }
    fg_tensor_free_host(&dv);
    fg_tensor_free_host(&w);
    free_patch(&diff);
    fg_tensor_free_host(&w0);
}

static void shape_mismatch_errors_name_the_weight(void) {
    fg_tensor w = lp_random(FG_F32, 1.0f, FG_SHAPE(8, 6));
    fg_tensor w0 = lp_clone(&w);
    const char *name = "double_blocks.7.img_attn.qkv.weight";
    fg_lora_patch p = lora_patch(FG_F32, 8, 2, 5, 1.0); /* delta [8, 5] vs weight [8, 6] */
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, name), name);
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, name), "lora");
    free_patch(&p);
    p = lora_patch(FG_F32, 8, 2, 6, 1.0);
    fg_tensor_free_host(&p.down);
    p.down = lp_random(FG_F32, 1.0f, FG_SHAPE(3, 6)); /* rank 2 vs 3 */
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, name), name);
    free_patch(&p);

    fg_lora_patch loha = {.adapter = FG_LORA_ADAPTER_LOHA, .strength = 1.0};
    loha.hada_w1_a = lp_random(FG_F32, 1.0f, FG_SHAPE(8, 2));
    loha.hada_w1_b = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 6));
    loha.hada_w2_a = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 2));
    loha.hada_w2_b = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 12));
    CHECK_ERR(fg_lora_apply_patches(&w, &loha, 1, name), "loha");
    free_patch(&loha);

    fg_lora_patch lokr = {.adapter = FG_LORA_ADAPTER_LOKR, .strength = 1.0};
    lokr.lokr_w1 = lp_random(FG_F32, 1.0f, FG_SHAPE(2, 2));
    lokr.lokr_w2 = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 4)); /* kron [8, 8] vs [8, 6] */
    CHECK_ERR(fg_lora_apply_patches(&w, &lokr, 1, name), name);
    free_patch(&lokr);

    fg_lora_patch diff = {.adapter = FG_LORA_ADAPTER_DIFF, .strength = 1.0};
    diff.value = lp_random(FG_F32, 1.0f, FG_SHAPE(6, 8)); /* same numel, other shape */
    CHECK_ERR(fg_lora_apply_patches(&w, &diff, 1, name), name);
    diff.adapter = FG_LORA_ADAPTER_SET;
    CHECK_ERR(fg_lora_apply_patches(&w, &diff, 1, name), name);
    free_patch(&diff);

    fg_lora_patch dora = lora_patch(FG_F32, 8, 2, 6, 1.0);
    dora.dora_scale = lp_random(FG_F32, 1.0f, FG_SHAPE(1, 5));
    CHECK_ERR(fg_lora_apply_patches(&w, &dora, 1, name), "dora_scale");
    free_patch(&dora);

    fg_lora_patch slice = lora_patch(FG_F32, 4, 2, 6, 1.0);
    slice.has_slice = true;
    slice.slice_start = 6; /* rows [6, 10) of 8 */
    slice.slice_len = 4;
    CHECK_ERR(fg_lora_apply_patches(&w, &slice, 1, name), name);
    slice.slice_start = 0;
    slice.slice_dim = 2;
    CHECK_ERR(fg_lora_apply_patches(&w, &slice, 1, name), "slice");
    free_patch(&slice);
    CHECK(lp_same_bits(&w, &w0), "a failed patch modified the weight");
    fg_tensor_free_host(&w0);
    fg_tensor_free_host(&w);
}

/* Missing factors, wrong dtypes, bad arguments: errors, never crashes. */
static void hostile_input_is_an_error(void) {
    fg_tensor w = lp_random(FG_F32, 1.0f, FG_SHAPE(8, 6));
    fg_lora_patch p = lora_patch(FG_F32, 8, 2, 6, 1.0);
    fg_tensor saved = p.down;
    p.down.data = NULL;
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, "x.weight"), "lora_down");
    p.down = saved;
    fg_tensor ints = {0};
    CHECK_OK(fg_tensor_alloc_host(&ints, FG_I32, FG_SHAPE(2, 6)));
    p.down = ints;
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, "x.weight"), "dtype");
    p.down = saved;
    fg_tensor_free_host(&ints);
    fg_tensor zero_rank = {0};
    CHECK_OK(fg_tensor_alloc_host(&zero_rank, FG_F32, FG_SHAPE(0, 6)));
    fg_tensor up_saved = p.up;
    p.up = zero_rank;
    CHECK_ERR(fg_lora_apply_patches(&w, &p, 1, "x.weight"), "x.weight");
    p.up = up_saved;
    fg_tensor_free_host(&zero_rank);

    fg_tensor bf = {0};
    CHECK_OK(fg_tensor_alloc_host(&bf, FG_BF16, FG_SHAPE(8, 6)));
    CHECK_ERR(fg_lora_apply_patches(&bf, &p, 1, "x.weight"), "F32");
    fg_tensor_free_host(&bf);
    CHECK_ERR(fg_lora_apply_patches(NULL, &p, 1, "x.weight"), "x.weight");
    CHECK_ERR(fg_lora_apply_patches(&w, NULL, 1, "x.weight"), "x.weight");
    CHECK_OK(fg_lora_apply_patches(&w, NULL, 0, "x.weight"));
    fg_lora_patch missing = p;
    missing.up.data = NULL;
    CHECK_ERR(fg_lora_apply_patches(&w, &missing, 1, NULL), "unnamed");

    fg_lora_patch bad = p;
    bad.adapter = (fg_lora_adapter)42;
    CHECK_ERR(fg_lora_apply_patches(&w, &bad, 1, "x.weight"), "adapter");
    fg_lora_patch lokr = {.adapter = FG_LORA_ADAPTER_LOKR, .strength = 1.0};
    lokr.lokr_w2 = lp_random(FG_F32, 1.0f, FG_SHAPE(4, 3));
    CHECK_ERR(fg_lora_apply_patches(&w, &lokr, 1, "x.weight"), "lokr_w1");
    free_patch(&lokr);
    fg_lora_patch mid = p;
    mid.mid = lp_random(FG_F32, 1.0f, FG_SHAPE(3, 3, 1, 1));
    CHECK_ERR(fg_lora_apply_patches(&w, &mid, 1, "x.weight"), "lora_mid");
    fg_tensor_free_host(&mid.mid);

    /* a second patch that fails reports its position */
    fg_lora_patch two[2] = {p, p};
    two[1].up.data = NULL;
    CHECK_ERR(fg_lora_apply_patches(&w, two, 2, "x.weight"), "patch 2 of 2");
    free_patch(&p);
    fg_tensor_free_host(&w);
}

void lp_run_unit_tests(void) {
    RUN_TEST(strength_zero_leaves_weight_unchanged);
    RUN_TEST(alpha_absent_means_scale_one);
    RUN_TEST(rounding_order_matches_torch);
    RUN_TEST(shape_mismatch_errors_name_the_weight);
    RUN_TEST(hostile_input_is_an_error);
}
