/* The sigma tables are evaluated in float32 in PyTorch's order (docs/comfyui.md 4.1): a double
 * evaluation rounded once differs in about half of the entries by one ulp. */
#include "sampling/model_sampling.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/ops.h"

double fg_flux_shift_for_size(double max_shift, double base_shift, double width, double height) {
    const double x1 = 256.0, x2 = 4096.0;
    const double m = (max_shift - base_shift) / (x2 - x1);
    const double b = base_shift - m * x1;
    return (width * height / (8.0 * 8.0 * 2.0 * 2.0)) * m + b;
}

/* flux_time_shift(mu, 1, t) on a float32 tensor: E / (E + (1/t - 1)), where torch evaluates
 * the scalar-over-tensor division as reciprocal then multiply. */
static float flux_time_shift_f32(double mu, float t) {
    const float e = (float)exp(mu);
    const float a = 1.0f / t;
    const float b = a - 1.0f;
    const float den = e + b;
    const float r = 1.0f / den;
    return r * e;
}

/* time_snr_shift(s, t) = s t / (1 + (s - 1) t) in float32; the identity for s = 1. */
static float flow_shift_f32(double shift, float t) {
    if (shift == 1.0) return t;
    const float s = (float)shift;
    return (s * t) / (1.0f + (s - 1.0f) * t);
}

fg_error *fg_model_sampling_init_flux(fg_model_sampling *ms, double mu) {
    FG_CHECK_ARG(ms, "model sampling: NULL");
    FG_CHECK_ARG(isfinite(mu) && fabs(mu) < 80.0, "model sampling: FLUX shift %g out of range", mu);
    ms->kind = FG_SAMPLING_FLUX;
    ms->shift = mu;
    ms->count = FG_FLUX_SIGMA_COUNT;
    for (int k = 0; k < FG_FLUX_SIGMA_COUNT; k++) {
        const float t = (float)(k + 1) / 10000.0f;
        ms->sigmas[k] = flux_time_shift_f32(mu, t);
    }
    return NULL;
}

fg_error *fg_model_sampling_init_flow(fg_model_sampling *ms, double shift) {
    FG_CHECK_ARG(ms, "model sampling: NULL");
    FG_CHECK_ARG(isfinite(shift) && shift > 0.0 && shift < 1e6, "model sampling: flow shift %g out of range",
                 shift);
    ms->kind = FG_SAMPLING_FLOW;
    ms->shift = shift;
    ms->count = FG_FLOW_SIGMA_COUNT;
    for (int k = 0; k < FG_FLOW_SIGMA_COUNT; k++) {
        const float t = (float)(k + 1) / 1000.0f; /* arange(1, 1001) / 1000 * multiplier 1 */
        ms->sigmas[k] = flow_shift_f32(shift, t);
    }
    return NULL;
}

fg_error *fg_model_sampling_new(fg_sampling_kind kind, double shift, fg_model_sampling **out) {
    FG_CHECK_ARG(out, "model sampling: NULL output");
    *out = NULL;
    fg_model_sampling *ms = malloc(sizeof *ms);
    if (!ms) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating the model sampling table");
    fg_error *err = kind == FG_SAMPLING_FLUX ? fg_model_sampling_init_flux(ms, shift)
                                             : fg_model_sampling_init_flow(ms, shift);
    if (err) {
        free(ms);
        return err;
    }
    *out = ms;
    return NULL;
}

float fg_ms_sigma(const fg_model_sampling *ms, float timestep) {
    if (ms->kind == FG_SAMPLING_FLUX) return flux_time_shift_f32(ms->shift, timestep);
    return flow_shift_f32(ms->shift, timestep);
}

float fg_ms_timestep(const fg_model_sampling *ms, float sigma) {
    (void)ms;
    return sigma;
}

double fg_ms_percent_to_sigma(const fg_model_sampling *ms, double percent) {
    if (percent <= 0.0) return 1.0;
    if (percent >= 1.0) return 0.0;
    const double t = 1.0 - percent;
    if (ms->kind == FG_SAMPLING_FLUX) {
        const double e = exp(ms->shift);
        return e / (e + (1.0 / t - 1.0));
    }
    return ms->shift * t / (1.0 + (ms->shift - 1.0) * t);
}

fg_error *fg_denoised_from_velocity(fg_tensor *out, const fg_tensor *x, const fg_tensor *v, float sigma) {
    return fg_axpby(out, 1.0f, x, -sigma, v);
}

fg_error *fg_noise_scaling(fg_tensor *out, float sigma, const fg_tensor *noise, const fg_tensor *latent) {
    if (!noise) return fg_scale_shift(out, latent, 1.0f - sigma, 0.0f);
    return fg_axpby(out, sigma, noise, 1.0f - sigma, latent);
}

fg_error *fg_inverse_noise_scaling(fg_tensor *x, float sigma) {
    const float keep = 1.0f - sigma;
    if (keep == 0.0f)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "inverse noise scaling: the last sigma is 1 (pure noise)");
    if (keep == 1.0f) return NULL;
    return fg_scale_shift(x, x, 1.0f / keep, 0.0f);
}
