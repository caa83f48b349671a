/* Sampling: FLUX model sampling and schedulers against golden/sigmas, the full txt2img
 * pipeline with the tiny FLUX model against golden/sampler, prepare_noise, every other sampler
 * against a double-precision reference on a synthetic model, the guider, denoise and
 * start/end slicing, cancellation. `test_sampling --compare-probe OUT` compares a
 * `fluxgraph probe sigmas` output with the golden file (tests/test_probe_sigmas.sh). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/safetensors.h"
#include "kernels/ops.h"
#include "sampling/guidance.h"
#include "sampling/model_sampling.h"
#include "sampling/noise.h"
#include "sampling/sample.h"
#include "sampling/samplers.h"
#include "sampling/pipeline_tests.h"
#include "sampling/reference.h"
#include "sampling/schedulers.h"
#include "testing.h"
#include "unet/flux_loader.h"
#include "vae/latent_format.h"

/* CHECK usable inside an expression: records the failure and yields the condition. */
#define EXPECT(cond, ...) ((cond) ? true : (test_fail_check(__FILE__, __LINE__, #cond, " " __VA_ARGS__), false))

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

static fg_safetensors *open_golden(const char *name) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture(name), &st))) return NULL;
    return st;
}

static fg_model_sampling *new_ms(double mu) {
    fg_model_sampling *ms = malloc(sizeof *ms);
    if (!ms || !CHECK_OK(fg_model_sampling_init_flux(ms, mu))) {
        free(ms);
        return NULL;
    }
    return ms;
}

/* ---- sigma tables and schedules ------------------------------------------------------ */

static void test_shift_for_size(void) {
    CHECK(fabs(fg_flux_shift_for_size(1.15, 0.5, 1024, 1024) - 1.15) < 1e-12);
    CHECK(fabs(fg_flux_shift_for_size(1.15, 0.5, 512, 512) - 0.63) < 1e-12);
    CHECK(fabs(fg_flux_shift_for_size(1.15, 0.5, 64, 64) - 0.459375) < 1e-12);
    fg_model_sampling *ms = new_ms(1.15);
    if (!ms) return;
    CHECK(fg_ms_sigma_max(ms) == 1.0f);
    CHECK(fg_ms_percent_to_sigma(ms, 0.0) == 1.0 && fg_ms_percent_to_sigma(ms, 1.0) == 0.0);
    const double e = exp(1.15);
    CHECK(fabs(fg_ms_percent_to_sigma(ms, 0.25) - e / (e + (1 / 0.75 - 1))) < 1e-15);
    CHECK(fg_ms_timestep(ms, 0.25f) == 0.25f);
    CHECK(fabs(fg_ms_sigma(ms, 0.5f) - e / (e + 1.0)) < 1e-6);
    CHECK_ERR(fg_model_sampling_init_flux(ms, NAN), "shift");
    CHECK_OK(fg_model_sampling_init_flow(ms, 1.0));
    CHECK(ms->count == 1000 && ms->sigmas[0] == 0.001f && ms->sigmas[999] == 1.0f);
    CHECK(fg_ms_percent_to_sigma(ms, 0.3) == 0.7);
    free(ms);
}

static void test_sigma_tables_golden(void) {
    fg_safetensors *st = open_golden("golden/sigmas.safetensors");
    if (!st) return;
    const struct { const char *name; double w; } cases[] = {{"ms_64x64_sigmas", 64}, {"ms_1024x1024_sigmas", 1024}};
    for (int c = 0; c < 2; c++) {
        fg_tensor g;
        if (!CHECK_OK(fg_safetensors_tensor(st, cases[c].name, &g))) continue;
        fg_model_sampling *ms = new_ms(fg_flux_shift_for_size(1.15, 0.5, cases[c].w, cases[c].w));
        if (!ms) continue;
        CHECK(fg_tensor_numel(&g) == ms->count);
        const double d = max_abs_diff(ms->sigmas, g.data, ms->count);
        int exact = 0;
        for (int k = 0; k < ms->count; k++) exact += ms->sigmas[k] == ((const float *)g.data)[k];
        printf("  %s: max abs %.3g, %d of %d bit-exact\n", cases[c].name, d, exact, ms->count);
        CHECK(d <= 1e-6, "%s max abs %g", cases[c].name, d);
        free(ms);
    }
    fg_safetensors_close(st);
}

static bool json_num(json_t *o, const char *key, double *v) {
    json_t *j = json_object_get(o, key);
    if (!json_is_number(j)) return false;
    *v = json_number_value(j);
    return true;
}

