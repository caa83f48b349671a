/* Loading and the untiled entry points: argument checks, then the coders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/layout_ae.h"
#include "models/weights_internal.h"
#include "vae/ae_internal.h"

/* SD 1.x/XL VAEs have quant_conv / post_quant_conv, which FLUX's lacks and this model would
 * silently skip: refuse them instead. */
static fg_error *refuse_quant_conv(const fg_weights *w) {
    static const char *const names[] = {"quant_conv.weight", "post_quant_conv.weight"};
    for (int i = 0; i < 2; i++)
        if (fg_weights_has(w, names[i]))
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s has '%s%s': an SD-style VAE, not the FLUX autoencoder",
                             fg_weights_path(w), fg_weights_prefix(w), names[i]);
    return NULL;
}

/* The residual block `block` of a level, whose block array is made at its first block. */
static fg_error *load_block(const fg_weights *w, const fg_ae_module *mod, vae_level *level) {
    if (mod->block == 0) {
        level->blocks = calloc((size_t)mod->blocks, sizeof *level->blocks);
        if (!level->blocks)
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "VAE %s level %lld", mod->decoder ? "decoder" : "encoder",
                             (long long)mod->level);
        level->block_count = mod->blocks;
    }
    return vae_load_resblock(w, mod->name, mod->in, mod->out, &level->blocks[mod->block]);
}

/* Loads one module of the tree models/layout_ae.c walks into its place in the encoder or the
 * decoder (every lookup checks the shape the config implies). */
static fg_error *load_module(void *ctx, const fg_ae_module *mod) {
    fg_vae *m = ctx;
    const fg_weights *w = m->weights;
    vae_coder *coder = mod->decoder ? &m->decoder : &m->encoder;
    vae_level *level = &coder->levels[mod->level];
    switch (mod->slot) {
    case FG_AE_CONV_IN: return vae_load_conv(w, mod->name, mod->out, mod->in, 3, &coder->conv_in);
    case FG_AE_BLOCK: return load_block(w, mod, level);
    case FG_AE_RESAMPLE:
        level->has_resample = true;
        return vae_load_conv(w, mod->name, mod->out, mod->in, 3, &level->resample);
    case FG_AE_MID: return vae_load_mid(w, mod->name, mod->out, &coder->mid);
    case FG_AE_NORM_OUT: return vae_load_norm(w, mod->name, mod->out, &coder->norm_out);
    case FG_AE_CONV_OUT: return vae_load_conv(w, mod->name, mod->out, mod->in, 3, &coder->conv_out);
    }
    return NULL;
}

fg_error *fg_vae_load(const fg_weights *w, fg_vae **out) {
    FG_CHECK_ARG(w && out, "fg_vae_load: NULL argument");
    *out = NULL;
    FG_TRY_CTX(refuse_quant_conv(w), "loading the VAE");
    fg_vae *m = calloc(1, sizeof *m);
    if (!m) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "VAE model");
    m->device = fg_weights_device(w);
    m->act_dtype = m->device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    fg_error *err = fg_vae_infer_config(w, &m->config);
    /* The model's own reference: it sees the tensors an upload added, not only file ones. */
    if (!err) m->weights = fg_weights_ref(w);
    /* Tensors are looked up through the model's own view: the same names and file mapping. */
    if (!err) err = fg_ae_walk(&m->config, load_module, m);
    if (err) {
        fg_vae_free(m);
        return fg_error_wrapf(err, "loading the VAE");
    }
    *out = m;
    return NULL;
}

void fg_vae_free(fg_vae *m) {
    if (!m) return;
    vae_coder_free(&m->encoder);
    vae_coder_free(&m->decoder);
    fg_weights_close(m->weights);
    free(m);
}

const fg_ae_config *fg_vae_config(const fg_vae *m) { return &m->config; }
int64_t fg_vae_factor(const fg_vae *m) { return fg_vae_spatial_factor(&m->config); }

/* x must be a [B, C, H, W] activation with the given channel count. */
static fg_error *check_input(const char *what, const fg_tensor *x, int64_t channels) {
    char s[96];
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] != channels || x->shape[2] < 1 || x->shape[3] < 1)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s is %s, expected [B, %lld, H, W] with B, H, W >= 1", what,
                         fg_tensor_shape_str(x, s, sizeof s), (long long)channels);
    if (x->dtype != FG_F32 && x->dtype != FG_BF16)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s has dtype %s, expected an activation dtype", what,
                         fg_dtype_name(x->dtype));
    return NULL;
}

