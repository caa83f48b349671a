/* Sampling nodes (docs/comfyui.md 3.5): the execute functions, which read their inputs by name and
 * call sampling/'s two entries, fg_schedule_for_node (the sigmas) and fg_sample_latent (the
 * run); then the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs). */
#include "nodes/node_families.h"

/* ComfyUI's sampler list, in its order, keeping only the samplers sampling/samplers.c runs
 * (nothing is offered that does not run; nodes/comfyui/not_offered.json lists the others and
 * why, tests/test_node_info.c checks both). A workflow naming another one fails validation with
 * value_not_in_list. */
const char *const fg_sampler_names[] = {"euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms",
                                        "dpmpp_2m", "lcm", "ipndm", "deis", "ddim", "uni_pc", "uni_pc_bh2", NULL};
const char *const fg_scheduler_names[] = {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta",
                                          "normal", "linear_quadratic", "kl_optimal", NULL};
/* Today every ComfyUI scheduler runs; naming them keeps a scheduler ComfyUI adds off the list
 * until sampling/ runs it. */
#define ONLY_SAMPLERS ONLY("sampler_name", fg_sampler_names)
#define ONLY_SCHEDULERS ONLY("scheduler", fg_scheduler_names)

/* ---- execute functions ---------------------------------------------------------------- */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "sampling/sample.h"
#include "sampling/schedulers.h"

/* A MODEL input that holds a DiT. */
static fg_error *model_arg(const fg_node_args *args, const char *name, const fg_model_obj **m) {
    const fg_object *o;
    FG_TRY(fg_arg_object(args, name, FG_TYPE_MODEL, &o));
    *m = (const fg_model_obj *)o;
    if (!(*m)->flux) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is invalid: None", name);
    return NULL;
}

static fg_error *conditioning_arg(const fg_node_args *args, const char *name, const fg_conditioning **c) {
    const fg_object *o;
    FG_TRY(fg_arg_object(args, name, FG_TYPE_CONDITIONING, &o));
    *c = (const fg_conditioning *)o;
    return NULL;
}

static fg_error *latent_arg(const fg_node_args *args, const fg_latent **l) {
    const fg_object *o;
    FG_TRY(fg_arg_object(args, "latent_image", FG_TYPE_LATENT, &o));
    *l = (const fg_latent *)o;
    if ((*l)->noise_mask.data)
        return fg_errorf(FG_ERR_UNSUPPORTED, "latents with a noise_mask (inpainting, SetLatentNoiseMask) are not "
                                             "supported yet");
    return NULL;
}

/* Steps are declared 1..10000; the schedule's arithmetic relies on it. */
static fg_error *steps_arg(const fg_node_args *args, int *steps) {
    int64_t v;
    FG_TRY(fg_arg_int(args, "steps", &v));
    FG_CHECK_ARG(v >= 1 && v <= 10000, "steps %lld is out of range", (long long)v);
    *steps = (int)v;
    return NULL;
}

static fg_error *sampler_name_arg(const fg_node_args *args, fg_sampler *s) {
    const char *name;
    FG_TRY(fg_arg_string(args, "sampler_name", &name));
    return fg_sampler_from_name(name, s);
}

static fg_error *scheduler_arg(const fg_node_args *args, fg_scheduler *s) {
    const char *name;
    FG_TRY(fg_arg_string(args, "scheduler", &name));
    return fg_scheduler_from_name(name, s);
}

/* The guider's view of a CONDITIONING (views into c; *out malloc'd): entries without
 * FluxGuidance get FLUX's default guidance. */
static fg_error *cond_views(const fg_conditioning *c, fg_cond_view **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!c || c->count == 0) return NULL;
    FG_CHECK_ARG(c->count < 100000, "too many conditioning entries (%zu)", c->count);
    fg_cond_view *v = calloc(c->count, sizeof *v);
    if (!v) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conditioning entries");
    for (size_t i = 0; i < c->count; i++) {
        const fg_cond_entry *e = &c->entries[i];
        /* start 0 / end 1 map to sigma 1 / 0: the same as no range at all */
        v[i] = (fg_cond_view){.cond = &e->cond, .pooled = e->pooled.data ? &e->pooled : NULL,
                              .guidance = e->has_guidance ? (float)e->guidance : FG_FLUX_DEFAULT_GUIDANCE,
                              .has_start = true, .has_end = true, .start_percent = e->start_percent,
                              .end_percent = e->end_percent};
    }
    *out = v;
    *n = (int)c->count;
    return NULL;
}

static void report_progress(void *user, int step, int total, const fg_tensor *x, const fg_tensor *denoised) {
    (void)x;
    (void)denoised;
    fg_node_progress(user, step, total);
}

