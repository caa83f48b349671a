/* A tensor is a small value: dtype, device, shape (row-major, contiguous, up to 5 dims) and a
 * data pointer. Storage is either borrowed (a view into an mmap'd file, an arena) or owned
 * (flag `owns_data`). Host allocation lives here; device allocation lives in kernels/backend.h
 * because core/ never knows about accelerators. */
#ifndef FG_CORE_TENSOR_H
#define FG_CORE_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"

#define FG_MAX_DIMS 5

typedef enum fg_device { FG_DEVICE_CPU = 0, FG_DEVICE_CUDA = 1 } fg_device;

typedef struct fg_tensor {
    fg_dtype dtype;
    fg_device device;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    void *data;
    bool owns_data;
} fg_tensor;

const char *fg_device_name(fg_device dev);

/* Product of dims; 1 for ndim 0. Shapes are validated on creation, so this cannot overflow. */
int64_t fg_tensor_numel(const fg_tensor *t);
size_t fg_tensor_nbytes(const fg_tensor *t);

/* Checks ndim in 0..5, dims >= 0, and numel * elem_size fits in int64. On success writes the
 * byte count to *nbytes (may be NULL). */
fg_error *fg_shape_check(fg_dtype dt, int ndim, const int64_t *shape, size_t *nbytes) FG_MUST_CHECK;

/* Makes t a borrowed view on data (no copy, no ownership). */
fg_error *fg_tensor_view(fg_tensor *t, fg_dtype dt, fg_device dev, int ndim, const int64_t *shape,
                         void *data) FG_MUST_CHECK;

/* Allocates zeroed, 64-byte aligned host storage. */
fg_error *fg_tensor_alloc_host(fg_tensor *t, fg_dtype dt, int ndim, const int64_t *shape) FG_MUST_CHECK;
/* Frees owned host storage and clears t; borrowed views are just cleared. */
void fg_tensor_free_host(fg_tensor *t);

/* Same element count, new shape; the storage is shared (the result never owns it). */
fg_error *fg_tensor_reshape(fg_tensor *dst, const fg_tensor *src, int ndim, const int64_t *shape) FG_MUST_CHECK;

bool fg_tensor_same_shape(const fg_tensor *a, const fg_tensor *b);
/* "[2, 16, 64, 64]" into buf (always terminated). Returns buf. */
char *fg_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);
char *fg_tensor_shape_str(const fg_tensor *t, char *buf, size_t cap);

/* Convenience for shapes written inline: FG_SHAPE(2, 16, 64, 64) -> ndim, (int64_t[]){...}. */
#define FG_SHAPE(...)                                                                      \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

#endif
