/* Streaming safetensors writer: the header is built while tensors are added (offsets are
 * contiguous in insertion order), the data is streamed at write time, and the file appears
 * under its final name only when complete. */
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METADATA_KEY "__metadata__"

typedef struct writer_item {
    char *name;
    size_t nbytes;
    const void *data;  /* eager tensors */
    fg_st_fill_fn fill; /* lazy tensors */
    void *ctx;
} writer_item;

struct fg_st_writer {
    json_t *tensors;  /* name -> {dtype, shape, data_offsets}, insertion order */
    json_t *metadata; /* key -> string, insertion order */
    writer_item *items;
    size_t count, cap;
    uint64_t data_size;   /* running end offset */
    size_t max_lazy_bytes; /* size of the one buffer lazy tensors are filled into */
};

fg_error *fg_st_writer_create(fg_st_writer **out) {
    FG_CHECK_ARG(out, "fg_st_writer_create: NULL argument");
    fg_st_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->tensors = json_object();
        w->metadata = json_object();
    }
    if (!w || !w->tensors || !w->metadata) {
        fg_st_writer_free(w);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "creating a safetensors writer");
    }
    *out = w;
    return NULL;
}

void fg_st_writer_free(fg_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->items[i].name);
    free(w->items);
    json_decref(w->tensors);
    json_decref(w->metadata);
    free(w);
}

/* Names the reader would refuse are refused here, so a written file always reads back. */
static fg_error *check_name(const fg_st_writer *w, const char *name) {
    FG_CHECK_ARG(name, "safetensors writer: NULL tensor name");
    FG_CHECK_ARG(name[0], "safetensors writer: empty tensor name");
    FG_CHECK_ARG(strcmp(name, METADATA_KEY) != 0, "safetensors writer: '" METADATA_KEY "' is not a tensor name");
    json_t *probe = json_string(name); /* NULL for invalid UTF-8 */
    FG_CHECK_ARG(probe, "safetensors writer: tensor name is not valid UTF-8");
    json_decref(probe);
    FG_CHECK_ARG(!json_object_get(w->tensors, name), "safetensors writer: duplicate tensor name '%s'", name);
    return NULL;
}

static json_t *entry_json(fg_dtype dt, int ndim, const int64_t *shape, uint64_t begin, uint64_t end) {
    json_t *dims = json_array();
    for (int i = 0; dims && i < ndim; i++)
        if (json_array_append_new(dims, json_integer((json_int_t)shape[i])) != 0) {
            json_decref(dims);
            return NULL;
        }
    return json_pack("{s:s, s:o, s:[I,I]}", "dtype", fg_dtype_name(dt), "shape", dims, "data_offsets",
                     (json_int_t)begin, (json_int_t)end);
}

static fg_error *add_item(fg_st_writer *w, const char *name, fg_dtype dt, int ndim, const int64_t *shape,
                          writer_item item) {
    FG_TRY(check_name(w, name));
    size_t nbytes;
    FG_TRY_CTX(fg_shape_check(dt, ndim, shape, &nbytes), "safetensors writer: tensor '%s'", name);
    uint64_t end = w->data_size + nbytes;
    FG_CHECK_ARG(end >= w->data_size && end <= (uint64_t)INT64_MAX,
                 "safetensors writer: tensor '%s': data section would exceed 2^63 bytes", name);
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        writer_item *items = realloc(w->items, cap * sizeof *items);
        if (!items) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "safetensors writer: %zu tensors", cap);
        w->items = items;
        w->cap = cap;
    }
    item.name = strdup(name);
    item.nbytes = nbytes;
    json_t *entry = entry_json(dt, ndim, shape, w->data_size, end);
    if (!item.name || !entry || json_object_set_new(w->tensors, name, entry) != 0) {
        free(item.name);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "safetensors writer: tensor '%s'", name);
    }
    w->items[w->count++] = item;
    w->data_size = end;
    if (item.fill && nbytes > w->max_lazy_bytes) w->max_lazy_bytes = nbytes;
    return NULL;
}

fg_error *fg_st_writer_add(fg_st_writer *w, const char *name, const fg_tensor *t) {
    FG_CHECK_ARG(w && t, "fg_st_writer_add: NULL argument");
    FG_CHECK_ARG(t->device == FG_DEVICE_CPU, "safetensors writer: tensor '%s' is on %s, expected cpu",
                 name ? name : "?", fg_device_name(t->device));
    FG_CHECK_ARG(t->data || fg_tensor_numel(t) == 0, "safetensors writer: tensor '%s' has no data",
                 name ? name : "?");
    writer_item item = {.data = t->data};
    return add_item(w, name, t->dtype, t->ndim, t->shape, item);
}

