/* CLIP-L text encoder on the op interface (models.md section 3). The forward pass keeps one
 * f32 residual stream x [B, L, D] and a fixed workspace reused by every layer, so peak memory
 * is a few [B, L, max(D, I)] buffers on top of the (mapped, never widened) weights. */
#include "text_encoders/clip_model.h"

#include "models/weights_internal.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

/* A hostile file could name layer 4000000000; real CLIP towers have 12 or 24 layers. */
#define CLIP_MAX_LAYERS 256
#define CLIP_LN_EPS 1e-5f

typedef struct clip_linear {
    fg_tensor w, b;
    float scale; /* fp8 dequantisation scale, 1 otherwise */
} clip_linear;

typedef struct clip_layer {
    fg_tensor ln1_w, ln1_b, ln2_w, ln2_b;
    clip_linear q, k, v, o, fc1, fc2;
} clip_layer;

struct fg_clip_model {
    fg_clip_config cfg;
    fg_weights *file; /* owned when opened by path */
    fg_device device;   /* of the weights: where the activations live */
    fg_dtype act_dtype; /* F32 or BF16 */
    fg_tensor token_emb, pos_emb, final_w, final_b;
    bool has_proj;
    clip_linear proj;
    int64_t proj_dim;
    clip_layer *layers;
};

/* ---- loading ---------------------------------------------------------------------------- */

static fg_error *get_vec(const fg_weights *w, const char *name, int64_t n, fg_tensor *out) {
    return fg_weights_get_shaped(w, name, FG_SHAPE(n), out);
}

/* "<base>.weight" [n_out, n_in] and, when bias, "<base>.bias" [n_out]. */
static fg_error *get_linear(const fg_weights *w, const char *base, int64_t n_out, int64_t n_in, bool bias,
                            clip_linear *out) {
    char name[256];
    snprintf(name, sizeof name, "%s.weight", base);
    FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(n_out, n_in), &out->w));
    FG_TRY(fg_weights_scale(w, name, &out->scale));
    if (!bias) return NULL;
    snprintf(name, sizeof name, "%s.bias", base);
    return get_vec(w, name, n_out, &out->b);
}

static fg_error *count_layers(const fg_weights *w, int64_t *layers) {
    FG_TRY(fg_weights_count_indexed(w, "text_model.encoder.layers.", CLIP_MAX_LAYERS, layers));
    if (*layers == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no tensors named '%stext_model.encoder.layers.0.*': not a CLIP text model", fg_weights_path(w),
                         fg_weights_prefix(w));
    return NULL;
}

static fg_error *infer_config(const fg_weights *w, fg_clip_model *m) {
    fg_clip_config *c = &m->cfg;
    FG_TRY(fg_weights_get(w, "text_model.embeddings.token_embedding.weight", &m->token_emb));
    char buf[96];
    if (m->token_emb.ndim != 2 || !fg_dtype_is_float(m->token_emb.dtype) || m->token_emb.shape[0] < 1 ||
        m->token_emb.shape[1] < 1)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%stext_model.embeddings.token_embedding.weight' is %s %s, "
                         "expected a float [vocab, hidden]", fg_weights_path(w), fg_weights_prefix(w),
                         fg_dtype_name(m->token_emb.dtype), fg_tensor_shape_str(&m->token_emb, buf, sizeof buf));
    c->vocab = m->token_emb.shape[0];
    c->hidden = m->token_emb.shape[1];
    c->dtype = m->token_emb.dtype;
    if (c->hidden % FG_CLIP_HEAD_DIM != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: hidden size %lld is not a multiple of the head size %d",
                         fg_weights_path(w), (long long)c->hidden, FG_CLIP_HEAD_DIM);
    c->heads = c->hidden / FG_CLIP_HEAD_DIM;
    FG_TRY(fg_weights_get(w, "text_model.embeddings.position_embedding.weight", &m->pos_emb));
    c->positions = m->pos_emb.ndim == 2 ? m->pos_emb.shape[0] : 0;
    if (c->positions < 1) c->positions = 1; /* the shaped lookup below reports the real shape */
    FG_TRY(fg_weights_get_shaped(w, "text_model.embeddings.position_embedding.weight", FG_SHAPE(c->positions, c->hidden),
                                 &m->pos_emb));
    fg_tensor fc1;
    FG_TRY(fg_weights_get(w, "text_model.encoder.layers.0.mlp.fc1.weight", &fc1));
    c->intermediate = fc1.ndim == 2 && fc1.shape[0] > 0 ? fc1.shape[0] : 1;
    FG_TRY(count_layers(w, &c->layers));
    c->text_projection = fg_weights_has(w, "text_projection.weight");
    return NULL;
}

