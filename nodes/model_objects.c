/* MODEL / CLIP / VAE payloads and the reference-counted model cache (see model_objects.h). */
#include "nodes/model_objects.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/weights.h"
#include "models/weights_internal.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/flux_text_encode.h"
#include "text_encoders/t5_model.h"
#include "unet/flux_loader.h"
#include "vae/ae_model.h"

/* ---- the cache -------------------------------------------------------------------------- */

struct fg_loaded {
    int refs;
    char *key;
    void *model;
    void (*free_model)(void *model);
    fg_loaded *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static fg_loaded *cache_head;

void *fg_loaded_model(const fg_loaded *slot) {
    return slot ? slot->model : NULL;
}

fg_loaded *fg_loaded_ref(fg_loaded *slot) {
    if (!slot) return NULL;
    pthread_mutex_lock(&cache_lock);
    slot->refs++;
    pthread_mutex_unlock(&cache_lock);
    return slot;
}

void fg_loaded_release(fg_loaded *slot) {
    if (!slot) return;
    pthread_mutex_lock(&cache_lock);
    bool last = --slot->refs == 0;
    if (last)
        for (fg_loaded **p = &cache_head; *p; p = &(*p)->next)
            if (*p == slot) {
                *p = slot->next;
                break;
            }
    pthread_mutex_unlock(&cache_lock);
    if (!last) return;
    slot->free_model(slot->model);
    free(slot->key);
    free(slot);
}

size_t fg_model_cache_size(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = 0;
    for (fg_loaded *s = cache_head; s; s = s->next) n++;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

/* The slot for key, loading it under the lock when absent (two loader nodes asking for the
 * same file at once still load it once). */
fg_error *fg_model_cache_get(const char *key, fg_model_load_fn load, const void *arg, fg_loaded **out) {
    *out = NULL;
    pthread_mutex_lock(&cache_lock);
    for (fg_loaded *s = cache_head; s; s = s->next)
        if (strcmp(s->key, key) == 0) {
            s->refs++;
            *out = s;
            pthread_mutex_unlock(&cache_lock);
            return NULL;
        }
    fg_loaded *slot = calloc(1, sizeof *slot);
    char *key_copy = strdup(key);
    fg_error *err = NULL;
    if (!slot || !key_copy)
        err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "model cache entry");
    else
        err = load(arg, &slot->model, &slot->free_model);
    if (err) {
        free(slot);
        free(key_copy);
        pthread_mutex_unlock(&cache_lock);
        return err;
    }
    slot->refs = 1;
    slot->key = key_copy;
    slot->next = cache_head;
    cache_head = slot;
    *out = slot;
    pthread_mutex_unlock(&cache_lock);
    return NULL;
}

/* kind|real path|option: a file reached through two spellings or a symlink is one entry. */
static fg_error *make_key(const char *kind, const char *path, const char *option, char *key, size_t cap) {
    char real[PATH_MAX];
    if (!realpath(path, real)) return fg_errorf(FG_ERR_NOT_FOUND, "model file not found: %s", path);
    int n = snprintf(key, cap, "%s|%s|%s", kind, real, option ? option : "");
    if (n < 0 || (size_t)n >= cap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model path too long: %s", path);
    return NULL;
}

#define KEY_CAP (PATH_MAX + 64)

/* ---- placement -------------------------------------------------------------------------- */

static fg_model_placement placement_or_cpu(const fg_model_placement *where) {
    return where ? *where : (fg_model_placement){FG_DEVICE_CPU, FG_F32};
}

/* make_key for a model placed somewhere: the option gains "|cuda|BF16". */
static fg_error *make_placed_key(const char *kind, const char *path, const char *option, fg_model_placement p,
                                 char *key, size_t cap) {
    char placed[96];
    snprintf(placed, sizeof placed, "%s|%s|%s", option ? option : "", fg_device_name(p.device),
             fg_dtype_name(p.act_dtype));
    return make_key(kind, path, placed, key, cap);
}

/* Weights are uploaded as BF16 to any device but the CPU, and on the CPU too with BF16
 * activations: that run is the GPU's numerics on the host (BF16 weights in one block). */
static bool uploads(fg_model_placement p) { return p.device != FG_DEVICE_CPU || p.act_dtype == FG_BF16; }

/* *view replaced by its BF16 copy where p says (the host view closed); nothing to do for the
 * CPU with F32 activations. On failure *view is closed and NULL. */
static fg_error *place_view(fg_weights **view, fg_model_placement p, const char *what) {
    if (!uploads(p)) return NULL;
    fg_weights *up = NULL;
    fg_error *err = fg_weights_upload_logged(*view, p.device, FG_BF16, what, &up);
    fg_weights_close(*view);
    *view = up;
    return err;
}

/* ---- FLUX DiT --------------------------------------------------------------------------- */

/* A DiT whose Linear weights were narrowed to fp8 at load owns those copies here; the model's
 * linears point at them instead of the file's tensors. */
typedef struct flux_holder {
    fg_flux_model *model; /* on the placement's device */
    fg_flux_model *host;  /* the file model LoRAs patch, when model is an uploaded copy */
    fg_tensor *narrowed;
    size_t n_narrowed;
} flux_holder;

static void flux_holder_free(void *p) {
    flux_holder *h = p;
    if (!h) return;
    fg_flux_free(h->model);
    fg_flux_free(h->host);
    for (size_t i = 0; i < h->n_narrowed; i++) fg_tensor_free(&h->narrowed[i]);
    free(h->narrowed);
    free(h);
}

typedef struct flux_load_arg {
    const char *path;
    fg_dtype narrow_to; /* FG_F32 = keep the stored dtype */
    fg_model_placement where;
} flux_load_arg;

static const fg_flux_model *holder_host(const flux_holder *h) { return h->host ? h->host : h->model; }

/* The DiT where p says: host itself on the CPU with F32 activations, else a model over an
 * uploaded copy of its weights (a diffusers DiT uploads only its converted names). host stays
 * the caller's. */
static fg_error *flux_place(fg_flux_model *host, fg_model_placement p, const char *what, fg_flux_model **placed) {
    *placed = NULL;
    if (!uploads(p)) {
        FG_TRY(fg_flux_set_act_dtype(host, p.act_dtype));
        *placed = host;
        return NULL;
    }
    fg_weights *src = NULL, *up = NULL;
    fg_error *err = host->diffusers ? fg_weights_added_only(host->weights, &src) : NULL;
    if (!err) err = fg_weights_upload_logged(src ? src : host->weights, p.device, FG_BF16, what, &up);
    fg_weights_close(src);
    if (!err) err = fg_flux_load_weights(up, placed); /* owns up */
    if (!err) err = fg_flux_set_act_dtype(*placed, p.act_dtype);
    if (err) {
        fg_flux_free(*placed);
        *placed = NULL;
    }
    return err;
}

static size_t flux_linear_count(const fg_flux_model *m) {
    return 10 + (size_t)m->p.arch.depth * 10 + (size_t)m->p.arch.depth_single * 3;
}

/* Every Linear of the model, in a fixed order (absent ones have no weight data). */
static void flux_linears(fg_flux_model *m, fg_flux_linear **list) {
    size_t n = 0;
    fg_flux_linear *top[] = {&m->img_in,      &m->txt_in,       &m->time_in,  &m->time_out,   &m->guidance_in,
                             &m->guidance_out, &m->vector_in,   &m->vector_out, &m->final_mod, &m->final_linear};
    for (size_t i = 0; i < 10; i++) list[n++] = top[i];
    for (int64_t b = 0; b < m->p.arch.depth; b++) {
        fg_flux_stream *s[2] = {&m->double_blocks[b].img, &m->double_blocks[b].txt};
        for (int k = 0; k < 2; k++) {
            list[n++] = &s[k]->mod;
            list[n++] = &s[k]->qkv;
            list[n++] = &s[k]->proj;
            list[n++] = &s[k]->mlp0;
            list[n++] = &s[k]->mlp2;
        }
    }
    for (int64_t b = 0; b < m->p.arch.depth_single; b++) {
        list[n++] = &m->single_blocks[b].mod;
        list[n++] = &m->single_blocks[b].linear1;
        list[n++] = &m->single_blocks[b].linear2;
    }
}

/* UNETLoader's fp8 weight_dtype: Linear weights stored as fp8 (round to nearest, saturating),
 * widened per layer by the ops like an fp8 checkpoint. Weights already in an fp8 format stay
 * as stored (their scale applies); norms, biases and embeddings keep their dtype. */
static fg_error *flux_narrow(flux_holder *h, fg_dtype dt) {
    size_t n = flux_linear_count(h->model);
    fg_flux_linear **list = calloc(n, sizeof *list);
    h->narrowed = calloc(n, sizeof *h->narrowed);
    if (!list || !h->narrowed) {
        free(list);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "fp8 weight table");
    }
    flux_linears(h->model, list);
    fg_error *err = NULL;
    for (size_t i = 0; i < n && !err; i++) {
        fg_tensor *w = &list[i]->w;
        if (!w->data || w->dtype == FG_F8_E4M3 || w->dtype == FG_F8_E5M2) continue;
        fg_tensor *dst = &h->narrowed[h->n_narrowed];
        err = fg_tensor_alloc(dst, w->device, dt, w->ndim, w->shape);
        if (!err) {
            h->n_narrowed++;
            err = fg_cast(dst, w);
        }
        if (!err) {
            fg_tensor view = *dst;
            view.owns_data = false;
            *w = view;
        }
    }
    free(list);
    return err ? fg_error_wrapf(err, "converting weights to %s", fg_dtype_name(dt)) : NULL;
}

static fg_error *flux_load(const void *argp, void **model, void (**free_model)(void *)) {
    const flux_load_arg *arg = argp;
    flux_holder *h = calloc(1, sizeof *h);
    if (!h) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "model holder");
    fg_flux_model *host = NULL;
    fg_error *err = fg_flux_load(arg->path, &host);
    if (!err) err = flux_place(host, arg->where, "FLUX DiT", &h->model);
    if (h->model != host) h->host = host; /* freed with the holder, also on failure */
    if (!err && arg->narrow_to != FG_F32) err = flux_narrow(h, arg->narrow_to);
    if (err) {
        flux_holder_free(h);
        return err;
    }
    *model = h;
    *free_model = flux_holder_free;
    return NULL;
}

