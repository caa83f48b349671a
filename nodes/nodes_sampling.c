/* Sampling nodes (comfyui.md 3.5): the spec table, then the execute functions, which reach
 * sampling/ through nodes/sampling_bridge.h. */
#include "nodes/node_families.h"

/* ComfyUI's sampler list, in its order, keeping only the samplers sampling/samplers.c runs
 * (nothing is offered that does not run; nodes/comfyui/not_offered.json lists the others and
 * why, tests/test_node_info.c checks both). A workflow naming another one fails validation with
 * value_not_in_list. */
const char *const fg_sampler_names[] = {"euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms",
                                        "dpmpp_2m", "lcm", "ipndm", "deis", "ddim", "uni_pc", "uni_pc_bh2", NULL};
const char *const fg_scheduler_names[] = {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta",
                                          "normal", "linear_quadratic", "kl_optimal", NULL};
static const char *const enable_disable[] = {"enable", "disable", NULL};
static const char *const disable_enable[] = {"disable", "enable", NULL};

#define IN_STEPS IN_INT("steps", 20, 1, 10000, 0)
#define IN_CFG                                                                                \
    {.name = "cfg", .type = FG_TYPE_FLOAT, .def = 8.0, .min = 0.0, .max = 100.0, .step = 0.1, .round = 0.01, \
     .has_min = true, .has_max = true}
#define IN_SAMPLER IN_COMBO("sampler_name", fg_sampler_names)
#define IN_SCHEDULER IN_COMBO("scheduler", fg_scheduler_names)
#define IN_DENOISE IN_FLOAT("denoise", 1.0, 0.0, 1.0, 0.01)
#define IN_MODEL IN_SOCKET("model", FG_TYPE_MODEL)
#define IN_POS IN_SOCKET("positive", FG_TYPE_CONDITIONING)
#define IN_NEG IN_SOCKET("negative", FG_TYPE_CONDITIONING)
#define IN_LATENT IN_SOCKET("latent_image", FG_TYPE_LATENT)
#define OUT_LATENT .outputs = {FG_TYPE_LATENT}, .output_names = {"LATENT"}, .n_outputs = 1
#define OUT_TWO_LATENTS                                                                     \
    .outputs = {FG_TYPE_LATENT, FG_TYPE_LATENT}, .output_names = {"output", "denoised_output"}, .n_outputs = 2

