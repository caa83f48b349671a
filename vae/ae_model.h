/* The FLUX autoencoder (docs/models.md 2): a KL autoencoder with z_channels latent channels and
 * 2^(levels-1) spatial scaling (16 and 8 for FLUX), run through the op interface.
 *
 * Spaces. decode takes and encode returns RAW VAE latents: the 0.3611 / 0.1159 scale and shift
 * belong to the latent format and are applied by the sampler (vae/latent_format.h). Pixels are
 * NCHW in [-1, 1] on both sides; decode returns the decoder output before any clamp.
 *
 * Outputs are caller-allocated (like the ops): their shape is checked and the computation runs
 * on their device; inputs and outputs are F32 or BF16 on any device. Activations are act_dtype
 * tensors on the device of the weights (F32 on the CPU, BF16 on CUDA unless set), converted
 * at entry and exit; tiled passes blend the tiles in the caller's dtype. */
#ifndef FG_VAE_AE_MODEL_H
#define FG_VAE_AE_MODEL_H

#include <stddef.h>

#include "core/error.h"
#include "core/tensor.h"
#include "models/model_layouts.h"
#include "models/weights.h"

typedef struct fg_vae fg_vae;

/* Loads the autoencoder from a weights view whose names start with "encoder." / "decoder."
 * (a stand-alone ae.safetensors, or fg_weights_view(base, "vae.") of an all-in-one
 * checkpoint). The config is inferred from the shapes; every tensor the config implies is
 * looked up with its shape (an error names a missing or wrongly-shaped one). Weights stay
 * zero-copy views in their stored dtype; the model keeps its own reference to the file, so w
 * may be closed afterwards. Extra tensors are ignored (ComfyUI loads non-strictly), except
 * quant_conv / post_quant_conv: an SD-style VAE is refused. */
fg_error *fg_vae_load(const fg_weights *w, fg_vae **out) FG_MUST_CHECK;
void fg_vae_free(fg_vae *m);
/* F32 or BF16 (BF16 on the CPU gives the GPU's numerics). */
fg_error *fg_vae_set_act_dtype(fg_vae *m, fg_dtype act_dtype) FG_MUST_CHECK;
const fg_ae_config *fg_vae_config(const fg_vae *m);
/* 2^(levels-1): 8 for FLUX. */
int64_t fg_vae_factor(const fg_vae *m);

/* Upper bound of the activation memory one fg_vae_decode of a [batch, z, latent_h, latent_w]
 * latent holds at its peak (checked against the device's free memory before decoding). */
size_t fg_vae_decode_activation_bytes(const fg_vae *m, int64_t batch, int64_t latent_h, int64_t latent_w);
/* FG_ERR_OUT_OF_MEMORY naming the image size, batch, the GiB needed and free_bytes when that
 * bound exceeds free_bytes. */
fg_error *fg_vae_check_decode_memory(const fg_vae *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                     size_t free_bytes) FG_MUST_CHECK;
/* z [B, z_channels, h, w] -> out [B, out_ch, h*f, w*f] (f = fg_vae_factor); fails first when
 * the decode cannot fit in the device's free memory. */
fg_error *fg_vae_decode(const fg_vae *m, const fg_tensor *z, fg_tensor *out) FG_MUST_CHECK;
/* x [B, in_channels, H, W] with H, W positive multiples of f (VAEEncode crops to them first)
 * -> moments [B, 2*z_channels, H/f, W/f] (mean, then logvar). */
fg_error *fg_vae_encode(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) FG_MUST_CHECK;
/* The latent ComfyUI's VAEEncode returns: the distribution's mode, i.e. the first z_channels
 * of the moments. mean [B, z_channels, H/f, W/f]. */
fg_error *fg_vae_encode_mean(const fg_vae *m, const fg_tensor *x, fg_tensor *mean) FG_MUST_CHECK;

/* ComfyUI's VAEDecodeTiled (tile_size, overlap in pixels): overlap becomes tile_size/4 when
 * tile_size < 4*overlap; tiles of tile_size/f latent pixels overlapping by overlap/f are decoded
 * one at a time and blended with comfy.utils.tiled_scale's linear feather masks, and the
 * result is the mean of three such passes with tiles (2t high, t/2 wide), (t/2 high, 2t wide)
 * and (t, t). Only one tile's decoder activations exist at a time. Same shapes as decode. */
fg_error *fg_vae_decode_tiled(const fg_vae *m, const fg_tensor *z, int64_t tile_size_px, int64_t overlap_px,
                              fg_tensor *out) FG_MUST_CHECK;
/* ComfyUI's VAEEncodeTiled: tiles of tile_size pixels overlapping by overlap, mean of the
 * passes (t, t), (t/2 high, 2t wide), (2t high, t/2 wide); result as fg_vae_encode_mean. */
fg_error *fg_vae_encode_tiled(const fg_vae *m, const fg_tensor *x, int64_t tile_size_px, int64_t overlap_px,
                              fg_tensor *mean) FG_MUST_CHECK;

#endif
