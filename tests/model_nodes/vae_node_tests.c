/* VAE nodes: decode against the golden tiny-VAE image, encode against the golden mean, the
 * crop rule, channel handling of empty latents, tiled variants. */
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "model_nodes.h"
#include "tests/testing.h"

static fg_vae_obj *vae;

static fg_value latent_value(fg_tensor *samples) {
    fg_latent *l = NULL;
    if (!CHECK_OK(fg_latent_new(samples, &l))) return (fg_value){.type = FG_TYPE_NONE};
    return fg_value_object(&l->base);
}

static fg_value image_value(fg_tensor *pixels) {
    fg_image_obj *im = NULL;
    if (!CHECK_OK(fg_image_obj_new(FG_TYPE_IMAGE, pixels, &im))) return (fg_value){.type = FG_TYPE_NONE};
    return fg_value_object(&im->base);
}

/* Runs a VAE node on `first` (consumed) with extra INT inputs; returns its output object. */
static fg_object *run_vae_node(const char *cls, fg_value first, int64_t tile, int64_t overlap) {
    fg_value in[6] = {first, fg_value_object(fg_object_ref(&vae->base)), fg_value_int(tile), fg_value_int(overlap),
                      fg_value_int(64), fg_value_int(8)};
    fg_value out[1];
    fg_object *o = NULL;
    if (CHECK_OK(mn_run(cls, in, out))) {
        o = fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    mn_clear(in, 6);
    return o;
}

static void test_vae_decode_matches_golden(void) {
    fg_tensor z = {0}, want = {0};
    if (!vae || !mn_golden("golden/ae.safetensors", "z", &z, false) ||
        !mn_golden("golden/ae.safetensors", "image_u8", &want, true)) {
        fg_tensor_free_host(&z);
        return;
    }
    fg_image_obj *im = (fg_image_obj *)run_vae_node("VAEDecode", latent_value(&z), 0, 0);
    if (im) {
        CHECK(im->base.type == FG_TYPE_IMAGE);
        CHECK(im->pixels.ndim == 4 && im->pixels.shape[1] == 64 && im->pixels.shape[3] == 3);
        /* image_u8 truncates 255*x: x lies in [u8/255, (u8+1)/255) */
        float d = mn_max_abs_diff(&im->pixels, &want);
        CHECK(d <= 1.0f / 255.0f + 1e-6f, "max diff %g (x255 = %g)", d, d * 255);
        const float *p = im->pixels.data;
        bool in_range = true;
        for (int64_t i = 0; i < fg_tensor_numel(&im->pixels); i++) in_range = in_range && p[i] >= 0.0f && p[i] <= 1.0f;
        CHECK(in_range, "clamped to 0..1");
        fg_object_unref(&im->base);
    }
    fg_tensor_free_host(&want);
}

static void test_vae_encode_matches_golden(void) {
    fg_tensor px = {0}, mean = {0};
    if (!vae || !mn_golden("golden/ae.safetensors", "pixels_u8", &px, true) ||
        !mn_golden("golden/ae.safetensors", "mean", &mean, false)) {
        fg_tensor_free_host(&px);
        return;
    }
    fg_latent *l = (fg_latent *)run_vae_node("VAEEncode", image_value(&px), 0, 0);
    if (l) {
        CHECK(l->base.type == FG_TYPE_LATENT);
        float d = mn_max_abs_diff(&l->samples, &mean);
        CHECK(d <= 1e-4f, "mean max abs diff %g", d);
        /* round trip: decode the encoding back to an image of the input's size */
        fg_tensor s = {0};
        if (CHECK_OK(fg_tensor_alloc_host(&s, FG_F32, l->samples.ndim, l->samples.shape))) {
            memcpy(s.data, l->samples.data, fg_tensor_nbytes(&s));
            fg_image_obj *im = (fg_image_obj *)run_vae_node("VAEDecode", latent_value(&s), 0, 0);
            if (im) {
                CHECK(im->pixels.shape[0] == 1 && im->pixels.shape[1] == 64 && im->pixels.shape[2] == 64 &&
                      im->pixels.shape[3] == 3);
                fg_object_unref(&im->base);
            }
        }
        fg_object_unref(&l->base);
    }
    fg_tensor_free_host(&mean);
}

/* A [1,h,w,c] image with deterministic contents. */
static bool make_image(fg_tensor *t, int64_t h, int64_t w, int64_t c) {
    if (!CHECK_OK(fg_tensor_alloc_host(t, FG_F32, FG_SHAPE(1, h, w, c)))) return false;
    float *p = t->data;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) p[i] = (float)((i * 37) % 101) / 100.0f;
    return true;
}

static void test_vae_encode_center_crop(void) {
    if (!vae) return;
    /* 61 rows -> 56 (offset 2), 70 cols -> 64 (offset 3); a 4th channel is dropped */
    fg_tensor big = {0}, small = {0};
    if (!make_image(&big, 61, 70, 4) || !CHECK_OK(fg_tensor_alloc_host(&small, FG_F32, FG_SHAPE(1, 56, 64, 3)))) {
        fg_tensor_free_host(&big);
        return;
    }
    const float *b = big.data;
    float *s = small.data;
    for (int64_t y = 0; y < 56; y++)
        for (int64_t x = 0; x < 64; x++)
            for (int64_t c = 0; c < 3; c++) s[(y * 64 + x) * 3 + c] = b[((y + 2) * 70 + x + 3) * 4 + c];
    fg_latent *a = (fg_latent *)run_vae_node("VAEEncode", image_value(&big), 0, 0);
    fg_latent *e = (fg_latent *)run_vae_node("VAEEncode", image_value(&small), 0, 0);
    if (a && e) {
        CHECK(a->samples.shape[1] == 16 && a->samples.shape[2] == 7 && a->samples.shape[3] == 8);
        CHECK(mn_max_abs_diff(&a->samples, &e->samples) == 0.0f, "the crop is centred as ComfyUI's");
    }
    if (a) fg_object_unref(&a->base);
    if (e) fg_object_unref(&e->base);
    fg_tensor tiny = {0};
    if (make_image(&tiny, 7, 64, 3)) {
        fg_value in[2] = {image_value(&tiny), fg_value_object(fg_object_ref(&vae->base))}, out[1];
        CHECK_ERR(mn_run("VAEEncode", in, out), "smaller than");
        mn_clear(in, 2);
    }
}

