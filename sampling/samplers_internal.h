/* Shared state of one sampler run (samplers*.c only). */
#ifndef FG_SAMPLING_SAMPLERS_INTERNAL_H
#define FG_SAMPLING_SAMPLERS_INTERNAL_H

#include "sampling/noise.h"
#include "sampling/samplers.h"

typedef struct fg_sampler_run_ctx {
    fg_denoise_fn model;
    void *user;
    const float *s;   /* sigmas */
    int steps;        /* len(sigmas) - 1 */
    const fg_sampler_options *opt;
    fg_tensor *x;     /* the state, updated in place */
    fg_tensor den;    /* denoised of the current step's main call */
    bool have_den;
    fg_noise_stream noise;
} fg_sampler_run_ctx;

/* Cancel check before step i. */
fg_error *fg_sr_check_cancel(const fg_sampler_run_ctx *c, int i) FG_MUST_CHECK;
/* The main model call of step i into c->den, then the progress callback. */
fg_error *fg_sr_main_call(fg_sampler_run_ctx *c, int i) FG_MUST_CHECK;
/* An extra model call (heun, dpm_2): out = D(x, sigma). */
fg_error *fg_sr_call(fg_sampler_run_ctx *c, const fg_tensor *x, float sigma, fg_tensor *out) FG_MUST_CHECK;
/* A zeroed host F32 tensor shaped like x. */
fg_error *fg_sr_tmp(const fg_sampler_run_ctx *c, fg_tensor *t) FG_MUST_CHECK;
/* d = (x - den) / sigma */
fg_error *fg_sr_to_d(fg_tensor *d, const fg_tensor *x, const fg_tensor *den, float sigma) FG_MUST_CHECK;

fg_error *fg_sample_euler(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_euler_ancestral_rf(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_heun(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_dpm_2(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_dpm_2_ancestral_rf(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_lcm(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_lms(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_dpmpp_2m(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_ipndm(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_deis(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_uni_pc(fg_sampler_run_ctx *c) FG_MUST_CHECK;
fg_error *fg_sample_uni_pc_bh2(fg_sampler_run_ctx *c) FG_MUST_CHECK;

/* Exposed for the tests: the LMS coefficient c_j (closed-form integral of the Lagrange basis)
 * and the DEIS "tab" coefficients of step i (order entries). */
double fg_lms_coeff(int order, const float *sigmas, int i, int j);
void fg_deis_coeffs(const float *sigmas, int i, int order, double *coeffs);

#endif