static void lora_uses_free(fg_lora_use *l, size_t n) {
    for (size_t i = 0; l && i < n; i++) free(l[i].path);
    free(l);
}

/* A copy of src[0..n) plus `extra` (when not NULL) at the end. */
static fg_error *lora_uses_copy(const fg_lora_use *src, size_t n, const fg_lora_use *extra, fg_lora_use **out,
                                size_t *out_n) {
    size_t total = n + (extra ? 1 : 0);
    *out = NULL;
    *out_n = 0;
    if (!total) return NULL;
    fg_lora_use *l = calloc(total, sizeof *l);
    if (!l) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA list");
    for (size_t i = 0; i < total; i++) {
        const fg_lora_use *from = i < n ? &src[i] : extra;
        l[i] = (fg_lora_use){.path = strdup(from->path), .strength = from->strength};
        if (!l[i].path) {
            lora_uses_free(l, total);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA list");
        }
    }
    *out = l;
    *out_n = total;
    return NULL;
}

static void model_obj_destroy(fg_object *obj) {
    fg_model_obj *m = (fg_model_obj *)obj;
    fg_loaded_release(m->slot);
    fg_loaded_release(m->base_slot);
    lora_uses_free(m->loras, m->n_loras);
    free(m);
}

fg_model_sampling_params fg_model_default_sampling(const fg_flux_model *flux) {
    if (flux && flux->p.arch.guidance_embed)
        return (fg_model_sampling_params){.kind = FG_SAMPLING_FLUX, .shift = FG_FLUX_DEV_DEFAULT_SHIFT, .multiplier = 1.0};
    return (fg_model_sampling_params){.kind = FG_SAMPLING_FLOW, .shift = 1.0, .multiplier = 1.0};
}