/* Computes the schedule described by a golden kN metadata entry. */
static bool schedule_for_meta(const char *meta, fg_sigma_array *out, char *label, size_t cap) {
    json_t *o = json_loads(meta, 0, NULL);
    double w, h, mx, base, steps, denoise;
    json_t *name = json_object_get(o, "scheduler");
    bool ok = o && json_num(o, "width", &w) && json_num(o, "height", &h) && json_num(o, "max_shift", &mx) &&
              json_num(o, "base_shift", &base) && json_num(o, "steps", &steps) && json_num(o, "denoise", &denoise) &&
              json_is_string(name);
    CHECK(ok, "bad metadata %s", meta);
    fg_scheduler sched;
    if (ok) ok = CHECK_OK(fg_scheduler_from_name(json_string_value(name), &sched));
    if (ok) {
        snprintf(label, cap, "%s %gx%g steps %g denoise %g", json_string_value(name), w, h, steps, denoise);
        fg_model_sampling *ms = new_ms(fg_flux_shift_for_size(mx, base, w, h));
        ok = ms && CHECK_OK(fg_schedule_denoise(ms, sched, (int)steps, denoise, FG_DENOISE_BASIC_SCHEDULER, false, out));
        free(ms);
    }
    json_decref(o);
    return ok;
}

static void test_schedules_golden(void) {
    fg_safetensors *st = open_golden("golden/sigmas.safetensors");
    if (!st) return;
    int checked = 0;
    double worst = 0;
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        if (e->name[0] != 'k') continue;
        fg_tensor g;
        fg_sigma_array s = {0};
        char label[128] = "";
        if (!CHECK_OK(fg_safetensors_entry_tensor(st, e, &g))) continue;
        if (!schedule_for_meta(fg_safetensors_metadata(st, e->name), &s, label, sizeof label)) continue;
        CHECK(s.n == fg_tensor_numel(&g), "%s (%s): %d sigmas, golden %lld", e->name, label, s.n,
              (long long)fg_tensor_numel(&g));
        if (s.n == fg_tensor_numel(&g)) {
            const double d = max_abs_diff(s.v, g.data, s.n);
            CHECK(d <= 1e-6, "%s (%s): max abs %g", e->name, label, d);
            if (d > worst) worst = d;
        }
        fg_sigma_array_free(&s);
        checked++;
    }
    printf("  %d schedules, max abs %.3g\n", checked, worst);
    CHECK(checked == 72, "%d schedules", checked);
    fg_safetensors_close(st);
}

static void test_other_schedulers(void) {
    fg_model_sampling *ms = new_ms(1.15);
    if (!ms) return;
    fg_sigma_array s = {0};
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_LINEAR_QUADRATIC, 4, &s)) && EXPECT(s.n == 5)) {
        const float want[5] = {1.0f, 0.9875f, 0.975f, 0.725f, 0.0f};
        CHECK(max_abs_diff(s.v, want, 5) < 1e-6, "linear_quadratic %g %g %g %g", s.v[0], s.v[1], s.v[2], s.v[3]);
    }
    fg_sigma_array_free(&s);
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_DDIM_UNIFORM, 20, &s)) && EXPECT(s.n == 21, "%d", s.n))
        CHECK(s.v[0] == ms->sigmas[9501] && s.v[19] == ms->sigmas[1] && s.v[20] == 0.0f);
    fg_sigma_array_free(&s);
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_KL_OPTIMAL, 3, &s)) && EXPECT(s.n == 4)) {
        const double mid = tan((atan(ms->sigmas[0]) + atan(1.0)) / 2);
        CHECK(fabs(s.v[0] - 1.0) < 1e-6 && fabs(s.v[1] - mid) < 1e-6 && fabs(s.v[2] - ms->sigmas[0]) < 1e-6 &&
              s.v[3] == 0.0f);
    }
    fg_sigma_array_free(&s);
    CHECK_ERR(fg_schedule(ms, FG_SCHED_KL_OPTIMAL, 1, &s), "at least 2");
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, 20, &s)) && EXPECT(s.n == 21))
        CHECK(s.v[0] == 1.0f && fabs(s.v[1] - 0.983608) < 1e-6 && fabs(s.v[2] - 0.966014) < 1e-6);
    fg_sigma_array_free(&s);
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_KARRAS, 1, &s))) CHECK(s.n == 2 && s.v[0] == 1.0f && s.v[1] == 0.0f);
    fg_sigma_array_free(&s);
    CHECK_OK(fg_model_sampling_init_flow(ms, 1.0));
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_NORMAL, 4, &s)) && EXPECT(s.n == 5)) {
        const float want[5] = {1.0f, 0.667f, 0.334f, 0.001f, 0.0f}; /* linspace(1, 0.001, 4) */
        CHECK(max_abs_diff(s.v, want, 5) < 1e-6, "normal/schnell %g %g %g %g", s.v[0], s.v[1], s.v[2], s.v[3]);
    }
    fg_sigma_array_free(&s);
    fg_scheduler sc;
    CHECK_ERR(fg_scheduler_from_name("turbo", &sc), "unknown scheduler 'turbo'");
    CHECK(CHECK_OK(fg_scheduler_from_name("beta", &sc)) && sc == FG_SCHED_BETA);
    CHECK_ERR(fg_schedule(ms, FG_SCHED_SIMPLE, 0, &s), "steps 0");
    free(ms);
}

