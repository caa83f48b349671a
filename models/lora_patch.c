/* ComfyUI's calculate_weight on the host in float32. The rounding order follows torch on the
 * CPU step by step, because the fixtures hold ComfyUI's float32 results to 1e-6:
 *   - factors are widened to f32 and multiplied in f32 (sgemm; kron and Hadamard products
 *     element by element);
 *   - strength * scale is a product of two Python floats (double), and torch casts that
 *     scalar to float32 before multiplying the f32 delta by it;
 *   - every element-wise step (scale, add, DoRA's norm, eps, division) rounds to f32.
 * A patch with strength 0 is validated like any other but changes nothing (ComfyUI skips
 * diffs at strength 0 and adds exact zeros otherwise). */
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/lora_patch.h"

/* A dense row-major f32 matrix owned by its holder (data NULL: none). */
typedef struct f32_mat {
    float *data;
    int64_t rows, cols;
} f32_mat;

/* The part of the weight one patch acts on: the whole weight or a narrowed slab of it, as a
 * contiguous f32 array (a copy when the slab is strided). */
typedef struct patch_region {
    float *data;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    int64_t numel;
    bool is_copy;
} patch_region;

static const char *adapter_name(fg_lora_adapter a) {
    switch (a) {
    case FG_LORA_ADAPTER_LORA: return "lora";
    case FG_LORA_ADAPTER_LOHA: return "loha";
    case FG_LORA_ADAPTER_LOKR: return "lokr";
    case FG_LORA_ADAPTER_DIFF: return "diff";
    case FG_LORA_ADAPTER_SET: return "set";
    }
    return "unknown adapter";
}

static void mat_free(f32_mat *m) {
    free(m->data);
    m->data = NULL;
}

static float *alloc_floats(int64_t n) {
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float)) return NULL;
    return calloc(n > 0 ? (size_t)n : 1, sizeof(float));
}

static char *shape_of(const fg_tensor *t, char *buf, size_t cap) { return fg_tensor_shape_str(t, buf, cap); }

/* The tensor must be present, on the host and of a float dtype. */
static fg_error *check_factor(const fg_tensor *t, const char *what) {
    if (!t->data) return fg_errorf(FG_ERR_NOT_FOUND, "tensor '%s' is missing", what);
    if (t->device != FG_DEVICE_CPU)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor '%s' is not on the host", what);
    if (t->dtype >= FG_DTYPE_COUNT || !fg_dtype_is_float(t->dtype))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor '%s' has dtype %s, expected a float type", what,
                         t->dtype < FG_DTYPE_COUNT ? fg_dtype_name(t->dtype) : "?");
    if (t->ndim < 0 || t->ndim > FG_MAX_DIMS)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor '%s' has %d dims", what, t->ndim);
    return NULL;
}

/* Widens t to f32 and views it as [shape[0], rest] (torch's flatten(start_dim=1)). */
static fg_error *widen_matrix(const fg_tensor *t, const char *what, f32_mat *out) {
    char s[64];
    FG_TRY(check_factor(t, what));
    int64_t numel = fg_tensor_numel(t);
    if (t->ndim < 1 || t->shape[0] <= 0 || numel <= 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor '%s' %s is not a non-empty matrix", what,
                         shape_of(t, s, sizeof s));
    out->data = alloc_floats(numel);
    if (!out->data) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "widening '%s' %s", what, shape_of(t, s, sizeof s));
    fg_convert_to_f32(out->data, t->data, t->dtype, (size_t)numel);
    out->rows = t->shape[0];
    out->cols = numel / t->shape[0];
    return NULL;
}

