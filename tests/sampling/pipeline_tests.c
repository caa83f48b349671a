/* The sampling pipeline around the samplers, for tests/test_sampling.c: the guider (timestep
 * ranges, ConditioningCombine, CFG), fg_sample_latent on a constant model (noise from the noise
 * source, the empty-latent fix, batch_index, leftover noise) and fg_schedule_for_node's rules. */
#include "pipeline_tests.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampling/guidance.h"
#include "sampling/noise.h"
#include "sampling/sample.h"
#include "sampling/schedulers.h"
#include "tests/testing.h"

static fg_model_sampling *new_ms(double mu) {
    fg_model_sampling *ms = NULL;
    return CHECK_OK(fg_model_sampling_new(FG_SAMPLING_FLUX, mu, &ms)) ? ms : NULL;
}

/* ---- the guider ------------------------------------------------------------------------- */

/* Each entry's denoised is the constant entry->guidance; evaluations are counted per value. */
typedef struct const_model {
    int evals[8];
    fg_tensor first_x;
    bool seen_first;
} const_model;

static fg_error *constant_entry_model(void *user, const fg_tensor *x, float sigma, const fg_cond_view *e,
                                      fg_tensor *den) {
    const_model *m = user;
    (void)sigma;
    const int id = (int)e->guidance;
    if (id >= 0 && id < 8) m->evals[id]++;
    if (!m->seen_first && m->first_x.data) memcpy(m->first_x.data, x->data, fg_tensor_nbytes(x));
    m->seen_first = true;
    float *out = den->data;
    for (int64_t i = 0; i < fg_tensor_numel(den); i++) out[i] = e->guidance;
    return NULL;
}

static float guided_value(fg_cfg_guider *g, float sigma) {
    fg_tensor x, out;
    float v = NAN;
    if (CHECK_OK(fg_tensor_alloc_host(&x, FG_F32, FG_SHAPE(1, 16, 2, 2))) &&
        CHECK_OK(fg_tensor_alloc_host(&out, FG_F32, FG_SHAPE(1, 16, 2, 2)))) {
        if (CHECK_OK(fg_cfg_guider_denoise(g, &x, sigma, &out))) v = ((float *)out.data)[5];
        fg_tensor_free_host(&out);
    }
    fg_tensor_free_host(&x);
    return v;
}

void test_guider(void) {
    fg_model_sampling *ms = new_ms(1.15);
    if (!ms) return;
    const_model m = {0};
    fg_cond_view pos[2] = {{.guidance = 1}, {.guidance = 3}}, neg[1] = {{.guidance = 2}};
    fg_cfg_guider g = {.ms = ms, .positive = pos, .n_positive = 1, .negative = neg, .n_negative = 1, .cfg = 1.0f,
                   .model = constant_entry_model, .user = &m};
    CHECK(guided_value(&g, 0.5f) == 1.0f);
    CHECK(m.evals[2] == 0, "cfg 1 evaluated the negative");
    g.cfg = 2.5f; /* 2 + (1 - 2) * 2.5 */
    CHECK(guided_value(&g, 0.5f) == -0.5f && m.evals[2] == 1);
    g.cfg = 1.0f;
    g.n_positive = 2; /* ConditioningCombine: the average */
    CHECK(guided_value(&g, 0.5f) == 2.0f);
    /* entry 3 only for the first half of the schedule: start 0, end 0.5 */
    pos[1].has_start = pos[1].has_end = true;
    pos[1].start_percent = 0.0;
    pos[1].end_percent = 0.5;
    const float boundary = (float)fg_ms_percent_to_sigma(ms, 0.5);
    CHECK(guided_value(&g, 0.9f) == 2.0f);
    CHECK(guided_value(&g, boundary) == 2.0f);
    CHECK(guided_value(&g, nextafterf(boundary, 0.0f)) == 1.0f);
    CHECK(fg_cond_view_active(ms, &pos[1], 1.0f) && !fg_cond_view_active(ms, &pos[1], 0.1f));
    /* nothing active: zeros */
    pos[0] = pos[1];
    CHECK(guided_value(&g, 0.1f) == 0.0f);
    CHECK(fg_cfg_is_one(1.0f) && !fg_cfg_is_one(1.001f));
    free(ms);
}

/* ---- the pipeline around the sampler ------------------------------------------------------ */