static void test_denoise_and_steps(void) {
    fg_model_sampling *ms = new_ms(0.8);
    if (!ms) return;
    fg_sigma_array full = {0}, part = {0};
    /* KSampler, denoise 0.5: schedule(8)[-5:] */
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, 8, &full)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_SIMPLE, 4, 0.5, FG_DENOISE_KSAMPLER, false, &part)) &&
        EXPECT(part.n == 5))
        CHECK(memcmp(part.v, full.v + 4, 5 * sizeof(float)) == 0);
    fg_sigma_array_free(&part);
    /* 0.6: int(4 / 0.6) = 6 */
    fg_sigma_array_free(&full);
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_BETA, 6, &full)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_BETA, 4, 0.6, FG_DENOISE_BASIC_SCHEDULER, false, &part)) &&
        EXPECT(part.n == 5))
        CHECK(memcmp(part.v, full.v + full.n - 5, 5 * sizeof(float)) == 0);
    fg_sigma_array_free(&part);
    CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_SIMPLE, 4, 0.0, FG_DENOISE_KSAMPLER, false, &part));
    CHECK(part.n == 0);
    fg_sigma_array_free(&part);
    /* KSampler treats denoise above 0.9999 as 1 */
    CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_SIMPLE, 20, 0.99995, FG_DENOISE_KSAMPLER, false, &part));
    CHECK(part.n == 21);
    fg_sigma_array_free(&part);
    /* KSampler with dpm_2: schedule(5) without its penultimate sigma */
    fg_sigma_array_free(&full);
    CHECK(fg_sampler_discards_penultimate(FG_SAMPLER_DPM_2) && fg_sampler_discards_penultimate(FG_SAMPLER_UNI_PC) &&
          fg_sampler_discards_penultimate(FG_SAMPLER_DPM_2_ANCESTRAL) &&
          fg_sampler_discards_penultimate(FG_SAMPLER_UNI_PC_BH2) && !fg_sampler_discards_penultimate(FG_SAMPLER_EULER));
    if (CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, 5, &full)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_SIMPLE, 4, 1.0, FG_DENOISE_KSAMPLER, true, &part)) &&
        EXPECT(part.n == 5))
        CHECK(memcmp(part.v, full.v, 4 * sizeof(float)) == 0 && part.v[4] == 0.0f);
    fg_sigma_array_free(&part);
    fg_sigma_array_free(&full);
    free(ms);
}

static void test_advanced_slicing(void) {
    float base[11];
    for (int i = 0; i < 11; i++) base[i] = i == 10 ? 0.0f : 1.0f - 0.1f * (float)i;
    fg_sigma_array s = {0};
    bool unchanged;
    /* end 6, leftover noise kept; start 2 -> sigmas[2..6] */
    if (CHECK_OK(fg_sigmas_from(&s, base, 11)) && CHECK_OK(fg_sigmas_advanced_slice(&s, 2, 6, false, &unchanged)))
        CHECK(!unchanged && s.n == 5 && s.v[0] == base[2] && s.v[4] == base[6]);
    fg_sigma_array_free(&s);
    /* force_full_denoise: the last kept sigma becomes 0 */
    if (CHECK_OK(fg_sigmas_from(&s, base, 11)) && CHECK_OK(fg_sigmas_advanced_slice(&s, 0, 6, true, &unchanged)))
        CHECK(!unchanged && s.n == 7 && s.v[0] == 1.0f && s.v[6] == 0.0f);
    fg_sigma_array_free(&s);
    /* end beyond the schedule: untouched; start at the end: nothing to do */
    if (CHECK_OK(fg_sigmas_from(&s, base, 11)) && CHECK_OK(fg_sigmas_advanced_slice(&s, 0, 10000, true, &unchanged)))
        CHECK(!unchanged && s.n == 11 && memcmp(s.v, base, sizeof base) == 0);
    fg_sigma_array_free(&s);
    if (CHECK_OK(fg_sigmas_from(&s, base, 11)) && CHECK_OK(fg_sigmas_advanced_slice(&s, 10, 10000, true, &unchanged)))
        CHECK(unchanged);
    fg_sigma_array_free(&s);
    if (CHECK_OK(fg_sigmas_from(&s, base, 11)))
        CHECK_ERR(fg_sigmas_advanced_slice(&s, -1, 3, true, &unchanged), "negative");
    fg_sigma_array_free(&s);
}

/* ---- noise ----------------------------------------------------------------------------- */

static void test_prepare_noise_golden(void) {
    fg_noise_set_variant(FG_RANDN_AVX2); /* the goldens come from torch on x86-64 */
    fg_safetensors *sampler = open_golden("golden/sampler.safetensors");
    fg_safetensors *rng = open_golden("golden/rng.safetensors");
    fg_tensor g, out;
    if (sampler && CHECK_OK(fg_safetensors_tensor(sampler, "noise", &g)) &&
        CHECK_OK(fg_tensor_alloc_host(&out, FG_F32, g.ndim, g.shape))) {
        CHECK_OK(fg_prepare_noise(&out, 42, NULL, 0));
        CHECK(memcmp(out.data, g.data, fg_tensor_nbytes(&g)) == 0, "sampler noise differs");
        fg_tensor_free_host(&out);
    }
    if (rng && CHECK_OK(fg_safetensors_tensor(rng, "prepare_noise", &g)) &&
        CHECK_OK(fg_tensor_alloc_host(&out, FG_F32, g.ndim, g.shape))) {
        CHECK_OK(fg_prepare_noise(&out, 42, NULL, 0));
        CHECK(memcmp(out.data, g.data, fg_tensor_nbytes(&g)) == 0, "rng prepare_noise differs");
        fg_tensor_free_host(&out);
    }
    if (sampler) fg_safetensors_close(sampler);
    if (rng) fg_safetensors_close(rng);
}

