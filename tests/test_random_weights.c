/* Random models in memory (models/random_weights.h): every tensor of the layout is there with
 * its shape, the requested dtype and values in the documented range; seeds are per tensor and
 * deterministic; the ordinary loaders build working models from the view; a model that cannot
 * fit is refused up front with the GiB needed and free. */
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/random_weights.h"
#include "tests/testing.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/t5_model.h"
#include "unet/flux_loader.h"
#include "vae/ae_model.h"

/* Largest |value| of a float tensor on the CPU; NAN when any value is not finite. */
static double max_abs(const fg_tensor *t) {
    double m = 0;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) {
        float v;
        fg_convert_to_f32(&v, (const char *)t->data + (size_t)i * fg_dtype_size(t->dtype), t->dtype, 1);
        if (!isfinite(v)) return NAN;
        if (fabs(v) > m) m = fabs(v);
    }
    return m;
}

static fg_error *flux_tiny_weights(fg_dtype dt, uint64_t seed, fg_layout *layout, fg_weights **w) {
    fg_flux_config c = fg_flux_config_tiny();
    *layout = (fg_layout){0};
    FG_TRY(fg_layout_flux(&c, layout));
    return fg_random_weights(layout, FG_DEVICE_CPU, dt, seed, "random tiny FLUX", w);
}

static void test_every_tensor_in_range(void) {
    fg_layout layout;
    fg_weights *w = NULL;
    if (!CHECK_OK(flux_tiny_weights(FG_BF16, 5, &layout, &w))) return;
    CHECK(fg_weights_count(w) == layout.count, "%zu tensors for %zu in the layout", fg_weights_count(w), layout.count);
    CHECK(fg_weights_device(w) == FG_DEVICE_CPU);
    CHECK(strcmp(fg_weights_path(w), "random tiny FLUX") == 0, "label %s", fg_weights_path(w));
    for (size_t i = 0; i < layout.count; i++) {
        const fg_layout_tensor *lt = &layout.tensors[i];
        fg_tensor t;
        if (!CHECK_OK(fg_weights_get_shaped(w, lt->name, lt->ndim, lt->shape, &t))) continue;
        CHECK(t.dtype == FG_BF16 && t.device == FG_DEVICE_CPU, "%s", lt->name);
        float lo, hi;
        fg_random_weights_range(lt, &lo, &hi);
        double m = max_abs(&t), bound = fmax(fabs(lo), fabs(hi));
        CHECK(m <= bound * 1.01 && m > 0, "%s: max |v| %g, range [%g, %g)", lt->name, m, lo, hi);
        /* Norm scales sit near 1 with a spread; weights scale with 1/sqrt(fan_in). */
        if (lt->init == FG_INIT_ONES) {
            float v = fg_bf16_to_f32(((const uint16_t *)t.data)[0]);
            CHECK(v >= 0.94f && v <= 1.06f, "%s[0] = %g", lt->name, v);
        }
        if (lt->init == FG_INIT_WEIGHT && fg_tensor_numel(&t) >= 4096)
            CHECK(m > 0.9 * bound, "%s: max |v| %g of a +-%g range", lt->name, m, bound);
    }
    fg_weights_close(w);
    fg_layout_free(&layout);
}

static void test_seeds(void) {
    fg_layout la, lb, lc;
    fg_weights *a = NULL, *b = NULL, *c = NULL;
    if (CHECK_OK(flux_tiny_weights(FG_F32, 9, &la, &a)) && CHECK_OK(flux_tiny_weights(FG_F32, 9, &lb, &b)) &&
        CHECK_OK(flux_tiny_weights(FG_F32, 10, &lc, &c))) {
        fg_tensor q1, q2, k1, q3;
        if (CHECK_OK(fg_weights_get(a, "double_blocks.0.img_attn.qkv.weight", &q1)) &&
            CHECK_OK(fg_weights_get(b, "double_blocks.0.img_attn.qkv.weight", &q2)) &&
            CHECK_OK(fg_weights_get(a, "double_blocks.0.txt_attn.qkv.weight", &k1)) &&
            CHECK_OK(fg_weights_get(c, "double_blocks.0.img_attn.qkv.weight", &q3))) {
            size_t n = fg_tensor_nbytes(&q1);
            CHECK(memcmp(q1.data, q2.data, n) == 0, "same seed, same bytes");
            CHECK(memcmp(q1.data, k1.data, n) != 0, "two tensors of one shape differ");
            CHECK(memcmp(q1.data, q3.data, n) != 0, "another seed, other bytes");
        }
    }
    CHECK(fg_random_weights_seed(1, "a.weight") != fg_random_weights_seed(1, "b.weight"));
    CHECK(fg_random_weights_seed(1, "a.weight") != fg_random_weights_seed(2, "a.weight"));
    fg_weights_close(a), fg_weights_close(b), fg_weights_close(c);
    fg_layout_free(&la), fg_layout_free(&lb), fg_layout_free(&lc);
}