static fg_error *exec_ksampler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_ksampler_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_sampler_custom(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_sampler_custom_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_basic_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_cfg_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_random_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_disable_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_ksampler_select(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_basic_scheduler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *exec_model_sampling_flux(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);

const fg_node_spec fg_nodes_sampling[] = {
    {.class_type = "KSampler", .execute = exec_ksampler, .display_name = "KSampler", .category = "sampling",
     .description = "Denoises a latent with a sampler, a scheduler and classifier-free guidance.",
     .inputs = {IN_MODEL, IN_SEED("seed"), IN_STEPS, IN_CFG, IN_SAMPLER, IN_SCHEDULER, IN_POS, IN_NEG, IN_LATENT,
                IN_DENOISE},
     .n_inputs = 10, OUT_LATENT},
    {.class_type = "KSamplerAdvanced", .execute = exec_ksampler_advanced, .display_name = "KSampler (Advanced)", .category = "sampling",
     .description = "KSampler with start/end steps and optional noise.",
     .inputs = {IN_MODEL, IN_COMBO("add_noise", enable_disable), IN_SEED("noise_seed"), IN_STEPS, IN_CFG,
                IN_SAMPLER, IN_SCHEDULER, IN_POS, IN_NEG, IN_LATENT, IN_INT("start_at_step", 0, 0, 10000, 0),
                IN_INT("end_at_step", 10000, 0, 10000, 0),
                IN_COMBO("return_with_leftover_noise", disable_enable)},
     .n_inputs = 13, OUT_LATENT},
    {.class_type = "SamplerCustom", .execute = exec_sampler_custom, .display_name = "SamplerCustom", .category = "sampling/custom_sampling",
     .description = "Samples with an explicit sampler and sigmas.",
     .inputs = {IN_MODEL, IN_BOOL("add_noise", true), IN_SEED("noise_seed"), IN_CFG, IN_POS, IN_NEG,
                IN_SOCKET("sampler", FG_TYPE_SAMPLER), IN_SOCKET("sigmas", FG_TYPE_SIGMAS), IN_LATENT},
     .n_inputs = 9, OUT_TWO_LATENTS},
    {.class_type = "SamplerCustomAdvanced", .execute = exec_sampler_custom_advanced, .display_name = "SamplerCustomAdvanced",
     .category = "sampling/custom_sampling",
     .description = "Samples with explicit noise, guider, sampler and sigmas.",
     .inputs = {IN_SOCKET("noise", FG_TYPE_NOISE), IN_SOCKET("guider", FG_TYPE_GUIDER),
                IN_SOCKET("sampler", FG_TYPE_SAMPLER), IN_SOCKET("sigmas", FG_TYPE_SIGMAS), IN_LATENT},
     .n_inputs = 5, OUT_TWO_LATENTS},
    {.class_type = "BasicGuider", .execute = exec_basic_guider, .display_name = "BasicGuider", .category = "sampling/custom_sampling/guiders",
     .description = "Guides with a single conditioning (no classifier-free guidance).",
     .inputs = {IN_MODEL, IN_SOCKET("conditioning", FG_TYPE_CONDITIONING)}, .n_inputs = 2,
     .outputs = {FG_TYPE_GUIDER}, .output_names = {"GUIDER"}, .n_outputs = 1},
    {.class_type = "CFGGuider", .execute = exec_cfg_guider, .display_name = "CFGGuider", .category = "sampling/custom_sampling/guiders",
     .description = "Classifier-free guidance between a positive and a negative conditioning.",
     .inputs = {IN_MODEL, IN_POS, IN_NEG, IN_CFG}, .n_inputs = 4,
     .outputs = {FG_TYPE_GUIDER}, .output_names = {"GUIDER"}, .n_outputs = 1},
    {.class_type = "RandomNoise", .execute = exec_random_noise, .display_name = "RandomNoise", .category = "sampling/custom_sampling/noise",
     .description = "Seeded initial noise.",
     .inputs = {IN_SEED("noise_seed")}, .n_inputs = 1,
     .outputs = {FG_TYPE_NOISE}, .output_names = {"NOISE"}, .n_outputs = 1},
    {.class_type = "DisableNoise", .execute = exec_disable_noise, .display_name = "DisableNoise", .category = "sampling/custom_sampling/noise",
     .description = "No initial noise.", .n_inputs = 0,
     .outputs = {FG_TYPE_NOISE}, .output_names = {"NOISE"}, .n_outputs = 1},
    {.class_type = "KSamplerSelect", .execute = exec_ksampler_select, .display_name = "KSamplerSelect", .category = "sampling/custom_sampling/samplers",
     .description = "Picks a sampler by name.",
     .inputs = {IN_SAMPLER}, .n_inputs = 1,
     .outputs = {FG_TYPE_SAMPLER}, .output_names = {"SAMPLER"}, .n_outputs = 1},
    {.class_type = "BasicScheduler", .execute = exec_basic_scheduler, .display_name = "BasicScheduler",
     .category = "sampling/custom_sampling/schedulers",
     .description = "The sigma schedule of a model for a scheduler, steps and denoise.",
     .inputs = {IN_MODEL, IN_SCHEDULER, IN_STEPS, IN_DENOISE}, .n_inputs = 4,
     .outputs = {FG_TYPE_SIGMAS}, .output_names = {"SIGMAS"}, .n_outputs = 1},
    {.class_type = "ModelSamplingFlux", .execute = exec_model_sampling_flux, .display_name = "ModelSamplingFlux", .category = "advanced/model",
     .description = "Sets the FLUX time shift from the image size.",
     .inputs = {IN_MODEL, IN_FLOAT("max_shift", 1.15, 0.0, 100.0, 0.01), IN_FLOAT("base_shift", 0.5, 0.0, 100.0, 0.01),
                IN_INT("width", 1024, 16, 16384, 8), IN_INT("height", 1024, 16, 16384, 8)},
     .n_inputs = 5, .outputs = {FG_TYPE_MODEL}, .output_names = {"MODEL"}, .n_outputs = 1},
};
const size_t fg_nodes_sampling_count = sizeof fg_nodes_sampling / sizeof fg_nodes_sampling[0];

/* ---- execute functions ---------------------------------------------------------------- */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "nodes/sampling_bridge.h"

#define FLUX_DEFAULT_GUIDANCE 3.5 /* comfyui.md 4: entries without FluxGuidance */

static const fg_object *object_in(const fg_value *v, fg_type type) {
    return v->type == type && v->u.obj && v->u.obj->type == type ? v->u.obj : NULL;
}

static fg_error *model_in(const fg_value *v, const fg_model_obj **m) {
    *m = (const fg_model_obj *)object_in(v, FG_TYPE_MODEL);
    if (!*m || !(*m)->flux) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model input is invalid: None");
    return NULL;
}

static fg_error *cond_in(const fg_value *v, const char *name, const fg_conditioning **c) {
    *c = (const fg_conditioning *)object_in(v, FG_TYPE_CONDITIONING);
    if (!*c) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is invalid: None", name);
    return NULL;
}

static fg_error *latent_in(const fg_value *v, const fg_latent **l) {
    *l = (const fg_latent *)object_in(v, FG_TYPE_LATENT);
    if (!*l) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "latent_image input is invalid: None");
    if ((*l)->noise_mask.data)
        return fg_errorf(FG_ERR_UNSUPPORTED, "latents with a noise_mask (inpainting, SetLatentNoiseMask) are not "
                                             "supported yet");
    return NULL;
}

static double number_of(const fg_value *v) {
    return v->type == FG_TYPE_INT ? (double)v->u.i : v->type == FG_TYPE_FLOAT ? v->u.f : 0.0;
}

/* Seeds are u64 in ComfyUI; the executor stores the same 64 bits in an INT value. */
static uint64_t seed_of(const fg_value *v) {
    return v->type == FG_TYPE_INT ? (uint64_t)v->u.i : 0;
}

static const char *string_of(const fg_value *v) {
    return v->type == FG_TYPE_STRING && v->u.s ? v->u.s : "";
}

static fg_sb_model sb_model(const fg_model_obj *m) {
    return (fg_sb_model){.flux = m->flux, .kind = m->sampling.kind == FG_SAMPLING_FLUX ? 0 : 1,
                         .shift = m->sampling.shift};
}

/* The conditioning entries as the bridge sees them (views into c; *out malloc'd). */
static fg_error *sb_conds(const fg_conditioning *c, fg_sb_cond **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!c || c->count == 0) return NULL;
    FG_CHECK_ARG(c->count < 100000, "too many conditioning entries (%zu)", c->count);
    fg_sb_cond *e = calloc(c->count, sizeof *e);
    if (!e) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "conditioning entries");
    for (size_t i = 0; i < c->count; i++) {
        const fg_cond_entry *src = &c->entries[i];
        e[i] = (fg_sb_cond){.cond = &src->cond, .pooled = src->pooled.data ? &src->pooled : NULL,
                            .guidance = src->has_guidance ? src->guidance : FLUX_DEFAULT_GUIDANCE,
                            .start_percent = src->start_percent, .end_percent = src->end_percent};
    }
    *out = e;
    *n = (int)c->count;
    return NULL;
}

