/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

fg_error *fg_cpu_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        float w_scale, fg_activation act) {
    (void)out; (void)x; (void)w; (void)bias; (void)w_scale; (void)act;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "linear");
}

fg_error *fg_cpu_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    (void)out; (void)ids; (void)table;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "embedding");
}