static fg_error *fill(fg_tensor *t, int ndim, const int64_t *shape, float lo, float hi, uint64_t seed) {
    FG_TRY(fg_tensor_alloc(t, FG_DEVICE_CPU, FG_F32, ndim, shape));
    return fg_fill_uniform(t, seed, lo, hi);
}

/* The loader builds the DiT from the view, and a forward stays bounded. */
static void test_flux_loads_and_runs(void) {
    fg_layout layout;
    fg_weights *w = NULL;
    fg_flux_model *m = NULL;
    if (!CHECK_OK(flux_tiny_weights(FG_BF16, 1, &layout, &w))) return;
    fg_layout_free(&layout);
    if (!CHECK_OK(fg_flux_load_weights(w, &m))) return;
    fg_flux_config want = fg_flux_config_tiny();
    CHECK(m->p.arch.hidden == want.hidden && m->p.arch.depth == want.depth && m->p.arch.guidance_embed);
    fg_tensor x = {0}, ts = {0}, ctx = {0}, y = {0}, g = {0}, out = {0};
    if (CHECK_OK(fill(&x, FG_SHAPE(1, 16, 8, 8), -1, 1, 1)) && CHECK_OK(fill(&ts, FG_SHAPE(1), 0.5f, 1, 2)) &&
        CHECK_OK(fill(&ctx, FG_SHAPE(1, 16, 64), -1, 1, 3)) && CHECK_OK(fill(&y, FG_SHAPE(1, 128), -1, 1, 4)) &&
        CHECK_OK(fill(&g, FG_SHAPE(1), 3, 4, 5)) && CHECK_OK(fill(&out, FG_SHAPE(1, 16, 8, 8), 0, 0, 6))) {
        fg_flux_inputs in = {&x, &ts, &ctx, &y, &g};
        if (CHECK_OK(fg_flux_forward(m, &in, &out, NULL))) {
            double a = max_abs(&out);
            CHECK(a > 1e-3 && a < 100, "max |velocity| %g", a);
        }
    }
    fg_tensor *all[] = {&x, &ts, &ctx, &y, &g, &out};
    for (size_t i = 0; i < 6; i++) fg_tensor_free(all[i]);
    fg_flux_free(m);
}