static void test_batch_index(void) {
    const int64_t item = 16 * 4 * 4;
    float draws[3][16 * 4 * 4];
    fg_torch_generator gen;
    fg_torch_manual_seed(&gen, 7);
    for (int k = 0; k < 3; k++) fg_torch_randn(&gen, draws[k], item, FG_RANDN_AVX2);
    fg_tensor t;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(2, 16, 4, 4)))) return;
    const float *p = t.data;
    /* batch_index [2, 0]: item 0 gets the third draw, item 1 the first */
    CHECK_OK(fg_prepare_noise(&t, 7, (const int64_t[]){2, 0}, 2));
    CHECK(memcmp(p, draws[2], sizeof draws[2]) == 0 && memcmp(p + item, draws[0], sizeof draws[0]) == 0);
    /* duplicates share a draw */
    CHECK_OK(fg_prepare_noise(&t, 7, (const int64_t[]){1, 1}, 2));
    CHECK(memcmp(p, draws[1], sizeof draws[1]) == 0 && memcmp(p + item, draws[1], sizeof draws[1]) == 0);
    /* without batch_index: one randn over both items (not per-item draws) */
    float whole[2 * 16 * 4 * 4];
    fg_torch_manual_seed(&gen, 7);
    fg_torch_randn(&gen, whole, 2 * item, FG_RANDN_AVX2);
    CHECK_OK(fg_prepare_noise(&t, 7, NULL, 0));
    CHECK(memcmp(p, whole, sizeof whole) == 0);
    /* a blocks-of-16 stream: item 1 of the batch is the second per-item draw, unlike seed 8 */
    CHECK(memcmp(p + item, draws[1], sizeof draws[1]) == 0);
    CHECK_OK(fg_prepare_noise(&t, 8, NULL, 0));
    CHECK(memcmp(p, whole, sizeof whole) != 0);
    CHECK_ERR(fg_prepare_noise(&t, 7, (const int64_t[]){0}, 1), "batch indices");
    CHECK_ERR(fg_prepare_noise(&t, 7, (const int64_t[]){0, -1}, 2), "out of range");
    CHECK_ERR(fg_prepare_noise(&t, 7, (const int64_t[]){0, 1LL << 40}, 2), "out of range");
    fg_tensor_free_host(&t);
}

/* ---- the golden txt2img run with the tiny FLUX model ------------------------------------ */

static fg_flux_model *tiny_flux;

typedef struct golden_trace {
    float call_sigmas[16];
    int calls;
    fg_tensor x0; /* x seen by the first step */
} golden_trace;

/* The DiT, recording the sigma of every call. */
static fg_error *recording_dit(void *user, const fg_tensor *x, float sigma, const fg_cond_view *e, fg_tensor *den) {
    golden_trace *t = user;
    if (t->calls < 16) t->call_sigmas[t->calls] = sigma;
    t->calls++;
    fg_flux_cond_model dit = {.model = tiny_flux};
    return fg_flux_cond_denoise(&dit, x, sigma, e, den);
}

static void record_progress(void *user, int step, int total, const fg_tensor *x, const fg_tensor *den) {
    golden_trace *t = user;
    (void)total;
    (void)den;
    if (step == 1 && t->x0.data) memcpy(t->x0.data, x->data, fg_tensor_nbytes(x));
}

static void compare_named(fg_safetensors *st, const char *sampler, const char *what, const fg_tensor *got,
                          double tol) {
    char name[64];
    snprintf(name, sizeof name, "%s_%s", sampler, what);
    fg_tensor g;
    if (!CHECK_OK(fg_safetensors_tensor(st, name, &g))) return;
    if (!EXPECT(fg_tensor_numel(&g) == fg_tensor_numel(got), "%s size", name)) return;
    const double d = max_abs_diff(got->data, g.data, fg_tensor_numel(&g));
    printf("  %s: max abs %.3g (tolerance %g)\n", name, d, tol);
    CHECK(d <= tol, "%s max abs %g", name, d);
}

