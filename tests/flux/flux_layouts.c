/* The tiny model rewritten into every layout the loader accepts must load and give the same
 * outputs (bit for bit where the weights are the same bytes; for fp8, the outputs of the
 * dequantised weights, and the bf16 model's within the quantisation error), and be recognised
 * by models/model_kind; missing and misshapen tensors give errors naming them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/model_kind.h"
#include "tests/flux/flux_common.h"
#include "tests/flux/flux_files.h"
#include "tests/testing.h"

#define DIT_PREFIX "model.diffusion_model."

/* fp8 e4m3 keeps 3 mantissa bits, so rounding a weight costs at most 2^-4 of its magnitude
 * (half an ulp), ~2^-4/sqrt(3) = 3.6% RMS for errors spread uniformly in the ulp. One Linear's
 * output then carries about that relative RMS error (independent errors summed over K inputs
 * keep the relative size). The path from input to output crosses about 8 quantised Linears
 * with residual additions between them, and independent errors add in quadrature:
 * sqrt(8) x 3.6% = 10%. Subnormals (|w| < 2^-6, unscaled files) add an absolute error of at
 * most 2^-10, under 3% of the tiny model's smallest weight scale (1/sqrt(1024)). We allow
 * 15% relative RMS: a real layout or scale bug (a swapped half, a missing scale, the wrong
 * rows) gives O(100%). */
#define FP8_REL_RMS_BOUND 0.15
/* Same dequantised weights, so only summation order differs (the scale multiplies inside the
 * GEMM instead of into the stored weight). */
#define FP8_DEQUANT_TOL 1e-5

static bool tiny_set(tf_set *s) {
    memset(s, 0, sizeof *s);
    return CHECK_OK(tf_read(test_fixture(TINY_FLUX), s));
}

/* The tiny model's c0 output (computed once). */
static const fg_tensor *reference_out(void) {
    static fg_tensor ref;
    static bool tried;
    if (!tried) {
        tried = true;
        flux_case c;
        if (flux_tiny() && flux_case_load("c0", &c)) {
            fg_flux_inputs in = flux_case_inputs(&c);
            flux_run(flux_tiny(), &in, &ref, NULL);
            flux_case_free(&c);
        }
    }
    return ref.data ? &ref : NULL;
}

/* Detection of a written file: one FLUX component with the expected layout and config (the
 * block counts only for a whole model, not for one shard of it). */
static void check_detected_part(const char *path, const char *prefix, bool diffusers, fg_dtype dtype, bool whole) {
    fg_safetensors *st = NULL;
    fg_model_kind k;
    if (!CHECK_OK(fg_safetensors_open(path, &st))) return;
    if (CHECK_OK(fg_model_kind_detect(st, &k))) {
        CHECK(k.ncomponents == 1, "%zu components in %s", k.ncomponents, path);
        const fg_model_component *c = &k.components[0];
        const fg_flux_config *f = &c->config.u.flux;
        CHECK(c->family == FG_FAMILY_FLUX && c->diffusers == diffusers && strcmp(c->prefix, prefix) == 0,
              "%s: family %s, diffusers %d, prefix '%s'", path, fg_model_family_name(c->family), c->diffusers, c->prefix);
        CHECK(f->hidden == 256 && f->num_heads == 2 && f->guidance_embed, "%s: %s", path, k.kind);
        CHECK(!whole || (f->depth == 2 && f->depth_single == 2), "%s: %s", path, k.kind);
        CHECK(f->dtype == dtype, "%s: dtype %s", path, fg_dtype_name(f->dtype));
        printf("  detected %s\n", k.kind);
    }
    fg_safetensors_close(st);
}

static void check_detected(const char *path, const char *prefix, bool diffusers, fg_dtype dtype) {
    check_detected_part(path, prefix, diffusers, dtype, true);
}

