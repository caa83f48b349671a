/* Times the FLUX text conditioning at full size on one device: CLIP-L on one 77-token chunk
 * and T5-XXL on a 256-token prompt (ComfyUI's minimum T5 length), each run once cold (weights
 * still being paged in from the mapped file) and then warm, plus the whole
 * fg_flux_text_encode with and without prompt weights (weights make T5 encode the empty
 * sequence too). Benchmark, not test. Models from `fluxgraph mkmodel --preset clip-l|t5xxl`.
 * Usage: bench_text_encoders --clip FILE --t5 FILE [--device cpu|cuda] [--tokens N] [--reps N]
 * Peak memory: run under /usr/bin/time -v (the maximum RSS is also printed at the end; it
 * counts the mapped weight pages that were touched). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/progress.h"
#include "kernels/ops.h"
#include "text_encoders/flux_text_encode.h"

typedef struct bench_cfg {
    const char *clip_path, *t5_path;
    fg_device dev;
    int64_t tokens;
    int reps;
} bench_cfg;

typedef struct bench_inputs {
    int32_t clip_ids[77];
    int32_t *t5_ids;
    float *t5_weights;
} bench_inputs;

/* A 30-token prompt (ids from a fixed generator), eos, then pads, as the tokenizers produce. */
static fg_error *make_inputs(const bench_cfg *cfg, bench_inputs *in) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    in->clip_ids[0] = FG_CLIP_BOS_ID;
    for (int i = 1; i < 77; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        in->clip_ids[i] = i <= 30 ? (int32_t)(s % 49000) : FG_CLIP_EOS_ID;
    }
    in->t5_ids = calloc((size_t)cfg->tokens, sizeof *in->t5_ids);
    in->t5_weights = calloc((size_t)cfg->tokens, sizeof *in->t5_weights);
    if (!in->t5_ids || !in->t5_weights) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "inputs");
    for (int64_t i = 0; i < cfg->tokens; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        in->t5_ids[i] = i < 30 ? (int32_t)(3 + s % 32000) : (i == 30 ? 1 : 0);
        in->t5_weights[i] = i >= 5 && i < 10 ? 1.2f : 1.0f;
    }
    return NULL;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Current resident memory split: anonymous (activations, scratch) vs file pages (the mapped
 * weights), from /proc/self/status; empty where that file does not exist. */
static void print_rss_split(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0 || strncmp(line, "RssFile:", 8) == 0 || strncmp(line, "VmHWM:", 6) == 0)
            printf("%s", line);
    fclose(f);
}

static void row(const char *what, double seconds) {
    printf("| %s | %.2f s | %.0f MiB |\n", what, seconds, peak_rss_mib());
    fflush(stdout);
}

static fg_error *time_clip(const bench_cfg *cfg, const fg_clip_model *clip, const bench_inputs *in) {
    for (int r = 0; r <= cfg->reps; r++) {
        fg_clip_outputs o;
        double t0 = fg_time_now();
        FG_TRY(fg_clip_encode(clip, cfg->dev, in->clip_ids, 1, 77, FG_CLIP_POOLED, &o));
        FG_TRY(fg_device_synchronize(cfg->dev));
        row(r == 0 ? "CLIP, 77 tokens, cold" : "CLIP, 77 tokens, warm", fg_time_now() - t0);
        fg_clip_outputs_free(&o);
    }
    return NULL;
}

static fg_error *time_t5(const bench_cfg *cfg, const fg_t5_model *t5, const bench_inputs *in) {
    char label[96];
    for (int r = 0; r <= cfg->reps; r++) {
        fg_tensor out;
        double t0 = fg_time_now();
        FG_TRY(fg_t5_encode(t5, cfg->dev, in->t5_ids, 1, cfg->tokens, NULL, &out));
        FG_TRY(fg_device_synchronize(cfg->dev));
        snprintf(label, sizeof label, "T5, %lld tokens, %s", (long long)cfg->tokens, r == 0 ? "cold" : "warm");
        row(label, fg_time_now() - t0);
        fg_tensor_free(&out);
    }
    return NULL;
}

static fg_error *time_flux(const bench_cfg *cfg, const fg_clip_model *clip, const fg_t5_model *t5,
                           const bench_inputs *in, bool weighted) {
    fg_flux_token_arrays tok = {.clip_ids = in->clip_ids, .clip_chunks = 1, .clip_len = 77, .t5_ids = in->t5_ids,
                          .t5_weights = weighted ? in->t5_weights : NULL, .t5_len = cfg->tokens};
    fg_tensor cond, pooled;
    double t0 = fg_time_now();
    FG_TRY(fg_flux_text_encode(clip, t5, cfg->dev, &tok, &cond, &pooled));
    FG_TRY(fg_device_synchronize(cfg->dev));
    row(weighted ? "fg_flux_text_encode, weighted prompt (T5 batch 2)" : "fg_flux_text_encode, unweighted prompt",
        fg_time_now() - t0);
    fg_tensor_free(&cond);
    fg_tensor_free(&pooled);
    return NULL;
}

static fg_error *bench_all(const bench_cfg *cfg) {
    bench_inputs in = {0};
    fg_clip_model *clip = NULL;
    fg_t5_model *t5 = NULL;
    fg_error *err = make_inputs(cfg, &in);
    double t0 = fg_time_now();
    if (!err) err = fg_clip_open(cfg->clip_path, &clip);
    if (!err) err = fg_t5_open(cfg->t5_path, &t5);
    if (!err) row("open both models (mmap, config, views)", fg_time_now() - t0);
    if (!err) err = time_clip(cfg, clip, &in);
    if (!err) err = time_t5(cfg, t5, &in);
    if (!err) err = time_flux(cfg, clip, t5, &in, false);
    if (!err) err = time_flux(cfg, clip, t5, &in, true);
    if (!err) {
        printf("\nmemory at the end (weights still mapped):\n");
        print_rss_split();
    }
    fg_clip_free(clip);
    fg_t5_free(t5);
    free(in.t5_ids);
    free(in.t5_weights);
    return err;
}

int main(int argc, char **argv) {
    bench_cfg cfg = {NULL, NULL, FG_DEVICE_CPU, 256, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) break;
        if (strcmp(a, "--clip") == 0) cfg.clip_path = v;
        else if (strcmp(a, "--t5") == 0) cfg.t5_path = v;
        else if (strcmp(a, "--device") == 0) cfg.dev = strcmp(v, "cuda") == 0 ? FG_DEVICE_CUDA : FG_DEVICE_CPU;
        else if (strcmp(a, "--tokens") == 0) cfg.tokens = atoll(v);
        else if (strcmp(a, "--reps") == 0) cfg.reps = atoi(v);
        else break;
        i++;
    }
    if (!cfg.clip_path || !cfg.t5_path || cfg.tokens < 1 || cfg.reps < 0) {
        fprintf(stderr, "usage: bench_text_encoders --clip FILE --t5 FILE [--device cpu|cuda] [--tokens N] "
                        "[--reps N]\n");
        return 2;
    }
    if (!fg_device_available(cfg.dev)) {
        fprintf(stderr, "bench_text_encoders: device not available: %s\n", fg_device_description(cfg.dev));
        return 1;
    }
    printf("### text encoders on %s, T5 %lld tokens\n\n| step | time | peak RSS so far |\n| --- | --- | --- |\n",
           fg_device_description(cfg.dev), (long long)cfg.tokens);
    fg_error *err = bench_all(&cfg);
    if (err) {
        fprintf(stderr, "bench_text_encoders: %s\n", fg_error_message(err));
        fg_error_free(err);
        return 1;
    }
    return 0;
}
