/* LoRA nodes (docs/comfyui.md 7): LoraLoader (MODEL + CLIP) and LoraLoaderModelOnly. Stacked
 * loaders compose in order, each with its own strength; the patched models live in the model
 * cache, built once per distinct (base, LoRA chain, strengths). */
#include "nodes/node_families.h"

#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"

/* ComfyUI's definitions give the inputs (nodes/node_decl.h); the LoRA files are those of
 * models/loras. */

static fg_error *lora_path(fg_node_ctx *ctx, const fg_node_args *args, char *path, size_t cap) {
    const char *name;
    FG_TRY(fg_arg_string(args, "lora_name", &name));
    return fg_node_resolve_model(ctx->settings, FG_COMBO_LORAS, name, path, cap);
}

/* Strength 0 passes the input on untouched, as ComfyUI returns its inputs. */
static fg_error *pass_on(const fg_object *obj, fg_value *out) {
    *out = fg_value_object(fg_object_ref((fg_object *)obj));
    return NULL;
}

static fg_error *lora_loader(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_object *model_in, *clip_in;
    FG_TRY(fg_arg_object(args, "model", FG_TYPE_MODEL, &model_in));
    FG_TRY(fg_arg_object(args, "clip", FG_TYPE_CLIP, &clip_in));
    double s_model = 0, s_clip = 0;
    FG_TRY(fg_arg_float(args, "strength_model", &s_model));
    FG_TRY(fg_arg_float(args, "strength_clip", &s_clip));
    if (s_model == 0 && s_clip == 0) {
        FG_TRY(pass_on(model_in, &out[0]));
        return pass_on(clip_in, &out[1]);
    }
    char path[4096];
    FG_TRY(lora_path(ctx, args, path, sizeof path));
    fg_model_obj *m = NULL;
    fg_clip_obj *c = NULL;
    FG_TRY(fg_lora_apply_objects((const fg_model_obj *)model_in, (const fg_clip_obj *)clip_in, path, s_model, s_clip,
                                 ctx->settings->strict_lora, &m, &c));
    out[0] = fg_value_object(&m->base);
    out[1] = fg_value_object(&c->base);
    return NULL;
}

static fg_error *lora_loader_model_only(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_object *model_in;
    FG_TRY(fg_arg_object(args, "model", FG_TYPE_MODEL, &model_in));
    double s_model = 0;
    FG_TRY(fg_arg_float(args, "strength_model", &s_model));
    if (s_model == 0) return pass_on(model_in, &out[0]);
    char path[4096];
    FG_TRY(lora_path(ctx, args, path, sizeof path));
    fg_model_obj *m = NULL;
    FG_TRY(fg_lora_apply_objects((const fg_model_obj *)model_in, NULL, path, s_model, 0, ctx->settings->strict_lora, &m,
                                 NULL));
    out[0] = fg_value_object(&m->base);
    return NULL;
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_lora[] = {
    {NODE("LoraLoader", lora_loader), .rules = {FILES("lora_name", FG_COMBO_LORAS)}},
    {NODE("LoraLoaderModelOnly", lora_loader_model_only), .rules = {FILES("lora_name", FG_COMBO_LORAS)}},
};
const size_t fg_nodes_lora_count = sizeof fg_nodes_lora / sizeof fg_nodes_lora[0];
