/* ComfyUI's LoRA arithmetic (comfy/lora.py calculate_weight and comfy/weight_adapter): the
 * patches that target one model weight, applied in order to a float32 copy of it. Which file
 * keys become which patches is models/lora.h's business; this file is only the math
 * (tests/fixtures/lora/README.md "Scaling rule" is the contract). */
#ifndef FG_MODELS_LORA_PATCH_H
#define FG_MODELS_LORA_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

typedef enum fg_lora_adapter {
    FG_LORA_ADAPTER_LORA = 0, /* up [out,r] @ down [r,in] (+ optional mid), scale alpha/r or 1 */
    FG_LORA_ADAPTER_LOHA,     /* (w1_a@w1_b) * (w2_a@w2_b), scale alpha/w1_b.shape[0] or 1 */
    FG_LORA_ADAPTER_LOKR,     /* kron(w1, w2), each full or a@b; scale per the README rule */
    FG_LORA_ADAPTER_DIFF,     /* W += strength * diff (also diff_b for biases, w_norm, b_norm) */
    FG_LORA_ADAPTER_SET,      /* W = value (strength ignored) */
} fg_lora_adapter;

/* Tensor views into the LoRA file (any float dtype; data NULL = absent). */
typedef struct fg_lora_patch {
    fg_lora_adapter adapter;
    double strength;          /* strength_model or strength_clip of its LoraLoader */
    bool has_alpha;
    double alpha;             /* the file's X.alpha (read as float, then used in double) */
    fg_tensor up, down, mid;                        /* LORA */
    fg_tensor hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b; /* LOHA */
    fg_tensor lokr_w1, lokr_w1_a, lokr_w1_b, lokr_w2, lokr_w2_a, lokr_w2_b; /* LOKR */
    fg_tensor value;          /* DIFF / SET */
    fg_tensor dora_scale;     /* DoRA for LORA/LOHA/LOKR */
    /* The patch adds into weight.narrow(slice_dim, slice_start, slice_len) when has_slice
     * (diffusers q/k/v into the fused qkv / linear1 rows). */
    bool has_slice;
    int slice_dim;
    int64_t slice_start, slice_len;
    bool swap_scale_shift;    /* norm_out -> final_layer.adaLN_modulation.1: swap the delta's row halves */
} fg_lora_patch;

/* Applies n patches in order to w (an F32 host tensor holding the base weight, modified in
 * place), exactly as ComfyUI's calculate_weight does on the CPU in float32. A shape that does
 * not fit names `weight_name` and the adapter. */
fg_error *fg_lora_apply_patches(fg_tensor *w, const fg_lora_patch *patches, size_t n,
                                const char *weight_name) FG_MUST_CHECK;

#endif
