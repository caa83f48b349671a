/* LoraLoader's objects (see fg_lora_apply_objects in model_objects.h): a MODEL or CLIP with a
 * LoRA chain applied is an ordinary object over a cache slot whose model was patched, once per
 * distinct (base, chain, strengths), from the base's file; the base is never modified. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/lora.h"
#include "models/weights.h"
#include "nodes/model_objects.h"
#include "nodes/model_objects_internal.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/t5_model.h"
#include "unet/flux_loader.h"

/* "<what>|<base key>|<lora path>|<strength>|...": one patched model per distinct chain. */
static fg_error *lora_key(const char *what, const char *base, const fg_lora_use *l, size_t n, char **out) {
    size_t len = strlen(what) + strlen(base) + 4;
    for (size_t i = 0; i < n; i++) len += strlen(l[i].path) + 40;
    char *key = malloc(len), *w = key;
    if (!key) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA cache key");
    w += sprintf(w, "%s|%s", what, base);
    for (size_t i = 0; i < n; i++) w += sprintf(w, "|%s|%.17g", l[i].path, l[i].strength);
    *out = key;
    return NULL;
}

/* The patches of every LoRA of the chain for the models given (each file matched against all
 * of them, as ComfyUI does), concatenated in chain order. The files stay open in `files`
 * (the patches view into them). */
typedef struct lora_chain {
    fg_lora_file **files;
    fg_lora_match *matches;
    size_t n;
    fg_lora_weight_patch *all;
    size_t n_all;
} lora_chain;

static void lora_chain_free(lora_chain *c) {
    for (size_t i = 0; i < c->n; i++) {
        fg_lora_match_free(&c->matches[i]);
        fg_lora_close(c->files[i]);
    }
    free(c->files);
    free(c->matches);
    free(c->all);
    memset(c, 0, sizeof *c);
}

static fg_error *lora_chain_match(const fg_lora_use *l, size_t n, const fg_lora_models *models, bool model_side,
                                  lora_chain *c) {
    memset(c, 0, sizeof *c);
    c->files = calloc(n ? n : 1, sizeof *c->files);
    c->matches = calloc(n ? n : 1, sizeof *c->matches);
    if (!c->files || !c->matches) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA chain");
    size_t total = 0;
    while (c->n < n) {
        size_t i = c->n;
        double s = l[i].strength;
        FG_TRY(fg_lora_open(l[i].path, &c->files[i]));
        c->n++; /* from here lora_chain_free closes it */
        FG_TRY(fg_lora_match_models(c->files[i], models, model_side ? s : 0, model_side ? 0 : s, &c->matches[i]));
        total += c->matches[i].n_patches;
    }
    c->all = malloc((total ? total : 1) * sizeof *c->all);
    if (!c->all) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA chain");
    for (size_t i = 0; i < n; i++) {
        memcpy(c->all + c->n_all, c->matches[i].patches, c->matches[i].n_patches * sizeof *c->all);
        c->n_all += c->matches[i].n_patches;
    }
    return NULL;
}

typedef struct lora_flux_holder {
    fg_flux_holder h;   /* first: fg_model_obj_wrap reads the model through it */
    fg_loaded *base;    /* the unpatched DiT: the patched view borrows its converted tensors */
} lora_flux_holder;

static void lora_flux_holder_free(void *p) {
    lora_flux_holder *h = p;
    fg_flux_free(h->h.model);
    fg_loaded_release(h->base);
    free(h);
}

typedef struct lora_flux_arg {
    fg_loaded *base;    /* one reference, handed to the holder when the load runs */
    bool consumed;
    const fg_lora_use *loras;
    size_t n;
    fg_model_placement where;
} lora_flux_arg;

static fg_error *lora_flux_load(const void *argp, void **model, void (**free_model)(void *)) {
    lora_flux_arg *arg = (lora_flux_arg *)argp;
    /* patched on the host from the file's views, then placed like the base */
    const fg_flux_model *base = fg_flux_holder_host(fg_loaded_model(arg->base));
    fg_lora_models models = {.model = {base->weights, NULL, NULL}};
    lora_chain chain = {0};
    fg_weights *view = NULL;
    lora_flux_holder *h = calloc(1, sizeof *h);
    fg_error *err = h ? lora_chain_match(arg->loras, arg->n, &models, true, &chain)
                      : fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA model");
    /* Stored in the base dtype (ComfyUI's behaviour): a fully patched FLUX does not double. */
    if (!err) err = fg_lora_build_patched(base->weights, FG_LORA_MODEL_DIT, chain.all, chain.n_all, false, &view);
    fg_flux_model *patched = NULL;
    if (!err) err = fg_flux_load_weights(view, &patched);
    if (!err) err = fg_flux_place(patched, arg->where, "FLUX DiT with LoRA", &h->h.model);
    if (patched != h->h.model) fg_flux_free(patched); /* uploaded: the host copy is done */
    lora_chain_free(&chain);
    if (err) {
        free(h);
        return err;
    }
    h->base = arg->base;
    arg->consumed = true;
    *model = h;
    *free_model = lora_flux_holder_free;
    return NULL;
}

