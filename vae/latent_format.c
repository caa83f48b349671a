/* Latent scale/shift and pixel conversions, all on the op interface. */
#include "vae/latent_format.h"

#include <stdbool.h>

#include "kernels/ops.h"

fg_error *fg_latent_process_in(fg_tensor *out, const fg_tensor *x) {
    FG_CHECK_ARG(out && x, "fg_latent_process_in: NULL argument");
    FG_TRY_CTX(fg_scale_shift(out, x, 1.0f, -FG_FLUX_LATENT_SHIFT), "latent process_in");
    return fg_error_wrapf(fg_scale_shift(out, out, FG_FLUX_LATENT_SCALE, 0.0f), "latent process_in");
}

fg_error *fg_latent_process_out(fg_tensor *out, const fg_tensor *x) {
    FG_CHECK_ARG(out && x, "fg_latent_process_out: NULL argument");
    FG_TRY_CTX(fg_scale_shift(out, x, 1.0f / FG_FLUX_LATENT_SCALE, 0.0f), "latent process_out");
    return fg_error_wrapf(fg_scale_shift(out, out, 1.0f, FG_FLUX_LATENT_SHIFT), "latent process_out");
}

static fg_error *check_nchw3(const char *op, const fg_tensor *t) {
    char s[96];
    if (t->ndim != 4 || t->shape[1] != 3)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s is not [B, 3, H, W]", op, fg_tensor_shape_str(t, s, sizeof s));
    return NULL;
}

/* nhwc must be nchw's [B, H, W, 3] (or [B, H, W, C >= 3] when extra channels are allowed). */
static fg_error *check_nhwc_of(const char *op, const fg_tensor *nhwc, const fg_tensor *nchw, bool extra_channels) {
    char a[96], b[96];
    if (nhwc->ndim != 4 || nhwc->shape[0] != nchw->shape[0] || nhwc->shape[1] != nchw->shape[2] ||
        nhwc->shape[2] != nchw->shape[3] || nhwc->shape[3] < 3 || (!extra_channels && nhwc->shape[3] != 3))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: %s does not match %s in channels-last layout", op,
                         fg_tensor_shape_str(nhwc, a, sizeof a), fg_tensor_shape_str(nchw, b, sizeof b));
    return NULL;
}

/* (d + 1) / 2 equals d * 0.5 + 0.5 exactly (halving is exact), then 255 * v rounds once as in
 * numpy; the saturating, truncating cast to U8 is the clip + astype(uint8) (and the clamp to
 * [0, 1] before it changes nothing the saturation does not). */
fg_error *fg_vae_decoded_to_u8(fg_tensor *out, const fg_tensor *decoded) {
    const char *op = "decoded to u8";
    FG_CHECK_ARG(out && decoded, "fg_vae_decoded_to_u8: NULL argument");
    FG_TRY(check_nchw3(op, decoded));
    FG_TRY(check_nhwc_of(op, out, decoded, false));
    FG_CHECK_ARG(out->dtype == FG_U8, "%s: output must be U8, not %s", op, fg_dtype_name(out->dtype));
    fg_tensor v = {0}, nhwc = {0};
    FG_TRY(fg_tensor_alloc(&v, decoded->device, decoded->dtype, decoded->ndim, decoded->shape));
    fg_error *err = fg_scale_shift(&v, decoded, 0.5f, 0.5f);
    if (!err) err = fg_scale_shift(&v, &v, 255.0f, 0.0f);
    if (!err) err = fg_tensor_alloc(&nhwc, decoded->device, decoded->dtype, out->ndim, out->shape);
    if (!err) err = fg_permute(&nhwc, &v, (const int[]){0, 2, 3, 1});
    fg_tensor_free(&v);
    if (!err) err = fg_cast(out, &nhwc);
    fg_tensor_free(&nhwc);
    return fg_error_wrapf(err, "%s", op);
}

/* numpy's float32 u8 / 255 is a true division, which no op provides; the 256 possible results
 * (already mapped to 2p - 1) are a small host table looked up by embedding. */
static fg_error *pixel_table(fg_device dev, fg_tensor *out) {
    fg_tensor host = {0};
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, FG_SHAPE(256, 1)));
    float *t = host.data;
    for (int i = 0; i < 256; i++) {
        volatile float p = (float)i / 255.0f; /* one float32 rounding, like numpy */
        t[i] = p * 2.0f - 1.0f;
    }
    fg_error *err = fg_tensor_alloc(out, dev, FG_F32, FG_SHAPE(256, 1));
    if (!err) err = fg_tensor_copy(out, &host);
    fg_tensor_free_host(&host);
    return err;
}

fg_error *fg_vae_u8_to_pixels(fg_tensor *out, const fg_tensor *u8) {
    const char *op = "u8 to pixels";
    FG_CHECK_ARG(out && u8, "fg_vae_u8_to_pixels: NULL argument");
    FG_TRY(check_nchw3(op, out));
    FG_TRY(check_nhwc_of(op, u8, out, false));
    FG_CHECK_ARG(u8->dtype == FG_U8 && out->dtype == FG_F32, "%s: expects U8 in and F32 out", op);
    fg_tensor ids = {0}, table = {0}, looked = {0}, nhwc;
    const int64_t *s = u8->shape;
    FG_TRY(fg_tensor_alloc(&ids, out->device, FG_I32, u8->ndim, u8->shape));
    fg_error *err = fg_cast(&ids, u8);
    if (!err) err = pixel_table(out->device, &table);
    if (!err) err = fg_tensor_alloc(&looked, out->device, FG_F32, FG_SHAPE(s[0], s[1], s[2], s[3], 1));
    if (!err) err = fg_embedding(&looked, &ids, &table);
    if (!err) err = fg_tensor_reshape(&nhwc, &looked, 4, s);
    if (!err) err = fg_permute(out, &nhwc, (const int[]){0, 3, 1, 2});
    fg_tensor_free(&ids);
    fg_tensor_free(&table);
    fg_tensor_free(&looked);
    return fg_error_wrapf(err, "%s", op);
}

fg_error *fg_vae_image_to_pixels(fg_tensor *out, const fg_tensor *image) {
    const char *op = "image to pixels";
    FG_CHECK_ARG(out && image, "fg_vae_image_to_pixels: NULL argument");
    FG_TRY(check_nchw3(op, out));
    FG_TRY(check_nhwc_of(op, image, out, true));
    fg_tensor rgb = {0};
    const fg_tensor *src = image;
    fg_error *err = NULL;
    if (image->shape[3] != 3) {
        err = fg_tensor_alloc(&rgb, image->device, image->dtype, FG_SHAPE(image->shape[0], image->shape[1], image->shape[2], 3));
        if (!err) err = fg_slice(&rgb, image, 3, 0);
        src = &rgb;
    }
    if (!err) err = fg_permute(out, src, (const int[]){0, 3, 1, 2});
    fg_tensor_free(&rgb);
    if (!err) err = fg_scale_shift(out, out, 2.0f, -1.0f);
    return fg_error_wrapf(err, "%s", op);
}