/* The request's MODEL: the DiT and its sampling settings. */
static void use_model(fg_sample_request *req, const fg_model_obj *m) {
    req->model = m->flux;
    req->sampling = m->sampling.kind;
    req->shift = m->sampling.shift;
}

/* Completes req (model, cfg, sampler, sigmas and noise already set) with the guider's
 * conditioning (negative NULL: BasicGuider), the latent and the node's progress, and samples.
 * out[0] = the LATENT output, out[1] (want_denoised) = denoised_output. */
static fg_error *sample_into(fg_node_ctx *ctx, fg_sample_request *req, const fg_conditioning *positive,
                             const fg_conditioning *negative, const fg_latent *l, fg_value *out, bool want_denoised) {
    fg_cond_view *pos = NULL, *neg = NULL;
    fg_error *err = cond_views(positive, &pos, &req->n_positive);
    if (!err) err = cond_views(negative, &neg, &req->n_negative);
    if (!err && req->n_positive == 0) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "the positive conditioning is empty");
    req->positive = pos;
    req->negative = neg;
    req->latent = &l->samples;
    req->batch_index = l->batch_index;
    req->n_batch_index = l->batch_index ? (int)l->batch_index_count : 0;
    req->progress = report_progress;
    req->progress_user = ctx;
    req->cancel = ctx->settings ? ctx->settings->cancel_flag : NULL;
    fg_tensor samples = {0}, denoised = {0};
    if (!err) err = fg_sample_latent(req, &samples, want_denoised ? &denoised : NULL);
    free(pos);
    free(neg);
    fg_latent *a = NULL, *b = NULL;
    if (!err) err = fg_latent_with_samples(l, &samples, &a);
    if (!err && want_denoised) err = fg_latent_with_samples(l, &denoised, &b);
    fg_tensor_free_host(&samples);
    fg_tensor_free_host(&denoised);
    if (err) {
        if (a) fg_object_unref(&a->base);
        return err;
    }
    out[0] = fg_value_object(&a->base);
    if (want_denoised) out[1] = fg_value_object(&b->base);
    return NULL;
}

/* KSampler and KSamplerAdvanced: the schedule from the node's widgets (sr), then the run. */
static fg_error *ksampler_run(fg_node_ctx *ctx, const fg_node_args *args, fg_sample_request *req,
                              fg_schedule_request *sr, fg_value *out) {
    const fg_model_obj *m;
    const fg_conditioning *pos, *neg;
    const fg_latent *l;
    double cfg;
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(fg_arg_float(args, "cfg", &cfg));
    FG_TRY(sampler_name_arg(args, &req->sampler));
    FG_TRY(scheduler_arg(args, &sr->scheduler));
    FG_TRY(steps_arg(args, &sr->steps));
    FG_TRY(conditioning_arg(args, "positive", &pos));
    FG_TRY(conditioning_arg(args, "negative", &neg));
    FG_TRY(latent_arg(args, &l));
    use_model(req, m);
    req->cfg = (float)cfg;
    req->eta = req->s_noise = 1.0f;
    sr->sampling = m->sampling.kind;
    sr->shift = m->sampling.shift;
    sr->sampler = req->sampler;
    fg_sigma_array sigmas = {0};
    bool unchanged = false;
    FG_TRY(fg_schedule_for_node(sr, &sigmas, &unchanged));
    if (unchanged) { /* start_at_step past the schedule: the latent comes back as it is */
        fg_sigma_array_free(&sigmas);
        out[0] = fg_value_object(fg_object_ref((fg_object *)&l->base));
        return NULL;
    }
    req->sigmas = sigmas.v;
    req->n_sigmas = sigmas.n;
    fg_error *err = sample_into(ctx, req, pos, neg, l, out, false);
    fg_sigma_array_free(&sigmas);
    return err;
}

static fg_error *exec_ksampler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    fg_sample_request req = {0};
    fg_schedule_request sr = {.node = FG_SCHEDULE_KSAMPLER};
    FG_TRY(fg_arg_seed(args, "seed", &req.noise.seed));
    FG_TRY(fg_arg_float(args, "denoise", &sr.denoise));
    return ksampler_run(ctx, args, &req, &sr, out);
}

