/* What a backend provides. The dispatcher (kernels/ops_*.c) validates every call once, then
 * calls the backend of the output's device, so backends receive only consistent arguments and
 * never repeat shape checks. A NULL entry means "not implemented on this backend" and yields
 * FG_ERR_UNSUPPORTED. Backends know tensors and ops, never models. */
#ifndef FG_KERNELS_BACKEND_H
#define FG_KERNELS_BACKEND_H

#include "kernels/ops.h"

typedef struct fg_backend {
    const char *name;
    fg_device device;

    /* memory */
    bool (*available)(void);
    const char *(*description)(void);
    fg_error *(*alloc)(void **ptr, size_t nbytes);  /* zeroed */
    void (*free)(void *ptr);
    /* copies nbytes; exactly one of src_dev/dst_dev may differ from this backend's device */
    fg_error *(*copy)(void *dst, fg_device dst_dev, const void *src, fg_device src_dev, size_t nbytes);
    fg_error *(*synchronize)(void);
    fg_error *(*memory_info)(size_t *free_bytes, size_t *total_bytes);
    fg_error *(*memory_stats)(fg_memory_stats *out);
    void (*reset_peak)(void);
    void (*release_cached)(void);
    /* graphs (NULL: unsupported) */
    fg_error *(*graph_capture_begin)(void);
    fg_error *(*graph_capture_end)(void **graph);
    fg_error *(*graph_launch)(void *graph);
    void (*graph_free)(void *graph);

    /* ops: same meaning as the public functions in ops.h, arguments already validated */
    fg_error *(*linear)(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        float w_scale, fg_activation act);
    fg_error *(*embedding)(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table);
    fg_error *(*attention)(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                           const fg_tensor *mask, float scale);
    fg_error *(*rope)(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin);
    fg_error *(*layer_norm)(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                            float eps, const fg_tensor *shift, const fg_tensor *scale);
    fg_error *(*rms_norm)(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps);
    fg_error *(*rms_norm_rope)(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                               const fg_tensor *cos, const fg_tensor *sin);
    fg_error *(*fill_uniform)(fg_tensor *out, uint64_t seed, float lo, float hi);
    fg_error *(*group_norm)(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                            const fg_tensor *bias, float eps, bool fuse_silu);
    fg_error *(*softmax)(fg_tensor *out, const fg_tensor *x);
    fg_error *(*unary)(fg_tensor *out, const fg_tensor *x, fg_activation act);
    fg_error *(*add)(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
    fg_error *(*mul)(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
    fg_error *(*add_gated)(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y);
    fg_error *(*axpby)(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y);
    fg_error *(*scale_shift)(fg_tensor *out, const fg_tensor *x, float mul, float add);
    fg_error *(*cast)(fg_tensor *out, const fg_tensor *x);
    fg_error *(*permute)(fg_tensor *out, const fg_tensor *x, const int *perm);
    fg_error *(*concat)(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim);
    fg_error *(*slice)(fg_tensor *out, const fg_tensor *x, int dim, int64_t start);
    fg_error *(*pad2d)(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                       fg_pad_mode mode);
    fg_error *(*patchify)(fg_tensor *out, const fg_tensor *x, int p);
    fg_error *(*unpatchify)(fg_tensor *out, const fg_tensor *x, int p);
    fg_error *(*upsample_nearest2x)(fg_tensor *out, const fg_tensor *x);
    fg_error *(*conv2d)(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        const fg_conv2d_params *params);
} fg_backend;

/* The CPU backend is always present. */
const fg_backend *fg_cpu_backend(void);
/* NULL when the binary was built without CUDA. */
const fg_backend *fg_cuda_backend(void);
/* Backend for dev, or NULL if not compiled in. */
const fg_backend *fg_backend_for(fg_device dev);

/* CUDA architectures compiled into this binary, e.g. "sm_80 sm_90a" ("" without CUDA). */
const char *fg_cuda_archs_compiled(void);

/* Dispatcher helpers shared by kernels/ops_*.c. */
fg_error *fg_dispatch_backend(const char *op, const fg_tensor *out, const fg_backend **be) FG_MUST_CHECK;
/* All non-NULL tensors must be on out's device. names[i] labels tensors[i] in the message. */
fg_error *fg_check_same_device(const char *op, const fg_tensor *out, int n, const fg_tensor *const *tensors,
                               const char *const *names) FG_MUST_CHECK;
fg_error *fg_unsupported_op(const fg_backend *be, const char *op) FG_MUST_CHECK;
/* t is present, has a sane header (known dtype, ndim in range, dims >= 0, no overflow) and
 * storage unless it is empty. Messages read "<op>: <name> ...". */
fg_error *fg_check_tensor(const char *op, const char *name, const fg_tensor *t) FG_MUST_CHECK;
/* fg_check_tensor plus a float dtype (weights may be any of the five). */
fg_error *fg_check_float(const char *op, const char *name, const fg_tensor *t) FG_MUST_CHECK;
/* Activation dtypes: out is F32 or BF16 and every non-NULL tensors[i] has out's dtype (the
 * message names the op and both tensors). Shapes and storage are checked elsewhere. */
fg_error *fg_check_act_dtypes(const char *op, const fg_tensor *out, int n, const fg_tensor *const *tensors,
                              const char *const *names) FG_MUST_CHECK;

#endif
