/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

fg_error *fg_cpu_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                           const fg_tensor *mask, float scale) {
    (void)out; (void)q; (void)k; (void)v; (void)mask; (void)scale;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "attention");
}

fg_error *fg_cpu_softmax(fg_tensor *out, const fg_tensor *x) {
    (void)out; (void)x;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "softmax");
}

fg_error *fg_cpu_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) {
    (void)out; (void)x; (void)cos; (void)sin;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "rope");
}