static fg_error *model_obj_wrap(fg_loaded *slot, fg_model_obj **out) {
    fg_model_obj *m = calloc(1, sizeof *m);
    if (!m) {
        fg_loaded_release(slot);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "MODEL object");
    }
    fg_object_init(&m->base, FG_TYPE_MODEL, model_obj_destroy);
    m->slot = slot;
    m->flux = ((flux_holder *)fg_loaded_model(slot))->model;
    m->sampling = fg_model_default_sampling(m->flux);
    *out = m;
    return NULL;
}

fg_error *fg_model_obj_load(const char *path, fg_weight_dtype dtype, const fg_model_placement *where,
                            fg_model_obj **out) {
    FG_CHECK_ARG(path && out, "fg_model_obj_load: NULL argument");
    *out = NULL;
    static const char *const names[] = {"default", "fp8_e4m3fn", "fp8_e4m3fn", "fp8_e5m2"};
    FG_CHECK_ARG(dtype >= FG_WEIGHT_DEFAULT && dtype <= FG_WEIGHT_FP8_E5M2, "unknown weight_dtype %d", (int)dtype);
    flux_load_arg arg = {.path = path, .narrow_to = FG_F32, .where = placement_or_cpu(where)};
    if (dtype == FG_WEIGHT_FP8_E4M3FN || dtype == FG_WEIGHT_FP8_E4M3FN_FAST) arg.narrow_to = FG_F8_E4M3;
    if (dtype == FG_WEIGHT_FP8_E5M2) arg.narrow_to = FG_F8_E5M2;
    char key[KEY_CAP];
    FG_TRY(make_placed_key("flux", path, names[dtype], arg.where, key, sizeof key));
    fg_loaded *slot;
    FG_TRY(fg_model_cache_get(key, flux_load, &arg, &slot));
    FG_TRY(model_obj_wrap(slot, out));
    (*out)->where = arg.where;
    return NULL;
}

