/* Dispatchers of the layout ops (permute, concat, slice, pad2d, patchify, unpatchify,
 * upsample): any dtype, so the checks are about shapes, dtypes matching out, and devices. */
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"

/* out and x both valid, same dtype, same device. */
static fg_error *check_pair(const char *op, const fg_tensor *out, const fg_tensor *x) {
    FG_TRY(fg_check_tensor(op, "out", out));
    FG_TRY(fg_check_tensor(op, "x", x));
    if (x->dtype != out->dtype)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: x is %s but out is %s", op, fg_dtype_name(x->dtype),
                         fg_dtype_name(out->dtype));
    return fg_check_same_device(op, out, 1, (const fg_tensor *const[]){x}, (const char *const[]){"x"});
}

static fg_error *shape_mismatch(const char *op, const fg_tensor *out, const int64_t *want, int ndim,
                                const char *what, const fg_tensor *x) {
    char a[96], b[96], c[96];
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: out is %s but %s x %s needs %s", op,
                     fg_tensor_shape_str(out, a, sizeof a), what, fg_tensor_shape_str(x, b, sizeof b),
                     fg_shape_str(ndim, want, c, sizeof c));
}

static bool shape_is(const fg_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

#define DISPATCH(op_name, field, ...)                                                      \
    do {                                                                                   \
        const fg_backend *be_;                                                             \
        FG_TRY(fg_dispatch_backend(op_name, out, &be_));                                   \
        if (!be_->field) return fg_unsupported_op(be_, op_name);                           \
        return be_->field(__VA_ARGS__);                                                    \
    } while (0)

fg_error *fg_permute(fg_tensor *out, const fg_tensor *x, const int *perm) {
    const char *op = "permute";
    FG_TRY(check_pair(op, out, x));
    if (!perm) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: perm is NULL", op);
    if (out->ndim != x->ndim)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: out has %d dims but x has %d", op, out->ndim, x->ndim);
    bool seen[FG_MAX_DIMS] = {false};
    int64_t want[FG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: perm[%d] = %d is out of range for %d dims", op, i, perm[i],
                             x->ndim);
        if (seen[perm[i]]) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: perm repeats dim %d", op, perm[i]);
        seen[perm[i]] = true;
        want[i] = x->shape[perm[i]];
    }
    if (!shape_is(out, x->ndim, want)) return shape_mismatch(op, out, want, x->ndim, "permuting", x);
    DISPATCH(op, permute, out, x, perm);
}

fg_error *fg_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim) {
    const char *op = "concat";
    FG_TRY(fg_check_tensor(op, "out", out));
    if (!inputs || n < 1) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: no inputs (n = %d)", op, n);
    if (dim < 0 || dim >= out->ndim)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: dim %d is out of range for %d dims", op, dim, out->ndim);
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        char name[32], a[96], b[96];
        snprintf(name, sizeof name, "inputs[%d]", k);
        const fg_tensor *t = inputs[k];
        FG_TRY(fg_check_tensor(op, name, t));
        if (t->dtype != out->dtype)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s but out is %s", op, name, fg_dtype_name(t->dtype),
                             fg_dtype_name(out->dtype));
        bool ok = t->ndim == out->ndim;
        for (int d = 0; ok && d < out->ndim; d++) ok = d == dim || t->shape[d] == out->shape[d];
        if (!ok)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s, which does not match out %s outside dim %d", op,
                             name, fg_tensor_shape_str(t, a, sizeof a), fg_tensor_shape_str(out, b, sizeof b), dim);
        FG_TRY(fg_check_same_device(op, out, 1, &t, (const char *const[]){name}));
        total += t->shape[dim]; /* each term <= numel of a checked shape, n is an int: no overflow */
    }
    if (total != out->shape[dim])
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: inputs add up to %lld along dim %d but out has %lld", op,
                         (long long)total, dim, (long long)out->shape[dim]);
    DISPATCH(op, concat, out, inputs, n, dim);
}

