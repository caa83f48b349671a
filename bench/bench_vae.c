/* The autoencoder's CPU (or later GPU) time on one image: a benchmark, not a test.
 * Usage: bench_vae MODEL.safetensors [--size PX] [--encode] [--tiled TILE OVERLAP] [--reps N]
 * MODEL is an ae.safetensors (e.g. from `fluxgraph mkmodel --preset ae DIR`, random weights in
 * the real layout). Decodes a [1, 16, PX/8, PX/8] latent (default PX 512), or with --encode
 * encodes a [1, 3, PX, PX] image; --tiled uses the tiled decode. Prints one markdown row; run
 * under /usr/bin/time -v for the peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "kernels/ops.h"
#include "vae/ae_model.h"

typedef struct bench_args {
    const char *model;
    int64_t size, tile, overlap;
    int reps;
    int encode;
} bench_args;

static void fill(fg_tensor *t, float amp) {
    float *d = t->data;
    uint32_t s = 12345;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) {
        s = s * 1664525u + 1013904223u;
        d[i] = ((float)(s >> 8) / 16777216.0f * 2.0f - 1.0f) * amp;
    }
}

static fg_error *run_once(const fg_vae *m, const bench_args *a, const fg_tensor *in, fg_tensor *out) {
    if (a->encode) return fg_vae_encode_mean(m, in, out);
    if (a->tile > 0) return fg_vae_decode_tiled(m, in, a->tile, a->overlap, out);
    return fg_vae_decode(m, in, out);
}

static fg_error *bench(const bench_args *a) {
    fg_weights *w = NULL;
    fg_vae *m = NULL;
    double t0 = fg_time_now();
    FG_TRY(fg_weights_open(a->model, &w));
    fg_error *err = fg_vae_load(w, &m);
    fg_weights_close(w);
    if (err) return err;
    double load_s = fg_time_now() - t0;
    int64_t f = fg_vae_factor(m), z = fg_vae_config(m)->z_channels, px = a->size, lat = a->size / f;
    fg_tensor in = {0}, out = {0};
    if (a->encode) {
        err = fg_tensor_alloc(&in, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 3, px, px));
        if (!err) err = fg_tensor_alloc(&out, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, z, lat, lat));
    } else {
        err = fg_tensor_alloc(&in, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, z, lat, lat));
        if (!err) err = fg_tensor_alloc(&out, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 3, lat * f, lat * f));
    }
    double best = 0;
    if (!err) fill(&in, a->encode ? 1.0f : 2.0f);
    for (int r = 0; !err && r < a->reps; r++) {
        double t = fg_time_now();
        err = run_once(m, a, &in, &out);
        t = fg_time_now() - t;
        if (r == 0 || t < best) best = t;
    }
    if (!err) {
        char what[96];
        if (a->encode) snprintf(what, sizeof what, "encode %lldx%lld", (long long)px, (long long)px);
        else if (a->tile > 0)
            snprintf(what, sizeof what, "tiled decode %lldx%lld (tile %lld, overlap %lld)", (long long)(lat * f),
                     (long long)(lat * f), (long long)a->tile, (long long)a->overlap);
        else snprintf(what, sizeof what, "decode %lldx%lld", (long long)(lat * f), (long long)(lat * f));
        printf("| VAE %s | %s | %.2f s (best of %d) | load %.2f s |\n", what, fg_device_description(FG_DEVICE_CPU), best,
               a->reps, load_s);
    }
    fg_tensor_free(&in);
    fg_tensor_free(&out);
    fg_vae_free(m);
    return err;
}

int main(int argc, char **argv) {
    bench_args a = {.size = 512, .reps = 1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) a.size = atoll(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) a.reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--encode") == 0) a.encode = 1;
        else if (strcmp(argv[i], "--tiled") == 0 && i + 2 < argc) {
            a.tile = atoll(argv[++i]);
            a.overlap = atoll(argv[++i]);
        } else if (argv[i][0] != '-' && !a.model) a.model = argv[i];
        else a.model = NULL, i = argc;
    }
    if (!a.model || a.size < 8 || a.size > 16384 || a.reps < 1) {
        fprintf(stderr, "usage: %s MODEL.safetensors [--size PX] [--encode] [--tiled TILE OVERLAP] [--reps N]\n", argv[0]);
        return 2;
    }
    fg_error *err = bench(&a);
    if (err) {
        fprintf(stderr, "bench_vae: %s\n", fg_error_message(err));
        fg_error_free(err);
        return 1;
    }
    return 0;
}