static void report_progress(void *user, int step, int total) {
    fg_node_progress(user, step, total);
}

/* One sampling job, from whatever node gathered it. */
typedef struct sample_job {
    const fg_model_obj *model;
    const fg_conditioning *positive, *negative; /* negative NULL: no CFG */
    double cfg;
    const fg_latent *latent;
    bool add_noise;
    uint64_t noise_seed, sampler_seed;
    const char *sampler_name;
    double eta, s_noise;
    const float *sigmas;
    int n_sigmas;
} sample_job;

/* Runs the job; out[0] = LATENT output, out[1] (when want_denoised) = denoised_output. */
static fg_error *run_job(fg_node_ctx *ctx, const sample_job *j, fg_value *out, bool want_denoised) {
    fg_sb_cond *pos = NULL, *neg = NULL;
    int n_pos = 0, n_neg = 0;
    fg_error *err = sb_conds(j->positive, &pos, &n_pos);
    if (!err) err = sb_conds(j->negative, &neg, &n_neg);
    if (!err && n_pos == 0) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "the positive conditioning is empty");
    const fg_latent *l = j->latent;
    const fg_sb_sample_request r = {
        .model = sb_model(j->model), .positive = pos, .n_positive = n_pos, .negative = neg, .n_negative = n_neg,
        .cfg = j->cfg, .latent = &l->samples, .add_noise = j->add_noise, .noise_seed = j->noise_seed,
        .batch_index = l->batch_index, .n_batch_index = l->batch_index ? l->batch_index_count : 0,
        .sampler_seed = j->sampler_seed, .sampler_name = j->sampler_name, .eta = j->eta, .s_noise = j->s_noise,
        .sigmas = j->sigmas, .n_sigmas = j->n_sigmas, .progress = report_progress, .progress_user = ctx,
        .cancel = ctx->settings ? ctx->settings->cancel_flag : NULL};
    fg_tensor samples = {0}, denoised = {0};
    if (!err) err = fg_sb_sample(&r, &samples, want_denoised ? &denoised : NULL);
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