/* Loads path, runs c0, and compares with want: max |diff| <= tol. */
static void check_same_output(const char *label, const char *path, const fg_tensor *want, double tol) {
    fg_tensor out;
    if (!want || !flux_run_file(path, &out)) {
        CHECK(want, "no reference output");
        return;
    }
    double d = flux_max_abs_diff(&out, want);
    printf("  %-34s max |diff| %.3g (limit %.3g)\n", label, d, tol);
    CHECK(d <= tol, "%s: %g", label, d);
    fg_tensor_free(&out);
}

void test_layout_prefixed(void) {
    tf_set bfl, pre = {0};
    if (!tiny_set(&bfl)) return;
    const char *path = test_tmp_file("ckpt-prefixed.safetensors");
    if (CHECK_OK(tf_prefixed(&bfl, DIT_PREFIX, &pre)) && CHECK_OK(tf_write(&pre, path))) {
        check_same_output("prefixed", path, reference_out(), 0.0);
        check_detected(path, DIT_PREFIX, false, FG_BF16);
    }
    tf_free(&bfl);
    tf_free(&pre);
}

void test_layout_diffusers(void) {
    tf_set bfl, dif = {0};
    if (!tiny_set(&bfl)) return;
    const char *path = test_tmp_file("diffusers.safetensors");
    if (CHECK_OK(tf_to_diffusers(&bfl, 256, &dif)) && CHECK_OK(tf_write(&dif, path))) {
        CHECK(dif.n > bfl.n, "the split q/k/v make more tensors (%zu vs %zu)", dif.n, bfl.n);
        CHECK(tf_find(&dif, "transformer_blocks.1.attn.add_v_proj.bias") && tf_find(&dif, "norm_out.linear.weight"));
        check_same_output("diffusers", path, reference_out(), 0.0);
        check_detected(path, "", true, FG_BF16);
        fg_flux_model *m = NULL;
        if (CHECK_OK(fg_flux_load(path, &m))) CHECK(m->diffusers);
        fg_flux_free(m);
    }
    tf_free(&bfl);
    tf_free(&dif);
}

void test_layout_diffusers_sharded(void) {
    tf_set bfl, dif = {0};
    if (!tiny_set(&bfl)) return;
    char index[1024];
    if (CHECK_OK(tf_to_diffusers(&bfl, 256, &dif)) &&
        CHECK_OK(tf_write_sharded(&dif, dif.n / 2, test_tmpdir(), index, sizeof index))) {
        check_same_output("diffusers, 2 shards + index", index, reference_out(), 0.0);
        /* info looks at one file: the first shard holds x_embedder */
        check_detected_part(test_tmp_file("diffusion_pytorch_model-00001-of-00002.safetensors"), "", true, FG_BF16, false);
    }
    tf_free(&bfl);
    tf_free(&dif);
}

/* Writes the quantised set q and its dequantised twin deq, checks the fp8 file against the
 * twin (tight) and against the bf16 reference (quantisation bound). */
static void check_fp8(const char *label, const tf_set *q, const tf_set *deq, const char *prefix, bool diffusers) {
    char qname[128], dname[128];
    snprintf(qname, sizeof qname, "%s-fp8.safetensors", label);
    snprintf(dname, sizeof dname, "%s-deq.safetensors", label);
    const char *qpath = test_tmp_file(qname), *dpath = test_tmp_file(dname);
    if (!CHECK_OK(tf_write(q, qpath)) || !CHECK_OK(tf_write(deq, dpath))) return;
    fg_tensor out, twin;
    if (!flux_run_file(qpath, &out)) return;
    if (flux_run_file(dpath, &twin)) {
        double d = flux_max_abs_diff(&out, &twin);
        printf("  %-34s max |diff| vs dequantised F32 twin %.3g (limit %.3g)\n", label, d, FP8_DEQUANT_TOL);
        CHECK(d <= FP8_DEQUANT_TOL, "%s: %g", label, d);
        fg_tensor_free(&twin);
    }
    const fg_tensor *ref = reference_out();
    double r = ref ? flux_rel_rms_diff(&out, ref) : INFINITY;
    printf("  %-34s relative RMS vs the bf16 model %.3g (bound %.2f)\n", label, r, FP8_REL_RMS_BOUND);
    CHECK(r <= FP8_REL_RMS_BOUND, "%s: %g", label, r);
    fg_tensor_free(&out);
    check_detected(qpath, prefix, diffusers, FG_F8_E4M3);
}

