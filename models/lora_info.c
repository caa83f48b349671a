/* `fluxgraph info` for LoRA files: layers are the key prefixes in front of the adapter
 * suffixes ComfyUI reads (models/lora_match.c); the format is told from the prefix style. */
#include "models/lora_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "models/lora.h"

typedef struct suffix_kind {
    const char *suffix, *adapter;
    bool rank_from_first_dim; /* the tensor's dim 0 is the rank */
} suffix_kind;

static const suffix_kind k_suffixes[] = {
    {".lora_down.weight", "lora", true},  {".lora_up.weight", "lora", false}, {"_lora.down.weight", "lora", true},
    {"_lora.up.weight", "lora", false},   {".lora_A.weight", "lora", true},   {".lora_B.weight", "lora", false},
    {".lora.down.weight", "lora", true},  {".lora.up.weight", "lora", false}, {".lora_A.default.weight", "lora", true},
    {".lora_B.default.weight", "lora", false}, {".lora_linear_layer.down.weight", "lora", true},
    {".lora_linear_layer.up.weight", "lora", false}, {".lora_A", "lora", true}, {".lora_B", "lora", false},
    {".lora_mid.weight", "lora", false},  {".hada_w1_b", "loha", true},       {".hada_w1_a", "loha", false},
    {".hada_w2_a", "loha", false},        {".hada_w2_b", "loha", false},      {".lokr_w1_b", "lokr", true},
    {".lokr_w2_b", "lokr", true},         {".lokr_w1_a", "lokr", false},      {".lokr_w2_a", "lokr", false},
    {".lokr_w1", "lokr", false},          {".lokr_w2", "lokr", false},        {".diff_b", "diff", false},
    {".diff", "diff", false},             {".set_weight", "set", false},      {".w_norm", "diff", false},
    {".b_norm", "diff", false},           {".down.weight", "xlabs", true},    {".up.weight", "xlabs", false},
    {".alpha", NULL, false},              {".dora_scale", NULL, false},
};

static bool ends_with(const char *s, const char *tail, size_t *stem) {
    size_t a = strlen(s), b = strlen(tail);
    if (a <= b || strcmp(s + a - b, tail)) return false;
    *stem = a - b;
    return true;
}

static fg_lora_layer_info *layer_for(fg_lora_info *info, const char *key, size_t stem, size_t *cap) {
    for (size_t i = 0; i < info->n_layers; i++)
        if (strlen(info->layers[i].prefix) == stem && !strncmp(info->layers[i].prefix, key, stem)) return &info->layers[i];
    if (!FG_ARRAY_RESERVE(info->layers, *cap, info->n_layers, 32)) return NULL;
    fg_lora_layer_info *l = &info->layers[info->n_layers];
    *l = (fg_lora_layer_info){.prefix = strndup(key, stem)};
    if (!l->prefix) return NULL;
    info->n_layers++;
    return l;
}

static double scalar(const fg_tensor *t) {
    switch (t->dtype) {
    case FG_F32: return *(const float *)t->data;
    case FG_BF16: return fg_bf16_to_f32(*(const uint16_t *)t->data);
    case FG_F16: return fg_f16_to_f32(*(const uint16_t *)t->data);
    default: return 0;
    }
}

static fg_error *read_key(const fg_lora_file *f, const char *key, fg_lora_info *info, size_t *cap) {
    for (size_t s = 0; s < sizeof k_suffixes / sizeof k_suffixes[0]; s++) {
        size_t stem;
        if (!ends_with(key, k_suffixes[s].suffix, &stem)) continue;
        fg_lora_layer_info *l = layer_for(info, key, stem, cap);
        if (!l) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA info");
        fg_tensor t;
        FG_TRY(fg_lora_tensor(f, key, &t));
        if (!k_suffixes[s].adapter) {
            bool alpha = !strcmp(k_suffixes[s].suffix, ".alpha");
            if (alpha && fg_tensor_numel(&t) == 1) l->has_alpha = true, l->alpha = scalar(&t);
            if (!alpha) l->dora = true;
        } else {
            if (!l->adapter || !strcmp(l->adapter, "xlabs") || !strcmp(l->adapter, "diff")) l->adapter = k_suffixes[s].adapter;
            if (k_suffixes[s].rank_from_first_dim && t.ndim >= 1) l->rank = t.shape[0];
        }
        info->is_lora |= k_suffixes[s].adapter != NULL;
        return NULL;
    }
    return NULL;
}