fg_error *fg_model_obj_clone(const fg_model_obj *src, fg_model_obj **out) {
    FG_CHECK_ARG(src && out, "fg_model_obj_clone: NULL argument");
    FG_TRY(model_obj_wrap(fg_loaded_ref(src->slot), out));
    (*out)->sampling = src->sampling;
    (*out)->where = src->where;
    (*out)->base_slot = fg_loaded_ref(src->base_slot);
    fg_error *err = lora_uses_copy(src->loras, src->n_loras, NULL, &(*out)->loras, &(*out)->n_loras);
    if (err) {
        fg_object_unref(&(*out)->base);
        *out = NULL;
    }
    return err;
}

/* ---- text encoders ---------------------------------------------------------------------- */

static void clip_model_free(void *p) {
    fg_clip_free(p);
}
static void t5_model_free(void *p) {
    fg_t5_free(p);
}

typedef struct encoder_arg {
    const char *path;
    fg_model_placement where;
} encoder_arg;

#define CLIP_ANCHOR "text_model.embeddings.token_embedding.weight"
#define T5_ANCHOR "encoder.final_layer_norm.weight"

static fg_error *clip_l_load(const void *argp, void **model, void (**free_model)(void *)) {
    const encoder_arg *a = argp;
    fg_weights *view = NULL;
    fg_clip_model *m = NULL;
    FG_TRY(fg_weights_open_at_anchor(a->path, CLIP_ANCHOR, "CLIP text model", &view));
    FG_TRY(place_view(&view, a->where, "CLIP-L"));
    FG_TRY(fg_clip_load_owned(view, &m));
    fg_error *err = fg_clip_set_act_dtype(m, a->where.act_dtype);
    if (err) {
        fg_clip_free(m);
        return err;
    }
    *model = m;
    *free_model = clip_model_free;
    return NULL;
}

