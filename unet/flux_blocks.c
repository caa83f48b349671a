/* The transformer blocks (docs/models.md 1.9-1.11): modulation, QK-normalised multi-head attention
 * with RoPE over the joint text+image sequence, double-stream and single-stream blocks. Heads
 * are laid out [B, heads, L, head_dim] for fg_attention by one permute of the fused qkv.
 *
 * Memory. Each block runs in a scope of its own, and each stage in a child of it (FG_SCOPED),
 * so a temporary dies with the stage that made it; stages allocate what they return from the
 * scope they are given (`s`) and their temporaries from `tmp`. The nesting follows the order
 * in which tensors die, which keeps each block's peak at what fg_flux_activation_bytes
 * assumes; the one tensor that dies out of that order (the single block's qkv) is released. */
#include <math.h>

#include "unet/flux_internal.h"

static fg_error *modulation_chunks(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_linear *lin,
                                   const fg_tensor *silu_vec, int k, fg_tensor **chunks) {
    const int64_t b = silu_vec->shape[0], h = m->p.arch.hidden;
    fg_tensor *all, rows;
    FG_TRY(flux_linear(m, tmp, lin, silu_vec, FG_ACT_NONE, &all));
    FG_TRY(fg_tensor_reshape(&rows, all, FG_SHAPE(b, k, h)));
    for (int i = 0; i < k; i++) {
        FG_TRY(flux_alloc(m, s, FG_SHAPE(b, 1, h), &chunks[i]));
        FG_TRY(fg_slice(chunks[i], &rows, 1, i));
    }
    return NULL;
}

fg_error *flux_modulation(const fg_flux_model *m, fg_scope *s, const fg_flux_linear *lin, const fg_tensor *silu_vec,
                          int k, fg_tensor **chunks) {
    FG_SCOPED(s, tmp, modulation_chunks(m, s, &tmp, lin, silu_vec, k, chunks));
    return NULL;
}

/* out = lin(modulate(LN(x), shift, scale)) with act, from s; the normalised x is a temporary. */
static fg_error *norm_linear(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *x,
                             const fg_tensor *shift, const fg_tensor *scale, const fg_flux_linear *lin,
                             fg_activation act, fg_tensor **out) {
    fg_tensor *a;
    FG_TRY(flux_alloc(m, tmp, 3, x->shape, &a));
    FG_TRY(fg_layer_norm(a, x, NULL, NULL, FG_FLUX_EPS, shift, scale));
    return flux_linear(m, s, lin, a, act, out);
}

/* q, k, v [B, heads, L, D] of one stream: qkv [B, L, 3H] -> [3, B, heads, L, D]; q and k
 * RMS-normalised with their learnable scales and rotated by the RoPE rows of this stream's
 * tokens (one fused op). All from s; v is a view into the permuted buffer (also in s). */
static fg_error *split_heads(const fg_flux_model *m, fg_scope *s, const fg_tensor *qkv, const fg_tensor *q_norm,
                             const fg_tensor *k_norm, const fg_tensor *cos, const fg_tensor *sin, fg_tensor **q,
                             fg_tensor **k, fg_tensor *v) {
    const int64_t b = qkv->shape[0], len = qkv->shape[1], nh = m->p.arch.num_heads, d = m->p.head_dim;
    fg_tensor grouped, slab, *buf;
    FG_TRY(fg_tensor_reshape(&grouped, qkv, FG_SHAPE(b, len, 3, nh, d)));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(3, b, nh, len, d), &buf));
    FG_TRY(fg_permute(buf, &grouped, (const int[]){2, 0, 3, 1, 4}));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, nh, len, d), q));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, nh, len, d), k));
    FG_TRY(flux_slab(buf, 0, &slab));
    FG_TRY(fg_rms_norm_rope(*q, &slab, q_norm, FG_FLUX_EPS, cos, sin));
    FG_TRY(flux_slab(buf, 1, &slab));
    FG_TRY(fg_rms_norm_rope(*k, &slab, k_norm, FG_FLUX_EPS, cos, sin));
    return flux_slab(buf, 2, v);
}

