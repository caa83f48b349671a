/* safetensors files: a strict reader over mmap and a streaming writer.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON object header
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data section. Offsets are relative to the data
 * section. The reader treats every file as hostile: every rule below is checked at open time,
 * so a successfully opened file can be read without further bounds checks:
 *   - header length <= file size - 8 and <= FG_SAFETENSORS_MAX_HEADER;
 *   - the header is a JSON object (no duplicate keys), entries are objects with exactly the
 *     known fields; dtype names known; shape an array of <= 5 non-negative integers;
 *   - numel * dtype size == end - begin (overflow checked); 0 <= begin <= end <= data size;
 *   - sorted by offset, the entries tile the data section exactly: no gaps, no overlaps, no
 *     trailing bytes;
 *   - __metadata__, when present, is an object of string values; tensor names are non-empty.
 * Real files are 10-24 GB: the data is mapped once and never copied by the reader.
 * Tensor data is only as aligned as the file makes it: files written by the Python library (and
 * by this writer) pad the header to a multiple of 8, but the format does not require it. */
#ifndef FG_CORE_SAFETENSORS_H
#define FG_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

#define FG_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef struct fg_st_entry {
    const char *name;
    fg_dtype dtype;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    uint64_t begin, end; /* byte offsets inside the data section */
} fg_st_entry;

typedef struct fg_safetensors fg_safetensors;

/* Opens and validates path. Errors name the file and, where relevant, the tensor. */
fg_error *fg_safetensors_open(const char *path, fg_safetensors **out) FG_MUST_CHECK;
/* Same over a caller-owned buffer that must outlive the handle (tests, fuzzing, embedded
 * data). `label` names it in errors. */
fg_error *fg_safetensors_open_memory(const void *data, size_t size, const char *label,
                                     fg_safetensors **out) FG_MUST_CHECK;
void fg_safetensors_close(fg_safetensors *st);

const char *fg_safetensors_path(const fg_safetensors *st);
size_t fg_safetensors_count(const fg_safetensors *st);
/* Entries in data-offset order (i < count; NULL past the end). At a shared offset zero-size
 * tensors come first, ties broken by name. */
const fg_st_entry *fg_safetensors_entry(const fg_safetensors *st, size_t i);
/* NULL if absent. O(log n) (binary search over a name index built at open time). */
const fg_st_entry *fg_safetensors_find(const fg_safetensors *st, const char *name);
/* A CPU tensor viewing the mapped bytes (read-only in practice: do not write through it).
 * FG_ERR_NOT_FOUND names the tensor and file when absent. */
fg_error *fg_safetensors_tensor(const fg_safetensors *st, const char *name, fg_tensor *out) FG_MUST_CHECK;
/* Same for an entry obtained from fg_safetensors_entry. */
fg_error *fg_safetensors_entry_tensor(const fg_safetensors *st, const fg_st_entry *e, fg_tensor *out) FG_MUST_CHECK;

/* __metadata__ access; NULL when the key (or the whole map) is absent. */
const char *fg_safetensors_metadata(const fg_safetensors *st, const char *key);
size_t fg_safetensors_metadata_count(const fg_safetensors *st);
void fg_safetensors_metadata_at(const fg_safetensors *st, size_t i, const char **key, const char **value);

/* ---- writer -------------------------------------------------------------------------- */

/* Produces the bytes of one tensor while the file is written (so a 24 GB model is never held
 * in memory). Must fill exactly nbytes. */
typedef fg_error *(*fg_st_fill_fn)(void *ctx, const char *name, void *buf, size_t nbytes);

typedef struct fg_st_writer fg_st_writer;

fg_error *fg_st_writer_create(fg_st_writer **out) FG_MUST_CHECK;
void fg_st_writer_free(fg_st_writer *w);
/* Adds a tensor whose bytes are t->data (a CPU tensor that must stay valid until write). */
fg_error *fg_st_writer_add(fg_st_writer *w, const char *name, const fg_tensor *t) FG_MUST_CHECK;
/* Adds a tensor whose bytes come from fill(ctx, ...) during write: one call per tensor with the
 * whole tensor's nbytes, into one reused buffer as large as the largest lazy tensor. A fill
 * error aborts the write (no file is left behind). */
fg_error *fg_st_writer_add_lazy(fg_st_writer *w, const char *name, fg_dtype dt, int ndim, const int64_t *shape,
                                fg_st_fill_fn fill, void *ctx) FG_MUST_CHECK;
fg_error *fg_st_writer_set_metadata(fg_st_writer *w, const char *key, const char *value) FG_MUST_CHECK;
/* Writes to "<path>.tmp" and renames it over path only when everything succeeded, so a
 * failure never leaves a partial file (an existing file at path stays untouched). Tensors
 * appear in the order they were added, __metadata__ first, the header padded with spaces to a
 * multiple of 8 bytes. Names the reader would reject (empty, "__metadata__", duplicates,
 * invalid UTF-8) are refused when added. */
fg_error *fg_st_writer_write(fg_st_writer *w, const char *path) FG_MUST_CHECK;

#endif