static fg_error *check_output(const char *what, const fg_tensor *out, const fg_tensor *in, int64_t c, int64_t h,
                              int64_t w) {
    char s[96], e[96];
    fg_shape_str(4, (const int64_t[]){in->shape[0], c, h, w}, e, sizeof e);
    if (out->ndim != 4 || out->shape[0] != in->shape[0] || out->shape[1] != c || out->shape[2] != h ||
        out->shape[3] != w)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s is %s, expected %s", what,
                         fg_tensor_shape_str(out, s, sizeof s), e);
    if (out->dtype != in->dtype || out->device != in->device)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s must have the input's dtype and device", what);
    return NULL;
}

fg_error *vae_check_decode(const fg_vae *m, const fg_tensor *z, const fg_tensor *out) {
    const fg_ae_config *c = &m->config;
    int64_t f = fg_vae_factor(m);
    FG_TRY(check_input("latent", z, c->z_channels));
    return check_output("output", out, z, c->out_ch, z->shape[2] * f, z->shape[3] * f);
}

fg_error *vae_check_encode(const fg_vae *m, const fg_tensor *x, const fg_tensor *out, int64_t out_channels) {
    int64_t f = fg_vae_factor(m);
    FG_TRY(check_input("image", x, m->config.in_channels));
    if (x->shape[2] % f != 0 || x->shape[3] % f != 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "image is %lldx%lld pixels, not a multiple of %lld (crop it first)",
                         (long long)x->shape[3], (long long)x->shape[2], (long long)f);
    return check_output(out_channels == m->config.z_channels ? "mean" : "moments", out, x, out_channels,
                        x->shape[2] / f, x->shape[3] / f);
}

fg_error *fg_vae_set_act_dtype(fg_vae *m, fg_dtype act_dtype) {
    FG_CHECK_ARG(m, "fg_vae_set_act_dtype: NULL model");
    FG_TRY(fg_act_dtype_check("VAE", act_dtype));
    m->act_dtype = act_dtype;
    return NULL;
}

typedef fg_error *(*vae_coder_fn)(const fg_vae *m, const fg_tensor *in, fg_tensor *out);

/* fn on activation copies of in and out (from s): the model's dtype, on its device. */
static fg_error *run_converted(fg_scope *s, const fg_vae *m, const fg_tensor *in, fg_tensor *out, vae_coder_fn fn) {
    fg_tensor *a_in, *a_out;
    FG_TRY(fg_scope_alloc(s, m->device, m->act_dtype, in->ndim, in->shape, &a_in));
    FG_TRY(fg_tensor_convert(a_in, in));
    FG_TRY(fg_scope_alloc(s, m->device, m->act_dtype, out->ndim, out->shape, &a_out));
    FG_TRY(fn(m, a_in, a_out));
    return fg_tensor_convert(out, a_out);
}

static fg_error *run_act(const fg_vae *m, const fg_tensor *in, fg_tensor *out, vae_coder_fn fn) {
    if (in->dtype == m->act_dtype && in->device == m->device && out->dtype == m->act_dtype &&
        out->device == m->device)
        return fn(m, in, out);
    FG_SCOPED(NULL, s, run_converted(&s, m, in, out, fn));
    return NULL;
}

fg_error *vae_encode_act(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) {
    return run_act(m, x, moments, vae_encoder_forward);
}

fg_error *vae_decode_act(const fg_vae *m, const fg_tensor *z, fg_tensor *out) {
    return run_act(m, z, out, vae_decoder_forward);
}

/* Peak activation bytes of one decode (vae_decoder_forward), in units of one tensor of C
 * channels at the current resolution: a residual block holds its input, the norm output and a
 * conv output (3; counted as 4 for slack) of its widest channel count; an upsample holds its
 * input, the doubled copy and the conv output (1 + 4 + 4); the mid block's attention ~7 token
 * tensors. Conv and attention scratch is bounded on its own (64 MB allowed). Plus the
 * act-dtype copies of z and of the output (run_act). */
