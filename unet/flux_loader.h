/* Loading a FLUX DiT from any of the common checkpoint layouts:
 *   - BFL names, stand-alone (flux1-dev.safetensors);
 *   - BFL names under "model.diffusion_model." (ComfyUI all-in-one checkpoints, docs/models.md 1.17);
 *   - diffusers names (x_embedder, transformer_blocks.N.attn.to_q, ...), one file or shards
 *     listed by a `*.safetensors.index.json` (docs/models.md 1.15), converted at load into the BFL
 *     tensors: renamed tensors become zero-copy aliases, fused ones (q/k/v into qkv, the single
 *     block's q/k/v/mlp into linear1, the final modulation with its halves swapped) are built
 *     once in the stored dtype;
 * with weights in BF16, F16, F32 or F8_E4M3/E5M2 (plain, or scaled by a per-tensor
 * "<layer>.weight_scale" / "<layer>.scale_weight", docs/models.md 1.16). A missing tensor or a
 * wrong shape is an error naming the tensor and the file. */
#ifndef FG_UNET_FLUX_LOADER_H
#define FG_UNET_FLUX_LOADER_H

#include "core/error.h"
#include "models/weights.h"
#include "unet/flux_model.h"

/* Opens path (a .safetensors file or a diffusers index .json), finds the DiT (no prefix or
 * "model.diffusion_model."; BFL or diffusers names) and loads it. */
fg_error *fg_flux_load(const char *path, fg_flux_model **out) FG_MUST_CHECK;

/* Loads from a weights view whose names are BFL or diffusers FLUX names (prefix already
 * applied). Takes ownership of w: it is closed with the model, or at once on failure. */
fg_error *fg_flux_load_weights(fg_weights *w, fg_flux_model **out) FG_MUST_CHECK;

void fg_flux_free(fg_flux_model *m);

/* True when the view holds diffusers FLUX names (x_embedder.weight). */
bool fg_flux_is_diffusers(const fg_weights *w);

/* Adds the BFL-named tensors of a diffusers FLUX view to w (aliases and fused tensors, see
 * above). Errors name the diffusers tensor that is missing or misshapen. */
fg_error *fg_flux_convert_diffusers(fg_weights *w) FG_MUST_CHECK;

#endif