static void test_vae_decode_channels(void) {
    if (!vae) return;
    fg_tensor z4 = {0}, z16 = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&z4, FG_F32, FG_SHAPE(2, 4, 4, 6))) ||
        !CHECK_OK(fg_tensor_alloc_host(&z16, FG_F32, FG_SHAPE(2, 16, 4, 6)))) {
        fg_tensor_free_host(&z4);
        return;
    }
    /* an EmptyLatentImage (4 zero channels) decodes like the 16-channel zeros */
    fg_image_obj *a = (fg_image_obj *)run_vae_node("VAEDecode", latent_value(&z4), 0, 0);
    fg_image_obj *b = (fg_image_obj *)run_vae_node("VAEDecode", latent_value(&z16), 0, 0);
    if (a && b) {
        CHECK(a->pixels.shape[0] == 2 && a->pixels.shape[1] == 32 && a->pixels.shape[2] == 48);
        CHECK(mn_max_abs_diff(&a->pixels, &b->pixels) == 0.0f);
    }
    if (a) fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
    fg_tensor nz = {0};
    if (CHECK_OK(fg_tensor_alloc_host(&nz, FG_F32, FG_SHAPE(1, 4, 4, 4)))) {
        ((float *)nz.data)[5] = 1.0f;
        fg_value in[2] = {latent_value(&nz), fg_value_object(fg_object_ref(&vae->base))}, out[1];
        CHECK_ERR(mn_run("VAEDecode", in, out), "4 channels");
        mn_clear(in, 2);
    }
    fg_value none_in[2] = {{.type = FG_TYPE_NONE}, fg_value_object(fg_object_ref(&vae->base))}, out[1];
    CHECK_ERR(mn_run("VAEDecode", none_in, out), "samples input is invalid");
    mn_clear(none_in, 2);
    fg_tensor z = {0};
    if (CHECK_OK(fg_tensor_alloc_host(&z, FG_F32, FG_SHAPE(1, 16, 2, 2)))) {
        fg_value in[2] = {latent_value(&z), {.type = FG_TYPE_NONE}};
        CHECK_ERR(mn_run("VAEDecode", in, out), "vae input is invalid: None");
        mn_clear(in, 2);
    }
}

static void test_vae_tiled_nodes(void) {
    fg_tensor z = {0}, z2 = {0}, z3 = {0};
    if (!vae || !mn_golden("golden/ae.safetensors", "z", &z, false) ||
        !mn_golden("golden/ae.safetensors", "z", &z2, false) || !mn_golden("golden/ae.safetensors", "z", &z3, false)) {
        fg_tensor_free_host(&z);
        fg_tensor_free_host(&z2);
        return;
    }
    fg_image_obj *whole = (fg_image_obj *)run_vae_node("VAEDecode", latent_value(&z3), 0, 0);
    /* tile 64 < 4 * overlap 32: overlap becomes 16, so both runs are the same */
    fg_image_obj *a = (fg_image_obj *)run_vae_node("VAEDecodeTiled", latent_value(&z), 64, 32);
    fg_image_obj *b = (fg_image_obj *)run_vae_node("VAEDecodeTiled", latent_value(&z2), 64, 16);
    if (a && b && whole) {
        CHECK(fg_tensor_same_shape(&a->pixels, &whole->pixels));
        CHECK(mn_max_abs_diff(&a->pixels, &b->pixels) == 0.0f, "overlap rule");
        float d = mn_max_abs_diff(&a->pixels, &whole->pixels);
        CHECK(d < 0.5f, "tiled decode close to the whole decode (%g)", d);
    }
    fg_image_obj *objs[] = {a, b, whole};
    for (int i = 0; i < 3; i++)
        if (objs[i]) fg_object_unref(&objs[i]->base);
    fg_tensor im = {0};
    if (make_image(&im, 64, 64, 3)) {
        fg_latent *l = (fg_latent *)run_vae_node("VAEEncodeTiled", image_value(&im), 64, 16);
        if (l) {
            CHECK(l->samples.shape[0] == 1 && l->samples.shape[1] == 16 && l->samples.shape[2] == 8 &&
                  l->samples.shape[3] == 8);
            fg_object_unref(&l->base);
        }
    }
}

void vae_node_tests(void) {
    vae = mn_vae("tiny-ae.safetensors");
    RUN_TEST(test_vae_decode_matches_golden);
    RUN_TEST(test_vae_encode_matches_golden);
    RUN_TEST(test_vae_encode_center_crop);
    RUN_TEST(test_vae_decode_channels);
    RUN_TEST(test_vae_tiled_nodes);
    if (vae) fg_object_unref(&vae->base);
    vae = NULL;
}