static double max_abs_scaled_diff(const float *got, float scale, const float *want, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) { /* not fmax: GCC 12.2 for aarch64 crashes vectorising an fmax
                                    * reduction (and a NaN must fail here, which fmax would drop) */
        const double e = fabs((double)got[i] - (double)(scale * want[i]));
        if (!(e <= d)) d = e;
    }
    return d;
}

/* The request every pipeline case starts from: euler over {0.6, 0} on the constant model,
 * noise seeded 5. */
static fg_sample_request pipeline_request(const_model *m, const fg_cond_view *pos, const fg_tensor *lat,
                                          const float *sigmas) {
    return (fg_sample_request){.cond_model = constant_entry_model, .cond_model_user = m,
                               .sampling = FG_SAMPLING_FLUX, .shift = 1.15, .positive = pos, .n_positive = 1,
                               .cfg = 1.0f, .sampler = FG_SAMPLER_EULER, .eta = 1.0f, .s_noise = 1.0f,
                               .sigmas = sigmas, .n_sigmas = 2, .latent = lat, .noise = {.seed = 5}};
}

/* A non-zero latent: process_in, then sigma0 * noise + (1 - sigma0) * latent, with the noise
 * the request's seed draws; leftover noise divides the result by (1 - last sigma). */
static void pipeline_nonzero_latent(const fg_tensor *lat, const fg_tensor *noise) {
    const_model m = {0};
    const fg_cond_view pos = {.guidance = 3};
    const float sigmas[2] = {0.6f, 0.0f};
    fg_tensor out = {0}, den = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&m.first_x, FG_F32, FG_SHAPE(1, 16, 2, 2)))) return;
    fg_sample_request req = pipeline_request(&m, &pos, lat, sigmas);
    const float *l = lat->data, *n = noise->data;
    if (CHECK_OK(fg_sample_latent(&req, &out, &den))) {
        double d = 0;
        for (int i = 0; i < 64; i++) {
            const float pin = (l[i] - 0.1159f) * 0.3611f;
            const double e = fabs(((float *)m.first_x.data)[i] - (0.6f * n[i] + 0.4f * pin));
            if (!(e <= d)) d = e; /* not fmax: see max_abs_scaled_diff */
        }
        CHECK(d < 1e-6, "first model input off by %g", d);
        /* euler to sigma 0 lands on D = 3; process_out */
        CHECK(fabsf(((float *)out.data)[7] - (3.0f / 0.3611f + 0.1159f)) < 1e-5);
        CHECK(fabsf(((float *)den.data)[7] - (3.0f / 0.3611f + 0.1159f)) < 1e-5);
    }
    fg_tensor_free_host(&out);
    fg_tensor_free_host(&den);
    /* empty sigmas: the latent comes back unchanged */
    req.n_sigmas = 0;
    if (CHECK_OK(fg_sample_latent(&req, &out, &den)))
        CHECK(memcmp(out.data, l, fg_tensor_nbytes(lat)) == 0 && memcmp(den.data, l, fg_tensor_nbytes(lat)) == 0);
    fg_tensor_free_host(&out);
    fg_tensor_free_host(&den);
    const float leftover[2] = {0.8f, 0.5f};
    req.sigmas = leftover;
    req.n_sigmas = 2;
    if (CHECK_OK(fg_sample_latent(&req, &out, NULL))) {
        /* x1 = x0 + (x0 - 3)/0.8 * (0.5 - 0.8); out = process_out(x1 / 0.5) */
        const float pin = (l[9] - 0.1159f) * 0.3611f;
        const double x0v = 0.8 * n[9] + 0.2 * pin;
        const double x1 = x0v + (x0v - 3.0) / 0.8 * (0.5 - 0.8);
        CHECK(fabs(((float *)out.data)[9] - (x1 / 0.5 / 0.3611 + 0.1159)) < 1e-4, "%g", ((float *)out.data)[9]);
    }
    fg_tensor_free_host(&out);
    req.n_positive = 0;
    CHECK_ERR(fg_sample_latent(&req, &out, NULL), "no positive");
    fg_tensor_free_host(&m.first_x);
}

/* An all-zero 4-channel latent becomes 16 zero channels, is not shifted, and its noise is
 * drawn for the 16 channels (fix_empty_latent_channels happens once, before the noise). */
