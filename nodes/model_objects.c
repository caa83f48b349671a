/* MODEL / CLIP / VAE payloads and the reference-counted model cache (see model_objects.h); the
 * LoRA-patched objects are in model_objects_lora.c. */
#include "nodes/model_objects.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/weights.h"
#include "models/weights_internal.h"
#include "nodes/model_objects_internal.h"
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

const char *fg_loaded_key(const fg_loaded *slot) {
    return slot ? slot->key : NULL;
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

/* Also places the LoRA-patched text encoders (model_objects_lora.c): one rule for both. */
fg_error *fg_model_place_view(fg_weights **view, fg_model_placement p, const char *what) {
    if (!uploads(p)) return NULL;
    fg_weights *up = NULL;
    fg_error *err = fg_weights_upload_logged(*view, p.device, FG_BF16, what, &up);
    fg_weights_close(*view);
    *view = up;
    return err;
}

/* ---- FLUX DiT --------------------------------------------------------------------------- */

/* A FLUX slot holds an fg_flux_holder (model_objects_internal.h): the LoRA side patches its
 * host model and places the result with fg_flux_place, like a plain load. */
static void flux_holder_free(void *p) {
    fg_flux_holder *h = p;
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

const fg_flux_model *fg_flux_holder_host(const fg_flux_holder *h) { return h->host ? h->host : h->model; }

fg_error *fg_flux_place(fg_flux_model *host, fg_model_placement p, const char *what, fg_flux_model **placed) {
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
static fg_error *flux_narrow(fg_flux_holder *h, fg_dtype dt) {
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
    fg_flux_holder *h = calloc(1, sizeof *h);
    if (!h) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "model holder");
    fg_flux_model *host = NULL;
    fg_error *err = fg_flux_load(arg->path, &host);
    if (!err) err = fg_flux_place(host, arg->where, "FLUX DiT", &h->model);
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

/* The LoRA lists MODEL and CLIP objects carry: here because clones and destructors copy and free
 * them, LoRA or not. */
void fg_lora_uses_free(fg_lora_use *l, size_t n) {
    for (size_t i = 0; l && i < n; i++) free(l[i].path);
    free(l);
}

fg_error *fg_lora_uses_copy(const fg_lora_use *src, size_t n, const fg_lora_use *extra, fg_lora_use **out,
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
            fg_lora_uses_free(l, total);
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
    fg_lora_uses_free(m->loras, m->n_loras);
    free(m);
}

fg_model_sampling_params fg_model_default_sampling(const fg_flux_model *flux) {
    if (flux && flux->p.arch.guidance_embed)
        return (fg_model_sampling_params){.kind = FG_SAMPLING_FLUX, .shift = FG_FLUX_DEV_DEFAULT_SHIFT, .multiplier = 1.0};
    return (fg_model_sampling_params){.kind = FG_SAMPLING_FLOW, .shift = 1.0, .multiplier = 1.0};
}

fg_error *fg_model_obj_wrap(fg_loaded *slot, fg_model_obj **out) {
    fg_model_obj *m = calloc(1, sizeof *m);
    if (!m) {
        fg_loaded_release(slot);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "MODEL object");
    }
    fg_object_init(&m->base, FG_TYPE_MODEL, model_obj_destroy);
    m->slot = slot;
    m->flux = ((fg_flux_holder *)fg_loaded_model(slot))->model;
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
    FG_TRY(fg_model_obj_wrap(slot, out));
    (*out)->where = arg.where;
    return NULL;
}

fg_error *fg_model_obj_clone(const fg_model_obj *src, fg_model_obj **out) {
    FG_CHECK_ARG(src && out, "fg_model_obj_clone: NULL argument");
    FG_TRY(fg_model_obj_wrap(fg_loaded_ref(src->slot), out));
    (*out)->sampling = src->sampling;
    (*out)->where = src->where;
    (*out)->base_slot = fg_loaded_ref(src->base_slot);
    fg_error *err = fg_lora_uses_copy(src->loras, src->n_loras, NULL, &(*out)->loras, &(*out)->n_loras);
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

static fg_error *clip_l_load(const void *argp, void **model, void (**free_model)(void *)) {
    const encoder_arg *a = argp;
    fg_weights *view = NULL;
    fg_clip_model *m = NULL;
    FG_TRY(fg_weights_open_at_anchor(a->path, FG_CLIP_L_ANCHOR, "CLIP text model", &view));
    FG_TRY(fg_model_place_view(&view, a->where, "CLIP-L"));
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
    FG_TRY(fg_weights_open_at_anchor(a->path, FG_T5_ANCHOR, "T5 encoder", &view));
    fg_error *err = fg_t5_sanitize_view(view);
    if (err) {
        fg_weights_close(view);
        return err;
    }
    FG_TRY(fg_model_place_view(&view, a->where, "T5-XXL"));
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

void fg_clip_obj_destroy(fg_object *obj) {
    fg_clip_obj *c = (fg_clip_obj *)obj;
    fg_loaded_release(c->clip_l_slot);
    fg_loaded_release(c->t5_slot);
    fg_loaded_release(c->tokenizers_slot);
    free(c->clip_l_path);
    free(c->t5_path);
    fg_lora_uses_free(c->loras, c->n_loras);
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
    fg_object_init(&c->base, FG_TYPE_CLIP, fg_clip_obj_destroy);
    c->where = placement_or_cpu(where);
    fg_error *err = fg_flux_tokenizers_acquire(&c->tokenizers_slot);
    if (!err && clip_l_path) err = load_encoder("clip_l", clip_l_path, c->where, clip_l_load, &c->clip_l_slot);
    if (!err && t5_path) err = load_encoder("t5", t5_path, c->where, t5_load, &c->t5_slot);
    if (!err && clip_l_path && !(c->clip_l_path = strdup(clip_l_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (!err && t5_path && !(c->t5_path = strdup(t5_path))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP");
    if (err) {
        fg_clip_obj_destroy(&c->base);
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
    if (!err) err = fg_model_place_view(&view, a->where, "VAE");
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
