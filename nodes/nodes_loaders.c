/* Loader nodes (comfyui.md 3.2): checkpoints, diffusion models, text encoders, VAEs. The spec
 * table comes first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

static const char *const weight_dtypes[] = {"default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2", NULL};
/* Of ComfyUI's types, those whose files fluxgraph loads (the loaders below refuse the others;
 * nodes/comfyui/not_offered.json lists them): FLUX's CLIP-L + T5-XXL pair, or one of them. */
static const char *const dual_clip_types[] = {"flux", NULL};
static const char *const clip_types[] = {"stable_diffusion", "sd3", "chroma", NULL};
static const char *const clip_devices[] = {"default", "cpu", NULL};

#define DEVICE_INPUT {.name = "device", .type = FG_TYPE_COMBO, .options = clip_devices, .optional = true}

static fg_error *checkpoint_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *unet_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *dual_clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *vae_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);

const fg_node_spec fg_nodes_loaders[] = {
    {.class_type = "CheckpointLoaderSimple", .execute = checkpoint_loader, .display_name = "Load Checkpoint", .category = "loaders",
     .description = "Loads a diffusion model checkpoint with its text encoders and VAE.",
     .inputs = {IN_MODELS("ckpt_name", FG_COMBO_CHECKPOINTS)}, .n_inputs = 1,
     .outputs = {FG_TYPE_MODEL, FG_TYPE_CLIP, FG_TYPE_VAE}, .output_names = {"MODEL", "CLIP", "VAE"}, .n_outputs = 3},
    {.class_type = "UNETLoader", .execute = unet_loader, .display_name = "Load Diffusion Model", .category = "advanced/loaders",
     .description = "Loads a diffusion model (FLUX DiT) from models/diffusion_models.",
     .inputs = {IN_MODELS("unet_name", FG_COMBO_DIFFUSION_MODELS), IN_COMBO("weight_dtype", weight_dtypes)},
     .n_inputs = 2, .outputs = {FG_TYPE_MODEL}, .output_names = {"MODEL"}, .n_outputs = 1},
    {.class_type = "DualCLIPLoader", .execute = dual_clip_loader, .display_name = "DualCLIPLoader", .category = "advanced/loaders",
     .description = "Loads two text encoders (FLUX: CLIP-L and T5-XXL, in either order).",
     .inputs = {IN_MODELS("clip_name1", FG_COMBO_TEXT_ENCODERS), IN_MODELS("clip_name2", FG_COMBO_TEXT_ENCODERS),
                IN_COMBO("type", dual_clip_types), DEVICE_INPUT},
     .n_inputs = 4, .outputs = {FG_TYPE_CLIP}, .output_names = {"CLIP"}, .n_outputs = 1},
    {.class_type = "CLIPLoader", .execute = clip_loader, .display_name = "Load CLIP", .category = "advanced/loaders",
     .description = "Loads one text encoder.",
     .inputs = {IN_MODELS("clip_name", FG_COMBO_TEXT_ENCODERS), IN_COMBO("type", clip_types),
                DEVICE_INPUT},
     .n_inputs = 3, .outputs = {FG_TYPE_CLIP}, .output_names = {"CLIP"}, .n_outputs = 1},
    {.class_type = "VAELoader", .execute = vae_loader, .display_name = "Load VAE", .category = "loaders",
     .description = "Loads an autoencoder from models/vae.",
     .inputs = {IN_MODELS("vae_name", FG_COMBO_VAE)}, .n_inputs = 1,
     .outputs = {FG_TYPE_VAE}, .output_names = {"VAE"}, .n_outputs = 1},
};
const size_t fg_nodes_loaders_count = sizeof fg_nodes_loaders / sizeof fg_nodes_loaders[0];

/* ---- execute functions ---------------------------------------------------------------- */

#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"

/* The run's device and activation dtype, where every loader puts its model. */
static fg_model_placement placement(const fg_node_ctx *ctx) {
    return (fg_model_placement){ctx->settings->device, ctx->settings->act_dtype};
}

/* Text encoders honour the loaders' optional device input: "cpu" keeps them on the host (F32),
 * as ComfyUI's option does. */
static fg_model_placement text_placement(const fg_node_ctx *ctx, const fg_value *device) {
    if (device->type == FG_TYPE_STRING && device->u.s && strcmp(device->u.s, "cpu") == 0)
        return (fg_model_placement){FG_DEVICE_CPU, FG_F32};
    return placement(ctx);
}

static fg_error *resolve(fg_node_ctx *ctx, fg_combo_source source, const fg_value *name, char *path, size_t cap) {
    FG_CHECK_ARG(name->type == FG_TYPE_STRING && name->u.s, "expected a model name");
    return fg_node_resolve_model(ctx->settings, source, name->u.s, path, cap);
}

static fg_error *checkpoint_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    char path[4096];
    FG_TRY(resolve(ctx, FG_COMBO_CHECKPOINTS, &in[0], path, sizeof path));
    fg_model_obj *model;
    fg_clip_obj *clip;
    fg_vae_obj *vae;
    const fg_model_placement where = placement(ctx);
    FG_TRY(fg_checkpoint_load(path, &where, &model, &clip, &vae));
    /* A checkpoint without text encoders or VAE gives None, as in ComfyUI: the node that
     * uses it reports "clip input is invalid: None". */
    out[0] = fg_value_object(&model->base);
    out[1] = clip ? fg_value_object(&clip->base) : (fg_value){.type = FG_TYPE_NONE};
    out[2] = vae ? fg_value_object(&vae->base) : (fg_value){.type = FG_TYPE_NONE};
    return NULL;
}