static fg_error *load_layer(const fg_weights *w, const fg_clip_config *c, int64_t i, clip_layer *l) {
    char base[128], name[192];
    snprintf(base, sizeof base, "text_model.encoder.layers.%lld.", (long long)i);
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "%s%s", base, suffix), name)
    FG_TRY(get_vec(w, LAYER_NAME("layer_norm1.weight"), c->hidden, &l->ln1_w));
    FG_TRY(get_vec(w, LAYER_NAME("layer_norm1.bias"), c->hidden, &l->ln1_b));
    FG_TRY(get_linear(w, LAYER_NAME("self_attn.q_proj"), c->hidden, c->hidden, true, &l->q));
    FG_TRY(get_linear(w, LAYER_NAME("self_attn.k_proj"), c->hidden, c->hidden, true, &l->k));
    FG_TRY(get_linear(w, LAYER_NAME("self_attn.v_proj"), c->hidden, c->hidden, true, &l->v));
    FG_TRY(get_linear(w, LAYER_NAME("self_attn.out_proj"), c->hidden, c->hidden, true, &l->o));
    FG_TRY(get_vec(w, LAYER_NAME("layer_norm2.weight"), c->hidden, &l->ln2_w));
    FG_TRY(get_vec(w, LAYER_NAME("layer_norm2.bias"), c->hidden, &l->ln2_b));
    FG_TRY(get_linear(w, LAYER_NAME("mlp.fc1"), c->intermediate, c->hidden, true, &l->fc1));
    FG_TRY(get_linear(w, LAYER_NAME("mlp.fc2"), c->hidden, c->intermediate, true, &l->fc2));
#undef LAYER_NAME
    return NULL;
}

static fg_error *load_all(const fg_weights *w, fg_clip_model *m) {
    FG_TRY(infer_config(w, m));
    const fg_clip_config *c = &m->cfg;
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    if (!m->layers) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP layers");
    for (int64_t i = 0; i < c->layers; i++) FG_TRY(load_layer(w, c, i, &m->layers[i]));
    FG_TRY(get_vec(w, "text_model.final_layer_norm.weight", c->hidden, &m->final_w));
    FG_TRY(get_vec(w, "text_model.final_layer_norm.bias", c->hidden, &m->final_b));
    if (c->text_projection) {
        fg_tensor p;
        FG_TRY(fg_weights_get(w, "text_projection.weight", &p));
        m->proj_dim = p.ndim == 2 && p.shape[0] > 0 ? p.shape[0] : 1;
        FG_TRY(get_linear(w, "text_projection", m->proj_dim, c->hidden, false, &m->proj));
        m->has_proj = true;
    }
    return NULL;
}

fg_error *fg_clip_load(const fg_weights *w, fg_clip_model **out) {
    FG_CHECK_ARG(w && out, "fg_clip_load: NULL argument");
    *out = NULL;
    fg_clip_model *m = calloc(1, sizeof *m);
    if (!m) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP model");
    m->device = fg_weights_device(w);
    m->act_dtype = m->device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    fg_error *err = load_all(w, m);
    if (err) {
        fg_clip_free(m);
        return fg_error_wrapf(err, "loading the CLIP text model");
    }
    *out = m;
    return NULL;
}

fg_error *fg_clip_load_owned(fg_weights *w, fg_clip_model **out) {
    fg_error *err = fg_clip_load(w, out);
    if (err) {
        fg_weights_close(w);
        return err;
    }
    (*out)->file = w;
    return NULL;
}

fg_error *fg_clip_open(const char *path, fg_clip_model **out) {
    FG_CHECK_ARG(path && out, "fg_clip_open: NULL argument");
    *out = NULL;
    fg_weights *view = NULL;
    FG_TRY(fg_weights_open_at_anchor(path, "text_model.embeddings.token_embedding.weight", "CLIP text model", &view));
    return fg_clip_load_owned(view, out);
}

void fg_clip_free(fg_clip_model *m) {
    if (!m) return;
    free(m->layers);
    fg_weights_close(m->file);
    free(m);
}

const fg_clip_config *fg_clip_model_config(const fg_clip_model *m) { return &m->cfg; }
int64_t fg_clip_projection_dim(const fg_clip_model *m) { return m->has_proj ? m->proj_dim : 0; }

int64_t fg_clip_pooled_position(const int32_t *ids, int64_t len) {
    for (int64_t i = 0; i < len; i++)
        if (ids[i] == FG_CLIP_EOS_ID) return i;
    return len > 0 ? len - 1 : 0;
}

/* ---- forward ---------------------------------------------------------------------------- */

