/* `make bench`: times the heavy ops of kernels/ops.h on one device at FLUX-like shapes and
 * prints a markdown table (ms per call, GFLOP/s) for BENCHMARKS.md. Benchmarks, not tests:
 * nothing here asserts a speed. Usage: bench_ops [--device cpu|cuda] [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "core/progress.h"
#include "kernels/ops.h"

typedef struct {
    fg_device dev;
    int reps;
} bench_cfg;

static fg_error *alloc_filled(fg_tensor *t, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape, float scale) {
    fg_tensor host;
    FG_TRY(fg_tensor_alloc_host(&host, dt, ndim, shape));
    int64_t n = fg_tensor_numel(&host);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        float v = ((float)(s >> 40) / (float)(1 << 24) - 0.5f) * scale;
        fg_convert_from_f32((char *)host.data + (size_t)i * fg_dtype_size(dt), dt, &v, 1);
    }
    fg_error *err = fg_tensor_alloc(t, dev, dt, ndim, shape);
    if (!err) err = fg_tensor_copy(t, &host);
    fg_tensor_free_host(&host);
    return err;
}

/* Runs fn reps times after one warm-up; returns ms per call. */
typedef fg_error *(*bench_fn)(void *ctx);
static fg_error *time_it(const bench_cfg *cfg, bench_fn fn, void *ctx, double *ms) {
    FG_TRY(fn(ctx));
    FG_TRY(fg_device_synchronize(cfg->dev));
    double t0 = fg_time_now();
    for (int i = 0; i < cfg->reps; i++) FG_TRY(fn(ctx));
    FG_TRY(fg_device_synchronize(cfg->dev));
    *ms = (fg_time_now() - t0) * 1000.0 / cfg->reps;
    return NULL;
}

typedef struct {
    fg_tensor out, x, w, b, q, k, v;
    fg_conv2d_params conv;
} bench_ctx;

static fg_error *run_linear(void *c_) {
    bench_ctx *c = c_;
    return fg_linear(&c->out, &c->x, &c->w, &c->b, 1.0f, FG_ACT_NONE);
}
static fg_error *run_attention(void *c_) {
    bench_ctx *c = c_;
    return fg_attention(&c->out, &c->q, &c->k, &c->v, NULL, 0.08838834764f);
}
static fg_error *run_conv(void *c_) {
    bench_ctx *c = c_;
    return fg_conv2d(&c->out, &c->x, &c->w, &c->b, &c->conv);
}
static fg_error *run_layer_norm(void *c_) {
    bench_ctx *c = c_;
    return fg_layer_norm(&c->out, &c->x, NULL, NULL, 1e-6f, NULL, NULL);
}
static fg_error *run_group_norm(void *c_) {
    bench_ctx *c = c_;
    return fg_group_norm(&c->out, &c->x, 32, &c->w, &c->b, 1e-6f, true);
}

