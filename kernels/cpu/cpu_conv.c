/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

fg_error *fg_cpu_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        const fg_conv2d_params *params) {
    (void)out; (void)x; (void)w; (void)bias; (void)params;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "conv2d");
}
