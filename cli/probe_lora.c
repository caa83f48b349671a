/* probe lora: matches --lora against the base models (--model FLUX, --clip-l, --t5), writes
 * every patched weight the golden (expected) file holds in F32 under its base-model name,
 * c0_out_lora (the tiny FLUX forward with the patched DiT on the golden c0_* inputs) when the
 * golden file asks for it, and the keys nothing loaded as JSON under __metadata__ "not_loaded". */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/probe.h"
#include "kernels/ops.h"
#include "models/lora.h"
#include "unet/flux_loader.h"

typedef struct lora_probe {
    fg_flux_model *base_flux;
    fg_weights *text[FG_LORA_MODEL_COUNT];   /* CLIP-L / T5 base views (file + prefix) */
    fg_lora_models models;
    fg_weights *patched[FG_LORA_MODEL_COUNT];
    fg_lora_file *lora;
    fg_lora_match match;
} lora_probe;

static fg_error *parse_strength(probe_ctx *ctx, const char *name, double *out) {
    const char *text = probe_option(ctx, name);
    *out = 1.0;
    if (!text) return NULL;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--%s: '%s' is not a number", name, text);
    *out = v;
    return NULL;
}

static fg_error *open_models(probe_ctx *ctx, lora_probe *p) {
    const char *flux = probe_model_path(ctx), *clip = probe_option(ctx, "clip-l"), *t5 = probe_option(ctx, "t5");
    if (flux) {
        FG_TRY(fg_flux_load(flux, &p->base_flux));
        p->models.model[FG_LORA_MODEL_DIT] = p->base_flux->weights;
    }
    if (clip) FG_TRY(fg_weights_open_at_anchor(clip, "text_model.embeddings.token_embedding.weight", "CLIP-L", &p->text[FG_LORA_MODEL_CLIP_L]));
    if (t5) FG_TRY(fg_weights_open_at_anchor(t5, "encoder.final_layer_norm.weight", "T5-XXL", &p->text[FG_LORA_MODEL_T5]));
    p->models.model[FG_LORA_MODEL_CLIP_L] = p->text[FG_LORA_MODEL_CLIP_L];
    p->models.model[FG_LORA_MODEL_T5] = p->text[FG_LORA_MODEL_T5];
    return NULL;
}

static void lora_probe_free(lora_probe *p) {
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) {
        fg_weights_close(p->patched[k]);
        fg_weights_close(p->text[k]);
    }
    fg_lora_match_free(&p->match);
    fg_lora_close(p->lora);
    fg_flux_free(p->base_flux);
}

/* A patched (or untouched) weight as an owned F32 copy. */
static fg_error *emit_weight(probe_ctx *ctx, const lora_probe *p, const char *name) {
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) {
        if (!p->patched[k] || !fg_weights_has(p->patched[k], name)) continue;
        fg_tensor w, copy;
        FG_TRY(fg_weights_get(p->patched[k], name, &w));
        FG_TRY(fg_tensor_alloc_host(&copy, FG_F32, w.ndim, w.shape));
        fg_error *err = fg_cast(&copy, &w);
        if (err) {
            fg_tensor_free_host(&copy);
            return err;
        }
        return probe_output_add(ctx, name, &copy);
    }
    return fg_errorf(FG_ERR_NOT_FOUND, "'%s' is a weight of none of the given models (--model, --clip-l, --t5)", name);
}

static fg_error *read_c0(const fg_safetensors *golden, const char *what, bool optional, fg_tensor *out) {
    char name[64];
    snprintf(name, sizeof name, "c0_%s", what);
    memset(out, 0, sizeof *out);
    if (optional && !fg_safetensors_find(golden, name)) return NULL;
    fg_tensor view;
    FG_TRY(fg_safetensors_tensor(golden, name, &view));
    if (view.dtype != FG_F32) return fg_errorf(FG_ERR_FORMAT, "golden tensor '%s' is not F32", name);
    FG_TRY(fg_tensor_alloc_host(out, FG_F32, view.ndim, view.shape));
    memcpy(out->data, view.data, fg_tensor_nbytes(&view));
    return NULL;
}

/* The forward with the patched DiT (its own patched view: the model takes ownership). */
static fg_error *emit_c0_out(probe_ctx *ctx, lora_probe *p) {
    if (!p->base_flux) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "c0_out_lora needs --model (the FLUX DiT)");
    fg_weights *view = NULL;
    fg_flux_model *m = NULL;
    FG_TRY(fg_lora_build_patched(p->base_flux->weights, FG_LORA_MODEL_DIT, p->match.patches, p->match.n_patches, true,
                                 &view));
    FG_TRY(fg_flux_load_weights(view, &m));
    static const char *const names[] = {"x", "timestep", "context", "y", "guidance"};
    fg_tensor in[5] = {{0}}, out = {0};
    fg_error *err = NULL;
    for (int i = 0; i < 5 && !err; i++) err = read_c0(probe_golden(ctx), names[i], i == 4, &in[i]);
    if (!err) err = fg_tensor_alloc_host(&out, FG_F32, in[0].ndim, in[0].shape);
    if (!err) {
        fg_flux_inputs inputs = {&in[0], &in[1], &in[2], &in[3], in[4].data ? &in[4] : NULL};
        err = fg_flux_forward(m, &inputs, &out, NULL);
    }
    if (!err) err = probe_output_add(ctx, "c0_out_lora", &out);
    fg_tensor_free_host(&out);
    for (int i = 0; i < 5; i++) fg_tensor_free_host(&in[i]);
    fg_flux_free(m);
    return err;
}

static bool is_c0_input(const char *name) {
    static const char *const inputs[] = {"c0_x", "c0_timestep", "c0_context", "c0_y", "c0_guidance"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (!strcmp(name, inputs[i])) return true;
    return false;
}

static fg_error *run(probe_ctx *ctx, lora_probe *p) {
    const char *lora_path = probe_option(ctx, "lora");
    double s_model, s_clip;
    FG_TRY(parse_strength(ctx, "strength-model", &s_model));
    FG_TRY(parse_strength(ctx, "strength-clip", &s_clip));
    if (!lora_path) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "probe lora needs --lora FILE");
    FG_TRY(open_models(ctx, p));
    FG_TRY(fg_lora_open(lora_path, &p->lora));
    FG_TRY(fg_lora_match_models(p->lora, &p->models, s_model, s_clip, &p->match));
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++)
        if (p->models.model[k])
            FG_TRY(fg_lora_build_patched(p->models.model[k], (fg_lora_model)k, p->match.patches, p->match.n_patches,
                                         true, &p->patched[k]));
    const fg_safetensors *golden = probe_golden(ctx);
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        if (is_c0_input(name)) continue;
        if (!strcmp(name, "c0_out_lora")) FG_TRY(emit_c0_out(ctx, p));
        else FG_TRY(emit_weight(ctx, p, name));
    }
    char *json = fg_lora_not_loaded_json(&p->match);
    if (!json) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "not_loaded list");
    fg_error *err = probe_output_metadata(ctx, "not_loaded", json);
    free(json);
    return err;
}

fg_error *probe_lora(probe_ctx *ctx) {
    lora_probe p = {0};
    fg_error *err = run(ctx, &p);
    lora_probe_free(&p);
    return err;
}
