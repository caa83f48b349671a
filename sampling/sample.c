#include "sampling/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "unet/flux_runner.h"
#include "vae/latent_format.h"

float fg_flux_effective_guidance(const fg_flux_model *m, float guidance) {
    if (m->act_dtype != FG_BF16) return guidance; /* F32: no cast */
    const float g = fg_bf16_to_f32(fg_f32_to_bf16(guidance));
    const float prod = fg_bf16_to_f32(fg_f32_to_bf16(g * FG_FLUX_TIME_FACTOR));
    /* the DiT multiplies by 1000 in float32: pick the neighbour that lands on prod */
    float r = prod / FG_FLUX_TIME_FACTOR;
    for (int k = 0; k < 4 && r * FG_FLUX_TIME_FACTOR != prod; k++)
        r = r * FG_FLUX_TIME_FACTOR < prod ? nextafterf(r, prod) : nextafterf(r, -prod);
    return r;
}

/* [1, ...] or [B, ...] host tensor -> owned [B, ...] on dev (rows repeated). */
static fg_error *batch_to_device(const fg_tensor *src, int64_t batch, fg_device dev, fg_tensor *dst) {
    FG_CHECK_ARG(src->dtype == FG_F32 && src->device == FG_DEVICE_CPU && src->ndim >= 1,
                 "conditioning: needs a host F32 tensor");
    FG_CHECK_ARG(src->shape[0] == 1 || src->shape[0] == batch, "conditioning: batch %lld for a latent batch of %lld",
                 (long long)src->shape[0], (long long)batch);
    int64_t shape[FG_MAX_DIMS];
    memcpy(shape, src->shape, sizeof shape);
    shape[0] = batch;
    fg_tensor host;
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, src->ndim, shape));
    const size_t row = fg_tensor_nbytes(src) / (size_t)src->shape[0];
    for (int64_t b = 0; b < batch; b++)
        memcpy((char *)host.data + b * row, (const char *)src->data + (src->shape[0] == 1 ? 0 : b * row), row);
    if (dev == FG_DEVICE_CPU) {
        *dst = host;
        return NULL;
    }
    fg_error *err = fg_tensor_alloc(dst, dev, FG_F32, host.ndim, host.shape);
    if (!err) err = fg_tensor_copy(dst, &host);
    fg_tensor_free_host(&host);
    return err;
}

/* One DiT evaluation for one conditioning entry: denoised = x - sigma * v. */
fg_error *fg_flux_cond_denoise(void *user, const fg_tensor *x, float sigma, const fg_cond_view *e, fg_tensor *out) {
    const fg_flux_cond_model *fm = user;
    FG_CHECK_ARG(fm && fm->model, "flux cond model: no model");
    const fg_flux_model *m = fm->model;
    FG_CHECK_ARG(e->cond, "conditioning entry without a cond tensor");
    const int64_t batch = x->shape[0];
    /* The runner copies host inputs straight into its device buffers and its result back. */
    const fg_device dev = fm->runner ? FG_DEVICE_CPU : m->device;
    fg_tensor ts = {0}, guid = {0}, ctx = {0}, y = {0}, pooled0 = {0}, xd = {0}, v = {0};
    fg_error *err = fg_tensor_alloc_host(&ts, FG_F32, 1, (int64_t[]){batch});
    if (!err) err = fg_tensor_alloc_host(&guid, FG_F32, 1, (int64_t[]){batch});
    for (int64_t b = 0; !err && b < batch; b++) {
        ((float *)ts.data)[b] = sigma;
        ((float *)guid.data)[b] = fg_flux_effective_guidance(m, e->guidance);
    }
    if (!err) err = batch_to_device(e->cond, batch, dev, &ctx);
    if (!err && !e->pooled) err = fg_tensor_alloc_host(&pooled0, FG_F32, FG_SHAPE(1, m->p.arch.vec_in_dim));
    if (!err) err = batch_to_device(e->pooled ? e->pooled : &pooled0, batch, dev, &y);
    if (!err) err = batch_to_device(x, batch, dev, &xd);
    if (!err) err = fg_tensor_alloc(&v, dev, FG_F32, x->ndim, x->shape);
    if (!err) {
        const fg_flux_inputs in = {.x = &xd, .timestep = &ts, .context = &ctx, .y = &y, .guidance = &guid};
        err = fm->runner ? fg_flux_runner_forward(fm->runner, &in, &v) : fg_flux_forward(m, &in, &v, NULL);
    }
    if (!err && dev != FG_DEVICE_CPU) err = fg_tensor_copy(out, &v);
    if (!err) err = fg_denoised_from_velocity(out, x, dev == FG_DEVICE_CPU ? &v : out, sigma);
    fg_tensor_free_host(&ts);
    fg_tensor_free_host(&guid);
    fg_tensor_free_host(&pooled0);
    fg_tensor_free(&ctx);
    fg_tensor_free(&y);
    fg_tensor_free(&xd);
    fg_tensor_free(&v);
    return err;
}