static void test_text_encoders_and_vae(void) {
    fg_model_config t5c = {.family = FG_FAMILY_T5, .u.t5 = fg_t5_config_tiny()};
    fg_model_config clipc = {.family = FG_FAMILY_CLIP, .u.clip = fg_clip_config_tiny()};
    fg_model_config aec = {.family = FG_FAMILY_AE, .u.ae = fg_ae_config_tiny()};
    fg_weights *tw = NULL, *cw = NULL, *aw = NULL;
    fg_t5_model *t5 = NULL;
    fg_clip_model *clip = NULL;
    fg_vae *vae = NULL;
    const int32_t ids[8] = {49406, 320, 1125, 539, 320, 2368, 49407, 49407};
    if (CHECK_OK(fg_random_weights_for(&t5c, FG_DEVICE_CPU, FG_BF16, 2, "t5", &tw)) && CHECK_OK(fg_t5_load(tw, &t5))) {
        fg_tensor out = {0};
        int32_t t5ids[4] = {100, 200, 300, 1};
        if (CHECK_OK(fg_t5_encode(t5, FG_DEVICE_CPU, t5ids, 1, 4, NULL, &out))) {
            double a = max_abs(&out);
            CHECK(a > 1e-3 && a < 100, "T5 max |h| %g", a);
        }
        fg_tensor_free(&out);
    }
    if (CHECK_OK(fg_random_weights_for(&clipc, FG_DEVICE_CPU, FG_F16, 3, "clip", &cw)) &&
        CHECK_OK(fg_clip_load(cw, &clip))) {
        fg_clip_outputs o = {0};
        if (CHECK_OK(fg_clip_encode(clip, FG_DEVICE_CPU, ids, 1, 8, FG_CLIP_POOLED, &o))) {
            double a = max_abs(&o.pooled);
            CHECK(a > 1e-3 && a < 100, "CLIP max |pooled| %g", a);
        }
        fg_clip_outputs_free(&o);
    }
    if (CHECK_OK(fg_random_weights_for(&aec, FG_DEVICE_CPU, FG_F32, 4, "vae", &aw)) && CHECK_OK(fg_vae_load(aw, &vae))) {
        fg_tensor z = {0}, img = {0};
        if (CHECK_OK(fill(&z, FG_SHAPE(1, 16, 4, 4), -1, 1, 7)) && CHECK_OK(fill(&img, FG_SHAPE(1, 3, 32, 32), 0, 0, 8)) &&
            CHECK_OK(fg_vae_decode(vae, &z, &img))) {
            double a = max_abs(&img);
            CHECK(a > 1e-3 && a < 100, "VAE max |pixel| %g", a);
        }
        fg_tensor_free(&z);
        fg_tensor_free(&img);
    }
    fg_t5_free(t5), fg_clip_free(clip), fg_vae_free(vae);
    fg_weights_close(tw), fg_weights_close(cw), fg_weights_close(aw);
}

/* Far more than any machine has: refused before a single allocation, naming both sizes. */
static void test_too_large(void) {
    fg_flux_config c = fg_flux_config_dev();
    c.hidden = 16384, c.num_heads = 128, c.mlp_hidden = 65536, c.depth = 4000;
    fg_model_config mc = {.family = FG_FAMILY_FLUX, .u.flux = c};
    fg_weights *w = NULL;
    fg_error *err = fg_random_weights_for(&mc, FG_DEVICE_CPU, FG_BF16, 1, "random huge FLUX", &w);
    CHECK(err && fg_error_code_of(err) == FG_ERR_OUT_OF_MEMORY, "expected out of memory");
    if (err) {
        const char *msg = fg_error_message(err);
        CHECK(strstr(msg, "random huge FLUX needs") && strstr(msg, "GiB") && strstr(msg, "free"), "%s", msg);
        fg_error_free(err);
    }
    CHECK(w == NULL);
}

static void test_bad_arguments(void) {
    fg_layout layout = {0};
    fg_weights *w = NULL;
    CHECK_ERR(fg_random_weights(&layout, FG_DEVICE_CPU, FG_BF16, 1, "empty", &w), "no tensors");
    fg_flux_config c = fg_flux_config_tiny();
    if (CHECK_OK(fg_layout_flux(&c, &layout))) {
        CHECK_ERR(fg_random_weights(&layout, FG_DEVICE_CPU, FG_I32, 1, "ints", &w), "dtype I32");
        CHECK_ERR(fg_random_weights(&layout, FG_DEVICE_CPU, FG_F8_E4M3, 1, "fp8", &w), "dtype F8_E4M3");
        if (!fg_device_available(FG_DEVICE_CUDA))
            CHECK_ERR(fg_random_weights(&layout, FG_DEVICE_CUDA, FG_BF16, 1, "gpu", &w), "not available");
        CHECK(fg_random_weights_bytes(&layout, FG_BF16) == 2 * fg_layout_params(&layout));
        CHECK(fg_random_weights_bytes(&layout, FG_F32) == 4 * fg_layout_params(&layout));
    }
    CHECK(w == NULL);
    fg_layout_free(&layout);
    c.num_heads = 3; /* 256 is not a multiple of 3 */
    fg_model_config mc = {.family = FG_FAMILY_FLUX, .u.flux = c};
    CHECK_ERR(fg_random_weights_for(&mc, FG_DEVICE_CPU, FG_BF16, 1, "bad", &w), "not a multiple");
}

int main(void) {
    RUN_TEST(test_every_tensor_in_range);
    RUN_TEST(test_seeds);
    RUN_TEST(test_flux_loads_and_runs);
    RUN_TEST(test_text_encoders_and_vae);
    RUN_TEST(test_too_large);
    RUN_TEST(test_bad_arguments);
    return test_summary();
}