void test_layout_fp8_plain(void) {
    tf_set bfl, q = {0}, deq = {0};
    if (!tiny_set(&bfl)) return;
    if (CHECK_OK(tf_quantize_fp8(&bfl, TF_NO_SCALE, &q, &deq))) check_fp8("fp8 e4m3, no scales", &q, &deq, "", false);
    tf_free(&bfl), tf_free(&q), tf_free(&deq);
}

void test_layout_fp8_scaled(void) {
    tf_set bfl, pre = {0}, q = {0}, deq = {0};
    if (!tiny_set(&bfl)) return;
    /* a scaled all-in-one checkpoint: scales under the prefix too */
    if (CHECK_OK(tf_prefixed(&bfl, DIT_PREFIX, &pre)) && CHECK_OK(tf_quantize_fp8(&pre, TF_WEIGHT_SCALE, &q, &deq))) {
        CHECK(tf_find(&q, DIT_PREFIX "single_blocks.1.linear1.weight_scale") != NULL);
        check_fp8("fp8 e4m3 + weight_scale, prefixed", &q, &deq, DIT_PREFIX, false);
    }
    tf_free(&bfl), tf_free(&pre), tf_free(&q), tf_free(&deq);
}

/* Per-tensor scales on to_q/to_k/to_v differ, so the fused qkv cannot keep one scale: the
 * loader dequantises those parts. The twin is the same diffusers file dequantised tensor by
 * tensor (no layout knowledge), whose conversion test_layout_diffusers validated. */
void test_layout_fp8_diffusers_scaled(void) {
    tf_set bfl, dif = {0}, q = {0}, deq = {0}, twin = {0};
    if (!tiny_set(&bfl)) return;
    if (CHECK_OK(tf_to_diffusers(&bfl, 256, &dif)) && CHECK_OK(tf_quantize_fp8(&dif, TF_SCALE_WEIGHT, &q, &deq)) &&
        CHECK_OK(tf_dequantize(&q, &twin))) {
        CHECK(tf_find(&q, "scaled_fp8") && tf_find(&q, "norm_out.linear.scale_weight"));
        check_fp8("fp8 e4m3 + scale_weight, diffusers", &q, &twin, "", true);
    }
    tf_free(&bfl), tf_free(&dif), tf_free(&q), tf_free(&deq), tf_free(&twin);
}

/* ---- errors ------------------------------------------------------------------------------- */

/* Writes s to name and expects fg_flux_load to fail with a message containing needle. */
static void expect_load_error(const tf_set *s, const char *name, const char *needle) {
    const char *path = test_tmp_file(name);
    if (!CHECK_OK(tf_write(s, path))) return;
    fg_flux_model *m = NULL;
    CHECK_ERR(fg_flux_load(path, &m), needle);
    CHECK(m == NULL);
}

/* Replaces a tensor with a BF16 one of another shape. */
static void reshape_entry(tf_set *s, const char *name, int ndim, const int64_t *shape) {
    tf_entry *e = tf_find(s, name);
    CHECK(e != NULL, "%s", name);
    if (!e) return;
    fg_tensor t;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_BF16, ndim, shape))) return;
    fg_tensor_free_host(&e->t);
    e->t = t;
}

