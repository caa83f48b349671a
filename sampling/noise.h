/* ComfyUI's initial noise (docs/comfyui.md 5.1) and the CPU noise stream of ancestral samplers
 * (5.3), on the torch-exact generator of core/rng.h. */
#ifndef FG_SAMPLING_NOISE_H
#define FG_SAMPLING_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

/* Which of torch's CPU normal kernels the noise imitates (core/rng.h): the one torch picks on
 * this machine until set. Set once at start-up (--noise-compat), before any sampling runs. */
void fg_noise_set_variant(fg_randn_variant v);
fg_randn_variant fg_noise_variant(void);

/* prepare_noise: out is a caller-allocated host F32 tensor of the latent's shape [B, ...].
 * batch_index NULL: one randn over the whole tensor after manual_seed(seed). Otherwise
 * batch_index[b] (n_index == B values >= 0) picks the (k+1)-th consecutive per-item draw
 * randn([1, ...]) for item b, so an item keeps its noise whatever batch it is in. */
fg_error *fg_prepare_noise(fg_tensor *out, uint64_t seed, const int64_t *batch_index, int n_index) FG_MUST_CHECK;

/* Largest batch_index accepted (every index below it costs one draw of an item). */
#define FG_MAX_BATCH_INDEX 4096

/* Where a sampling run's initial noise comes from (ComfyUI's NOISE: RandomNoise, DisableNoise;
 * KSampler's and SamplerCustom's add_noise). seed is prepare_noise's, and also the ancestral
 * samplers' whether noise is added or not: ComfyUI hands the node's seed (noise.seed for
 * SamplerCustomAdvanced) to the sampler either way. disabled: the initial noise is zeros.
 * DisableNoise is {.seed = 0, .disabled = true}. */
typedef struct fg_noise_source {
    uint64_t seed;
    bool disabled;
} fg_noise_source;

/* default_noise_sampler on the CPU: a private generator seeded seed + 1 (current upstream
 * ComfyUI), one randn(x.shape) per call. */
typedef struct fg_noise_stream {
    fg_torch_generator gen;
} fg_noise_stream;

void fg_noise_stream_init(fg_noise_stream *s, uint64_t sampler_seed);
/* Fills out (host F32) with the next randn(out.shape). */
fg_error *fg_noise_stream_next(fg_noise_stream *s, fg_tensor *out) FG_MUST_CHECK;

#endif
