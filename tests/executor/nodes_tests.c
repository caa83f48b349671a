/* Latent and image nodes called directly: exact shapes, batch_index rules, resize sizes,
 * crop rules, LoadImage's mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_resize.h"
#include "tests/executor/exec_helpers.h"
#include "tests/testing.h"

static fg_value obj(void *o) {
    return fg_value_object(fg_object_ref((fg_object *)o));
}

static void clear_values(fg_value *v, int n) {
    for (int i = 0; i < n; i++) fg_value_clear(&v[i]);
}

static const fg_latent *as_latent(const fg_value *v) {
    return v->type == FG_TYPE_LATENT ? (const fg_latent *)v->u.obj : NULL;
}

static void check_shape(const fg_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    CHECK(t->ndim == 4 && t->shape[0] == a && t->shape[1] == b && t->shape[2] == c && t->shape[3] == d,
          "shape [%lld,%lld,%lld,%lld], expected [%lld,%lld,%lld,%lld]", (long long)t->shape[0],
          (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3], (long long)a, (long long)b,
          (long long)c, (long long)d);
}

static void test_empty_latents(void) {
    fg_run_settings s = test_settings("empty");
    fg_value in[3] = {fg_value_int(1000), fg_value_int(1000), fg_value_int(2)}, out[1] = {0};
    if (CHECK_OK(call_node("EmptySD3LatentImage", &s, in, out, NULL))) {
        const fg_latent *l = as_latent(&out[0]);
        CHECK(l != NULL);
        if (l) {
            check_shape(&l->samples, 2, 16, 125, 125);
            double sum = 0;
            for (int64_t i = 0; i < fg_tensor_numel(&l->samples); i++) sum += fabs(((float *)l->samples.data)[i]);
            CHECK(sum == 0.0 && l->batch_index == NULL && l->noise_mask.data == NULL);
        }
    }
    clear_values(out, 1);
    in[0] = fg_value_int(520);
    in[1] = fg_value_int(64);
    in[2] = fg_value_int(1);
    if (CHECK_OK(call_node("EmptyLatentImage", &s, in, out, NULL)) && as_latent(&out[0]))
        check_shape(&as_latent(&out[0])->samples, 1, 4, 8, 65);
    clear_values(out, 1);
}

static fg_latent *with_index(fg_latent *l, const int64_t *idx, size_t n) {
    l->batch_index = malloc(n * sizeof *idx);
    memcpy(l->batch_index, idx, n * sizeof *idx);
    l->batch_index_count = n;
    return l;
}

static void test_latent_from_batch(void) {
    fg_run_settings s = test_settings("frombatch");
    fg_latent *l = pattern_latent(5, 2, 2, 2);
    if (!l) return;
    struct {
        int64_t index, length, want_first, want_len;
    } cases[] = {{0, 1, 0, 1}, {7, 3, 4, 1}, {1, 10, 1, 4}, {2, 2, 2, 2}, {4, 64, 4, 1},
                 /* ComfyUI 0.30: negative indices count from the end, then clamp */
                 {-1, 1, 4, 1}, {-2, 5, 3, 2}, {-5, 1, 0, 1}, {-16384, 2, 0, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fg_value in[3] = {obj(l), fg_value_int(cases[k].index), fg_value_int(cases[k].length)}, out[1] = {0};
        if (CHECK_OK(call_node("LatentFromBatch", &s, in, out, NULL))) {
            const fg_latent *r = as_latent(&out[0]);
            check_shape(&r->samples, cases[k].want_len, 2, 2, 2);
            CHECK(((float *)r->samples.data)[0] == (float)(cases[k].want_first * 1000), "case %zu", k);
            CHECK(r->batch_index_count == (size_t)cases[k].want_len && r->batch_index[0] == cases[k].want_first,
                  "case %zu batch_index", k);
        }
        clear_values(in, 3);
        clear_values(out, 1);
    }
    /* an existing batch_index is sliced; a 1-item mask is kept whole */
    int64_t idx[5] = {10, 11, 12, 13, 14};
    with_index(l, idx, 5);
    CHECK_OK(fg_tensor_alloc_host(&l->noise_mask, FG_F32, FG_SHAPE(1, 1, 2, 2)));
    fg_value in[3] = {obj(l), fg_value_int(3), fg_value_int(2)}, out[1] = {0};
    if (CHECK_OK(call_node("LatentFromBatch", &s, in, out, NULL))) {
        const fg_latent *r = as_latent(&out[0]);
        CHECK(r->batch_index_count == 2 && r->batch_index[0] == 13 && r->batch_index[1] == 14);
        CHECK(r->noise_mask.data && r->noise_mask.shape[0] == 1);
    }
    clear_values(in, 3);
    clear_values(out, 1);
    fg_object_unref(&l->base);
}

