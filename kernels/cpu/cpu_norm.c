/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

fg_error *fg_cpu_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                            float eps, const fg_tensor *shift, const fg_tensor *scale) {
    (void)out; (void)x; (void)weight; (void)bias; (void)eps; (void)shift; (void)scale;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "layer_norm");
}

fg_error *fg_cpu_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) {
    (void)out; (void)x; (void)weight; (void)eps;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "rms_norm");
}

fg_error *fg_cpu_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                            const fg_tensor *bias, float eps, bool fuse_silu) {
    (void)out; (void)x; (void)groups; (void)weight; (void)bias; (void)eps; (void)fuse_silu;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "group_norm");
}
