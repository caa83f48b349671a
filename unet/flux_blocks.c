/* The transformer blocks (models.md 1.9-1.11): modulation, QK-normalised multi-head attention
 * with RoPE over the joint text+image sequence, double-stream and single-stream blocks. Heads
 * are laid out [B, heads, L, head_dim] for fg_attention by one permute of the fused qkv. */
#include <math.h>

#include "unet/flux_internal.h"

fg_error *flux_modulation(const fg_flux_model *m, const fg_flux_linear *lin, const fg_tensor *silu_vec, int k,
                          fg_tensor *chunks) {
    const int64_t b = silu_vec->shape[0], h = m->p.arch.hidden;
    fg_tensor all = {0}, rows;
    fg_error *err = NULL;
    for (int i = 0; i < k; i++) chunks[i] = (fg_tensor){0};
    FLUX_TRY(flux_linear(m, lin, silu_vec, FG_ACT_NONE, &all));
    FLUX_TRY(fg_tensor_reshape(&rows, &all, FG_SHAPE(b, k, h)));
    for (int i = 0; i < k; i++) {
        FLUX_TRY(flux_alloc(m, &chunks[i], FG_SHAPE(b, 1, h)));
        FLUX_TRY(fg_slice(&chunks[i], &rows, 1, i));
    }
done:
    fg_tensor_free(&all);
    if (err)
        for (int i = 0; i < k; i++) fg_tensor_free(&chunks[i]);
    return err;
}

static void free_all(fg_tensor *t, int n) {
    for (int i = 0; i < n; i++) fg_tensor_free(&t[i]);
}

/* q, k, v [B, heads, L, D] of one stream: qkv [B, L, 3H] -> [3, B, heads, L, D]; q and k
 * RMS-normalised with their learnable scales and rotated by the RoPE rows of this stream's
 * tokens (one fused op). v is a view into *buf (freed by the caller). */
static fg_error *split_heads(const fg_flux_model *m, const fg_tensor *qkv, const fg_tensor *q_norm,
                             const fg_tensor *k_norm, const fg_tensor *cos, const fg_tensor *sin, fg_tensor *buf,
                             fg_tensor *q, fg_tensor *k, fg_tensor *v) {
    const int64_t b = qkv->shape[0], len = qkv->shape[1], nh = m->p.arch.num_heads, d = m->p.head_dim;
    fg_tensor grouped, slab;
    fg_error *err = NULL;
    FLUX_TRY(fg_tensor_reshape(&grouped, qkv, FG_SHAPE(b, len, 3, nh, d)));
    FLUX_TRY(flux_alloc(m, buf, FG_SHAPE(3, b, nh, len, d)));
    FLUX_TRY(fg_permute(buf, &grouped, (const int[]){2, 0, 3, 1, 4}));
    FLUX_TRY(flux_alloc(m, q, FG_SHAPE(b, nh, len, d)));
    FLUX_TRY(flux_alloc(m, k, FG_SHAPE(b, nh, len, d)));
    FLUX_TRY(flux_slab(buf, 0, &slab));
    FLUX_TRY(fg_rms_norm_rope(q, &slab, q_norm, FG_FLUX_EPS, cos, sin));
    FLUX_TRY(flux_slab(buf, 1, &slab));
    FLUX_TRY(fg_rms_norm_rope(k, &slab, k_norm, FG_FLUX_EPS, cos, sin));
    FLUX_TRY(flux_slab(buf, 2, v));
done:
    if (err) {
        fg_tensor_free(buf);
        fg_tensor_free(q);
        fg_tensor_free(k);
    }
    return err;
}

/* out [B, L, H] = attention(q, k, v) (q, k already rotated) with heads re-joined head-major. */
static fg_error *attend(const fg_flux_model *m, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                        fg_tensor *out) {
    const int64_t b = q->shape[0], nh = q->shape[1], len = q->shape[2], d = q->shape[3];
    fg_tensor o = {0}, joined;
    fg_error *err = NULL;
    FLUX_TRY(flux_alloc(m, &o, 4, q->shape));
    FLUX_TRY(fg_attention(&o, q, k, v, NULL, (float)(1.0 / sqrt((double)d))));
    FLUX_TRY(flux_alloc(m, out, FG_SHAPE(b, len, nh * d)));
    FLUX_TRY(fg_tensor_reshape(&joined, out, FG_SHAPE(b, len, nh, d)));
    FLUX_TRY(fg_permute(&joined, &o, (const int[]){0, 2, 1, 3}));
done:
    fg_tensor_free(&o);
    if (err) fg_tensor_free(out);
    return err;
}

