/* Dispatchers of the elementwise ops: validate once (every message names the op, the argument
 * and the shapes), then hand over to the backend of out's device. */
#include <stdio.h>

#include "kernels/backend.h"

/* An activation input: present, a sane header, and out's dtype. */
static fg_error *check_act(const char *op, const char *name, const fg_tensor *t, const fg_tensor *out) {
    FG_TRY(fg_check_tensor(op, name, t));
    return fg_check_act_dtypes(op, out, 1, &t, &name);
}

/* The output: F32 or BF16 activations. */
static fg_error *check_out(const char *op, const fg_tensor *out) {
    FG_TRY(fg_check_tensor(op, "out", out));
    return fg_check_act_dtypes(op, out, 0, NULL, NULL);
}

static fg_error *check_same_shape(const char *op, const char *name, const fg_tensor *t, const fg_tensor *out) {
    if (fg_tensor_same_shape(t, out)) return NULL;
    char a[96], b[96];
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s but out is %s", op, name, fg_tensor_shape_str(t, a, sizeof a),
                     fg_tensor_shape_str(out, b, sizeof b));
}

/* NumPy rule against a given result shape: dims aligned from the right, each equal or 1;
 * extra leading dims of t are allowed only when they are 1. */
static fg_error *check_broadcast(const char *op, const char *name, const fg_tensor *t, const fg_tensor *out) {
    bool ok = true;
    for (int i = 1; i <= t->ndim; i++) {
        int64_t td = t->shape[t->ndim - i];
        int64_t od = i <= out->ndim ? out->shape[out->ndim - i] : 1;
        if (td != od && td != 1) ok = false;
    }
    if (ok) return NULL;
    char a[96], b[96];
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s which does not broadcast to %s", op, name,
                     fg_tensor_shape_str(t, a, sizeof a), fg_tensor_shape_str(out, b, sizeof b));
}

static fg_error *check_devices(const char *op, const fg_tensor *out, int n, const fg_tensor *const *ts,
                               const char *const *names) {
    return fg_check_same_device(op, out, n, ts, names);
}

fg_error *fg_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) {
    const char *op = "unary";
    FG_TRY(check_out(op, out));
    FG_TRY(check_act(op, "x", x, out));
    FG_TRY(check_same_shape(op, "x", x, out));
    if ((unsigned)act > FG_ACT_QUICK_GELU)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", op, (int)act);
    FG_TRY(check_devices(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->unary) return fg_unsupported_op(be, op);
    return be->unary(out, x, act);
}

/* add and mul share their checks. */
static fg_error *check_binary(const char *op, const fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    FG_TRY(check_out(op, out));
    FG_TRY(check_act(op, "a", a, out));
    FG_TRY(check_act(op, "b", b, out));
    FG_TRY(check_broadcast(op, "a", a, out));
    FG_TRY(check_broadcast(op, "b", b, out));
    return check_devices(op, out, 2, (const fg_tensor *const[]){a, b}, (const char *const[]){"a", "b"});
}

fg_error *fg_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    FG_TRY(check_binary("add", out, a, b));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("add", out, &be));
    if (!be->add) return fg_unsupported_op(be, "add");
    return be->add(out, a, b);
}

fg_error *fg_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    FG_TRY(check_binary("mul", out, a, b));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("mul", out, &be));
    if (!be->mul) return fg_unsupported_op(be, "mul");
    return be->mul(out, a, b);
}

fg_error *fg_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) {
    const char *op = "add_gated";
    FG_TRY(check_out(op, out));
    FG_TRY(check_act(op, "x", x, out));
    FG_TRY(check_act(op, "gate", gate, out));
    FG_TRY(check_act(op, "y", y, out));
    FG_TRY(check_same_shape(op, "x", x, out));
    FG_TRY(check_same_shape(op, "y", y, out));
    FG_TRY(check_broadcast(op, "gate", gate, out));
    FG_TRY(check_devices(op, out, 3, (const fg_tensor *const[]){x, gate, y},
                         (const char *const[]){"x", "gate", "y"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->add_gated) return fg_unsupported_op(be, op);
    return be->add_gated(out, x, gate, y);
}

fg_error *fg_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    const char *op = "axpby";
    FG_TRY(check_out(op, out));
    FG_TRY(check_act(op, "x", x, out));
    FG_TRY(check_same_shape(op, "x", x, out));
    if (y) {
        FG_TRY(check_act(op, "y", y, out));
        FG_TRY(check_same_shape(op, "y", y, out));
    }
    FG_TRY(check_devices(op, out, 2, (const fg_tensor *const[]){x, y}, (const char *const[]){"x", "y"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->axpby) return fg_unsupported_op(be, op);
    return be->axpby(out, alpha, x, beta, y);
}

fg_error *fg_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    const char *op = "scale_shift";
    FG_TRY(check_out(op, out));
    FG_TRY(check_act(op, "x", x, out));
    FG_TRY(check_same_shape(op, "x", x, out));
    FG_TRY(check_devices(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->scale_shift) return fg_unsupported_op(be, op);
    return be->scale_shift(out, x, mul, add);
}

fg_error *fg_cast(fg_tensor *out, const fg_tensor *x) {
    const char *op = "cast";
    FG_TRY(fg_check_tensor(op, "out", out));
    FG_TRY(fg_check_tensor(op, "x", x));
    FG_TRY(check_same_shape(op, "x", x, out));
    FG_TRY(check_devices(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->cast) return fg_unsupported_op(be, op);
    return be->cast(out, x);
}

/* ---- initialisation ------------------------------------------------------------------ */

fg_error *fg_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi) {
    const char *op = "fill_uniform";
    FG_TRY(fg_check_float(op, "out", out));
    if (!(lo - lo == 0.0f) || !(hi - hi == 0.0f))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: bounds [%g, %g) must be finite", op, (double)lo, (double)hi);
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->fill_uniform) return fg_unsupported_op(be, op);
    return be->fill_uniform(out, seed, lo, hi);
}