static void test_repeat_latent_batch(void) {
    fg_run_settings s = test_settings("repeat");
    fg_latent *l = pattern_latent(2, 1, 1, 2);
    if (!l) return;
    int64_t idx[2] = {2, 3};
    with_index(l, idx, 2);
    fg_value in[2] = {obj(l), fg_value_int(3)}, out[1] = {0};
    if (CHECK_OK(call_node("RepeatLatentBatch", &s, in, out, NULL))) {
        const fg_latent *r = as_latent(&out[0]);
        check_shape(&r->samples, 6, 1, 1, 2);
        const float *p = r->samples.data;
        for (int i = 0; i < 6; i++) CHECK(p[i * 2] == (float)((i % 2) * 1000), "item %d", i);
        int64_t want[6] = {2, 3, 4, 5, 6, 7};
        CHECK(r->batch_index_count == 6);
        for (size_t i = 0; i < 6 && i < r->batch_index_count; i++) CHECK(r->batch_index[i] == want[i]);
    }
    clear_values(in, 2);
    clear_values(out, 1);
    fg_object_unref(&l->base);
}

static void test_latent_upscale_sizes(void) {
    fg_run_settings s = test_settings("lup");
    fg_latent *l = pattern_latent(1, 4, 8, 16);
    if (!l) return;
    struct {
        int64_t w, h, lw, lh;
    } cases[] = {{0, 128, 32, 16}, {256, 0, 32, 16}, {32, 32, 8, 8}, {0, 0, 16, 8}, {200, 100, 25, 12}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fg_value in[5] = {obj(l), fg_value_string("bilinear"), fg_value_int(cases[k].w), fg_value_int(cases[k].h),
                          fg_value_string("disabled")},
                 out[1] = {0};
        if (CHECK_OK(call_node("LatentUpscale", &s, in, out, NULL)))
            check_shape(&as_latent(&out[0])->samples, 1, 4, cases[k].lh, cases[k].lw);
        clear_values(in, 5);
        clear_values(out, 1);
    }
    fg_value in[3] = {obj(l), fg_value_string("nearest-exact"), fg_value_float(1.5)}, out[1] = {0};
    if (CHECK_OK(call_node("LatentUpscaleBy", &s, in, out, NULL))) {
        check_shape(&as_latent(&out[0])->samples, 1, 4, 12, 24);
        /* nearest-exact at 1.5x: output x=1 samples source floor(1.5 / 1.5) = 1 */
        CHECK(((float *)as_latent(&out[0])->samples.data)[1] == 1.0f);
    }
    clear_values(out, 1);
    /* bislerp runs (tests/image/bislerp_cases.c checks its numbers against ComfyUI): the node
     * gives common_upscale's result for round(16 * 1.5) x round(8 * 1.5). */
    fg_value_clear(&in[1]);
    in[1] = fg_value_string("bislerp");
    float want[4 * 12 * 24];
    if (CHECK_OK(call_node("LatentUpscaleBy", &s, in, out, NULL)) &&
        CHECK_OK(fg_common_upscale(l->samples.data, 1, 4, 8, 16, want, 24, 12, FG_UPSCALE_BISLERP, FG_CROP_DISABLED))) {
        const fg_tensor *t = &as_latent(&out[0])->samples;
        check_shape(t, 1, 4, 12, 24);
        CHECK(fg_tensor_numel(t) == 4 * 12 * 24 && memcmp(t->data, want, sizeof want) == 0, "LatentUpscaleBy bislerp");
    }
    clear_values(in, 3);
    clear_values(out, 1);
    fg_value up[5] = {obj(l), fg_value_string("bislerp"), fg_value_int(96), fg_value_int(96), fg_value_string("center")};
    if (CHECK_OK(call_node("LatentUpscale", &s, up, out, NULL)) &&
        CHECK_OK(fg_common_upscale(l->samples.data, 1, 4, 8, 16, want, 12, 12, FG_UPSCALE_BISLERP, FG_CROP_CENTER))) {
        const fg_tensor *t = &as_latent(&out[0])->samples;
        check_shape(t, 1, 4, 12, 12);
        CHECK(fg_tensor_numel(t) == 4 * 12 * 12 && memcmp(t->data, want, 4 * 12 * 12 * sizeof *want) == 0,
              "LatentUpscale bislerp center");
    }
    clear_values(up, 5);
    clear_values(out, 1);
    fg_object_unref(&l->base);
}

