/* Backend selection, device memory and the checks shared by every op dispatcher. */
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

const fg_backend *fg_backend_for(fg_device dev) {
    if (dev == FG_DEVICE_CPU) return fg_cpu_backend();
    if (dev == FG_DEVICE_CUDA) return fg_cuda_backend();
    return NULL;
}

bool fg_device_available(fg_device dev) {
    const fg_backend *be = fg_backend_for(dev);
    return be && be->available();
}

const char *fg_device_description(fg_device dev) {
    const fg_backend *be = fg_backend_for(dev);
    if (!be) return "not compiled in";
    return be->description();
}

fg_error *fg_dispatch_backend(const char *op, const fg_tensor *out, const fg_backend **be) {
    const fg_backend *b = fg_backend_for(out->device);
    if (!b) return fg_errorf(FG_ERR_UNSUPPORTED, "%s: this binary has no %s backend", op, fg_device_name(out->device));
    *be = b;
    return NULL;
}

fg_error *fg_check_same_device(const char *op, const fg_tensor *out, int n, const fg_tensor *const *tensors,
                               const char *const *names) {
    for (int i = 0; i < n; i++) {
        if (tensors[i] && tensors[i]->device != out->device)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is on %s but the output is on %s", op, names[i],
                             fg_device_name(tensors[i]->device), fg_device_name(out->device));
    }
    return NULL;
}

fg_error *fg_unsupported_op(const fg_backend *be, const char *op) {
    return fg_errorf(FG_ERR_UNSUPPORTED, "op %s is not implemented on the %s backend yet", op, be->name);
}

fg_error *fg_check_tensor(const char *op, const char *name, const fg_tensor *t) {
    if (!t) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
    FG_TRY_CTX(fg_shape_check(t->dtype, t->ndim, t->shape, NULL), "%s: %s", op, name);
    if (!t->data && fg_tensor_numel(t) > 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s has no data", op, name);
    return NULL;
}

fg_error *fg_check_float(const char *op, const char *name, const fg_tensor *t) {
    FG_TRY(fg_check_tensor(op, name, t));
    FG_CHECK_ARG(fg_dtype_is_float(t->dtype), "%s: %s has dtype %s, expected a float dtype", op, name,
                 fg_dtype_name(t->dtype));
    return NULL;
}

fg_error *fg_check_act_dtypes(const char *op, const fg_tensor *out, int n, const fg_tensor *const *tensors,
                              const char *const *names) {
    if (out->dtype != FG_F32 && out->dtype != FG_BF16)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: out is %s; activations must be F32 or BF16", op,
                         fg_dtype_name(out->dtype));
    for (int i = 0; i < n; i++) {
        if (tensors[i] && tensors[i]->dtype != out->dtype)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                             "%s: %s is %s but out is %s (the activations of one call share one dtype)", op, names[i],
                             fg_dtype_name(tensors[i]->dtype), fg_dtype_name(out->dtype));
    }
    return NULL;
}

fg_error *fg_tensor_alloc(fg_tensor *t, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape) {
    size_t nbytes;
    FG_TRY(fg_shape_check(dt, ndim, shape, &nbytes));
    const fg_backend *be = fg_backend_for(dev);
    if (!be || !be->available())
        return fg_errorf(FG_ERR_DEVICE, "cannot allocate on %s: no such device", fg_device_name(dev));
    void *p = NULL;
    FG_TRY(be->alloc(&p, nbytes));
    FG_TRY(fg_tensor_view(t, dt, dev, ndim, shape, p));
    t->owns_data = true;
    return NULL;
}

void fg_tensor_free(fg_tensor *t) {
    if (!t) return;
    if (t->owns_data && t->data) {
        const fg_backend *be = fg_backend_for(t->device);
        if (be) be->free(t->data);
    }
    memset(t, 0, sizeof *t);
}

fg_error *fg_tensor_copy(fg_tensor *dst, const fg_tensor *src) {
    char a[96], b[96];
    if (dst->dtype != src->dtype || fg_tensor_numel(dst) != fg_tensor_numel(src))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "copy: %s %s into %s %s", fg_dtype_name(src->dtype),
                         fg_tensor_shape_str(src, a, sizeof a), fg_dtype_name(dst->dtype),
                         fg_tensor_shape_str(dst, b, sizeof b));
    size_t n = fg_tensor_nbytes(src);
    if (n == 0) return NULL;
    /* The accelerator's backend drives any copy that touches it. */
    fg_device dev = dst->device != FG_DEVICE_CPU ? dst->device : src->device;
    const fg_backend *be = fg_backend_for(dev);
    if (!be) return fg_errorf(FG_ERR_UNSUPPORTED, "copy: this binary has no %s backend", fg_device_name(dev));
    return be->copy(dst->data, dst->device, src->data, src->device, n);
}

