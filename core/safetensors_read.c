/* Strict safetensors reader: one read-only mapping, every header rule checked at open time. */
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mapped_files.h"

#define METADATA_KEY "__metadata__"

struct fg_safetensors {
    char *label;             /* path or caller's label, the prefix of every error */
    void *map;               /* mmap base (NULL for memory buffers) */
    size_t map_size;
    const uint8_t *data;     /* start of the data section */
    uint64_t data_size;
    fg_st_entry *entries;    /* sorted by (begin, end, name) */
    size_t count;
    const fg_st_entry **by_name; /* entries sorted by name, for binary search */
    char *names;             /* one pool holding every tensor name */
    size_t meta_count;
    char **meta_keys, **meta_values;
    /* Per entry: an aligned copy of a tensor whose bytes are not aligned to its element size in
     * the file (the format allows any header length and offset), made on first use so every
     * consumer reads properly aligned data. NULL until needed. */
    void **aligned;
    pthread_mutex_t aligned_lock;
    int mapped_slot; /* in core/mapped_files.h's table, -1 when not recorded */
};

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

static fg_error *format_error(const fg_safetensors *st, const char *tensor, const char *fmt, ...) FG_PRINTF(3, 4);

/* "<label>: [tensor '<name>': ]<message>" */
static fg_error *format_error(const fg_safetensors *st, const char *tensor, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fg_error *err = fg_verrorf(FG_ERR_FORMAT, fmt, ap);
    va_end(ap);
    if (tensor) err = fg_error_wrapf(err, "tensor '%s'", tensor);
    return fg_error_wrapf(err, "%s", st->label);
}

/* ---- header entries ------------------------------------------------------------------ */

/* A JSON integer in [0, INT64_MAX]; anything else (real, bool, string, negative) fails. */
static int json_nonneg_int(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

static fg_error *parse_dtype(const fg_safetensors *st, const char *name, const json_t *v, fg_st_entry *e) {
    if (!json_is_string(v)) return format_error(st, name, "dtype is %s, expected a string", json_kind(v));
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || fg_dtype_from_name(s, &e->dtype) != 0)
        return format_error(st, name, "unknown or unsupported dtype '%s' (expected F32, BF16, F16, F8_E4M3, "
                            "F8_E5M2, I64, I32, U8 or BOOL)", s);
    return NULL;
}

static fg_error *parse_shape(const fg_safetensors *st, const char *name, const json_t *v, fg_st_entry *e) {
    if (!json_is_array(v)) return format_error(st, name, "shape is %s, expected an array", json_kind(v));
    size_t n = json_array_size(v);
    if (n > FG_MAX_DIMS) return format_error(st, name, "shape has %zu dims (at most %d supported)", n, FG_MAX_DIMS);
    e->ndim = (int)n;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(v, i);
        if (json_nonneg_int(d, &e->shape[i]) != 0)
            return format_error(st, name, "shape[%zu] is %s, expected a non-negative integer", i,
                                json_is_integer(d) ? "negative" : json_kind(d));
    }
    return NULL;
}

static fg_error *parse_offsets(const fg_safetensors *st, const char *name, const json_t *v, fg_st_entry *e) {
    if (!json_is_array(v))
        return format_error(st, name, "data_offsets is %s, expected an array [begin, end]", json_kind(v));
    if (json_array_size(v) != 2)
        return format_error(st, name, "data_offsets has %zu elements, expected 2 [begin, end]", json_array_size(v));
    int64_t be[2];
    for (size_t i = 0; i < 2; i++) {
        const json_t *d = json_array_get(v, i);
        if (json_nonneg_int(d, &be[i]) != 0)
            return format_error(st, name, "data_offsets[%zu] is %s, expected a non-negative integer", i,
                                json_is_integer(d) ? "negative" : json_kind(d));
    }
    e->begin = (uint64_t)be[0];
    e->end = (uint64_t)be[1];
    if (e->begin > e->end)
        return format_error(st, name, "data_offsets [%llu, %llu]: begin > end", (unsigned long long)e->begin,
                            (unsigned long long)e->end);
    return NULL;
}

