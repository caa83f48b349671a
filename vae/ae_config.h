/* The FLUX autoencoder's hyper-parameters, inferred from tensor shapes (docs/models.md 2.1) so the
 * real ae.safetensors and the tiny fixture go through the same code. The config struct is the
 * one models/model_layouts.h generates layouts from. */
#ifndef FG_VAE_AE_CONFIG_H
#define FG_VAE_AE_CONFIG_H

#include "core/error.h"
#include "models/model_layouts.h"
#include "models/weights.h"

/* GroupNorm settings are not stored in the file (docs/models.md 2.1): fixed by the architecture. */
#define FG_VAE_NORM_GROUPS 32
#define FG_VAE_NORM_EPS 1e-6f
/* More residual blocks per level than any known VAE; bounds the search on hostile files. */
#define FG_VAE_MAX_RES_BLOCKS 16

/* ch and in_channels from encoder.conv_in, the level count and ch_mult from
 * encoder.down.I.block.0.conv1, num_res_blocks by counting encoder.down.0.block.J, z_channels
 * from decoder.conv_in, out_ch from decoder.conv_out, dtype from encoder.conv_in. Every
 * channel count must divide into the 32 GroupNorm groups. Errors name the tensor. The other
 * tensors are checked against this config when the model is loaded. */
fg_error *fg_vae_infer_config(const fg_weights *w, fg_ae_config *out) FG_MUST_CHECK;

/* Spatial down/up-sampling factor: 2^(levels-1) (8 for FLUX). */
int64_t fg_vae_spatial_factor(const fg_ae_config *c);

#endif
