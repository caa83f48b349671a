/* Each scheduler mirrors ComfyUI's function of the same name (samplers.py and k-diffusion's
 * get_sigmas_*): float32 where PyTorch works on float32 tensors, double where Python does
 * scalar math, so the results agree with the golden schedules to float32 rounding. */
#include "sampling/schedulers.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const scheduler_names[FG_SCHED_COUNT] = {
    "simple", "normal", "karras", "exponential", "sgm_uniform", "beta", "linear_quadratic", "ddim_uniform",
    "kl_optimal",
};

fg_error *fg_scheduler_from_name(const char *name, fg_scheduler *out) {
    FG_CHECK_ARG(name && out, "scheduler: NULL name");
    for (int i = 0; i < FG_SCHED_COUNT; i++)
        if (strcmp(name, scheduler_names[i]) == 0) {
            *out = (fg_scheduler)i;
            return NULL;
        }
    return fg_errorf(FG_ERR_NOT_FOUND,
                     "unknown scheduler '%.64s' (known: simple, normal, karras, exponential, sgm_uniform, "
                     "beta, linear_quadratic, ddim_uniform, kl_optimal)",
                     name);
}

void fg_sigma_array_free(fg_sigma_array *s) {
    if (!s) return;
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static fg_error *sigmas_alloc(fg_sigma_array *s, int n) {
    s->n = 0;
    s->v = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!s->v) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "sigmas: %d values", n);
    s->n = n;
    return NULL;
}

fg_error *fg_sigmas_from(fg_sigma_array *s, const float *v, int n) {
    FG_CHECK_ARG(s && n >= 0 && (v || n == 0), "sigmas: bad array");
    FG_TRY(sigmas_alloc(s, n));
    if (n) memcpy(s->v, v, (size_t)n * sizeof(float));
    return NULL;
}

/* torch.linspace(start, end, steps) for float32 (the scalar path of its CPU kernel: the
 * first half counts up from start, the second half down from end). */
