/* Dispatchers of the dense ops (linear, embedding, attention, rope, softmax): every shape,
 * dtype and device rule of kernels/ops.h is checked here once, with a message naming the op,
 * the argument and the shapes, so backends receive only consistent calls. */
#include "kernels/backend.h"

typedef struct shape_buf {
    char s[96];
} shape_buf;

static const char *shp(const fg_tensor *t, shape_buf *b) { return fg_tensor_shape_str(t, b->s, sizeof b->s); }

/* A present tensor with a sane header (dtype known, ndim in range, dims >= 0) and storage. */
static fg_error *check_f32(const char *op, const char *name, const fg_tensor *t) {
    FG_TRY(fg_check_tensor(op, name, t));
    FG_CHECK_ARG(t->dtype == FG_F32, "%s: %s has dtype %s, expected F32", op, name, fg_dtype_name(t->dtype));
    return NULL;
}

static fg_error *check_same_shape(const char *op, const char *a_name, const fg_tensor *a, const char *b_name,
                                  const fg_tensor *b) {
    shape_buf sa, sb;
    FG_CHECK_ARG(fg_tensor_same_shape(a, b), "%s: %s is %s but %s is %s", op, a_name, shp(a, &sa), b_name,
                 shp(b, &sb));
    return NULL;
}

static fg_error *check_ndim(const char *op, const char *name, const fg_tensor *t, int ndim, const char *layout) {
    shape_buf s;
    FG_CHECK_ARG(t->ndim == ndim, "%s: %s is %s, expected %d dims %s", op, name, shp(t, &s), ndim, layout);
    return NULL;
}

/* Ops that read inputs after starting to write out (sgemm, blocked attention) cannot run in
 * place; a caller passing overlapping storage gets an error instead of garbage. */
static fg_error *check_no_overlap(const char *op, const fg_tensor *out, const char *name, const fg_tensor *t) {
    if (!t || t->device != out->device || !t->data || !out->data) return NULL;
    const char *a = out->data, *b = t->data;
    size_t na = fg_tensor_nbytes(out), nb = fg_tensor_nbytes(t);
    FG_CHECK_ARG(!(na && nb && a < b + nb && b < a + na), "%s: out overlaps %s in memory (not supported in place)", op,
                 name);
    return NULL;
}

/* ---- linear --------------------------------------------------------------------------- */

static fg_error *check_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                              fg_activation act) {
    const char *op = "linear";
    shape_buf sx, sw, so, sb;
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_float(op, "x", x));
    FG_TRY(fg_check_float(op, "w", w));
    if (bias) FG_TRY(fg_check_float(op, "bias", bias));
    FG_TRY(fg_check_act_dtypes(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    FG_CHECK_ARG(act >= FG_ACT_NONE && act <= FG_ACT_QUICK_GELU, "%s: unknown activation %d", op, (int)act);
    FG_TRY(check_ndim(op, "w", w, 2, "[N, K]"));
    FG_CHECK_ARG(x->ndim >= 1, "%s: x is a scalar, expected [..., K]", op);
    FG_CHECK_ARG(w->shape[1] == x->shape[x->ndim - 1], "%s: w is %s but x's last dim is %lld", op, shp(w, &sw),
                 (long long)x->shape[x->ndim - 1]);
    FG_CHECK_ARG(out->ndim == x->ndim, "%s: out is %s but x is %s (leading dims must match)", op, shp(out, &so),
                 shp(x, &sx));
    for (int i = 0; i + 1 < x->ndim; i++)
        FG_CHECK_ARG(out->shape[i] == x->shape[i], "%s: out is %s but x is %s (leading dims must match)", op,
                     shp(out, &so), shp(x, &sx));
    FG_CHECK_ARG(out->shape[out->ndim - 1] == w->shape[0], "%s: w is %s but out's last dim is %lld", op,
                 shp(w, &sw), (long long)out->shape[out->ndim - 1]);
    if (bias)
        FG_CHECK_ARG(bias->ndim == 1 && bias->shape[0] == w->shape[0], "%s: bias is %s but w is %s", op,
                     shp(bias, &sb), shp(w, &sw));
    const fg_tensor *ts[] = {x, w, bias};
    const char *names[] = {"x", "w", "bias"};
    for (int i = 0; i < 3; i++) FG_TRY(check_no_overlap(op, out, names[i], ts[i]));
    return fg_check_same_device(op, out, 3, ts, names);
}

fg_error *fg_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias, float w_scale,
                    fg_activation act) {
    FG_TRY(check_linear(out, x, w, bias, act));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("linear", out, &be));
    if (!be->linear) return fg_unsupported_op(be, "linear");
    return be->linear(out, x, w, bias, w_scale, act);
}

