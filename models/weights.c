#include "models/weights.h"
#include "models/weights_internal.h"

#include "kernels/ops.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"

/* The open files, shared by every view and freed with the last one. */
typedef struct weight_files {
    int refs;
    char *path;
    fg_safetensors **shards;
    size_t shard_count;
} weight_files;

typedef struct owned_tensor {
    char *name;
    fg_tensor t;
} owned_tensor;

struct fg_weights {
    weight_files *files;
    char *prefix;
    size_t prefix_len;
    const char **names; /* file tensors under the prefix, prefix stripped (point into the files) */
    size_t name_count;
    owned_tensor *owned;
    size_t owned_count, owned_cap;
    fg_tensor block; /* an upload's single allocation, viewed by the owned tensors */
    int extra_refs;  /* fg_weights_ref */
};

static void files_release(weight_files *f) {
    if (!f || --f->refs > 0) return;
    for (size_t i = 0; i < f->shard_count; i++) fg_safetensors_close(f->shards[i]);
    free(f->shards);
    free(f->path);
    free(f);
}

static fg_error *files_add_shard(weight_files *f, const char *path) {
    fg_safetensors **grown = realloc(f->shards, (f->shard_count + 1) * sizeof *grown);
    if (!grown) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    f->shards = grown;
    fg_safetensors *st = NULL;
    FG_TRY(fg_safetensors_open(path, &st));
    f->shards[f->shard_count++] = st;
    return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A shard name from an index must be a plain file name: no folders, no "..". */
static bool safe_shard_name(const char *name) {
    return *name && !strchr(name, '/') && !strchr(name, '\\') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static fg_error *open_index_shards(weight_files *f, const char *index_path) {
    json_error_t jerr;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fg_errorf(FG_ERR_FORMAT, "%s: not a JSON shard index (line %d: %s)", index_path, jerr.line, jerr.text);
    fg_error *err = NULL;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) err = fg_errorf(FG_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    const char *dir_end = strrchr(index_path, '/');
    int dir_len = dir_end ? (int)(dir_end - index_path + 1) : 0;
    /* Each distinct shard once, in first-mention order. */
    json_t *seen = json_object();
    const char *key;
    json_t *value;
    if (!err && !seen) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", index_path);
    if (!err) {
        json_object_foreach(map, key, value) {
            const char *shard = json_string_value(value);
            if (!shard || !safe_shard_name(shard)) {
                err = fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s' maps to an invalid shard name", index_path, key);
                break;
            }
            if (json_object_get(seen, shard)) continue;
            json_object_set_new(seen, shard, json_true());
            char path[4096];
            if (snprintf(path, sizeof path, "%.*s%s", dir_len, index_path, shard) >= (int)sizeof path) {
                err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: shard path too long", index_path);
                break;
            }
            if ((err = files_add_shard(f, path))) break;
        }
    }
    if (!err && f->shard_count == 0) err = fg_errorf(FG_ERR_FORMAT, "%s: the weight_map lists no shards", index_path);
    json_decref(seen);
    json_decref(root);
    return err;
}

/* Collects the names under the view's prefix. */
static fg_error *collect_names(fg_weights *w) {
    size_t total = 0;
    for (size_t s = 0; s < w->files->shard_count; s++) total += fg_safetensors_count(w->files->shards[s]);
    w->names = malloc((total ? total : 1) * sizeof *w->names);
    if (!w->names) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", w->files->path);
    for (size_t s = 0; s < w->files->shard_count; s++) {
        const fg_safetensors *st = w->files->shards[s];
        for (size_t i = 0; i < fg_safetensors_count(st); i++) {
            const char *name = fg_safetensors_entry(st, i)->name;
            if (strncmp(name, w->prefix, w->prefix_len) == 0 && name[w->prefix_len])
                w->names[w->name_count++] = name + w->prefix_len;
        }
    }
    return NULL;
}

static fg_error *make_view(weight_files *files, const char *prefix, fg_weights **out) {
    fg_weights *w = calloc(1, sizeof *w);
    if (!w) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "weights view");
    w->files = files;
    files->refs++;
    w->prefix = strdup(prefix ? prefix : "");
    if (!w->prefix) {
        fg_weights_close(w);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "weights view");
    }
    w->prefix_len = strlen(w->prefix);
    fg_error *err = collect_names(w);
    if (err) {
        fg_weights_close(w);
        return err;
    }
    *out = w;
    return NULL;
}

