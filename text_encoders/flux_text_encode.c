/* ComfyUI's FLUX text conditioning from token ids and weights (docs/models.md 5.4, 6.1). */
#include "text_encoders/flux_text_encode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

static fg_error *check_weights(const char *stream, const float *weights, int64_t n) {
    if (!weights) return NULL;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(weights[i]))
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: the weight of token %lld is %g, not a finite number", stream,
                             (long long)i, (double)weights[i]);
    return NULL;
}

static bool any_weight(const float *weights, int64_t n) {
    for (int64_t i = 0; weights && i < n; i++)
        if (weights[i] != 1.0f) return true;
    return false;
}

static fg_error *rows_view(const fg_tensor *t, int64_t first, int64_t rows, int64_t d, fg_tensor *out) {
    return fg_tensor_view(out, FG_F32, t->device, FG_SHAPE(rows, d), (float *)t->data + first * d);
}

static int64_t leading(const fg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim - 2; i++) n *= t->shape[i];
    return n;
}

/* One run of tokens [j, j + n) with weight w: z = (z - e) * w + e, rounded step by step like
 * torch's three separate ops (subtract, multiply, add). */
static fg_error *weight_run(fg_tensor *z, const fg_tensor *e, fg_tensor *tmp, int64_t j, int64_t n, float w) {
    const int64_t d = z->shape[z->ndim - 1];
    fg_tensor zr, er, tr;
    FG_TRY(rows_view(z, j, n, d, &zr));
    FG_TRY(rows_view(e, j, n, d, &er));
    FG_TRY(rows_view(tmp, 0, n, d, &tr));
    FG_TRY(fg_axpby(&tr, 1.0f, &zr, -1.0f, &er));
    FG_TRY(fg_scale_shift(&tr, &tr, w, 0.0f));
    return fg_add(&zr, &tr, &er);
}

fg_error *fg_apply_token_weights(fg_tensor *z, const fg_tensor *z_empty, const float *weights) {
    FG_CHECK_ARG(z && z_empty && weights, "apply_token_weights: NULL argument");
    FG_CHECK_ARG(z->dtype == FG_F32 && z_empty->dtype == FG_F32 && z->ndim >= 2 && z_empty->ndim >= 2 &&
                     z->device == z_empty->device && z->data && z_empty->data,
                 "apply_token_weights: z and z_empty must be F32 [..., L, D] tensors on one device");
    const int64_t len = z->shape[z->ndim - 2], d = z->shape[z->ndim - 1];
    char a[96], b[96];
    FG_CHECK_ARG(leading(z) == 1 && leading(z_empty) == 1 && z_empty->shape[z_empty->ndim - 1] == d &&
                     z_empty->shape[z_empty->ndim - 2] >= len,
                 "apply_token_weights: z is %s, z_empty %s (expected [1.., L, D] and [1.., >= L, D])",
                 fg_tensor_shape_str(z, a, sizeof a), fg_tensor_shape_str(z_empty, b, sizeof b));
    FG_TRY(check_weights("apply_token_weights", weights, len));
    if (!any_weight(weights, len)) return NULL;
    fg_tensor tmp = {0};
    fg_error *err = fg_tensor_alloc(&tmp, z->device, FG_F32, FG_SHAPE(len, d));
    for (int64_t j = 0; !err && j < len;) {
        const float w = weights[j];
        int64_t end = j + 1;
        while (end < len && weights[end] == w) end++;
        if (w != 1.0f) err = weight_run(z, z_empty, &tmp, j, end - j, w);
        j = end;
    }
    fg_tensor_free(&tmp);
    return err;
}

/* Encodes [ids; empty] as one batch of two (rows are independent: no padding mask), keeps
 * row 0 and weights it against row 1. */
static fg_error *t5_weighted_pair(const fg_t5_model *t5, fg_device dev, const int32_t *ids, const float *weights,
                                  int64_t len, fg_tensor *out) {
    int32_t *pair = malloc((size_t)(2 * len) * sizeof *pair);
    if (!pair) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 ids");
    memcpy(pair, ids, (size_t)len * sizeof *pair);
    for (int64_t i = 0; i < len; i++) pair[len + i] = i == 0 ? FG_T5_EMPTY_EOS : FG_T5_EMPTY_PAD;
    fg_tensor both = {0}, first, empty;
    fg_error *err = fg_t5_encode(t5, dev, pair, 2, len, NULL, &both);
    free(pair);
    const int64_t d = fg_t5_model_config(t5)->d_model;
    if (!err) err = fg_tensor_alloc(out, dev, FG_F32, FG_SHAPE(1, len, d));
    if (!err) err = rows_view(&both, 0, len, d, &first);
    if (!err) err = rows_view(&both, len, len, d, &empty);
    if (!err) err = fg_tensor_copy(out, &first);
    if (!err) err = fg_apply_token_weights(out, &empty, weights);
    fg_tensor_free(&both);
    if (err) fg_tensor_free(out);
    return err;
}

fg_error *fg_t5_encode_weighted(const fg_t5_model *t5, fg_device dev, const int32_t *ids, const float *weights,
                                int64_t len, fg_tensor *out) {
    FG_CHECK_ARG(t5 && ids && out, "fg_t5_encode_weighted: NULL argument");
    memset(out, 0, sizeof *out);
    FG_CHECK_ARG(len >= 1, "T5: %lld tokens", (long long)len);
    FG_TRY(check_weights("T5", weights, len));
    if (!any_weight(weights, len)) return fg_t5_encode(t5, dev, ids, 1, len, NULL, out);
    return t5_weighted_pair(t5, dev, ids, weights, len, out);
}

fg_error *fg_flux_text_encode(const fg_clip_model *clip, const fg_t5_model *t5, fg_device dev,
                              const fg_flux_token_arrays *tokens, fg_tensor *cond, fg_tensor *pooled) {
    FG_CHECK_ARG(clip && t5 && tokens && cond && pooled, "fg_flux_text_encode: NULL argument");
    memset(cond, 0, sizeof *cond);
    memset(pooled, 0, sizeof *pooled);
    const fg_flux_token_arrays *t = tokens;
    FG_CHECK_ARG(t->clip_ids && t->t5_ids, "fg_flux_text_encode: no token ids");
    FG_CHECK_ARG(t->clip_chunks >= 1 && t->clip_len >= 1 && t->clip_chunks <= INT64_MAX / t->clip_len,
                 "CLIP: %lld chunks of %lld tokens", (long long)t->clip_chunks, (long long)t->clip_len);
    const int64_t positions = fg_clip_model_config(clip)->positions;
    FG_CHECK_ARG(t->clip_len <= positions, "CLIP: %lld tokens per chunk, the model has %lld positions",
                 (long long)t->clip_len, (long long)positions);
    FG_TRY(check_weights("CLIP", t->clip_weights, t->clip_chunks * t->clip_len));
    fg_clip_outputs co;
    FG_TRY_CTX(fg_clip_encode(clip, dev, t->clip_ids, 1, t->clip_len, FG_CLIP_POOLED, &co), "CLIP-L");
    *pooled = co.pooled;
    fg_error *err = fg_error_wrapf(fg_t5_encode_weighted(t5, dev, t->t5_ids, t->t5_weights, t->t5_len, cond), "T5");
    if (err) fg_tensor_free(pooled);
    return err;
}
