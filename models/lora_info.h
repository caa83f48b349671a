/* What a LoRA file is, for `fluxgraph info`: its key format, adapter kinds, the model it was
 * made for, and per layer (LoRA prefix) the adapter, rank and alpha. */
#ifndef FG_MODELS_LORA_INFO_H
#define FG_MODELS_LORA_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct fg_lora_layer_info {
    char *prefix;        /* e.g. "lora_unet_double_blocks_0_img_attn_qkv" (after convert_lora) */
    const char *adapter; /* "lora", "loha", "lokr", "diff", "set", "xlabs" */
    int64_t rank;        /* 0 when the adapter has none (diff, full LoKr factors) */
    bool has_alpha;
    double alpha;
    bool dora;
} fg_lora_layer_info;

typedef struct fg_lora_info {
    bool is_lora;        /* some key has a LoRA/LyCORIS/diff suffix */
    char format[160];    /* "kohya (lora_unet_/lora_te*_) LoRA", "diffusers/PEFT LoRA + DoRA", ... */
    const char *model;   /* fg_lora_intended_model */
    fg_lora_layer_info *layers;
    size_t n_layers;
    int64_t rank_min, rank_max;
} fg_lora_info;

fg_error *fg_lora_info_read(const char *path, fg_lora_info *out) FG_MUST_CHECK;
void fg_lora_info_free(fg_lora_info *info);

#endif