/* Checks the entry against itself and the data section: span == numel * size, end in range. */
static fg_error *check_entry_span(const fg_safetensors *st, const char *name, const fg_st_entry *e) {
    size_t nbytes;
    char shape[160];
    fg_shape_str(e->ndim, e->shape, shape, sizeof shape);
    fg_error *err = fg_shape_check(e->dtype, e->ndim, e->shape, &nbytes);
    if (err) {
        fg_error *fmt = format_error(st, name, "%s", fg_error_message(err));
        fg_error_free(err);
        return fmt;
    }
    unsigned long long b = e->begin, en = e->end;
    if (e->end - e->begin != (uint64_t)nbytes)
        return format_error(st, name, "data_offsets [%llu, %llu] span %llu bytes but %s %s needs %zu", b, en, en - b,
                            fg_dtype_name(e->dtype), shape, nbytes);
    if (e->end > st->data_size)
        return format_error(st, name, "data_offsets [%llu, %llu] end past the data section (%llu bytes)", b, en,
                            (unsigned long long)st->data_size);
    return NULL;
}

static fg_error *parse_entry(const fg_safetensors *st, const char *name, const json_t *v, fg_st_entry *e) {
    if (!json_is_object(v)) return format_error(st, name, "entry is %s, expected an object", json_kind(v));
    const char *key;
    const json_t *field;
    json_object_foreach((json_t *)v, key, field) {
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 && strcmp(key, "data_offsets") != 0)
            return format_error(st, name, "unknown field '%s' (allowed: dtype, shape, data_offsets)", key);
    }
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < 3; i++)
        if (!json_object_get(v, required[i])) return format_error(st, name, "missing field '%s'", required[i]);
    FG_TRY(parse_dtype(st, name, json_object_get(v, "dtype"), e));
    FG_TRY(parse_shape(st, name, json_object_get(v, "shape"), e));
    FG_TRY(parse_offsets(st, name, json_object_get(v, "data_offsets"), e));
    return check_entry_span(st, name, e);
}

static fg_error *parse_metadata(fg_safetensors *st, const json_t *v) {
    if (!json_is_object(v)) return format_error(st, NULL, METADATA_KEY " is %s, expected an object", json_kind(v));
    size_t n = json_object_size(v);
    st->meta_keys = calloc(n ? n : 1, sizeof *st->meta_keys);
    st->meta_values = calloc(n ? n : 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: metadata of %zu entries", st->label, n);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_string(val))
            return format_error(st, NULL, METADATA_KEY " value of '%s' is %s, expected a string", key, json_kind(val));
        size_t i = st->meta_count;
        st->meta_keys[i] = dup_str(key);
        st->meta_values[i] = dup_str(json_string_value(val));
        if (st->meta_keys[i] || st->meta_values[i]) st->meta_count++; /* so close() frees a half pair */
        if (!st->meta_keys[i] || !st->meta_values[i])
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: metadata '%s'", st->label, key);
    }
    return NULL;
}

/* ---- ordering and lookup ------------------------------------------------------------- */

static int cmp_offsets(const void *a, const void *b) {
    const fg_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1; /* zero-size tensors first at a shared begin */
    return strcmp(x->name, y->name);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((*(const fg_st_entry *const *)a)->name, (*(const fg_st_entry *const *)b)->name);
}

static fg_error *check_tiling(const fg_safetensors *st) {
    uint64_t cursor = 0;
    for (size_t i = 0; i < st->count; i++) {
        const fg_st_entry *e = &st->entries[i];
        unsigned long long b = e->begin, en = e->end, c = cursor;
        if (e->begin > cursor)
            return format_error(st, e->name, "data_offsets [%llu, %llu] leave a gap: the previous tensor ends at "
                                "byte %llu", b, en, c);
        if (e->begin < cursor)
            return format_error(st, e->name, "data_offsets [%llu, %llu] overlap the previous tensor, which ends at "
                                "byte %llu", b, en, c);
        cursor = e->end;
    }
    if (cursor != st->data_size)
        return format_error(st, NULL, "data section has %llu bytes but the tensors cover only %llu (trailing bytes)",
                            (unsigned long long)st->data_size, (unsigned long long)cursor);
    return NULL;
}

/* Sorts by offset (the reading order), builds the name index, then checks the tiling. */
static fg_error *index_entries(fg_safetensors *st) {
    if (st->count > 1) qsort(st->entries, st->count, sizeof *st->entries, cmp_offsets);
    st->by_name = malloc((st->count ? st->count : 1) * sizeof *st->by_name);
    if (!st->by_name) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: index of %zu tensors", st->label, st->count);
    for (size_t i = 0; i < st->count; i++) st->by_name[i] = &st->entries[i];
    if (st->count > 1) qsort(st->by_name, st->count, sizeof *st->by_name, cmp_names);
    return check_tiling(st);
}

/* ---- header -------------------------------------------------------------------------- */

