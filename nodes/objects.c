/* Constructors, destructors and copies of the payload objects of nodes/objects.h. */
#include "nodes/objects.h"

#include <stdlib.h>
#include <string.h>

static void latent_destroy(fg_object *obj) {
    fg_latent *l = (fg_latent *)obj;
    fg_tensor_free_host(&l->samples);
    fg_tensor_free_host(&l->noise_mask);
    free(l->batch_index);
    free(l);
}

static fg_error *check_host_f32(const fg_tensor *t, const char *what) {
    FG_CHECK_ARG(t && t->data, "%s: no tensor", what);
    FG_CHECK_ARG(t->dtype == FG_F32 && t->device == FG_DEVICE_CPU, "%s: expected a host f32 tensor", what);
    return NULL;
}

/* Moves src into dst and clears the caller's handle (ownership transfer). */
static void take_tensor(fg_tensor *dst, fg_tensor *src) {
    *dst = *src;
    memset(src, 0, sizeof *src);
}

fg_error *fg_latent_new(fg_tensor *samples, fg_latent **out) {
    FG_CHECK_ARG(out, "fg_latent_new: NULL out");
    *out = NULL;
    FG_TRY(check_host_f32(samples, "LATENT samples"));
    FG_CHECK_ARG(samples->ndim == 4, "LATENT samples must be [B,C,h,w]");
    fg_latent *l = calloc(1, sizeof *l);
    if (!l) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating a LATENT");
    fg_object_init(&l->base, FG_TYPE_LATENT, latent_destroy);
    take_tensor(&l->samples, samples);
    *out = l;
    return NULL;
}

static fg_error *copy_tensor(const fg_tensor *src, fg_tensor *dst) {
    memset(dst, 0, sizeof *dst);
    if (!src->data) return NULL;
    FG_TRY(fg_tensor_alloc_host(dst, src->dtype, src->ndim, src->shape));
    memcpy(dst->data, src->data, fg_tensor_nbytes(src));
    return NULL;
}

fg_error *fg_latent_with_samples(const fg_latent *like, fg_tensor *samples, fg_latent **out) {
    FG_CHECK_ARG(like && out, "fg_latent_with_samples: NULL argument");
    fg_latent *l = NULL;
    FG_TRY(fg_latent_new(samples, &l));
    fg_error *err = copy_tensor(&like->noise_mask, &l->noise_mask);
    if (!err && like->batch_index && like->batch_index_count) {
        l->batch_index = malloc(like->batch_index_count * sizeof *l->batch_index);
        if (!l->batch_index) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying batch_index");
        else {
            memcpy(l->batch_index, like->batch_index, like->batch_index_count * sizeof *l->batch_index);
            l->batch_index_count = like->batch_index_count;
        }
    }
    if (err) {
        fg_object_unref(&l->base);
        return err;
    }
    *out = l;
    return NULL;
}

static void image_destroy(fg_object *obj) {
    fg_image_obj *im = (fg_image_obj *)obj;
    fg_tensor_free_host(&im->pixels);
    free(im);
}

fg_error *fg_image_obj_new(fg_type type, fg_tensor *pixels, fg_image_obj **out) {
    FG_CHECK_ARG(out, "fg_image_obj_new: NULL out");
    *out = NULL;
    FG_CHECK_ARG(type == FG_TYPE_IMAGE || type == FG_TYPE_MASK, "fg_image_obj_new: type must be IMAGE or MASK");
    FG_TRY(check_host_f32(pixels, fg_type_name(type)));
    FG_CHECK_ARG(type == FG_TYPE_IMAGE ? pixels->ndim == 4 : pixels->ndim == 3, "%s has the wrong rank",
                 fg_type_name(type));
    fg_image_obj *im = calloc(1, sizeof *im);
    if (!im) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating an %s", fg_type_name(type));
    fg_object_init(&im->base, type, image_destroy);
    take_tensor(&im->pixels, pixels);
    *out = im;
    return NULL;
}

static void cond_entries_free(fg_cond_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fg_tensor_free_host(&e[i].cond);
        fg_tensor_free_host(&e[i].pooled);
    }
    free(e);
}

static void conditioning_destroy(fg_object *obj) {
    fg_conditioning *c = (fg_conditioning *)obj;
    cond_entries_free(c->entries, c->count);
    free(c);
}

fg_error *fg_conditioning_new(fg_cond_entry *entries, size_t count, fg_conditioning **out) {
    FG_CHECK_ARG(out && (entries || count == 0), "fg_conditioning_new: NULL argument");
    *out = NULL;
    fg_conditioning *c = calloc(1, sizeof *c);
    fg_cond_entry *mine = count ? calloc(count, sizeof *mine) : NULL;
    if (!c || (count && !mine)) {
        free(c);
        free(mine);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating a CONDITIONING");
    }
    fg_object_init(&c->base, FG_TYPE_CONDITIONING, conditioning_destroy);
    for (size_t i = 0; i < count; i++) {
        mine[i] = entries[i];
        memset(&entries[i].cond, 0, sizeof entries[i].cond);
        memset(&entries[i].pooled, 0, sizeof entries[i].pooled);
    }
    c->entries = mine;
    c->count = count;
    *out = c;
    return NULL;
}