/* ---- embedding ------------------------------------------------------------------------ */

static fg_error *check_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    const char *op = "embedding";
    shape_buf si, st, so;
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_tensor(op, "ids", ids));
    FG_TRY(fg_check_float(op, "table", table));
    FG_TRY(fg_check_act_dtypes(op, out, 0, NULL, NULL));
    FG_CHECK_ARG(ids->dtype == FG_I32 || ids->dtype == FG_I64, "%s: ids has dtype %s, expected I32 or I64", op,
                 fg_dtype_name(ids->dtype));
    FG_TRY(check_ndim(op, "table", table, 2, "[V, D]"));
    bool ok = out->ndim == ids->ndim + 1 && out->shape[out->ndim - 1] == table->shape[1];
    for (int i = 0; ok && i < ids->ndim; i++) ok = out->shape[i] == ids->shape[i];
    FG_CHECK_ARG(ok, "%s: out is %s but ids is %s and table is %s (expected ids.shape + [D])", op, shp(out, &so),
                 shp(ids, &si), shp(table, &st));
    const fg_tensor *ts[] = {ids, table};
    const char *names[] = {"ids", "table"};
    return fg_check_same_device(op, out, 2, ts, names);
}

fg_error *fg_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    FG_TRY(check_embedding(out, ids, table));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("embedding", out, &be));
    if (!be->embedding) return fg_unsupported_op(be, "embedding");
    return be->embedding(out, ids, table);
}

/* ---- attention ------------------------------------------------------------------------ */

static fg_error *check_attention_mask(const fg_tensor *mask, const fg_tensor *q, const fg_tensor *k) {
    const char *op = "attention";
    shape_buf sm, sq, sk;
    FG_TRY(check_f32(op, "mask", mask));
    FG_TRY(check_ndim(op, "mask", mask, 4, "[Bm, Hm, Lq, Lk]"));
    bool ok = (mask->shape[0] == 1 || mask->shape[0] == q->shape[0]) &&
              (mask->shape[1] == 1 || mask->shape[1] == q->shape[1]) && mask->shape[2] == q->shape[2] &&
              mask->shape[3] == k->shape[2];
    FG_CHECK_ARG(ok, "%s: mask is %s but q is %s and k is %s (expected [1 or B, 1 or H, Lq, Lk])", op,
                 shp(mask, &sm), shp(q, &sq), shp(k, &sk));
    return NULL;
}

static fg_error *check_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                                 const fg_tensor *mask, float scale) {
    const char *op = "attention";
    shape_buf sq, sk, sv, so;
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_float(op, "q", q));
    FG_TRY(fg_check_float(op, "k", k));
    FG_TRY(fg_check_float(op, "v", v));
    FG_TRY(fg_check_act_dtypes(op, out, 3, (const fg_tensor *const[]){q, k, v}, (const char *const[]){"q", "k", "v"}));
    FG_TRY(check_ndim(op, "q", q, 4, "[B, H, Lq, D]"));
    FG_TRY(check_ndim(op, "k", k, 4, "[B, H, Lk, D]"));
    FG_TRY(check_ndim(op, "v", v, 4, "[B, H, Lk, Dv]"));
    FG_TRY(check_ndim(op, "out", out, 4, "[B, H, Lq, Dv]"));
    FG_CHECK_ARG(k->shape[0] == q->shape[0] && k->shape[1] == q->shape[1] && k->shape[3] == q->shape[3],
                 "%s: q is %s but k is %s (B, H and D must match)", op, shp(q, &sq), shp(k, &sk));
    FG_CHECK_ARG(v->shape[0] == k->shape[0] && v->shape[1] == k->shape[1] && v->shape[2] == k->shape[2],
                 "%s: k is %s but v is %s (B, H and Lk must match)", op, shp(k, &sk), shp(v, &sv));
    FG_CHECK_ARG(out->shape[0] == q->shape[0] && out->shape[1] == q->shape[1] && out->shape[2] == q->shape[2] &&
                     out->shape[3] == v->shape[3],
                 "%s: out is %s but q is %s and v is %s (expected [B, H, Lq, Dv])", op, shp(out, &so), shp(q, &sq),
                 shp(v, &sv));
    FG_CHECK_ARG(scale == scale && scale - scale == 0.0f, "%s: scale %g is not finite", op, (double)scale);
    if (mask) FG_TRY(check_attention_mask(mask, q, k));
    const fg_tensor *ts[] = {q, k, v, mask};
    const char *names[] = {"q", "k", "v", "mask"};
    for (int i = 0; i < 4; i++) FG_TRY(check_no_overlap(op, out, names[i], ts[i]));
    return fg_check_same_device(op, out, 4, ts, names);
}

