/* `fluxgraph bench`: times the FLUX pipeline's heavy parts on one device with random (or real)
 * weights and reports what the hardware achieves: a large GEMM as the measured peak, T5-XXL
 * encode, then per image size the DiT step (ms, TFLOP/s from unet/flux_flops.h, % of the
 * measured peak, peak device memory) and the VAE decode. A table on stdout; --json FILE adds a
 * machine-readable record for BENCHMARKS.md. Random models are built directly in device memory
 * (models/random_weights.h), so a GPU run needs no model files. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "core/progress.h"
#include "kernels/ops.h"
#include "models/layout_flux.h"
#include "models/random_weights.h"
#include "text_encoders/t5_model.h"
#include "unet/flux_flops.h"
#include "unet/flux_runner.h"
#include "unet/flux_loader.h"
#include "vae/ae_model.h"

#define BENCH_MAX_SIZES 16
#define GIB (1024.0 * 1024.0 * 1024.0)
#define WEIGHT_DTYPE FG_BF16

typedef struct bench_opts {
    fg_device device;
    const char *preset; /* dev | schnell | tiny */
    const char *model;  /* NULL: random weights */
    int64_t sizes[BENCH_MAX_SIZES];
    int nsizes;
    int64_t steps, warmup, batch, text_tokens;
    bool t5, vae;
    const char *json;
    fg_dtype act_dtype; /* activations of every model and of the peak GEMM */
    bool act_set;       /* --activations given to bench */
} bench_opts;

typedef struct preset_configs {
    const char *dit_label, *t5_label, *vae_label;
    fg_flux_config dit;
    fg_t5_config t5;
    fg_ae_config ae;
} preset_configs;

typedef struct size_result {
    int64_t size, image_tokens;
    fg_flux_flops flops;
    double ms_per_step, tflops, percent_of_peak;
    double peak_gib;          /* < 0: the backend keeps no statistics */
    double vae_ms, vae_peak_gib; /* vae_ms < 0: skipped */
} size_result;

typedef struct bench_report {
    const char *machine;
    char dit_desc[512];
    const char *dit_source;
    uint64_t dit_params, vae_params;
    fg_dtype dit_dtype; /* of the loaded weights (BF16 when random or uploaded) */
    fg_dtype act_dtype; /* the DiT's activations: the model's default on the device */
    double dit_gib, dit_load_s;
    bool uploaded;
    fg_upload_stats upload;
    int64_t gemm_n;
    fg_dtype gemm_dtype;
    double gemm_ms, peak_tflops;
    double t5_ms; /* < 0: skipped */
    uint64_t t5_params;
    size_result sizes[BENCH_MAX_SIZES];
    int nsizes;
} bench_report;

static void print_header(const bench_opts *o, const bench_report *r);
static void print_row(const size_result *s);

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: fluxgraph bench [--device cpu|cuda] [--preset dev|schnell|tiny] [--random-weights | --model FILE]\n"
            "                       [--sizes 512,1024,1536,2048] [--steps N] [--warmup N] [--batch N]\n"
            "                       [--text-tokens 512] [--no-t5] [--no-vae] [--activations f32|bf16] [--json FILE]\n"
            "Times a BF16 GEMM (the measured peak), T5-XXL encode, and per square image size the DiT step\n"
            "(ms, TFLOP/s, %% of peak, peak device memory) and the VAE decode, with random weights built in\n"
            "device memory (or the DiT of a checkpoint). Sizes are pixels, multiples of 8 from 16 to 8192.\n");
}

