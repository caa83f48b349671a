/* bislerp (core/image_bislerp.c) against golden/bislerp.safetensors, made by
 * tools/gen_bislerp_fixture.py from ComfyUI's own comfy.utils.common_upscale on torch's CPU
 * path, and hand-checked cases of slerp's special branches. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_resize.h"
#include "core/safetensors.h"
#include "tests/image/image_tests.h"
#include "tests/testing.h"

/* f32 tolerance: |got - want| <= BISLERP_ATOL + BISLERP_RTOL * |want|. The arithmetic is
 * ComfyUI's op for op, in PyTorch's summation order; what differs is Sleef's acosf / sinf in
 * PyTorch against libm here. Measured (x86-64 glibc, fixture from torch 2.15 AVX512): max
 * |diff| 9.5e-7 (1 ulp of a value near 10), at most 0.17 x this tolerance, ~85 % of the values
 * bit-exact (FG_TEST_VERBOSE=1 prints each case). The margin is for other libms / torch builds. */
#define BISLERP_ATOL 1e-6
#define BISLERP_RTOL 1e-5

typedef struct golden_case {
    char name[64], crop[16];
    int width, height;
} golden_case;

static bool case_meta(const fg_safetensors *st, int k, golden_case *c) {
    char key[32];
    snprintf(key, sizeof key, "case%d", k);
    json_t *root = json_loads(fg_safetensors_metadata(st, key) ? fg_safetensors_metadata(st, key) : "", 0, NULL);
    const char *name = json_string_value(json_object_get(root, "name"));
    const char *crop = json_string_value(json_object_get(root, "crop"));
    bool ok = name && crop;
    if (ok) {
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->crop, sizeof c->crop, "%s", crop);
        c->width = (int)json_integer_value(json_object_get(root, "width"));
        c->height = (int)json_integer_value(json_object_get(root, "height"));
    }
    json_decref(root);
    return ok;
}

/* Largest error of got against want, in absolute terms and relative to the tolerance. */
static void compare(const float *got, const float *want, size_t n, double *worst_abs, double *worst_tol) {
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (!(diff <= *worst_abs)) *worst_abs = diff; /* NaN sticks */
        double t = diff / (BISLERP_ATOL + BISLERP_RTOL * fabs((double)want[i]));
        if (!(t <= *worst_tol)) *worst_tol = t;
    }
}

static void run_golden_case(const fg_safetensors *st, int k, double *worst_abs) {
    golden_case c;
    char in_name[32], out_name[32];
    snprintf(in_name, sizeof in_name, "case%d_in", k);
    snprintf(out_name, sizeof out_name, "case%d_out", k);
    fg_tensor in, want;
    fg_upscale_crop crop;
    bool meta = case_meta(st, k, &c);
    CHECK(meta, "case%d metadata", k);
    if (!meta || !CHECK_OK(fg_safetensors_tensor(st, in_name, &in)) || !CHECK_OK(fg_safetensors_tensor(st, out_name, &want)) ||
        !CHECK_OK(fg_upscale_crop_parse(c.crop, &crop)))
        return;
    bool shapes = in.ndim == 4 && want.ndim == 4 && want.shape[0] == in.shape[0] && want.shape[1] == in.shape[1] &&
                  want.shape[2] == c.height && want.shape[3] == c.width;
    CHECK(shapes, "%s shapes", c.name);
    size_t n = fg_tensor_numel(&want);
    float *got = shapes ? malloc(sizeof *got * n) : NULL;
    CHECK(!shapes || got != NULL);
    if (got && CHECK_OK(fg_common_upscale(in.data, in.shape[0], in.shape[1], (int)in.shape[2],
                                                         (int)in.shape[3], got, c.width, c.height, FG_UPSCALE_BISLERP,
                                                         crop))) {
        double case_abs = 0, case_tol = 0;
        compare(got, want.data, n, &case_abs, &case_tol);
        CHECK(case_tol <= 1.0, "bislerp %s (%lldx%lld -> %dx%d, %s): max diff %g, %.2f x the tolerance", c.name,
              (long long)in.shape[3], (long long)in.shape[2], c.width, c.height, c.crop, case_abs, case_tol);
        if (!(case_abs <= *worst_abs)) *worst_abs = case_abs;
        size_t exact = 0;
        for (size_t i = 0; i < n; i++) exact += got[i] == ((const float *)want.data)[i];
        if (getenv("FG_TEST_VERBOSE"))
            fprintf(stderr, "bislerp %-18s max diff %-12g %.2f x tol, %zu of %zu bit-exact\n", c.name, case_abs, case_tol,
                    exact, n);
    }
    free(got);
}