fg_error *fg_st_writer_add_lazy(fg_st_writer *w, const char *name, fg_dtype dt, int ndim, const int64_t *shape,
                                fg_st_fill_fn fill, void *ctx) {
    FG_CHECK_ARG(w && fill && (shape || ndim == 0), "fg_st_writer_add_lazy: NULL argument");
    writer_item item = {.fill = fill, .ctx = ctx};
    return add_item(w, name, dt, ndim, shape, item);
}

fg_error *fg_st_writer_set_metadata(fg_st_writer *w, const char *key, const char *value) {
    FG_CHECK_ARG(w && key && value, "fg_st_writer_set_metadata: NULL argument");
    json_t *v = json_string(value);
    FG_CHECK_ARG(v, "safetensors writer: metadata '%s': value is not valid UTF-8", key);
    if (json_object_set_new(w->metadata, key, v) != 0) /* json_object_set_new frees v */
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "safetensors writer: metadata key is not valid UTF-8");
    return NULL;
}

/* ---- file output --------------------------------------------------------------------- */

static fg_error *write_all(int fd, const char *tmp, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return fg_errorf(FG_ERR_IO, "%s: write failed: %s", tmp, k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
    }
    return NULL;
}

/* Header text padded with spaces to a multiple of 8 (like the Python library), so the data
 * section starts 8-byte aligned. */
static fg_error *build_header(const fg_st_writer *w, char **text, size_t *len) {
    json_t *root = json_object();
    if (!root) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "safetensors header");
    int rc = 0;
    if (json_object_size(w->metadata) > 0) rc |= json_object_set(root, METADATA_KEY, w->metadata);
    rc |= json_object_update(root, w->tensors);
    char *json = rc == 0 ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!json) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "safetensors header");
    size_t n = strlen(json), padded = (n + 7) & ~(size_t)7;
    if (padded > FG_SAFETENSORS_MAX_HEADER) {
        free(json);
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "safetensors header of %zu bytes exceeds the limit of %u", padded,
                         FG_SAFETENSORS_MAX_HEADER);
    }
    char *out = malloc(8 + padded);
    if (!out) {
        free(json);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "safetensors header of %zu bytes", padded);
    }
    for (int i = 0; i < 8; i++) out[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
    memcpy(out + 8, json, n);
    memset(out + 8 + n, ' ', padded - n);
    free(json);
    *text = out;
    *len = 8 + padded;
    return NULL;
}

static fg_error *write_tensors(const fg_st_writer *w, int fd, const char *tmp, const char *path) {
    /* One buffer, as large as the largest lazy tensor, reused for all of them. */
    uint8_t *buf = malloc(w->max_lazy_bytes ? w->max_lazy_bytes : 1);
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: buffer of %zu bytes", path, w->max_lazy_bytes);
    fg_error *err = NULL;
    for (size_t i = 0; i < w->count && !err; i++) {
        const writer_item *it = &w->items[i];
        if (it->fill) {
            err = it->fill(it->ctx, it->name, buf, it->nbytes);
            if (err) err = fg_error_wrapf(err, "%s: tensor '%s'", path, it->name);
            else err = write_all(fd, tmp, buf, it->nbytes);
        } else if (it->nbytes) {
            err = write_all(fd, tmp, it->data, it->nbytes);
        }
    }
    free(buf);
    return err;
}

static fg_error *write_file(const fg_st_writer *w, int fd, const char *tmp, const char *path) {
    char *header = NULL;
    size_t header_len = 0;
    FG_TRY(build_header(w, &header, &header_len));
    fg_error *err = write_all(fd, tmp, header, header_len);
    free(header);
    if (!err) err = write_tensors(w, fd, tmp, path);
    /* fsync surfaces delayed write errors (ENOSPC, network filesystems) before the rename. */
    if (!err && fsync(fd) != 0) err = fg_errorf(FG_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    return err;
}

fg_error *fg_st_writer_write(fg_st_writer *w, const char *path) {
    FG_CHECK_ARG(w && path && path[0], "fg_st_writer_write: NULL argument");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: temporary name", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fg_error *err = fg_errorf(FG_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return err;
    }
    fg_error *err = write_file(w, fd, tmp, path);
    if (close(fd) != 0 && !err) err = fg_errorf(FG_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (!err && rename(tmp, path) != 0)
        err = fg_errorf(FG_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (err) unlink(tmp);
    free(tmp);
    return err;
}
