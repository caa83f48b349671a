/* Sampler registry, the shared step machinery (model calls, progress, cancellation) and the
 * dispatch of fg_sampler_run. */
#include "sampling/samplers.h"

#include <string.h>

#include "kernels/ops.h"
#include "sampling/samplers_internal.h"

static const char *const sampler_names[FG_SAMPLER_COUNT] = {
    "euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpmpp_2m", "ipndm", "deis", "ddim",
    "lcm", "uni_pc", "uni_pc_bh2",
};

/* ComfyUI names whose noise comes from torchsde's Brownian tree. */
static const char *const brownian_names[] = {
    "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu",
};

/* The rest of ComfyUI's sampler list. */
static const char *const unimplemented_names[] = {
    "euler_cfg_pp", "euler_ancestral_cfg_pp", "heunpp2", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_2m_cfg_pp", "ddpm", "ipndm_v", "res_multistep", "res_multistep_cfg_pp",
    "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation",
    "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece",
};

#define COUNT_OF(a) (int)(sizeof(a) / sizeof((a)[0]))

void fg_sampler_options_default(fg_sampler_options *o) {
    memset(o, 0, sizeof *o);
    o->eta = 1.0f;
    o->s_noise = 1.0f;
}

const char *fg_sampler_name(fg_sampler s) {
    return (s >= 0 && s < FG_SAMPLER_COUNT) ? sampler_names[s] : "?";
}

fg_error *fg_sampler_from_name(const char *name, fg_sampler *out) {
    FG_CHECK_ARG(name && out, "sampler: NULL name");
    for (int i = 0; i < FG_SAMPLER_COUNT; i++)
        if (strcmp(name, sampler_names[i]) == 0) {
            *out = (fg_sampler)i;
            return NULL;
        }
    for (int i = 0; i < COUNT_OF(brownian_names); i++)
        if (strcmp(name, brownian_names[i]) == 0)
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "sampler '%s' needs torchsde's Brownian tree, not implemented (use euler, "
                             "euler_ancestral, dpmpp_2m, ...)",
                             name);
    for (int i = 0; i < COUNT_OF(unimplemented_names); i++)
        if (strcmp(name, unimplemented_names[i]) == 0)
            return fg_errorf(FG_ERR_UNSUPPORTED, "sampler '%s' is not implemented", name);
    return fg_errorf(FG_ERR_NOT_FOUND,
                     "unknown sampler '%.64s' (implemented: euler, euler_ancestral, heun, dpm_2, dpm_2_ancestral, "
                     "lms, dpmpp_2m, ipndm, deis, ddim, lcm, uni_pc, uni_pc_bh2)",
                     name);
}

bool fg_sampler_discards_penultimate(fg_sampler s) {
    return s == FG_SAMPLER_DPM_2 || s == FG_SAMPLER_DPM_2_ANCESTRAL || s == FG_SAMPLER_UNI_PC ||
           s == FG_SAMPLER_UNI_PC_BH2;
}

fg_error *fg_sr_check_cancel(const fg_sampler_run_ctx *c, int i) {
    if (c->opt->cancel && *c->opt->cancel)
        return fg_errorf(FG_ERR_CANCELLED, "cancelled after step %d of %d", i, c->steps);
    return NULL;
}

fg_error *fg_sr_call(fg_sampler_run_ctx *c, const fg_tensor *x, float sigma, fg_tensor *out) {
    return fg_error_wrapf(c->model(c->user, x, sigma, out), "model call at sigma %g", (double)sigma);
}

fg_error *fg_sr_main_call(fg_sampler_run_ctx *c, int i) {
    FG_TRY(fg_sr_check_cancel(c, i));
    FG_TRY_CTX(fg_sr_call(c, c->x, c->s[i], &c->den), "step %d of %d", i + 1, c->steps);
    c->have_den = true;
    if (c->opt->progress) c->opt->progress(c->opt->progress_user, i + 1, c->steps, c->x, &c->den);
    return NULL;
}

fg_error *fg_sr_tmp(const fg_sampler_run_ctx *c, fg_tensor *t) {
    return fg_tensor_alloc_host(t, FG_F32, c->x->ndim, c->x->shape);
}

