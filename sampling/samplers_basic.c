/* Single-step samplers: euler, euler_ancestral (RF), heun, dpm_2, dpm_2_ancestral (RF), lcm.
 * Sigma arithmetic is float32, as on ComfyUI's 0-dim float32 sigma tensors. */
#include <math.h>

#include "kernels/ops.h"
#include "sampling/samplers_internal.h"

/* x += d * dt */
static fg_error *step_along(fg_tensor *x, const fg_tensor *d, float dt) { return fg_axpby(x, 1.0f, x, dt, d); }

fg_error *fg_sample_euler(fg_sampler_run_ctx *c) {
    fg_tensor d;
    FG_TRY(fg_sr_tmp(c, &d));
    fg_error *err = NULL;
    for (int i = 0; i < c->steps && !err; i++) {
        err = fg_sr_main_call(c, i);
        if (!err) err = fg_sr_to_d(&d, c->x, &c->den, c->s[i]);
        if (!err) err = step_along(c->x, &d, c->s[i + 1] - c->s[i]);
    }
    fg_tensor_free_host(&d);
    return err;
}

/* The RF ancestral step's sigma_down and renoise coefficient (eta, as sample_*_RF does). */
typedef struct rf_step {
    float sigma_down, alpha_ip1, alpha_down, renoise;
} rf_step;

static rf_step rf_ancestral(float sigma, float sigma_next, float eta) {
    rf_step r;
    const float ratio = 1.0f + (sigma_next / sigma - 1.0f) * eta;
    r.sigma_down = sigma_next * ratio;
    r.alpha_ip1 = 1.0f - sigma_next;
    r.alpha_down = 1.0f - r.sigma_down;
    const float sd2 = r.sigma_down * r.sigma_down;
    r.renoise = sqrtf(sigma_next * sigma_next - sd2 * (r.alpha_ip1 * r.alpha_ip1) / (r.alpha_down * r.alpha_down));
    return r;
}

/* x = (alpha_ip1 / alpha_down) x + eps * s_noise * renoise, eps the next CPU noise draw. */
static fg_error *rf_renoise(fg_sampler_run_ctx *c, fg_tensor *eps, const rf_step *r) {
    FG_TRY(fg_noise_stream_next(&c->noise, eps));
    return fg_axpby(c->x, r->alpha_ip1 / r->alpha_down, c->x, c->opt->s_noise * r->renoise, eps);
}

fg_error *fg_sample_euler_ancestral_rf(fg_sampler_run_ctx *c) {
    fg_tensor eps;
    FG_TRY(fg_sr_tmp(c, &eps));
    fg_error *err = NULL;
    const float eta = c->opt->eta;
    for (int i = 0; i < c->steps && !err; i++) {
        err = fg_sr_main_call(c, i);
        if (err) break;
        if (c->s[i + 1] == 0.0f) {
            err = fg_tensor_copy(c->x, &c->den);
            continue;
        }
        const rf_step r = rf_ancestral(c->s[i], c->s[i + 1], eta);
        const float down_ratio = r.sigma_down / c->s[i];
        err = fg_axpby(c->x, down_ratio, c->x, 1.0f - down_ratio, &c->den);
        if (!err && eta > 0.0f) err = rf_renoise(c, &eps, &r);
    }
    fg_tensor_free_host(&eps);
    return err;
}

fg_error *fg_sample_heun(fg_sampler_run_ctx *c) {
    fg_tensor d, x2, d2;
    FG_TRY(fg_sr_tmp(c, &d));
    fg_error *err = fg_sr_tmp(c, &x2);
    if (!err) err = fg_sr_tmp(c, &d2);
    for (int i = 0; i < c->steps && !err; i++) {
        const float sigma = c->s[i], next = c->s[i + 1], dt = next - sigma;
        err = fg_sr_main_call(c, i);
        if (!err) err = fg_sr_to_d(&d, c->x, &c->den, sigma);
        if (err) break;
        if (next == 0.0f) {
            err = step_along(c->x, &d, dt);
            continue;
        }
        err = fg_axpby(&x2, 1.0f, c->x, dt, &d);
        if (!err) err = fg_sr_call(c, &x2, next, &d2); /* d2 holds denoised_2 first */
        if (!err) err = fg_sr_to_d(&d2, &x2, &d2, next);
        if (!err) err = fg_axpby(&d, 0.5f, &d, 0.5f, &d2); /* (d + d2) / 2 */
        if (!err) err = step_along(c->x, &d, dt);
    }
    fg_tensor_free_host(&d);
    fg_tensor_free_host(&x2);
    fg_tensor_free_host(&d2);
    return err;
}

