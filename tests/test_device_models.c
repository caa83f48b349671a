/* Loaders placing models (nodes/model_objects.h's fg_model_placement): the CPU with BF16
 * activations runs the GPU's path (weights uploaded as BF16 into one block per model), cached
 * per placement; LoRAs patch the host copy and are placed like their base; text encoders and
 * the VAE keep F32 host tensors at their interfaces. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/weights.h"
#include "nodes/model_objects.h"
#include "tests/testing.h"
#include "unet/flux_model.h"
#include "vae/ae_model.h"

static const fg_model_placement bf16_cpu = {FG_DEVICE_CPU, FG_BF16};

static char flux_path[4096], clip_path[4096], t5_path[4096], vae_path[4096], lora_path[4096];

static void fixture_paths(void) {
    snprintf(flux_path, sizeof flux_path, "%s", test_fixture("models/diffusion_models/tiny-flux.safetensors"));
    snprintf(clip_path, sizeof clip_path, "%s", test_fixture("models/text_encoders/tiny-clip-l.safetensors"));
    snprintf(t5_path, sizeof t5_path, "%s", test_fixture("models/text_encoders/tiny-t5xxl.safetensors"));
    snprintf(vae_path, sizeof vae_path, "%s", test_fixture("models/vae/tiny-ae.safetensors"));
    snprintf(lora_path, sizeof lora_path, "%s", test_fixture("lora/kohya_r8.safetensors"));
}

static double max_abs(const fg_tensor *a, const fg_tensor *b) {
    if (fg_tensor_numel(a) != fg_tensor_numel(b)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < fg_tensor_numel(a); i++) {
        double d = fabs((double)((const float *)a->data)[i] - (double)((const float *)b->data)[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* v = model(x) on fixed inputs with 8 text tokens (F32 host tensors at the interface). */
static bool run_dit(const fg_flux_model *m, fg_tensor *v) {
    const fg_flux_config *a = &m->p.arch;
    fg_tensor x = {0}, ts = {0}, ctx = {0}, y = {0}, g = {0};
    bool ok = CHECK_OK(fg_tensor_alloc(&x, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 16, 8, 8))) &&
              CHECK_OK(fg_tensor_alloc(&ts, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1))) &&
              CHECK_OK(fg_tensor_alloc(&g, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1))) &&
              CHECK_OK(fg_tensor_alloc(&ctx, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 8, a->context_in_dim))) &&
              CHECK_OK(fg_tensor_alloc(&y, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, a->vec_in_dim))) &&
              CHECK_OK(fg_fill_uniform(&x, 1, -1, 1)) && CHECK_OK(fg_fill_uniform(&ctx, 2, -1, 1)) &&
              CHECK_OK(fg_fill_uniform(&y, 3, -1, 1)) &&
              CHECK_OK(fg_tensor_alloc(v, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 16, 8, 8)));
    if (ok) {
        ((float *)ts.data)[0] = 0.7f, ((float *)g.data)[0] = 3.5f;
        const fg_flux_inputs in = {.x = &x, .timestep = &ts, .context = &ctx, .y = &y, .guidance = &g};
        ok = CHECK_OK(fg_flux_forward(m, &in, v, NULL));
    }
    fg_tensor *all[] = {&x, &ts, &ctx, &y, &g};
    for (int i = 0; i < 5; i++) fg_tensor_free(all[i]);
    return ok;
}

static void test_dit_placement_and_cache(void) {
    size_t at_start = fg_model_cache_size();
    fg_model_obj *f32 = NULL, *bf16 = NULL, *again = NULL;
    fg_tensor v32 = {0}, v16 = {0};
    if (!CHECK_OK(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, NULL, &f32))) return;
    if (!CHECK_OK(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, &bf16_cpu, &bf16))) goto done;
    CHECK_OK(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, &bf16_cpu, &again));
    CHECK(f32->slot != bf16->slot && again && again->slot == bf16->slot, "one slot per placement");
    CHECK(fg_model_cache_size() == at_start + 2);
    CHECK(f32->flux->act_dtype == FG_F32 && bf16->flux->act_dtype == FG_BF16);
    CHECK(bf16->where.act_dtype == FG_BF16 && bf16->where.device == FG_DEVICE_CPU);
    CHECK(fg_weights_device(bf16->flux->weights) == FG_DEVICE_CPU);
    CHECK(!fg_weights_has(f32->flux->weights, "no.such") && fg_weights_count(bf16->flux->weights) > 0);
    if (run_dit(f32->flux, &v32) && run_dit(bf16->flux, &v16)) {
        double d = max_abs(&v32, &v16);
        printf("  DiT bf16 vs f32 placement: max |diff| %.3g\n", d);
        CHECK(d > 0 && d < 0.05, "%g", d); /* tests/flux/flux_device.c's BF16 tolerance */
    }
done:
    fg_tensor_free(&v32), fg_tensor_free(&v16);
    fg_model_obj *all[] = {f32, bf16, again};
    for (int i = 0; i < 3; i++)
        if (all[i]) fg_object_unref(&all[i]->base);
    CHECK(fg_model_cache_size() == at_start, "%zu slots left", fg_model_cache_size());
}