/* out [B, L, H] (from s) = attention(q, k, v) (q, k already rotated) with heads re-joined
 * head-major. */
static fg_error *attend(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *q, const fg_tensor *k,
                        const fg_tensor *v, fg_tensor **out) {
    const int64_t b = q->shape[0], nh = q->shape[1], len = q->shape[2], d = q->shape[3];
    fg_tensor *o, joined;
    FG_TRY(flux_alloc(m, tmp, 4, q->shape, &o));
    FG_TRY(fg_attention(o, q, k, v, NULL, (float)(1.0 / sqrt((double)d))));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, len, nh * d), out));
    FG_TRY(fg_tensor_reshape(&joined, *out, FG_SHAPE(b, len, nh, d)));
    return fg_permute(&joined, o, (const int[]){0, 2, 1, 3});
}

/* x = x + gate * mlp2(gelu_tanh(mlp0(modulate(LN(x), shift, scale)))). */
static fg_error *mlp_residual(const fg_flux_model *m, fg_scope *tmp, const fg_flux_stream *s, fg_tensor *x,
                              const fg_tensor *shift, const fg_tensor *scale, const fg_tensor *gate) {
    fg_tensor *hid, *y;
    FG_SCOPED(tmp, ln, norm_linear(m, tmp, &ln, x, shift, scale, &s->mlp0, FG_ACT_GELU_TANH, &hid));
    FG_TRY(flux_linear(m, tmp, &s->mlp2, hid, FG_ACT_NONE, &y));
    return fg_add_gated(x, x, gate, y);
}

/* Pre-attention of one stream: modulate(LN(x)) -> qkv (a temporary) -> heads, from s. */
static fg_error *stream_heads(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_stream *st,
                              const fg_tensor *x, fg_tensor *const *mods, const fg_tensor *cos, const fg_tensor *sin,
                              fg_tensor **q, fg_tensor **k, fg_tensor *v) {
    fg_tensor *qkv;
    FG_SCOPED(tmp, ln, norm_linear(m, tmp, &ln, x, mods[0], mods[1], &st->qkv, FG_ACT_NONE, &qkv));
    return split_heads(m, s, qkv, &st->q_norm, &st->k_norm, cos, sin, q, k, v);
}

/* The joint q, k, v [B, heads, Lt + Li, D] of a double block (text first), from s; each
 * stream's heads are temporaries. */
static fg_error *joint_heads(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_double_block *blk,
                             const fg_tensor *img, const fg_tensor *txt, fg_tensor *const *img_mod,
                             fg_tensor *const *txt_mod, const fg_tensor *cos, const fg_tensor *sin,
                             fg_tensor **joint) {
    const int64_t b = img->shape[0], lt = txt->shape[1], len = img->shape[1] + lt;
    fg_tensor tcos, tsin, icos, isin, *iq, *ik, iv, *tq, *tk, tv;
    /* The joint sequence is text first: the text's RoPE rows, then the image's. */
    FG_TRY(flux_table_rows(cos, 0, lt, &tcos));
    FG_TRY(flux_table_rows(sin, 0, lt, &tsin));
    FG_TRY(flux_table_rows(cos, lt, len - lt, &icos));
    FG_TRY(flux_table_rows(sin, lt, len - lt, &isin));
    FG_SCOPED(tmp, qkv, stream_heads(m, tmp, &qkv, &blk->img, img, img_mod, &icos, &isin, &iq, &ik, &iv));
    FG_SCOPED(tmp, qkv, stream_heads(m, tmp, &qkv, &blk->txt, txt, txt_mod, &tcos, &tsin, &tq, &tk, &tv));
    const fg_tensor *parts[3][2] = {{tq, iq}, {tk, ik}, {&tv, &iv}};
    for (int i = 0; i < 3; i++) {
        FG_TRY(flux_alloc(m, s, FG_SHAPE(b, m->p.arch.num_heads, len, m->p.head_dim), &joint[i]));
        FG_TRY(fg_concat(joint[i], parts[i], 2, 2));
    }
    return NULL;
}

