/* Value helpers: ComfyUI type names and reference-counted objects. */
#include "nodes/value.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[FG_TYPE_COUNT] = {
    [FG_TYPE_NONE] = "NONE",         [FG_TYPE_INT] = "INT",
    [FG_TYPE_FLOAT] = "FLOAT",       [FG_TYPE_STRING] = "STRING",
    [FG_TYPE_BOOLEAN] = "BOOLEAN",   [FG_TYPE_COMBO] = "COMBO",
    [FG_TYPE_MODEL] = "MODEL",       [FG_TYPE_CLIP] = "CLIP",
    [FG_TYPE_VAE] = "VAE",           [FG_TYPE_CONDITIONING] = "CONDITIONING",
    [FG_TYPE_LATENT] = "LATENT",     [FG_TYPE_IMAGE] = "IMAGE",
    [FG_TYPE_MASK] = "MASK",         [FG_TYPE_SAMPLER] = "SAMPLER",
    [FG_TYPE_SIGMAS] = "SIGMAS",     [FG_TYPE_NOISE] = "NOISE",
    [FG_TYPE_GUIDER] = "GUIDER",
};

const char *fg_type_name(fg_type t) {
    if ((int)t < 0 || t >= FG_TYPE_COUNT) return "NONE";
    return type_names[t];
}

fg_type fg_type_from_name(const char *name) {
    if (!name) return FG_TYPE_NONE;
    for (int t = 1; t < FG_TYPE_COUNT; t++)
        if (strcmp(type_names[t], name) == 0) return (fg_type)t;
    return FG_TYPE_NONE;
}

void fg_object_init(fg_object *obj, fg_type type, void (*destroy)(fg_object *)) {
    obj->refs = 1;
    obj->type = type;
    obj->destroy = destroy;
}

fg_object *fg_object_ref(fg_object *obj) {
    if (obj) __atomic_add_fetch(&obj->refs, 1, __ATOMIC_RELAXED);
    return obj;
}

void fg_object_unref(fg_object *obj) {
    if (!obj) return;
    if (__atomic_sub_fetch(&obj->refs, 1, __ATOMIC_ACQ_REL) == 0 && obj->destroy) obj->destroy(obj);
}

fg_value fg_value_int(int64_t i) {
    fg_value v = {.type = FG_TYPE_INT};
    v.u.i = i;
    return v;
}

fg_value fg_value_float(double f) {
    fg_value v = {.type = FG_TYPE_FLOAT};
    v.u.f = f;
    return v;
}

fg_value fg_value_bool(bool b) {
    fg_value v = {.type = FG_TYPE_BOOLEAN};
    v.u.b = b;
    return v;
}

fg_value fg_value_string(const char *s) {
    fg_value v = {.type = FG_TYPE_NONE};
    char *copy = strdup(s ? s : "");
    if (!copy) return v;
    v.type = FG_TYPE_STRING;
    v.u.s = copy;
    return v;
}

fg_value fg_value_object(fg_object *obj) {
    fg_value v = {.type = FG_TYPE_NONE};
    if (!obj) return v;
    v.type = obj->type;
    v.u.obj = obj;
    return v;
}

static bool is_scalar(fg_type t) {
    return t == FG_TYPE_NONE || t == FG_TYPE_INT || t == FG_TYPE_FLOAT || t == FG_TYPE_BOOLEAN;
}

fg_error *fg_value_copy(const fg_value *v, fg_value *out) {
    FG_CHECK_ARG(v && out, "fg_value_copy: NULL argument");
    if (is_scalar(v->type)) {
        *out = *v;
        return NULL;
    }
    if (v->type == FG_TYPE_STRING || v->type == FG_TYPE_COMBO) {
        *out = fg_value_string(v->u.s);
        if (out->type == FG_TYPE_NONE) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying a string value");
        return NULL;
    }
    *out = *v;
    fg_object_ref(out->u.obj);
    return NULL;
}

void fg_value_clear(fg_value *v) {
    if (!v) return;
    if (v->type == FG_TYPE_STRING || v->type == FG_TYPE_COMBO)
        free(v->u.s);
    else if (!is_scalar(v->type))
        fg_object_unref(v->u.obj);
    v->type = FG_TYPE_NONE;
    v->u.i = 0;
}