/* c = a @ b with OpenBLAS (torch.mm in float32). */
static fg_error *matmul(const f32_mat *a, const f32_mat *b, const char *what, f32_mat *c) {
    if (a->cols != b->rows)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: [%lld, %lld] @ [%lld, %lld] do not chain", what,
                         (long long)a->rows, (long long)a->cols, (long long)b->rows, (long long)b->cols);
    if (a->rows > INT_MAX || a->cols > INT_MAX || b->cols > INT_MAX || a->rows > INT64_MAX / b->cols)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: product [%lld, %lld] is too large", what,
                         (long long)a->rows, (long long)b->cols);
    c->rows = a->rows;
    c->cols = b->cols;
    c->data = alloc_floats(c->rows * c->cols);
    if (!c->data) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: [%lld, %lld] product", what, (long long)c->rows,
                                   (long long)c->cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->rows, (int)b->cols, (int)a->cols, 1.0f,
                a->data, (int)a->cols, b->data, (int)b->cols, 0.0f, c->data, (int)c->cols);
    return NULL;
}

/* a @ b of two stored factors. */
static fg_error *factor_product(const fg_tensor *ta, const char *name_a, const fg_tensor *tb, const char *name_b,
                                f32_mat *out) {
    f32_mat a = {0}, b = {0};
    fg_error *err = widen_matrix(ta, name_a, &a);
    if (!err) err = widen_matrix(tb, name_b, &b);
    if (!err) err = matmul(&a, &b, name_a, out);
    mat_free(&a);
    mat_free(&b);
    return err;
}

/* A delta of any 2-D shape is reshaped onto the region (torch's reshape(weight.shape)). */
static fg_error *check_fits(const f32_mat *d, const patch_region *r, const char *what) {
    if (d->rows * d->cols == r->numel) return NULL;
    char s[64];
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s [%lld, %lld] does not fit the weight %s", what,
                     (long long)d->rows, (long long)d->cols, fg_shape_str(r->ndim, r->shape, s, sizeof s));
}

/* LoCon's Tucker form: down' [r, in, kh, kw] with down'[a, i, hw] = sum_b down[b, i] * mid[a, b, hw]. */
static fg_error *lora_fold_mid(const fg_lora_patch *p, f32_mat *down) {
    const fg_tensor *mid = &p->mid;
    char s[64], ds[64];
    FG_TRY(check_factor(mid, "lora_mid"));
    int64_t r = down->rows, in = p->down.ndim >= 2 ? p->down.shape[1] : 0;
    if (mid->ndim != 4 || mid->shape[0] != r || mid->shape[1] != r || in <= 0 || down->cols != in)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "lora_mid %s does not fit lora_down %s (expected [%lld, %lld, kh, kw])",
                         shape_of(mid, s, sizeof s), shape_of(&p->down, ds, sizeof ds), (long long)r, (long long)r);
    int64_t hw = mid->shape[2] * mid->shape[3];
    if (hw <= 0 || in > INT_MAX || hw > INT_MAX || r > INT_MAX || in * hw > INT64_MAX / r)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "lora_mid %s has an unusable kernel size", shape_of(mid, s, sizeof s));
    f32_mat m = {0};
    FG_TRY(widen_matrix(mid, "lora_mid", &m));
    float *folded = alloc_floats(r * in * hw);
    if (!folded) {
        mat_free(&m);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "folding lora_mid %s", shape_of(mid, s, sizeof s));
    }
    for (int64_t a = 0; a < r; a++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)hw, (int)r, 1.0f, down->data, (int)in,
                    m.data + a * r * hw, (int)hw, 0.0f, folded + a * in * hw, (int)hw);
    mat_free(&m);
    free(down->data);
    down->data = folded;
    down->cols = in * hw;
    return NULL;
}

/* up [out, r] @ down [r, in]; scale alpha / r (r = down.shape[0]) or 1. */
static fg_error *lora_delta(const fg_lora_patch *p, const patch_region *region, f32_mat *delta, double *scale) {
    f32_mat up = {0}, down = {0};
    fg_error *err = widen_matrix(&p->up, "lora_up", &up);
    if (!err) err = widen_matrix(&p->down, "lora_down", &down);
    if (!err && p->mid.data) err = lora_fold_mid(p, &down);
    if (!err) err = matmul(&up, &down, "lora_up @ lora_down", delta);
    if (!err) err = check_fits(delta, region, "lora_up @ lora_down");
    if (!err) *scale = p->has_alpha ? p->alpha / (double)p->down.shape[0] : 1.0;
    mat_free(&up);
    mat_free(&down);
    return err;
}