/* KSampler and KSamplerAdvanced: schedule from the node's widgets, then the job. */
static fg_error *ksampler_common(fg_node_ctx *ctx, sample_job *job, const fg_sb_schedule_request *sr, fg_value *out) {
    FG_TRY(fg_sb_check_sampler(job->sampler_name));
    float *sigmas = NULL;
    int n = 0;
    bool unchanged = false;
    FG_TRY(fg_sb_schedule(sr, &sigmas, &n, &unchanged));
    if (unchanged) { /* start_at_step past the schedule: the latent comes back as it is */
        free(sigmas);
        out[0] = fg_value_object(fg_object_ref((fg_object *)&job->latent->base));
        return NULL;
    }
    job->sigmas = sigmas;
    job->n_sigmas = n;
    fg_error *err = run_job(ctx, job, out, false);
    free(sigmas);
    return err;
}

static fg_error *exec_ksampler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    sample_job job = {.cfg = number_of(&in[3]), .add_noise = true, .noise_seed = seed_of(&in[1]),
                      .sampler_seed = seed_of(&in[1]), .sampler_name = string_of(&in[4]), .eta = 1.0, .s_noise = 1.0};
    FG_TRY(model_in(&in[0], &job.model));
    FG_TRY(cond_in(&in[6], "positive", &job.positive));
    FG_TRY(cond_in(&in[7], "negative", &job.negative));
    FG_TRY(latent_in(&in[8], &job.latent));
    const fg_sb_schedule_request sr = {.model = sb_model(job.model), .scheduler = string_of(&in[5]),
                                       .steps = (int)in[2].u.i, .denoise = number_of(&in[9]),
                                       .ksampler_sampler = job.sampler_name};
    FG_CHECK_ARG(in[2].u.i >= 1 && in[2].u.i <= 10000, "steps %lld is out of range", (long long)in[2].u.i);
    return ksampler_common(ctx, &job, &sr, out);
}

