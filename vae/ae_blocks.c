/* The autoencoder's building blocks (docs/models.md 2.2): loading their parameters with shape
 * checks, and their forward passes on the op interface. Activations are allocated on the
 * input's device with the input's dtype, taken from activation scopes (kernels/scope.h) and
 * freed as soon as they are dead. */
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
/* Each function allocates what it returns from the scope it is given (`s`) with the input's
 * device and dtype, and its temporaries from a child (`tmp`, opened by FG_SCOPED). A chain of
 * layers (a residual block's norm -> conv -> norm -> conv, a coder's blocks) keeps one input and
 * one output live at a time: each link releases its input once its output exists. */

static fg_error *alloc_act(fg_scope *s, const fg_tensor *like, int64_t c, int64_t h, int64_t w, fg_tensor **t) {
    return fg_scope_alloc(s, like->device, like->dtype, FG_SHAPE(like->shape[0], c, h, w), t);
}

void vae_advance(fg_scope *s, fg_tensor **h, fg_tensor *next) {
    fg_scope_release(s, *h);
    *h = next;
}

static fg_error *conv_with(fg_scope *s, const vae_conv *c, const fg_tensor *x, const fg_conv2d_params *p,
                           fg_tensor **out) {
    int64_t k = c->w.shape[2];
    int64_t hp = p->pad_top + x->shape[2] + p->pad_bottom, wp = p->pad_left + x->shape[3] + p->pad_right;
    if (hp < k || wp < k) {
        char sh[96];
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "VAE conv: input %s is smaller than its %lldx%lld kernel",
                         fg_tensor_shape_str(x, sh, sizeof sh), (long long)k, (long long)k);
    }
    FG_TRY(alloc_act(s, x, c->w.shape[0], (hp - k) / p->stride + 1, (wp - k) / p->stride + 1, out));
    return fg_conv2d(*out, x, &c->w, &c->b, p);
}

fg_error *vae_conv_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, int pad, fg_tensor **out) {
    fg_conv2d_params p = {.stride = 1, .pad_top = pad, .pad_bottom = pad, .pad_left = pad, .pad_right = pad};
    return conv_with(s, c, x, &p, out);
}

static fg_error *norm_forward(fg_scope *s, const vae_norm *n, const fg_tensor *x, bool swish, fg_tensor **out) {
    FG_TRY(fg_scope_alloc(s, x->device, x->dtype, x->ndim, x->shape, out));
    return fg_group_norm(*out, x, FG_VAE_NORM_GROUPS, &n->w, &n->b, FG_VAE_NORM_EPS, swish);
}