/* The joint attention output [B, Lt + Li, H] (from s); the joint q, k, v are temporaries. */
static fg_error *joint_attend(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_double_block *blk,
                              const fg_tensor *img, const fg_tensor *txt, fg_tensor *const *img_mod,
                              fg_tensor *const *txt_mod, const fg_tensor *cos, const fg_tensor *sin,
                              fg_tensor **attn) {
    fg_tensor *joint[3];
    FG_SCOPED(tmp, heads, joint_heads(m, tmp, &heads, blk, img, txt, img_mod, txt_mod, cos, sin, joint));
    FG_SCOPED(tmp, scores, attend(m, s, &scores, joint[0], joint[1], joint[2], attn));
    return NULL;
}

/* The attention outputs of a double block split back into the streams (o_img [B, Li, H],
 * o_txt [B, Lt, H], from s); the joint output is a temporary. */
static fg_error *joint_attention(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_double_block *blk,
                                 const fg_tensor *img, const fg_tensor *txt, fg_tensor *const *img_mod,
                                 fg_tensor *const *txt_mod, const fg_tensor *cos, const fg_tensor *sin,
                                 fg_tensor **o_img, fg_tensor **o_txt) {
    const int64_t b = img->shape[0], li = img->shape[1], lt = txt->shape[1], h = m->p.arch.hidden;
    fg_tensor *attn;
    FG_SCOPED(tmp, joint, joint_attend(m, tmp, &joint, blk, img, txt, img_mod, txt_mod, cos, sin, &attn));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, lt, h), o_txt));
    FG_TRY(fg_slice(*o_txt, attn, 1, 0));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, li, h), o_img));
    return fg_slice(*o_img, attn, 1, lt);
}

/* x = x + gate * proj(o) for one stream, then its MLP residual. */
static fg_error *stream_update(const fg_flux_model *m, fg_scope *tmp, const fg_flux_stream *s, fg_tensor *x,
                               const fg_tensor *o, fg_tensor *const *mods) {
    fg_tensor *y;
    FG_TRY(flux_linear(m, tmp, &s->proj, o, FG_ACT_NONE, &y));
    FG_TRY(fg_add_gated(x, x, mods[2], y));
    FG_SCOPED(tmp, mlp, mlp_residual(m, &mlp, s, x, mods[3], mods[4], mods[5]));
    return NULL;
}

static fg_error *double_block(const fg_flux_model *m, fg_scope *blk_scope, const fg_flux_double_block *blk,
                              fg_tensor *img, fg_tensor *txt, const fg_tensor *silu_vec, const fg_tensor *cos,
                              const fg_tensor *sin) {
    /* shift1, scale1, gate1, shift2, scale2, gate2 per stream */
    fg_tensor *im[6], *tm[6], *o_img, *o_txt;
    FG_TRY(flux_modulation(m, blk_scope, &blk->img.mod, silu_vec, 6, im));
    FG_TRY(flux_modulation(m, blk_scope, &blk->txt.mod, silu_vec, 6, tm));
    FG_SCOPED(blk_scope, attn, joint_attention(m, blk_scope, &attn, blk, img, txt, im, tm, cos, sin, &o_img, &o_txt));
    FG_SCOPED(blk_scope, upd, stream_update(m, &upd, &blk->img, img, o_img, im));
    FG_SCOPED(blk_scope, upd, stream_update(m, &upd, &blk->txt, txt, o_txt, tm));
    return NULL;
}

fg_error *flux_double_block(const fg_flux_model *m, fg_scope *s, const fg_flux_double_block *blk, fg_tensor *img,
                            fg_tensor *txt, const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) {
    FG_SCOPED(s, blk_scope, double_block(m, &blk_scope, blk, img, txt, silu_vec, cos, sin));
    return NULL;
}