fg_error *fg_conditioning_copy(const fg_conditioning *c, fg_conditioning **out) {
    FG_CHECK_ARG(c && out, "fg_conditioning_copy: NULL argument");
    *out = NULL;
    fg_cond_entry *e = c->count ? calloc(c->count, sizeof *e) : NULL;
    if (c->count && !e) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying a CONDITIONING");
    fg_error *err = NULL;
    for (size_t i = 0; i < c->count && !err; i++) {
        e[i] = c->entries[i];
        err = copy_tensor(&c->entries[i].cond, &e[i].cond);
        if (!err) err = copy_tensor(&c->entries[i].pooled, &e[i].pooled);
        else memset(&e[i].pooled, 0, sizeof e[i].pooled);
    }
    if (!err) err = fg_conditioning_new(e, c->count, out);
    cond_entries_free(e, c->count); /* tensors moved out on success: only the array remains */
    return err;
}

static void sigmas_destroy(fg_object *obj) {
    fg_sigmas *s = (fg_sigmas *)obj;
    fg_tensor_free_host(&s->sigmas);
    free(s);
}

fg_error *fg_sigmas_new(fg_tensor *sigmas, fg_sigmas **out) {
    FG_CHECK_ARG(out, "fg_sigmas_new: NULL out");
    *out = NULL;
    FG_TRY(check_host_f32(sigmas, "SIGMAS"));
    FG_CHECK_ARG(sigmas->ndim == 1, "SIGMAS must be one-dimensional");
    fg_sigmas *s = calloc(1, sizeof *s);
    if (!s) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating SIGMAS");
    fg_object_init(&s->base, FG_TYPE_SIGMAS, sigmas_destroy);
    take_tensor(&s->sigmas, sigmas);
    *out = s;
    return NULL;
}

static void plain_destroy(fg_object *obj) {
    free(obj);
}

fg_error *fg_sampler_obj_new(const char *name, double eta, double s_noise, fg_sampler_obj **out) {
    FG_CHECK_ARG(name && out, "fg_sampler_obj_new: NULL argument");
    *out = NULL;
    FG_CHECK_ARG(strlen(name) < sizeof((fg_sampler_obj *)0)->name, "sampler name '%.60s' is too long", name);
    fg_sampler_obj *s = calloc(1, sizeof *s);
    if (!s) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating a SAMPLER");
    fg_object_init(&s->base, FG_TYPE_SAMPLER, plain_destroy);
    strcpy(s->name, name);
    s->eta = eta;
    s->s_noise = s_noise;
    *out = s;
    return NULL;
}

fg_error *fg_noise_obj_new(fg_noise_source source, fg_noise_obj **out) {
    FG_CHECK_ARG(out, "fg_noise_obj_new: NULL out");
    fg_noise_obj *n = calloc(1, sizeof *n);
    *out = NULL;
    if (!n) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating a NOISE");
    fg_object_init(&n->base, FG_TYPE_NOISE, plain_destroy);
    n->source = source;
    *out = n;
    return NULL;
}

static void guider_destroy(fg_object *obj) {
    fg_guider *g = (fg_guider *)obj;
    if (g->model) fg_object_unref(g->model);
    if (g->positive) fg_object_unref(g->positive);
    if (g->negative) fg_object_unref(g->negative);
    free(g);
}

fg_error *fg_guider_new(fg_object *model, fg_object *positive, fg_object *negative, double cfg, fg_guider **out) {
    FG_CHECK_ARG(out, "fg_guider_new: NULL out");
    *out = NULL;
    FG_CHECK_ARG(model && model->type == FG_TYPE_MODEL, "GUIDER: model is not a MODEL");
    FG_CHECK_ARG(positive && positive->type == FG_TYPE_CONDITIONING, "GUIDER: positive is not a CONDITIONING");
    FG_CHECK_ARG(!negative || negative->type == FG_TYPE_CONDITIONING, "GUIDER: negative is not a CONDITIONING");
    fg_guider *g = calloc(1, sizeof *g);
    if (!g) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "allocating a GUIDER");
    fg_object_init(&g->base, FG_TYPE_GUIDER, guider_destroy);
    g->model = fg_object_ref(model);
    g->positive = fg_object_ref(positive);
    g->negative = negative ? fg_object_ref(negative) : NULL;
    g->cfg = cfg;
    *out = g;
    return NULL;
}
