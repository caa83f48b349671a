/* Dispatcher of conv2d: shapes, dtypes, devices and the output size formula. */
#include <stdio.h>

#include "kernels/backend.h"

static fg_error *check_params(const char *op, const fg_conv2d_params *p) {
    if (!p) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->stride < 1) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: stride %d must be >= 1", op, p->stride);
    if (p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: negative padding (top %d, bottom %d, left %d, right %d)", op,
                         p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    return NULL;
}

static fg_error *check_shapes(const char *op, const fg_tensor *out, const fg_tensor *x, const fg_tensor *w,
                              const fg_tensor *bias, const fg_conv2d_params *p) {
    char a[96], b[96], c[96];
    if (x->ndim != 4)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: x is %s, not 4 dims [B, Ci, H, W]", op,
                         fg_tensor_shape_str(x, a, sizeof a));
    if (w->ndim != 4 || w->shape[1] != x->shape[1])
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: w is %s but x %s needs [Co, %lld, kh, kw]", op,
                         fg_tensor_shape_str(w, a, sizeof a), fg_tensor_shape_str(x, b, sizeof b),
                         (long long)x->shape[1]);
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: bias is %s but w %s needs [%lld]", op,
                         fg_tensor_shape_str(bias, a, sizeof a), fg_tensor_shape_str(w, b, sizeof b),
                         (long long)w->shape[0]);
    int64_t kh = w->shape[2], kw = w->shape[3];
    int64_t hp = p->pad_top + x->shape[2] + p->pad_bottom, wp = p->pad_left + x->shape[3] + p->pad_right;
    if (kh < 1 || kw < 1 || hp < kh || wp < kw)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: kernel %lldx%lld does not fit the padded input %lldx%lld", op,
                         (long long)kh, (long long)kw, (long long)hp, (long long)wp);
    int64_t want[4] = {x->shape[0], w->shape[0], (hp - kh) / p->stride + 1, (wp - kw) / p->stride + 1};
    bool ok = out->ndim == 4;
    for (int i = 0; ok && i < 4; i++) ok = out->shape[i] == want[i];
    if (!ok)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: out is %s but x %s with w %s (stride %d) gives %s", op,
                         fg_tensor_shape_str(out, a, sizeof a), fg_tensor_shape_str(x, b, sizeof b),
                         fg_tensor_shape_str(w, c, sizeof c), p->stride, fg_shape_str(4, want, (char[96]){0}, 96));
    return NULL;
}

fg_error *fg_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                    const fg_conv2d_params *params) {
    const char *op = "conv2d";
    FG_TRY(fg_check_tensor(op, "out", out));
    FG_TRY(fg_check_tensor(op, "x", x));
    FG_TRY(fg_check_tensor(op, "w", w));
    if (bias) FG_TRY(fg_check_tensor(op, "bias", bias));
    FG_TRY(check_params(op, params));
    FG_TRY(fg_check_act_dtypes(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    if (!fg_dtype_is_float(w->dtype) || (bias && !fg_dtype_is_float(bias->dtype)))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: weights must be a float dtype (w is %s%s%s)", op,
                         fg_dtype_name(w->dtype), bias ? ", bias is " : "", bias ? fg_dtype_name(bias->dtype) : "");
    FG_TRY(check_shapes(op, out, x, w, bias, params));
    FG_TRY(fg_check_same_device(op, out, 3, (const fg_tensor *const[]){x, w, bias},
                                (const char *const[]){"x", "w", "bias"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->conv2d) return fg_unsupported_op(be, op);
    return be->conv2d(out, x, w, bias, params);
}
