/* Image nodes (comfyui.md 3.6; the VAE nodes are in nodes_vae.c): save, preview, load, resize. The spec
 * table comes first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

static const char *const image_upscale_methods[] = {"nearest-exact", "bilinear", "area", "bicubic", "lanczos", NULL};
static const char *const crop_methods[] = {"disabled", "center", NULL};

#define OUT_IMAGE .outputs = {FG_TYPE_IMAGE}, .output_names = {"IMAGE"}, .n_outputs = 1
#define OUT_LATENT .outputs = {FG_TYPE_LATENT}, .output_names = {"LATENT"}, .n_outputs = 1
#define MAX_RES 16384

const fg_node_spec fg_nodes_image[] = {
    {.class_type = "SaveImage", .display_name = "Save Image", .category = "image",
     .description = "Saves images as PNG files in the output folder.",
     .inputs = {IN_SOCKET("images", FG_TYPE_IMAGE), IN_STRING("filename_prefix", "ComfyUI")}, .n_inputs = 2,
     .output_node = true},
    {.class_type = "PreviewImage", .display_name = "Preview Image", .category = "image",
     .description = "Saves images to the temporary folder.",
     .inputs = {IN_SOCKET("images", FG_TYPE_IMAGE)}, .n_inputs = 1, .output_node = true},
    {.class_type = "LoadImage", .display_name = "Load Image", .category = "image",
     .description = "Loads an image from the input folder; its alpha becomes the mask.",
     .inputs = {{.name = "image", .type = FG_TYPE_COMBO, .source = FG_COMBO_INPUT_IMAGES, .image_upload = true}},
     .n_inputs = 1, .outputs = {FG_TYPE_IMAGE, FG_TYPE_MASK}, .output_names = {"IMAGE", "MASK"}, .n_outputs = 2},
    {.class_type = "ImageScale", .display_name = "Upscale Image", .category = "image/upscaling",
     .description = "Resizes images to a size.",
     .inputs = {IN_SOCKET("image", FG_TYPE_IMAGE), IN_COMBO("upscale_method", image_upscale_methods, "nearest-exact"),
                IN_INT("width", 512, 0, MAX_RES, 1), IN_INT("height", 512, 0, MAX_RES, 1),
                IN_COMBO("crop", crop_methods, "disabled")},
     .n_inputs = 5, OUT_IMAGE},
    {.class_type = "ImageScaleBy", .display_name = "Upscale Image By", .category = "image/upscaling",
     .description = "Resizes images by a factor.",
     .inputs = {IN_SOCKET("image", FG_TYPE_IMAGE), IN_COMBO("upscale_method", image_upscale_methods, "nearest-exact"),
                IN_FLOAT("scale_by", 1.0, 0.01, 8.0, 0.01)},
     .n_inputs = 3, OUT_IMAGE},
};
const size_t fg_nodes_image_count = sizeof fg_nodes_image / sizeof fg_nodes_image[0];

/* ---- execute functions ---------------------------------------------------------------- */