static bool all_zero(const fg_tensor *t) {
    const float *p = t->data;
    for (int64_t i = 0, n = fg_tensor_numel(t); i < n; i++)
        if (p[i] != 0.0f) return false;
    return true;
}

/* The working latent: a copy, or zeros with the model's channel count for an all-zero latent of
 * another channel count (fix_empty_latent_channels, comfy/sample.py). This is the one place the
 * rule lives: the initial noise is drawn for the working latent's shape. */
static fg_error *working_latent(const fg_sample_request *req, fg_tensor *lat, bool *zero) {
    const fg_tensor *in = req->latent;
    FG_CHECK_ARG(in && in->data && in->dtype == FG_F32 && in->device == FG_DEVICE_CPU && in->ndim == 4,
                 "sample: the latent must be a host F32 [B, C, h, w] tensor");
    const int64_t channels = req->model ? req->model->p.latent_channels : 16;
    *zero = all_zero(in);
    if (*zero && in->shape[1] != channels)
        return fg_tensor_alloc_host(lat, FG_F32, FG_SHAPE(in->shape[0], channels, in->shape[2], in->shape[3]));
    FG_TRY(fg_tensor_alloc_host(lat, FG_F32, in->ndim, in->shape));
    memcpy(lat->data, in->data, fg_tensor_nbytes(in));
    return NULL;
}

/* prepare_noise over the working latent x; noise->data stays NULL when the source is disabled
 * (noise scaling then adds zeros). */
static fg_error *initial_noise(const fg_sample_request *req, const fg_tensor *x, fg_tensor *noise) {
    memset(noise, 0, sizeof *noise);
    if (req->noise.disabled) return NULL;
    const int n_index = req->batch_index ? req->n_batch_index : 0;
    if (req->batch_index) {
        FG_CHECK_ARG(n_index == x->shape[0], "LATENT batch_index has %d entries for a batch of %lld", n_index,
                     (long long)x->shape[0]);
        for (int i = 0; i < n_index; i++)
            FG_CHECK_ARG(req->batch_index[i] >= 0 && req->batch_index[i] < FG_MAX_BATCH_INDEX,
                         "LATENT batch_index %lld is out of range", (long long)req->batch_index[i]);
    }
    FG_TRY(fg_tensor_alloc_host(noise, FG_F32, x->ndim, x->shape));
    fg_error *err = fg_prepare_noise(noise, req->noise.seed, req->batch_index, n_index);
    if (err) fg_tensor_free_host(noise);
    return err;
}

static fg_sampler_options sampler_options(const fg_sample_request *req) {
    fg_sampler_options o;
    fg_sampler_options_default(&o);
    o.eta = req->eta;
    o.s_noise = req->s_noise;
    o.seed = req->noise.seed; /* the ancestral stream: seeded even when no initial noise is added */
    o.cancel = req->cancel;
    o.progress = req->progress;
    o.progress_user = req->progress_user;
    return o;
}