/* (w1_a @ w1_b) * (w2_a @ w2_b); scale alpha / w1_b.shape[0] or 1. */
static fg_error *loha_delta(const fg_lora_patch *p, const patch_region *region, f32_mat *delta, double *scale) {
    f32_mat m2 = {0};
    fg_error *err = factor_product(&p->hada_w1_a, "hada_w1_a", &p->hada_w1_b, "hada_w1_b", delta);
    if (!err) err = factor_product(&p->hada_w2_a, "hada_w2_a", &p->hada_w2_b, "hada_w2_b", &m2);
    if (!err && (m2.rows != delta->rows || m2.cols != delta->cols))
        err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "hada_w1 product [%lld, %lld] and hada_w2 product [%lld, %lld] differ",
                        (long long)delta->rows, (long long)delta->cols, (long long)m2.rows, (long long)m2.cols);
    if (!err) err = check_fits(delta, region, "hada product");
    if (!err) {
        int64_t n = delta->rows * delta->cols;
        for (int64_t i = 0; i < n; i++) delta->data[i] *= m2.data[i];
        *scale = p->has_alpha ? p->alpha / (double)p->hada_w1_b.shape[0] : 1.0;
    }
    mat_free(&m2);
    if (err) mat_free(delta);
    return err;
}

/* One Kronecker factor: the full tensor, or a @ b (then *rank = b.shape[0]). */
static fg_error *lokr_factor(const fg_tensor *full, const fg_tensor *a, const fg_tensor *b, const char *name,
                             f32_mat *out, int64_t *rank) {
    char na[32], nb[32], s[64];
    if (full->data) {
        if (full->ndim != 2)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s %s: only 2-D (linear) LoKr factors are supported", name,
                             shape_of(full, s, sizeof s));
        return widen_matrix(full, name, out);
    }
    snprintf(na, sizeof na, "%s_a", name);
    snprintf(nb, sizeof nb, "%s_b", name);
    if (!a->data && !b->data) return fg_errorf(FG_ERR_NOT_FOUND, "tensor '%s' (or '%s' + '%s') is missing", name, na, nb);
    FG_TRY(factor_product(a, na, b, nb, out));
    *rank = b->shape[0];
    return NULL;
}

static fg_error *kron(const f32_mat *a, const f32_mat *b, f32_mat *out) {
    if (a->rows > INT32_MAX || b->rows > INT32_MAX || a->cols > INT32_MAX || b->cols > INT32_MAX ||
        a->rows * b->rows > INT64_MAX / (a->cols * b->cols))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "kron of [%lld, %lld] and [%lld, %lld] is too large", (long long)a->rows,
                         (long long)a->cols, (long long)b->rows, (long long)b->cols);
    int64_t rows = a->rows * b->rows, cols = a->cols * b->cols;
    out->rows = rows;
    out->cols = cols;
    out->data = alloc_floats(rows * cols);
    if (!out->data) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "kron [%lld, %lld]", (long long)rows, (long long)cols);
    for (int64_t i = 0; i < a->rows; i++)
        for (int64_t k = 0; k < b->rows; k++) {
            float *dst = out->data + (i * b->rows + k) * cols;
            for (int64_t j = 0; j < a->cols; j++) {
                float x = a->data[i * a->cols + j];
                const float *src = b->data + k * b->cols;
                for (int64_t l = 0; l < b->cols; l++) dst[j * b->cols + l] = x * src[l];
            }
        }
    return NULL;
}

/* kron(w1, w2); scale alpha / dim with dim the rank of w2 if factored, else of w1 if factored;
 * with two full factors the alpha is ignored (ComfyUI's LoKr rule). */