static fg_error *parse_tensors(fg_safetensors *st, json_t *root) {
    size_t pool = 0, n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, METADATA_KEY) == 0) continue;
        pool += strlen(key) + 1;
        n++;
    }
    st->entries = calloc(n ? n : 1, sizeof *st->entries);
    st->names = malloc(pool ? pool : 1);
    if (!st->entries || !st->names)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: header of %zu tensors", st->label, n);
    char *next_name = st->names;
    json_object_foreach(root, key, val) {
        if (strcmp(key, METADATA_KEY) == 0) {
            FG_TRY(parse_metadata(st, val));
            continue;
        }
        if (!key[0]) return format_error(st, NULL, "empty tensor name");
        fg_st_entry *e = &st->entries[st->count];
        size_t len = strlen(key) + 1;
        memcpy(next_name, key, len);
        e->name = next_name;
        next_name += len;
        FG_TRY(parse_entry(st, e->name, val, e));
        st->count++;
    }
    return index_entries(st);
}

static fg_error *parse_header(fg_safetensors *st, const char *text, size_t len) {
    /* Raw NUL bytes: Jansson would stop at them in some paths; reject them explicitly. */
    if (memchr(text, 0, len)) return format_error(st, NULL, "header contains a NUL byte");
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return format_error(st, NULL, "header is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                            jerr.column);
    fg_error *err = NULL;
    if (!json_is_object(root))
        err = format_error(st, NULL, "header is %s, expected a JSON object", json_kind(root));
    else
        err = parse_tensors(st, root);
    json_decref(root);
    return err;
}

/* Validates the framing (length prefix) and the header over bytes[0, size). */
static fg_error *parse_buffer(fg_safetensors *st, const uint8_t *bytes, uint64_t size) {
    if (size < 8)
        return format_error(st, NULL, "file is %llu bytes, too short for the 8-byte header length",
                            (unsigned long long)size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    if (n > size - 8)
        return format_error(st, NULL, "header length %llu exceeds the file size (%llu bytes after the length)",
                            (unsigned long long)n, (unsigned long long)(size - 8));
    if (n > FG_SAFETENSORS_MAX_HEADER)
        return format_error(st, NULL, "header length %llu exceeds the limit of %u bytes", (unsigned long long)n,
                            FG_SAFETENSORS_MAX_HEADER);
    if (n < 2) return format_error(st, NULL, "header length %llu is too small for a JSON object", (unsigned long long)n);
    st->data = bytes + 8 + n;
    st->data_size = size - 8 - n;
    return parse_header(st, (const char *)bytes + 8, (size_t)n);
}

/* ---- open/close ---------------------------------------------------------------------- */

static fg_error *new_handle(const char *label, fg_safetensors **out) {
    fg_safetensors *st = calloc(1, sizeof *st);
    if (st) {
        pthread_mutex_init(&st->aligned_lock, NULL);
        st->mapped_slot = -1;
    }
    if (!st || !(st->label = dup_str(label))) {
        free(st);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: opening", label);
    }
    *out = st;
    return NULL;
}

/* Maps path read-only; regular files only (a FIFO would block, a directory cannot be mapped). */
static fg_error *map_file(fg_safetensors *st, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fg_errorf(FG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    fg_error *err = NULL;
    if (fstat(fd, &sb) != 0)
        err = fg_errorf(FG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        err = fg_errorf(FG_ERR_IO, "%s: is a directory, not a safetensors file", path);
    else if (!S_ISREG(sb.st_mode))
        err = fg_errorf(FG_ERR_IO, "%s: not a regular file", path);
    else if (sb.st_size < 8)
        err = format_error(st, NULL, "file is %lld bytes, too short for the 8-byte header length",
                           (long long)sb.st_size);
    else if ((uint64_t)sb.st_size > SIZE_MAX)
        err = fg_errorf(FG_ERR_IO, "%s: file too large to map on this machine", path);
    if (!err) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            err = fg_errorf(FG_ERR_IO, "%s: cannot mmap %lld bytes: %s", path, (long long)sb.st_size, strerror(errno));
        else {
            st->map = m;
            st->map_size = (size_t)sb.st_size;
            st->mapped_slot = fg_mapped_files_add(m, st->map_size, path);
        }
    }
    close(fd);
    return err;
}

fg_error *fg_safetensors_open(const char *path, fg_safetensors **out) {
    FG_CHECK_ARG(path && out, "fg_safetensors_open: NULL argument");
    *out = NULL;
    fg_safetensors *st;
    FG_TRY(new_handle(path, &st));
    fg_error *err = map_file(st, path);
    if (!err) err = parse_buffer(st, st->map, st->map_size);
    if (err) {
        fg_safetensors_close(st);
        return err;
    }
    *out = st;
    return NULL;
}

fg_error *fg_safetensors_open_memory(const void *data, size_t size, const char *label, fg_safetensors **out) {
    FG_CHECK_ARG(out && (data || size == 0), "fg_safetensors_open_memory: NULL argument");
    *out = NULL;
    fg_safetensors *st;
    FG_TRY(new_handle(label ? label : "<memory>", &st));
    static const uint8_t empty[1];
    fg_error *err = parse_buffer(st, data ? data : empty, size);
    if (err) {
        fg_safetensors_close(st);
        return err;
    }
    *out = st;
    return NULL;
}

void fg_safetensors_close(fg_safetensors *st) {
    if (!st) return;
    fg_mapped_files_remove(st->mapped_slot);
    if (st->map) munmap(st->map, st->map_size);
    for (size_t i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    if (st->aligned) {
        for (size_t i = 0; i < st->count; i++) free(st->aligned[i]);
        free(st->aligned);
    }
    pthread_mutex_destroy(&st->aligned_lock);
    free(st->entries);
    free(st->by_name);
    free(st->names);
    free(st->label);
    free(st);
}

/* ---- queries ------------------------------------------------------------------------- */

const char *fg_safetensors_path(const fg_safetensors *st) { return st->label; }

size_t fg_safetensors_count(const fg_safetensors *st) { return st->count; }

const fg_st_entry *fg_safetensors_entry(const fg_safetensors *st, size_t i) {
    return i < st->count ? &st->entries[i] : NULL;
}

const fg_st_entry *fg_safetensors_find(const fg_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fg_st_entry *e = st->by_name[mid];
        int c = strcmp(name, e->name);
        if (c == 0) return e;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* The aligned copy of a misaligned entry (see fg_safetensors.aligned), made once. */
static fg_error *aligned_copy(fg_safetensors *st, const fg_st_entry *e, const void **bytes) {
    const size_t index = (size_t)(e - st->entries), n = (size_t)(e->end - e->begin);
    fg_error *err = NULL;
    pthread_mutex_lock(&st->aligned_lock);
    if (!st->aligned) st->aligned = calloc(st->count, sizeof *st->aligned);
    if (!st->aligned) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying a misaligned tensor");
    else if (!st->aligned[index]) {
        st->aligned[index] = aligned_alloc(64, (n + 63) / 64 * 64);
        if (st->aligned[index]) memcpy(st->aligned[index], st->data + e->begin, n);
        else err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying a misaligned tensor of %zu bytes", n);
    }
    if (!err) *bytes = st->aligned[index];
    pthread_mutex_unlock(&st->aligned_lock);
    return err;
}

fg_error *fg_safetensors_entry_tensor(const fg_safetensors *st, const fg_st_entry *e, fg_tensor *out) {
    FG_CHECK_ARG(st && e && out, "fg_safetensors_entry_tensor: NULL argument");
    FG_CHECK_ARG(e >= st->entries && e < st->entries + st->count, "%s: entry does not belong to this file",
                 st->label);
    const void *bytes = st->data + e->begin;
    if ((uintptr_t)bytes % fg_dtype_size(e->dtype) != 0)
        FG_TRY_CTX(aligned_copy((fg_safetensors *)st, e, &bytes), "%s: tensor '%s'", st->label, e->name);
    /* The mapping is read-only; fg_tensor has no const data, so callers must not write through it. */
    return fg_error_wrapf(fg_tensor_view(out, e->dtype, FG_DEVICE_CPU, e->ndim, e->shape, (void *)(uintptr_t)bytes),
                          "%s: tensor '%s'", st->label, e->name);
}

fg_error *fg_safetensors_tensor(const fg_safetensors *st, const char *name, fg_tensor *out) {
    FG_CHECK_ARG(st && name && out, "fg_safetensors_tensor: NULL argument");
    const fg_st_entry *e = fg_safetensors_find(st, name);
    if (!e) return fg_errorf(FG_ERR_NOT_FOUND, "%s: tensor '%s' not found", st->label, name);
    return fg_safetensors_entry_tensor(st, e, out);
}

const char *fg_safetensors_metadata(const fg_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->meta_count; i++)
        if (st->meta_keys[i] && strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

size_t fg_safetensors_metadata_count(const fg_safetensors *st) { return st->meta_count; }

void fg_safetensors_metadata_at(const fg_safetensors *st, size_t i, const char **key, const char **value) {
    const char *k = NULL, *v = NULL;
    if (i < st->meta_count) {
        k = st->meta_keys[i];
        v = st->meta_values[i];
    }
    if (key) *key = k;
    if (value) *value = v;
}
