/* Loader nodes (comfyui.md 3.2): checkpoints, diffusion models, text encoders, VAEs. The spec
 * table comes first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

static const char *const weight_dtypes[] = {"default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2", NULL};
static const char *const dual_clip_types[] = {"sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image",
                                              "hunyuan_video_15", "kandinsky5", "kandinsky5_image", "ltxv", "newbie",
                                              NULL};
static const char *const clip_types[] = {"stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi",
                                         "ltxv", "pixart", "cosmos", "lumina2", "wan", "hidream", "chroma", "ace",
                                         "omnigen2", "qwen_image", "hunyuan_image", "flux2", "ovis", NULL};
static const char *const clip_devices[] = {"default", "cpu", NULL};

#define DEVICE_INPUT {.name = "device", .type = FG_TYPE_COMBO, .options = clip_devices, .def_string = "default", .optional = true}

const fg_node_spec fg_nodes_loaders[] = {
    {.class_type = "CheckpointLoaderSimple", .display_name = "Load Checkpoint", .category = "loaders",
     .description = "Loads a diffusion model checkpoint with its text encoders and VAE.",
     .inputs = {IN_MODELS("ckpt_name", FG_COMBO_CHECKPOINTS)}, .n_inputs = 1,
     .outputs = {FG_TYPE_MODEL, FG_TYPE_CLIP, FG_TYPE_VAE}, .output_names = {"MODEL", "CLIP", "VAE"}, .n_outputs = 3},
    {.class_type = "UNETLoader", .display_name = "Load Diffusion Model", .category = "advanced/loaders",
     .description = "Loads a diffusion model (FLUX DiT) from models/diffusion_models.",
     .inputs = {IN_MODELS("unet_name", FG_COMBO_DIFFUSION_MODELS), IN_COMBO("weight_dtype", weight_dtypes, "default")},
     .n_inputs = 2, .outputs = {FG_TYPE_MODEL}, .output_names = {"MODEL"}, .n_outputs = 1},
    {.class_type = "DualCLIPLoader", .display_name = "DualCLIPLoader", .category = "advanced/loaders",
     .description = "Loads two text encoders (FLUX: CLIP-L and T5-XXL, in either order).",
     .inputs = {IN_MODELS("clip_name1", FG_COMBO_TEXT_ENCODERS), IN_MODELS("clip_name2", FG_COMBO_TEXT_ENCODERS),
                IN_COMBO("type", dual_clip_types, "sdxl"), DEVICE_INPUT},
     .n_inputs = 4, .outputs = {FG_TYPE_CLIP}, .output_names = {"CLIP"}, .n_outputs = 1},
    {.class_type = "CLIPLoader", .display_name = "Load CLIP", .category = "advanced/loaders",
     .description = "Loads one text encoder.",
     .inputs = {IN_MODELS("clip_name", FG_COMBO_TEXT_ENCODERS), IN_COMBO("type", clip_types, "stable_diffusion"),
                DEVICE_INPUT},
     .n_inputs = 3, .outputs = {FG_TYPE_CLIP}, .output_names = {"CLIP"}, .n_outputs = 1},
    {.class_type = "VAELoader", .display_name = "Load VAE", .category = "loaders",
     .description = "Loads an autoencoder from models/vae.",
     .inputs = {IN_MODELS("vae_name", FG_COMBO_VAE)}, .n_inputs = 1,
     .outputs = {FG_TYPE_VAE}, .output_names = {"VAE"}, .n_outputs = 1},
};
const size_t fg_nodes_loaders_count = sizeof fg_nodes_loaders / sizeof fg_nodes_loaders[0];

/* ---- execute functions ---------------------------------------------------------------- */