static void pipeline_empty_latent(const fg_tensor *noise16) {
    const_model m = {0};
    const fg_cond_view pos = {.guidance = 3};
    const float sigmas[2] = {0.6f, 0.0f};
    fg_tensor empty4 = {0}, out = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&empty4, FG_F32, FG_SHAPE(1, 4, 2, 2))) ||
        !CHECK_OK(fg_tensor_alloc_host(&m.first_x, FG_F32, FG_SHAPE(1, 16, 2, 2))))
        goto done;
    fg_sample_request req = pipeline_request(&m, &pos, &empty4, sigmas);
    req.noise.disabled = true;
    if (CHECK_OK(fg_sample_latent(&req, &out, NULL))) {
        CHECK(out.shape[1] == 16);
        const float zeros[64] = {0};
        const double d = max_abs_scaled_diff(m.first_x.data, 0.0f, zeros, 64);
        CHECK(d == 0.0, "zero latent shifted: %g", d);
    }
    fg_tensor_free_host(&out);
    req.noise.disabled = false;
    m.seen_first = false;
    if (CHECK_OK(fg_sample_latent(&req, &out, NULL))) {
        const double d = max_abs_scaled_diff(m.first_x.data, 0.6f, noise16->data, 64);
        CHECK(out.shape[1] == 16 && d < 1e-6, "noise of the fixed latent off by %g", d);
    }
    fg_tensor_free_host(&out);
done:
    fg_tensor_free_host(&empty4);
    fg_tensor_free_host(&m.first_x);
}

/* batch_index picks each item's own draw; a batch_index of the wrong length is an error. */
static void pipeline_batch_index(void) {
    const_model m = {0};
    const fg_cond_view pos = {.guidance = 3};
    const float sigmas[2] = {0.6f, 0.0f};
    const int64_t index[2] = {1, 0};
    fg_tensor zeros = {0}, want = {0}, out = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&zeros, FG_F32, FG_SHAPE(2, 16, 2, 2))) ||
        !CHECK_OK(fg_tensor_alloc_host(&want, FG_F32, FG_SHAPE(2, 16, 2, 2))) ||
        !CHECK_OK(fg_tensor_alloc_host(&m.first_x, FG_F32, FG_SHAPE(2, 16, 2, 2))) ||
        !CHECK_OK(fg_prepare_noise(&want, 5, index, 2)))
        goto done;
    fg_sample_request req = pipeline_request(&m, &pos, &zeros, sigmas);
    req.batch_index = index;
    req.n_batch_index = 2;
    if (CHECK_OK(fg_sample_latent(&req, &out, NULL))) {
        const double d = max_abs_scaled_diff(m.first_x.data, 0.6f, want.data, 128);
        CHECK(d < 1e-6, "batch_index noise off by %g", d);
    }
    fg_tensor_free_host(&out);
    req.n_batch_index = 1;
    CHECK_ERR(fg_sample_latent(&req, &out, NULL), "batch_index has 1 entries for a batch of 2");
done:
    fg_tensor_free_host(&zeros);
    fg_tensor_free_host(&want);
    fg_tensor_free_host(&m.first_x);
}

/* Disabled noise still seeds the ancestral stream (KSamplerAdvanced with add_noise disabled). */
static void pipeline_disabled_noise_keeps_seed(const fg_tensor *lat) {
    const_model m = {0};
    const fg_cond_view pos = {.guidance = 3};
    const float sigmas[3] = {0.8f, 0.4f, 0.2f}; /* leftover noise: a last step to 0 would land on D */
    fg_tensor a = {0}, b = {0}, c = {0};
    fg_sample_request req = pipeline_request(&m, &pos, lat, sigmas);
    req.n_sigmas = 3;
    req.sampler = FG_SAMPLER_EULER_ANCESTRAL;
    req.noise = (fg_noise_source){.seed = 5, .disabled = true};
    bool ok = CHECK_OK(fg_sample_latent(&req, &a, NULL)) && CHECK_OK(fg_sample_latent(&req, &c, NULL));
    req.noise.seed = 6;
    ok = ok && CHECK_OK(fg_sample_latent(&req, &b, NULL));
    if (ok) {
        CHECK(memcmp(a.data, c.data, fg_tensor_nbytes(&a)) == 0, "the same seed must repeat");
        CHECK(memcmp(a.data, b.data, fg_tensor_nbytes(&a)) != 0, "the seed did not reach the ancestral noise");
    }
    fg_tensor_free_host(&a);
    fg_tensor_free_host(&b);
    fg_tensor_free_host(&c);
}

