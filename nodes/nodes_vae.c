/* VAE nodes (docs/comfyui.md 3.6): decode latents to IMAGE, encode IMAGE to latents, whole or in
 * tiles. LATENT samples are raw VAE latents (the sampler applies process_in/out); IMAGE is
 * [B,H,W,3] in 0..1; the VAE works on NCHW pixels in [-1,1]. */
#include "nodes/node_families.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "vae/ae_model.h"
#include "vae/latent_format.h"

/* ComfyUI's definitions give the inputs (nodes/node_decl.h). */

/* ---- execute functions ---------------------------------------------------------------- */

/* The vae input, with ComfyUI's message for a None vae (a checkpoint without one). */
static fg_error *get_vae(const fg_node_args *args, const fg_vae **vae) {
    const fg_object *obj;
    FG_TRY(fg_arg_object_opt(args, "vae", FG_TYPE_VAE, &obj));
    if (!obj)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "vae input is invalid: None\n\nIf the vae is from a checkpoint loader node your "
                         "checkpoint does not contain a valid vae.");
    *vae = ((const fg_vae_obj *)obj)->vae;
    return NULL;
}

/* The tiled nodes' tile_size and overlap (ComfyUI's ranges keep both sane; checked anyway). */
static fg_error *get_tiles(const fg_node_args *args, int64_t *tile, int64_t *overlap) {
    FG_TRY(fg_arg_int(args, "tile_size", tile));
    FG_TRY(fg_arg_int(args, "overlap", overlap));
    FG_CHECK_ARG(*tile > 0 && *overlap >= 0, "%s: tile_size must be positive and overlap >= 0",
                 args->spec->class_type);
    return NULL;
}

static bool all_zero(const fg_tensor *t) {
    const float *p = t->data;
    for (int64_t i = 0, n = fg_tensor_numel(t); i < n; i++)
        if (p[i] != 0.0f) return false;
    return true;
}

/* The latent the decoder gets. An all-zero latent with another channel count (a 4-channel
 * EmptyLatentImage fed straight to a FLUX VAE) is widened to the VAE's channels, as the
 * sampler's fix_empty_latent_channels does; other mismatches are errors. *z borrows or owns. */
static fg_error *decoder_input(const fg_vae *vae, const fg_latent *l, fg_tensor *z) {
    const fg_tensor *s = &l->samples;
    int64_t zc = fg_vae_config(vae)->z_channels;
    char buf[64];
    if (s->ndim != 4 || s->dtype != FG_F32)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE decode: latent samples must be f32 [B,C,h,w], got %s",
                         fg_tensor_shape_str(s, buf, sizeof buf));
    if (s->shape[1] == zc) {
        *z = *s;
        z->owns_data = false;
        return NULL;
    }
    if (!all_zero(s))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE decode: the latent %s has %lld channels but this VAE takes %lld",
                         fg_tensor_shape_str(s, buf, sizeof buf), (long long)s->shape[1], (long long)zc);
    return fg_tensor_alloc(z, FG_DEVICE_CPU, FG_F32, FG_SHAPE(s->shape[0], zc, s->shape[2], s->shape[3]));
}

/* decoded [B,3,H,W] in about [-1,1] -> IMAGE [B,H,W,3] = clamp((d + 1) / 2, 0, 1). */
static fg_error *decoded_to_image(fg_tensor *decoded, fg_value *out) {
    FG_TRY(fg_scale_shift(decoded, decoded, 0.5f, 0.5f)); /* (d + 1) / 2: the halving is exact */
    fg_tensor nhwc;
    FG_TRY(fg_tensor_alloc(&nhwc, FG_DEVICE_CPU, FG_F32,
                           FG_SHAPE(decoded->shape[0], decoded->shape[2], decoded->shape[3], decoded->shape[1])));
    fg_error *err = fg_permute(&nhwc, decoded, (const int[]){0, 2, 3, 1});
    if (!err) {
        float *p = nhwc.data;
        for (int64_t i = 0, n = fg_tensor_numel(&nhwc); i < n; i++) p[i] = p[i] < 0.0f ? 0.0f : p[i] > 1.0f ? 1.0f : p[i];
    }
    fg_image_obj *im = NULL;
    if (!err) err = fg_image_obj_new(FG_TYPE_IMAGE, &nhwc, &im);
    if (err) {
        fg_tensor_free(&nhwc);
        return err;
    }
    out[0] = fg_value_object(&im->base);
    return NULL;
}

static fg_error *decode(const fg_vae *vae, const fg_latent *l, bool tiled, int64_t tile, int64_t overlap,
                        fg_value *out) {
    fg_tensor z;
    FG_TRY(decoder_input(vae, l, &z));
    int64_t f = fg_vae_factor(vae), h = z.shape[2], w = z.shape[3];
    fg_tensor decoded = {0};
    fg_error *err = NULL;
    if (h > INT64_MAX / f || w > INT64_MAX / f) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE decode: latent too large");
    if (!err)
        err = fg_tensor_alloc(&decoded, FG_DEVICE_CPU, FG_F32,
                              FG_SHAPE(z.shape[0], fg_vae_config(vae)->out_ch, h * f, w * f));
    if (!err) err = tiled ? fg_vae_decode_tiled(vae, &z, tile, overlap, &decoded) : fg_vae_decode(vae, &z, &decoded);
    fg_tensor_free(&z);
    if (!err) err = decoded_to_image(&decoded, out);
    fg_tensor_free(&decoded);
    return err;
}