static fg_error *t5_load(const void *argp, void **model, void (**free_model)(void *)) {
    const encoder_arg *a = argp;
    fg_weights *view = NULL;
    fg_t5_model *m = NULL;
    FG_TRY(fg_weights_open_at_anchor(a->path, T5_ANCHOR, "T5 encoder", &view));
    fg_error *err = fg_t5_sanitize_view(view);
    if (err) {
        fg_weights_close(view);
        return err;
    }
    FG_TRY(place_view(&view, a->where, "T5-XXL"));
    FG_TRY(fg_t5_load_owned(view, &m));
    err = fg_t5_set_act_dtype(m, a->where.act_dtype);
    if (err) {
        fg_t5_free(m);
        return err;
    }
    *model = m;
    *free_model = t5_model_free;
    return NULL;
}

static void clip_obj_destroy(fg_object *obj) {
    fg_clip_obj *c = (fg_clip_obj *)obj;
    fg_loaded_release(c->clip_l_slot);
    fg_loaded_release(c->t5_slot);
    fg_loaded_release(c->tokenizers_slot);
    free(c->clip_l_path);
    free(c->t5_path);
    lora_uses_free(c->loras, c->n_loras);
    free(c);
}

static bool has_suffix_name(const fg_weights *w, const char *suffix) {
    size_t ls = strlen(suffix);
    for (size_t i = 0; i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        size_t ln = strlen(name);
        if (ln >= ls && strcmp(name + ln - ls, suffix) == 0 && (ln == ls || name[ln - ls - 1] == '.')) return true;
    }
    return false;
}

fg_error *fg_text_encoder_detect(const char *path, fg_text_encoder_kind *out) {
    FG_CHECK_ARG(path && out, "fg_text_encoder_detect: NULL argument");
    *out = FG_TEXT_ENCODER_UNKNOWN;
    fg_weights *w;
    FG_TRY(fg_weights_open(path, &w));
    if (has_suffix_name(w, "text_model.encoder.layers.1.mlp.fc1.weight"))
        *out = FG_TEXT_ENCODER_CLIP_L;
    else if (has_suffix_name(w, "encoder.final_layer_norm.weight"))
        *out = FG_TEXT_ENCODER_T5;
    fg_weights_close(w);
    return NULL;
}

static fg_error *load_encoder(const char *kind, const char *path, fg_model_placement where, fg_model_load_fn load,
                              fg_loaded **slot) {
    char key[KEY_CAP];
    FG_TRY(make_placed_key(kind, path, NULL, where, key, sizeof key));
    const encoder_arg arg = {.path = path, .where = where};
    return fg_model_cache_get(key, load, &arg, slot);
}

