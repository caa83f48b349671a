/* Checks the case harness cannot express: the CPU's BF16 shim against its f32 kernels on
 * tensors larger than one conversion chunk (bit-exact: the shim must equal "f32 kernel on the
 * widened inputs, output rounded to nearest-even"), in-place BF16 updates across chunks, the
 * pinned fill hash, memory statistics, graphs on the CPU, and dispatcher errors for the new ops
 * and for mixed act dtypes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ops/harness.h"
#include "tests/testing.h"



/* Fills t with values in [lo, hi) (rounded to t's dtype) from a small LCG. */
static void fill(fg_tensor *t, uint64_t seed, float lo, float hi) {
    int64_t n = fg_tensor_numel(t);
    size_t esz = fg_dtype_size(t->dtype);
    uint64_t s = seed * 2862933555777941757ull + 3037000493ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = lo + (hi - lo) * (float)((s >> 40) * 0x1p-24);
        fg_convert_from_f32((char *)t->data + (size_t)i * esz, t->dtype, &v, 1);
    }
}

/* An F32 tensor holding exactly the values of a BF16 one. */
static fg_tensor *widened_copy(const fg_tensor *t) {
    fg_tensor *w = op_held(FG_F32, t->ndim, t->shape);
    fg_convert_to_f32(w->data, t->data, t->dtype, (size_t)fg_tensor_numel(t));
    return w;
}

/* Every element of the BF16 result equals the f32 reference rounded to nearest-even, or lies
 * within `ulps` bf16 ulps of it (for sgemm, whose blocking may differ with the row count). */
