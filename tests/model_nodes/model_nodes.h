/* Shared helpers of tests/test_model_nodes.c: a temporary ComfyUI-style models folder built
 * from the tiny fixtures, and calling a node's execute function with a hand-built context. */
#ifndef FG_TESTS_MODEL_NODES_H
#define FG_TESTS_MODEL_NODES_H

#include <stdbool.h>

#include "core/tensor.h"
#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "nodes/value.h"

/* models/{diffusion_models,text_encoders,vae,checkpoints} with the tiny fixtures and two
 * checkpoints built from them: tiny-aio.safetensors (DiT, CLIP-L, T5, VAE under ComfyUI's
 * prefixes) and tiny-dit-only.safetensors (the DiT alone), plus diffusion_models/
 * tiny-schnell.safetensors (the DiT without guidance_in). NULL when it cannot be built. */
const fg_run_settings *mn_settings(void);

/* Runs class_type's execute on inputs (spec->n_inputs values; unlisted ones NONE), outputs
 * cleared first. On error the outputs are cleared. */
fg_error *mn_run(const char *class_type, const fg_value *inputs, fg_value *outputs) FG_MUST_CHECK;
void mn_clear(fg_value *v, int n);

/* Loads a golden tensor as an owned host f32 copy (U8 converted to value/255 when scale_u8). */
bool mn_golden(const char *file, const char *name, fg_tensor *out, bool scale_u8);
float mn_max_abs_diff(const fg_tensor *a, const fg_tensor *b);

/* Loader shortcuts (string inputs built here); they CHECK success and return the object. */
fg_model_obj *mn_unet(const char *name, const char *dtype);
fg_clip_obj *mn_dual_clip(const char *a, const char *b);
fg_vae_obj *mn_vae(const char *name);
/* CLIPTextEncode(text) -> CONDITIONING (NULL on failure, recorded). */
fg_conditioning *mn_encode(fg_clip_obj *clip, const char *text);

void loader_tests(void);
void conditioning_tests(void);
void vae_node_tests(void);

#endif