void test_bislerp_golden(void) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/bislerp.safetensors"), &st))) return;
    const char *count_text = fg_safetensors_metadata(st, "count");
    int count = count_text ? atoi(count_text) : 0;
    CHECK(count >= 15, "only %d bislerp cases", count);
    double worst = 0;
    for (int k = 0; k < count; k++) run_golden_case(st, k, &worst);
    if (getenv("FG_TEST_VERBOSE")) fprintf(stderr, "bislerp golden: %d cases, max abs diff %g\n", count, worst);
    fg_safetensors_close(st);
}

/* Special branches by hand, two pixels of 3 channels resized 2 -> 3 along the width
 * (positions 0, 0.5, 1: ComfyUI's coordinates are 0, 0.5 and 1 with ratio 0.5 in the middle). */
static void slerp_row(const float a[3], const float b[3], float out[9]) {
    float src[6] = {a[0], b[0], a[1], b[1], a[2], b[2]};
    CHECK_OK(fg_common_upscale(src, 1, 3, 1, 2, out, 3, 1, FG_UPSCALE_BISLERP, FG_CROP_DISABLED));
}

void test_bislerp_hand_cases(void) {
    float out[9];
    /* Parallel neighbours (dot > 1 - 1e-5): the first vector is kept, whatever the ratio. */
    slerp_row((float[]){1, 2, 2}, (float[]){2, 4, 4}, out);
    CHECK(out[1] == 1 && out[4] == 2 && out[7] == 2, "parallel: %g %g %g", out[1], out[4], out[7]);
    /* Opposite neighbours (dot < 1e-5 - 1): the linear blend, here 0 in the middle. */
    slerp_row((float[]){1, 2, 2}, (float[]){-1, -2, -2}, out);
    CHECK(out[1] == 0 && out[4] == 0 && out[7] == 0, "opposite: %g %g %g", out[1], out[4], out[7]);
    /* Orthogonal unit vectors at r = 0.5: sin(pi/4) / sin(pi/2) each, norm 1. */
    slerp_row((float[]){1, 0, 0}, (float[]){0, 1, 0}, out);
    float h = sqrtf(0.5f);
    CHECK(fabsf(out[1] - h) < 1e-6f && fabsf(out[4] - h) < 1e-6f && out[7] == 0, "orthogonal: %g %g %g", out[1], out[4],
          out[7]);
    /* A zero vector normalises to zero (dot 0, omega pi/2): sin(r pi/2) * b2 unit * (r |b2|),
     * 0.5 * sqrt(0.5) * b2 at r = 0.5; the end pixels are the inputs. */
    slerp_row((float[]){0, 0, 0}, (float[]){2, 0, 0}, out);
    CHECK(fabsf(out[1] - h) < 1e-6f && out[0] == 0 && out[2] == 2, "zero vector: %g %g %g", out[0], out[1], out[2]);
    /* One pixel spreads to every output pixel unchanged (both neighbours are itself). */
    float px[2] = {0.25f, -3}, big[2 * 20];
    if (CHECK_OK(fg_common_upscale(px, 1, 2, 1, 1, big, 5, 4, FG_UPSCALE_BISLERP, FG_CROP_DISABLED)))
        for (int i = 0; i < 40; i++) CHECK(big[i] == px[i / 20], "1x1 spread [%d] = %g", i, big[i]);
    /* All zeros stay zero (no NaN from 0 / 0). */
    float zero[2 * 6] = {0}, zout[2 * 12];
    if (CHECK_OK(fg_common_upscale(zero, 1, 2, 2, 3, zout, 4, 3, FG_UPSCALE_BISLERP, FG_CROP_CENTER)))
        for (int i = 0; i < 24; i++) CHECK(zout[i] == 0, "zero [%d] = %g", i, zout[i]);
}

void test_bislerp_errors(void) {
    float a[16] = {0}, b[64];
    CHECK_ERR(fg_common_upscale(a, 1, 1, 4, 4, b, 0, 4, FG_UPSCALE_BISLERP, FG_CROP_DISABLED), "must be positive");
    CHECK_ERR(fg_common_upscale(NULL, 1, 1, 4, 4, b, 4, 4, FG_UPSCALE_BISLERP, FG_CROP_DISABLED), "NULL");
    CHECK_ERR(fg_common_upscale(a, 1, 1, 1, 16, b, 1, 64, FG_UPSCALE_BISLERP, FG_CROP_CENTER), "leaves no pixels");
}
