/* fp8 (F8_E4M3) copies of the tiny models, written here, against the F16 originals.
 *
 * Error bound: e4m3 keeps 3 mantissa bits, so rounding a weight to it has a relative error of
 * at most 2^-4 = 6.25% (about 3.6% rms for values spread over a binade; more for the small
 * weights that fall into e4m3's subnormal range when no scale is used). A linear output sums
 * many independent such errors, so its relative rms error stays near the per-weight figure;
 * with 7 quantised matrices per block plus the embedding, the errors of successive layers add
 * roughly in quadrature, damped by the RMS norms. Expected: several percent of the output's
 * L2 norm (measured 6-7.5% on the tiny T5). We require < 10%, and > 0.1% to prove the copy
 * really was quantised. The scaled
 * variants are checked exactly against an F32 copy holding the dequantised values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testing.h"
#include "tests/text_models/tm.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/t5_model.h"

#define FP8_MAX_REL_ERROR 0.10
#define FP8_MIN_REL_ERROR 0.001

/* The golden T5 inputs: two 256-token prompts. */
typedef struct t5_input {
    int32_t *ids;
    int64_t batch, len;
} t5_input;

static bool load_t5_input(t5_input *in) {
    fg_safetensors *g = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/t5.safetensors"), &g))) return false;
    in->ids = golden_ids(g, "input_ids", &in->batch, &in->len);
    fg_safetensors_close(g);
    return in->ids != NULL;
}

static bool t5_run(const char *path, const t5_input *in, fg_tensor *host) {
    fg_t5_model *m = NULL;
    fg_tensor out;
    bool ok = CHECK_OK(fg_t5_open(path, &m)) &&
              CHECK_OK(fg_t5_encode(m, FG_DEVICE_CPU, in->ids, in->batch, in->len, NULL, &out));
    if (ok) {
        ok = to_host(&out, host);
        fg_tensor_free(&out);
    }
    if (ok) CHECK(all_finite(host->data, fg_tensor_numel(host)), "%s: non-finite output", path);
    fg_t5_free(m);
    return ok;
}

static bool t5_copy_run(const model_copy *c, const char *file, const t5_input *in, fg_tensor *host) {
    const char *p = test_tmp_file(file);
    return write_model_copy(TINY_T5, p, c) && t5_run(p, in, host);
}

void test_t5_fp8_agrees_with_f16(void) {
    t5_input in = {0};
    fg_tensor ref;
    if (!load_t5_input(&in) || !t5_run(test_fixture(TINY_T5), &in, &ref)) {
        free(in.ids);
        return;
    }
    static const struct {
        fp8_mode mode;
        const char *label;
    } variants[] = {{FP8_PLAIN, "plain e4m3"},
                    {FP8_SCALE_WEIGHT, "e4m3 + scale_weight"},
                    {FP8_WEIGHT_SCALE, "e4m3 + weight_scale"}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        model_copy c = copy_defaults();
        c.fp8 = variants[v].mode;
        c.embedding = "shared.weight";
        fg_tensor out;
        if (!t5_copy_run(&c, "t5_fp8.safetensors", &in, &out)) continue;
        int64_t n = fg_tensor_numel(&ref);
        double rel = rel_l2_error(out.data, ref.data, n);
        printf("  t5 %-20s vs f16: relative L2 error %.4f, max abs %.4f\n", variants[v].label, rel,
               max_abs_diff(out.data, ref.data, n));
        CHECK(rel < FP8_MAX_REL_ERROR && rel > FP8_MIN_REL_ERROR, "%s: relative error %g", variants[v].label, rel);
        fg_tensor_free_host(&out);
    }
    fg_tensor_free_host(&ref);
    free(in.ids);
}

void test_t5_fp8_scaled_equals_dequantised(void) {
    t5_input in = {0};
    fg_tensor a, b, f32;
    if (!load_t5_input(&in)) return;
    model_copy c = copy_defaults();
    c.embedding = "shared.weight";
    c.fp8 = FP8_DEQUANT_F32;
    bool have_f32 = t5_copy_run(&c, "t5_dequant.safetensors", &in, &f32);
    c.fp8 = FP8_SCALE_WEIGHT;
    if (have_f32 && t5_copy_run(&c, "t5_scale_weight.safetensors", &in, &a)) {
        double d = max_abs_diff(a.data, f32.data, fg_tensor_numel(&a));
        printf("  t5 fp8 scale_weight vs its dequantised f32 copy: max abs %.3g\n", d);
        CHECK(d < 2e-5, "max abs %g", d);
        c.fp8 = FP8_WEIGHT_SCALE;
        if (t5_copy_run(&c, "t5_weight_scale.safetensors", &in, &b)) {
            CHECK(memcmp(a.data, b.data, fg_tensor_nbytes(&a)) == 0, "weight_scale and scale_weight differ");
            fg_tensor_free_host(&b);
        }
        fg_tensor_free_host(&a);
    }
    if (have_f32) fg_tensor_free_host(&f32);
    free(in.ids);
}