fg_error *fg_device_synchronize(fg_device dev) {
    const fg_backend *be = fg_backend_for(dev);
    if (!be) return fg_errorf(FG_ERR_UNSUPPORTED, "this binary has no %s backend", fg_device_name(dev));
    return be->synchronize();
}

/* ---- memory statistics ------------------------------------------------------------------ */

static fg_error *backend_or_error(fg_device dev, const fg_backend **be) {
    *be = fg_backend_for(dev);
    if (!*be) return fg_errorf(FG_ERR_UNSUPPORTED, "this binary has no %s backend", fg_device_name(dev));
    return NULL;
}

fg_error *fg_device_memory_info(fg_device dev, size_t *free_bytes, size_t *total_bytes) {
    const fg_backend *be;
    FG_TRY(backend_or_error(dev, &be));
    FG_CHECK_ARG(free_bytes && total_bytes, "memory_info: free_bytes and total_bytes must not be NULL");
    if (!be->memory_info)
        return fg_errorf(FG_ERR_UNSUPPORTED, "memory_info is not implemented on the %s backend", be->name);
    return be->memory_info(free_bytes, total_bytes);
}

fg_error *fg_device_memory_stats(fg_device dev, fg_memory_stats *out) {
    const fg_backend *be;
    FG_TRY(backend_or_error(dev, &be));
    FG_CHECK_ARG(out, "memory_stats: out must not be NULL");
    if (!be->memory_stats)
        return fg_errorf(FG_ERR_UNSUPPORTED, "memory_stats is not implemented on the %s backend", be->name);
    return be->memory_stats(out);
}

void fg_device_reset_peak(fg_device dev) {
    const fg_backend *be = fg_backend_for(dev);
    if (be && be->reset_peak) be->reset_peak();
}

void fg_device_release_cached(fg_device dev) {
    const fg_backend *be = fg_backend_for(dev);
    if (be && be->release_cached) be->release_cached();
}

/* ---- graphs ------------------------------------------------------------------------------ */

struct fg_graph {
    fg_device device;
    void *handle; /* the backend's executable graph */
};

fg_error *fg_graph_capture_begin(fg_device dev) {
    const fg_backend *be;
    FG_TRY(backend_or_error(dev, &be));
    if (!be->graph_capture_begin || !be->graph_capture_end || !be->graph_launch || !be->graph_free)
        return fg_errorf(FG_ERR_UNSUPPORTED, "graph capture is not supported on the %s backend; run the ops eagerly",
                         be->name);
    return be->graph_capture_begin();
}

fg_error *fg_graph_capture_end(fg_device dev, fg_graph **out) {
    const fg_backend *be;
    FG_TRY(backend_or_error(dev, &be));
    FG_CHECK_ARG(out, "graph_capture_end: out must not be NULL");
    *out = NULL;
    if (!be->graph_capture_end || !be->graph_free)
        return fg_errorf(FG_ERR_UNSUPPORTED, "graph capture is not supported on the %s backend", be->name);
    fg_graph *g = calloc(1, sizeof *g);
    void *handle = NULL;
    fg_error *err = be->graph_capture_end(&handle);
    if (err) {
        free(g);
        return err;
    }
    if (!g) {
        be->graph_free(handle);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "graph_capture_end: cannot allocate the graph");
    }
    g->device = dev;
    g->handle = handle;
    *out = g;
    return NULL;
}

fg_error *fg_graph_launch(fg_graph *g) {
    FG_CHECK_ARG(g, "graph_launch: graph is NULL");
    const fg_backend *be;
    FG_TRY(backend_or_error(g->device, &be));
    if (!be->graph_launch) return fg_errorf(FG_ERR_UNSUPPORTED, "graph launch is not supported on the %s backend", be->name);
    return be->graph_launch(g->handle);
}

void fg_graph_free(fg_graph *g) {
    if (!g) return;
    const fg_backend *be = fg_backend_for(g->device);
    if (be && be->graph_free && g->handle) be->graph_free(g->handle);
    free(g);
}

fg_error *fg_act_dtype_check(const char *who, fg_dtype dt) {
    FG_CHECK_ARG(dt == FG_F32 || dt == FG_BF16, "%s: activations must be F32 or BF16, not %s", who,
                 dt >= 0 && dt < FG_DTYPE_COUNT ? fg_dtype_name(dt) : "an unknown dtype");
    return NULL;
}