/* linear1's output (a temporary) split into qkv [B, L, 3H] (from qkv_scope) and the MLP branch
 * [B, L, M] (from mlp_scope). */
static fg_error *single_linear1(const fg_flux_model *m, fg_scope *qkv_scope, fg_scope *mlp_scope, fg_scope *tmp,
                                const fg_flux_single_block *blk, const fg_tensor *x, fg_tensor *const *mods,
                                fg_tensor **qkv, fg_tensor **mlp) {
    const int64_t b = x->shape[0], len = x->shape[1], h = m->p.arch.hidden, mh = m->p.arch.mlp_hidden;
    fg_tensor *both;
    FG_SCOPED(tmp, ln, norm_linear(m, tmp, &ln, x, mods[0], mods[1], &blk->linear1, FG_ACT_NONE, &both));
    FG_TRY(flux_alloc(m, qkv_scope, FG_SHAPE(b, len, 3 * h), qkv));
    FG_TRY(fg_slice(*qkv, both, 2, 0));
    FG_TRY(flux_alloc(m, mlp_scope, FG_SHAPE(b, len, mh), mlp));
    return fg_slice(*mlp, both, 2, 3 * h);
}

/* The attention branch att [B, L, H] and gelu(mlp) [B, L, M], both from s. */
static fg_error *single_branches(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_single_block *blk,
                                 const fg_tensor *x, fg_tensor *const *mods, const fg_tensor *cos,
                                 const fg_tensor *sin, fg_tensor **att, fg_tensor **mlp) {
    fg_tensor *qkv, *q, *k, v;
    FG_SCOPED(tmp, lin1, single_linear1(m, tmp, s, &lin1, blk, x, mods, &qkv, mlp));
    FG_TRY(fg_unary(*mlp, *mlp, FG_ACT_GELU_TANH));
    FG_TRY(split_heads(m, tmp, qkv, &blk->q_norm, &blk->k_norm, cos, sin, &q, &k, &v));
    fg_scope_release(tmp, qkv); /* dead before the heads are: not live through the attention */
    FG_SCOPED(tmp, scores, attend(m, s, &scores, q, k, &v, att));
    return NULL;
}

/* u = [attention branch, mlp branch] along features (from s); the branches are temporaries. */
static fg_error *single_joined(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_flux_single_block *blk,
                               const fg_tensor *x, fg_tensor *const *mods, const fg_tensor *cos, const fg_tensor *sin,
                               fg_tensor **u) {
    const int64_t b = x->shape[0], len = x->shape[1], h = m->p.arch.hidden, mh = m->p.arch.mlp_hidden;
    fg_tensor *att, *mlp;
    FG_SCOPED(tmp, heads, single_branches(m, tmp, &heads, blk, x, mods, cos, sin, &att, &mlp));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, len, h + mh), u));
    return fg_concat(*u, (const fg_tensor *const[]){att, mlp}, 2, 2); /* attention features first */
}

static fg_error *single_block(const fg_flux_model *m, fg_scope *blk_scope, const fg_flux_single_block *blk,
                              fg_tensor *x, const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) {
    fg_tensor *mods[3], *u, *y; /* shift, scale, gate */
    FG_TRY(flux_modulation(m, blk_scope, &blk->mod, silu_vec, 3, mods));
    FG_SCOPED(blk_scope, branches, single_joined(m, blk_scope, &branches, blk, x, mods, cos, sin, &u));
    FG_TRY(flux_linear(m, blk_scope, &blk->linear2, u, FG_ACT_NONE, &y));
    return fg_add_gated(x, x, mods[2], y);
}

fg_error *flux_single_block(const fg_flux_model *m, fg_scope *s, const fg_flux_single_block *blk, fg_tensor *x,
                            const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) {
    FG_SCOPED(s, blk_scope, single_block(m, &blk_scope, blk, x, silu_vec, cos, sin));
    return NULL;
}
