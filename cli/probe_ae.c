/* probe ae: the FLUX autoencoder on a golden file's inputs (fixtures README stage 6).
 * Inputs: z F32 [B, z, h, w] (raw VAE latent) and pixels_u8 U8 [B, H, W, 3].
 * Outputs: decoded (decoder output before clamp), image_u8 (SaveImage's bytes), moments, mean
 * (the first z channels: ComfyUI's mode), mean_process_in, z_process_out.
 * --model is an ae.safetensors, or an all-in-one checkpoint holding the VAE under "vae.". */
#include <stdio.h>
#include <string.h>

#include "cli/probe.h"
#include "kernels/ops.h"
#include "models/weights.h"
#include "vae/ae_model.h"
#include "vae/latent_format.h"

static const char *const inputs[] = {"z", "pixels_u8"};
static const char *const outputs[] = {"decoded", "image_u8", "moments", "mean", "mean_process_in", "z_process_out"};

static bool listed(const char *name, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return true;
    return false;
}

/* Every golden tensor is an input or an output this probe writes. */
static fg_error *check_golden_names(const fg_safetensors *golden) {
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        if (!listed(name, inputs, 2) && !listed(name, outputs, 6))
            return fg_errorf(FG_ERR_UNSUPPORTED, "golden tensor '%s' is not something the ae probe produces", name);
    }
    return NULL;
}

/* A golden input copied into aligned host memory (file data is only as aligned as the file). */
static fg_error *read_input(const fg_safetensors *golden, const char *name, fg_dtype dtype, fg_tensor *out) {
    fg_tensor view;
    FG_TRY(fg_safetensors_tensor(golden, name, &view));
    char s[96];
    if (view.dtype != dtype || view.ndim != 4)
        return fg_errorf(FG_ERR_FORMAT, "golden '%s' is %s %s, expected a 4-d %s tensor", name,
                         fg_dtype_name(view.dtype), fg_tensor_shape_str(&view, s, sizeof s), fg_dtype_name(dtype));
    FG_TRY(fg_tensor_alloc_host(out, view.dtype, view.ndim, view.shape));
    memcpy(out->data, view.data, fg_tensor_nbytes(&view));
    return NULL;
}

/* Queues t under name after checking it against the golden tensor of that name. */
static fg_error *emit(probe_ctx *ctx, const char *name, fg_tensor *t) {
    const fg_st_entry *g = fg_safetensors_find(probe_golden(ctx), name);
    if (g && (g->dtype != t->dtype || g->ndim != t->ndim || memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim))) {
        char a[96], b[96];
        fg_tensor_free_host(t);
        return fg_errorf(FG_ERR_FORMAT, "'%s': computed %s but golden holds %s", name,
                         fg_tensor_shape_str(t, a, sizeof a), fg_shape_str(g->ndim, g->shape, b, sizeof b));
    }
    return probe_output_add(ctx, name, t);
}

static fg_error *decode_side(probe_ctx *ctx, const fg_vae *m, const fg_tensor *z) {
    int64_t f = fg_vae_factor(m), b = z->shape[0], h = z->shape[2] * f, w = z->shape[3] * f;
    fg_tensor decoded = {0}, image = {0}, z_out = {0};
    FG_TRY(fg_tensor_alloc_host(&decoded, FG_F32, FG_SHAPE(b, fg_vae_config(m)->out_ch, h, w)));
    fg_error *err = fg_vae_decode(m, z, &decoded);
    if (!err) err = fg_tensor_alloc_host(&image, FG_U8, FG_SHAPE(b, h, w, 3));
    if (!err) err = fg_vae_decoded_to_u8(&image, &decoded);
    if (!err) err = fg_tensor_alloc_host(&z_out, FG_F32, z->ndim, z->shape);
    if (!err) err = fg_latent_process_out(&z_out, z);
    if (!err) err = emit(ctx, "decoded", &decoded);
    if (!err) err = emit(ctx, "image_u8", &image);
    if (!err) err = emit(ctx, "z_process_out", &z_out);
    fg_tensor_free_host(&decoded);
    fg_tensor_free_host(&image);
    fg_tensor_free_host(&z_out);
    return err;
}

static fg_error *encode_side(probe_ctx *ctx, const fg_vae *m, const fg_tensor *u8) {
    const fg_ae_config *c = fg_vae_config(m);
    int64_t f = fg_vae_factor(m), b = u8->shape[0], H = u8->shape[1], W = u8->shape[2];
    fg_tensor pixels = {0}, moments = {0}, mean = {0}, mean_in = {0};
    FG_TRY(fg_tensor_alloc_host(&pixels, FG_F32, FG_SHAPE(b, 3, H, W)));
    fg_error *err = fg_vae_u8_to_pixels(&pixels, u8);
    if (!err) err = fg_tensor_alloc_host(&moments, FG_F32, FG_SHAPE(b, 2 * c->z_channels, H / f, W / f));
    if (!err) err = fg_vae_encode(m, &pixels, &moments);
    if (!err) err = fg_tensor_alloc_host(&mean, FG_F32, FG_SHAPE(b, c->z_channels, H / f, W / f));
    if (!err) err = fg_slice(&mean, &moments, 1, 0);
    if (!err) err = fg_tensor_alloc_host(&mean_in, FG_F32, mean.ndim, mean.shape);
    if (!err) err = fg_latent_process_in(&mean_in, &mean);
    if (!err) err = emit(ctx, "moments", &moments);
    if (!err) err = emit(ctx, "mean", &mean);
    if (!err) err = emit(ctx, "mean_process_in", &mean_in);
    fg_tensor_free_host(&pixels);
    fg_tensor_free_host(&moments);
    fg_tensor_free_host(&mean);
    fg_tensor_free_host(&mean_in);
    return err;
}

static fg_error *open_model(const char *path, fg_vae **out) {
    fg_weights *base = NULL, *view = NULL;
    FG_TRY(fg_weights_open(path, &base));
    fg_error *err = NULL;
    if (fg_weights_has(base, "vae.decoder.conv_in.weight")) err = fg_weights_view(base, "vae.", &view);
    if (!err) err = fg_vae_load(view ? view : base, out);
    fg_weights_close(view);
    fg_weights_close(base);
    return err;
}

fg_error *probe_ae(probe_ctx *ctx) {
    const char *model_path = probe_model_path(ctx);
    if (!model_path) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "the ae probe needs --model FILE");
    const fg_safetensors *golden = probe_golden(ctx);
    FG_TRY(check_golden_names(golden));
    fg_vae *m = NULL;
    fg_tensor z = {0}, u8 = {0};
    fg_error *err = open_model(model_path, &m);
    if (!err) err = fg_error_wrapf(read_input(golden, "z", FG_F32, &z), "decode input");
    if (!err) err = fg_error_wrapf(read_input(golden, "pixels_u8", FG_U8, &u8), "encode input");
    if (!err) err = decode_side(ctx, m, &z);
    if (!err) err = encode_side(ctx, m, &u8);
    fg_tensor_free_host(&z);
    fg_tensor_free_host(&u8);
    fg_vae_free(m);
    return err;
}