/* Buffers of one forward pass, reused by every layer. */
typedef struct clip_work {
    int64_t batch, len;
    fg_tensor h, q, k, v, qh, kh, vh, att, merged, mlp, mask;
} clip_work;

static void work_free(clip_work *ws) {
    fg_tensor *all[] = {&ws->h, &ws->q, &ws->k, &ws->v, &ws->qh, &ws->kh, &ws->vh, &ws->att, &ws->merged, &ws->mlp,
                        &ws->mask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
}

/* Additive causal mask [1, 1, L, L]: -FLT_MAX above the diagonal, as ComfyUI builds it. */
static fg_error *causal_mask(fg_device dev, int64_t len, fg_tensor *mask) {
    fg_tensor host;
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, FG_SHAPE(1, 1, len, len)));
    float *p = host.data;
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < len; j++) p[i * len + j] = j > i ? -FLT_MAX : 0.0f;
    fg_error *err = fg_tensor_alloc(mask, dev, FG_F32, FG_SHAPE(1, 1, len, len));
    if (!err) err = fg_tensor_copy(mask, &host);
    fg_tensor_free_host(&host);
    return err;
}

static fg_error *work_alloc(const fg_clip_model *m, int64_t batch, int64_t len, clip_work *ws) {
    const fg_clip_config *c = &m->cfg;
    const int64_t d = c->hidden, h = c->heads, hd = FG_CLIP_HEAD_DIM;
    const fg_device dev = m->device;
    const fg_dtype act = m->act_dtype;
    ws->batch = batch;
    ws->len = len;
    FG_TRY(fg_tensor_alloc(&ws->h, dev, act, FG_SHAPE(batch, len, d)));
    FG_TRY(fg_tensor_alloc(&ws->q, dev, act, FG_SHAPE(batch, len, d)));
    FG_TRY(fg_tensor_alloc(&ws->k, dev, act, FG_SHAPE(batch, len, d)));
    FG_TRY(fg_tensor_alloc(&ws->v, dev, act, FG_SHAPE(batch, len, d)));
    FG_TRY(fg_tensor_alloc(&ws->qh, dev, act, FG_SHAPE(batch, h, len, hd)));
    FG_TRY(fg_tensor_alloc(&ws->kh, dev, act, FG_SHAPE(batch, h, len, hd)));
    FG_TRY(fg_tensor_alloc(&ws->vh, dev, act, FG_SHAPE(batch, h, len, hd)));
    FG_TRY(fg_tensor_alloc(&ws->att, dev, act, FG_SHAPE(batch, h, len, hd)));
    FG_TRY(fg_tensor_alloc(&ws->merged, dev, act, FG_SHAPE(batch, len, d)));
    FG_TRY(fg_tensor_alloc(&ws->mlp, dev, act, FG_SHAPE(batch, len, c->intermediate)));
    return causal_mask(dev, len, &ws->mask);
}

/* [B, L, H*hd] -> [B, H, L, hd]. */
static fg_error *split_heads(fg_tensor *out, const fg_tensor *x, int64_t heads) {
    fg_tensor v;
    int64_t hd = x->shape[2] / heads;
    FG_TRY(fg_tensor_reshape(&v, x, FG_SHAPE(x->shape[0], x->shape[1], heads, hd)));
    return fg_permute(out, &v, (const int[]){0, 2, 1, 3});
}

/* [B, H, L, hd] -> [B, L, H*hd]. */
static fg_error *merge_heads(fg_tensor *out, const fg_tensor *x) {
    fg_tensor v;
    FG_TRY(fg_tensor_reshape(&v, out, FG_SHAPE(x->shape[0], x->shape[2], x->shape[1], x->shape[3])));
    return fg_permute(&v, x, (const int[]){0, 2, 1, 3});
}

static fg_error *linear(fg_tensor *out, const fg_tensor *x, const clip_linear *l, fg_activation act) {
    return fg_linear(out, x, &l->w, l->b.data ? &l->b : NULL, l->scale, act);
}

