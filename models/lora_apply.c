/* A LoRA-patched model: a clone of the base view with the patched weights overridden. The
 * patches of one weight are applied together, in order, on an F32 copy (ComfyUI's
 * calculate_weight on the CPU), so the result does not depend on how they were grouped. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/lora.h"

/* The patches of one weight, in order, gathered from the full list. */
static fg_error *gather(const fg_lora_weight_patch *patches, size_t n, fg_lora_model model, const char *weight,
                        fg_lora_patch *buf, size_t *count) {
    *count = 0;
    for (size_t i = 0; i < n; i++)
        if (patches[i].model == model && !strcmp(patches[i].weight, weight)) buf[(*count)++] = patches[i].patch;
    return NULL;
}

static bool seen_before(const fg_lora_weight_patch *patches, size_t i, fg_lora_model model) {
    for (size_t j = 0; j < i; j++)
        if (patches[j].model == model && !strcmp(patches[j].weight, patches[i].weight)) return true;
    return false;
}

static fg_error *patch_one(const fg_weights *base, fg_weights *view, const char *weight, const fg_lora_patch *ps,
                           size_t count, bool keep_f32) {
    fg_tensor src, w = {0}, stored = {0};
    FG_TRY(fg_weights_get(base, weight, &src));
    if (!fg_dtype_is_float(src.dtype))
        return fg_errorf(FG_ERR_FORMAT, "%s: LoRA target '%s' is not a float tensor", fg_weights_path(base), weight);
    if (src.dtype == FG_F8_E4M3 || src.dtype == FG_F8_E5M2) {
        float scale = 1;
        FG_TRY(fg_weights_scale(base, weight, &scale));
        if (scale != 1)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s: LoRA on the scaled fp8 weight '%s' is not supported yet",
                             fg_weights_path(base), weight);
    }
    FG_TRY(fg_tensor_alloc_host(&w, FG_F32, src.ndim, src.shape));
    fg_error *err = fg_cast(&w, &src);
    if (!err) err = fg_lora_apply_patches(&w, ps, count, weight);
    if (!err && !keep_f32 && src.dtype != FG_F32) {
        err = fg_tensor_alloc_host(&stored, src.dtype, src.ndim, src.shape);
        if (!err) err = fg_cast(&stored, &w);
        fg_tensor_free_host(&w);
        w = stored;
    }
    if (err) {
        fg_tensor_free_host(&w);
        return err;
    }
    return fg_weights_override(view, weight, &w);
}

fg_error *fg_lora_build_patched(const fg_weights *base, fg_lora_model model, const fg_lora_weight_patch *patches,
                                size_t n, bool keep_f32, fg_weights **out) {
    FG_CHECK_ARG(base && out && (patches || !n), "fg_lora_build_patched: NULL argument");
    fg_weights *view = NULL;
    FG_TRY(fg_weights_clone(base, &view));
    fg_lora_patch *buf = malloc((n ? n : 1) * sizeof *buf);
    fg_error *err = buf ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA patches");
    for (size_t i = 0; i < n && !err; i++) {
        if (patches[i].model != model || seen_before(patches, i, model)) continue;
        size_t count = 0;
        err = gather(patches, n, model, patches[i].weight, buf, &count);
        if (!err) err = patch_one(base, view, patches[i].weight, buf, count, keep_f32);
    }
    free(buf);
    if (err) {
        fg_weights_close(view);
        return err;
    }
    *out = view;
    return NULL;
}