fg_error *fg_weights_open(const char *path, fg_weights **out) {
    weight_files *f = calloc(1, sizeof *f);
    if (!f) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    f->refs = 1;
    f->path = strdup(path);
    fg_error *err = f->path ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    if (!err) err = ends_with(path, ".json") ? open_index_shards(f, path) : files_add_shard(f, path);
    if (!err) err = make_view(f, "", out);
    files_release(f); /* the view holds its own reference */
    return err;
}

fg_error *fg_weights_new(const char *label, fg_weights **out) {
    weight_files *f = calloc(1, sizeof *f);
    if (!f) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    f->refs = 1;
    f->path = strdup(label ? label : "(in memory)");
    fg_error *err = f->path ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", label);
    if (!err) err = make_view(f, "", out);
    files_release(f);
    return err;
}

fg_device fg_weights_device(const fg_weights *w) {
    if (w->block.data) return w->block.device;
    /* File tensors are host mappings; a view either has files or only added tensors. */
    if (w->name_count == 0 && w->owned_count > 0) return w->owned[0].t.device;
    return FG_DEVICE_CPU;
}

fg_error *fg_weights_open_at_anchor(const char *path, const char *anchor, const char *what, fg_weights **out) {
    fg_weights *file = NULL;
    FG_TRY(fg_weights_open(path, &file));
    char prefix[256];
    fg_error *err = fg_weights_find_prefix(file, anchor, what, prefix, sizeof prefix);
    if (!err) err = fg_weights_view(file, prefix, out);
    fg_weights_close(file);
    return err;
}

fg_error *fg_weights_view(const fg_weights *base, const char *prefix, fg_weights **out) {
    return make_view(base->files, prefix, out);
}

void fg_weights_close(fg_weights *w) {
    if (!w) return;
    if (w->extra_refs > 0) {
        w->extra_refs--;
        return;
    }
    for (size_t i = 0; i < w->owned_count; i++) {
        free(w->owned[i].name);
        fg_tensor_free(&w->owned[i].t); /* host or device storage */
    }
    free(w->owned);
    fg_tensor_free(&w->block);
    free(w->names);
    free(w->prefix);
    files_release(w->files);
    free(w);
}

const char *fg_weights_path(const fg_weights *w) { return w->files->path; }
const char *fg_weights_prefix(const fg_weights *w) { return w->prefix; }
size_t fg_weights_count(const fg_weights *w) { return w->name_count + w->owned_count; }

const char *fg_weights_name(const fg_weights *w, size_t i) {
    if (i < w->name_count) return w->names[i];
    i -= w->name_count;
    return i < w->owned_count ? w->owned[i].name : NULL;
}

static const owned_tensor *find_owned(const fg_weights *w, const char *name) {
    for (size_t i = 0; i < w->owned_count; i++)
        if (strcmp(w->owned[i].name, name) == 0) return &w->owned[i];
    return NULL;
}

/* Finds prefix+name in the shards; NULL when absent. */
static const fg_st_entry *find_file_entry(const fg_weights *w, const char *name, const fg_safetensors **shard) {
    char stack[512];
    size_t n = w->prefix_len + strlen(name) + 1;
    char *full = n <= sizeof stack ? stack : malloc(n);
    if (!full) return NULL;
    snprintf(full, n, "%s%s", w->prefix, name);
    const fg_st_entry *e = NULL;
    for (size_t s = 0; s < w->files->shard_count && !e; s++) {
        e = fg_safetensors_find(w->files->shards[s], full);
        if (e) *shard = w->files->shards[s];
    }
    if (full != stack) free(full);
    return e;
}

bool fg_weights_has(const fg_weights *w, const char *name) {
    const fg_safetensors *shard;
    return find_owned(w, name) || find_file_entry(w, name, &shard);
}