/* A LoRA on a BF16-placed DiT: patched on the host from the base's file, placed like the base. */
static void test_lora_on_placed_model(void) {
    fg_model_obj *base32 = NULL, *base16 = NULL, *l32 = NULL, *l16 = NULL;
    fg_tensor a = {0}, b = {0}, c = {0};
    if (!CHECK_OK(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, NULL, &base32)) ||
        !CHECK_OK(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, &bf16_cpu, &base16)))
        goto done;
    if (!CHECK_OK(fg_lora_apply_objects(base32, NULL, lora_path, 1.0, 0, false, &l32, NULL)) ||
        !CHECK_OK(fg_lora_apply_objects(base16, NULL, lora_path, 1.0, 0, false, &l16, NULL)))
        goto done;
    CHECK(l16->where.act_dtype == FG_BF16 && l16->flux->act_dtype == FG_BF16 && l16->slot != l32->slot);
    if (run_dit(l32->flux, &a) && run_dit(l16->flux, &b) && run_dit(base16->flux, &c)) {
        double d = max_abs(&a, &b), moved = max_abs(&b, &c);
        printf("  LoRA DiT bf16 vs f32: max |diff| %.3g; the LoRA moves the bf16 output by %.3g\n", d, moved);
        CHECK(d < 0.05 && moved > 4 * d, "%g %g", d, moved);
    }
done:
    fg_tensor_free(&a), fg_tensor_free(&b), fg_tensor_free(&c);
    fg_model_obj *all[] = {base32, base16, l32, l16};
    for (int i = 0; i < 4; i++)
        if (all[i]) fg_object_unref(&all[i]->base);
}

static void test_text_and_vae_placement(void) {
    fg_clip_obj *c32 = NULL, *c16 = NULL;
    fg_vae_obj *v32 = NULL, *v16 = NULL;
    fg_tensor cond32 = {0}, pooled32 = {0}, cond16 = {0}, pooled16 = {0}, z = {0}, d32 = {0}, d16 = {0};
    const int32_t clip_ids[8] = {49406, 320, 1125, 539, 320, 2368, 49407, 49407};
    const int32_t t5_ids[6] = {8, 1782, 13, 3, 9, 1};
    if (!CHECK_OK(fg_clip_obj_load(clip_path, t5_path, NULL, &c32)) ||
        !CHECK_OK(fg_clip_obj_load(clip_path, t5_path, &bf16_cpu, &c16)))
        goto done;
    CHECK(c16->where.act_dtype == FG_BF16 && c16->clip_l_slot != c32->clip_l_slot);
    if (CHECK_OK(fg_clip_obj_encode(c32, clip_ids, NULL, 1, 8, t5_ids, NULL, 6, &cond32, &pooled32)) &&
        CHECK_OK(fg_clip_obj_encode(c16, clip_ids, NULL, 1, 8, t5_ids, NULL, 6, &cond16, &pooled16))) {
        CHECK(cond16.dtype == FG_F32 && cond16.device == FG_DEVICE_CPU, "F32 host conditioning");
        double dc = max_abs(&cond32, &cond16), dp = max_abs(&pooled32, &pooled16);
        printf("  text bf16 vs f32: cond %.3g, pooled %.3g\n", dc, dp);
        CHECK(dc > 0 && dc < 0.25 && dp > 0 && dp < 0.1, "%g %g", dc, dp); /* test_text_models' limits */
    }
    if (!CHECK_OK(fg_vae_obj_load(vae_path, NULL, &v32)) || !CHECK_OK(fg_vae_obj_load(vae_path, &bf16_cpu, &v16)))
        goto done;
    CHECK(v16->slot != v32->slot);
    if (CHECK_OK(fg_tensor_alloc(&z, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 16, 4, 4))) &&
        CHECK_OK(fg_fill_uniform(&z, 5, -1, 1)) &&
        CHECK_OK(fg_tensor_alloc(&d32, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 3, 32, 32))) &&
        CHECK_OK(fg_tensor_alloc(&d16, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 3, 32, 32))) &&
        CHECK_OK(fg_vae_decode(v32->vae, &z, &d32)) && CHECK_OK(fg_vae_decode(v16->vae, &z, &d16))) {
        double d = max_abs(&d32, &d16);
        printf("  VAE decode bf16 vs f32: %.3g\n", d);
        CHECK(d > 0 && d < 0.12, "%g", d); /* test_vae's limit */
    }
done:
    fg_tensor *all[] = {&cond32, &pooled32, &cond16, &pooled16, &z, &d32, &d16};
    for (int i = 0; i < 7; i++) fg_tensor_free(all[i]);
    if (c32) fg_object_unref(&c32->base);
    if (c16) fg_object_unref(&c16->base);
    if (v32) fg_object_unref(&v32->base);
    if (v16) fg_object_unref(&v16->base);
}

/* A placement on a device this binary or machine lacks fails with a clear error. */
static void test_missing_device(void) {
    if (fg_device_available(FG_DEVICE_CUDA)) return; /* the GPU machine runs the real thing */
    const fg_model_placement cuda = {FG_DEVICE_CUDA, FG_BF16};
    fg_model_obj *m = NULL;
    fg_vae_obj *v = NULL;
    CHECK_ERR(fg_model_obj_load(flux_path, FG_WEIGHT_DEFAULT, &cuda, &m), "no cuda device");
    CHECK_ERR(fg_vae_obj_load(vae_path, &cuda, &v), "no cuda device");
    CHECK(!m && !v);
}

int main(void) {
    fixture_paths();
    RUN_TEST(test_dit_placement_and_cache);
    RUN_TEST(test_lora_on_placed_model);
    RUN_TEST(test_text_and_vae_placement);
    RUN_TEST(test_missing_device);
    return test_summary();
}