fg_error *fg_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start) {
    const char *op = "slice";
    FG_TRY(check_pair(op, out, x));
    char a[96], b[96];
    if (dim < 0 || dim >= x->ndim)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: dim %d is out of range for %d dims", op, dim, x->ndim);
    bool ok = out->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = d == dim || out->shape[d] == x->shape[d];
    if (!ok)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: out %s does not match x %s outside dim %d", op,
                         fg_tensor_shape_str(out, a, sizeof a), fg_tensor_shape_str(x, b, sizeof b), dim);
    if (start < 0 || start > x->shape[dim] || out->shape[dim] > x->shape[dim] - start)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: [%lld, %lld + %lld) is out of range for dim %d of x %s", op,
                         (long long)start, (long long)start, (long long)out->shape[dim], dim,
                         fg_tensor_shape_str(x, a, sizeof a));
    DISPATCH(op, slice, out, x, dim, start);
}

fg_error *fg_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                   fg_pad_mode mode) {
    const char *op = "pad2d";
    FG_TRY(check_pair(op, out, x));
    if (x->ndim != 4) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: x has %d dims, not 4 [B, C, H, W]", op, x->ndim);
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: negative padding (%d, %d, %d, %d)", op, top, bottom, left, right);
    if (mode != FG_PAD_ZERO && mode != FG_PAD_CIRCULAR)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: unknown mode %d", op, (int)mode);
    int64_t H = x->shape[2], W = x->shape[3];
    if (mode == FG_PAD_CIRCULAR && (top > H || bottom > H || left > W || right > W))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "%s: circular padding (top %d, bottom %d, left %d, right %d) exceeds the input's %lld x %lld",
                         op, top, bottom, left, right, (long long)H, (long long)W);
    int64_t want[4] = {x->shape[0], x->shape[1], top + H + bottom, left + W + right};
    if (!shape_is(out, 4, want)) return shape_mismatch(op, out, want, 4, "padding", x);
    DISPATCH(op, pad2d, out, x, top, bottom, left, right, mode);
}

/* Token shape [B, (H/p)*(W/p), C*p*p] for an image shape, or an error. */
static fg_error *patch_shape(const char *op, const char *name, const fg_tensor *img, int p, int64_t tokens[3]) {
    char a[96];
    if (p < 1) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: patch size %d must be >= 1", op, p);
    if (img->ndim != 4)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s, not 4 dims [B, C, H, W]", op, name,
                         fg_tensor_shape_str(img, a, sizeof a));
    if (img->shape[2] % p || img->shape[3] % p)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is %s; H and W must be divisible by the patch size %d", op,
                         name, fg_tensor_shape_str(img, a, sizeof a), p);
    int64_t feat;
    if (__builtin_mul_overflow(img->shape[1], (int64_t)p * p, &feat))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: patch size %d is too large", op, p);
    tokens[0] = img->shape[0];
    tokens[1] = (img->shape[2] / p) * (img->shape[3] / p);
    tokens[2] = feat;
    return NULL;
}

fg_error *fg_patchify(fg_tensor *out, const fg_tensor *x, int p) {
    const char *op = "patchify";
    FG_TRY(check_pair(op, out, x));
    int64_t want[3];
    FG_TRY(patch_shape(op, "x", x, p, want));
    if (!shape_is(out, 3, want)) return shape_mismatch(op, out, want, 3, "patchifying", x);
    DISPATCH(op, patchify, out, x, p);
}

fg_error *fg_unpatchify(fg_tensor *out, const fg_tensor *x, int p) {
    const char *op = "unpatchify";
    FG_TRY(check_pair(op, out, x));
    int64_t want[3];
    FG_TRY(patch_shape(op, "out", out, p, want));
    if (!shape_is(x, 3, want)) {
        char a[96], b[96], c[96];
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: x is %s but out %s with patch size %d needs x %s", op,
                         fg_tensor_shape_str(x, a, sizeof a), fg_tensor_shape_str(out, b, sizeof b), p,
                         fg_shape_str(3, want, c, sizeof c));
    }
    DISPATCH(op, unpatchify, out, x, p);
}

fg_error *fg_upsample_nearest2x(fg_tensor *out, const fg_tensor *x) {
    const char *op = "upsample_nearest2x";
    FG_TRY(check_pair(op, out, x));
    if (x->ndim != 4) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: x has %d dims, not 4 [B, C, H, W]", op, x->ndim);
    int64_t want[4] = {x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3]};
    if (!shape_is(out, 4, want)) return shape_mismatch(op, out, want, 4, "upsampling", x);
    DISPATCH(op, upsample_nearest2x, out, x);
}
