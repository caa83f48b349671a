/* Random models built directly in device memory, without files: every tensor of a layout
 * (models/model_layouts.h) is allocated on the target device in one float dtype and filled
 * there with fg_fill_uniform, then handed to an in-memory weights view (fg_weights_new) that
 * the ordinary loaders (fg_flux_load_weights, fg_t5_load, fg_clip_load, fg_vae_load) read as
 * if it were a checkpoint. Used by `fluxgraph bench` to time full-size models on a GPU
 * without 33 GB of downloads or a host-to-device copy.
 *
 * Scales keep activations bounded through deep stacks: weights uniform in +-1/sqrt(fan_in),
 * norm scales in 1 +- 0.05, biases and norm shifts in +-0.02, embedding rows in +-1. Each tensor
 * gets its own seed, derived from the caller's seed and its name, so the contents do not depend
 * on the order of the layout or on the device. */
#ifndef FG_MODELS_RANDOM_WEIGHTS_H
#define FG_MODELS_RANDOM_WEIGHTS_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/model_layouts.h"
#include "models/weights.h"

/* Bytes the layout's tensors take when stored as dtype. */
uint64_t fg_random_weights_bytes(const fg_layout *layout, fg_dtype dtype);

/* The uniform range [lo, hi) that tensor t is filled from (see above). */
void fg_random_weights_range(const fg_layout_tensor *t, float *lo, float *hi);

/* The seed of tensor `name` for a model seeded with `seed`. */
uint64_t fg_random_weights_seed(uint64_t seed, const char *name);

/* A weights view labelled `label` ("random FLUX.1-dev") holding every tensor of layout on
 * dev as dtype (F32, BF16 or F16; the layout's own dtypes are ignored). The allocator's cached
 * blocks are returned to the driver first; when the tensors still cannot fit, fails with
 * FG_ERR_OUT_OF_MEMORY naming the GiB needed and the GiB free on dev (fg_device_memory_info)
 * before allocating anything. A failure part-way frees what was made. */
fg_error *fg_random_weights(const fg_layout *layout, fg_device dev, fg_dtype dtype, uint64_t seed, const char *label,
                            fg_weights **out) FG_MUST_CHECK;

/* fg_random_weights of the layout of one model config (fg_layout_from_config). */
fg_error *fg_random_weights_for(const fg_model_config *config, fg_device dev, fg_dtype dtype, uint64_t seed,
                                const char *label, fg_weights **out) FG_MUST_CHECK;

#endif
