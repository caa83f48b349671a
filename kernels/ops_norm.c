/* Dispatchers of the normalisation ops (layer_norm with adaLN modulation, rms_norm,
 * group_norm): argument checks with messages naming the op, the argument and the shapes. */
#include "kernels/backend.h"

typedef struct shape_buf {
    char s[96];
} shape_buf;

static const char *shp(const fg_tensor *t, shape_buf *b) { return fg_tensor_shape_str(t, b->s, sizeof b->s); }

/* out has x's shape, x has at least min_ndim dims. */
static fg_error *check_in_out(const char *op, fg_tensor *out, const fg_tensor *x, int min_ndim, const char *layout) {
    shape_buf sx, so;
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_float(op, "x", x));
    FG_TRY(fg_check_act_dtypes(op, out, 1, &x, (const char *const[]){"x"}));
    FG_CHECK_ARG(x->ndim >= min_ndim, "%s: x is %s, expected %s", op, shp(x, &sx), layout);
    FG_CHECK_ARG(fg_tensor_same_shape(out, x), "%s: out is %s but x is %s", op, shp(out, &so), shp(x, &sx));
    return NULL;
}

/* An optional per-channel parameter: NULL or a float tensor [n]. */
static fg_error *check_param(const char *op, const char *name, const fg_tensor *p, int64_t n, const char *what) {
    if (!p) return NULL;
    shape_buf sp;
    FG_TRY(fg_check_float(op, name, p));
    FG_CHECK_ARG(p->ndim == 1 && p->shape[0] == n, "%s: %s is %s but %s is %lld", op, name, shp(p, &sp), what,
                 (long long)n);
    return NULL;
}

static fg_error *check_eps(const char *op, float eps) {
    FG_CHECK_ARG(eps >= 0.0f && eps - eps == 0.0f, "%s: eps %g must be finite and >= 0", op, (double)eps);
    return NULL;
}

/* ---- layer_norm ----------------------------------------------------------------------- */

static fg_error *check_modulation(const char *op, const char *name, const fg_tensor *t, const fg_tensor *x) {
    shape_buf st, sx;
    FG_TRY(fg_check_float(op, name, t));
    int64_t b = x->shape[0], d = x->shape[2];
    bool ok = (t->ndim == 2 && t->shape[0] == b && t->shape[1] == d) ||
              (t->ndim == 3 && t->shape[0] == b && t->shape[1] == 1 && t->shape[2] == d);
    FG_CHECK_ARG(ok, "%s: %s is %s but x is %s (expected [B, D] or [B, 1, D])", op, name, shp(t, &st), shp(x, &sx));
    return NULL;
}

static fg_error *check_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                                  float eps, const fg_tensor *shift, const fg_tensor *scale) {
    const char *op = "layer_norm";
    shape_buf sx;
    FG_TRY(check_in_out(op, out, x, 1, "[..., D]"));
    int64_t d = x->shape[x->ndim - 1];
    FG_TRY(check_param(op, "weight", weight, d, "x's last dim"));
    FG_TRY(check_param(op, "bias", bias, d, "x's last dim"));
    FG_TRY(check_eps(op, eps));
    FG_CHECK_ARG(!shift == !scale, "%s: shift and scale must be given together (got %s without %s)", op,
                 shift ? "shift" : "scale", shift ? "scale" : "shift");
    if (shift) {
        FG_CHECK_ARG(x->ndim == 3, "%s: modulation needs x as [B, L, D] but x is %s", op, shp(x, &sx));
        FG_TRY(check_modulation(op, "shift", shift, x));
        FG_TRY(check_modulation(op, "scale", scale, x));
        FG_TRY(fg_check_act_dtypes(op, out, 2, (const fg_tensor *const[]){shift, scale},
                                   (const char *const[]){"shift", "scale"}));
    }
    const fg_tensor *ts[] = {x, weight, bias, shift, scale};
    const char *names[] = {"x", "weight", "bias", "shift", "scale"};
    return fg_check_same_device(op, out, 5, ts, names);
}

fg_error *fg_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                        float eps, const fg_tensor *shift, const fg_tensor *scale) {
    FG_TRY(check_layer_norm(out, x, weight, bias, eps, shift, scale));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("layer_norm", out, &be));
    if (!be->layer_norm) return fg_unsupported_op(be, "layer_norm");
    return be->layer_norm(out, x, weight, bias, eps, shift, scale);
}

/* ---- rms_norm ------------------------------------------------------------------------- */

fg_error *fg_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) {
    const char *op = "rms_norm";
    FG_TRY(check_in_out(op, out, x, 1, "[..., D]"));
    FG_TRY(check_param(op, "weight", weight, x->shape[x->ndim - 1], "x's last dim"));
    FG_TRY(check_eps(op, eps));
    const fg_tensor *ts[] = {x, weight};
    const char *names[] = {"x", "weight"};
    FG_TRY(fg_check_same_device(op, out, 2, ts, names));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->rms_norm) return fg_unsupported_op(be, op);
    return be->rms_norm(out, x, weight, eps);
}

/* ---- group_norm ----------------------------------------------------------------------- */

fg_error *fg_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                        const fg_tensor *bias, float eps, bool fuse_silu) {
    const char *op = "group_norm";
    shape_buf sx;
    FG_TRY(check_in_out(op, out, x, 2, "[B, C, *spatial]"));
    int64_t c = x->shape[1];
    FG_CHECK_ARG(groups >= 1 && c % groups == 0, "%s: x is %s but %d groups do not divide its %lld channels", op,
                 shp(x, &sx), groups, (long long)c);
    FG_TRY(check_param(op, "weight", weight, c, "the channel count"));
    FG_TRY(check_param(op, "bias", bias, c, "the channel count"));
    FG_TRY(check_eps(op, eps));
    const fg_tensor *ts[] = {x, weight, bias};
    const char *names[] = {"x", "weight", "bias"};
    FG_TRY(fg_check_same_device(op, out, 3, ts, names));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->group_norm) return fg_unsupported_op(be, op);
    return be->group_norm(out, x, groups, weight, bias, eps, fuse_silu);
}