fg_error *fg_sr_to_d(fg_tensor *d, const fg_tensor *x, const fg_tensor *den, float sigma) {
    FG_TRY(fg_axpby(d, 1.0f, x, -1.0f, den));
    return fg_scale_shift(d, d, 1.0f / sigma, 0.0f);
}

static fg_error *dispatch(fg_sampler s, fg_sampler_run_ctx *c) {
    switch (s) {
    case FG_SAMPLER_EULER:
    case FG_SAMPLER_DDIM: return fg_sample_euler(c);
    case FG_SAMPLER_EULER_ANCESTRAL: return fg_sample_euler_ancestral_rf(c);
    case FG_SAMPLER_HEUN: return fg_sample_heun(c);
    case FG_SAMPLER_DPM_2: return fg_sample_dpm_2(c);
    case FG_SAMPLER_DPM_2_ANCESTRAL: return fg_sample_dpm_2_ancestral_rf(c);
    case FG_SAMPLER_LMS: return fg_sample_lms(c);
    case FG_SAMPLER_DPMPP_2M: return fg_sample_dpmpp_2m(c);
    case FG_SAMPLER_IPNDM: return fg_sample_ipndm(c);
    case FG_SAMPLER_DEIS: return fg_sample_deis(c);
    case FG_SAMPLER_LCM: return fg_sample_lcm(c);
    case FG_SAMPLER_UNI_PC: return fg_sample_uni_pc(c);
    case FG_SAMPLER_UNI_PC_BH2: return fg_sample_uni_pc_bh2(c);
    default: return fg_errorf(FG_ERR_INVALID_ARGUMENT, "sampler: unknown id %d", (int)s);
    }
}

static fg_error *check_inputs(const fg_tensor *x, const float *sigmas, int n_sigmas, const fg_tensor *last) {
    FG_CHECK_ARG(x && x->data && x->dtype == FG_F32 && x->device == FG_DEVICE_CPU,
                 "sampler: x must be a host F32 tensor");
    FG_CHECK_ARG(n_sigmas >= 1 && sigmas, "sampler: no sigmas");
    for (int i = 0; i < n_sigmas; i++)
        FG_CHECK_ARG(sigmas[i] >= 0.0f && sigmas[i] <= 1e4f, "sampler: sigma %d is %g (needs 0..1e4)", i,
                     (double)sigmas[i]);
    for (int i = 0; i + 1 < n_sigmas; i++)
        FG_CHECK_ARG(sigmas[i] > 0.0f, "sampler: sigma %d is 0 before the last step", i);
    if (last)
        FG_CHECK_ARG(last->data && last->dtype == FG_F32 && fg_tensor_same_shape(last, x),
                     "sampler: last_denoised must be F32 shaped like x");
    return NULL;
}

fg_error *fg_sampler_run(fg_sampler s, fg_denoise_fn model, void *user, fg_tensor *x, const float *sigmas,
                         int n_sigmas, const fg_sampler_options *opt, fg_tensor *last_denoised) {
    FG_CHECK_ARG(model, "sampler: no model");
    FG_TRY(check_inputs(x, sigmas, n_sigmas, last_denoised));
    fg_sampler_options defaults;
    if (!opt) {
        fg_sampler_options_default(&defaults);
        opt = &defaults;
    }
    FG_CHECK_ARG(opt->eta >= 0.0f && opt->eta <= 100.0f && opt->s_noise >= 0.0f && opt->s_noise <= 100.0f,
                 "sampler: eta %g / s_noise %g out of range", (double)opt->eta, (double)opt->s_noise);
    if (n_sigmas == 1) return NULL;
    fg_sampler_run_ctx c = {.model = model, .user = user, .s = sigmas, .steps = n_sigmas - 1, .opt = opt, .x = x};
    fg_noise_stream_init(&c.noise, opt->seed);
    FG_TRY(fg_sr_tmp(&c, &c.den));
    fg_error *err = dispatch(s, &c);
    if (!err && last_denoised && c.have_den) err = fg_tensor_copy(last_denoised, &c.den);
    fg_tensor_free_host(&c.den);
    return fg_error_wrapf(err, "sampler %s", fg_sampler_name(s));
}