static void run_golden_sampler(const char *sampler_name) {
    fg_safetensors *st = open_golden("golden/sampler.safetensors");
    if (!st) return;
    if (!tiny_flux && !CHECK_OK(fg_flux_load(test_fixture("models/diffusion_models/tiny-flux.safetensors"), &tiny_flux))) {
        fg_safetensors_close(st);
        return;
    }
    fg_tensor cond, pooled, latent = {0}, samples = {0}, den = {0}, x0 = {0}, sig_t = {0}, dsig = {0};
    fg_model_sampling *ms = new_ms(fg_flux_shift_for_size(1.15, 0.5, 64, 64));
    fg_sigma_array sig = {0};
    bool ok = ms && CHECK_OK(fg_safetensors_tensor(st, "cond", &cond)) &&
              CHECK_OK(fg_safetensors_tensor(st, "pooled", &pooled)) &&
              CHECK_OK(fg_tensor_alloc_host(&latent, FG_F32, FG_SHAPE(1, 16, 8, 8))) &&
              CHECK_OK(fg_tensor_alloc_host(&x0, FG_F32, FG_SHAPE(1, 16, 8, 8))) &&
              CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, 4, &sig));
    if (ok) {
        const fg_cond_view pos = {.cond = &cond, .pooled = &pooled, .guidance = 3.5f};
        golden_trace trace = {.x0 = x0};
        /* seed 42 draws the golden "noise" (test_prepare_noise_golden) and seeds the ancestral stream */
        fg_sample_request req = {.model = tiny_flux, .cond_model = recording_dit, .cond_model_user = &trace,
                                 .sampling = FG_SAMPLING_FLUX, .shift = ms->shift, .positive = &pos, .n_positive = 1,
                                 .cfg = 1.0f, .eta = 1.0f, .s_noise = 1.0f, .sigmas = sig.v, .n_sigmas = sig.n,
                                 .latent = &latent, .noise = {.seed = 42}, .progress = record_progress,
                                 .progress_user = &trace};
        CHECK_OK(fg_sampler_from_name(sampler_name, &req.sampler));
        fg_noise_set_variant(FG_RANDN_AVX2); /* the goldens come from torch on x86-64 */
        if (CHECK_OK(fg_sample_latent(&req, &samples, &den))) {
            CHECK(trace.calls == 4, "%d model calls", trace.calls);
            CHECK_OK(fg_tensor_alloc_host(&sig_t, FG_F32, FG_SHAPE(sig.n)));
            memcpy(sig_t.data, sig.v, (size_t)sig.n * sizeof(float));
            compare_named(st, sampler_name, "sigmas", &sig_t, 0.0);
            CHECK_OK(fg_tensor_alloc_host(&dsig, FG_F32, FG_SHAPE(4)));
            memcpy(dsig.data, trace.call_sigmas, 4 * sizeof(float));
            compare_named(st, sampler_name, "denoised_sigmas", &dsig, 0.0);
            compare_named(st, sampler_name, "x0", &x0, 1e-6);
            compare_named(st, sampler_name, "latent", &samples, 2e-3);
            CHECK_OK(fg_latent_process_in(&samples, &samples)); /* back to the sampler's output */
            compare_named(st, sampler_name, "samples", &samples, 1e-3);
        }
    }
    fg_tensor_free_host(&latent);
    fg_tensor_free_host(&samples);
    fg_tensor_free_host(&den);
    fg_tensor_free_host(&x0);
    fg_tensor_free_host(&sig_t);
    fg_tensor_free_host(&dsig);
    fg_sigma_array_free(&sig);
    free(ms);
    fg_safetensors_close(st);
}

/* ComfyUI casts guidance to the model's compute dtype (comfy/model_base.py, _apply_model) and
 * multiplies it by 1000 there: our F32 activations keep 3.5, BF16 ones give 3500 -> 3504. */
static void test_guidance_rounding(void) {
    if (!tiny_flux && !CHECK_OK(fg_flux_load(test_fixture("models/diffusion_models/tiny-flux.safetensors"), &tiny_flux)))
        return;
    CHECK(tiny_flux->img_in.w.dtype == FG_BF16 && tiny_flux->act_dtype == FG_F32);
    CHECK(fg_flux_effective_guidance(tiny_flux, 3.5f) == 3.5f, "F32 activations: no cast");
    fg_flux_model *bf16 = NULL;
    if (!CHECK_OK(fg_flux_load(test_fixture("models/diffusion_models/tiny-flux.safetensors"), &bf16))) return;
    if (CHECK_OK(fg_flux_set_act_dtype(bf16, FG_BF16))) {
        const float g = fg_flux_effective_guidance(bf16, 3.5f);
        CHECK(g * 1000.0f == 3504.0f, "%.9g", (double)g);
        CHECK(fg_flux_effective_guidance(bf16, 30.0f) * 1000.0f == 29952.0f); /* bf16(30000) */
    }
    fg_flux_free(bf16);
}

/* denoised of one DiT call at sigma 0.6 for a conditioning entry with this guidance. */
static bool dit_denoised(const fg_flux_model *m, float guidance, const fg_tensor *cond, const fg_tensor *pooled,
                         fg_tensor *out) {
    fg_tensor x;
    if (!CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(1, 16, 8, 8)))) return false;
    for (int i = 0; i < 16 * 64; i++) ((float *)x.data)[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
    const fg_flux_cond_model dit = {.model = m};
    const fg_cond_view e = {.cond = cond, .pooled = pooled, .guidance = guidance};
    bool ok = CHECK_OK(fg_tensor_alloc_host(out, FG_F32, FG_SHAPE(1, 16, 8, 8))) &&
              CHECK_OK(fg_flux_cond_denoise((void *)&dit, &x, 0.6f, &e, out));
    fg_tensor_free_host(&x);
    return ok;
}

/* The sampler's DiT call applies that cast from the model's activation dtype: with BF16
 * activations guidance 3.5 and 3.504 reach the DiT as the same value (so the same result),
 * while F32 activations tell them apart. */
