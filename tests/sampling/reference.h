/* Straightforward double-precision evaluations of ComfyUI's sampler formulas
 * (k_diffusion/sampling.py, deis.py; docs/comfyui.md 4.8) on a synthetic per-element model, for
 * checking the float32 tensor samplers of sampling/. Written from the formulas, sharing no code
 * with sampling/ (LMS integrates with Simpson's rule, DEIS sums its own Riemann sum). */
#ifndef FG_TESTS_SAMPLING_REFERENCE_H
#define FG_TESTS_SAMPLING_REFERENCE_H

#include <stdint.h>

/* The synthetic model: D(x, sigma) for element e. */
double ref_model(double x, double sigma, int64_t e);

/* Runs sampler `name` on x[0..n-1] in place; ancestral noise from a torch CPU generator
 * seeded seed + 1, one randn(n) per noisy step. Returns 0, or -1 for an unknown name. */
int ref_sample(const char *name, double *x, int64_t n, const float *sigmas, int n_sigmas, double eta,
               double s_noise, uint64_t seed);

#endif