static fg_error *norm_swish_conv(fg_scope *tmp, const vae_norm *n, const vae_conv *c, const fg_tensor *x,
                                 fg_tensor *out) {
    fg_tensor *t;
    FG_TRY(norm_forward(tmp, n, x, true, &t));
    fg_conv2d_params p = {.stride = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    return fg_conv2d(out, t, &c->w, &c->b, &p);
}

fg_error *vae_norm_swish_conv(fg_scope *s, const vae_norm *n, const vae_conv *c, const fg_tensor *x, fg_tensor *out) {
    FG_SCOPED(s, tmp, norm_swish_conv(&tmp, n, c, x, out));
    return NULL;
}

/* h = conv2(swish(norm2(conv1(swish(norm1(x)))))); out = shortcut(x) + h. */
static fg_error *resblock(fg_scope *s, fg_scope *tmp, const vae_resblock *b, const fg_tensor *x, fg_tensor **out) {
    fg_tensor *t, *h, *shortcut;
    FG_TRY(norm_forward(tmp, &b->norm1, x, true, &t));
    FG_TRY(vae_conv_forward(tmp, &b->conv1, t, 1, &h));
    fg_scope_release(tmp, t);
    FG_TRY(norm_forward(tmp, &b->norm2, h, true, &t));
    fg_scope_release(tmp, h);
    FG_TRY(vae_conv_forward(s, &b->conv2, t, 1, out));
    fg_scope_release(tmp, t);
    if (!b->has_shortcut) return fg_add(*out, x, *out);
    FG_TRY(vae_conv_forward(tmp, &b->nin_shortcut, x, 0, &shortcut));
    return fg_add(*out, shortcut, *out);
}

fg_error *vae_resblock_forward(fg_scope *s, const vae_resblock *b, const fg_tensor *x, fg_tensor **out) {
    FG_SCOPED(s, tmp, resblock(s, &tmp, b, x, out));
    return NULL;
}

static fg_error *linear_tokens(fg_scope *s, const fg_tensor *x, const fg_tensor *w, const fg_tensor *b,
                               fg_tensor **out) {
    FG_TRY(fg_scope_alloc(s, x->device, x->dtype, x->ndim, x->shape, out));
    return fg_linear(*out, x, w, b, 1.0f, FG_ACT_NONE);
}

/* [B, C, H, W] <-> [B, HW, C] (token index = row * W + col, features = channels). */
static fg_error *to_tokens(fg_scope *s, const fg_tensor *x, fg_tensor **out) {
    int64_t b = x->shape[0], c = x->shape[1], l = x->shape[2] * x->shape[3];
    fg_tensor x3;
    FG_TRY(fg_tensor_reshape(&x3, x, FG_SHAPE(b, c, l)));
    FG_TRY(fg_scope_alloc(s, x->device, x->dtype, FG_SHAPE(b, l, c), out));
    return fg_permute(*out, &x3, (const int[]){0, 2, 1});
}

static fg_error *from_tokens(const fg_tensor *tokens, fg_tensor *out /* allocated [B, C, H, W] */) {
    fg_tensor o3;
    FG_TRY(fg_tensor_reshape(&o3, out, FG_SHAPE(out->shape[0], out->shape[1], out->shape[2] * out->shape[3])));
    return fg_permute(&o3, tokens, (const int[]){0, 2, 1});
}

/* Single-head self-attention of q, k, v [B, L, C] (scale 1/sqrt(C)); out [B, L, C] from s. */
static fg_error *attend(fg_scope *s, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v, fg_tensor **out) {
    int64_t b = q->shape[0], l = q->shape[1], c = q->shape[2];
    fg_tensor q4, k4, v4, o4;
    FG_TRY(fg_tensor_reshape(&q4, q, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_tensor_reshape(&k4, k, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_tensor_reshape(&v4, v, FG_SHAPE(b, 1, l, c)));
    FG_TRY(fg_scope_alloc(s, q->device, q->dtype, q->ndim, q->shape, out));
    FG_TRY(fg_tensor_reshape(&o4, *out, FG_SHAPE(b, 1, l, c)));
    return fg_attention(&o4, &q4, &k4, &v4, NULL, 1.0f / sqrtf((float)c));
}

/* The tokens of norm(x) through q, k, v and the attention (from s); q, k, v are temporaries. */
static fg_error *attention_tokens(fg_scope *s, fg_scope *tmp, const vae_attn *a, const fg_tensor *x,
                                  fg_tensor **att) {
    fg_tensor *hn, *tokens, *q, *k, *v;
    FG_TRY(norm_forward(tmp, &a->norm, x, false, &hn));
    FG_TRY(to_tokens(tmp, hn, &tokens));
    fg_scope_release(tmp, hn);
    FG_TRY(linear_tokens(tmp, tokens, &a->q_w, &a->q_b, &q));
    FG_TRY(linear_tokens(tmp, tokens, &a->k_w, &a->k_b, &k));
    FG_TRY(linear_tokens(tmp, tokens, &a->v_w, &a->v_b, &v));
    fg_scope_release(tmp, tokens);
    return attend(s, q, k, v, att);
}

/* x + proj_out(attention(q(hn), k(hn), v(hn))) with hn = norm(x), over all H*W pixels. */
static fg_error *attn(fg_scope *s, fg_scope *tmp, const vae_attn *a, const fg_tensor *x, fg_tensor **out) {
    fg_tensor *att, *proj;
    FG_SCOPED(tmp, qkv, attention_tokens(tmp, &qkv, a, x, &att));
    FG_TRY(linear_tokens(tmp, att, &a->proj_w, &a->proj_b, &proj));
    fg_scope_release(tmp, att);
    FG_TRY(fg_scope_alloc(s, x->device, x->dtype, x->ndim, x->shape, out));
    FG_TRY(from_tokens(proj, *out));
    return fg_add(*out, x, *out);
}

fg_error *vae_attn_forward(fg_scope *s, const vae_attn *a, const fg_tensor *x, fg_tensor **out) {
    FG_SCOPED(s, tmp, attn(s, &tmp, a, x, out));
    return NULL;
}

static fg_error *mid(fg_scope *s, fg_scope *tmp, const vae_mid *m, const fg_tensor *x, fg_tensor **out) {
    fg_tensor *h, *next;
    FG_TRY(vae_resblock_forward(tmp, &m->block_1, x, &h));
    FG_TRY(vae_attn_forward(tmp, &m->attn_1, h, &next));
    vae_advance(tmp, &h, next);
    return vae_resblock_forward(s, &m->block_2, h, out);
}

fg_error *vae_mid_forward(fg_scope *s, const vae_mid *m, const fg_tensor *x, fg_tensor **out) {
    FG_SCOPED(s, tmp, mid(s, &tmp, m, x, out));
    return NULL;
}

fg_error *vae_downsample_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, fg_tensor **out) {
    fg_conv2d_params p = {.stride = 2, .pad_top = 0, .pad_bottom = 1, .pad_left = 0, .pad_right = 1};
    return conv_with(s, c, x, &p, out);
}

static fg_error *upsample(fg_scope *s, fg_scope *tmp, const vae_conv *c, const fg_tensor *x, fg_tensor **out) {
    fg_tensor *up;
    FG_TRY(alloc_act(tmp, x, x->shape[1], 2 * x->shape[2], 2 * x->shape[3], &up));
    FG_TRY(fg_upsample_nearest2x(up, x));
    return vae_conv_forward(s, c, up, 1, out);
}

fg_error *vae_upsample_forward(fg_scope *s, const vae_conv *c, const fg_tensor *x, fg_tensor **out) {
    FG_SCOPED(s, tmp, upsample(s, &tmp, c, x, out));
    return NULL;
}