fg_error *fg_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                       const fg_tensor *mask, float scale) {
    FG_TRY(check_attention(out, q, k, v, mask, scale));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("attention", out, &be));
    if (!be->attention) return fg_unsupported_op(be, "attention");
    return be->attention(out, q, k, v, mask, scale);
}

/* ---- rope ----------------------------------------------------------------------------- */

/* op: "rope" or "rms_norm_rope", which shares these rules. */
static fg_error *check_rope(const char *op, fg_tensor *out, const fg_tensor *x, const fg_tensor *cos,
                            const fg_tensor *sin) {
    shape_buf sx, sc;
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_float(op, "x", x));
    FG_TRY(fg_check_act_dtypes(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    FG_TRY(check_f32(op, "cos", cos));
    FG_TRY(check_f32(op, "sin", sin));
    FG_TRY(check_ndim(op, "x", x, 4, "[B, H, L, D]"));
    FG_TRY(check_same_shape(op, "out", out, "x", x));
    FG_CHECK_ARG(x->shape[3] % 2 == 0, "%s: x is %s but D must be even", op, shp(x, &sx));
    FG_TRY(check_ndim(op, "cos", cos, 3, "[Bp, L, D/2]"));
    FG_TRY(check_same_shape(op, "cos", cos, "sin", sin));
    bool ok = (cos->shape[0] == 1 || cos->shape[0] == x->shape[0]) && cos->shape[1] == x->shape[2] &&
              cos->shape[2] == x->shape[3] / 2;
    FG_CHECK_ARG(ok, "%s: cos/sin are %s but x is %s (expected [1 or B, L, D/2])", op, shp(cos, &sc), shp(x, &sx));
    const fg_tensor *ts[] = {x, cos, sin};
    const char *names[] = {"x", "cos", "sin"};
    return fg_check_same_device(op, out, 3, ts, names);
}

fg_error *fg_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) {
    FG_TRY(check_rope("rope", out, x, cos, sin));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend("rope", out, &be));
    if (!be->rope) return fg_unsupported_op(be, "rope");
    return be->rope(out, x, cos, sin);
}

/* ---- rms_norm_rope ----------------------------------------------------------------------- */

fg_error *fg_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                           const fg_tensor *cos, const fg_tensor *sin) {
    const char *op = "rms_norm_rope";
    shape_buf sw, sx;
    FG_TRY(check_rope(op, out, x, cos, sin));
    if (weight) {
        FG_TRY(fg_check_float(op, "weight", weight));
        FG_CHECK_ARG(weight->ndim == 1 && weight->shape[0] == x->shape[3], "%s: weight is %s but x is %s (expected [D])",
                     op, shp(weight, &sw), shp(x, &sx));
        FG_TRY(fg_check_same_device(op, out, 1, &weight, (const char *const[]){"weight"}));
    }
    FG_CHECK_ARG(eps >= 0.0f && eps - eps == 0.0f, "%s: eps %g must be finite and >= 0", op, (double)eps);
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->rms_norm_rope) return fg_unsupported_op(be, op);
    return be->rms_norm_rope(out, x, weight, eps, cos, sin);
}

/* ---- softmax -------------------------------------------------------------------------- */

fg_error *fg_softmax(fg_tensor *out, const fg_tensor *x) {
    const char *op = "softmax";
    FG_TRY(fg_check_float(op, "out", out));
    FG_TRY(fg_check_float(op, "x", x));
    FG_TRY(fg_check_act_dtypes(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"}));
    FG_CHECK_ARG(x->ndim >= 1, "%s: x is a scalar, expected at least 1 dim", op);
    FG_TRY(check_same_shape(op, "out", out, "x", x));
    const fg_tensor *ts[] = {x};
    const char *names[] = {"x"};
    FG_TRY(fg_check_same_device(op, out, 1, ts, names));
    const fg_backend *be;
    FG_TRY(fg_dispatch_backend(op, out, &be));
    if (!be->softmax) return fg_unsupported_op(be, op);
    return be->softmax(out, x);
}
