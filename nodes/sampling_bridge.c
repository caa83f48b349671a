/* The sampling nodes' calls into sampling/ (see sampling_bridge.h): schedules, noise and
 * fg_sample_latent. */
#include "nodes/sampling_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "sampling/noise.h"
#include "sampling/sample.h"
#include "sampling/schedulers.h"

double fg_sb_flux_shift(double max_shift, double base_shift, double width, double height) {
    return fg_flux_shift_for_size(max_shift, base_shift, width, height);
}

/* The 10000-entry table is 40 KB: heap, not stack. */
static fg_error *model_sampling_new(const fg_sb_model *m, fg_model_sampling **out) {
    fg_model_sampling *ms = malloc(sizeof *ms);
    if (!ms) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating the model sampling table");
    fg_error *err = m->kind == 0 ? fg_model_sampling_init_flux(ms, m->shift) : fg_model_sampling_init_flow(ms, m->shift);
    if (err) {
        free(ms);
        return err;
    }
    *out = ms;
    return NULL;
}

fg_error *fg_sb_check_sampler(const char *name) {
    fg_sampler s;
    return fg_sampler_from_name(name, &s);
}

fg_error *fg_sb_schedule(const fg_sb_schedule_request *r, float **sigmas, int *n, bool *unchanged) {
    FG_CHECK_ARG(r && sigmas && n && unchanged && r->scheduler, "fg_sb_schedule: NULL argument");
    *sigmas = NULL;
    *n = 0;
    *unchanged = false;
    fg_scheduler sched;
    FG_TRY(fg_scheduler_from_name(r->scheduler, &sched));
    fg_model_sampling *ms = NULL;
    FG_TRY(model_sampling_new(&r->model, &ms));
    const bool discard = r->ksampler_sampler && fg_sampler_discards_penultimate(r->ksampler_sampler);
    fg_sigma_array s = {0};
    fg_error *err = fg_schedule_denoise(ms, sched, r->steps, r->denoise,
                                        r->basic_scheduler_rule ? FG_DENOISE_BASIC_SCHEDULER : FG_DENOISE_KSAMPLER,
                                        discard, &s);
    if (!err && r->advanced)
        err = fg_sigmas_advanced_slice(&s, r->start_at_step, r->end_at_step, r->force_full_denoise, unchanged);
    free(ms);
    if (err) {
        fg_sigma_array_free(&s);
        return err;
    }
    *sigmas = s.v;
    *n = s.n;
    return NULL;
}

static bool all_zero(const fg_tensor *t) {
    const float *p = t->data;
    for (int64_t i = 0, k = fg_tensor_numel(t); i < k; i++)
        if (p[i] != 0.0f) return false;
    return true;
}

/* prepare_noise over the latent as the sampler will see it: an all-zero latent of another
 * channel count becomes zeros with the model's channels first (fix_empty_latent_channels). */
static fg_error *make_noise(const fg_sb_sample_request *r, fg_tensor *noise) {
    const fg_tensor *lat = r->latent;
    int64_t shape[4] = {lat->shape[0], lat->shape[1], lat->shape[2], lat->shape[3]};
    const int64_t channels = r->model.flux ? r->model.flux->p.latent_channels : 16;
    if (shape[1] != channels && all_zero(lat)) shape[1] = channels;
    if (r->batch_index) {
        FG_CHECK_ARG((int64_t)r->n_batch_index == shape[0], "LATENT batch_index has %zu entries for a batch of %lld",
                     r->n_batch_index, (long long)shape[0]);
        for (size_t i = 0; i < r->n_batch_index; i++)
            FG_CHECK_ARG(r->batch_index[i] >= 0 && r->batch_index[i] < FG_MAX_BATCH_INDEX,
                         "LATENT batch_index %lld is out of range", (long long)r->batch_index[i]);
    }
    FG_TRY(fg_tensor_alloc_host(noise, FG_F32, 4, shape));
    fg_error *err = fg_prepare_noise(noise, r->noise_seed, r->batch_index, (int)r->n_batch_index);
    if (err) fg_tensor_free_host(noise);
    return err;
}

static fg_error *cond_entries(const fg_sb_cond *src, int n, fg_cond_view **out) {
    *out = NULL;
    if (n <= 0) return NULL;
    fg_cond_view *e = calloc((size_t)n, sizeof *e);
    if (!e) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conditioning entries");
    for (int i = 0; i < n; i++) {
        e[i].cond = src[i].cond;
        e[i].pooled = src[i].pooled;
        e[i].guidance = (float)src[i].guidance;
        /* start 0 / end 1 map to sigma 1 / 0: the same as no range at all */
        e[i].has_start = e[i].has_end = true;
        e[i].start_percent = src[i].start_percent;
        e[i].end_percent = src[i].end_percent;
    }
    *out = e;
    return NULL;
}

typedef struct progress_relay {
    fg_sb_progress_fn fn;
    void *user;
} progress_relay;

static void relay_progress(void *user, int step, int total, const fg_tensor *x, const fg_tensor *denoised) {
    (void)x;
    (void)denoised;
    const progress_relay *p = user;
    if (p->fn) p->fn(p->user, step, total);
}

fg_error *fg_sb_sample(const fg_sb_sample_request *r, fg_tensor *samples, fg_tensor *denoised) {
    FG_CHECK_ARG(r && samples && r->latent && r->latent->data && r->latent->ndim == 4 && r->sampler_name,
                 "fg_sb_sample: bad request");
    fg_sample_request req = {.model = r->model.flux, .cfg = (float)r->cfg, .latent = r->latent,
                             .sigmas = r->sigmas, .n_sigmas = r->n_sigmas};
    FG_TRY(fg_sampler_from_name(r->sampler_name, &req.sampler));
    progress_relay relay = {r->progress, r->progress_user};
    fg_sampler_options_default(&req.options);
    req.options.eta = (float)r->eta;
    req.options.s_noise = (float)r->s_noise;
    req.options.seed = r->sampler_seed;
    req.options.cancel = r->cancel;
    req.options.progress = relay_progress;
    req.options.progress_user = &relay;
    fg_model_sampling *ms = NULL;
    fg_cond_view *pos = NULL, *neg = NULL;
    fg_tensor noise = {0};
    fg_error *err = model_sampling_new(&r->model, &ms);
    if (!err) err = cond_entries(r->positive, r->n_positive, &pos);
    if (!err) err = cond_entries(r->negative, r->n_negative, &neg);
    if (!err && r->add_noise && r->n_sigmas > 0) err = make_noise(r, &noise);
    if (!err) {
        req.ms = ms;
        req.positive = pos;
        req.n_positive = r->n_positive;
        req.negative = neg;
        req.n_negative = neg ? r->n_negative : 0;
        req.noise = noise.data ? &noise : NULL;
        err = fg_sample_latent(&req, samples, denoised);
    }
    fg_tensor_free_host(&noise);
    free(pos);
    free(neg);
    free(ms);
    return err;
}