/* x = x + gate * mlp2(gelu_tanh(mlp0(modulate(LN(x), shift, scale)))). */
static fg_error *mlp_residual(const fg_flux_model *m, const fg_flux_stream *s, fg_tensor *x, const fg_tensor *shift,
                              const fg_tensor *scale, const fg_tensor *gate) {
    fg_tensor a = {0}, hid = {0}, y = {0};
    fg_error *err = NULL;
    FLUX_TRY(flux_alloc(m, &a, 3, x->shape));
    FLUX_TRY(fg_layer_norm(&a, x, NULL, NULL, FG_FLUX_EPS, shift, scale));
    FLUX_TRY(flux_linear(m, &s->mlp0, &a, FG_ACT_GELU_TANH, &hid));
    fg_tensor_free(&a);
    FLUX_TRY(flux_linear(m, &s->mlp2, &hid, FG_ACT_NONE, &y));
    FLUX_TRY(fg_add_gated(x, x, gate, &y));
done:
    fg_tensor_free(&a);
    fg_tensor_free(&hid);
    fg_tensor_free(&y);
    return err;
}

/* Pre-attention of one stream: modulate(LN(x)) -> qkv -> normalised heads. */
static fg_error *stream_heads(const fg_flux_model *m, const fg_flux_stream *s, const fg_tensor *x,
                              const fg_tensor *mods, const fg_tensor *cos, const fg_tensor *sin, fg_tensor *buf,
                              fg_tensor *q, fg_tensor *k, fg_tensor *v) {
    fg_tensor a = {0}, qkv = {0};
    fg_error *err = NULL;
    FLUX_TRY(flux_alloc(m, &a, 3, x->shape));
    FLUX_TRY(fg_layer_norm(&a, x, NULL, NULL, FG_FLUX_EPS, &mods[0], &mods[1]));
    FLUX_TRY(flux_linear(m, &s->qkv, &a, FG_ACT_NONE, &qkv));
    fg_tensor_free(&a);
    FLUX_TRY(split_heads(m, &qkv, &s->q_norm, &s->k_norm, cos, sin, buf, q, k, v));
done:
    fg_tensor_free(&a);
    fg_tensor_free(&qkv);
    return err;
}

/* Joint attention of a double block: text first. out [B, Lt + Li, H]. */
static fg_error *joint_attention(const fg_flux_model *m, const fg_flux_double_block *blk, const fg_tensor *img,
                                 const fg_tensor *txt, const fg_tensor *img_mod, const fg_tensor *txt_mod,
                                 const fg_tensor *cos, const fg_tensor *sin, fg_tensor *out) {
    const int64_t b = img->shape[0], lt = txt->shape[1], len = img->shape[1] + lt;
    const int64_t nh = m->p.arch.num_heads, d = m->p.head_dim;
    fg_tensor ibuf = {0}, iq = {0}, ik = {0}, iv = {0}, tbuf = {0}, tq = {0}, tk = {0}, tv = {0};
    fg_tensor joint[3] = {{0}}, tcos, tsin, icos, isin;
    fg_error *err = NULL;
    /* The joint sequence is text first: the text's RoPE rows, then the image's. */
    FLUX_TRY(flux_table_rows(cos, 0, lt, &tcos));
    FLUX_TRY(flux_table_rows(sin, 0, lt, &tsin));
    FLUX_TRY(flux_table_rows(cos, lt, len - lt, &icos));
    FLUX_TRY(flux_table_rows(sin, lt, len - lt, &isin));
    FLUX_TRY(stream_heads(m, &blk->img, img, img_mod, &icos, &isin, &ibuf, &iq, &ik, &iv));
    FLUX_TRY(stream_heads(m, &blk->txt, txt, txt_mod, &tcos, &tsin, &tbuf, &tq, &tk, &tv));
    const fg_tensor *parts[3][2] = {{&tq, &iq}, {&tk, &ik}, {&tv, &iv}};
    for (int i = 0; i < 3; i++) {
        FLUX_TRY(flux_alloc(m, &joint[i], FG_SHAPE(b, nh, len, d)));
        FLUX_TRY(fg_concat(&joint[i], parts[i], 2, 2));
    }
    fg_tensor *dead[] = {&ibuf, &iq, &ik, &tbuf, &tq, &tk};
    for (int i = 0; i < 6; i++) fg_tensor_free(dead[i]);
    FLUX_TRY(attend(m, &joint[0], &joint[1], &joint[2], out));
done:
    fg_tensor_free(&ibuf), fg_tensor_free(&iq), fg_tensor_free(&ik);
    fg_tensor_free(&tbuf), fg_tensor_free(&tq), fg_tensor_free(&tk);
    free_all(joint, 3);
    return err;
}

/* x = x + gate * proj(o) for one stream, then its MLP residual. */
static fg_error *stream_update(const fg_flux_model *m, const fg_flux_stream *s, fg_tensor *x, const fg_tensor *o,
                               const fg_tensor *mods) {
    fg_tensor y = {0};
    fg_error *err = NULL;
    FLUX_TRY(flux_linear(m, &s->proj, o, FG_ACT_NONE, &y));
    FLUX_TRY(fg_add_gated(x, x, &mods[2], &y));
    FLUX_TRY(mlp_residual(m, s, x, &mods[3], &mods[4], &mods[5]));
done:
    fg_tensor_free(&y);
    return err;
}