fg_error *fg_weights_count_indexed(const fg_weights *w, const char *stem, int64_t max, int64_t *count) {
    size_t stem_len = strlen(stem);
    int64_t n = 0;
    for (size_t i = 0; i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        if (strncmp(name, stem, stem_len) != 0) continue;
        const char *p = name + stem_len;
        int64_t index = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++) index = index * 10 + (*p - '0');
        if (digits == 0 || *p != '.') continue;
        if (index >= max)
            return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s': index %lld is implausibly large (at most %lld)",
                             w->files->path, w->prefix, name, (long long)index, (long long)max);
        if (index + 1 > n) n = index + 1;
    }
    *count = n;
    return NULL;
}

fg_error *fg_weights_find_prefix(const fg_weights *w, const char *anchor, const char *what, char *prefix,
                                 size_t cap) {
    const size_t anchor_len = strlen(anchor);
    int found = 0;
    for (size_t i = 0; i < fg_weights_count(w); i++) {
        const char *name = fg_weights_name(w, i);
        size_t n = strlen(name);
        if (n < anchor_len || strcmp(name + n - anchor_len, anchor) != 0) continue;
        if (found++)
            return fg_errorf(FG_ERR_FORMAT, "%s: several %ss ('%s' and '%s%s'); which one is ambiguous",
                             w->files->path, what, name, prefix, anchor);
        if (n - anchor_len >= cap)
            return fg_errorf(FG_ERR_FORMAT, "%s: key prefix of '%s' too long", w->files->path, name);
        memcpy(prefix, name, n - anchor_len);
        prefix[n - anchor_len] = '\0';
    }
    if (!found)
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: no tensor '[prefix]%s': not a %s", w->files->path, anchor, what);
    return NULL;
}

fg_error *fg_weights_get(const fg_weights *w, const char *name, fg_tensor *out) {
    const owned_tensor *o = find_owned(w, name);
    if (o) {
        *out = o->t;
        out->owns_data = false;
        return NULL;
    }
    const fg_safetensors *shard = NULL;
    const fg_st_entry *e = find_file_entry(w, name, &shard);
    if (!e) return fg_errorf(FG_ERR_NOT_FOUND, "%s: missing tensor '%s%s'", w->files->path, w->prefix, name);
    return fg_safetensors_entry_tensor(shard, e, out);
}

fg_error *fg_weights_get_shaped(const fg_weights *w, const char *name, int ndim, const int64_t *shape, fg_tensor *out) {
    fg_tensor t;
    FG_TRY(fg_weights_get(w, name, &t));
    char want[128], have[128];
    if (!fg_dtype_is_float(t.dtype))
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has dtype %s, expected a float dtype", w->files->path,
                         w->prefix, name, fg_dtype_name(t.dtype));
    bool same = t.ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t.shape[i] == shape[i];
    if (!same)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has shape %s but the model needs %s", w->files->path,
                         w->prefix, name, fg_tensor_shape_str(&t, have, sizeof have),
                         fg_shape_str(ndim, shape, want, sizeof want));
    *out = t;
    return NULL;
}

fg_error *fg_weights_scale(const fg_weights *w, const char *weight_name, float *scale) {
    *scale = 1.0f;
    size_t n = strlen(weight_name);
    const char *suffix = ".weight";
    if (n < 7 || strcmp(weight_name + n - 7, suffix) != 0) return NULL;
    static const char *const scale_suffixes[] = {".weight_scale", ".scale_weight"};
    for (int i = 0; i < 2; i++) {
        char name[1024];
        if (snprintf(name, sizeof name, "%.*s%s", (int)(n - 7), weight_name, scale_suffixes[i]) >= (int)sizeof name)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s", weight_name);
        if (!fg_weights_has(w, name)) continue;
        fg_tensor t;
        FG_TRY(fg_weights_get(w, name, &t));
        if (fg_tensor_numel(&t) != 1 || !fg_dtype_is_float(t.dtype))
            return fg_errorf(FG_ERR_FORMAT, "%s: scale tensor '%s%s' must be one float, not %s of %lld values",
                             w->files->path, w->prefix, name, fg_dtype_name(t.dtype), (long long)fg_tensor_numel(&t));
        if (t.device == FG_DEVICE_CPU) {
            fg_convert_to_f32(scale, t.data, t.dtype, 1);
        } else { /* an in-memory view built on a device */
            fg_tensor host;
            FG_TRY(fg_tensor_alloc_host(&host, t.dtype, FG_SHAPE(1)));
            fg_error *err = fg_tensor_copy(&host, &t);
            if (!err) fg_convert_to_f32(scale, host.data, t.dtype, 1);
            fg_tensor_free_host(&host);
            FG_TRY(err);
        }
        if (!(*scale == *scale) || *scale == 0.0f)
            return fg_errorf(FG_ERR_FORMAT, "%s: scale tensor '%s%s' is %g", w->files->path, w->prefix, name,
                             (double)*scale);
        return NULL;
    }
    return NULL;
}

