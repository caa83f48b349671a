/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

fg_error *fg_cpu_permute(fg_tensor *out, const fg_tensor *x, const int *perm) {
    (void)out; (void)x; (void)perm;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "permute");
}

fg_error *fg_cpu_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim) {
    (void)out; (void)inputs; (void)n; (void)dim;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "concat");
}

fg_error *fg_cpu_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start) {
    (void)out; (void)x; (void)dim; (void)start;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "slice");
}

fg_error *fg_cpu_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                       fg_pad_mode mode) {
    (void)out; (void)x; (void)top; (void)bottom; (void)left; (void)right; (void)mode;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "pad2d");
}

fg_error *fg_cpu_patchify(fg_tensor *out, const fg_tensor *x, int p) {
    (void)out; (void)x; (void)p;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "patchify");
}

fg_error *fg_cpu_unpatchify(fg_tensor *out, const fg_tensor *x, int p) {
    (void)out; (void)x; (void)p;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "unpatchify");
}

fg_error *fg_cpu_upsample_nearest2x(fg_tensor *out, const fg_tensor *x) {
    (void)out; (void)x;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "upsample_nearest2x");
}