/* x += out_proj(MHA(LN1(x))); x += fc2(quick_gelu(fc1(LN2(x)))). */
static fg_error *layer_forward(const clip_layer *l, const fg_clip_config *c, clip_work *ws, fg_tensor *x) {
    FG_TRY(fg_layer_norm(&ws->h, x, &l->ln1_w, &l->ln1_b, CLIP_LN_EPS, NULL, NULL));
    FG_TRY(linear(&ws->q, &ws->h, &l->q, FG_ACT_NONE));
    FG_TRY(linear(&ws->k, &ws->h, &l->k, FG_ACT_NONE));
    FG_TRY(linear(&ws->v, &ws->h, &l->v, FG_ACT_NONE));
    FG_TRY(split_heads(&ws->qh, &ws->q, c->heads));
    FG_TRY(split_heads(&ws->kh, &ws->k, c->heads));
    FG_TRY(split_heads(&ws->vh, &ws->v, c->heads));
    FG_TRY(fg_attention(&ws->att, &ws->qh, &ws->kh, &ws->vh, &ws->mask, 0.125f)); /* 1/sqrt(64) */
    FG_TRY(merge_heads(&ws->merged, &ws->att));
    FG_TRY(linear(&ws->h, &ws->merged, &l->o, FG_ACT_NONE));
    FG_TRY(fg_add(x, x, &ws->h));
    FG_TRY(fg_layer_norm(&ws->h, x, &l->ln2_w, &l->ln2_b, CLIP_LN_EPS, NULL, NULL));
    FG_TRY(linear(&ws->mlp, &ws->h, &l->fc1, FG_ACT_QUICK_GELU));
    FG_TRY(linear(&ws->h, &ws->mlp, &l->fc2, FG_ACT_NONE));
    return fg_add(x, x, &ws->h);
}

/* Host I32 data of n elements onto dev as a tensor of the given shape. */
static fg_error *upload_i32(fg_device dev, const int32_t *data, int ndim, const int64_t *shape, fg_tensor *out) {
    fg_tensor host;
    FG_TRY(fg_tensor_view(&host, FG_I32, FG_DEVICE_CPU, ndim, shape, (void *)data));
    FG_TRY(fg_tensor_alloc(out, dev, FG_I32, ndim, shape));
    return fg_tensor_copy(out, &host);
}

/* x = token_embedding[ids] + position_embedding[0..L-1]. */
static fg_error *embed(const fg_clip_model *m, const int32_t *ids, int64_t batch, int64_t len, fg_tensor *x) {
    const fg_device dev = m->device;
    fg_tensor ids_dev = {0}, pos_ids = {0}, pos = {0};
    int32_t *positions = malloc((size_t)len * sizeof *positions);
    if (!positions) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP positions");
    for (int64_t i = 0; i < len; i++) positions[i] = (int32_t)i;
    fg_error *err = upload_i32(dev, ids, FG_SHAPE(batch, len), &ids_dev);
    if (!err) err = upload_i32(dev, positions, FG_SHAPE(len), &pos_ids);
    if (!err) err = fg_tensor_alloc(&pos, dev, m->act_dtype, FG_SHAPE(len, m->cfg.hidden));
    if (!err) err = fg_tensor_alloc(x, dev, m->act_dtype, FG_SHAPE(batch, len, m->cfg.hidden));
    if (!err) err = fg_error_wrapf(fg_embedding(x, &ids_dev, &m->token_emb), "token ids");
    if (!err) err = fg_embedding(&pos, &pos_ids, &m->pos_emb);
    if (!err) err = fg_add(x, x, &pos);
    free(positions);
    fg_tensor_free(&ids_dev);
    fg_tensor_free(&pos_ids);
    fg_tensor_free(&pos);
    return err;
}

/* A view of rows [first, first + rows) of a contiguous [.., D] buffer, as [rows, D]. */
static fg_error *rows_view(const fg_tensor *t, int64_t first, int64_t rows, int64_t d, fg_tensor *out) {
    return fg_tensor_view(out, t->dtype, t->device, FG_SHAPE(rows, d),
                          (char *)t->data + (size_t)(first * d) * fg_dtype_size(t->dtype));
}

static fg_error *pool(const fg_clip_model *m, const int32_t *ids, int64_t batch, int64_t len, const fg_tensor *last,
                      fg_tensor *pooled) {
    const int64_t d = m->cfg.hidden;
    FG_TRY(fg_tensor_alloc(pooled, last->device, last->dtype, FG_SHAPE(batch, d)));
    for (int64_t b = 0; b < batch; b++) {
        fg_tensor seq, row;
        FG_TRY(rows_view(last, b * len, len, d, &seq));
        FG_TRY(rows_view(pooled, b, 1, d, &row));
        FG_TRY(fg_slice(&row, &seq, 0, fg_clip_pooled_position(ids + b * len, len)));
    }
    return NULL;
}

