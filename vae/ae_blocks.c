/* The autoencoder's building blocks (models.md 2.2): loading their parameters with shape
 * checks, and their forward passes on the op interface. Activations are allocated on the
 * input's device with the input's dtype and freed as soon as they are dead. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vae/ae_internal.h"

/* ---- loading ------------------------------------------------------------------------ */

/* "<prefix>.<sub>" into buf, refusing names that do not fit. */
static fg_error *join(char *buf, size_t cap, const char *prefix, const char *sub) {
    int n = snprintf(buf, cap, "%s.%s", prefix, sub);
    if (n < 0 || (size_t)n >= cap)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name '%s.%s' too long", prefix, sub);
    return NULL;
}

/* "<prefix>.<leaf>" with the shape the config implies. The conv op has no dequantisation
 * scale, so a scaled fp8 weight is refused rather than silently misread. */
static fg_error *load_param(const fg_weights *w, const char *prefix, const char *leaf, int ndim,
                            const int64_t *shape, fg_tensor *out) {
    char name[VAE_NAME_MAX];
    FG_TRY(join(name, sizeof name, prefix, leaf));
    FG_TRY(fg_weights_get_shaped(w, name, ndim, shape, out));
    if (out->dtype == FG_F8_E4M3 || out->dtype == FG_F8_E5M2) {
        float scale = 1.0f;
        FG_TRY(fg_weights_scale(w, name, &scale));
        if (scale != 1.0f)
            return fg_errorf(FG_ERR_UNSUPPORTED, "%s: tensor '%s%s' is a scaled fp8 weight, not supported in the VAE",
                             fg_weights_path(w), fg_weights_prefix(w), name);
    }
    return NULL;
}

fg_error *vae_load_conv(const fg_weights *w, const char *prefix, int64_t co, int64_t ci, int64_t k, vae_conv *out) {
    FG_TRY(load_param(w, prefix, "weight", FG_SHAPE(co, ci, k, k), &out->w));
    return load_param(w, prefix, "bias", FG_SHAPE(co), &out->b);
}

fg_error *vae_load_norm(const fg_weights *w, const char *prefix, int64_t c, vae_norm *out) {
    FG_TRY(load_param(w, prefix, "weight", FG_SHAPE(c), &out->w));
    return load_param(w, prefix, "bias", FG_SHAPE(c), &out->b);
}

static fg_error *load_sub_conv(const fg_weights *w, const char *prefix, const char *sub, int64_t co, int64_t ci,
                               int64_t k, vae_conv *out) {
    char p[VAE_NAME_MAX];
    FG_TRY(join(p, sizeof p, prefix, sub));
    return vae_load_conv(w, p, co, ci, k, out);
}

static fg_error *load_sub_norm(const fg_weights *w, const char *prefix, const char *sub, int64_t c, vae_norm *out) {
    char p[VAE_NAME_MAX];
    FG_TRY(join(p, sizeof p, prefix, sub));
    return vae_load_norm(w, p, c, out);
}

fg_error *vae_load_resblock(const fg_weights *w, const char *prefix, int64_t cin, int64_t cout, vae_resblock *out) {
    memset(out, 0, sizeof *out);
    FG_TRY(load_sub_norm(w, prefix, "norm1", cin, &out->norm1));
    FG_TRY(load_sub_conv(w, prefix, "conv1", cout, cin, 3, &out->conv1));
    FG_TRY(load_sub_norm(w, prefix, "norm2", cout, &out->norm2));
    FG_TRY(load_sub_conv(w, prefix, "conv2", cout, cout, 3, &out->conv2));
    out->has_shortcut = cin != cout;
    if (out->has_shortcut) FG_TRY(load_sub_conv(w, prefix, "nin_shortcut", cout, cin, 1, &out->nin_shortcut));
    return NULL;
}

/* A 1x1 conv [C, C, 1, 1] kept as the [C, C] matrix of a linear layer. */
static fg_error *load_projection(const fg_weights *w, const char *prefix, const char *sub, int64_t c,
                                 fg_tensor *weight, fg_tensor *bias) {
    vae_conv conv;
    FG_TRY(load_sub_conv(w, prefix, sub, c, c, 1, &conv));
    FG_TRY(fg_tensor_reshape(weight, &conv.w, FG_SHAPE(c, c)));
    *bias = conv.b;
    return NULL;
}