static void linspace_f32(float *out, float start, float end, int steps) {
    if (steps == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(steps - 1);
    const int half = steps / 2;
    for (int i = 0; i < steps; i++)
        out[i] = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

static fg_error *simple(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    FG_TRY(sigmas_alloc(out, steps + 1));
    const double ss = (double)ms->count / steps;
    for (int i = 0; i < steps; i++) out->v[i] = ms->sigmas[ms->count - 1 - (int)(i * ss)];
    out->v[steps] = 0.0f;
    return NULL;
}

/* normal (sgm = false) and sgm_uniform (sgm = true). */
static fg_error *normal(const fg_model_sampling *ms, int steps, bool sgm, fg_sigma_array *out) {
    const float start = fg_ms_timestep(ms, fg_ms_sigma_max(ms));
    const float end = fg_ms_timestep(ms, fg_ms_sigma_min(ms));
    bool append_zero = true;
    int n = steps;
    if (sgm) n = steps + 1;
    else if (fabsf(fg_ms_sigma(ms, end)) < 1e-5f) {
        n = steps + 1;
        append_zero = false;
    }
    float *ts = malloc((size_t)n * sizeof(float));
    if (!ts) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "normal scheduler");
    linspace_f32(ts, start, end, n);
    const int keep = sgm ? n - 1 : n;
    fg_error *err = sigmas_alloc(out, keep + (append_zero ? 1 : 0));
    if (!err) {
        for (int i = 0; i < keep; i++) out->v[i] = fg_ms_sigma(ms, ts[i]);
        if (append_zero) out->v[keep] = 0.0f;
    }
    free(ts);
    return err;
}

static fg_error *karras(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    FG_TRY(sigmas_alloc(out, steps + 1));
    linspace_f32(out->v, 0.0f, 1.0f, steps);
    const float rho = 7.0f;
    /* Python floats: the difference is taken in double, then each scalar meets the tensor. */
    const double min_inv = pow((double)fg_ms_sigma_min(ms), 1.0 / 7.0);
    const double max_inv_d = pow((double)fg_ms_sigma_max(ms), 1.0 / 7.0);
    const float diff = (float)(min_inv - max_inv_d);
    const float max_inv = (float)max_inv_d;
    for (int i = 0; i < steps; i++) out->v[i] = powf(max_inv + out->v[i] * diff, rho);
    out->v[steps] = 0.0f;
    return NULL;
}

static fg_error *exponential(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    FG_TRY(sigmas_alloc(out, steps + 1));
    linspace_f32(out->v, (float)log((double)fg_ms_sigma_max(ms)), (float)log((double)fg_ms_sigma_min(ms)), steps);
    for (int i = 0; i < steps; i++) out->v[i] = expf(out->v[i]);
    out->v[steps] = 0.0f;
    return NULL;
}

/* Inverse regularised incomplete beta. GSL's root is a few ulps off at the centre of a
 * symmetric distribution (0.4999999999999994 for p = 0.5), which rint() then rounds to the
 * wrong table index; scipy returns exactly 0.5 there. The symmetry gives the exact centre and
 * evaluates the upper half from the lower one. */
static double beta_ppf(double p, double a, double b) {
    if (a == b) {
        if (p == 0.5) return 0.5;
        if (p > 0.5) return 1.0 - gsl_cdf_beta_Pinv(1.0 - p, a, b);
    }
    return gsl_cdf_beta_Pinv(p, a, b);
}

/* beta(0.6, 0.6): indices rint(ppf(1 - i/steps) * (N - 1)), repeated indices collapse. */
static fg_error *beta(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    FG_TRY(sigmas_alloc(out, steps + 1));
    const double total = ms->count - 1;
    const double step = 1.0 / steps; /* numpy.linspace(0, 1, steps, endpoint=False) */
    int n = 0;
    double last = -1.0;
    for (int i = 0; i < steps; i++) {
        const double u = 1.0 - i * step;
        double t = rint(beta_ppf(u, 0.6, 0.6) * total);
        if (!(t >= 0.0)) t = 0.0;
        if (t > total) t = total;
        if (t != last) out->v[n++] = ms->sigmas[(int)t];
        last = t;
    }
    out->v[n++] = 0.0f;
    out->n = n;
    return NULL;
}

static fg_error *linear_quadratic(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    FG_TRY(sigmas_alloc(out, steps + 1));
    const float smax = fg_ms_sigma_max(ms);
    if (steps == 1) {
        out->v[0] = 1.0f * smax;
        out->v[1] = 0.0f * smax;
        return NULL;
    }
    const double thr = 0.025;
    const int lin = steps / 2;
    const double diff = lin - thr * steps;
    const int quad = steps - lin;
    const double qc = diff / (lin * (double)quad * quad);
    const double lc = thr / lin - 2.0 * diff / ((double)quad * quad);
    const double c = qc * ((double)lin * lin);
    for (int i = 0; i <= steps; i++) {
        double s;
        if (i < lin) s = i * thr / lin;
        else if (i < steps) s = qc * ((double)i * i) + lc * i + c;
        else s = 1.0;
        out->v[i] = (float)(1.0 - s) * smax;
    }
    return NULL;
}

static fg_error *ddim_uniform(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    bool leading_zero = true;
    if (fabs((double)ms->sigmas[1]) <= 1e-5) {
        steps += 1;
        leading_zero = false;
    }
    int ss = ms->count / steps;
    if (ss < 1) ss = 1;
    const int picks = (ms->count - 1 + ss - 1) / ss; /* x = 1, 1+ss, ... < count */
    FG_TRY(sigmas_alloc(out, picks + (leading_zero ? 1 : 0)));
    int n = 0;
    for (int x = 1 + (picks - 1) * ss; x >= 1; x -= ss) out->v[n++] = ms->sigmas[x];
    if (leading_zero) out->v[n++] = 0.0f;
    out->n = n;
    return NULL;
}

static fg_error *kl_optimal(const fg_model_sampling *ms, int steps, fg_sigma_array *out) {
    if (steps < 2) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "kl_optimal scheduler needs at least 2 steps");
    FG_TRY(sigmas_alloc(out, steps + 1));
    const float amin = (float)atan((double)fg_ms_sigma_min(ms));
    const float amax = (float)atan((double)fg_ms_sigma_max(ms));
    for (int i = 0; i < steps; i++) {
        const float adj = (float)i / (float)(steps - 1);
        out->v[i] = tanf(adj * amin + (1.0f - adj) * amax);
    }
    out->v[steps] = 0.0f;
    return NULL;
}

fg_error *fg_schedule(const fg_model_sampling *ms, fg_scheduler sched, int steps, fg_sigma_array *out) {
    FG_CHECK_ARG(ms && out, "schedule: NULL argument");
    out->v = NULL;
    out->n = 0;
    FG_CHECK_ARG(steps >= 1 && steps <= FG_MAX_SCHEDULE_STEPS, "schedule: steps %d out of range 1..%d", steps,
                 FG_MAX_SCHEDULE_STEPS);
    FG_CHECK_ARG(ms->count >= 2 && ms->count <= FG_FLUX_SIGMA_COUNT, "schedule: bad sigma table");
    switch (sched) {
    case FG_SCHED_SIMPLE: return simple(ms, steps, out);
    case FG_SCHED_NORMAL: return normal(ms, steps, false, out);
    case FG_SCHED_SGM_UNIFORM: return normal(ms, steps, true, out);
    case FG_SCHED_KARRAS: return karras(ms, steps, out);
    case FG_SCHED_EXPONENTIAL: return exponential(ms, steps, out);
    case FG_SCHED_BETA: return beta(ms, steps, out);
    case FG_SCHED_LINEAR_QUADRATIC: return linear_quadratic(ms, steps, out);
    case FG_SCHED_DDIM_UNIFORM: return ddim_uniform(ms, steps, out);
    case FG_SCHED_KL_OPTIMAL: return kl_optimal(ms, steps, out);
    default: return fg_errorf(FG_ERR_INVALID_ARGUMENT, "schedule: unknown scheduler %d", (int)sched);
    }
}