fg_error *flux_double_block(const fg_flux_model *m, const fg_flux_double_block *blk, fg_tensor *img, fg_tensor *txt,
                            const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) {
    const int64_t b = img->shape[0], li = img->shape[1], lt = txt->shape[1], h = m->p.arch.hidden;
    /* shift1, scale1, gate1, shift2, scale2, gate2 per stream */
    fg_tensor im[6] = {{0}}, tm[6] = {{0}}, attn = {0}, o_img = {0}, o_txt = {0};
    fg_error *err = NULL;
    FLUX_TRY(flux_modulation(m, &blk->img.mod, silu_vec, 6, im));
    FLUX_TRY(flux_modulation(m, &blk->txt.mod, silu_vec, 6, tm));
    FLUX_TRY(joint_attention(m, blk, img, txt, im, tm, cos, sin, &attn));
    FLUX_TRY(flux_alloc(m, &o_txt, FG_SHAPE(b, lt, h)));
    FLUX_TRY(fg_slice(&o_txt, &attn, 1, 0));
    FLUX_TRY(flux_alloc(m, &o_img, FG_SHAPE(b, li, h)));
    FLUX_TRY(fg_slice(&o_img, &attn, 1, lt));
    fg_tensor_free(&attn);
    FLUX_TRY(stream_update(m, &blk->img, img, &o_img, im));
    FLUX_TRY(stream_update(m, &blk->txt, txt, &o_txt, tm));
done:
    free_all(im, 6);
    free_all(tm, 6);
    fg_tensor_free(&attn);
    fg_tensor_free(&o_img);
    fg_tensor_free(&o_txt);
    return err;
}

/* linear1's output split into the attention branch [B, L, H] and gelu(mlp) [B, L, M]. */
static fg_error *single_branches(const fg_flux_model *m, const fg_flux_single_block *blk, const fg_tensor *x,
                                 const fg_tensor *mods, const fg_tensor *cos, const fg_tensor *sin, fg_tensor *att,
                                 fg_tensor *mlp) {
    const int64_t b = x->shape[0], len = x->shape[1], h = m->p.arch.hidden, mh = m->p.arch.mlp_hidden;
    fg_tensor a = {0}, both = {0}, qkv = {0}, buf = {0}, q = {0}, k = {0}, v;
    fg_error *err = NULL;
    FLUX_TRY(flux_alloc(m, &a, 3, x->shape));
    FLUX_TRY(fg_layer_norm(&a, x, NULL, NULL, FG_FLUX_EPS, &mods[0], &mods[1]));
    FLUX_TRY(flux_linear(m, &blk->linear1, &a, FG_ACT_NONE, &both));
    fg_tensor_free(&a);
    FLUX_TRY(flux_alloc(m, &qkv, FG_SHAPE(b, len, 3 * h)));
    FLUX_TRY(fg_slice(&qkv, &both, 2, 0));
    FLUX_TRY(flux_alloc(m, mlp, FG_SHAPE(b, len, mh)));
    FLUX_TRY(fg_slice(mlp, &both, 2, 3 * h));
    fg_tensor_free(&both);
    FLUX_TRY(fg_unary(mlp, mlp, FG_ACT_GELU_TANH));
    FLUX_TRY(split_heads(m, &qkv, &blk->q_norm, &blk->k_norm, cos, sin, &buf, &q, &k, &v));
    fg_tensor_free(&qkv);
    FLUX_TRY(attend(m, &q, &k, &v, att));
done:
    fg_tensor_free(&a), fg_tensor_free(&both), fg_tensor_free(&qkv);
    fg_tensor_free(&buf), fg_tensor_free(&q), fg_tensor_free(&k);
    if (err) fg_tensor_free(mlp);
    return err;
}

fg_error *flux_single_block(const fg_flux_model *m, const fg_flux_single_block *blk, fg_tensor *x,
                            const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) {
    const int64_t b = x->shape[0], len = x->shape[1], h = m->p.arch.hidden, mh = m->p.arch.mlp_hidden;
    fg_tensor mods[3] = {{0}}, att = {0}, mlp = {0}, u = {0}, y = {0}; /* shift, scale, gate */
    fg_error *err = NULL;
    FLUX_TRY(flux_modulation(m, &blk->mod, silu_vec, 3, mods));
    FLUX_TRY(single_branches(m, blk, x, mods, cos, sin, &att, &mlp));
    FLUX_TRY(flux_alloc(m, &u, FG_SHAPE(b, len, h + mh)));
    FLUX_TRY(fg_concat(&u, (const fg_tensor *const[]){&att, &mlp}, 2, 2)); /* attention features first */
    fg_tensor_free(&att);
    fg_tensor_free(&mlp);
    FLUX_TRY(flux_linear(m, &blk->linear2, &u, FG_ACT_NONE, &y));
    FLUX_TRY(fg_add_gated(x, x, &mods[2], &y));
done:
    free_all(mods, 3);
    fg_tensor_free(&att), fg_tensor_free(&mlp), fg_tensor_free(&u), fg_tensor_free(&y);
    return err;
}