/* ---- options ---------------------------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end = NULL;
    if (!s || !*s) return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "fluxgraph bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    bench_usage(stderr);
    return 2;
}

static int parse_sizes(const char *list, bench_opts *o) {
    char buf[512];
    if (strlen(list) >= sizeof buf) return usage_error("--sizes '%s' is too long", list);
    strcpy(buf, list);
    o->nsizes = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (o->nsizes == BENCH_MAX_SIZES) return usage_error("--sizes: at most 16 sizes, got '%s'", list);
        if (!parse_int(tok, 16, 8192, &v) || v % 8 != 0)
            return usage_error("--sizes: '%s' is not an image size (a multiple of 8 from 16 to 8192 pixels)", tok);
        o->sizes[o->nsizes++] = v;
    }
    if (o->nsizes == 0) return usage_error("--sizes '%s' lists no size", list);
    return 0;
}

/* The value of option argv[*i] ("--name VALUE" or "--name=VALUE"); NULL if it has none. */
static const char *option_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc) return argv[++*i];
    return NULL;
}

static bool is_option(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Numeric options: name, bounds, destination. */
static int parse_numeric(int argc, char **argv, int *i, bench_opts *o, bool *matched) {
    static const struct {
        const char *name;
        int64_t lo, hi;
        size_t offset;
    } table[] = {
        {"--steps", 1, 100000, offsetof(bench_opts, steps)},
        {"--warmup", 0, 100000, offsetof(bench_opts, warmup)},
        {"--batch", 1, 64, offsetof(bench_opts, batch)},
        {"--text-tokens", 1, 4096, offsetof(bench_opts, text_tokens)},
    };
    *matched = false;
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++) {
        if (!is_option(argv[*i], table[t].name)) continue;
        *matched = true;
        const char *v = option_value(argc, argv, i, table[t].name);
        int64_t *dst = (int64_t *)((char *)o + table[t].offset);
        if (!v) return usage_error("%s needs a value", table[t].name);
        if (!parse_int(v, table[t].lo, table[t].hi, dst)) {
            fprintf(stderr, "fluxgraph bench: %s must be an integer from %lld to %lld, not '%s'\n", table[t].name,
                    (long long)table[t].lo, (long long)table[t].hi, v);
            return 2;
        }
        return 0;
    }
    return 0;
}

static int parse_option(int argc, char **argv, int *i, bench_opts *o) {
    const char *a = argv[*i], *v;
    bool matched;
    int rc = parse_numeric(argc, argv, i, o, &matched);
    if (matched || rc) return rc;
    if (strcmp(a, "--random-weights") == 0) o->model = NULL;
    else if (strcmp(a, "--no-t5") == 0) o->t5 = false;
    else if (strcmp(a, "--no-vae") == 0) o->vae = false;
    else if (is_option(a, "--device")) {
        if (!(v = option_value(argc, argv, i, "--device"))) return usage_error("%s needs a value", a);
        if (strcmp(v, "cpu") == 0) o->device = FG_DEVICE_CPU;
        else if (strcmp(v, "cuda") == 0) o->device = FG_DEVICE_CUDA;
        else return usage_error("--device must be cpu or cuda, not '%s'", v);
    } else if (is_option(a, "--preset")) {
        if (!(v = option_value(argc, argv, i, "--preset"))) return usage_error("%s needs a value", a);
        if (strcmp(v, "dev") && strcmp(v, "schnell") && strcmp(v, "tiny"))
            return usage_error("--preset must be dev, schnell or tiny, not '%s'", v);
        o->preset = v;
    } else if (is_option(a, "--model")) {
        if (!(o->model = option_value(argc, argv, i, "--model"))) return usage_error("%s needs a file", a);
    } else if (is_option(a, "--sizes")) {
        if (!(v = option_value(argc, argv, i, "--sizes"))) return usage_error("%s needs a list", a);
        return parse_sizes(v, o);
    } else if (is_option(a, "--activations")) {
        if (!(v = option_value(argc, argv, i, "--activations"))) return usage_error("%s needs a value", a);
        if (strcmp(v, "f32") == 0) o->act_dtype = FG_F32;
        else if (strcmp(v, "bf16") == 0) o->act_dtype = FG_BF16;
        else return usage_error("--activations must be f32 or bf16, not '%s'", v);
        o->act_set = true;
    } else if (is_option(a, "--json")) {
        if (!(o->json = option_value(argc, argv, i, "--json"))) return usage_error("%s needs a file", a);
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        bench_usage(stdout);
        return -1;
    } else {
        return usage_error("unknown argument '%s'", a);
    }
    return 0;
}

