/* Latent nodes (comfyui.md 3.4): empty latents, resizing, batches. The spec table comes
 * first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

static const char *const latent_upscale_methods[] = {"nearest-exact", "bilinear", "area", "bicubic", "bislerp", NULL};
static const char *const crop_methods[] = {"disabled", "center", NULL};

#define OUT_LATENT .outputs = {FG_TYPE_LATENT}, .output_names = {"LATENT"}, .n_outputs = 1
#define MAX_RES 16384

const fg_node_spec fg_nodes_latent[] = {
    {.class_type = "EmptyLatentImage", .display_name = "Empty Latent Image", .category = "latent",
     .description = "A batch of zero latents (4 channels; the sampler widens them for FLUX).",
     .inputs = {IN_INT("width", 512, 16, MAX_RES, 8), IN_INT("height", 512, 16, MAX_RES, 8),
                IN_INT("batch_size", 1, 1, 4096, 1)},
     .n_inputs = 3, OUT_LATENT},
    {.class_type = "EmptySD3LatentImage", .display_name = "EmptySD3LatentImage", .category = "latent/sd3",
     .description = "A batch of 16-channel zero latents (SD3 / FLUX).",
     .inputs = {IN_INT("width", 1024, 16, MAX_RES, 16), IN_INT("height", 1024, 16, MAX_RES, 16),
                IN_INT("batch_size", 1, 1, 4096, 1)},
     .n_inputs = 3, OUT_LATENT},
    {.class_type = "LatentUpscale", .display_name = "Upscale Latent", .category = "latent",
     .description = "Resizes latents to a pixel size.",
     .inputs = {IN_SOCKET("samples", FG_TYPE_LATENT), IN_COMBO("upscale_method", latent_upscale_methods, "nearest-exact"),
                IN_INT("width", 512, 0, MAX_RES, 8), IN_INT("height", 512, 0, MAX_RES, 8),
                IN_COMBO("crop", crop_methods, "disabled")},
     .n_inputs = 5, OUT_LATENT},
    {.class_type = "LatentUpscaleBy", .display_name = "Upscale Latent By", .category = "latent",
     .description = "Resizes latents by a factor.",
     .inputs = {IN_SOCKET("samples", FG_TYPE_LATENT), IN_COMBO("upscale_method", latent_upscale_methods, "nearest-exact"),
                IN_FLOAT("scale_by", 1.5, 0.01, 8.0, 0.01)},
     .n_inputs = 3, OUT_LATENT},
    {.class_type = "RepeatLatentBatch", .display_name = "Repeat Latent Batch", .category = "latent/batch",
     .description = "Repeats a latent batch.",
     .inputs = {IN_SOCKET("samples", FG_TYPE_LATENT), IN_INT("amount", 1, 1, 64, 1)}, .n_inputs = 2, OUT_LATENT},
    {.class_type = "LatentFromBatch", .display_name = "Latent From Batch", .category = "latent/batch",
     .description = "Picks a slice of a latent batch.",
     .inputs = {IN_SOCKET("samples", FG_TYPE_LATENT), IN_INT("batch_index", 0, 0, 63, 1), IN_INT("length", 1, 1, 64, 1)},
     .n_inputs = 3, OUT_LATENT},
};
const size_t fg_nodes_latent_count = sizeof fg_nodes_latent / sizeof fg_nodes_latent[0];

/* ---- execute functions ---------------------------------------------------------------- */