static fg_error *lokr_delta(const fg_lora_patch *p, const patch_region *region, f32_mat *delta, double *scale) {
    f32_mat w1 = {0}, w2 = {0};
    int64_t dim1 = 0, dim2 = 0;
    fg_error *err = lokr_factor(&p->lokr_w1, &p->lokr_w1_a, &p->lokr_w1_b, "lokr_w1", &w1, &dim1);
    if (!err) err = lokr_factor(&p->lokr_w2, &p->lokr_w2_a, &p->lokr_w2_b, "lokr_w2", &w2, &dim2);
    if (!err) err = kron(&w1, &w2, delta);
    if (!err) err = check_fits(delta, region, "kron(lokr_w1, lokr_w2)");
    if (!err) {
        int64_t dim = dim2 ? dim2 : dim1;
        *scale = p->has_alpha && dim ? p->alpha / (double)dim : 1.0;
    }
    mat_free(&w1);
    mat_free(&w2);
    return err;
}

/* ComfyUI's swap_scale_shift: chunk(2, dim=0) then cat(second, first). */
static fg_error *swap_row_halves(float *x, const patch_region *r) {
    if (r->ndim < 1 || r->shape[0] == 0) return NULL;
    int64_t row = r->numel / r->shape[0], first = (r->shape[0] + 1) / 2;
    float *tmp = alloc_floats(r->numel);
    if (!tmp) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "swap_scale_shift on %lld values", (long long)r->numel);
    int64_t head = first * row, tail = r->numel - head;
    memcpy(tmp, x + head, (size_t)tail * sizeof(float));
    memcpy(tmp + tail, x, (size_t)head * sizeof(float));
    memcpy(x, tmp, (size_t)r->numel * sizeof(float));
    free(tmp);
    return NULL;
}

/* w += function(coef * d): coef is the f32 scalar torch multiplies by. d is clobbered. */
static fg_error *add_scaled(patch_region *r, float *d, float coef, bool swap) {
    for (int64_t i = 0; i < r->numel; i++) d[i] = coef * d[i];
    if (swap) FG_TRY(swap_row_halves(d, r));
    for (int64_t i = 0; i < r->numel; i++) r->data[i] += d[i];
    return NULL;
}

/* L2 norm per output row of w ([rows, rest]) or per input column ([d0, d1, rest]); summed in
 * double, rounded to f32, then + f32 eps as in weight_decompose. */
static void dora_norms(const float *w, const patch_region *r, bool out_axis, float *norms) {
    int64_t d0 = r->shape[0], d1 = r->ndim >= 2 ? r->shape[1] : 1;
    int64_t rest = r->numel / (d0 * d1);
    int64_t count = out_axis ? d0 : d1;
    for (int64_t c = 0; c < count; c++) {
        double acc = 0.0;
        if (out_axis) {
            const float *row = w + c * d1 * rest;
            for (int64_t i = 0; i < d1 * rest; i++) acc += (double)row[i] * row[i];
        } else {
            for (int64_t i = 0; i < d0; i++)
                for (int64_t k = 0; k < rest; k++) {
                    double v = w[(i * d1 + c) * rest + k];
                    acc += v * v;
                }
        }
        norms[c] = (float)sqrt(acc) + FLT_EPSILON;
    }
}

/* weight_decompose: Wc = W + function(scale * delta); Wc *= dora_scale / ||.|| on the axis
 * dora_scale names; W += strength * (Wc - W) (W = Wc at strength 1). */