size_t fg_vae_decode_activation_bytes(const fg_vae *m, int64_t batch, int64_t latent_h, int64_t latent_w) {
    const fg_ae_config *c = &m->config;
    const int64_t last = c->levels - 1;
    double pixels = (double)latent_h * (double)latent_w;
    double peak = 7.0 * (double)(c->ch * c->ch_mult[last]) * pixels;
    for (int64_t i = last; i >= 0; i--) {
        const int64_t block_in = c->ch * c->ch_mult[i == last ? last : i + 1], block_out = c->ch * c->ch_mult[i];
        const double blocks = 4.0 * (double)(block_in > block_out ? block_in : block_out) * pixels;
        const double upsample = i != 0 ? 9.0 * (double)block_out * pixels : 0.0;
        if (blocks > peak) peak = blocks;
        if (upsample > peak) peak = upsample;
        if (i != 0) pixels *= 4.0;
    }
    const double io = (double)c->z_channels * (double)latent_h * (double)latent_w + (double)c->out_ch * pixels;
    const double total = (peak + io) * (double)fg_dtype_size(m->act_dtype) * (double)batch + (double)(64u << 20);
    return total >= (double)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

fg_error *fg_vae_check_decode_memory(const fg_vae *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                     size_t free_bytes) {
    FG_CHECK_ARG(m && batch > 0 && latent_h > 0 && latent_w > 0, "VAE memory check: bad sizes");
    const size_t need = fg_vae_decode_activation_bytes(m, batch, latent_h, latent_w);
    if (need <= free_bytes) return NULL;
    const double gib = (double)(1u << 30);
    const int64_t f = fg_vae_factor(m);
    return fg_errorf(FG_ERR_OUT_OF_MEMORY,
                     "a %lldx%lld batch %lld needs %.1f GiB for activations, %.1f GiB free on %s "
                     "(VAEDecodeTiled decodes it in pieces)",
                     (long long)(latent_w * f), (long long)(latent_h * f), (long long)batch, (double)need / gib,
                     (double)free_bytes / gib, fg_device_name(m->device));
}

/* Fails before the work when a decode cannot fit (the CPU would otherwise grow until the OOM
 * killer ends the process). */
static fg_error *check_decode_memory(const fg_vae *m, const fg_tensor *z) {
    size_t free_bytes = 0, total = 0;
    fg_memory_stats stats = {0};
    FG_TRY(fg_device_memory_info(m->device, &free_bytes, &total));
    FG_TRY(fg_device_memory_stats(m->device, &stats));
    return fg_vae_check_decode_memory(m, z->shape[0], z->shape[2], z->shape[3], free_bytes + stats.cached);
}

fg_error *fg_vae_decode(const fg_vae *m, const fg_tensor *z, fg_tensor *out) {
    FG_CHECK_ARG(m && z && out, "fg_vae_decode: NULL argument");
    FG_TRY_CTX(vae_check_decode(m, z, out), "VAE decode");
    FG_TRY_CTX(check_decode_memory(m, z), "VAE decode");
    return fg_error_wrapf(vae_decode_act(m, z, out), "VAE decode");
}

fg_error *fg_vae_encode(const fg_vae *m, const fg_tensor *x, fg_tensor *moments) {
    FG_CHECK_ARG(m && x && moments, "fg_vae_encode: NULL argument");
    FG_TRY_CTX(vae_check_encode(m, x, moments, 2 * m->config.z_channels), "VAE encode");
    return fg_error_wrapf(vae_encode_act(m, x, moments), "VAE encode");
}

fg_error *fg_vae_encode_mean(const fg_vae *m, const fg_tensor *x, fg_tensor *mean) {
    FG_CHECK_ARG(m && x && mean, "fg_vae_encode_mean: NULL argument");
    const fg_ae_config *c = &m->config;
    FG_TRY_CTX(vae_check_encode(m, x, mean, c->z_channels), "VAE encode");
    fg_tensor moments = {0};
    FG_TRY(fg_tensor_alloc(&moments, x->device, x->dtype,
                           FG_SHAPE(x->shape[0], 2 * c->z_channels, mean->shape[2], mean->shape[3])));
    fg_error *err = vae_encode_act(m, x, &moments);
    if (!err) err = fg_slice(mean, &moments, 1, 0);
    fg_tensor_free(&moments);
    return fg_error_wrapf(err, "VAE encode");
}