static void free_ctx(bench_ctx *c) {
    fg_tensor *all[] = {&c->out, &c->x, &c->w, &c->b, &c->q, &c->k, &c->v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
}

static void row(const char *op, const char *shape, double ms, double flops) {
    printf("| %s | %s | %.2f | %.1f |\n", op, shape, ms, flops / (ms * 1e-3) / 1e9);
}

static fg_error *bench_all(const bench_cfg *cfg) {
    bench_ctx c;
    double ms;
    /* A FLUX linear at 256x256 (256 image tokens) with bf16 weights: hidden 3072 -> 3072. */
    int64_t M = 512, K = 3072, N = 3072;
    memset(&c, 0, sizeof c);
    FG_TRY(alloc_filled(&c.x, cfg->dev, FG_F32, FG_SHAPE(M, K), 1.0f));
    FG_TRY(alloc_filled(&c.w, cfg->dev, FG_BF16, FG_SHAPE(N, K), 0.03f));
    FG_TRY(alloc_filled(&c.b, cfg->dev, FG_BF16, FG_SHAPE(N), 0.1f));
    FG_TRY(fg_tensor_alloc(&c.out, cfg->dev, FG_F32, FG_SHAPE(M, N)));
    FG_TRY(time_it(cfg, run_linear, &c, &ms));
    row("linear (bf16 weights)", "[512,3072] x [3072,3072]^T", ms, 2.0 * M * K * N);
    free_ctx(&c);

    /* Joint attention of one 512² FLUX step: 24 heads, 1024+512 tokens, head dim 128. */
    int64_t H = 24, L = 1536, D = 128;
    memset(&c, 0, sizeof c);
    FG_TRY(alloc_filled(&c.q, cfg->dev, FG_F32, FG_SHAPE(1, H, L, D), 1.0f));
    FG_TRY(alloc_filled(&c.k, cfg->dev, FG_F32, FG_SHAPE(1, H, L, D), 1.0f));
    FG_TRY(alloc_filled(&c.v, cfg->dev, FG_F32, FG_SHAPE(1, H, L, D), 1.0f));
    FG_TRY(fg_tensor_alloc(&c.out, cfg->dev, FG_F32, FG_SHAPE(1, H, L, D)));
    FG_TRY(time_it(cfg, run_attention, &c, &ms));
    row("attention", "[1,24,1536,128]", ms, 4.0 * H * L * L * D);
    free_ctx(&c);

    /* A VAE decoder conv at 256x256 with 128 channels. */
    int64_t C = 128, S = 256;
    memset(&c, 0, sizeof c);
    FG_TRY(alloc_filled(&c.x, cfg->dev, FG_F32, FG_SHAPE(1, C, S, S), 1.0f));
    FG_TRY(alloc_filled(&c.w, cfg->dev, FG_F32, FG_SHAPE(C, C, 3, 3), 0.03f));
    FG_TRY(alloc_filled(&c.b, cfg->dev, FG_F32, FG_SHAPE(C), 0.1f));
    FG_TRY(fg_tensor_alloc(&c.out, cfg->dev, FG_F32, FG_SHAPE(1, C, S, S)));
    c.conv = (fg_conv2d_params){1, 1, 1, 1, 1};
    FG_TRY(time_it(cfg, run_conv, &c, &ms));
    row("conv2d 3x3", "[1,128,256,256]", ms, 2.0 * C * C * 9 * S * S);
    fg_tensor_free(&c.w);
    FG_TRY(alloc_filled(&c.w, cfg->dev, FG_F32, FG_SHAPE(C), 1.0f));
    FG_TRY(time_it(cfg, run_group_norm, &c, &ms));
    row("group_norm + silu", "[1,128,256,256], 32 groups", ms, 8.0 * C * S * S);
    free_ctx(&c);

    memset(&c, 0, sizeof c);
    FG_TRY(alloc_filled(&c.x, cfg->dev, FG_F32, FG_SHAPE(1, 4608, 3072), 1.0f));
    FG_TRY(fg_tensor_alloc(&c.out, cfg->dev, FG_F32, FG_SHAPE(1, 4608, 3072)));
    FG_TRY(time_it(cfg, run_layer_norm, &c, &ms));
    row("layer_norm", "[1,4608,3072]", ms, 8.0 * 4608 * 3072);
    free_ctx(&c);
    return NULL;
}

int main(int argc, char **argv) {
    bench_cfg cfg = {FG_DEVICE_CPU, 5};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            cfg.dev = strcmp(argv[++i], "cuda") == 0 ? FG_DEVICE_CUDA : FG_DEVICE_CPU;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            cfg.reps = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
    }
    if (!fg_device_available(cfg.dev)) {
        fprintf(stderr, "bench_ops: device not available: %s\n", fg_device_description(cfg.dev));
        return 1;
    }
    struct utsname u;
    uname(&u);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("### ops on %s (%s %s), %s, %d reps\n\n", fg_device_description(cfg.dev), u.sysname, u.machine, date,
           cfg.reps);
    printf("| op | shape | ms | GFLOP/s |\n| --- | --- | --- | --- |\n");
    fg_error *err = bench_all(&cfg);
    if (err) {
        fprintf(stderr, "bench_ops: %s\n", fg_error_message(err));
        fg_error_free(err);
        return 1;
    }
    return 0;
}