static fg_error *apply_dora(patch_region *r, float *delta, double scale, double strength, const fg_lora_patch *p) {
    char s[64], ws[64];
    const fg_tensor *ds = &p->dora_scale;
    FG_TRY(check_factor(ds, "dora_scale"));
    int64_t n_ds = fg_tensor_numel(ds);
    bool out_axis = ds->ndim >= 1 && r->ndim >= 1 && ds->shape[0] == r->shape[0];
    int64_t axis_len = out_axis ? r->shape[0] : (r->ndim >= 2 ? r->shape[1] : -1);
    if (ds->ndim < 1 || r->ndim < 1 || r->numel == 0 || n_ds != axis_len)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "dora_scale %s fits neither axis of the weight %s",
                         shape_of(ds, s, sizeof s), fg_shape_str(r->ndim, r->shape, ws, sizeof ws));
    if (strength == 0.0) return NULL;
    float *factors = alloc_floats(n_ds);
    if (!factors) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "dora_scale %s", shape_of(ds, s, sizeof s));
    fg_convert_to_f32(factors, ds->data, ds->dtype, (size_t)n_ds);
    float *norms = alloc_floats(n_ds);
    fg_error *err = norms ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "DoRA norms");
    float coef = (float)scale;
    for (int64_t i = 0; !err && i < r->numel; i++) delta[i] = coef * delta[i];
    if (!err && p->swap_scale_shift) err = swap_row_halves(delta, r);
    if (!err) {
        float *wc = delta; /* Wc replaces the delta in place */
        for (int64_t i = 0; i < r->numel; i++) wc[i] = r->data[i] + delta[i];
        dora_norms(out_axis ? r->data : wc, r, out_axis, norms);
        for (int64_t c = 0; c < n_ds; c++) factors[c] = factors[c] / norms[c];
        int64_t d1 = r->ndim >= 2 ? r->shape[1] : 1, rest = r->numel / (r->shape[0] * d1);
        for (int64_t i = 0; i < r->numel; i++) {
            int64_t c = out_axis ? i / (d1 * rest) : (i / rest) % d1;
            wc[i] *= factors[c];
        }
        if (strength != 1.0) {
            float sf = (float)strength;
            for (int64_t i = 0; i < r->numel; i++) r->data[i] += sf * (wc[i] - r->data[i]);
        } else {
            memcpy(r->data, wc, (size_t)r->numel * sizeof(float));
        }
    }
    free(norms);
    free(factors);
    return err;
}

static fg_error *apply_value(patch_region *r, const fg_lora_patch *p) {
    char s[64], ws[64];
    const char *what = p->adapter == FG_LORA_ADAPTER_SET ? "set value" : "diff";
    FG_TRY(check_factor(&p->value, what));
    bool same = p->value.ndim == r->ndim;
    for (int d = 0; same && d < r->ndim; d++) same = p->value.shape[d] == r->shape[d];
    if (!same)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s %s does not match the weight %s", what,
                         shape_of(&p->value, s, sizeof s), fg_shape_str(r->ndim, r->shape, ws, sizeof ws));
    if (p->adapter == FG_LORA_ADAPTER_SET) {
        fg_convert_to_f32(r->data, p->value.data, p->value.dtype, (size_t)r->numel);
        return NULL;
    }
    if (p->strength == 0.0) return NULL;
    float *d = alloc_floats(r->numel);
    if (!d) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "diff %s", shape_of(&p->value, s, sizeof s));
    fg_convert_to_f32(d, p->value.data, p->value.dtype, (size_t)r->numel);
    fg_error *err = add_scaled(r, d, (float)p->strength, p->swap_scale_shift);
    free(d);
    return err;
}

static fg_error *apply_low_rank(patch_region *r, const fg_lora_patch *p) {
    f32_mat delta = {0};
    double scale = 1.0;
    fg_error *err = p->adapter == FG_LORA_ADAPTER_LORA   ? lora_delta(p, r, &delta, &scale)
                    : p->adapter == FG_LORA_ADAPTER_LOHA ? loha_delta(p, r, &delta, &scale)
                                                         : lokr_delta(p, r, &delta, &scale);
    if (!err && p->dora_scale.data)
        err = apply_dora(r, delta.data, scale, p->strength, p);
    else if (!err && p->strength != 0.0)
        err = add_scaled(r, delta.data, (float)(p->strength * scale), p->swap_scale_shift);
    mat_free(&delta);
    return err;
}