static void test_guidance_follows_activations(void) {
    fg_safetensors *st = open_golden("golden/sampler.safetensors");
    fg_flux_model *m = NULL;
    fg_tensor cond, pooled, a = {0}, b = {0};
    if (!st || !CHECK_OK(fg_safetensors_tensor(st, "cond", &cond)) ||
        !CHECK_OK(fg_safetensors_tensor(st, "pooled", &pooled)) ||
        !CHECK_OK(fg_flux_load(test_fixture("models/diffusion_models/tiny-flux.safetensors"), &m)))
        goto done;
    const float rounded = 3504.0f / 1000.0f;
    if (dit_denoised(m, 3.5f, &cond, &pooled, &a) && dit_denoised(m, rounded, &cond, &pooled, &b))
        CHECK(memcmp(a.data, b.data, fg_tensor_nbytes(&a)) != 0, "F32: guidance 3.5 and 3.504 gave the same");
    fg_tensor_free_host(&a);
    fg_tensor_free_host(&b);
    if (CHECK_OK(fg_flux_set_act_dtype(m, FG_BF16)) && dit_denoised(m, 3.5f, &cond, &pooled, &a) &&
        dit_denoised(m, rounded, &cond, &pooled, &b))
        CHECK(memcmp(a.data, b.data, fg_tensor_nbytes(&a)) == 0, "BF16: guidance 3.5 was not cast to bf16");
done:
    fg_tensor_free_host(&a);
    fg_tensor_free_host(&b);
    fg_flux_free(m);
    if (st) fg_safetensors_close(st);
}

static void test_golden_euler(void) { run_golden_sampler("euler"); }
static void test_golden_euler_ancestral(void) { run_golden_sampler("euler_ancestral"); }
static void test_golden_dpmpp_2m(void) { run_golden_sampler("dpmpp_2m"); }

/* ---- every sampler against the double-precision reference on a synthetic model ----------- */

static fg_error *synthetic_model(void *user, const fg_tensor *x, float sigma, fg_tensor *den) {
    int *calls = user;
    if (calls) (*calls)++;
    const float *in = x->data;
    float *out = den->data;
    for (int64_t e = 0, n = fg_tensor_numel(x); e < n; e++) out[e] = (float)ref_model(in[e], sigma, e);
    return NULL;
}

static void fill_start(fg_tensor *x, double *ref, uint64_t seed) {
    fg_torch_generator g;
    fg_torch_manual_seed(&g, seed);
    fg_torch_randn(&g, x->data, fg_tensor_numel(x), FG_RANDN_AVX2);
    for (int64_t e = 0; e < fg_tensor_numel(x); e++) ref[e] = ((float *)x->data)[e];
}

static void check_sampler_vs_reference(const char *name, int steps, float eta, int expected_calls) {
    fg_model_sampling *ms = new_ms(1.15);
    fg_sigma_array sig = {0};
    fg_tensor x = {0}, last = {0};
    double *ref = calloc(2 * 16 * 4 * 4, sizeof(double));
    fg_sampler s;
    fg_sampler_options opt;
    fg_sampler_options_default(&opt);
    opt.seed = 1234;
    opt.eta = eta;
    if (ms && ref && CHECK_OK(fg_sampler_from_name(name, &s)) && CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, steps, &sig)) &&
        CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(2, 16, 4, 4))) &&
        CHECK_OK(fg_tensor_alloc_host(&last, FG_F32, FG_SHAPE(2, 16, 4, 4)))) {
        fill_start(&x, ref, 99);
        int calls = 0;
        CHECK_OK(fg_sampler_run(s, synthetic_model, &calls, &x, sig.v, sig.n, &opt, &last));
        CHECK(calls == expected_calls, "%s: %d model calls, expected %d", name, calls, expected_calls);
        CHECK(ref_sample(name, ref, fg_tensor_numel(&x), sig.v, sig.n, eta, 1.0, 1234) == 0);
        double d = 0, scale = 0;
        for (int64_t e = 0; e < fg_tensor_numel(&x); e++) {
            const double diff = fabs(((float *)x.data)[e] - ref[e]);
            if (!(diff <= d)) d = diff;
            if (fabs(ref[e]) > scale) scale = fabs(ref[e]);
        }
        printf("  %s (%d steps, eta %g): max abs vs double reference %.3g (values up to %.3g)\n", name, steps,
               (double)eta, d, scale);
        CHECK(d <= 5e-5 * (1 + scale), "%s: max abs %g", name, d);
        CHECK(scale > 0.01, "%s: degenerate result", name);
    }
    fg_tensor_free_host(&x);
    fg_tensor_free_host(&last);
    fg_sigma_array_free(&sig);
    free(ref);
    free(ms);
}