static void expect_rounded(const char *what, const fg_tensor *got_bf16, const fg_tensor *ref_f32, int ulps) {
    int64_t n = fg_tensor_numel(ref_f32), bad = 0, first = -1;
    const uint16_t *g = got_bf16->data;
    const float *r = ref_f32->data;
    for (int64_t i = 0; i < n; i++) {
        uint16_t want = fg_f32_to_bf16(r[i]);
        int diff = abs((int)(int16_t)g[i] - (int)(int16_t)want);
        if (ulps == 0 ? g[i] != want : diff > ulps) {
            if (first < 0) first = i;
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %lld of %lld values differ from the rounded f32 kernel; first at %lld: got %g want %g", what,
          (long long)bad, (long long)n, (long long)first, first < 0 ? 0.0 : (double)fg_bf16_to_f32(g[first]),
          first < 0 ? 0.0 : (double)fg_bf16_to_f32(fg_f32_to_bf16(r[first])));
}

/* ---- the BF16 shim across conversion chunks (4M floats each) ------------------------------- */

static void check_bf16_rows_across_chunks(void) {
    /* rms_norm: 5000 rows of 1000, two chunks of rows */
    fg_tensor *x = op_held(FG_BF16, FG_SHAPE(5000, 1000)), *out = op_held(FG_BF16, FG_SHAPE(5000, 1000));
    fg_tensor *w = op_held(FG_BF16, FG_SHAPE(1000));
    fill(x, 1, -3, 2);
    fill(w, 2, -2, 2);
    fg_tensor *xf = widened_copy(x), *ref = op_held(FG_F32, FG_SHAPE(5000, 1000));
    CHECK_OK(fg_rms_norm(out, x, w, 1e-6f));
    CHECK_OK(fg_rms_norm(ref, xf, w, 1e-6f));
    expect_rounded("rms_norm", out, ref, 0);
    op_release_held();
    /* layer_norm with modulation: chunks stop at each batch's end */
    x = op_held(FG_BF16, FG_SHAPE(2, 3000, 1500));
    out = op_held(FG_BF16, FG_SHAPE(2, 3000, 1500));
    fg_tensor *sh = op_held(FG_BF16, FG_SHAPE(2, 1500)), *sc = op_held(FG_BF16, FG_SHAPE(2, 1, 1500));
    fill(x, 3, -2, 2);
    fill(sh, 4, -1, 1);
    fill(sc, 5, -1, 1);
    fg_tensor *shf = widened_copy(sh), *scf = widened_copy(sc);
    xf = widened_copy(x);
    ref = op_held(FG_F32, FG_SHAPE(2, 3000, 1500));
    CHECK_OK(fg_layer_norm(out, x, NULL, NULL, 1e-6f, sh, sc));
    CHECK_OK(fg_layer_norm(ref, xf, NULL, NULL, 1e-6f, shf, scf));
    expect_rounded("layer_norm modulated", out, ref, 0);
    op_release_held();
    /* linear: 2100 rows of K = 2048 with an activation (its chunks are 128 MiB, too large to
     * cross here; the row splitting itself is the rms_norm one above) */
    x = op_held(FG_BF16, FG_SHAPE(2100, 2048));
    w = op_held(FG_BF16, FG_SHAPE(24, 2048));
    out = op_held(FG_BF16, FG_SHAPE(2100, 24));
    fill(x, 6, -1, 1);
    fill(w, 7, -0.04f, 0.04f);
    xf = widened_copy(x);
    ref = op_held(FG_F32, FG_SHAPE(2100, 24));
    CHECK_OK(fg_linear(out, x, w, NULL, 1.0f, FG_ACT_GELU_TANH));
    CHECK_OK(fg_linear(ref, xf, w, NULL, 1.0f, FG_ACT_GELU_TANH));
    expect_rounded("linear", out, ref, 1);
    op_release_held();
}

static void check_bf16_rope_and_inplace(void) {
    /* rope and rms_norm_rope: chunks stay inside one (b, h) slice */
    fg_tensor *x = op_held(FG_BF16, FG_SHAPE(2, 3, 700, 128)), *out = op_held(FG_BF16, FG_SHAPE(2, 3, 700, 128));
    fg_tensor *cs = op_held(FG_F32, FG_SHAPE(2, 700, 64)), *sn = op_held(FG_F32, FG_SHAPE(2, 700, 64));
    fg_tensor *w = op_held(FG_BF16, FG_SHAPE(128));
    fill(x, 8, -3, 2);
    fill(cs, 9, -1, 1);
    fill(sn, 10, -1, 1);
    fill(w, 11, -2, 2);
    fg_tensor *xf = widened_copy(x), *ref = op_held(FG_F32, FG_SHAPE(2, 3, 700, 128));
    CHECK_OK(fg_rope(out, x, cs, sn));
    CHECK_OK(fg_rope(ref, xf, cs, sn));
    expect_rounded("rope", out, ref, 0);
    CHECK_OK(fg_rms_norm_rope(out, x, w, 1e-6f, cs, sn));
    CHECK_OK(fg_rms_norm_rope(ref, xf, w, 1e-6f, cs, sn));
    expect_rounded("rms_norm_rope", out, ref, 0);
    /* The fused f32 kernel equals rms_norm then rope bit for bit. */
    fg_tensor *tmp = op_held(FG_F32, FG_SHAPE(2, 3, 700, 128)), *two = op_held(FG_F32, FG_SHAPE(2, 3, 700, 128));
    CHECK_OK(fg_rms_norm(tmp, xf, w, 1e-6f));
    CHECK_OK(fg_rope(two, tmp, cs, sn));
    CHECK(memcmp(two->data, ref->data, fg_tensor_nbytes(ref)) == 0, "fused rms_norm_rope differs from the two ops");
    op_release_held();
    /* add_gated in place (out == x) over 4.5M elements: the chunks cross the split dim */
    x = op_held(FG_BF16, FG_SHAPE(3, 1500, 1000));
    fg_tensor *g = op_held(FG_BF16, FG_SHAPE(3, 1, 1000)), *y = op_held(FG_BF16, FG_SHAPE(3, 1500, 1000));
    fill(x, 12, -2, 2);
    fill(g, 13, -2, 2);
    fill(y, 14, -2, 2);
    xf = widened_copy(x);
    fg_tensor *gf = widened_copy(g), *yf = widened_copy(y);
    CHECK_OK(fg_add_gated(x, x, g, y));
    CHECK_OK(fg_add_gated(xf, xf, gf, yf));
    expect_rounded("add_gated in place", x, xf, 0);
    /* axpby in place: every value is exactly the rounded f32 expression */
    fg_tensor *x2 = widened_copy(y), *ybf = y;
    CHECK_OK(fg_axpby(ybf, 0.75f, ybf, -1.25f, x));
    fg_tensor *xr = widened_copy(x);
    CHECK_OK(fg_axpby(x2, 0.75f, x2, -1.25f, xr));
    expect_rounded("axpby in place", ybf, x2, 0);
    op_release_held();
}

/* ---- fill hash, memory stats, graphs --------------------------------------------------------- */

static void check_fill_hash(void) {
    /* SplitMix64 seeded with 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f. */
    CHECK(fg_fill_hash(0, 0) == 0xE220A8397B1DCDAFull);
    CHECK(fg_fill_hash(0, 1) == 0x6E789E6AA1B965F4ull);
    CHECK(fg_fill_hash(0, 2) == 0x06C45D188009454Full);
    /* A different seed shifts the stream: seed s, index i is SplitMix64's state s + (i+1) gamma. */
    CHECK(fg_fill_hash(0x9E3779B97F4A7C15ull, 0) == fg_fill_hash(0, 1));
}

static void check_memory_stats(void) {
    const fg_device cpu = FG_DEVICE_CPU;
    fg_memory_stats s0, s;
    if (!CHECK_OK(fg_device_memory_stats(cpu, &s0))) return;
    CHECK(s0.cached == 0 && s0.peak >= s0.in_use);
    fg_tensor a, b, z;
    CHECK_OK(fg_tensor_alloc(&a, cpu, FG_F32, FG_SHAPE(250))); /* 1000 bytes, counted in 64-byte units */
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.in_use == s0.in_use + 1024, "in_use %zu, expected %zu", s.in_use, s0.in_use + 1024);
    CHECK_OK(fg_tensor_alloc(&b, cpu, FG_BF16, FG_SHAPE(512, 1024)));
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    size_t both = s0.in_use + 1024 + 1048576;
    CHECK(s.in_use == both && s.peak >= both, "in_use %zu peak %zu, expected %zu", s.in_use, s.peak, both);
    fg_tensor_free(&b);
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.in_use == s0.in_use + 1024 && s.peak >= both, "after free: in_use %zu peak %zu", s.in_use, s.peak);
    fg_device_reset_peak(cpu);
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.peak == s.in_use, "reset_peak: peak %zu in_use %zu", s.peak, s.in_use);
    CHECK_OK(fg_tensor_alloc(&z, cpu, FG_F32, FG_SHAPE(0))); /* empty tensors still take one unit */
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.in_use == s0.in_use + 1024 + 64, "empty alloc: in_use %zu", s.in_use);
    fg_tensor_free(&z);
    fg_tensor_free(&a);
    fg_device_release_cached(cpu);
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.in_use == s0.in_use && s.cached == 0, "all freed: in_use %zu", s.in_use);
    /* Host storage from core freed through fg_tensor_free: freed, not counted. */
    fg_tensor h;
    CHECK_OK(fg_tensor_alloc_host(&h, FG_F32, FG_SHAPE(100)));
    fg_tensor_free(&h);
    CHECK_OK(fg_device_memory_stats(cpu, &s));
    CHECK(s.in_use == s0.in_use);
    size_t free_b = 0, total_b = 0;
    CHECK_OK(fg_device_memory_info(cpu, &free_b, &total_b));
    CHECK(total_b >= ((size_t)1 << 26) && free_b <= total_b, "memory_info: free %zu total %zu", free_b, total_b);
    CHECK_ERR(fg_device_memory_info(cpu, NULL, &total_b), "memory_info: free_bytes and total_bytes must not be NULL");
    CHECK_ERR(fg_device_memory_stats(cpu, NULL), "memory_stats: out must not be NULL");
}