void test_pipeline(void) {
    fg_tensor lat = {0}, noise = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&lat, FG_F32, FG_SHAPE(1, 16, 2, 2))) ||
        !CHECK_OK(fg_tensor_alloc_host(&noise, FG_F32, FG_SHAPE(1, 16, 2, 2))) ||
        !CHECK_OK(fg_prepare_noise(&noise, 5, NULL, 0)))
        goto done;
    for (int i = 0; i < 64; i++) ((float *)lat.data)[i] = 0.5f + 0.01f * (float)i;
    pipeline_nonzero_latent(&lat, &noise);
    pipeline_empty_latent(&noise);
    pipeline_batch_index();
    pipeline_disabled_noise_keeps_seed(&lat);
done:
    fg_tensor_free_host(&lat);
    fg_tensor_free_host(&noise);
}

/* ---- the sampling nodes' schedule entry ---------------------------------------------------- */

static bool same_sigmas(const fg_sigma_array *a, const fg_sigma_array *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, (size_t)a->n * sizeof(float)) == 0);
}

/* fg_schedule_for_node applies each node's rules: the KSampler denoise rule (> 0.9999 is full)
 * and the penultimate rule of its sampler, KSamplerAdvanced's end/start cut, BasicScheduler's
 * own denoise rule without the penultimate rule. */
void test_schedule_for_node(void) {
    fg_model_sampling *ms = new_ms(0.8);
    fg_sigma_array got = {0}, want = {0};
    bool unchanged = true;
    if (!ms) return;
    fg_schedule_request r = {.node = FG_SCHEDULE_KSAMPLER, .sampling = FG_SAMPLING_FLUX, .shift = 0.8,
                             .scheduler = FG_SCHED_BETA, .steps = 6, .denoise = 0.99995, .sampler = FG_SAMPLER_DPM_2};
    if (CHECK_OK(fg_schedule_for_node(&r, &got, &unchanged)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_BETA, 6, 0.99995, FG_DENOISE_KSAMPLER, true, &want)))
        CHECK(same_sigmas(&got, &want) && got.n == 7 && !unchanged, "KSampler dpm_2: %d sigmas", got.n);
    fg_sigma_array_free(&got);
    fg_sigma_array_free(&want);
    r.node = FG_SCHEDULE_BASIC_SCHEDULER; /* 0.99995 is partial here, and no penultimate rule */
    if (CHECK_OK(fg_schedule_for_node(&r, &got, &unchanged)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_BETA, 6, 0.99995, FG_DENOISE_BASIC_SCHEDULER, false, &want)))
        CHECK(same_sigmas(&got, &want) && !unchanged);
    fg_sigma_array_free(&got);
    fg_sigma_array_free(&want);
    r = (fg_schedule_request){.node = FG_SCHEDULE_KSAMPLER_ADVANCED, .sampling = FG_SAMPLING_FLOW, .shift = 1.0,
                              .scheduler = FG_SCHED_SIMPLE, .steps = 8, .denoise = 0.25, .sampler = FG_SAMPLER_EULER,
                              .start_at_step = 2, .end_at_step = 5, .force_full_denoise = true};
    CHECK_OK(fg_model_sampling_init_flow(ms, 1.0));
    if (CHECK_OK(fg_schedule_for_node(&r, &got, &unchanged)) &&
        CHECK_OK(fg_schedule_denoise(ms, FG_SCHED_SIMPLE, 8, 1.0, FG_DENOISE_KSAMPLER, false, &want)) &&
        CHECK_OK(fg_sigmas_advanced_slice(&want, 2, 5, true, &unchanged)))
        CHECK(same_sigmas(&got, &want) && got.n == 4 && got.v[3] == 0.0f, "advanced: denoise ignored, cut 2..5");
    fg_sigma_array_free(&got);
    fg_sigma_array_free(&want);
    r.start_at_step = 9;
    if (CHECK_OK(fg_schedule_for_node(&r, &got, &unchanged))) CHECK(unchanged, "start past the end");
    fg_sigma_array_free(&got);
    r.shift = NAN;
    CHECK_ERR(fg_schedule_for_node(&r, &got, &unchanged), "shift");
    free(ms);
}