static fg_error *add_owned_entry(fg_weights *w, const char *name, fg_tensor taken);

fg_error *fg_weights_add_owned(fg_weights *w, const char *name, fg_tensor *t) {
    fg_tensor taken = *t;
    memset(t, 0, sizeof *t);
    if (fg_weights_has(w, name)) {
        fg_tensor_free(&taken); /* host or device storage */
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: tensor '%s' already exists", w->files->path, name);
    }
    return add_owned_entry(w, name, taken);
}

static fg_error *add_owned_entry(fg_weights *w, const char *name, fg_tensor taken) {
    if (!FG_ARRAY_RESERVE(w->owned, w->owned_cap, w->owned_count, 16)) {
        fg_tensor_free(&taken); /* host or device storage */
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", name);
    }
    char *copy = strdup(name);
    if (!copy) {
        fg_tensor_free(&taken); /* host or device storage */
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", name);
    }
    w->owned[w->owned_count++] = (owned_tensor){copy, taken};
    return NULL;
}

fg_error *fg_weights_clone(const fg_weights *base, fg_weights **out) {
    fg_weights *w = NULL;
    FG_TRY(make_view(base->files, base->prefix, &w));
    for (size_t i = 0; i < base->owned_count; i++) {
        fg_tensor alias = base->owned[i].t;
        alias.owns_data = false;
        const fg_safetensors *shard;
        const char *name = base->owned[i].name;
        fg_error *err = find_file_entry(w, name, &shard) ? fg_weights_override(w, name, &alias)
                                                         : fg_weights_add_owned(w, name, &alias);
        if (err) {
            fg_weights_close(w);
            return err;
        }
    }
    *out = w;
    return NULL;
}

fg_error *fg_weights_override(fg_weights *w, const char *name, fg_tensor *t) {
    fg_tensor taken = *t;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < w->owned_count; i++) {
        if (strcmp(w->owned[i].name, name) != 0) continue;
        fg_tensor_free(&w->owned[i].t); /* host or device storage */
        w->owned[i].t = taken;
        return NULL;
    }
    const fg_safetensors *shard;
    if (!find_file_entry(w, name, &shard)) {
        fg_tensor_free(&taken); /* host or device storage */
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: no tensor '%s%s' to override", w->files->path, w->prefix, name);
    }
    /* Drop the file name from the listing first, so the name stays listed once. */
    for (size_t i = 0; i < w->name_count; i++) {
        if (strcmp(w->names[i], name) != 0) continue;
        memmove(&w->names[i], &w->names[i + 1], (w->name_count - i - 1) * sizeof *w->names);
        w->name_count--;
        break;
    }
    return add_owned_entry(w, name, taken);
}

fg_error *fg_weights_adopt_block(fg_weights *w, fg_tensor *block) {
    fg_tensor taken = *block;
    memset(block, 0, sizeof *block);
    if (w->block.data) {
        fg_tensor_free(&taken);
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: the view already owns a storage block", w->files->path);
    }
    w->block = taken;
    return NULL;
}

fg_weights *fg_weights_ref(const fg_weights *w) {
    fg_weights *mut = (fg_weights *)w; /* the count is bookkeeping, not the view's content */
    mut->extra_refs++;
    return mut;
}

fg_error *fg_weights_added_only(const fg_weights *w, fg_weights **out) {
    fg_weights *v = NULL;
    FG_TRY(fg_weights_new(w->files->path, &v));
    for (size_t i = 0; i < w->owned_count; i++) {
        fg_tensor alias = w->owned[i].t;
        alias.owns_data = false;
        fg_error *err = add_owned_entry(v, w->owned[i].name, alias);
        if (err) {
            fg_weights_close(v);
            return err;
        }
    }
    *out = v;
    return NULL;
}