typedef struct text_views {
    fg_weights *v[FG_LORA_MODEL_COUNT];
    fg_lora_models models;
} text_views;

static void text_views_close(text_views *t) {
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) fg_weights_close(t->v[k]);
    memset(t, 0, sizeof *t);
}

static fg_error *text_views_open(const fg_clip_obj *clip, text_views *t) {
    memset(t, 0, sizeof *t);
    if (clip->clip_l_path)
        FG_TRY(fg_weights_open_at_anchor(clip->clip_l_path, FG_CLIP_L_ANCHOR, "CLIP-L", &t->v[FG_LORA_MODEL_CLIP_L]));
    if (clip->t5_path)
        FG_TRY(fg_weights_open_at_anchor(clip->t5_path, FG_T5_ANCHOR, "T5-XXL", &t->v[FG_LORA_MODEL_T5]));
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) t->models.model[k] = t->v[k];
    return NULL;
}

/* The patched CLIP-L / T5 pair (either may be absent): the models borrow the views. */
typedef struct lora_text_holder {
    text_views views;
    fg_weights *patched[FG_LORA_MODEL_COUNT];
    fg_clip_model *clip_l;
    fg_t5_model *t5;
} lora_text_holder;

static void lora_text_holder_free(void *p) {
    lora_text_holder *h = p;
    fg_clip_free(h->clip_l);
    fg_t5_free(h->t5);
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) fg_weights_close(h->patched[k]);
    text_views_close(&h->views);
    free(h);
}

typedef struct lora_text_arg {
    const fg_clip_obj *clip;
    const fg_lora_use *loras;
    size_t n;
} lora_text_arg;

static fg_error *lora_text_build(lora_text_holder *h, const lora_text_arg *arg) {
    FG_TRY(text_views_open(arg->clip, &h->views));
    lora_chain chain = {0};
    fg_error *err = lora_chain_match(arg->loras, arg->n, &h->views.models, false, &chain);
    const fg_model_placement where = arg->clip->where;
    for (int k = FG_LORA_MODEL_CLIP_L; k < FG_LORA_MODEL_COUNT && !err; k++) {
        if (!h->views.v[k]) continue;
        err = fg_lora_build_patched(h->views.v[k], (fg_lora_model)k, chain.all, chain.n_all, false, &h->patched[k]);
        if (!err && k == FG_LORA_MODEL_T5) err = fg_t5_sanitize_view(h->patched[k]);
        if (!err) err = fg_model_place_view(&h->patched[k], where, k == FG_LORA_MODEL_T5 ? "T5-XXL with LoRA" : "CLIP-L with LoRA");
    }
    lora_chain_free(&chain);
    if (!err && h->patched[FG_LORA_MODEL_CLIP_L]) err = fg_clip_load(h->patched[FG_LORA_MODEL_CLIP_L], &h->clip_l);
    if (!err && h->clip_l) err = fg_clip_set_act_dtype(h->clip_l, where.act_dtype);
    if (!err && h->patched[FG_LORA_MODEL_T5]) err = fg_t5_load(h->patched[FG_LORA_MODEL_T5], &h->t5);
    if (!err && h->t5) err = fg_t5_set_act_dtype(h->t5, where.act_dtype);
    return err;
}

static fg_error *lora_text_load(const void *argp, void **model, void (**free_model)(void *)) {
    lora_text_holder *h = calloc(1, sizeof *h);
    if (!h) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA text encoders");
    fg_error *err = lora_text_build(h, argp);
    if (err) {
        lora_text_holder_free(h);
        return err;
    }
    *model = h;
    *free_model = lora_text_holder_free;
    return NULL;
}

/* Matches the new LoRA against every model present, for the not-loaded report. */
static fg_error *lora_report(const fg_model_obj *model, const fg_clip_obj *clip, const char *path, bool strict) {
    text_views tv = {0};
    fg_lora_file *f = NULL;
    fg_lora_match m = {0};
    fg_error *err = clip ? text_views_open(clip, &tv) : NULL;
    if (!err && model) {
        const fg_loaded *base = model->base_slot ? model->base_slot : model->slot;
        tv.models.model[FG_LORA_MODEL_DIT] = fg_flux_holder_host(fg_loaded_model(base))->weights;
    }
    if (!err) err = fg_lora_open(path, &f);
    if (!err) err = fg_lora_match_models(f, &tv.models, 1, 1, &m);
    if (!err) err = fg_lora_check_match(f, &m, strict);
    fg_lora_match_free(&m);
    fg_lora_close(f);
    text_views_close(&tv);
    return err;
}

