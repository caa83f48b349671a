/* Shared between models/lora*.c only. */
#ifndef FG_MODELS_LORA_INTERNAL_H
#define FG_MODELS_LORA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/lora.h"

struct fg_lora_file {
    fg_safetensors *st;
    char **keys;       /* converted names, data-offset order */
    size_t *sorted;    /* key indices sorted by name, for lookups */
    size_t n;
    bool converted;
};

/* Index of a converted key, or -1. */
long fg_lora_find_key(const fg_lora_file *f, const char *key);

/* One entry of ComfyUI's "LoRA prefix -> target" map. */
typedef struct fg_lora_map_entry {
    char *prefix;
    fg_lora_model model;
    char *weight;
    bool has_slice;
    int64_t slice_start, slice_len;
    bool swap_scale_shift;
} fg_lora_map_entry;

typedef struct fg_lora_map {
    fg_lora_map_entry *e;
    size_t n, cap;
} fg_lora_map;

/* model_lora_keys_unet + model_lora_keys_clip for the models present, in ComfyUI's order. */
fg_error *fg_lora_map_build(const fg_lora_models *models, fg_lora_map *out) FG_MUST_CHECK;
void fg_lora_map_free(fg_lora_map *m);

#endif