static fg_error *exec_ksampler_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    fg_sample_request req = {0};
    fg_schedule_request sr = {.node = FG_SCHEDULE_KSAMPLER_ADVANCED};
    const char *add_noise, *leftover;
    int64_t start, end;
    FG_TRY(fg_arg_string(args, "add_noise", &add_noise));
    FG_TRY(fg_arg_seed(args, "noise_seed", &req.noise.seed));
    FG_TRY(fg_arg_int(args, "start_at_step", &start));
    FG_TRY(fg_arg_int(args, "end_at_step", &end));
    FG_TRY(fg_arg_string(args, "return_with_leftover_noise", &leftover));
    FG_CHECK_ARG(start >= 0 && start <= 10000 && end >= 0 && end <= 10000, "start/end_at_step out of range");
    req.noise.disabled = strcmp(add_noise, "disable") == 0;
    sr.start_at_step = (int)start;
    sr.end_at_step = (int)end;
    sr.force_full_denoise = strcmp(leftover, "enable") != 0;
    return ksampler_run(ctx, args, &req, &sr, out);
}

static fg_error *sigmas_arg(const fg_node_args *args, fg_sample_request *req) {
    const fg_object *o;
    FG_TRY(fg_arg_object(args, "sigmas", FG_TYPE_SIGMAS, &o));
    const fg_sigmas *s = (const fg_sigmas *)o;
    FG_CHECK_ARG(s->sigmas.ndim == 1 && s->sigmas.shape[0] <= 1000000, "SIGMAS must be a list of values");
    const float *v = s->sigmas.data;
    const int n = (int)s->sigmas.shape[0];
    for (int i = 0; i < n; i++)
        FG_CHECK_ARG(isfinite(v[i]) && v[i] >= 0, "SIGMAS value %d (%g) is not a sigma", i, (double)v[i]);
    req->sigmas = v;
    req->n_sigmas = n;
    return NULL;
}

static fg_error *sampler_arg(const fg_node_args *args, fg_sample_request *req) {
    const fg_object *o;
    FG_TRY(fg_arg_object(args, "sampler", FG_TYPE_SAMPLER, &o));
    const fg_sampler_obj *s = (const fg_sampler_obj *)o;
    req->eta = (float)s->eta;
    req->s_noise = (float)s->s_noise;
    return fg_sampler_from_name(s->name, &req->sampler);
}

static fg_error *exec_sampler_custom(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    fg_sample_request req = {0};
    const fg_model_obj *m;
    const fg_conditioning *pos, *neg;
    const fg_latent *l;
    bool add_noise;
    double cfg;
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(fg_arg_bool(args, "add_noise", &add_noise));
    FG_TRY(fg_arg_seed(args, "noise_seed", &req.noise.seed));
    FG_TRY(fg_arg_float(args, "cfg", &cfg));
    FG_TRY(conditioning_arg(args, "positive", &pos));
    FG_TRY(conditioning_arg(args, "negative", &neg));
    FG_TRY(sampler_arg(args, &req));
    FG_TRY(sigmas_arg(args, &req));
    FG_TRY(latent_arg(args, &l));
    use_model(&req, m);
    req.cfg = (float)cfg;
    req.noise.disabled = !add_noise;
    return sample_into(ctx, &req, pos, neg, l, out, true);
}

static fg_error *exec_sampler_custom_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    fg_sample_request req = {0};
    const fg_object *noise_o, *guider_o;
    const fg_latent *l;
    FG_TRY(fg_arg_object(args, "noise", FG_TYPE_NOISE, &noise_o));
    FG_TRY(fg_arg_object(args, "guider", FG_TYPE_GUIDER, &guider_o));
    const fg_guider *g = (const fg_guider *)guider_o;
    const fg_model_obj *m = (const fg_model_obj *)g->model;
    if (!m || !m->flux) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model input is invalid: None");
    FG_TRY(sampler_arg(args, &req));
    FG_TRY(sigmas_arg(args, &req));
    FG_TRY(latent_arg(args, &l));
    use_model(&req, m);
    req.cfg = g->negative ? (float)g->cfg : 1.0f;
    req.noise = ((const fg_noise_obj *)noise_o)->source;
    return sample_into(ctx, &req, (const fg_conditioning *)g->positive, (const fg_conditioning *)g->negative, l, out,
                       true);
}

static fg_error *guider_out(const fg_object *model, const fg_object *pos, const fg_object *neg, double cfg,
                            fg_value *out) {
    fg_guider *g = NULL;
    /* the guider holds its own references: the objects are borrowed here, never changed */
    FG_TRY(fg_guider_new((fg_object *)model, (fg_object *)pos, (fg_object *)neg, cfg, &g));
    out[0] = fg_value_object(&g->base);
    return NULL;
}

static fg_error *exec_basic_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_model_obj *m;
    const fg_conditioning *c;
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(conditioning_arg(args, "conditioning", &c));
    return guider_out(&m->base, &c->base, NULL, 1.0, out);
}