/* The region the patch adds into: weight.narrow(dim, start, len), copied out when strided. */
static fg_error *region_open(fg_tensor *w, const fg_lora_patch *p, patch_region *r) {
    memset(r, 0, sizeof *r);
    r->ndim = w->ndim;
    memcpy(r->shape, w->shape, sizeof r->shape);
    r->data = w->data;
    r->numel = fg_tensor_numel(w);
    if (!p->has_slice) return NULL;
    char s[64];
    int d = p->slice_dim;
    if (d < 0 || d >= w->ndim || p->slice_start < 0 || p->slice_len < 0 ||
        p->slice_start > w->shape[d] - p->slice_len)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "slice [dim %d, start %lld, length %lld] is outside the weight %s", d,
                         (long long)p->slice_start, (long long)p->slice_len, fg_tensor_shape_str(w, s, sizeof s));
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= w->shape[i];
    for (int i = d + 1; i < w->ndim; i++) inner *= w->shape[i];
    r->shape[d] = p->slice_len;
    r->numel = outer * p->slice_len * inner;
    float *base = w->data;
    if (outer == 1) {
        r->data = base + p->slice_start * inner;
        return NULL;
    }
    r->data = alloc_floats(r->numel);
    if (!r->data) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "slice of %lld values", (long long)r->numel);
    r->is_copy = true;
    size_t chunk = (size_t)(p->slice_len * inner) * sizeof(float);
    for (int64_t o = 0; o < outer; o++)
        memcpy(r->data + o * p->slice_len * inner, base + (o * w->shape[d] + p->slice_start) * inner, chunk);
    return NULL;
}

/* Writes a copied region back (when write_back) and releases it. */
static void region_close(fg_tensor *w, const fg_lora_patch *p, patch_region *r, bool write_back) {
    if (!r->is_copy) return;
    if (write_back) {
        int d = p->slice_dim;
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= w->shape[i];
        for (int i = d + 1; i < w->ndim; i++) inner *= w->shape[i];
        size_t chunk = (size_t)(p->slice_len * inner) * sizeof(float);
        float *base = w->data;
        for (int64_t o = 0; o < outer; o++)
            memcpy(base + (o * w->shape[d] + p->slice_start) * inner, r->data + o * p->slice_len * inner, chunk);
    }
    free(r->data);
    r->data = NULL;
}

static fg_error *apply_one(fg_tensor *w, const fg_lora_patch *p) {
    patch_region r;
    FG_TRY(region_open(w, p, &r));
    fg_error *err;
    switch (p->adapter) {
    case FG_LORA_ADAPTER_LORA:
    case FG_LORA_ADAPTER_LOHA:
    case FG_LORA_ADAPTER_LOKR: err = apply_low_rank(&r, p); break;
    case FG_LORA_ADAPTER_DIFF:
    case FG_LORA_ADAPTER_SET: err = apply_value(&r, p); break;
    default: err = fg_errorf(FG_ERR_UNSUPPORTED, "unknown adapter %d", (int)p->adapter); break;
    }
    region_close(w, p, &r, err == NULL);
    return err;
}

fg_error *fg_lora_apply_patches(fg_tensor *w, const fg_lora_patch *patches, size_t n, const char *weight_name) {
    const char *name = weight_name ? weight_name : "(unnamed)";
    FG_CHECK_ARG(w != NULL, "LoRA patches on weight '%s': no weight tensor", name);
    FG_CHECK_ARG(n == 0 || patches != NULL, "LoRA patches on weight '%s': no patch list", name);
    FG_CHECK_ARG(w->dtype == FG_F32 && w->device == FG_DEVICE_CPU,
                 "LoRA patches on weight '%s': the weight must be an F32 host tensor (got %s on %s)", name,
                 w->dtype < FG_DTYPE_COUNT ? fg_dtype_name(w->dtype) : "?", fg_device_name(w->device));
    FG_CHECK_ARG(w->ndim >= 0 && w->ndim <= FG_MAX_DIMS, "LoRA patches on weight '%s': %d dims", name, w->ndim);
    FG_CHECK_ARG(w->data != NULL || fg_tensor_numel(w) == 0, "LoRA patches on weight '%s': no data", name);
    for (size_t i = 0; i < n; i++) {
        fg_error *err = apply_one(w, &patches[i]);
        if (err)
            return fg_error_wrapf(err, "weight '%s': %s patch %zu of %zu", name, adapter_name(patches[i].adapter),
                                  i + 1, n);
    }
    return NULL;
}
