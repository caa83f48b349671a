/* The values that travel along a workflow's links, with ComfyUI's type names. Scalars are held
 * inline; everything else is a reference-counted object (a loaded model is shared by every
 * node that uses it and by the executor's cache; nodes never mutate an input object, they
 * make a new one, as ComfyUI's nodes clone). */
#ifndef FG_NODES_VALUE_H
#define FG_NODES_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

typedef enum fg_type {
    FG_TYPE_NONE = 0, /* an absent optional input */
    FG_TYPE_INT,
    FG_TYPE_FLOAT,
    FG_TYPE_STRING,
    FG_TYPE_BOOLEAN,
    FG_TYPE_COMBO, /* a STRING chosen from a list; travels as FG_TYPE_STRING */
    FG_TYPE_MODEL,
    FG_TYPE_CLIP,
    FG_TYPE_VAE,
    FG_TYPE_CONDITIONING,
    FG_TYPE_LATENT,
    FG_TYPE_IMAGE,
    FG_TYPE_MASK,
    FG_TYPE_SAMPLER,
    FG_TYPE_SIGMAS,
    FG_TYPE_NOISE,
    FG_TYPE_GUIDER,
    FG_TYPE_COUNT
} fg_type;

/* "INT", "MODEL", ... as ComfyUI spells them; fg_type_from_name returns FG_TYPE_NONE if
 * unknown. */
const char *fg_type_name(fg_type t);
fg_type fg_type_from_name(const char *name);

/* Header of every shared object; `destroy` frees the whole object when refs drops to 0. */
typedef struct fg_object {
    int refs;
    fg_type type;
    void (*destroy)(struct fg_object *obj);
} fg_object;

void fg_object_init(fg_object *obj, fg_type type, void (*destroy)(fg_object *));
fg_object *fg_object_ref(fg_object *obj);
void fg_object_unref(fg_object *obj);

typedef struct fg_value {
    fg_type type;
    union {
        int64_t i;      /* INT (seeds are u64 in ComfyUI: stored as the same 64 bits) */
        double f;       /* FLOAT */
        bool b;         /* BOOLEAN */
        char *s;        /* STRING / COMBO (owned) */
        fg_object *obj; /* everything else (one reference owned) */
    } u;
} fg_value;

fg_value fg_value_int(int64_t i);
fg_value fg_value_float(double f);
fg_value fg_value_bool(bool b);
/* Copies s; a NONE value on allocation failure (callers check). */
fg_value fg_value_string(const char *s);
/* Takes over the caller's reference. */
fg_value fg_value_object(fg_object *obj);
/* A new reference / copy of v. */
fg_error *fg_value_copy(const fg_value *v, fg_value *out) FG_MUST_CHECK;
void fg_value_clear(fg_value *v);

#endif