static preset_configs preset_for(const char *name) {
    if (strcmp(name, "tiny") == 0)
        return (preset_configs){"random tiny FLUX", "random tiny T5", "random tiny VAE", fg_flux_config_tiny(),
                                fg_t5_config_tiny(), fg_ae_config_tiny()};
    fg_flux_config dit = strcmp(name, "schnell") == 0 ? fg_flux_config_schnell() : fg_flux_config_dev();
    return (preset_configs){strcmp(name, "schnell") == 0 ? "random FLUX.1-schnell" : "random FLUX.1-dev",
                            "random T5-XXL", "random FLUX VAE", dit, fg_t5_config_xxl(), fg_ae_config_flux()};
}

/* ---- timing helpers -------------------------------------------------------------------------- */

/* Device tensor filled with uniform values in [lo, hi). */
static fg_error *random_tensor(fg_tensor *t, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape, float lo,
                               float hi, uint64_t seed) {
    FG_TRY(fg_tensor_alloc(t, dev, dt, ndim, shape));
    fg_error *err = fg_fill_uniform(t, seed, lo, hi);
    if (err) fg_tensor_free(t);
    return err;
}

/* Peak bytes since the last reset in GiB; -1 when the backend keeps no statistics. */
static double peak_gib(fg_device dev) {
    fg_memory_stats s;
    fg_error *err = fg_device_memory_stats(dev, &s);
    if (err) {
        fg_error_free(err);
        return -1.0;
    }
    return (double)s.peak / GIB;
}

/* The measured peak: an n x n x n GEMM through fg_linear in the activation dtype (BF16 on CUDA,
 * F32 on the CPU unless --activations says otherwise) with BF16 weights. */
static fg_error *measure_peak(const bench_opts *o, bench_report *r) {
    const bool cuda = o->device == FG_DEVICE_CUDA;
    const int64_t n = cuda ? 8192 : 512;
    const int warm = cuda ? 3 : 1, reps = cuda ? 20 : 5;
    r->gemm_n = n;
    r->gemm_dtype = o->act_dtype; /* what the models compute in: BF16 on CUDA, F32 on the CPU by default */
    fg_tensor x = {0}, w = {0}, out = {0};
    fg_error *err = random_tensor(&x, o->device, r->gemm_dtype, FG_SHAPE(n, n), -1.0f, 1.0f, 11);
    if (!err) err = random_tensor(&w, o->device, WEIGHT_DTYPE, FG_SHAPE(n, n), -0.01f, 0.01f, 12);
    if (!err) err = fg_tensor_alloc(&out, o->device, r->gemm_dtype, FG_SHAPE(n, n));
    for (int i = 0; i < warm && !err; i++) err = fg_linear(&out, &x, &w, NULL, 1.0f, FG_ACT_NONE);
    if (!err) err = fg_device_synchronize(o->device);
    double s = 1e30; /* the fastest repetition: a peak, not an average disturbed by neighbours */
    for (int i = 0; i < reps && !err; i++) {
        double t0 = fg_time_now();
        err = fg_linear(&out, &x, &w, NULL, 1.0f, FG_ACT_NONE);
        if (!err) err = fg_device_synchronize(o->device);
        double t = fg_time_now() - t0;
        if (t < s) s = t;
    }
    fg_tensor_free(&x);
    fg_tensor_free(&w);
    fg_tensor_free(&out);
    if (err) return fg_error_wrapf(err, "peak GEMM %lldx%lldx%lld", (long long)n, (long long)n, (long long)n);
    r->gemm_ms = s * 1e3;
    r->peak_tflops = 2.0 * (double)n * (double)n * (double)n / s / 1e12;
    return NULL;
}

/* ---- T5 -------------------------------------------------------------------------------------- */