/* A NaN byte (0x7F or 0xFF) in an fp8 embedding row reads as 0, like ComfyUI's nan_to_num. */
void test_t5_fp8_nan_embedding_reads_as_zero(void) {
    t5_input in = {0};
    fg_tensor zero, nan_pos, nan_neg;
    if (!load_t5_input(&in)) return;
    model_copy c = copy_defaults();
    c.fp8 = FP8_PLAIN;
    c.embedding = "shared.weight";
    c.poke_index = (int64_t)in.ids[0] * 64 + 5; /* d_model 64: element 5 of the first token's row */
    c.poke_byte = 0x00;
    if (t5_copy_run(&c, "t5_fp8_zero.safetensors", &in, &zero)) {
        c.poke_byte = 0x7F;
        if (t5_copy_run(&c, "t5_fp8_nan.safetensors", &in, &nan_pos)) {
            CHECK(memcmp(zero.data, nan_pos.data, fg_tensor_nbytes(&zero)) == 0, "NaN 0x7F is not read as 0");
            fg_tensor_free_host(&nan_pos);
        }
        c.poke_byte = 0xFF;
        if (t5_copy_run(&c, "t5_fp8_nan.safetensors", &in, &nan_neg)) {
            CHECK(memcmp(zero.data, nan_neg.data, fg_tensor_nbytes(&zero)) == 0, "NaN 0xFF is not read as 0");
            fg_tensor_free_host(&nan_neg);
        }
        fg_tensor_free_host(&zero);
    }
    free(in.ids);
}

/* The upload path: the NaN table is cleaned in the view (fg_t5_sanitize_view), so its BF16
 * copy is finite and the model reads what the host model reads, up to BF16 weights. */
void test_t5_fp8_nan_embedding_upload(void) {
    t5_input in = {0};
    fg_tensor zero = {0}, out = {0}, host = {0};
    fg_weights *view = NULL, *up = NULL;
    fg_t5_model *m = NULL;
    if (!load_t5_input(&in)) return;
    model_copy c = copy_defaults();
    c.fp8 = FP8_PLAIN;
    c.embedding = "shared.weight";
    c.poke_index = (int64_t)in.ids[0] * 64 + 5;
    c.poke_byte = 0x00;
    const char *nan_file = test_tmp_file("t5_fp8_nan_up.safetensors");
    if (!t5_copy_run(&c, "t5_fp8_zero_up.safetensors", &in, &zero)) goto done;
    c.poke_byte = 0x7F;
    if (!write_model_copy(TINY_T5, nan_file, &c)) goto done;
    if (!CHECK_OK(fg_weights_open_at_anchor(nan_file, "encoder.final_layer_norm.weight", "T5", &view))) goto done;
    CHECK_OK(fg_t5_sanitize_view(view));
    if (!CHECK_OK(fg_weights_upload(view, FG_DEVICE_CPU, FG_BF16, &up, NULL)) || !CHECK_OK(fg_t5_load_owned(up, &m)))
        goto done;
    if (CHECK_OK(fg_t5_encode(m, FG_DEVICE_CPU, in.ids, in.batch, in.len, NULL, &out)) && to_host(&out, &host)) {
        CHECK(all_finite(host.data, fg_tensor_numel(&host)), "the NaN reached the BF16 copy");
        double d = 0;
        for (int64_t i = 0; i < fg_tensor_numel(&host); i++) {
            double e = fabs((double)((float *)host.data)[i] - (double)((float *)zero.data)[i]);
            if (!(e <= d)) d = e;
        }
        printf("  fp8 NaN table, BF16 upload vs host: max |diff| %.3g\n", d);
        CHECK(d < 0.25, "%g", d); /* BF16 weights: test_t5_bf16_golden's limit */
    }
done:
    fg_tensor_free(&out);
    fg_tensor_free_host(&host);
    fg_tensor_free_host(&zero);
    fg_t5_free(m);
    fg_weights_close(view);
    free(in.ids);
}

static bool clip_run(const char *path, const int32_t *ids, int64_t batch, int64_t len, fg_tensor *host) {
    fg_clip_model *m = NULL;
    fg_clip_outputs o;
    bool ok = CHECK_OK(fg_clip_open(path, &m)) &&
              CHECK_OK(fg_clip_encode(m, FG_DEVICE_CPU, ids, batch, len, FG_CLIP_LAST, &o));
    if (ok) {
        ok = to_host(&o.last_hidden, host);
        fg_clip_outputs_free(&o);
    }
    fg_clip_free(m);
    return ok;
}

void test_clip_fp8_scaled_equals_dequantised(void) {
    fg_safetensors *g = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/clip.safetensors"), &g))) return;
    int64_t batch, len;
    int32_t *ids = golden_ids(g, "input_ids", &batch, &len);
    fg_safetensors_close(g);
    fg_tensor a, f32, ref;
    model_copy c = copy_defaults();
    c.fp8 = FP8_DEQUANT_F32;
    const char *pf = test_tmp_file("clip_dequant.safetensors"), *pa = test_tmp_file("clip_fp8.safetensors");
    if (ids && write_model_copy(TINY_CLIP, pf, &c) && clip_run(pf, ids, batch, len, &f32)) {
        c.fp8 = FP8_WEIGHT_SCALE;
        if (write_model_copy(TINY_CLIP, pa, &c) && clip_run(pa, ids, batch, len, &a)) {
            double d = max_abs_diff(a.data, f32.data, fg_tensor_numel(&a));
            printf("  clip fp8 weight_scale vs its dequantised f32 copy: max abs %.3g\n", d);
            CHECK(d < 2e-5, "max abs %g", d);
            if (clip_run(test_fixture(TINY_CLIP), ids, batch, len, &ref)) {
                double rel = rel_l2_error(a.data, ref.data, fg_tensor_numel(&a));
                printf("  clip fp8 weight_scale vs f16: relative L2 error %.4f\n", rel);
                CHECK(rel < FP8_MAX_REL_ERROR && rel > FP8_MIN_REL_ERROR, "relative error %g", rel);
                fg_tensor_free_host(&ref);
            }
            fg_tensor_free_host(&a);
        }
        fg_tensor_free_host(&f32);
    }
    free(ids);
}