static fg_error *exec_ksampler_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    sample_job job = {.cfg = number_of(&in[4]), .add_noise = strcmp(string_of(&in[1]), "disable") != 0,
                      .noise_seed = seed_of(&in[2]), .sampler_seed = seed_of(&in[2]),
                      .sampler_name = string_of(&in[5]), .eta = 1.0, .s_noise = 1.0};
    FG_TRY(model_in(&in[0], &job.model));
    FG_TRY(cond_in(&in[7], "positive", &job.positive));
    FG_TRY(cond_in(&in[8], "negative", &job.negative));
    FG_TRY(latent_in(&in[9], &job.latent));
    const int64_t steps = in[3].u.i, start = in[10].u.i, end = in[11].u.i;
    FG_CHECK_ARG(steps >= 1 && steps <= 10000, "steps %lld is out of range", (long long)steps);
    FG_CHECK_ARG(start >= 0 && start <= 10000 && end >= 0 && end <= 10000, "start/end_at_step out of range");
    const fg_sb_schedule_request sr = {
        .model = sb_model(job.model), .scheduler = string_of(&in[6]), .steps = (int)steps, .denoise = 1.0,
        .ksampler_sampler = job.sampler_name, .advanced = true, .start_at_step = (int)start, .end_at_step = (int)end,
        .force_full_denoise = strcmp(string_of(&in[12]), "enable") != 0};
    return ksampler_common(ctx, &job, &sr, out);
}

static fg_error *sigmas_in(const fg_value *v, const float **sigmas, int *n) {
    const fg_sigmas *s = (const fg_sigmas *)object_in(v, FG_TYPE_SIGMAS);
    if (!s) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "sigmas input is invalid: None");
    FG_CHECK_ARG(s->sigmas.ndim == 1 && s->sigmas.shape[0] <= 1000000, "SIGMAS must be a list of values");
    *sigmas = s->sigmas.data;
    *n = (int)s->sigmas.shape[0];
    for (int i = 0; i < *n; i++)
        FG_CHECK_ARG(isfinite((*sigmas)[i]) && (*sigmas)[i] >= 0, "SIGMAS value %d (%g) is not a sigma", i,
                     (double)(*sigmas)[i]);
    return NULL;
}

static fg_error *sampler_in(const fg_value *v, sample_job *job) {
    const fg_sampler_obj *s = (const fg_sampler_obj *)object_in(v, FG_TYPE_SAMPLER);
    if (!s) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "sampler input is invalid: None");
    job->sampler_name = s->name;
    job->eta = s->eta;
    job->s_noise = s->s_noise;
    return fg_sb_check_sampler(s->name);
}

static fg_error *exec_sampler_custom(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    sample_job job = {.cfg = number_of(&in[3]), .add_noise = in[1].type == FG_TYPE_BOOLEAN ? in[1].u.b : true,
                      .noise_seed = seed_of(&in[2]), .sampler_seed = seed_of(&in[2])};
    FG_TRY(model_in(&in[0], &job.model));
    FG_TRY(cond_in(&in[4], "positive", &job.positive));
    FG_TRY(cond_in(&in[5], "negative", &job.negative));
    FG_TRY(sampler_in(&in[6], &job));
    FG_TRY(sigmas_in(&in[7], &job.sigmas, &job.n_sigmas));
    FG_TRY(latent_in(&in[8], &job.latent));
    return run_job(ctx, &job, out, true);
}

