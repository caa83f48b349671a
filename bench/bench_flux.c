/* Times the FLUX DiT forward on one device (a benchmark, not a test: nothing is asserted).
 * Usage: bench_flux --model FILE [--latent HxW] [--txt L] [--batch B] [--reps N]
 * e.g. after `fluxgraph mkmodel --preset flux-dev DIR`:
 *   bench_flux --model DIR/diffusion_models/flux1-dev.safetensors --latent 32x32 --txt 256
 * Inputs are deterministic pseudo-random values of the right shapes (the numbers do not
 * matter for timing). Prints load time and the time of each forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "kernels/ops.h"
#include "unet/flux_loader.h"

typedef struct bench_args {
    const char *model;
    int64_t h, w, txt, batch;
    int reps;
} bench_args;

static fg_error *alloc_random(fg_tensor *t, int ndim, const int64_t *shape, float lo, float hi, uint64_t seed) {
    FG_TRY(fg_tensor_alloc_host(t, FG_F32, ndim, shape));
    float *v = t->data;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v[i] = lo + (hi - lo) * (float)(s >> 40) / (float)(1 << 24);
    }
    return NULL;
}

/* Resident memory split into anonymous (activations, scratch) and file-backed (the mapped
 * weights, which the kernel can drop and re-read) from /proc/self/status; Linux only. */
static void print_memory(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0 || strncmp(line, "RssFile:", 8) == 0 || strncmp(line, "VmHWM:", 6) == 0)
            printf("  %s", line);
    fclose(f);
}

static fg_error *run(const bench_args *a) {
    double t0 = fg_time_now();
    fg_flux_model *m = NULL;
    FG_TRY(fg_flux_load(a->model, &m));
    char desc[512];
    printf("model: %s\n  %s\nload: %.2f s\n", a->model, fg_flux_params_describe(&m->p, desc, sizeof desc),
           fg_time_now() - t0);
    const int64_t b = a->batch;
    fg_tensor x = {0}, ts = {0}, ctx = {0}, y = {0}, g = {0}, out = {0};
    fg_error *err = alloc_random(&x, FG_SHAPE(b, m->p.latent_channels, a->h, a->w), -1.5f, 1.5f, 1);
    if (!err) err = alloc_random(&ts, FG_SHAPE(b), 0.5f, 1.0f, 2);
    if (!err) err = alloc_random(&ctx, FG_SHAPE(b, a->txt, m->p.arch.context_in_dim), -0.5f, 0.5f, 3);
    if (!err) err = alloc_random(&y, FG_SHAPE(b, m->p.arch.vec_in_dim), -1.0f, 1.0f, 4);
    if (!err) err = alloc_random(&g, FG_SHAPE(b), 3.5f, 3.5f, 5);
    if (!err) err = fg_tensor_alloc(&out, m->device, FG_F32, 4, x.shape);
    printf("inputs: batch %lld, latent %lldx%lld (%lld image tokens), %lld text tokens, %s\n", (long long)b,
           (long long)a->h, (long long)a->w, (long long)(((a->h + 1) / 2) * ((a->w + 1) / 2)), (long long)a->txt,
           fg_device_description(m->device));
    fg_flux_inputs in = {&x, &ts, &ctx, &y, &g};
    for (int r = 0; r < a->reps && !err; r++) {
        double t = fg_time_now();
        err = fg_flux_forward(m, &in, &out, NULL);
        if (!err) err = fg_device_synchronize(m->device);
        if (!err) printf("forward %d: %.2f s\n", r + 1, fg_time_now() - t);
        if (!err) print_memory();
        fflush(stdout);
    }
    fg_tensor *all[] = {&x, &ts, &ctx, &y, &g};
    for (int i = 0; i < 5; i++) fg_tensor_free_host(all[i]);
    fg_tensor_free(&out);
    fg_flux_free(m);
    return err;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_flux --model FILE [--latent HxW] [--txt L] [--batch B] [--reps N]\n");
    return 2;
}

int main(int argc, char **argv) {
    bench_args a = {.h = 32, .w = 32, .txt = 256, .batch = 1, .reps = 1};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        const char *k = argv[i], *v = argv[++i];
        long long h, w;
        if (strcmp(k, "--model") == 0) a.model = v;
        else if (strcmp(k, "--latent") == 0 && sscanf(v, "%lldx%lld", &h, &w) == 2 && h > 0 && w > 0) a.h = h, a.w = w;
        else if (strcmp(k, "--txt") == 0 && (a.txt = atoll(v)) > 0) continue;
        else if (strcmp(k, "--batch") == 0 && (a.batch = atoll(v)) > 0) continue;
        else if (strcmp(k, "--reps") == 0 && (a.reps = atoi(v)) > 0) continue;
        else return usage();
    }
    if (!a.model) return usage();
    fg_error *err = run(&a);
    if (err) {
        fprintf(stderr, "bench_flux: %s\n", fg_error_message(err));
        fg_error_free(err);
        return 1;
    }
    return 0;
}