/* exp(lerp(log a, log b, 0.5)): torch's lerp takes the end-anchored form at weight 0.5. */
static float log_midpoint(float a, float b) {
    const float la = logf(a), lb = logf(b);
    return expf(lb - (lb - la) * 0.5f);
}

/* The DPM-Solver-2 step from sigma to target (> 0) given d at sigma: two model calls total. */
static fg_error *dpm2_step(fg_sampler_run_ctx *c, const fg_tensor *d, fg_tensor *x2, fg_tensor *d2, float sigma,
                           float target) {
    const float mid = log_midpoint(sigma, target);
    FG_TRY(fg_axpby(x2, 1.0f, c->x, mid - sigma, d));
    FG_TRY(fg_sr_call(c, x2, mid, d2));
    FG_TRY(fg_sr_to_d(d2, x2, d2, mid));
    return step_along(c->x, d2, target - sigma);
}

fg_error *fg_sample_dpm_2(fg_sampler_run_ctx *c) {
    fg_tensor d, x2, d2;
    FG_TRY(fg_sr_tmp(c, &d));
    fg_error *err = fg_sr_tmp(c, &x2);
    if (!err) err = fg_sr_tmp(c, &d2);
    for (int i = 0; i < c->steps && !err; i++) {
        const float sigma = c->s[i], next = c->s[i + 1];
        err = fg_sr_main_call(c, i);
        if (!err) err = fg_sr_to_d(&d, c->x, &c->den, sigma);
        if (err) break;
        if (next == 0.0f) err = step_along(c->x, &d, next - sigma);
        else err = dpm2_step(c, &d, &x2, &d2, sigma, next);
    }
    fg_tensor_free_host(&d);
    fg_tensor_free_host(&x2);
    fg_tensor_free_host(&d2);
    return err;
}

fg_error *fg_sample_dpm_2_ancestral_rf(fg_sampler_run_ctx *c) {
    fg_tensor d, x2, d2;
    FG_TRY(fg_sr_tmp(c, &d));
    fg_error *err = fg_sr_tmp(c, &x2);
    if (!err) err = fg_sr_tmp(c, &d2);
    for (int i = 0; i < c->steps && !err; i++) {
        const float sigma = c->s[i];
        err = fg_sr_main_call(c, i);
        if (err) break;
        const rf_step r = rf_ancestral(sigma, c->s[i + 1], c->opt->eta);
        err = fg_sr_to_d(&d, c->x, &c->den, sigma);
        if (err) break;
        if (r.sigma_down == 0.0f) {
            err = step_along(c->x, &d, r.sigma_down - sigma);
            continue;
        }
        err = dpm2_step(c, &d, &x2, &d2, sigma, r.sigma_down);
        if (!err) err = rf_renoise(c, &x2, &r); /* x2 is free again: it holds the noise */
    }
    fg_tensor_free_host(&d);
    fg_tensor_free_host(&x2);
    fg_tensor_free_host(&d2);
    return err;
}

/* lcm: x = D, then re-noised to the next sigma with the flow model's noise_scaling. */
fg_error *fg_sample_lcm(fg_sampler_run_ctx *c) {
    fg_tensor eps;
    FG_TRY(fg_sr_tmp(c, &eps));
    fg_error *err = NULL;
    for (int i = 0; i < c->steps && !err; i++) {
        err = fg_sr_main_call(c, i);
        if (!err) err = fg_tensor_copy(c->x, &c->den);
        const float next = c->s[i + 1];
        if (!err && next > 0.0f) {
            err = fg_noise_stream_next(&c->noise, &eps);
            if (!err) err = fg_axpby(c->x, 1.0f - next, c->x, next, &eps);
        }
    }
    fg_tensor_free_host(&eps);
    return err;
}
