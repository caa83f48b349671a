/* ComfyUI's "LoRA prefix -> model weight" map for a FLUX pipeline (comfy/lora.py
 * model_lora_keys_unet, model_lora_keys_clip; comfy/utils.py flux_to_diffusers), built from the
 * models' own tensor names so every size of FLUX goes through the same code. */
#include "models/lora_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fg_error *map_add(fg_lora_map *m, const char *prefix, fg_lora_model model, const char *weight,
                         int64_t start, int64_t len, bool swap) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        fg_lora_map_entry *e = realloc(m->e, cap * sizeof *e);
        if (!e) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA key map");
        m->e = e;
        m->cap = cap;
    }
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

typedef struct { const char *from, *to; } name_pair;

static fg_error *dit_double_block(const fg_weights *w, fg_lora_map *m, int64_t n, int64_t h) {
    static const char *const qkv[3][2] = {{"to_q", "add_q_proj"}, {"to_k", "add_k_proj"}, {"to_v", "add_v_proj"}};
    static const name_pair block[] = {
        {"attn.to_out.0", "img_attn.proj.weight"}, {"norm1.linear", "img_mod.lin.weight"},
        {"norm1_context.linear", "txt_mod.lin.weight"}, {"attn.norm_q", "img_attn.norm.query_norm.scale"},
        {"attn.norm_k", "img_attn.norm.key_norm.scale"}, {"attn.norm_added_q", "txt_attn.norm.query_norm.scale"},
        {"attn.norm_added_k", "txt_attn.norm.key_norm.scale"}, {"ff.net.0.proj", "img_mlp.0.weight"},
        {"ff.net.2", "img_mlp.2.weight"}, {"ff_context.net.0.proj", "txt_mlp.0.weight"},
        {"ff_context.net.2", "txt_mlp.2.weight"}, {"attn.to_add_out", "txt_attn.proj.weight"},
        {"ff.linear_in", "img_mlp.0.weight"}, {"ff.linear_out", "img_mlp.2.weight"},
        {"ff_context.linear_in", "txt_mlp.0.weight"}, {"ff_context.linear_out", "txt_mlp.2.weight"},
    };
    char d[256], t[256];
    for (int k = 0; k < 3; k++) {
        snprintf(d, sizeof d, "transformer_blocks.%lld.attn.%s", (long long)n, qkv[k][0]);
        snprintf(t, sizeof t, "double_blocks.%lld.img_attn.qkv.weight", (long long)n);
        FG_TRY(dit_diffusers(w, m, d, t, k * h, h, false));
    }
    for (int k = 0; k < 3; k++) {
        snprintf(d, sizeof d, "transformer_blocks.%lld.attn.%s", (long long)n, qkv[k][1]);
        snprintf(t, sizeof t, "double_blocks.%lld.txt_attn.qkv.weight", (long long)n);
        FG_TRY(dit_diffusers(w, m, d, t, k * h, h, false));
    }
    for (size_t k = 0; k < sizeof block / sizeof block[0]; k++) {
        snprintf(d, sizeof d, "transformer_blocks.%lld.%s", (long long)n, block[k].from);
        snprintf(t, sizeof t, "double_blocks.%lld.%s", (long long)n, block[k].to);
        FG_TRY(dit_diffusers(w, m, d, t, 0, 0, false));
    }
    return NULL;
}

static fg_error *dit_single_block(const fg_weights *w, fg_lora_map *m, int64_t n, int64_t h) {
    static const name_pair block[] = {
        {"norm.linear", "modulation.lin.weight"}, {"proj_out", "linear2.weight"},
        {"attn.norm_q", "norm.query_norm.scale"}, {"attn.norm_k", "norm.key_norm.scale"},
    };
    static const char *const qkv[3] = {"to_q", "to_k", "to_v"};
    char d[256], t[256];
    snprintf(t, sizeof t, "single_blocks.%lld.linear1.weight", (long long)n);
    fg_tensor lin1;
    if (fg_weights_has(w, t)) {
        FG_TRY(fg_weights_get(w, t, &lin1));
        for (int k = 0; k < 3; k++) {
            snprintf(d, sizeof d, "single_transformer_blocks.%lld.attn.%s", (long long)n, qkv[k]);
            FG_TRY(dit_diffusers(w, m, d, t, k * h, h, false));
        }
        int64_t mlp = lin1.ndim == 2 ? lin1.shape[0] - 3 * h : 0;
        snprintf(d, sizeof d, "single_transformer_blocks.%lld.proj_mlp", (long long)n);
        if (mlp > 0) FG_TRY(dit_diffusers(w, m, d, t, 3 * h, mlp, false));
    }
    for (size_t k = 0; k < sizeof block / sizeof block[0]; k++) {
        snprintf(d, sizeof d, "single_transformer_blocks.%lld.%s", (long long)n, block[k].from);
        snprintf(t, sizeof t, "single_blocks.%lld.%s", (long long)n, block[k].to);
        FG_TRY(dit_diffusers(w, m, d, t, 0, 0, false));
    }
    return NULL;
}

static fg_error *dit_basic(const fg_weights *w, fg_lora_map *m) {
    static const name_pair basic[] = {
        {"proj_out", "final_layer.linear.weight"}, {"x_embedder", "img_in.weight"},
        {"time_text_embed.timestep_embedder.linear_1", "time_in.in_layer.weight"},
        {"time_text_embed.timestep_embedder.linear_2", "time_in.out_layer.weight"},
        {"time_text_embed.text_embedder.linear_1", "vector_in.in_layer.weight"},
        {"time_text_embed.text_embedder.linear_2", "vector_in.out_layer.weight"},
        {"time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer.weight"},
        {"time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer.weight"},
        {"context_embedder", "txt_in.weight"},
    };
    for (size_t k = 0; k < sizeof basic / sizeof basic[0]; k++)
        FG_TRY(dit_diffusers(w, m, basic[k].from, basic[k].to, 0, 0, false));
    return dit_diffusers(w, m, "norm_out.linear", "final_layer.adaLN_modulation.1.weight", 0, 0, true);
}

static fg_error *dit_map(const fg_weights *w, fg_lora_map *m) {
    int64_t hidden = 0;
    if (fg_weights_has(w, "img_in.weight")) {
        fg_tensor t;
        FG_TRY(fg_weights_get(w, "img_in.weight", &t));
        if (t.ndim == 2) hidden = t.shape[0];
    }
    FG_TRY(dit_generic(w, hidden, m));
    if (hidden <= 0) return NULL;
    int64_t n_double = 0, n_single = 0;
    FG_TRY(fg_weights_count_indexed(w, "double_blocks.", 1000, &n_double));
    FG_TRY(fg_weights_count_indexed(w, "single_blocks.", 1000, &n_single));
    for (int64_t n = 0; n < n_double; n++) FG_TRY(dit_double_block(w, m, n, hidden));
    for (int64_t n = 0; n < n_single; n++) FG_TRY(dit_single_block(w, m, n, hidden));
    return dit_basic(w, m);
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
