/* The FLOP count of the FLUX forward (unet/flux_flops.h): the numbers for FLUX.1-dev
 * at 1024x1024, and a second, independent count that walks the model's tensor layout. */
#include <math.h>
#include <string.h>

#include "tests/testing.h"
#include "unet/flux_flops.h"

static bool near_tflop(double flops, double tflop) { return fabs(flops / 1e12 - tflop) < 0.05; }

/* The issue: 74.4 TFLOP per step at 1024x1024, 59.5 linear + 14.9 attention, which the
 * 4096 image tokens + 512 text tokens of batch 1 reproduce. */
static void test_dev_1024(void) {
    fg_flux_config c = fg_flux_config_dev();
    int64_t li = fg_flux_image_tokens(1024, 1024);
    CHECK(li == 4096, "%lld image tokens", (long long)li);
    fg_flux_flops f = fg_flux_forward_flops(&c, 1, li, 512);
    CHECK(near_tflop(f.total, 74.4), "total %.4f TFLOP", f.total / 1e12);
    CHECK(near_tflop(f.linear, 59.5), "linear %.4f TFLOP", f.linear / 1e12);
    CHECK(near_tflop(f.attention, 14.9), "attention %.4f TFLOP", f.attention / 1e12);
    CHECK(f.total == f.linear + f.attention);
    /* Closed forms: 57 blocks x 24 H^2 FLOPs per token dominate the linear part; attention
     * is 57 x 4 x heads x L^2 x head_dim exactly. */
    double l = 4608, h = 3072;
    CHECK(fabs(f.attention - 57.0 * 4 * 24 * l * l * 128) < 1.0, "attention %.0f", f.attention);
    double blocks = 57.0 * 24 * h * h * l;
    CHECK(f.linear > blocks && f.linear < blocks * 1.001, "linear %.0f vs blocks %.0f", f.linear, blocks);
}

/* Rows a Linear of the FLUX layout is applied to: tokens of a stream, the joint sequence, or
 * one row per sample for the layers on vec. */
static double layout_rows(const char *name, double b, double li, double lt) {
    if (strstr(name, "_mod.") || strstr(name, "modulation") || strstr(name, "time_in") ||
        strstr(name, "vector_in") || strstr(name, "guidance_in"))
        return b;
    if (strstr(name, "single_blocks.")) return li + lt;
    if (strstr(name, ".txt_") || strncmp(name, "txt_in", 6) == 0) return lt;
    return li; /* img_in, img stream, final_layer.linear */
}

static double layout_linear_flops(const fg_flux_config *c, double b, double li, double lt) {
    fg_layout layout = {0};
    double total = -1;
    if (!CHECK_OK(fg_layout_flux(c, &layout))) return total;
    total = 0;
    for (size_t i = 0; i < layout.count; i++) {
        const fg_layout_tensor *t = &layout.tensors[i];
        size_t n = strlen(t->name);
        if (t->ndim != 2 || n < 7 || strcmp(t->name + n - 7, ".weight") != 0) continue;
        total += 2.0 * layout_rows(t->name, b, b * li, b * lt) * (double)t->shape[0] * (double)t->shape[1];
    }
    fg_layout_free(&layout);
    return total;
}

static void test_matches_layout(void) {
    fg_flux_config configs[] = {fg_flux_config_dev(), fg_flux_config_schnell(), fg_flux_config_tiny()};
    const int64_t cases[][3] = {{1, 4096, 512}, {2, 64, 256}, {3, 16384, 77}};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) {
            fg_flux_flops f = fg_flux_forward_flops(&configs[i], cases[k][0], cases[k][1], cases[k][2]);
            double want = layout_linear_flops(&configs[i], (double)cases[k][0], (double)cases[k][1], (double)cases[k][2]);
            CHECK(fabs(f.linear - want) <= 1e-9 * want, "config %d case %d: %.6g vs layout %.6g", i, k, f.linear, want);
        }
    }
}

static void test_schnell_and_batch(void) {
    fg_flux_config dev = fg_flux_config_dev(), schnell = fg_flux_config_schnell();
    fg_flux_flops d = fg_flux_forward_flops(&dev, 1, 4096, 512), s = fg_flux_forward_flops(&schnell, 1, 4096, 512);
    double guidance = 2.0 * 3072 * 256 + 2.0 * 3072 * 3072;
    CHECK(fabs(d.linear - s.linear - guidance) < 1.0, "guidance_in accounts for %.0f", d.linear - s.linear);
    CHECK(d.attention == s.attention);
    fg_flux_flops d2 = fg_flux_forward_flops(&dev, 2, 4096, 512);
    CHECK(fabs(d2.total - 2 * d.total) < 1e-9 * d.total, "batch 2 doubles the work");
}

static void test_tokens_and_degenerate(void) {
    CHECK(fg_flux_image_tokens(512, 512) == 1024);
    CHECK(fg_flux_image_tokens(2048, 1536) == 128 * 96);
    CHECK(fg_flux_image_tokens(1023, 1023) == 4096, "%lld", (long long)fg_flux_image_tokens(1023, 1023));
    CHECK(fg_flux_image_tokens(8, 24) == 2, "odd latents pad up: %lld", (long long)fg_flux_image_tokens(8, 24));
    CHECK(fg_flux_image_tokens(7, 64) == 0 && fg_flux_image_tokens(-8, 64) == 0);
    fg_flux_config c = fg_flux_config_dev();
    fg_flux_flops z = fg_flux_forward_flops(&c, 0, 4096, 512);
    CHECK(z.total == 0 && z.linear == 0 && z.attention == 0);
    z = fg_flux_forward_flops(NULL, 1, 4096, 512);
    CHECK(z.total == 0);
}

int main(void) {
    RUN_TEST(test_dev_1024);
    RUN_TEST(test_matches_layout);
    RUN_TEST(test_schnell_and_batch);
    RUN_TEST(test_tokens_and_degenerate);
    return test_summary();
}
