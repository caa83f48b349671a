/* FLUX's latent format and the pixel conversions around the VAE (docs/models.md 2.6, fixtures
 * README stage 6). The VAE works on raw latents; the DiT on model-space latents:
 *     model = (vae - 0.1159) * 0.3611     (process_in, applied by the sampler)
 *     vae   = model / 0.3611 + 0.1159     (process_out)
 * Pixels: decoded images leave the VAE in about [-1, 1] NCHW; SaveImage stores
 * uint8(255 * clamp((d + 1) / 2, 0, 1)), truncated; LoadImage gives u8 / 255 and VAEEncode
 * feeds 2p - 1. All functions take caller-allocated outputs and may run in place where the
 * shapes allow (process_in / process_out). */
#ifndef FG_VAE_LATENT_FORMAT_H
#define FG_VAE_LATENT_FORMAT_H

#include "core/error.h"
#include "core/tensor.h"

#define FG_FLUX_LATENT_SCALE 0.3611f
#define FG_FLUX_LATENT_SHIFT 0.1159f

/* out = (x - 0.1159) * 0.3611, as torch evaluates it in float32 (two roundings). */
fg_error *fg_latent_process_in(fg_tensor *out, const fg_tensor *x) FG_MUST_CHECK;
/* out = x / 0.3611 + 0.1159 (the division as a multiply by the float reciprocal: within one ulp
 * of torch's). */
fg_error *fg_latent_process_out(fg_tensor *out, const fg_tensor *x) FG_MUST_CHECK;

/* decoded [B, 3, H, W] (act) -> out U8 [B, H, W, 3] = uint8(255 * clamp((d + 1) / 2, 0, 1))
 * with truncation, bit-exact with ComfyUI's float32 arithmetic (NaN -> 0). */
fg_error *fg_vae_decoded_to_u8(fg_tensor *out, const fg_tensor *decoded) FG_MUST_CHECK;
/* u8 [B, H, W, 3] -> out [B, 3, H, W] F32 = 2 * (u8 / 255) - 1, bit-exact with ComfyUI's
 * float32 arithmetic (through a 256-entry table). */
fg_error *fg_vae_u8_to_pixels(fg_tensor *out, const fg_tensor *u8) FG_MUST_CHECK;
/* A ComfyUI IMAGE [B, H, W, C>=3] F32 in [0, 1] -> out [B, 3, H, W] = 2 * image - 1 (extra
 * channels dropped, as VAEEncode does). */
fg_error *fg_vae_image_to_pixels(fg_tensor *out, const fg_tensor *image) FG_MUST_CHECK;

#endif