static void test_samplers_vs_reference(void) {
    /* 6 steps: every history depth of lms/ipndm/deis is exercised */
    check_sampler_vs_reference("euler", 6, 1.0f, 6);
    check_sampler_vs_reference("ddim", 6, 1.0f, 6);
    check_sampler_vs_reference("euler_ancestral", 6, 1.0f, 6);
    check_sampler_vs_reference("euler_ancestral", 6, 0.5f, 6);
    check_sampler_vs_reference("heun", 6, 1.0f, 11);
    check_sampler_vs_reference("dpm_2", 6, 1.0f, 11);
    check_sampler_vs_reference("dpm_2_ancestral", 6, 1.0f, 11);
    check_sampler_vs_reference("dpm_2_ancestral", 6, 0.0f, 11);
    check_sampler_vs_reference("lms", 6, 1.0f, 6);
    check_sampler_vs_reference("dpmpp_2m", 6, 1.0f, 6);
    check_sampler_vs_reference("ipndm", 6, 1.0f, 6);
    check_sampler_vs_reference("deis", 6, 1.0f, 6);
    check_sampler_vs_reference("lcm", 6, 1.0f, 6);
    check_sampler_vs_reference("uni_pc", 6, 1.0f, 6);
    check_sampler_vs_reference("uni_pc_bh2", 6, 1.0f, 6);
    check_sampler_vs_reference("uni_pc", 3, 1.0f, 3); /* order 2 */
    check_sampler_vs_reference("uni_pc", 2, 1.0f, 2); /* order 1 */
    check_sampler_vs_reference("uni_pc_bh2", 1, 1.0f, 1); /* order 0: one model call, rescale only */
}

static void test_sampler_names(void) {
    fg_sampler s;
    const char *sde[] = {"dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_3m_sde"};
    for (int i = 0; i < 5; i++) CHECK_ERR(fg_sampler_from_name(sde[i], &s), "needs torchsde's Brownian tree");
    CHECK_ERR(fg_sampler_from_name("dpmpp_2s_ancestral", &s), "sampler 'dpmpp_2s_ancestral' is not implemented");
    CHECK_ERR(fg_sampler_from_name("res_multistep", &s), "sampler 'res_multistep' is not implemented");
    CHECK_ERR(fg_sampler_from_name("warp_drive", &s), "unknown sampler 'warp_drive'");
    for (int i = 0; i < FG_SAMPLER_COUNT; i++) {
        fg_sampler back;
        CHECK(CHECK_OK(fg_sampler_from_name(fg_sampler_name((fg_sampler)i), &back)) && back == (fg_sampler)i);
    }
}

static void test_sampler_bad_inputs(void) {
    fg_tensor x;
    if (!CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(1, 16, 2, 2)))) return;
    const float zero_mid[3] = {1.0f, 0.0f, 0.0f}, neg[2] = {-1.0f, 0.0f}, one[1] = {0.5f};
    CHECK_ERR(fg_sampler_run(FG_SAMPLER_EULER, synthetic_model, NULL, &x, zero_mid, 3, NULL, NULL), "is 0 before");
    CHECK_ERR(fg_sampler_run(FG_SAMPLER_EULER, synthetic_model, NULL, &x, neg, 2, NULL, NULL), "sigma 0 is -1");
    CHECK_ERR(fg_sampler_run(FG_SAMPLER_EULER, synthetic_model, NULL, &x, neg, 0, NULL, NULL), "no sigmas");
    CHECK_OK(fg_sampler_run(FG_SAMPLER_EULER, synthetic_model, NULL, &x, one, 1, NULL, NULL));
    fg_tensor_free_host(&x);
}

static void keep_denoised(void *user, int step, int total, const fg_tensor *x, const fg_tensor *den) {
    (void)step;
    (void)total;
    (void)x;
    memcpy(((fg_tensor *)user)->data, den->data, fg_tensor_nbytes(den));
}

/* last_denoised is the denoised of the last step's main call (what the progress saw last). */
static void test_last_denoised(void) {
    const float sigmas[4] = {1.0f, 0.7f, 0.3f, 0.0f};
    for (int s = 0; s < FG_SAMPLER_COUNT; s++) {
        fg_tensor x, last, seen;
        if (!CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(1, 16, 2, 2))) ||
            !CHECK_OK(fg_tensor_alloc_host(&last, FG_F32, FG_SHAPE(1, 16, 2, 2))) ||
            !CHECK_OK(fg_tensor_alloc_host(&seen, FG_F32, FG_SHAPE(1, 16, 2, 2))))
            return;
        for (int i = 0; i < 64; i++) ((float *)x.data)[i] = (float)(i % 5) - 2.0f;
        fg_sampler_options opt;
        fg_sampler_options_default(&opt);
        opt.progress = keep_denoised;
        opt.progress_user = &seen;
        CHECK_OK(fg_sampler_run((fg_sampler)s, synthetic_model, NULL, &x, sigmas, 4, &opt, &last));
        CHECK(memcmp(last.data, seen.data, fg_tensor_nbytes(&last)) == 0, "%s", fg_sampler_name((fg_sampler)s));
        fg_tensor_free_host(&x);
        fg_tensor_free_host(&last);
        fg_tensor_free_host(&seen);
    }
}

/* ---- cancellation ------------------------------------------------------------------------ */

static volatile int cancel_flag;

static void cancel_after_two(void *user, int step, int total, const fg_tensor *x, const fg_tensor *den) {
    (void)x;
    (void)den;
    int *seen = user;
    *seen = step;
    CHECK(total == 4);
    if (step == 2) cancel_flag = 1;
}