static fg_error *lora_model_out(const fg_model_obj *model, const fg_lora_use *use, fg_model_obj **out) {
    fg_loaded *base = model->base_slot ? model->base_slot : model->slot;
    fg_lora_use *loras = NULL;
    size_t n = 0;
    char *key = NULL;
    fg_loaded *slot = NULL;
    FG_TRY(fg_lora_uses_copy(model->loras, model->n_loras, use, &loras, &n));
    fg_error *err = lora_key("flux-lora", fg_loaded_key(base), loras, n, &key);
    lora_flux_arg arg = {.base = fg_loaded_ref(base), .loras = loras, .n = n, .where = model->where};
    if (!err) err = fg_model_cache_get(key, lora_flux_load, &arg, &slot);
    if (!arg.consumed) fg_loaded_release(arg.base);
    free(key);
    if (!err) err = fg_model_obj_wrap(slot, out);
    if (err) {
        fg_lora_uses_free(loras, n);
        return err;
    }
    (*out)->sampling = model->sampling;
    (*out)->where = model->where;
    (*out)->base_slot = fg_loaded_ref(base);
    (*out)->loras = loras;
    (*out)->n_loras = n;
    return NULL;
}

static fg_error *lora_clip_out(const fg_clip_obj *clip, const fg_lora_use *use, fg_clip_obj **out) {
    fg_clip_obj *c = calloc(1, sizeof *c);
    if (!c) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP object");
    fg_object_init(&c->base, FG_TYPE_CLIP, fg_clip_obj_destroy);
    c->where = clip->where;
    c->tokenizers_slot = fg_loaded_ref(clip->tokenizers_slot);
    char *key = NULL, *bases = NULL;
    fg_error *err = fg_lora_uses_copy(clip->loras, clip->n_loras, use, &c->loras, &c->n_loras);
    if (!err && clip->clip_l_path && !(c->clip_l_path = strdup(clip->clip_l_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (!err && clip->t5_path && !(c->t5_path = strdup(clip->t5_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (!err) {
        size_t len = (c->clip_l_path ? strlen(c->clip_l_path) : 0) + (c->t5_path ? strlen(c->t5_path) : 0) + 4;
        bases = malloc(len);
        if (bases) snprintf(bases, len, "%s|%s", c->clip_l_path ? c->clip_l_path : "", c->t5_path ? c->t5_path : "");
        else err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    }
    if (!err) err = lora_key("text-lora", bases, c->loras, c->n_loras, &key);
    lora_text_arg arg = {.clip = c, .loras = c->loras, .n = c->n_loras};
    fg_loaded *slot = NULL;
    if (!err) err = fg_model_cache_get(key, lora_text_load, &arg, &slot);
    free(key);
    free(bases);
    if (err) {
        fg_clip_obj_destroy(&c->base);
        return err;
    }
    const lora_text_holder *h = fg_loaded_model(slot);
    c->clip_l_slot = h->clip_l ? slot : NULL;
    c->t5_slot = h->t5 ? (h->clip_l ? fg_loaded_ref(slot) : slot) : NULL;
    if (!h->clip_l && !h->t5) fg_loaded_release(slot);
    c->clip_l = h->clip_l;
    c->t5 = h->t5;
    *out = c;
    return NULL;
}

fg_error *fg_lora_apply_objects(const fg_model_obj *model, const fg_clip_obj *clip, const char *lora_path,
                                double strength_model, double strength_clip, bool strict, fg_model_obj **model_out,
                                fg_clip_obj **clip_out) {
    FG_CHECK_ARG(lora_path && (model || clip), "fg_lora_apply_objects: nothing to apply to");
    if (model_out) *model_out = NULL;
    if (clip_out) *clip_out = NULL;
    char real[PATH_MAX];
    if (!realpath(lora_path, real)) return fg_errorf(FG_ERR_NOT_FOUND, "LoRA file not found: %s", lora_path);
    FG_TRY(lora_report(model, clip, real, strict));
    fg_lora_use model_use = {.path = real, .strength = strength_model};
    fg_lora_use clip_use = {.path = real, .strength = strength_clip};
    if (model && model_out) FG_TRY(lora_model_out(model, &model_use, model_out));
    if (clip && clip_out) {
        fg_error *err = lora_clip_out(clip, &clip_use, clip_out);
        if (err) {
            if (model_out && *model_out) fg_object_unref(&(*model_out)->base);
            if (model_out) *model_out = NULL;
            return err;
        }
    }
    return NULL;
}