static fg_error *exec_cfg_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_model_obj *m;
    const fg_conditioning *p, *n;
    double cfg;
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(conditioning_arg(args, "positive", &p));
    FG_TRY(conditioning_arg(args, "negative", &n));
    FG_TRY(fg_arg_float(args, "cfg", &cfg));
    return guider_out(&m->base, &p->base, &n->base, cfg, out);
}

static fg_error *noise_out(fg_noise_source source, fg_value *out) {
    fg_noise_obj *n = NULL;
    FG_TRY(fg_noise_obj_new(source, &n));
    out[0] = fg_value_object(&n->base);
    return NULL;
}

static fg_error *exec_random_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    fg_noise_source source = {0};
    FG_TRY(fg_arg_seed(args, "noise_seed", &source.seed));
    return noise_out(source, out);
}

static fg_error *exec_disable_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    (void)args;
    return noise_out((fg_noise_source){.seed = 0, .disabled = true}, out); /* ComfyUI's Noise_EmptyNoise */
}

static fg_error *exec_ksampler_select(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const char *name;
    FG_TRY(fg_arg_string(args, "sampler_name", &name));
    fg_sampler_obj *s = NULL;
    FG_TRY(fg_sampler_obj_new(name, 1.0, 1.0, &s));
    out[0] = fg_value_object(&s->base);
    return NULL;
}

static fg_error *exec_basic_scheduler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_model_obj *m;
    fg_schedule_request sr = {.node = FG_SCHEDULE_BASIC_SCHEDULER};
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(scheduler_arg(args, &sr.scheduler));
    FG_TRY(steps_arg(args, &sr.steps));
    FG_TRY(fg_arg_float(args, "denoise", &sr.denoise));
    sr.sampling = m->sampling.kind;
    sr.shift = m->sampling.shift;
    fg_sigma_array v = {0};
    bool unchanged;
    FG_TRY(fg_schedule_for_node(&sr, &v, &unchanged));
    fg_tensor t;
    fg_error *err = fg_tensor_alloc_host(&t, FG_F32, 1, (int64_t[]){v.n});
    if (!err && v.n) memcpy(t.data, v.v, (size_t)v.n * sizeof *v.v);
    fg_sigma_array_free(&v);
    fg_sigmas *s = NULL;
    if (!err) err = fg_sigmas_new(&t, &s);
    if (err) {
        fg_tensor_free_host(&t);
        return err;
    }
    out[0] = fg_value_object(&s->base);
    return NULL;
}

static fg_error *exec_model_sampling_flux(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_model_obj *m;
    double max_shift, base_shift;
    int64_t width, height;
    FG_TRY(model_arg(args, "model", &m));
    FG_TRY(fg_arg_float(args, "max_shift", &max_shift));
    FG_TRY(fg_arg_float(args, "base_shift", &base_shift));
    FG_TRY(fg_arg_size(args, &width, &height));
    const double shift = fg_flux_shift_for_size(max_shift, base_shift, (double)width, (double)height);
    FG_CHECK_ARG(isfinite(shift), "ModelSamplingFlux: the shift is not finite");
    fg_model_obj *clone = NULL;
    FG_TRY(fg_model_obj_clone(m, &clone));
    clone->sampling = (fg_model_sampling_params){.kind = FG_SAMPLING_FLUX, .shift = shift, .multiplier = 1.0};
    out[0] = fg_value_object(&clone->base);
    return NULL;
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_sampling[] = {
    {NODE("KSampler", exec_ksampler), .rules = {ONLY_SAMPLERS, ONLY_SCHEDULERS}},
    {NODE("KSamplerAdvanced", exec_ksampler_advanced), .rules = {ONLY_SAMPLERS, ONLY_SCHEDULERS}},
    {NODE("SamplerCustom", exec_sampler_custom)},
    {NODE("SamplerCustomAdvanced", exec_sampler_custom_advanced)},
    {NODE("BasicGuider", exec_basic_guider)},
    {NODE("CFGGuider", exec_cfg_guider)},
    {NODE("RandomNoise", exec_random_noise)},
    {NODE("DisableNoise", exec_disable_noise)},
    {NODE("KSamplerSelect", exec_ksampler_select), .rules = {ONLY_SAMPLERS}},
    {NODE("BasicScheduler", exec_basic_scheduler), .rules = {ONLY_SCHEDULERS}},
    {NODE("ModelSamplingFlux", exec_model_sampling_flux)},
};
const size_t fg_nodes_sampling_count = sizeof fg_nodes_sampling / sizeof fg_nodes_sampling[0];