static void test_image_scale(void) {
    fg_run_settings s = test_settings("iscale");
    fg_image_obj *im = pattern_image(1, 4, 8);
    if (!im) return;
    /* center crop 8x4 -> 4x4 keeps columns 2..5 (x = round((8 - 8 * 0.5) / 2) = 2) */
    fg_value in[5] = {obj(im), fg_value_string("nearest-exact"), fg_value_int(4), fg_value_int(4),
                      fg_value_string("center")},
             out[1] = {0};
    if (CHECK_OK(call_node("ImageScale", &s, in, out, NULL))) {
        const fg_image_obj *r = (const fg_image_obj *)out[0].u.obj;
        check_shape(&r->pixels, 1, 4, 4, 3);
        const float *src = im->pixels.data, *dst = r->pixels.data;
        bool same = true;
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                for (int c = 0; c < 3; c++) same &= dst[(y * 4 + x) * 3 + c] == src[(y * 8 + x + 2) * 3 + c];
        CHECK(same, "center crop window");
    }
    clear_values(out, 1);
    fg_value_clear(&in[2]);
    in[2] = fg_value_int(0);
    fg_value_clear(&in[3]);
    in[3] = fg_value_int(6); /* width derived: round(8 * 6 / 4) = 12 */
    if (CHECK_OK(call_node("ImageScale", &s, in, out, NULL)))
        check_shape(&((const fg_image_obj *)out[0].u.obj)->pixels, 1, 6, 12, 3);
    clear_values(out, 1);
    fg_value by[3] = {obj(im), fg_value_string("lanczos"), fg_value_float(0.5)};
    if (CHECK_OK(call_node("ImageScaleBy", &s, by, out, NULL)))
        check_shape(&((const fg_image_obj *)out[0].u.obj)->pixels, 1, 2, 4, 3);
    clear_values(by, 3);
    clear_values(out, 1);
    clear_values(in, 5);
    fg_object_unref(&im->base);
}

static void test_load_image(void) {
    fg_run_settings s = test_settings("load");
    CHECK(write_test_png(test_path("load", "input/rgba.png"), 5, 3, 4));
    CHECK(write_test_png(test_path("load", "input/rgb.png"), 5, 3, 3));
    fg_value in[1] = {fg_value_string("rgba.png")}, out[2] = {0};
    if (CHECK_OK(call_node("LoadImage", &s, in, out, NULL))) {
        const fg_image_obj *im = (const fg_image_obj *)out[0].u.obj, *mask = (const fg_image_obj *)out[1].u.obj;
        check_shape(&im->pixels, 1, 3, 5, 3);
        CHECK(out[1].type == FG_TYPE_MASK && mask->pixels.ndim == 3 && mask->pixels.shape[1] == 3 &&
              mask->pixels.shape[2] == 5);
        /* pixel (x=2, y=1): R = (2*37 + 11) = 85; alpha = 255 - 20 */
        CHECK(((float *)im->pixels.data)[(1 * 5 + 2) * 3] == 85.0f / 255.0f);
        CHECK(((float *)mask->pixels.data)[1 * 5 + 2] == 1.0f - 235.0f / 255.0f);
    }
    clear_values(in, 1);
    clear_values(out, 2);
    in[0] = fg_value_string("rgb.png");
    if (CHECK_OK(call_node("LoadImage", &s, in, out, NULL))) {
        const fg_image_obj *mask = (const fg_image_obj *)out[1].u.obj;
        CHECK(mask->pixels.shape[0] == 1 && mask->pixels.shape[1] == 64 && mask->pixels.shape[2] == 64);
    }
    clear_values(in, 1);
    clear_values(out, 2);
    in[0] = fg_value_string("../load/input/rgb.png");
    CHECK_ERR(call_node("LoadImage", &s, in, out, NULL), NULL);
    clear_values(in, 1);
    clear_values(out, 2);
}

void test_nodes_latent(void) {
    test_empty_latents();
    test_latent_from_batch();
    test_repeat_latent_batch();
    test_latent_upscale_sizes();
}

void test_nodes_image(void) {
    test_image_scale();
    test_load_image();
}
