/* ComfyUI's "LoRA prefix -> model weight" map for a FLUX pipeline (comfy/lora.py
 * model_lora_keys_unet, model_lora_keys_clip; comfy/utils.py flux_to_diffusers), built from the
 * models' own tensor names so every size of FLUX goes through the same code. */
#include "models/lora_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "models/layout_flux.h"

static fg_error *map_add(fg_lora_map *m, const char *prefix, fg_lora_model model, const char *weight,
                         int64_t start, int64_t len, bool swap) {
    if (!FG_ARRAY_RESERVE(m->e, m->cap, m->n, 256)) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA key map");
    fg_lora_map_entry *e = &m->e[m->n];
    *e = (fg_lora_map_entry){.prefix = strdup(prefix), .model = model, .weight = strdup(weight),
                             .has_slice = len > 0, .slice_start = start, .slice_len = len,
                             .swap_scale_shift = swap};
    if (!e->prefix || !e->weight) {
        free(e->prefix);
        free(e->weight);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA key map");
    }
    m->n++;
    return NULL;
}

void fg_lora_map_free(fg_lora_map *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].prefix);
        free(m->e[i].weight);
    }
    free(m->e);
    *m = (fg_lora_map){0};
}

/* "a.b.c" -> "<head>a_b_c<tail>" into buf. */
static void underscored(char *buf, size_t cap, const char *head, const char *name, size_t len) {
    size_t hl = strlen(head);
    snprintf(buf, cap, "%s%.*s", head, (int)len, name);
    for (char *p = buf + hl; *p && p < buf + hl + len; p++)
        if (*p == '.') *p = '_';
}

static bool ends_with(const char *s, const char *tail) {
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

/* Generic entries of model_lora_keys_unet: lora_unet_<P_>, diffusion_model.P, and the fused
 * linear1_qkv slice. */
static fg_error *dit_generic(const fg_weights *w, int64_t hidden, fg_lora_map *m) {
    char buf[1024];
    for (size_t i = 0; i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        if (strlen(name) > 900) continue; /* hostile names: no LoRA key can be that long anyway */
        if (ends_with(name, ".weight")) {
            size_t base = strlen(name) - strlen(".weight");
            underscored(buf, sizeof buf, "lora_unet_", name, base);
            FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, name, 0, 0, false));
            snprintf(buf, sizeof buf, "diffusion_model.%.*s", (int)base, name);
            FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, name, 0, 0, false));
        } else {
            snprintf(buf, sizeof buf, "diffusion_model.%s", name);
            FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, name, 0, 0, false));
        }
    }
    for (size_t i = 0; i < fg_weights_count(w) && hidden > 0; i++) {
        const char *name = fg_weights_name(w, i);
        if (strlen(name) > 900 || !ends_with(name, ".linear1.weight")) continue;
        snprintf(buf, sizeof buf, "diffusion_model.%.*s.linear1_qkv", (int)(strlen(name) - strlen(".linear1.weight")),
                 name);
        FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, name, 0, 3 * hidden, false));
    }
    return NULL;
}

/* One diffusers name D -> target, under the four prefixes of model_lora_keys_unet. */
static fg_error *dit_diffusers(const fg_weights *w, fg_lora_map *m, const char *d, const char *target,
                               int64_t start, int64_t len, bool swap) {
    if (!fg_weights_has(w, target)) return NULL;
    char buf[512];
    size_t dl = strlen(d);
    snprintf(buf, sizeof buf, "transformer.%s", d);
    FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, target, start, len, swap));
    underscored(buf, sizeof buf, "lycoris_", d, dl);
    FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, target, start, len, swap));
    underscored(buf, sizeof buf, "lora_transformer_", d, dl);
    FG_TRY(map_add(m, buf, FG_LORA_MODEL_DIT, target, start, len, swap));
    return map_add(m, d, FG_LORA_MODEL_DIT, target, start, len, swap);
}

/* The diffusers names of the DiT's parameters in one group and block (models/layout_flux.c,
 * in flux_to_diffusers' order), each with the rows of the fused tensor it patches. */
static fg_error *dit_group(const fg_weights *w, fg_lora_map *m, const fg_table_config *c, int group, int64_t block) {
    const fg_param_table *t = &fg_flux_table;
    char d[256], target[256];
    for (size_t i = 0; i < t->naliases; i++) {
        const fg_param_alias *a = &t->aliases[i];
        if (a->group != group) continue;
        int64_t start = 0, len = 0;
        if (a->how == FG_ALIAS_ROWS) {
            start = fg_size_eval(a->start, c), len = fg_size_eval(a->len, c);
            if (len <= 0) continue; /* the MLP width is unknown */
        }
        FG_TRY(fg_table_alias_name(t, a, block, "", d, sizeof d));
        FG_TRY(fg_table_weight_name(t, &t->params[a->param], block, target, sizeof target));
        FG_TRY(dit_diffusers(w, m, d, target, start, len, a->how == FG_ALIAS_SWAPPED));
    }
    return NULL;
}

