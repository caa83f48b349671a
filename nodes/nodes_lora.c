/* LoRA nodes (comfyui.md 7): LoraLoader (MODEL + CLIP) and LoraLoaderModelOnly. Stacked
 * loaders compose in order, each with its own strength; the patched models live in the model
 * cache, built once per distinct (base, LoRA chain, strengths). */
#include "nodes/node_families.h"

#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"

static fg_error *lora_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *lora_loader_model_only(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);

const fg_node_spec fg_nodes_lora[] = {
    {.class_type = "LoraLoader", .execute = lora_loader, .display_name = "Load LoRA", .category = "loaders",
     .description = "Applies a LoRA to the diffusion model and the text encoders, each with its own strength.",
     .inputs = {IN_SOCKET("model", FG_TYPE_MODEL), IN_SOCKET("clip", FG_TYPE_CLIP), IN_MODELS("lora_name", FG_COMBO_LORAS),
                IN_FLOAT("strength_model", 1.0, -100.0, 100.0, 0.01), IN_FLOAT("strength_clip", 1.0, -100.0, 100.0, 0.01)},
     .n_inputs = 5, .outputs = {FG_TYPE_MODEL, FG_TYPE_CLIP}, .output_names = {"MODEL", "CLIP"}, .n_outputs = 2},
    {.class_type = "LoraLoaderModelOnly", .execute = lora_loader_model_only, .display_name = "LoraLoaderModelOnly",
     .category = "loaders", .description = "Applies a LoRA to the diffusion model only.",
     .inputs = {IN_SOCKET("model", FG_TYPE_MODEL), IN_MODELS("lora_name", FG_COMBO_LORAS),
                IN_FLOAT("strength_model", 1.0, -100.0, 100.0, 0.01)},
     .n_inputs = 3, .outputs = {FG_TYPE_MODEL}, .output_names = {"MODEL"}, .n_outputs = 1},
};
const size_t fg_nodes_lora_count = sizeof fg_nodes_lora / sizeof fg_nodes_lora[0];

static fg_object *object_in(const fg_value *v, fg_type type) {
    return v->type == type && v->u.obj && v->u.obj->type == type ? v->u.obj : NULL;
}

static fg_error *number_in(const fg_value *v, const char *name, double *out) {
    if (v->type == FG_TYPE_FLOAT) *out = v->u.f;
    else if (v->type == FG_TYPE_INT) *out = (double)v->u.i;
    else return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s must be a number", name);
    return NULL;
}

static fg_error *lora_path(fg_node_ctx *ctx, const fg_value *name, char *path, size_t cap) {
    FG_CHECK_ARG(name->type == FG_TYPE_STRING && name->u.s, "lora_name must be a file name");
    return fg_node_resolve_model(ctx->settings, FG_COMBO_LORAS, name->u.s, path, cap);
}

static fg_error *lora_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    const fg_model_obj *model = (const fg_model_obj *)object_in(&in[0], FG_TYPE_MODEL);
    const fg_clip_obj *clip = (const fg_clip_obj *)object_in(&in[1], FG_TYPE_CLIP);
    if (!model) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model input is invalid: None");
    if (!clip) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "clip input is invalid: None");
    double s_model = 0, s_clip = 0;
    FG_TRY(number_in(&in[3], "strength_model", &s_model));
    FG_TRY(number_in(&in[4], "strength_clip", &s_clip));
    if (s_model == 0 && s_clip == 0) { /* ComfyUI returns its inputs untouched */
        FG_TRY(fg_value_copy(&in[0], &out[0]));
        return fg_value_copy(&in[1], &out[1]);
    }
    char path[4096];
    FG_TRY(lora_path(ctx, &in[2], path, sizeof path));
    fg_model_obj *m = NULL;
    fg_clip_obj *c = NULL;
    FG_TRY(fg_lora_apply_objects(model, clip, path, s_model, s_clip, ctx->settings->strict_lora, &m, &c));
    out[0] = fg_value_object(&m->base);
    out[1] = fg_value_object(&c->base);
    return NULL;
}

static fg_error *lora_loader_model_only(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    const fg_model_obj *model = (const fg_model_obj *)object_in(&in[0], FG_TYPE_MODEL);
    if (!model) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model input is invalid: None");
    double s_model = 0;
    FG_TRY(number_in(&in[2], "strength_model", &s_model));
    if (s_model == 0) return fg_value_copy(&in[0], &out[0]);
    char path[4096];
    FG_TRY(lora_path(ctx, &in[1], path, sizeof path));
    fg_model_obj *m = NULL;
    FG_TRY(fg_lora_apply_objects(model, NULL, path, s_model, 0, ctx->settings->strict_lora, &m, NULL));
    out[0] = fg_value_object(&m->base);
    return NULL;
}