fg_error *vae_load_mid(const fg_weights *w, const char *prefix, int64_t c, vae_mid *out) {
    char p[VAE_NAME_MAX];
    FG_TRY(join(p, sizeof p, prefix, "block_1"));
    FG_TRY(vae_load_resblock(w, p, c, c, &out->block_1));
    FG_TRY(join(p, sizeof p, prefix, "attn_1"));
    vae_attn *a = &out->attn_1;
    FG_TRY(load_sub_norm(w, p, "norm", c, &a->norm));
    FG_TRY(load_projection(w, p, "q", c, &a->q_w, &a->q_b));
    FG_TRY(load_projection(w, p, "k", c, &a->k_w, &a->k_b));
    FG_TRY(load_projection(w, p, "v", c, &a->v_w, &a->v_b));
    FG_TRY(load_projection(w, p, "proj_out", c, &a->proj_w, &a->proj_b));
    FG_TRY(join(p, sizeof p, prefix, "block_2"));
    return vae_load_resblock(w, p, c, c, &out->block_2);
}

void vae_coder_free(vae_coder *c) {
    for (int i = 0; i < FG_AE_MAX_LEVELS; i++) free(c->levels[i].blocks);
    memset(c, 0, sizeof *c);
}

/* ---- forward ------------------------------------------------------------------------ */

static fg_error *alloc_act(fg_tensor *t, const fg_tensor *like, int64_t c, int64_t h, int64_t w) {
    return fg_tensor_alloc(t, like->device, like->dtype, FG_SHAPE(like->shape[0], c, h, w));
}

fg_error *vae_replace(fg_tensor *h, fg_tensor *next, fg_error *err) {
    fg_tensor_free(h);
    if (err) {
        fg_tensor_free(next);
        return err;
    }
    *h = *next;
    memset(next, 0, sizeof *next);
    return NULL;
}

static fg_error *conv_with(const vae_conv *c, const fg_tensor *x, const fg_conv2d_params *p, fg_tensor *out) {
    memset(out, 0, sizeof *out);
    int64_t k = c->w.shape[2];
    int64_t hp = p->pad_top + x->shape[2] + p->pad_bottom, wp = p->pad_left + x->shape[3] + p->pad_right;
    if (hp < k || wp < k) {
        char s[96];
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE conv: input %s is smaller than its %lldx%lld kernel",
                         fg_tensor_shape_str(x, s, sizeof s), (long long)k, (long long)k);
    }
    FG_TRY(alloc_act(out, x, c->w.shape[0], (hp - k) / p->stride + 1, (wp - k) / p->stride + 1));
    fg_error *err = fg_conv2d(out, x, &c->w, &c->b, p);
    if (err) fg_tensor_free(out);
    return err;
}

fg_error *vae_conv_forward(const vae_conv *c, const fg_tensor *x, int pad, fg_tensor *out) {
    fg_conv2d_params p = {.stride = 1, .pad_top = pad, .pad_bottom = pad, .pad_left = pad, .pad_right = pad};
    return conv_with(c, x, &p, out);
}

static fg_error *norm_forward(const vae_norm *n, const fg_tensor *x, bool swish, fg_tensor *out) {
    FG_TRY(fg_tensor_alloc(out, x->device, x->dtype, x->ndim, x->shape));
    fg_error *err = fg_group_norm(out, x, FG_VAE_NORM_GROUPS, &n->w, &n->b, FG_VAE_NORM_EPS, swish);
    if (err) fg_tensor_free(out);
    return err;
}