static void check_graphs_on_cpu(void) {
    fg_error *err = fg_graph_capture_begin(FG_DEVICE_CPU);
    CHECK(fg_error_code_of(err) == FG_ERR_UNSUPPORTED, "capture_begin: %s", err ? fg_error_message(err) : "success");
    CHECK_ERR(err, "graph capture is not supported on the cpu backend");
    fg_graph *g = (fg_graph *)&g;
    err = fg_graph_capture_end(FG_DEVICE_CPU, &g);
    CHECK(fg_error_code_of(err) == FG_ERR_UNSUPPORTED && g == NULL, "capture_end: %s",
          err ? fg_error_message(err) : "success");
    fg_error_free(err);
    CHECK_ERR(fg_graph_capture_end(FG_DEVICE_CPU, NULL), "graph_capture_end: out must not be NULL");
    CHECK_ERR(fg_graph_launch(NULL), "graph_launch: graph is NULL");
    fg_graph_free(NULL);
}

/* ---- dispatcher errors ----------------------------------------------------------------------- */

static void check_new_op_errors(void) {
    fg_tensor *x = op_held(FG_BF16, FG_SHAPE(2, 3, 5, 8)), *out = op_held(FG_BF16, FG_SHAPE(2, 3, 5, 8));
    fg_tensor *cs = op_held(FG_F32, FG_SHAPE(1, 5, 4)), *w = op_held(FG_F16, FG_SHAPE(8));
    CHECK_OK(fg_rms_norm_rope(out, x, w, 1e-6f, cs, cs));
    CHECK_OK(fg_rms_norm_rope(out, x, NULL, 0.0f, cs, cs));
    CHECK_ERR(fg_rms_norm_rope(out, x, op_held(FG_F16, FG_SHAPE(7)), 1e-6f, cs, cs),
              "rms_norm_rope: weight is [7] but x is [2, 3, 5, 8] (expected [D])");
    CHECK_ERR(fg_rms_norm_rope(out, x, op_held(FG_I32, FG_SHAPE(8)), 1e-6f, cs, cs), "rms_norm_rope: weight has dtype I32");
    CHECK_ERR(fg_rms_norm_rope(out, x, w, 1e-6f, op_held(FG_BF16, FG_SHAPE(1, 5, 4)), cs),
              "rms_norm_rope: cos has dtype BF16, expected F32");
    CHECK_ERR(fg_rms_norm_rope(out, x, w, 1e-6f, op_held(FG_F32, FG_SHAPE(1, 6, 4)), op_held(FG_F32, FG_SHAPE(1, 6, 4))),
              "expected [1 or B, L, D/2]");
    fg_tensor *odd = op_held(FG_BF16, FG_SHAPE(2, 3, 5, 7));
    CHECK_ERR(fg_rms_norm_rope(odd, odd, NULL, 1e-6f, cs, cs), "D must be even");
    CHECK_ERR(fg_rms_norm_rope(out, op_held(FG_F32, FG_SHAPE(2, 3, 5, 8)), w, 1e-6f, cs, cs),
              "rms_norm_rope: x is F32 but out is BF16 (the activations of one call share one dtype)");
    CHECK_ERR(fg_rms_norm_rope(out, x, w, -1.0f, cs, cs), "rms_norm_rope: eps -1 must be finite and >= 0");
    fg_tensor wc = *w;
    wc.device = FG_DEVICE_CUDA;
    wc.owns_data = false;
    CHECK_ERR(fg_rms_norm_rope(out, x, &wc, 1e-6f, cs, cs), "rms_norm_rope: weight is on cuda");
    CHECK_ERR(fg_fill_uniform(op_held(FG_I32, FG_SHAPE(4)), 1, 0.0f, 1.0f), "fill_uniform: out has dtype I32, expected a float dtype");
    CHECK_ERR(fg_fill_uniform(out, 1, -INFINITY, 1.0f), "fill_uniform: bounds [-inf, 1) must be finite");
    CHECK_ERR(fg_fill_uniform(out, 1, 0.0f, NAN), "must be finite");
    CHECK_ERR(fg_fill_uniform(NULL, 1, 0.0f, 1.0f), "fill_uniform: out is NULL");
    op_release_held();
}

