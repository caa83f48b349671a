/* Modified copies of a safetensors checkpoint for the loader tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "tests/vae/vae_helpers.h"

typedef struct copy_state {
    fg_tensor *tensors;
    char **names;
    size_t count;
} copy_state;

static void state_free(copy_state *s) {
    for (size_t i = 0; i < s->count; i++) {
        fg_tensor_free_host(&s->tensors[i]);
        free(s->names[i]);
    }
    free(s->tensors);
    free(s->names);
}

static fg_error *convert_tensor(const fg_tensor *src, const ae_copy_opts *o, fg_tensor *dst) {
    bool is_float = fg_dtype_is_float(src->dtype);
    fg_dtype stored = is_float && o->convert && !o->round_only ? o->dtype : src->dtype;
    FG_TRY(fg_tensor_alloc_host(dst, stored, src->ndim, src->shape));
    int64_t n = fg_tensor_numel(src);
    if (!is_float || !o->convert) {
        memcpy(dst->data, src->data, fg_tensor_nbytes(src));
        return NULL;
    }
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    void *tmp = malloc((size_t)(n ? n : 1) * 4);
    if (!f || !tmp) {
        free(f);
        free(tmp);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "copy buffer");
    }
    fg_convert_to_f32(f, src->data, src->dtype, (size_t)n);
    if (o->round_only) {
        fg_convert_from_f32(tmp, o->dtype, f, (size_t)n);
        fg_convert_to_f32(dst->data, tmp, o->dtype, (size_t)n);
    } else {
        fg_convert_from_f32(dst->data, stored, f, (size_t)n);
    }
    free(f);
    free(tmp);
    return NULL;
}

static fg_error *add_one(copy_state *s, const char *prefix, const char *name, fg_tensor *t) {
    size_t len = strlen(prefix) + strlen(name) + 1;
    s->names[s->count] = malloc(len);
    if (!s->names[s->count]) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "name");
    snprintf(s->names[s->count], len, "%s%s", prefix, name);
    s->tensors[s->count++] = *t;
    return NULL;
}

static fg_error *collect(const fg_safetensors *st, const ae_copy_opts *o, copy_state *s) {
    const char *prefix = o->prefix ? o->prefix : "";
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        if (o->omit && strcmp(e->name, o->omit) == 0) continue;
        fg_tensor src, t = {0};
        FG_TRY(fg_safetensors_entry_tensor(st, e, &src));
        if (o->reshape && strcmp(e->name, o->reshape) == 0) FG_TRY(fg_tensor_alloc_host(&t, src.dtype, o->new_ndim, o->new_shape));
        else FG_TRY(convert_tensor(&src, o, &t));
        FG_TRY(add_one(s, prefix, e->name, &t));
    }
    if (o->extra) {
        fg_tensor t = {0};
        FG_TRY(fg_tensor_alloc_host(&t, FG_BF16, FG_SHAPE(8, 4)));
        FG_TRY(add_one(s, "", o->extra, &t));
    }
    return NULL;
}

fg_error *ae_write_copy(const char *src, const char *dst, const ae_copy_opts *o) {
    fg_safetensors *st = NULL;
    FG_TRY(fg_safetensors_open(src, &st));
    size_t cap = fg_safetensors_count(st) + 1;
    copy_state s = {calloc(cap, sizeof(fg_tensor)), calloc(cap, sizeof(char *)), 0};
    fg_st_writer *w = NULL;
    fg_error *err = s.tensors && s.names ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "copy");
    if (!err) err = collect(st, o, &s);
    if (!err) err = fg_st_writer_create(&w);
    for (size_t i = 0; !err && i < s.count; i++) err = fg_st_writer_add(w, s.names[i], &s.tensors[i]);
    if (!err) err = fg_st_writer_write(w, dst);
    fg_st_writer_free(w);
    state_free(&s);
    fg_safetensors_close(st);
    return err;
}