fg_error *vae_norm_swish_conv(const vae_norm *n, const vae_conv *c, const fg_tensor *x, fg_tensor *out) {
    fg_tensor t = {0};
    FG_TRY(norm_forward(n, x, true, &t));
    fg_conv2d_params p = {.stride = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    fg_error *err = fg_conv2d(out, &t, &c->w, &c->b, &p);
    fg_tensor_free(&t);
    return err;
}

/* h = conv2(swish(norm2(conv1(swish(norm1(x)))))); out = shortcut(x) + h. */
fg_error *vae_resblock_forward(const vae_resblock *b, const fg_tensor *x, fg_tensor *out) {
    fg_tensor t = {0}, h = {0};
    memset(out, 0, sizeof *out);
    fg_error *err = norm_forward(&b->norm1, x, true, &t);
    if (!err) err = vae_conv_forward(&b->conv1, &t, 1, &h);
    fg_tensor_free(&t);
    if (!err) err = norm_forward(&b->norm2, &h, true, &t);
    fg_tensor_free(&h);
    if (!err) err = vae_conv_forward(&b->conv2, &t, 1, out);
    fg_tensor_free(&t);
    if (!err && b->has_shortcut) {
        err = vae_conv_forward(&b->nin_shortcut, x, 0, &t);
        if (!err) err = fg_add(out, &t, out);
        fg_tensor_free(&t);
    } else if (!err) {
        err = fg_add(out, x, out);
    }
    if (err) fg_tensor_free(out);
    return err;
}

static fg_error *linear_tokens(const fg_tensor *x, const fg_tensor *w, const fg_tensor *b, fg_tensor *out) {
    FG_TRY(fg_tensor_alloc(out, x->device, x->dtype, x->ndim, x->shape));
    fg_error *err = fg_linear(out, x, w, b, 1.0f, FG_ACT_NONE);
    if (err) fg_tensor_free(out);
    return err;
}

/* [B, C, H, W] <-> [B, HW, C] (token index = row * W + col, features = channels). */
static fg_error *to_tokens(const fg_tensor *x, fg_tensor *out) {
    int64_t b = x->shape[0], c = x->shape[1], l = x->shape[2] * x->shape[3];
    fg_tensor x3;
    FG_TRY(fg_tensor_reshape(&x3, x, FG_SHAPE(b, c, l)));
    FG_TRY(fg_tensor_alloc(out, x->device, x->dtype, FG_SHAPE(b, l, c)));
    fg_error *err = fg_permute(out, &x3, (const int[]){0, 2, 1});
    if (err) fg_tensor_free(out);
    return err;
}

static fg_error *from_tokens(const fg_tensor *tokens, fg_tensor *out /* allocated [B, C, H, W] */) {
    fg_tensor o3;
    FG_TRY(fg_tensor_reshape(&o3, out, FG_SHAPE(out->shape[0], out->shape[1], out->shape[2] * out->shape[3])));
    return fg_permute(&o3, tokens, (const int[]){0, 2, 1});
}

/* Single-head self-attention of q, k, v [B, L, C] (scale 1/sqrt(C)); out [B, L, C]. */
static fg_error *attend(const fg_tensor *q, const fg_tensor *k, const fg_tensor *v, fg_tensor *out) {
    int64_t b = q->shape[0], l = q->shape[1], c = q->shape[2];
    fg_tensor q4, k4, v4, o4;
    FG_TRY(fg_tensor_reshape(&q4, q, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_tensor_reshape(&k4, k, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_tensor_reshape(&v4, v, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_tensor_alloc(out, q->device, q->dtype, q->ndim, q->shape));
    fg_error *err = fg_tensor_reshape(&o4, out, FG_SHAPE(b, 1, l, c));
    if (!err) err = fg_attention(&o4, &q4, &k4, &v4, NULL, 1.0f / sqrtf((float)c));
    if (err) fg_tensor_free(out);
    return err;
}

/* x + proj_out(attention(q(hn), k(hn), v(hn))) with hn = norm(x), over all H*W pixels. */
fg_error *vae_attn_forward(const vae_attn *a, const fg_tensor *x, fg_tensor *out) {
    fg_tensor hn = {0}, tokens = {0}, q = {0}, k = {0}, v = {0}, att = {0};
    memset(out, 0, sizeof *out);
    fg_error *err = norm_forward(&a->norm, x, false, &hn);
    if (!err) err = to_tokens(&hn, &tokens);
    fg_tensor_free(&hn);
    if (!err) err = linear_tokens(&tokens, &a->q_w, &a->q_b, &q);
    if (!err) err = linear_tokens(&tokens, &a->k_w, &a->k_b, &k);
    if (!err) err = linear_tokens(&tokens, &a->v_w, &a->v_b, &v);
    fg_tensor_free(&tokens);
    if (!err) err = attend(&q, &k, &v, &att);
    fg_tensor_free(&q);
    fg_tensor_free(&k);
    fg_tensor_free(&v);
    if (!err) err = linear_tokens(&att, &a->proj_w, &a->proj_b, &tokens);
    fg_tensor_free(&att);
    if (!err) err = fg_tensor_alloc(out, x->device, x->dtype, x->ndim, x->shape);
    if (!err) err = from_tokens(&tokens, out);
    fg_tensor_free(&tokens);
    if (!err) err = fg_add(out, x, out);
    if (err) fg_tensor_free(out);
    return err;
}

fg_error *vae_mid_forward(const vae_mid *m, const fg_tensor *x, fg_tensor *out) {
    fg_tensor h = {0}, next = {0};
    memset(out, 0, sizeof *out);
    FG_TRY(vae_resblock_forward(&m->block_1, x, &h));
    FG_TRY(vae_replace(&h, &next, vae_attn_forward(&m->attn_1, &h, &next)));
    fg_error *err = vae_resblock_forward(&m->block_2, &h, out);
    fg_tensor_free(&h);
    return err;
}

fg_error *vae_downsample_forward(const vae_conv *c, const fg_tensor *x, fg_tensor *out) {
    fg_conv2d_params p = {.stride = 2, .pad_top = 0, .pad_bottom = 1, .pad_left = 0, .pad_right = 1};
    return conv_with(c, x, &p, out);
}

fg_error *vae_upsample_forward(const vae_conv *c, const fg_tensor *x, fg_tensor *out) {
    fg_tensor up = {0};
    memset(out, 0, sizeof *out);
    FG_TRY(alloc_act(&up, x, x->shape[1], 2 * x->shape[2], 2 * x->shape[3]));
    fg_error *err = fg_upsample_nearest2x(&up, x);
    if (!err) err = vae_conv_forward(c, &up, 1, out);
    fg_tensor_free(&up);
    return err;
}