static fg_error *time_t5(const bench_opts *o, const preset_configs *pc, bench_report *r) {
    fg_weights *w = NULL;
    fg_t5_model *t5 = NULL;
    int32_t *ids = NULL;
    fg_tensor out = {0};
    fg_layout layout = {0};
    fg_error *err = fg_layout_t5(&pc->t5, &layout);
    if (!err) r->t5_params = fg_layout_params(&layout);
    if (!err) err = fg_random_weights(&layout, o->device, WEIGHT_DTYPE, 2, pc->t5_label, &w);
    fg_layout_free(&layout);
    if (!err) err = fg_t5_load(w, &t5);
    if (!err) err = fg_t5_set_act_dtype(t5, o->act_dtype);
    const int64_t n = o->batch * o->text_tokens;
    if (!err && !(ids = malloc((size_t)n * sizeof *ids))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 ids");
    for (int64_t i = 0; !err && i < n; i++) ids[i] = 2 + (int32_t)(fg_fill_hash(7, (uint64_t)i) % (uint64_t)(pc->t5.vocab - 2));
    for (int64_t i = 0; i < o->warmup + o->steps && !err; i++) {
        if (i == o->warmup) {
            err = fg_device_synchronize(o->device);
            r->t5_ms = fg_time_now();
        }
        fg_tensor_free(&out);
        if (!err) err = fg_t5_encode(t5, o->device, ids, o->batch, o->text_tokens, NULL, &out);
    }
    if (!err) err = fg_device_synchronize(o->device);
    if (!err) r->t5_ms = (fg_time_now() - r->t5_ms) * 1e3 / (double)o->steps;
    fg_tensor_free(&out);
    free(ids);
    fg_t5_free(t5);
    fg_weights_close(w); /* after the model, which borrows it */
    return fg_error_wrapf(err, "T5 encode");
}

/* ---- the DiT --------------------------------------------------------------------------------- */

/* The DiT of a checkpoint: BFL or diffusers names, stand-alone or under a key prefix. */
static fg_error *open_checkpoint_dit(const char *path, fg_weights **out) {
    fg_weights *file = NULL;
    FG_TRY(fg_weights_open(path, &file));
    static const char *const anchors[] = {FG_FLUX_ANCHOR, FG_FLUX_DIFFUSERS_ANCHOR};
    fg_error *err = NULL;
    bool found = false;
    for (int a = 0; a < 2 && !found && !err; a++) {
        char prefix[256];
        err = fg_weights_find_prefix(file, anchors[a], "FLUX DiT", prefix, sizeof prefix);
        if (err && fg_error_code_of(err) == FG_ERR_NOT_FOUND) {
            fg_error_free(err);
            err = NULL;
        } else if (!err) {
            found = true;
            err = fg_weights_view(file, prefix, out);
        }
    }
    if (!found && !err)
        err = fg_errorf(FG_ERR_NOT_FOUND, "%s holds no FLUX DiT (no tensor named [prefix]" FG_FLUX_ANCHOR
                        " or [prefix]" FG_FLUX_DIFFUSERS_ANCHOR ")", path);
    fg_weights_close(file);
    return err;
}

static fg_error *load_dit(const bench_opts *o, const preset_configs *pc, bench_report *r, fg_flux_model **m) {
    double t0 = fg_time_now();
    fg_weights *w = NULL;
    if (o->model) {
        fg_weights *file = NULL;
        FG_TRY(open_checkpoint_dit(o->model, &file));
        if (o->device == FG_DEVICE_CPU) {
            w = file; /* the CPU reads the mapped file directly */
        } else {
            fg_error *err = fg_weights_upload(file, o->device, WEIGHT_DTYPE, &w, &r->upload);
            fg_weights_close(file);
            FG_TRY_CTX(err, "uploading %s", o->model);
            r->uploaded = true;
        }
        r->dit_source = o->model;
    } else {
        fg_layout layout = {0};
        FG_TRY(fg_layout_flux(&pc->dit, &layout));
        fg_error *err = fg_random_weights(&layout, o->device, WEIGHT_DTYPE, 1, pc->dit_label, &w);
        fg_layout_free(&layout);
        FG_TRY(err);
        r->dit_source = pc->dit_label;
    }
    FG_TRY(fg_flux_load_weights(w, m)); /* takes w */
    r->dit_load_s = fg_time_now() - t0;
    fg_error *err = fg_flux_set_act_dtype(*m, o->act_dtype);
    if (err) {
        fg_flux_free(*m);
        *m = NULL;
        return err;
    }
    if ((*m)->device != o->device) {
        err = fg_errorf(FG_ERR_UNSUPPORTED, "the FLUX loader placed the model on %s, not %s",
                                  fg_device_name((*m)->device), fg_device_name(o->device));
        fg_flux_free(*m);
        *m = NULL;
        return err;
    }
    fg_layout layout = {0};
    FG_TRY(fg_layout_flux(&(*m)->p.arch, &layout));
    r->dit_params = fg_layout_params(&layout);
    r->dit_dtype = (*m)->img_in.w.dtype;
    r->act_dtype = (*m)->act_dtype;
    r->dit_gib = (double)fg_random_weights_bytes(&layout, r->dit_dtype) / GIB;
    fg_layout_free(&layout);
    fg_flux_params_describe(&(*m)->p, r->dit_desc, sizeof r->dit_desc);
    return NULL;
}

/* Warmup steps, then o->steps timed forwards between two synchronisations, through the step
 * runner the sampler uses (on a GPU the second step records the graph and later ones replay it,
 * so with --warmup >= 2 the timed steps are replays; FG_CUDA_GRAPHS=0 gives the eager figure). */
static fg_error *time_dit(const bench_opts *o, const fg_flux_model *m, size_result *s) {
    const fg_device dev = o->device;
    const int64_t b = o->batch, lat = s->size / 8;
    const fg_flux_config *a = &m->p.arch;
    fg_tensor x = {0}, ts = {0}, ctx = {0}, y = {0}, g = {0}, out = {0};
    /* A size whose activations cannot fit fails here with the GiB needed and free. */
    FG_TRY_CTX(fg_flux_check_device_memory(m, b, lat, lat, o->text_tokens), "DiT at %lldx%lld", (long long)s->size,
               (long long)s->size);
    fg_error *err = random_tensor(&x, dev, FG_F32, FG_SHAPE(b, m->p.latent_channels, lat, lat), -1.0f, 1.0f, 21);
    if (!err) err = random_tensor(&ts, dev, FG_F32, FG_SHAPE(b), 0.5f, 1.0f, 22);
    if (!err) err = random_tensor(&ctx, dev, FG_F32, FG_SHAPE(b, o->text_tokens, a->context_in_dim), -1.0f, 1.0f, 23);
    if (!err) err = random_tensor(&y, dev, FG_F32, FG_SHAPE(b, a->vec_in_dim), -1.0f, 1.0f, 24);
    if (!err) err = random_tensor(&g, dev, FG_F32, FG_SHAPE(b), 3.0f, 4.0f, 25);
    if (!err) err = fg_tensor_alloc(&out, dev, FG_F32, 4, x.shape);
    fg_flux_inputs in = {&x, &ts, &ctx, &y, a->guidance_embed ? &g : NULL};
    fg_flux_runner *runner = NULL;
    if (!err) err = fg_flux_runner_new(m, &runner);
    fg_device_reset_peak(dev);
    for (int64_t i = 0; i < o->warmup && !err; i++) err = fg_flux_runner_forward(runner, &in, &out);
    if (!err) err = fg_device_synchronize(dev);
    double t0 = fg_time_now();
    for (int64_t i = 0; i < o->steps && !err; i++) err = fg_flux_runner_forward(runner, &in, &out);
    if (!err) err = fg_device_synchronize(dev);
    if (!err)
        FG_LOG_I("DiT at %lldx%lld: activations peak at %.2f GiB (bound %.2f GiB)", (long long)s->size,
                 (long long)s->size, (double)fg_flux_runner_activation_peak(runner) / GIB,
                 (double)fg_flux_activation_bytes(&m->p, b, s->image_tokens, o->text_tokens, m->act_dtype) / GIB);
    fg_flux_runner_free(runner);
    s->ms_per_step = (fg_time_now() - t0) * 1e3 / (double)o->steps;
    s->peak_gib = peak_gib(dev);
    fg_tensor *all[] = {&x, &ts, &ctx, &y, &g, &out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
    return fg_error_wrapf(err, "DiT at %lldx%lld", (long long)s->size, (long long)s->size);
}

/* One decode after at most one warmup decode (a decode is one call per image, and slow). */
static fg_error *time_vae(const bench_opts *o, const fg_vae *vae, size_result *s) {
    const fg_ae_config *c = fg_vae_config(vae);
    const int64_t lat = s->size / 8, f = fg_vae_factor(vae);
    fg_tensor z = {0}, out = {0};
    fg_error *err = random_tensor(&z, o->device, FG_F32, FG_SHAPE(o->batch, c->z_channels, lat, lat), -1.0f, 1.0f, 31);
    if (!err) err = fg_tensor_alloc(&out, o->device, FG_F32, FG_SHAPE(o->batch, c->out_ch, lat * f, lat * f));
    fg_device_reset_peak(o->device);
    if (!err && o->warmup > 0) err = fg_vae_decode(vae, &z, &out);
    if (!err) err = fg_device_synchronize(o->device);
    double t0 = fg_time_now();
    if (!err) err = fg_vae_decode(vae, &z, &out);
    if (!err) err = fg_device_synchronize(o->device);
    s->vae_ms = (fg_time_now() - t0) * 1e3;
    s->vae_peak_gib = peak_gib(o->device);
    fg_tensor_free(&z);
    fg_tensor_free(&out);
    return fg_error_wrapf(err, "VAE decode at %lldx%lld", (long long)s->size, (long long)s->size);
}

static fg_error *run_sizes(const bench_opts *o, const preset_configs *pc, bench_report *r) {
    fg_flux_model *m = NULL;
    fg_weights *vae_w = NULL;
    fg_vae *vae = NULL;
    fg_error *err = load_dit(o, pc, r, &m);
    if (!err && o->vae) {
        fg_layout layout = {0};
        err = fg_layout_ae(&pc->ae, &layout);
        r->vae_params = fg_layout_params(&layout);
        if (!err) err = fg_random_weights(&layout, o->device, WEIGHT_DTYPE, 3, pc->vae_label, &vae_w);
        fg_layout_free(&layout);
        if (!err) err = fg_vae_load(vae_w, &vae);
        if (!err) err = fg_vae_set_act_dtype(vae, o->act_dtype);
    }
    if (!err) print_header(o, r);
    for (int i = 0; i < o->nsizes && !err; i++) {
        size_result *s = &r->sizes[i];
        s->size = o->sizes[i];
        s->image_tokens = fg_flux_image_tokens(s->size, s->size);
        s->flops = fg_flux_forward_flops(&m->p.arch, o->batch, s->image_tokens, o->text_tokens);
        s->vae_ms = s->vae_peak_gib = -1.0;
        err = time_dit(o, m, s);
        s->tflops = s->flops.total / (s->ms_per_step * 1e-3) / 1e12;
        s->percent_of_peak = 100.0 * s->tflops / r->peak_tflops;
        if (!err && vae) err = time_vae(o, vae, s);
        if (!err) {
            r->nsizes = i + 1;
            print_row(s);
        }
    }
    fg_vae_free(vae);
    fg_weights_close(vae_w); /* after the VAE, whose view may borrow its tensors */
    fg_flux_free(m);
    return err;
}

/* ---- report ---------------------------------------------------------------------------------- */

/* "11.90 B" or "7.25 M" parameters. */
static const char *params_str(uint64_t n, char *buf, size_t cap) {
    if (n >= 1000000000u) snprintf(buf, cap, "%.2f B", (double)n / 1e9);
    else snprintf(buf, cap, "%.2f M", (double)n / 1e6);
    return buf;
}

static void print_header(const bench_opts *o, const bench_report *r) {
    char p[32];
    printf("DiT: %s (%s parameters, %.2f GiB %s, %s activations) loaded in %.2f s\n  %s\n", r->dit_source,
           params_str(r->dit_params, p, sizeof p), r->dit_gib, fg_dtype_name(r->dit_dtype), fg_dtype_name(r->act_dtype),
           r->dit_load_s, r->dit_desc);
    if (r->uploaded)
        printf("  uploaded %.2f GB in %.2f s: %.2f GB/s\n", (double)r->upload.bytes_read / 1e9, r->upload.seconds,
               r->upload.seconds > 0 ? (double)r->upload.bytes_read / 1e9 / r->upload.seconds : 0.0);
    printf("batch %lld, %lld text tokens, %lld warmup + %lld timed steps per size\n\n", (long long)o->batch,
           (long long)o->text_tokens, (long long)o->warmup, (long long)o->steps);
    printf("| size | image tokens | ms/step | TFLOP/step (linear + attn) | TFLOP/s | %% of peak | peak mem GiB | VAE decode ms |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
}

static void print_row(const size_result *s) {
    char mem[32] = "n/a", vae[32] = "skipped";
    if (s->peak_gib >= 0) snprintf(mem, sizeof mem, "%.2f", s->peak_gib);
    if (s->vae_ms >= 0) snprintf(vae, sizeof vae, "%.1f", s->vae_ms);
    printf("| %lldx%lld | %lld | %.2f | %.4g (%.4g + %.4g) | %.4g | %.1f | %s | %s |\n", (long long)s->size,
           (long long)s->size, (long long)s->image_tokens, s->ms_per_step, s->flops.total / 1e12, s->flops.linear / 1e12,
           s->flops.attention / 1e12, s->tflops, s->percent_of_peak, mem, vae);
    fflush(stdout);
}

/* A number, or null for the "not measured" marker (< 0) and for what a zero time would make
 * infinite (JSON has no infinity). */
static json_t *measured(double v) { return v >= 0 && isfinite(v) ? json_real(v) : json_null(); }

static json_t *size_json(const size_result *s) {
    return json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:o}", "width", (json_int_t)s->size,
                     "height", (json_int_t)s->size, "image_tokens", (json_int_t)s->image_tokens, "ms_per_step",
                     s->ms_per_step, "tflop_per_step", s->flops.total / 1e12, "linear_tflop", s->flops.linear / 1e12,
                     "attention_tflop", s->flops.attention / 1e12, "tflops", measured(s->tflops), "percent_of_peak",
                     measured(s->percent_of_peak), "peak_memory_gib", measured(s->peak_gib), "vae_decode_ms",
                     measured(s->vae_ms), "vae_peak_memory_gib", measured(s->vae_peak_gib));
}

static json_t *report_json(const bench_opts *o, const bench_report *r) {
    json_t *sizes = json_array();
    for (int i = 0; sizes && i < r->nsizes; i++) json_array_append_new(sizes, size_json(&r->sizes[i]));
    json_t *upload = r->uploaded ? json_pack("{s:f, s:f, s:f}", "gb", (double)r->upload.bytes_read / 1e9, "seconds",
                                             r->upload.seconds, "gb_per_s",
                                             r->upload.seconds > 0 ? (double)r->upload.bytes_read / 1e9 / r->upload.seconds : 0.0)
                                 : json_null();
    json_t *dit = json_pack("{s:s, s:s, s:I, s:f, s:s, s:s, s:f, s:o}", "source", r->dit_source, "config",
                            r->dit_desc, "params", (json_int_t)r->dit_params, "weights_gib", r->dit_gib,
                            "weights_dtype", fg_dtype_name(r->dit_dtype), "act_dtype", fg_dtype_name(r->act_dtype),
                            "load_seconds", r->dit_load_s, "upload", upload);
    json_t *gemm = json_pack("{s:I, s:s, s:f, s:f}", "n", (json_int_t)r->gemm_n, "dtype", fg_dtype_name(r->gemm_dtype),
                             "ms", r->gemm_ms, "tflops", r->peak_tflops);
    json_t *vae = o->vae ? json_pack("{s:s, s:I, s:s}", "source", preset_for(o->preset).vae_label, "params",
                                     (json_int_t)r->vae_params, "weights_dtype", fg_dtype_name(WEIGHT_DTYPE))
                         : json_null();
    json_t *t5 = o->t5 ? json_pack("{s:s, s:I, s:I, s:I, s:f}", "source", preset_for(o->preset).t5_label, "params", (json_int_t)r->t5_params, "tokens",
                                   (json_int_t)o->text_tokens, "batch", (json_int_t)o->batch, "ms", r->t5_ms)
                       : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "tool", "fluxgraph bench",
                     "version", FG_VERSION, "device", fg_device_name(o->device), "machine", r->machine, "preset",
                     o->preset, "batch", (json_int_t)o->batch, "text_tokens", (json_int_t)o->text_tokens, "steps",
                     (json_int_t)o->steps, "warmup", (json_int_t)o->warmup, "peak_gemm", gemm, "dit", dit, "t5", t5, "vae", vae,
                     "sizes", sizes);
}