/* Every op with act tensors refuses a call whose act tensors mix F32 and BF16, naming both. */
static void check_mixed_act_dtypes(void) {
    fg_tensor *f4 = op_held(FG_F32, FG_SHAPE(2, 2, 3, 4)), *b4 = op_held(FG_BF16, FG_SHAPE(2, 2, 3, 4));
    fg_tensor *cs = op_held(FG_F32, FG_SHAPE(1, 3, 2)), *h4 = op_held(FG_F16, FG_SHAPE(2, 2, 3, 4));
    CHECK_ERR(fg_rope(f4, b4, cs, cs), "rope: x is BF16 but out is F32");
    CHECK_ERR(fg_rope(h4, h4, cs, cs), "rope: out is F16; activations must be F32 or BF16");
    CHECK_ERR(fg_softmax(b4, f4), "softmax: x is F32 but out is BF16");
    CHECK_ERR(fg_rms_norm(b4, f4, NULL, 1e-6f), "rms_norm: x is F32 but out is BF16");
    CHECK_ERR(fg_group_norm(f4, b4, 1, NULL, NULL, 1e-6f, false), "group_norm: x is BF16 but out is F32");
    CHECK_ERR(fg_unary(b4, f4, FG_ACT_SILU), "unary: x is F32 but out is BF16");
    CHECK_ERR(fg_mul(b4, b4, f4), "mul: b is F32 but out is BF16");
    CHECK_ERR(fg_add_gated(b4, b4, op_held(FG_F32, FG_SHAPE(2, 1, 1, 4)), b4), "add_gated: gate is F32 but out is BF16");
    CHECK_ERR(fg_axpby(b4, 1.0f, b4, 1.0f, f4), "axpby: y is F32 but out is BF16");
    CHECK_ERR(fg_scale_shift(f4, b4, 1.0f, 0.0f), "scale_shift: x is BF16 but out is F32");
    CHECK_ERR(fg_attention(b4, b4, b4, f4, NULL, 1.0f), "attention: v is F32 but out is BF16");
    fg_tensor *cw = op_held(FG_F32, FG_SHAPE(2, 2, 1, 1)), *cx = op_held(FG_BF16, FG_SHAPE(1, 2, 3, 3));
    fg_conv2d_params p = {.stride = 1};
    CHECK_ERR(fg_conv2d(op_held(FG_F32, FG_SHAPE(1, 2, 3, 3)), cx, cw, NULL, &p), "conv2d: x is BF16 but out is F32");
    CHECK_OK(fg_conv2d(op_held(FG_BF16, FG_SHAPE(1, 2, 3, 3)), cx, cw, NULL, &p)); /* F32 weights with BF16 acts */
    CHECK_OK(fg_cast(b4, f4)); /* cast is how act dtypes change */
    CHECK_OK(fg_cast(f4, b4));
    op_release_held();
}

void ops_checks_new_ops(void) {
    RUN_TEST(check_bf16_rows_across_chunks);
    RUN_TEST(check_bf16_rope_and_inplace);
    RUN_TEST(check_fill_hash);
    RUN_TEST(check_memory_stats);
    RUN_TEST(check_graphs_on_cpu);
    RUN_TEST(check_new_op_errors);
    RUN_TEST(check_mixed_act_dtypes);
}