static fg_error *run_pipeline(const fg_sample_request *req, const fg_model_sampling *ms, fg_flux_runner *runner,
                              fg_tensor *x, fg_tensor *den, bool zero) {
    const fg_flux_cond_model dit = {.model = req->model, .runner = runner};
    fg_tensor noise;
    FG_TRY(initial_noise(req, x, &noise));
    fg_error *err = zero ? NULL : fg_latent_process_in(x, x);
    if (!err) err = fg_noise_scaling(x, req->sigmas[0], noise.data ? &noise : NULL, x);
    fg_tensor_free_host(&noise);
    FG_TRY(err);
    const fg_cfg_guider g = {.ms = ms, .positive = req->positive, .n_positive = req->n_positive,
                             .negative = req->negative, .n_negative = req->negative ? req->n_negative : 0,
                             .cfg = req->cfg, .model = req->cond_model ? req->cond_model : fg_flux_cond_denoise,
                             .user = req->cond_model ? req->cond_model_user : (void *)&dit};
    const fg_sampler_options opt = sampler_options(req);
    FG_TRY(fg_sampler_run(req->sampler, fg_cfg_guider_denoise, (void *)&g, x, req->sigmas, req->n_sigmas, &opt, den));
    FG_TRY(fg_inverse_noise_scaling(x, req->sigmas[req->n_sigmas - 1]));
    FG_TRY(fg_latent_process_out(x, x));
    if (req->n_sigmas > 1) return fg_latent_process_out(den, den);
    memcpy(den->data, x->data, fg_tensor_nbytes(x));
    return NULL;
}

/* The longest text of the request's conditioning (each entry runs as its own forward). */
static int64_t longest_text(const fg_sample_request *req) {
    int64_t n = 0;
    for (int i = 0; i < req->n_positive; i++)
        if (req->positive[i].cond && req->positive[i].cond->shape[1] > n) n = req->positive[i].cond->shape[1];
    for (int i = 0; req->negative && i < req->n_negative; i++)
        if (req->negative[i].cond && req->negative[i].cond->shape[1] > n) n = req->negative[i].cond->shape[1];
    return n;
}

/* Samples x (the working latent) into x and den; nothing to do without sigmas. */
static fg_error *sample_working(const fg_sample_request *req, fg_tensor *x, fg_tensor *den, bool zero) {
    if (req->n_sigmas == 0) {
        memcpy(den->data, x->data, fg_tensor_nbytes(x));
        return NULL;
    }
    fg_model_sampling *ms = NULL;
    FG_TRY(fg_model_sampling_new(req->sampling, req->shift, &ms));
    /* On a device, a run that cannot fit fails here rather than steps later. */
    fg_error *err = req->model && req->n_sigmas > 1
                        ? fg_flux_check_device_memory(req->model, x->shape[0], x->shape[2], x->shape[3], longest_text(req))
                        : NULL;
    fg_flux_runner *runner = NULL;
    if (!err && req->model) err = fg_flux_runner_new(req->model, &runner);
    if (!err) err = run_pipeline(req, ms, runner, x, den, zero);
    fg_flux_runner_free(runner);
    free(ms);
    return err;
}

fg_error *fg_sample_latent(const fg_sample_request *req, fg_tensor *samples, fg_tensor *denoised) {
    FG_CHECK_ARG(req && samples, "sample: missing argument");
    FG_CHECK_ARG(req->model || req->cond_model, "sample: no model");
    FG_CHECK_ARG(req->n_sigmas >= 0 && (req->sigmas || req->n_sigmas == 0), "sample: bad sigmas");
    FG_CHECK_ARG(req->n_positive >= 1 && req->positive, "sample: no positive conditioning");
    FG_CHECK_ARG(!req->batch_index || req->n_batch_index >= 0, "sample: bad batch_index count");
    memset(samples, 0, sizeof *samples);
    if (denoised) memset(denoised, 0, sizeof *denoised);
    fg_tensor x, den = {0};
    bool zero;
    FG_TRY(working_latent(req, &x, &zero));
    fg_error *err = fg_tensor_alloc_host(&den, FG_F32, x.ndim, x.shape);
    if (!err) err = sample_working(req, &x, &den, zero);
    if (err) {
        fg_tensor_free_host(&x);
        fg_tensor_free_host(&den);
        return err;
    }
    *samples = x;
    if (denoised) *denoised = den;
    else fg_tensor_free_host(&den);
    return NULL;
}