/* Written to FILE.tmp and renamed, so a failed run never leaves a half record. */
static fg_error *write_json(const bench_opts *o, const bench_report *r) {
    json_t *root = report_json(o, r);
    if (!root) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "building the JSON report");
    char tmp[4096];
    fg_error *err = NULL;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", o->json) >= (int)sizeof tmp)
        err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "--json path too long");
    if (!err && json_dump_file(root, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
        err = fg_errorf(FG_ERR_IO, "cannot write %s", tmp);
    if (!err && rename(tmp, o->json) != 0) err = fg_errorf(FG_ERR_IO, "cannot rename %s to %s", tmp, o->json);
    if (err) remove(tmp);
    json_decref(root);
    return err;
}

/* ---- the command ----------------------------------------------------------------------------- */

static fg_error *run_bench(const bench_opts *o) {
    bench_report *r = calloc(1, sizeof *r);
    if (!r) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "bench report");
    const preset_configs pc = preset_for(o->preset);
    r->machine = fg_device_description(o->device);
    r->t5_ms = -1.0;
    printf("fluxgraph bench on %s\n", r->machine);
    fg_error *err = measure_peak(o, r);
    if (!err)
        printf("peak: %s GEMM %lldx%lldx%lld (BF16 weights) %.3f ms = %.2f TFLOP/s\n", fg_dtype_name(r->gemm_dtype),
               (long long)r->gemm_n, (long long)r->gemm_n, (long long)r->gemm_n, r->gemm_ms, r->peak_tflops);
    if (!err && o->t5) {
        err = time_t5(o, &pc, r);
        if (!err)
            printf("T5: %s (%s parameters), %lld x %lld tokens: %.2f ms per encode\n", pc.t5_label,
                   params_str(r->t5_params, (char[32]){0}, 32), (long long)o->batch, (long long)o->text_tokens, r->t5_ms);
    }
    if (!err) err = run_sizes(o, &pc, r);
    if (!err && o->json) err = write_json(o, r);
    if (!err && o->json) printf("\nwrote %s\n", o->json);
    free(r);
    return err;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.device = g_cli.device, .preset = "dev", .steps = 10, .warmup = 2, .batch = 1,
                    .text_tokens = 512, .t5 = true, .vae = true,
                    .sizes = {512, 1024, 1536, 2048}, .nsizes = 4};
    for (int i = 1; i < argc; i++) {
        int rc = parse_option(argc, argv, &i, &o);
        if (rc) return rc < 0 ? 0 : rc;
    }
    /* The global --activations applies when bench runs on the global device; otherwise the
     * models' default for the device. */
    if (!o.act_set)
        o.act_dtype = o.device == g_cli.device ? g_cli.act_dtype : o.device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    if (!fg_device_available(o.device)) {
        fprintf(stderr, "fluxgraph: error: bench: device %s is not available (%s)\n", fg_device_name(o.device),
                fg_device_description(o.device));
        return 1;
    }
    return cli_report(run_bench(&o));
}
