/* Loader nodes (docs/comfyui.md 3.2): checkpoints, diffusion models, text encoders, VAEs. The execute
 * functions come first; their declarations (nodes/node_decl.h: ComfyUI's definitions give the
 * inputs) close the file, so no prototypes are needed. */
#include "nodes/node_families.h"

/* Of ComfyUI's types, those whose files fluxgraph loads (the loaders below refuse the others;
 * nodes/comfyui/not_offered.json lists them): FLUX's CLIP-L + T5-XXL pair, or one of them. */
static const char *const dual_clip_types[] = {"flux", NULL};
static const char *const clip_types[] = {"stable_diffusion", "sd3", "chroma", NULL};

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
static fg_error *text_placement(const fg_node_ctx *ctx, const fg_node_args *args, fg_model_placement *where) {
    const char *device = "default";
    if (fg_arg_given(args, "device")) FG_TRY(fg_arg_string(args, "device", &device));
    *where = strcmp(device, "cpu") == 0 ? (fg_model_placement){FG_DEVICE_CPU, FG_F32} : placement(ctx);
    return NULL;
}

/* The file a model-name input names, inside its models folder. */
static fg_error *resolve(fg_node_ctx *ctx, const fg_node_args *args, const char *input, fg_combo_source source,
                         char *path, size_t cap) {
    const char *name;
    FG_TRY(fg_arg_string(args, input, &name));
    return fg_node_resolve_model(ctx->settings, source, name, path, cap);
}

static fg_error *checkpoint_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    char path[4096];
    FG_TRY(resolve(ctx, args, "ckpt_name", FG_COMBO_CHECKPOINTS, path, sizeof path));
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
    char path[4096];
    FG_TRY(resolve(ctx, args, "unet_name", FG_COMBO_DIFFUSION_MODELS, path, sizeof path));
    const char *dt;
    FG_TRY(fg_arg_string(args, "weight_dtype", &dt));
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

/* The file the input names and which encoder it holds; *name is the input's value. */
static fg_error *detect_encoder(fg_node_ctx *ctx, const fg_node_args *args, const char *input, const char **name,
                                char *path, size_t cap, fg_text_encoder_kind *kind) {
    FG_TRY(fg_arg_string(args, input, name));
    FG_TRY(fg_node_resolve_model(ctx->settings, FG_COMBO_TEXT_ENCODERS, *name, path, cap));
    FG_TRY(fg_text_encoder_detect(path, kind));
    if (*kind == FG_TEXT_ENCODER_UNKNOWN)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s is neither a CLIP-L nor a T5-XXL text encoder", *name);
    return NULL;
}

static fg_error *dual_clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const char *type;
    FG_TRY(fg_arg_string(args, "type", &type));
    if (strcmp(type, "flux") != 0)
        return fg_errorf(FG_ERR_UNSUPPORTED, "DualCLIPLoader type '%s' is not supported (only 'flux')", type);
    char p1[4096], p2[4096];
    const char *name1, *name2;
    fg_text_encoder_kind k1, k2;
    FG_TRY(detect_encoder(ctx, args, "clip_name1", &name1, p1, sizeof p1, &k1));
    FG_TRY(detect_encoder(ctx, args, "clip_name2", &name2, p2, sizeof p2, &k2));
    if (k1 == k2)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "DualCLIPLoader type flux needs one CLIP-L and one T5-XXL file; %s and %s are both %s",
                         name1, name2, encoder_name(k1));
    fg_clip_obj *clip;
    fg_model_placement where;
    FG_TRY(text_placement(ctx, args, &where));
    FG_TRY(fg_clip_obj_load(k1 == FG_TEXT_ENCODER_CLIP_L ? p1 : p2, k1 == FG_TEXT_ENCODER_T5 ? p1 : p2, &where, &clip));
    out[0] = fg_value_object(&clip->base);
    return NULL;
}

/* One encoder alone: CLIP-L as type stable_diffusion, T5-XXL as sd3 or chroma. The CLIP
 * object loads; FLUX text encoding then asks for the missing encoder by name. */
static fg_error *clip_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const char *type;
    FG_TRY(fg_arg_string(args, "type", &type));
    bool want_clip = strcmp(type, "stable_diffusion") == 0;
    bool want_t5 = strcmp(type, "sd3") == 0 || strcmp(type, "chroma") == 0;
    if (!want_clip && !want_t5)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "CLIPLoader type '%s' is not supported (FLUX: stable_diffusion for CLIP-L, sd3 or "
                         "chroma for T5-XXL; for FLUX use DualCLIPLoader with type flux)",
                         type);
    char path[4096];
    const char *name;
    fg_text_encoder_kind kind;
    FG_TRY(detect_encoder(ctx, args, "clip_name", &name, path, sizeof path, &kind));
    if ((want_clip && kind != FG_TEXT_ENCODER_CLIP_L) || (want_t5 && kind != FG_TEXT_ENCODER_T5))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "CLIPLoader type '%s' does not take %s (%s)", type,
                         encoder_name(kind), name);
    fg_clip_obj *clip;
    fg_model_placement where;
    FG_TRY(text_placement(ctx, args, &where));
    FG_TRY(fg_clip_obj_load(want_clip ? path : NULL, want_t5 ? path : NULL, &where, &clip));
    out[0] = fg_value_object(&clip->base);
    return NULL;
}

static fg_error *vae_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    static const char *const synthetic[] = {"taesd", "taesdxl", "taesd3", "taef1", "pixel_space"};
    const char *name;
    FG_TRY(fg_arg_string(args, "vae_name", &name));
    for (size_t i = 0; i < sizeof synthetic / sizeof synthetic[0]; i++)
        if (strcmp(name, synthetic[i]) == 0)
            return fg_errorf(FG_ERR_UNSUPPORTED, "VAELoader: '%s' is not supported (only autoencoder files "
                                                 "such as the FLUX ae.safetensors in models/vae)", name);
    char path[4096];
    FG_TRY(fg_node_resolve_model(ctx->settings, FG_COMBO_VAE, name, path, sizeof path));
    fg_vae_obj *vae;
    const fg_model_placement where = placement(ctx);
    FG_TRY(fg_vae_obj_load(path, &where, &vae));
    out[0] = fg_value_object(&vae->base);
    return NULL;
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_loaders[] = {
    {NODE("CheckpointLoaderSimple", checkpoint_loader), .rules = {FILES("ckpt_name", FG_COMBO_CHECKPOINTS)}},
    {NODE("UNETLoader", unet_loader), .rules = {FILES("unet_name", FG_COMBO_DIFFUSION_MODELS)}},
    {NODE("DualCLIPLoader", dual_clip_loader),
     .rules = {FILES("clip_name1", FG_COMBO_TEXT_ENCODERS), FILES("clip_name2", FG_COMBO_TEXT_ENCODERS),
               ONLY("type", dual_clip_types)}},
    {NODE("CLIPLoader", clip_loader), .rules = {FILES("clip_name", FG_COMBO_TEXT_ENCODERS), ONLY("type", clip_types)}},
    {NODE("VAELoader", vae_loader), .rules = {FILES("vae_name", FG_COMBO_VAE)}},
};
const size_t fg_nodes_loaders_count = sizeof fg_nodes_loaders / sizeof fg_nodes_loaders[0];