static bool any_prefix(const fg_lora_info *info, const char *start) {
    for (size_t i = 0; i < info->n_layers; i++)
        if (!strncmp(info->layers[i].prefix, start, strlen(start))) return true;
    return false;
}

static bool any_adapter(const fg_lora_info *info, const char *adapter) {
    for (size_t i = 0; i < info->n_layers; i++)
        if (info->layers[i].adapter && !strcmp(info->layers[i].adapter, adapter)) return true;
    return false;
}

static void describe(fg_lora_info *info, const fg_lora_file *f) {
    bool xlabs_raw = !strncmp(info->model, "XLabs", 5), uso = fg_lora_converted(f);
    const char *naming = xlabs_raw                               ? "XLabs-AI (processor keys)"
                         : any_prefix(info, "lora_unet_") || any_prefix(info, "lora_te") ? "kohya (lora_unet_/lora_te*_)"
                         : any_prefix(info, "lycoris_")          ? "LyCORIS (SimpleTuner lycoris_ names)"
                         : any_prefix(info, "lora_transformer_") ? "OneTrainer (lora_transformer_)"
                         : any_prefix(info, "transformer.") || any_prefix(info, "text_encoder.") ? "diffusers/PEFT"
                         : any_prefix(info, "diffusion_model.") || any_prefix(info, "text_encoders.")
                             ? "ComfyUI/BFL native (diffusion_model./text_encoders.)"
                             : "unrecognised names";
    snprintf(info->format, sizeof info->format, "%s%s%s%s%s%s%s", uso ? "XLabs/USO (converted by ComfyUI's rule)" : naming,
             any_adapter(info, "lora") || any_adapter(info, "xlabs") ? ", LoRA" : "",
             any_adapter(info, "loha") ? ", LyCORIS LoHa" : "", any_adapter(info, "lokr") ? ", LyCORIS LoKr" : "",
             any_adapter(info, "diff") ? ", full diffs" : "", any_adapter(info, "set") ? ", replaced weights" : "", "");
    for (size_t i = 0; i < info->n_layers; i++)
        if (info->layers[i].dora) {
            strncat(info->format, ", DoRA", sizeof info->format - strlen(info->format) - 1);
            break;
        }
}

fg_error *fg_lora_info_read(const char *path, fg_lora_info *out) {
    memset(out, 0, sizeof *out);
    fg_lora_file *f = NULL;
    FG_TRY(fg_lora_open(path, &f));
    size_t cap = 0;
    fg_error *err = NULL;
    for (size_t i = 0; i < fg_lora_key_count(f) && !err; i++) err = read_key(f, fg_lora_key(f, i), out, &cap);
    out->model = fg_lora_intended_model(f);
    if (!err) {
        describe(out, f);
        for (size_t i = 0; i < out->n_layers; i++) {
            int64_t r = out->layers[i].rank;
            if (!r) continue;
            if (!out->rank_min || r < out->rank_min) out->rank_min = r;
            if (r > out->rank_max) out->rank_max = r;
        }
    }
    fg_lora_close(f);
    if (err) fg_lora_info_free(out);
    return err;
}

void fg_lora_info_free(fg_lora_info *info) {
    for (size_t i = 0; i < info->n_layers; i++) free(info->layers[i].prefix);
    free(info->layers);
    memset(info, 0, sizeof *info);
}