/* IMAGE [B,H,W,C>=3] -> VAE pixels [B,3,H',W'] = 2x - 1 after ComfyUI's center crop of H and
 * W to multiples of the VAE factor (offset (dim % f) / 2; channels past 3 dropped). */
static fg_error *encoder_input(const fg_vae *vae, const fg_image_obj *im, fg_tensor *pixels) {
    const fg_tensor *p = &im->pixels;
    char buf[64];
    int64_t f = fg_vae_factor(vae);
    if (p->ndim != 4 || p->dtype != FG_F32 || p->shape[3] < 3)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE encode: pixels must be f32 [B,H,W,3], got %s",
                         fg_tensor_shape_str(p, buf, sizeof buf));
    int64_t b = p->shape[0], h = p->shape[1], w = p->shape[2], c = p->shape[3];
    int64_t hc = h / f * f, wc = w / f * f, oy = (h % f) / 2, ox = (w % f) / 2;
    if (hc == 0 || wc == 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE encode: a %lldx%lld image is smaller than the VAE's %lld pixel cell",
                         (long long)w, (long long)h, (long long)f);
    fg_tensor crop;
    FG_TRY(fg_tensor_alloc(&crop, FG_DEVICE_CPU, FG_F32, FG_SHAPE(b, hc, wc, c)));
    const float *src = p->data;
    float *dst = crop.data;
    for (int64_t i = 0; i < b; i++)
        for (int64_t y = 0; y < hc; y++)
            memcpy(dst + ((i * hc + y) * wc) * c, src + ((i * h + y + oy) * w + ox) * c, (size_t)(wc * c) * sizeof(float));
    fg_error *err = fg_tensor_alloc(pixels, FG_DEVICE_CPU, FG_F32, FG_SHAPE(b, 3, hc, wc));
    if (!err) err = fg_vae_image_to_pixels(pixels, &crop);
    fg_tensor_free(&crop);
    if (err) fg_tensor_free(pixels);
    return err;
}

static fg_error *encode(const fg_vae *vae, const fg_image_obj *im, bool tiled, int64_t tile, int64_t overlap,
                        fg_value *out) {
    fg_tensor pixels;
    FG_TRY(encoder_input(vae, im, &pixels));
    int64_t f = fg_vae_factor(vae);
    fg_tensor mean;
    fg_error *err = fg_tensor_alloc(&mean, FG_DEVICE_CPU, FG_F32,
                                    FG_SHAPE(pixels.shape[0], fg_vae_config(vae)->z_channels, pixels.shape[2] / f,
                                             pixels.shape[3] / f));
    if (!err) err = tiled ? fg_vae_encode_tiled(vae, &pixels, tile, overlap, &mean) : fg_vae_encode_mean(vae, &pixels, &mean);
    fg_tensor_free(&pixels);
    fg_latent *l = NULL;
    if (!err) err = fg_latent_new(&mean, &l);
    if (err) {
        fg_tensor_free(&mean);
        return err;
    }
    out[0] = fg_value_object(&l->base);
    return NULL;
}

/* VAEDecode, VAEEncode and their Tiled forms: one execute function, the class says which.
 * Decoding follows ComfyUI's overlap = tile_size // 4 when tile_size < 4 * overlap; the
 * temporal inputs of the tiled nodes only matter for video VAEs and are ignored. */
static fg_error *vae_node(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const char *cls = args->spec->class_type;
    bool decoding = strncmp(cls, "VAEDecode", 9) == 0, tiled = strstr(cls, "Tiled") != NULL;
    int64_t tile = 0, overlap = 0;
    if (tiled) FG_TRY(get_tiles(args, &tile, &overlap));
    if (decoding && tile < 4 * overlap) overlap = tile / 4;
    const fg_object *input; /* the latent to decode or the image to encode */
    FG_TRY(fg_arg_object(args, decoding ? "samples" : "pixels", decoding ? FG_TYPE_LATENT : FG_TYPE_IMAGE, &input));
    const fg_vae *vae = NULL;
    FG_TRY(get_vae(args, &vae));
    if (decoding) return decode(vae, (const fg_latent *)input, tiled, tile, overlap, out);
    return encode(vae, (const fg_image_obj *)input, tiled, tile, overlap, out);
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_vae[] = {
    {NODE("VAEDecode", vae_node)},
    {NODE("VAEEncode", vae_node)},
    {NODE("VAEDecodeTiled", vae_node)},
    {NODE("VAEEncodeTiled", vae_node)},
};
const size_t fg_nodes_vae_count = sizeof fg_nodes_vae / sizeof fg_nodes_vae[0];
