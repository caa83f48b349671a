/* Placeholder: replaced by the real implementation of this op family. */
#include "kernels/cpu/cpu_ops.h"

float fg_cpu_activate(float x, fg_activation act) { (void)act; return x; }

fg_error *fg_cpu_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) {
    (void)out; (void)x; (void)act;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "unary");
}

fg_error *fg_cpu_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    (void)out; (void)a; (void)b;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "add");
}

fg_error *fg_cpu_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    (void)out; (void)a; (void)b;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "mul");
}

fg_error *fg_cpu_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) {
    (void)out; (void)x; (void)gate; (void)y;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "add_gated");
}

fg_error *fg_cpu_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    (void)out; (void)alpha; (void)x; (void)beta; (void)y;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "axpby");
}

fg_error *fg_cpu_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    (void)out; (void)x; (void)mul; (void)add;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "scale_shift");
}

fg_error *fg_cpu_cast(fg_tensor *out, const fg_tensor *x) {
    (void)out; (void)x;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cpu op %s pending", "cast");
}