fg_error *fg_clip_obj_load(const char *clip_l_path, const char *t5_path, const fg_model_placement *where,
                           fg_clip_obj **out) {
    FG_CHECK_ARG(out && (clip_l_path || t5_path), "fg_clip_obj_load: no text encoder given");
    *out = NULL;
    fg_clip_obj *c = calloc(1, sizeof *c);
    if (!c) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP object");
    fg_object_init(&c->base, FG_TYPE_CLIP, clip_obj_destroy);
    c->where = placement_or_cpu(where);
    fg_error *err = fg_flux_tokenizers_acquire(&c->tokenizers_slot);
    if (!err && clip_l_path) err = load_encoder("clip_l", clip_l_path, c->where, clip_l_load, &c->clip_l_slot);
    if (!err && t5_path) err = load_encoder("t5", t5_path, c->where, t5_load, &c->t5_slot);
    if (!err && clip_l_path && !(c->clip_l_path = strdup(clip_l_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (!err && t5_path && !(c->t5_path = strdup(t5_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (err) {
        clip_obj_destroy(&c->base);
        return err;
    }
    c->clip_l = fg_loaded_model(c->clip_l_slot);
    c->t5 = fg_loaded_model(c->t5_slot);
    *out = c;
    return NULL;
}

fg_error *fg_clip_obj_encode(const fg_clip_obj *c, const int32_t *clip_ids, const float *clip_weights,
                             int64_t clip_chunks, int64_t clip_len, const int32_t *t5_ids, const float *t5_weights,
                             int64_t t5_len, fg_tensor *cond, fg_tensor *pooled) {
    FG_CHECK_ARG(c && cond && pooled, "fg_clip_obj_encode: NULL argument");
    if (!c->clip_l || !c->t5)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "this CLIP holds only %s; FLUX text encoding needs both CLIP-L and T5-XXL "
                         "(load them with DualCLIPLoader, type flux)",
                         c->clip_l ? "CLIP-L" : "T5-XXL");
    fg_flux_token_arrays tokens = {.clip_ids = clip_ids, .clip_weights = clip_weights, .clip_chunks = clip_chunks,
                             .clip_len = clip_len, .t5_ids = t5_ids, .t5_weights = t5_weights, .t5_len = t5_len};
    return fg_flux_text_encode(c->clip_l, c->t5, FG_DEVICE_CPU, &tokens, cond, pooled);
}

/* ---- VAE -------------------------------------------------------------------------------- */

static void vae_model_free(void *p) {
    fg_vae_free(p);
}

/* A stand-alone ae.safetensors keeps encoder./decoder. at the top; a checkpoint under "vae.". */
static fg_error *vae_load(const void *argp, void **model, void (**free_model)(void *)) {
    const encoder_arg *a = argp;
    fg_weights *base, *view = NULL;
    FG_TRY(fg_weights_open(a->path, &base));
    fg_error *err = NULL;
    if (!fg_weights_has(base, "decoder.conv_in.weight") && fg_weights_has(base, "vae.decoder.conv_in.weight"))
        err = fg_weights_view(base, "vae.", &view);
    else
        err = fg_weights_view(base, "", &view);
    fg_weights_close(base);
    if (!err) err = place_view(&view, a->where, "VAE");
    fg_vae *m = NULL;
    if (!err) err = fg_vae_load(view, &m); /* the model keeps its own reference */
    fg_weights_close(view);
    if (!err) err = fg_vae_set_act_dtype(m, a->where.act_dtype);
    if (err) {
        fg_vae_free(m);
        return fg_error_wrapf(err, "loading VAE %s", a->path);
    }
    *model = m;
    *free_model = vae_model_free;
    return NULL;
}

static void vae_obj_destroy(fg_object *obj) {
    fg_vae_obj *v = (fg_vae_obj *)obj;
    fg_loaded_release(v->slot);
    free(v);
}

fg_error *fg_vae_obj_load(const char *path, const fg_model_placement *where, fg_vae_obj **out) {
    FG_CHECK_ARG(path && out, "fg_vae_obj_load: NULL argument");
    *out = NULL;
    const encoder_arg arg = {.path = path, .where = placement_or_cpu(where)};
    char key[KEY_CAP];
    FG_TRY(make_placed_key("vae", path, NULL, arg.where, key, sizeof key));
    fg_loaded *slot;
    FG_TRY(fg_model_cache_get(key, vae_load, &arg, &slot));
    fg_vae_obj *v = calloc(1, sizeof *v);
    if (!v) {
        fg_loaded_release(slot);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "VAE object");
    }
    fg_object_init(&v->base, FG_TYPE_VAE, vae_obj_destroy);
    v->slot = slot;
    v->vae = fg_loaded_model(slot);
    *out = v;
    return NULL;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

#define CKPT_CLIP_L "text_encoders.clip_l.transformer.text_model.embeddings.token_embedding.weight"
#define CKPT_T5 "text_encoders.t5xxl.transformer.encoder.final_layer_norm.weight"
#define CKPT_VAE "vae.decoder.conv_in.weight"

fg_error *fg_checkpoint_load(const char *path, const fg_model_placement *where, fg_model_obj **model,
                             fg_clip_obj **clip, fg_vae_obj **vae) {
    FG_CHECK_ARG(path && model && clip && vae, "fg_checkpoint_load: NULL argument");
    *model = NULL, *clip = NULL, *vae = NULL;
    fg_weights *w;
    FG_TRY(fg_weights_open(path, &w));
    bool has_dit = fg_weights_has(w, "model.diffusion_model.img_in.weight");
    bool has_clip_l = fg_weights_has(w, CKPT_CLIP_L), has_t5 = fg_weights_has(w, CKPT_T5);
    bool has_vae = fg_weights_has(w, CKPT_VAE);
    fg_weights_close(w);
    if (!has_dit)
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: not a FLUX checkpoint (no model.diffusion_model.img_in.weight); FLUX "
                         "diffusion-model-only files belong in diffusion_models/ (Load Diffusion Model)",
                         path);
    fg_error *err = fg_model_obj_load(path, FG_WEIGHT_DEFAULT, where, model);
    if (!err && (has_clip_l || has_t5))
        err = fg_clip_obj_load(has_clip_l ? path : NULL, has_t5 ? path : NULL, where, clip);
    if (!err && has_vae) err = fg_vae_obj_load(path, where, vae);
    if (err) {
        if (*model) fg_object_unref(&(*model)->base);
        if (*clip) fg_object_unref(&(*clip)->base);
        *model = NULL, *clip = NULL;
        return err;
    }
    return NULL;
}

/* ---- LoRA ------------------------------------------------------------------------------- */

#include "core/log.h"
#include "models/lora.h"

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
    flux_holder h;      /* first: model_obj_wrap reads the model through it */
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
    const fg_flux_model *base = holder_host(fg_loaded_model(arg->base));
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
    if (!err) err = flux_place(patched, arg->where, "FLUX DiT with LoRA", &h->h.model);
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
        FG_TRY(fg_weights_open_at_anchor(clip->clip_l_path, "text_model.embeddings.token_embedding.weight", "CLIP-L",
                              &t->v[FG_LORA_MODEL_CLIP_L]));
    if (clip->t5_path)
        FG_TRY(fg_weights_open_at_anchor(clip->t5_path, "encoder.final_layer_norm.weight", "T5-XXL", &t->v[FG_LORA_MODEL_T5]));
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
        if (!err) err = place_view(&h->patched[k], where, k == FG_LORA_MODEL_T5 ? "T5-XXL with LoRA" : "CLIP-L with LoRA");
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
        tv.models.model[FG_LORA_MODEL_DIT] = holder_host(fg_loaded_model(base))->weights;
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
    FG_TRY(lora_uses_copy(model->loras, model->n_loras, use, &loras, &n));
    fg_error *err = lora_key("flux-lora", base->key, loras, n, &key);
    lora_flux_arg arg = {.base = fg_loaded_ref(base), .loras = loras, .n = n, .where = model->where};
    if (!err) err = fg_model_cache_get(key, lora_flux_load, &arg, &slot);
    if (!arg.consumed) fg_loaded_release(arg.base);
    free(key);
    if (!err) err = model_obj_wrap(slot, out);
    if (err) {
        lora_uses_free(loras, n);
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
    fg_object_init(&c->base, FG_TYPE_CLIP, clip_obj_destroy);
    c->where = clip->where;
    c->tokenizers_slot = fg_loaded_ref(clip->tokenizers_slot);
    char *key = NULL, *bases = NULL;
    fg_error *err = lora_uses_copy(clip->loras, clip->n_loras, use, &c->loras, &c->n_loras);
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
        clip_obj_destroy(&c->base);
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