static fg_error *exec_sampler_custom_advanced(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    const fg_noise_obj *noise = (const fg_noise_obj *)object_in(&in[0], FG_TYPE_NOISE);
    const fg_guider *g = (const fg_guider *)object_in(&in[1], FG_TYPE_GUIDER);
    if (!noise) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "noise input is invalid: None");
    if (!g) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "guider input is invalid: None");
    sample_job job = {.cfg = g->negative ? g->cfg : 1.0, .add_noise = !noise->disabled, .noise_seed = noise->seed,
                      .sampler_seed = noise->disabled ? 0 : noise->seed};
    const fg_value model = {.type = FG_TYPE_MODEL, .u.obj = g->model};
    FG_TRY(model_in(&model, &job.model));
    job.positive = (const fg_conditioning *)g->positive;
    job.negative = (const fg_conditioning *)g->negative;
    FG_TRY(sampler_in(&in[2], &job));
    FG_TRY(sigmas_in(&in[3], &job.sigmas, &job.n_sigmas));
    FG_TRY(latent_in(&in[4], &job.latent));
    return run_job(ctx, &job, out, true);
}

static fg_error *guider_out(fg_object *model, fg_object *pos, fg_object *neg, double cfg, fg_value *out) {
    fg_guider *g = NULL;
    FG_TRY(fg_guider_new(model, pos, neg, cfg, &g));
    out[0] = fg_value_object(&g->base);
    return NULL;
}

static fg_error *exec_basic_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_model_obj *m;
    const fg_conditioning *c;
    FG_TRY(model_in(&in[0], &m));
    FG_TRY(cond_in(&in[1], "conditioning", &c));
    return guider_out(in[0].u.obj, in[1].u.obj, NULL, 1.0, out);
}

static fg_error *exec_cfg_guider(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_model_obj *m;
    const fg_conditioning *p, *n;
    FG_TRY(model_in(&in[0], &m));
    FG_TRY(cond_in(&in[1], "positive", &p));
    FG_TRY(cond_in(&in[2], "negative", &n));
    return guider_out(in[0].u.obj, in[1].u.obj, in[2].u.obj, number_of(&in[3]), out);
}

static fg_error *noise_out(bool disabled, uint64_t seed, fg_value *out) {
    fg_noise_obj *n = NULL;
    FG_TRY(fg_noise_obj_new(disabled, seed, &n));
    out[0] = fg_value_object(&n->base);
    return NULL;
}

static fg_error *exec_random_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    return noise_out(false, seed_of(&in[0]), out);
}

static fg_error *exec_disable_noise(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    (void)in;
    return noise_out(true, 0, out);
}

static fg_error *exec_ksampler_select(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    fg_sampler_obj *s = NULL;
    FG_TRY(fg_sampler_obj_new(string_of(&in[0]), 1.0, 1.0, &s));
    out[0] = fg_value_object(&s->base);
    return NULL;
}

static fg_error *exec_basic_scheduler(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_model_obj *m;
    FG_TRY(model_in(&in[0], &m));
    FG_CHECK_ARG(in[2].u.i >= 1 && in[2].u.i <= 10000, "steps %lld is out of range", (long long)in[2].u.i);
    const fg_sb_schedule_request sr = {.model = sb_model(m), .scheduler = string_of(&in[1]), .steps = (int)in[2].u.i,
                                       .denoise = number_of(&in[3]), .basic_scheduler_rule = true};
    float *v = NULL;
    int n = 0;
    bool unchanged;
    FG_TRY(fg_sb_schedule(&sr, &v, &n, &unchanged));
    fg_tensor t;
    fg_error *err = fg_tensor_alloc_host(&t, FG_F32, 1, (int64_t[]){n});
    if (!err && n) memcpy(t.data, v, (size_t)n * sizeof *v);
    free(v);
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
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_model_obj *m;
    FG_TRY(model_in(&in[0], &m));
    const double shift = fg_sb_flux_shift(number_of(&in[1]), number_of(&in[2]), number_of(&in[3]), number_of(&in[4]));
    FG_CHECK_ARG(isfinite(shift), "ModelSamplingFlux: the shift is not finite");
    fg_model_obj *clone = NULL;
    FG_TRY(fg_model_obj_clone(m, &clone));
    clone->sampling = (fg_model_sampling_params){.kind = FG_SAMPLING_FLUX, .shift = shift, .multiplier = 1.0};
    out[0] = fg_value_object(&clone->base);
    return NULL;
}