static fg_error *dit_map(const fg_weights *w, fg_lora_map *m) {
    fg_table_weights_ctx ctx = {w, false};
    fg_table_lookup look = fg_table_lookup_weights(&ctx, false);
    fg_table_config c;
    FG_TRY(fg_table_infer(&fg_flux_table, &look, &c));
    int64_t hidden = c.sym[FG_FLUX_SYM_HIDDEN];
    FG_TRY(dit_generic(w, hidden, m));
    if (hidden <= 0) return NULL;
    for (int64_t n = 0; n < c.sym[FG_FLUX_SYM_DEPTH]; n++) FG_TRY(dit_group(w, m, &c, FG_FLUX_GROUP_DOUBLE, n));
    for (int64_t n = 0; n < c.sym[FG_FLUX_SYM_DEPTH_SINGLE]; n++) FG_TRY(dit_group(w, m, &c, FG_FLUX_GROUP_SINGLE, n));
    return dit_group(w, m, &c, FG_FLUX_GROUP_MODEL, 0);
}

static fg_error *text_encoders_generic(const fg_weights *w, const char *comfy, fg_lora_model model,
                                       fg_lora_map *m) {
    char buf[1024];
    for (size_t i = 0; w && i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        if (strlen(name) > 900 || !ends_with(name, ".weight")) continue;
        snprintf(buf, sizeof buf, "text_encoders.%s%.*s", comfy, (int)(strlen(name) - strlen(".weight")), name);
        FG_TRY(map_add(m, buf, model, name, 0, 0, false));
    }
    return NULL;
}

static fg_error *clip_l_layers(const fg_weights *w, fg_lora_map *m, bool *present) {
    static const char *const parts[] = {"mlp.fc1", "mlp.fc2", "self_attn.k_proj",
                                        "self_attn.q_proj", "self_attn.v_proj", "self_attn.out_proj"};
    char name[256], key[256], us[128];
    for (int b = 0; b < 32; b++) {
        for (size_t c = 0; c < sizeof parts / sizeof parts[0]; c++) {
            snprintf(name, sizeof name, "text_model.encoder.layers.%d.%s.weight", b, parts[c]);
            if (!fg_weights_has(w, name)) continue;
            underscored(us, sizeof us, "", parts[c], strlen(parts[c]));
            snprintf(key, sizeof key, "lora_te_text_model_encoder_layers_%d_%s", b, us);
            FG_TRY(map_add(m, key, FG_LORA_MODEL_CLIP_L, name, 0, 0, false));
            snprintf(key, sizeof key, "lora_te1_text_model_encoder_layers_%d_%s", b, us);
            FG_TRY(map_add(m, key, FG_LORA_MODEL_CLIP_L, name, 0, 0, false));
            *present = true;
            snprintf(key, sizeof key, "text_encoder.text_model.encoder.layers.%d.%s", b, parts[c]);
            FG_TRY(map_add(m, key, FG_LORA_MODEL_CLIP_L, name, 0, 0, false));
        }
    }
    return NULL;
}

static fg_error *t5_map(const fg_weights *w, bool clip_l_present, fg_lora_map *m) {
    char buf[1024];
    for (size_t i = 0; i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        if (strlen(name) > 900 || !ends_with(name, ".weight")) continue;
        size_t base = strlen(name) - strlen(".weight");
        if (clip_l_present) { /* OneTrainer's lora_te2_ and kohya's lora_te3_ */
            underscored(buf, sizeof buf, "lora_te2_", name, base);
            FG_TRY(map_add(m, buf, FG_LORA_MODEL_T5, name, 0, 0, false));
            underscored(buf, sizeof buf, "lora_te3_", name, base);
        } else {
            underscored(buf, sizeof buf, "lora_te1_", name, base);
        }
        FG_TRY(map_add(m, buf, FG_LORA_MODEL_T5, name, 0, 0, false));
    }
    return NULL;
}

static fg_error *clip_map(const fg_weights *clip, const fg_weights *t5, fg_lora_map *m) {
    FG_TRY(text_encoders_generic(clip, "clip_l.transformer.", FG_LORA_MODEL_CLIP_L, m));
    FG_TRY(text_encoders_generic(t5, "t5xxl.transformer.", FG_LORA_MODEL_T5, m));
    bool clip_l_present = false;
    if (clip) FG_TRY(clip_l_layers(clip, m, &clip_l_present));
    if (t5) FG_TRY(t5_map(t5, clip_l_present, m));
    if (clip && fg_weights_has(clip, "text_projection.weight"))
        FG_TRY(map_add(m, "lora_te1_text_projection", FG_LORA_MODEL_CLIP_L, "text_projection.weight", 0, 0, false));
    return NULL;
}

fg_error *fg_lora_map_build(const fg_lora_models *models, fg_lora_map *out) {
    *out = (fg_lora_map){0};
    fg_error *err = NULL;
    if (models->model[FG_LORA_MODEL_DIT]) err = dit_map(models->model[FG_LORA_MODEL_DIT], out);
    if (!err && (models->model[FG_LORA_MODEL_CLIP_L] || models->model[FG_LORA_MODEL_T5]))
        err = clip_map(models->model[FG_LORA_MODEL_CLIP_L], models->model[FG_LORA_MODEL_T5], out);
    if (err) fg_lora_map_free(out);
    return err;
}