static fg_error *final_outputs(const fg_clip_model *m, const int32_t *ids, const fg_tensor *x, unsigned want,
                               fg_clip_outputs *out) {
    const int64_t batch = x->shape[0], len = x->shape[1];
    FG_TRY(fg_tensor_alloc(&out->last_hidden, x->device, x->dtype, x->ndim, x->shape));
    FG_TRY(fg_layer_norm(&out->last_hidden, x, &m->final_w, &m->final_b, CLIP_LN_EPS, NULL, NULL));
    if (want & (FG_CLIP_POOLED | FG_CLIP_PROJECTED)) FG_TRY(pool(m, ids, batch, len, &out->last_hidden, &out->pooled));
    if (want & FG_CLIP_PROJECTED) {
        FG_TRY(fg_tensor_alloc(&out->pooled_projected, x->device, x->dtype, FG_SHAPE(batch, m->proj_dim)));
        FG_TRY(linear(&out->pooled_projected, &out->pooled, &m->proj, FG_ACT_NONE));
    }
    if (!(want & FG_CLIP_POOLED)) fg_tensor_free(&out->pooled);
    if (!(want & FG_CLIP_LAST)) fg_tensor_free(&out->last_hidden);
    return NULL;
}

static fg_error *forward(const fg_clip_model *m, const int32_t *ids, int64_t batch, int64_t len, unsigned want,
                         fg_clip_outputs *out) {
    clip_work ws = {0};
    fg_tensor x = {0};
    fg_error *err = embed(m, ids, batch, len, &x);
    if (!err) err = work_alloc(m, batch, len, &ws);
    for (int64_t i = 0; !err && i < m->cfg.layers; i++) {
        if (i == m->cfg.layers - 1 && (want & FG_CLIP_PENULTIMATE)) {
            err = fg_tensor_alloc(&out->penultimate, x.device, x.dtype, x.ndim, x.shape);
            if (!err) err = fg_tensor_copy(&out->penultimate, &x);
            if (err) break;
        }
        err = fg_error_wrapf(layer_forward(&m->layers[i], &m->cfg, &ws, &x), "CLIP layer %lld", (long long)i);
    }
    work_free(&ws);
    if (!err && (want & ~(unsigned)FG_CLIP_PENULTIMATE)) err = final_outputs(m, ids, &x, want, out);
    fg_tensor_free(&x);
    return err;
}

/* Replaces *t (an activation on the model's device) by its F32 copy on dev. */
static fg_error *f32_output(fg_device dev, fg_tensor *t) {
    if (t->dtype == FG_F32 && t->device == dev) return NULL;
    fg_tensor f32 = {0};
    FG_TRY(fg_tensor_alloc(&f32, dev, FG_F32, t->ndim, t->shape));
    fg_error *err = fg_tensor_convert(&f32, t);
    fg_tensor_free(err ? &f32 : t);
    if (!err) *t = f32;
    return err;
}

fg_error *fg_clip_encode(const fg_clip_model *m, fg_device dev, const int32_t *ids, int64_t batch, int64_t len,
                         unsigned want, fg_clip_outputs *out) {
    FG_CHECK_ARG(m && ids && out, "fg_clip_encode: NULL argument");
    memset(out, 0, sizeof *out);
    FG_CHECK_ARG(batch >= 1 && batch <= INT32_MAX, "CLIP: batch %lld out of range", (long long)batch);
    FG_CHECK_ARG(len >= 1 && len <= m->cfg.positions, "CLIP: %lld tokens, the model has %lld positions",
                 (long long)len, (long long)m->cfg.positions);
    FG_CHECK_ARG(want != 0 && (want & ~0xFu) == 0, "CLIP: invalid output selection 0x%x", want);
    if ((want & FG_CLIP_PROJECTED) && !m->has_proj)
        return fg_errorf(FG_ERR_NOT_FOUND, "CLIP: projected pooled output requested but the model has no "
                         "text_projection.weight");
    fg_error *err = forward(m, ids, batch, len, want, out);
    fg_tensor *all[] = {&out->last_hidden, &out->penultimate, &out->pooled, &out->pooled_projected};
    for (size_t i = 0; !err && i < sizeof all / sizeof all[0]; i++)
        if (all[i]->data) err = f32_output(dev, all[i]);
    if (err) fg_clip_outputs_free(out);
    return err;
}

fg_error *fg_clip_set_act_dtype(fg_clip_model *m, fg_dtype act_dtype) {
    FG_CHECK_ARG(m, "fg_clip_set_act_dtype: NULL model");
    FG_TRY(fg_act_dtype_check("CLIP", act_dtype));
    m->act_dtype = act_dtype;
    return NULL;
}

void fg_clip_outputs_free(fg_clip_outputs *o) {
    if (!o) return;
    fg_tensor_free(&o->last_hidden);
    fg_tensor_free(&o->penultimate);
    fg_tensor_free(&o->pooled);
    fg_tensor_free(&o->pooled_projected);
}