static fg_error *unet_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    char path[4096];
    FG_TRY(resolve(ctx, FG_COMBO_DIFFUSION_MODELS, &in[0], path, sizeof path));
    const char *dt = in[1].type == FG_TYPE_STRING && in[1].u.s ? in[1].u.s : "default";
    fg_weight_dtype wd;
    if (strcmp(dt, "default") == 0)
        wd = FG_WEIGHT_DEFAULT;
    else if (strcmp(dt, "fp8_e4m3fn") == 0)
        wd = FG_WEIGHT_FP8_E4M3FN;
    else if (strcmp(dt, "fp8_e4m3fn_fast") == 0)
        wd = FG_WEIGHT_FP8_E4M3FN_FAST;
    else if (strcmp(dt, "fp8_e5m2") == 0)
        wd = FG_WEIGHT_FP8_E5M2;
    else
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "unknown weight_dtype '%s'", dt);
    fg_model_obj *model;
    const fg_model_placement where = placement(ctx);
    FG_TRY(fg_model_obj_load(path, wd, &where, &model));
    out[0] = fg_value_object(&model->base);
    return NULL;
}

static const char *encoder_name(fg_text_encoder_kind k) {
    return k == FG_TEXT_ENCODER_CLIP_L ? "CLIP-L" : k == FG_TEXT_ENCODER_T5 ? "T5-XXL" : "an unknown model";
}

static fg_error *detect_encoder(fg_node_ctx *ctx, const fg_value *name, char *path, size_t cap,
                                fg_text_encoder_kind *kind) {
    FG_TRY(resolve(ctx, FG_COMBO_TEXT_ENCODERS, name, path, cap));
    FG_TRY(fg_text_encoder_detect(path, kind));
    if (*kind == FG_TEXT_ENCODER_UNKNOWN)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s is neither a CLIP-L nor a T5-XXL text encoder", name->u.s);
    return NULL;
}

static fg_error *dual_clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    const char *type = in[2].type == FG_TYPE_STRING && in[2].u.s ? in[2].u.s : "";
    if (strcmp(type, "flux") != 0)
        return fg_errorf(FG_ERR_UNSUPPORTED, "DualCLIPLoader type '%s' is not supported (only 'flux')", type);
    char p1[4096], p2[4096];
    fg_text_encoder_kind k1, k2;
    FG_TRY(detect_encoder(ctx, &in[0], p1, sizeof p1, &k1));
    FG_TRY(detect_encoder(ctx, &in[1], p2, sizeof p2, &k2));
    if (k1 == k2)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "DualCLIPLoader type flux needs one CLIP-L and one T5-XXL file; %s and %s are both %s",
                         in[0].u.s, in[1].u.s, encoder_name(k1));
    fg_clip_obj *clip;
    const fg_model_placement where = text_placement(ctx, &in[3]);
    FG_TRY(fg_clip_obj_load(k1 == FG_TEXT_ENCODER_CLIP_L ? p1 : p2, k1 == FG_TEXT_ENCODER_T5 ? p1 : p2, &where, &clip));
    out[0] = fg_value_object(&clip->base);
    return NULL;
}

/* One encoder alone: CLIP-L as type stable_diffusion, T5-XXL as sd3 or chroma. The CLIP
 * object loads; FLUX text encoding then asks for the missing encoder by name. */
static fg_error *clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    const char *type = in[1].type == FG_TYPE_STRING && in[1].u.s ? in[1].u.s : "";
    bool want_clip = strcmp(type, "stable_diffusion") == 0;
    bool want_t5 = strcmp(type, "sd3") == 0 || strcmp(type, "chroma") == 0;
    if (!want_clip && !want_t5)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "CLIPLoader type '%s' is not supported (FLUX: stable_diffusion for CLIP-L, sd3 or "
                         "chroma for T5-XXL; for FLUX use DualCLIPLoader with type flux)",
                         type);
    char path[4096];
    fg_text_encoder_kind kind;
    FG_TRY(detect_encoder(ctx, &in[0], path, sizeof path, &kind));
    if ((want_clip && kind != FG_TEXT_ENCODER_CLIP_L) || (want_t5 && kind != FG_TEXT_ENCODER_T5))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "CLIPLoader type '%s' does not take %s (%s)", type,
                         encoder_name(kind), in[0].u.s);
    fg_clip_obj *clip;
    const fg_model_placement where = text_placement(ctx, &in[2]);
    FG_TRY(fg_clip_obj_load(want_clip ? path : NULL, want_t5 ? path : NULL, &where, &clip));
    out[0] = fg_value_object(&clip->base);
    return NULL;
}

static fg_error *vae_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    static const char *const synthetic[] = {"taesd", "taesdxl", "taesd3", "taef1", "pixel_space"};
    const char *name = in[0].type == FG_TYPE_STRING && in[0].u.s ? in[0].u.s : "";
    for (size_t i = 0; i < sizeof synthetic / sizeof synthetic[0]; i++)
        if (strcmp(name, synthetic[i]) == 0)
            return fg_errorf(FG_ERR_UNSUPPORTED, "VAELoader: '%s' is not supported (only autoencoder files "
                                                 "such as the FLUX ae.safetensors in models/vae)", name);
    char path[4096];
    FG_TRY(resolve(ctx, FG_COMBO_VAE, &in[0], path, sizeof path));
    fg_vae_obj *vae;
    const fg_model_placement where = placement(ctx);
    FG_TRY(fg_vae_obj_load(path, &where, &vae));
    out[0] = fg_value_object(&vae->base);
    return NULL;
}