void test_load_errors_bfl(void) {
    tf_set s;
    if (!tiny_set(&s)) return;
    tf_remove(&s, "double_blocks.1.txt_mlp.2.bias");
    expect_load_error(&s, "missing.safetensors", "missing tensor 'double_blocks.1.txt_mlp.2.bias'");
    tf_free(&s);

    if (!tiny_set(&s)) return;
    reshape_entry(&s, "single_blocks.0.norm.key_norm.scale", 1, (const int64_t[]){64});
    expect_load_error(&s, "shape.safetensors", "'single_blocks.0.norm.key_norm.scale' has shape [64] but the model needs [128]");
    tf_free(&s);

    if (!tiny_set(&s)) return;
    reshape_entry(&s, "txt_in.weight", 2, (const int64_t[]){128, 64});
    expect_load_error(&s, "txt-in.safetensors", "'txt_in.weight' has shape [128, 64] but the model needs [256, 64]");
    tf_free(&s);

    /* the single blocks' MLP width (linear1 rows - 3H) must agree with the double blocks' */
    if (!tiny_set(&s)) return;
    reshape_entry(&s, "single_blocks.0.linear1.weight", 2, (const int64_t[]){3 * 256 + 512, 256});
    expect_load_error(&s, "mlp.safetensors", "MLP width 512");
    tf_free(&s);

    /* hostile shapes and dtypes: clean errors, no crash */
    if (!tiny_set(&s)) return;
    reshape_entry(&s, "img_in.weight", 1, (const int64_t[]){256});
    expect_load_error(&s, "img-in-1d.safetensors", "'img_in.weight' is BF16 [256], expected a 2-dim float tensor");
    tf_free(&s);

    if (!tiny_set(&s)) return;
    tf_entry *e = tf_find(&s, "double_blocks.0.img_mod.lin.weight");
    fg_tensor ints;
    if (e && CHECK_OK(fg_tensor_alloc_host(&ints, FG_I32, 2, e->t.shape))) {
        fg_tensor_free_host(&e->t);
        e->t = ints;
        expect_load_error(&s, "int-weight.safetensors", "'double_blocks.0.img_mod.lin.weight' has dtype I32");
    }
    tf_free(&s);

    tf_set pre = {0};
    if (!tiny_set(&s)) return;
    if (CHECK_OK(tf_prefixed(&s, DIT_PREFIX, &pre))) {
        tf_remove(&pre, DIT_PREFIX "final_layer.linear.bias");
        expect_load_error(&pre, "missing-prefixed.safetensors", "missing tensor '" DIT_PREFIX "final_layer.linear.bias'");
    }
    tf_free(&s);
    tf_free(&pre);

    tf_set other = {0};
    fg_tensor t;
    if (CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, 1, (const int64_t[]){4})) && CHECK_OK(tf_add(&other, "vae.x", &t)))
        expect_load_error(&other, "no-dit.safetensors", "no FLUX DiT");
    tf_free(&other);
}

void test_load_errors_diffusers(void) {
    tf_set bfl, dif = {0};
    if (!tiny_set(&bfl)) return;
    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    tf_remove(&dif, "transformer_blocks.1.attn.add_k_proj.weight");
    expect_load_error(&dif, "dif-missing-qkv.safetensors", "missing tensor 'transformer_blocks.1.attn.add_k_proj.weight'");
    tf_free(&dif);

    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    tf_remove(&dif, "context_embedder.bias");
    expect_load_error(&dif, "dif-missing-rename.safetensors", "missing tensor 'context_embedder.bias'");
    tf_free(&dif);

    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    tf_remove(&dif, "single_transformer_blocks.0.proj_mlp.bias");
    expect_load_error(&dif, "dif-missing-bias.safetensors", "missing tensor 'single_transformer_blocks.0.proj_mlp.bias'");
    tf_free(&dif);

    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    reshape_entry(&dif, "single_transformer_blocks.1.attn.to_v.weight", 2, (const int64_t[]){128, 256});
    expect_load_error(&dif, "dif-shape.safetensors", "'single_transformer_blocks.1.attn.to_v.weight' is BF16 [128, 256]");
    tf_free(&dif);

    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    reshape_entry(&dif, "x_embedder.weight", 1, (const int64_t[]){256});
    expect_load_error(&dif, "dif-x-1d.safetensors", "'x_embedder.weight' must be a matrix");
    tf_free(&dif);

    if (!CHECK_OK(tf_to_diffusers(&bfl, 256, &dif))) goto done;
    reshape_entry(&dif, "norm_out.linear.weight", 2, (const int64_t[]){256, 256});
    expect_load_error(&dif, "dif-norm-out.safetensors", "'norm_out.linear.weight' has shape [256, 256]");
done:
    tf_free(&bfl);
    tf_free(&dif);
}
