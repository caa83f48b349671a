#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fg_device_name(fg_device dev) { return dev == FG_DEVICE_CUDA ? "cuda" : "cpu"; }

int64_t fg_tensor_numel(const fg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t fg_tensor_nbytes(const fg_tensor *t) {
    return (size_t)fg_tensor_numel(t) * fg_dtype_size(t->dtype);
}

fg_error *fg_shape_check(fg_dtype dt, int ndim, const int64_t *shape, size_t *nbytes) {
    char buf[128];
    if ((unsigned)dt >= FG_DTYPE_COUNT) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "unknown dtype %d", (int)dt);
    if (ndim < 0 || ndim > FG_MAX_DIMS)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%d dims (at most %d supported)", ndim, FG_MAX_DIMS);
    int64_t elem = (int64_t)fg_dtype_size(dt);
    int64_t total = elem;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "negative dimension in shape %s",
                             fg_shape_str(ndim, shape, buf, sizeof buf));
        if (shape[i] != 0 && total > INT64_MAX / shape[i])
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "shape %s of %s overflows 64-bit sizes",
                             fg_shape_str(ndim, shape, buf, sizeof buf), fg_dtype_name(dt));
        total *= shape[i];
    }
    if ((uint64_t)total > (uint64_t)SIZE_MAX)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "shape too large for this machine");
    if (nbytes) *nbytes = (size_t)total;
    return NULL;
}

fg_error *fg_tensor_view(fg_tensor *t, fg_dtype dt, fg_device dev, int ndim, const int64_t *shape, void *data) {
    FG_TRY(fg_shape_check(dt, ndim, shape, NULL));
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->device = dev;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->owns_data = false;
    return NULL;
}

fg_error *fg_tensor_alloc_host(fg_tensor *t, fg_dtype dt, int ndim, const int64_t *shape) {
    size_t nbytes;
    FG_TRY(fg_shape_check(dt, ndim, shape, &nbytes));
    size_t rounded = (nbytes + 63) & ~(size_t)63;
    if (rounded < nbytes) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tensor of %zu bytes", nbytes);
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        char buf[128];
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for a %s tensor %s", nbytes,
                         fg_dtype_name(dt), fg_shape_str(ndim, shape, buf, sizeof buf));
    }
    memset(p, 0, rounded ? rounded : 64);
    FG_TRY(fg_tensor_view(t, dt, FG_DEVICE_CPU, ndim, shape, p));
    t->owns_data = true;
    return NULL;
}

void fg_tensor_free_host(fg_tensor *t) {
    if (!t) return;
    if (t->owns_data && t->device == FG_DEVICE_CPU) free(t->data);
    memset(t, 0, sizeof *t);
}

fg_error *fg_tensor_reshape(fg_tensor *dst, const fg_tensor *src, int ndim, const int64_t *shape) {
    fg_tensor tmp;
    FG_TRY(fg_tensor_view(&tmp, src->dtype, src->device, ndim, shape, src->data));
    if (fg_tensor_numel(&tmp) != fg_tensor_numel(src)) {
        char a[128], b[128];
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "cannot reshape %s to %s", fg_tensor_shape_str(src, a, sizeof a),
                         fg_shape_str(ndim, shape, b, sizeof b));
    }
    *dst = tmp;
    return NULL;
}

bool fg_tensor_same_shape(const fg_tensor *a, const fg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *fg_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t used = 0;
    if (cap == 0) return buf;
    buf[0] = 0;
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

char *fg_tensor_shape_str(const fg_tensor *t, char *buf, size_t cap) {
    return fg_shape_str(t->ndim, t->shape, buf, cap);
}
