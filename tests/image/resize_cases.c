/* common_upscale against tools/gen_resize_fixture.py (numpy re-implementation of PyTorch's
 * formulas; Pillow itself for lanczos) and hand-checked small cases. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_resize.h"
#include "tests/image/image_tests.h"
#include "tests/testing.h"

static float *json_floats(json_t *arr, size_t expect) {
    if (!json_is_array(arr) || json_array_size(arr) != expect) return NULL;
    float *v = malloc(sizeof *v * (expect ? expect : 1));
    if (!v) return NULL;
    for (size_t i = 0; i < expect; i++) v[i] = (float)json_number_value(json_array_get(arr, i));
    return v;
}

static void run_fixture_case(json_t *c, int *counts) {
    const char *method_name = json_string_value(json_object_get(c, "method"));
    const char *crop_name = json_string_value(json_object_get(c, "crop"));
    json_t *shape = json_object_get(c, "shape");
    int width = (int)json_integer_value(json_object_get(c, "width"));
    int height = (int)json_integer_value(json_object_get(c, "height"));
    CHECK(method_name && crop_name && json_array_size(shape) == 4);
    if (!method_name || !crop_name || json_array_size(shape) != 4) return;
    int64_t d[4];
    for (int i = 0; i < 4; i++) d[i] = json_integer_value(json_array_get(shape, i));
    fg_upscale_method method;
    fg_upscale_crop crop;
    if (!CHECK_OK(fg_upscale_method_parse(method_name, &method)) || !CHECK_OK(fg_upscale_crop_parse(crop_name, &crop))) return;
    size_t n_in = (size_t)(d[0] * d[1] * d[2] * d[3]), n_out = (size_t)(d[0] * d[1]) * width * height;
    float *in = json_floats(json_object_get(c, "input"), n_in);
    float *want = json_floats(json_object_get(c, "output"), n_out);
    float *got = calloc(n_out, sizeof *got);
    CHECK(in && want && got, "fixture case %s: bad arrays", method_name);
    if (in && want && got &&
        CHECK_OK(fg_common_upscale(in, d[0], d[1], (int)d[2], (int)d[3], got, width, height, method, crop))) {
        double worst = 0;
        size_t exact = 0;
        for (size_t i = 0; i < n_out; i++) {
            double diff = fabs((double)got[i] - want[i]);
            if (diff > worst) worst = diff;
            exact += got[i] == want[i];
        }
        /* Same float32 operations in the same order: bit-exact but for the %.9g storage. */
        CHECK(worst <= 1e-6, "%s %s %lldx%lldx%lldx%lld -> %dx%d: max diff %g", method_name, crop_name,
              (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3], width, height, worst);
        CHECK(exact * 10 >= n_out * 9, "%s: only %zu of %zu values exact", method_name, exact, n_out);
        counts[method]++;
    }
    free(in);
    free(want);
    free(got);
}

void test_resize_fixture(void) {
    json_error_t jerr;
    json_t *root = json_load_file(test_fixture("image/resize.json"), 0, &jerr);
    CHECK(root != NULL, "resize.json: %s", jerr.text);
    if (!root) return;
    json_t *cases = json_object_get(root, "cases");
    int counts[6] = {0};
    for (size_t i = 0; i < json_array_size(cases); i++) run_fixture_case(json_array_get(cases, i), counts);
    for (int m = 0; m <= FG_UPSCALE_LANCZOS; m++)
        CHECK(counts[m] >= 5, "only %d fixture cases for %s", counts[m], fg_upscale_method_name((fg_upscale_method)m));
    json_t *windows = json_object_get(root, "crop_windows");
    CHECK(json_array_size(windows) >= 5);
    for (size_t i = 0; i < json_array_size(windows); i++) {
        json_t *w = json_array_get(windows, i);
        json_t *src = json_object_get(w, "src"), *size = json_object_get(w, "size"), *win = json_object_get(w, "window");
        fg_crop_window got;
        int sw = (int)json_integer_value(json_array_get(src, 0)), sh = (int)json_integer_value(json_array_get(src, 1));
        int tw = (int)json_integer_value(json_array_get(size, 0)), th = (int)json_integer_value(json_array_get(size, 1));
        if (!CHECK_OK(fg_upscale_crop_window(sw, sh, tw, th, FG_CROP_CENTER, &got))) continue;
        CHECK(got.x == json_integer_value(json_array_get(win, 0)) && got.y == json_integer_value(json_array_get(win, 1)) &&
                  got.width == json_integer_value(json_array_get(win, 2)) &&
                  got.height == json_integer_value(json_array_get(win, 3)),
              "crop %dx%d -> %dx%d: got x=%d y=%d %dx%d", sw, sh, tw, th, got.x, got.y, got.width, got.height);
    }
    json_decref(root);
}

/* 2x2 -> 4x4 bilinear: scale 0.5, source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25
 * (second tap clamped): weights per axis (1,0) (0.75,0.25) (0.25,0.75) (0,1)... by hand. */