static void test_cancellation(void) {
    fg_model_sampling *ms = new_ms(1.15);
    fg_sigma_array sig = {0};
    fg_tensor x;
    if (!ms || !CHECK_OK(fg_schedule(ms, FG_SCHED_SIMPLE, 4, &sig)) ||
        !CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(1, 16, 2, 2)))) {
        free(ms);
        return;
    }
    for (int s = 0; s < FG_SAMPLER_COUNT; s++) {
        fg_sampler_options opt;
        fg_sampler_options_default(&opt);
        int seen = 0, calls = 0;
        cancel_flag = 0;
        opt.cancel = &cancel_flag;
        opt.progress = cancel_after_two;
        opt.progress_user = &seen;
        fg_error *err = fg_sampler_run((fg_sampler)s, synthetic_model, &calls, &x, sig.v, sig.n, &opt, NULL);
        CHECK(fg_error_code_of(err) == FG_ERR_CANCELLED, "%s", fg_sampler_name((fg_sampler)s));
        CHECK(err && strstr(fg_error_message(err), "cancelled after step 2 of 4"), "%s: %s",
              fg_sampler_name((fg_sampler)s), err ? fg_error_message(err) : "no error");
        CHECK(seen == 2);
        fg_error_free(err);
    }
    fg_tensor_free_host(&x);
    fg_sigma_array_free(&sig);
    free(ms);
}

/* ---- probe comparison mode ----------------------------------------------------------------- */

static int compare_probe(const char *path) {
    fg_safetensors *golden = NULL, *out = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/sigmas.safetensors"), &golden)) ||
        !CHECK_OK(fg_safetensors_open(path, &out)))
        return test_summary();
    double worst = 0;
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const fg_st_entry *e = fg_safetensors_entry(golden, i);
        fg_tensor g, o;
        if (!CHECK_OK(fg_safetensors_entry_tensor(golden, e, &g)) || !CHECK_OK(fg_safetensors_tensor(out, e->name, &o)))
            continue;
        if (!EXPECT(fg_tensor_same_shape(&g, &o) && o.dtype == FG_F32, "%s shape", e->name)) continue;
        const double d = max_abs_diff(o.data, g.data, fg_tensor_numel(&g));
        CHECK(d <= 1e-6, "%s: max abs %g", e->name, d);
        if (d > worst) worst = d;
    }
    CHECK(fg_safetensors_count(out) == fg_safetensors_count(golden));
    printf("probe sigmas: %zu tensors, max abs %.3g\n", fg_safetensors_count(golden), worst);
    fg_safetensors_close(golden);
    fg_safetensors_close(out);
    return test_summary();
}

/* --noise-compat default reaches prepare_noise: torch's generic kernel (x86 torch with
 * ATEN_CPU_CAPABILITY=default), then back to the AVX2 kernel the other goldens need. */
static void test_prepare_noise_default_variant(void) {
    fg_safetensors *rng = open_golden("golden/rng_default.safetensors");
    fg_tensor g, out;
    if (rng && CHECK_OK(fg_safetensors_tensor(rng, "prepare_noise", &g)) &&
        CHECK_OK(fg_tensor_alloc_host(&out, FG_F32, g.ndim, g.shape))) {
        fg_noise_set_variant(FG_RANDN_DEFAULT);
        CHECK_OK(fg_prepare_noise(&out, 42, NULL, 0));
        CHECK(memcmp(out.data, g.data, fg_tensor_nbytes(&g)) == 0, "default-kernel prepare_noise differs");
        fg_noise_set_variant(FG_RANDN_AVX2);
        CHECK_OK(fg_prepare_noise(&out, 42, NULL, 0));
        CHECK(memcmp(out.data, g.data, fg_tensor_nbytes(&g)) != 0, "the variant must change the noise");
        fg_tensor_free_host(&out);
    }
    if (rng) fg_safetensors_close(rng);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--compare-probe") == 0) return compare_probe(argv[2]);
    RUN_TEST(test_shift_for_size);
    RUN_TEST(test_sigma_tables_golden);
    RUN_TEST(test_schedules_golden);
    RUN_TEST(test_other_schedulers);
    RUN_TEST(test_denoise_and_steps);
    RUN_TEST(test_advanced_slicing);
    RUN_TEST(test_prepare_noise_golden);
    RUN_TEST(test_prepare_noise_default_variant);
    RUN_TEST(test_batch_index);
    RUN_TEST(test_guidance_rounding);
    RUN_TEST(test_guidance_follows_activations);
    RUN_TEST(test_golden_euler);
    RUN_TEST(test_golden_euler_ancestral);
    RUN_TEST(test_golden_dpmpp_2m);
    RUN_TEST(test_samplers_vs_reference);
    RUN_TEST(test_sampler_names);
    RUN_TEST(test_sampler_bad_inputs);
    RUN_TEST(test_last_denoised);
    RUN_TEST(test_cancellation);
    RUN_TEST(test_guider);
    RUN_TEST(test_pipeline);
    RUN_TEST(test_schedule_for_node);
    if (tiny_flux) fg_flux_free(tiny_flux);
    return test_summary();
}