static fg_error *schedule_maybe_discard(const fg_model_sampling *ms, fg_scheduler sched, int steps, bool discard,
                                        fg_sigma_array *out) {
    if (!discard) return fg_schedule(ms, sched, steps, out);
    FG_CHECK_ARG(steps < FG_MAX_SCHEDULE_STEPS, "schedule: steps %d too large", steps);
    FG_TRY(fg_schedule(ms, sched, steps + 1, out));
    if (out->n >= 2) { /* cat(sigmas[:-2], sigmas[-1:]) */
        out->v[out->n - 2] = out->v[out->n - 1];
        out->n -= 1;
    }
    return NULL;
}

fg_error *fg_schedule_denoise(const fg_model_sampling *ms, fg_scheduler sched, int steps, double denoise,
                              fg_denoise_rule rule, bool discard_penultimate, fg_sigma_array *out) {
    FG_CHECK_ARG(out, "schedule: NULL output");
    out->v = NULL;
    out->n = 0;
    FG_CHECK_ARG(!isnan(denoise), "schedule: denoise is NaN");
    FG_CHECK_ARG(steps >= 1 && steps <= FG_MAX_SCHEDULE_STEPS, "schedule: steps %d out of range 1..%d", steps,
                 FG_MAX_SCHEDULE_STEPS);
    const bool full = rule == FG_DENOISE_KSAMPLER ? denoise > 0.9999 : denoise >= 1.0;
    if (full) return schedule_maybe_discard(ms, sched, steps, discard_penultimate, out);
    if (denoise <= 0.0) return sigmas_alloc(out, 0);
    const double total = steps / denoise;
    FG_CHECK_ARG(total < FG_MAX_SCHEDULE_STEPS, "schedule: %d steps at denoise %g is too many", steps, denoise);
    FG_TRY(schedule_maybe_discard(ms, sched, (int)total, discard_penultimate, out));
    const int keep = steps + 1;
    if (out->n > keep) { /* sigmas[-(steps + 1):] */
        memmove(out->v, out->v + (out->n - keep), (size_t)keep * sizeof(float));
        out->n = keep;
    }
    return NULL;
}

fg_error *fg_sigmas_advanced_slice(fg_sigma_array *s, int start_at_step, int end_at_step, bool force_full_denoise,
                                   bool *unchanged) {
    FG_CHECK_ARG(s && unchanged, "sigmas slice: NULL argument");
    FG_CHECK_ARG(start_at_step >= 0 && end_at_step >= 0, "sigmas slice: negative step");
    *unchanged = false;
    if (end_at_step < s->n - 1) {
        s->n = end_at_step + 1;
        if (force_full_denoise) s->v[s->n - 1] = 0.0f;
    }
    if (start_at_step < s->n - 1) {
        memmove(s->v, s->v + start_at_step, (size_t)(s->n - start_at_step) * sizeof(float));
        s->n -= start_at_step;
    } else {
        *unchanged = true;
    }
    return NULL;
}

fg_error *fg_schedule_for_node(const fg_schedule_request *r, fg_sigma_array *out, bool *unchanged) {
    FG_CHECK_ARG(r && out && unchanged, "schedule: NULL argument");
    out->v = NULL;
    out->n = 0;
    *unchanged = false;
    const bool ksampler = r->node == FG_SCHEDULE_KSAMPLER || r->node == FG_SCHEDULE_KSAMPLER_ADVANCED;
    const bool advanced = r->node == FG_SCHEDULE_KSAMPLER_ADVANCED;
    fg_model_sampling *ms = NULL;
    FG_TRY(fg_model_sampling_new(r->sampling, r->shift, &ms));
    fg_error *err = fg_schedule_denoise(ms, r->scheduler, r->steps, advanced ? 1.0 : r->denoise,
                                        ksampler ? FG_DENOISE_KSAMPLER : FG_DENOISE_BASIC_SCHEDULER,
                                        ksampler && fg_sampler_discards_penultimate(r->sampler), out);
    if (!err && advanced)
        err = fg_sigmas_advanced_slice(out, r->start_at_step, r->end_at_step, r->force_full_denoise, unchanged);
    free(ms);
    if (err) fg_sigma_array_free(out);
    return err;
}