void test_resize_hand_cases(void) {
    const float src[4] = {0, 1, 2, 3};
    float out[16];
    if (CHECK_OK(fg_common_upscale(src, 1, 1, 2, 2, out, 4, 4, FG_UPSCALE_BILINEAR, FG_CROP_DISABLED))) {
        const float axis[4] = {0, 0.25f, 0.75f, 1};
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                float want = axis[x] * 1 + axis[y] * 2;
                CHECK(fabsf(out[y * 4 + x] - want) < 1e-7f, "bilinear (%d,%d): %g vs %g", x, y, out[y * 4 + x], want);
            }
    }
    /* Area downscale 4x4 -> 2x2 is the mean of each 2x2 block. */
    float img[16], small[4];
    for (int i = 0; i < 16; i++) img[i] = (float)(i * i % 7);
    if (CHECK_OK(fg_common_upscale(img, 1, 1, 4, 4, small, 2, 2, FG_UPSCALE_AREA, FG_CROP_DISABLED)))
        for (int by = 0; by < 2; by++)
            for (int bx = 0; bx < 2; bx++) {
                int i = by * 8 + bx * 2;
                float mean = (img[i] + img[i + 1] + img[i + 4] + img[i + 5]) / 4;
                CHECK(fabsf(small[by * 2 + bx] - mean) < 1e-6f, "area block %d,%d", bx, by);
            }
    /* nearest-exact 2 -> 3: floor((o + 0.5) * 2/3) = 0, 1, 1. */
    const float row[2] = {5, 9};
    float three[3];
    if (CHECK_OK(fg_common_upscale(row, 1, 1, 1, 2, three, 3, 1, FG_UPSCALE_NEAREST_EXACT, FG_CROP_DISABLED)))
        CHECK(three[0] == 5 && three[1] == 9 && three[2] == 9, "nearest-exact: %g %g %g", three[0], three[1], three[2]);
    /* Bicubic on a constant stays constant (weights sum to 1, clamped borders). */
    float flat[12], flat_out[35];
    for (int i = 0; i < 12; i++) flat[i] = 0.5f;
    if (CHECK_OK(fg_common_upscale(flat, 1, 1, 3, 4, flat_out, 7, 5, FG_UPSCALE_BICUBIC, FG_CROP_DISABLED)))
        for (int i = 0; i < 35; i++) CHECK(fabsf(flat_out[i] - 0.5f) < 1e-6f, "bicubic constant [%d] = %g", i, flat_out[i]);
}

/* Same size: every PyTorch mode is the identity; lanczos only quantises to 8 bits. */
void test_resize_identity(void) {
    enum { W = 6, H = 5, C = 3 };
    float src[C * H * W], out[C * H * W];
    for (int i = 0; i < C * H * W; i++) src[i] = (float)((i * 37) % 101) / 100.0f;
    for (int m = FG_UPSCALE_NEAREST_EXACT; m <= FG_UPSCALE_LANCZOS; m++) {
        if (!CHECK_OK(fg_common_upscale(src, 1, C, H, W, out, W, H, (fg_upscale_method)m, FG_CROP_CENTER))) continue;
        for (int i = 0; i < C * H * W; i++) {
            float want = m == FG_UPSCALE_LANCZOS ? (float)(uint8_t)(255.0f * src[i]) / 255.0f : src[i];
            if (out[i] != want) {
                CHECK(out[i] == want, "%s identity [%d]: %g vs %g", fg_upscale_method_name((fg_upscale_method)m), i, out[i], want);
                break;
            }
        }
    }
}

void test_resize_errors(void) {
    float a[16] = {0}, b[64];
    fg_upscale_method m;
    fg_upscale_crop c;
    CHECK_ERR(fg_upscale_method_parse("lanczos3", &m), "unknown upscale method");
    CHECK_ERR(fg_upscale_crop_parse("top", &c), "unknown crop");
    CHECK_ERR(fg_common_upscale(a, 1, 1, 4, 4, b, 0, 4, FG_UPSCALE_BILINEAR, FG_CROP_DISABLED), "must be positive");
    CHECK_ERR(fg_common_upscale(a, 1, 4, 2, 2, b, 4, 4, FG_UPSCALE_LANCZOS, FG_CROP_DISABLED), "premultiplies alpha");
    CHECK_ERR(fg_common_upscale(NULL, 1, 1, 4, 4, b, 4, 4, FG_UPSCALE_AREA, FG_CROP_DISABLED), "NULL");
    /* A 1-pixel-tall strip cropped for a very tall target leaves nothing. */
    CHECK_ERR(fg_common_upscale(a, 1, 1, 1, 16, b, 1, 64, FG_UPSCALE_AREA, FG_CROP_CENTER), "leaves no pixels");
    CHECK(strcmp(fg_upscale_method_name(FG_UPSCALE_NEAREST_EXACT), "nearest-exact") == 0);
}
