/* CLIP-L text encoder on the op interface (docs/models.md section 3). The forward pass keeps one
 * f32 residual stream x [B, L, D] and a fixed workspace reused by every layer, so peak memory
 * is a few [B, L, max(D, I)] buffers on top of the (mapped, never widened) weights. */
#include "text_encoders/clip_model.h"

#include "models/weights_internal.h"

#include <float.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/scope.h"
#include "models/layout_text.h"

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

static fg_error *count_layers(const fg_weights *w, int64_t *layers) {
    const char *stem = fg_clip_table.groups[FG_CLIP_GROUP_LAYER].stem;
    FG_TRY(fg_weights_count_indexed(w, stem, CLIP_MAX_LAYERS, layers));
    if (*layers == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no tensors named '%s%s0.*': not a CLIP text model", fg_weights_path(w),
                         fg_weights_prefix(w), stem);
    return NULL;
}

static fg_error *infer_config(const fg_weights *w, fg_clip_model *m) {
    fg_clip_config *c = &m->cfg;
    const fg_param_desc *params = fg_clip_table.params;
    const char *tok = params[FG_CLIP_TOKEN_EMBEDDING].name, *pos = params[FG_CLIP_POSITION_EMBEDDING].name;
    FG_TRY(fg_weights_get(w, tok, &m->token_emb));
    char buf[96];
    if (m->token_emb.ndim != 2 || !fg_dtype_is_float(m->token_emb.dtype) || m->token_emb.shape[0] < 1 ||
        m->token_emb.shape[1] < 1)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' is %s %s, expected a float [vocab, hidden]",
                         fg_weights_path(w), fg_weights_prefix(w), tok, fg_dtype_name(m->token_emb.dtype),
                         fg_tensor_shape_str(&m->token_emb, buf, sizeof buf));
    c->vocab = m->token_emb.shape[0];
    c->hidden = m->token_emb.shape[1];
    c->dtype = m->token_emb.dtype;
    if (c->hidden % FG_CLIP_HEAD_DIM != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: hidden size %lld is not a multiple of the head size %d",
                         fg_weights_path(w), (long long)c->hidden, FG_CLIP_HEAD_DIM);
    c->heads = c->hidden / FG_CLIP_HEAD_DIM;
    FG_TRY(fg_weights_get(w, pos, &m->pos_emb));
    c->positions = m->pos_emb.ndim == 2 ? m->pos_emb.shape[0] : 0;
    if (c->positions < 1) c->positions = 1; /* the shaped lookup below reports the real shape */
    FG_TRY(fg_weights_get_shaped(w, pos, FG_SHAPE(c->positions, c->hidden), &m->pos_emb));
    fg_tensor fc1;
    char name[256];
    FG_TRY(fg_table_weight_name(&fg_clip_table, &params[FG_CLIP_FC1], 0, name, sizeof name));
    FG_TRY(fg_weights_get(w, name, &fc1));
    c->intermediate = fc1.ndim == 2 && fc1.shape[0] > 0 ? fc1.shape[0] : 1;
    FG_TRY(count_layers(w, &c->layers));
    FG_TRY(fg_table_weight_name(&fg_clip_table, &params[FG_CLIP_TEXT_PROJECTION], 0, name, sizeof name));
    c->text_projection = fg_weights_has(w, name);
    return NULL;
}

/* Where the parameters of models/layout_text.c land; the embeddings (read with the config)
 * and the projection (its width read from the file) are loaded apart. */
#define LINEAR_AT(T, f) {offsetof(T, f.w), offsetof(T, f.b), offsetof(T, f.scale)}
#define NORM_AT(T, w_, b_) {offsetof(T, w_), offsetof(T, b_), FG_NO_FIELD}
#define ELSEWHERE {FG_NO_FIELD, FG_NO_FIELD, FG_NO_FIELD}
static const fg_param_fields fields[FG_CLIP_PARAM_COUNT] = {
    [FG_CLIP_TOKEN_EMBEDDING] = ELSEWHERE,
    [FG_CLIP_POSITION_EMBEDDING] = ELSEWHERE,
    [FG_CLIP_LN1] = NORM_AT(clip_layer, ln1_w, ln1_b),
    [FG_CLIP_Q] = LINEAR_AT(clip_layer, q),
    [FG_CLIP_K] = LINEAR_AT(clip_layer, k),
    [FG_CLIP_V] = LINEAR_AT(clip_layer, v),
    [FG_CLIP_OUT] = LINEAR_AT(clip_layer, o),
    [FG_CLIP_LN2] = NORM_AT(clip_layer, ln2_w, ln2_b),
    [FG_CLIP_FC1] = LINEAR_AT(clip_layer, fc1),
    [FG_CLIP_FC2] = LINEAR_AT(clip_layer, fc2),
    [FG_CLIP_FINAL_NORM] = NORM_AT(fg_clip_model, final_w, final_b),
    [FG_CLIP_TEXT_PROJECTION] = ELSEWHERE,
};

static fg_error *load_all(const fg_weights *w, fg_clip_model *m) {
    FG_TRY(infer_config(w, m));
    const fg_clip_config *c = &m->cfg;
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    if (!m->layers) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP layers");
    fg_table_config config;
    fg_clip_config_to_table(c, &config);
    fg_table_target target = {fields, {m, m->layers}, {0, sizeof *m->layers}};
    FG_TRY(fg_table_load_all(w, &fg_clip_table, &config, &target));
    if (c->text_projection) { /* its width is the file's: FLUX never uses it */
        const fg_param_desc *proj = &fg_clip_table.params[FG_CLIP_TEXT_PROJECTION];
        char name[256];
        FG_TRY(fg_table_weight_name(&fg_clip_table, proj, 0, name, sizeof name));
        fg_tensor p;
        FG_TRY(fg_weights_get(w, name, &p));
        m->proj_dim = p.ndim == 2 && p.shape[0] > 0 ? p.shape[0] : 1;
        FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(m->proj_dim, c->hidden), &m->proj.w));
        FG_TRY(fg_weights_scale(w, name, &m->proj.scale));
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
/* Activations come from scopes (kernels/scope.h): the results from the encode's scope, the
 * sequence and the embedding's temporaries from a child, the per-layer buffers from a child of
 * that; the results the caller asked for move out at the end, everything else goes with the
 * scope, on success or not. */

/* Buffers of one forward pass, reused by every layer. */
typedef struct clip_work {
    fg_tensor *h, *q, *k, *v, *qh, *kh, *vh, *att, *merged, *mlp, *mask;
} clip_work;

/* The forward's results (act dtype, on the model's device; NULL when not computed). */
typedef struct clip_results {
    fg_tensor *last_hidden, *penultimate, *pooled, *pooled_projected;
} clip_results;

/* Additive causal mask [1, 1, L, L] (from s): -FLT_MAX above the diagonal, as ComfyUI builds
 * it; staged in host memory (from host). */
static fg_error *causal_mask(fg_scope *s, fg_scope *host, fg_device dev, int64_t len, fg_tensor **mask) {
    fg_tensor *staged;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 1, len, len), &staged));
    float *p = staged->data;
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < len; j++) p[i * len + j] = j > i ? -FLT_MAX : 0.0f;
    FG_TRY(fg_scope_alloc(s, dev, FG_F32, FG_SHAPE(1, 1, len, len), mask));
    return fg_tensor_copy(*mask, staged);
}

static fg_error *work_alloc(const fg_clip_model *m, fg_scope *s, int64_t batch, int64_t len, clip_work *ws) {
    const fg_clip_config *c = &m->cfg;
    const int64_t d = c->hidden, h = c->heads, hd = FG_CLIP_HEAD_DIM;
    const fg_device dev = m->device;
    const fg_dtype act = m->act_dtype;
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, d), &ws->h));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, d), &ws->q));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, d), &ws->k));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, d), &ws->v));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, h, len, hd), &ws->qh));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, h, len, hd), &ws->kh));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, h, len, hd), &ws->vh));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, h, len, hd), &ws->att));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, d), &ws->merged));
    FG_TRY(fg_scope_alloc(s, dev, act, FG_SHAPE(batch, len, c->intermediate), &ws->mlp));
    FG_SCOPED(NULL, host, causal_mask(s, &host, dev, len, &ws->mask));
    return NULL;
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
static fg_error *layer_forward(const clip_layer *l, const fg_clip_config *c, const clip_work *ws, fg_tensor *x) {
    FG_TRY(fg_layer_norm(ws->h, x, &l->ln1_w, &l->ln1_b, CLIP_LN_EPS, NULL, NULL));
    FG_TRY(linear(ws->q, ws->h, &l->q, FG_ACT_NONE));
    FG_TRY(linear(ws->k, ws->h, &l->k, FG_ACT_NONE));
    FG_TRY(linear(ws->v, ws->h, &l->v, FG_ACT_NONE));
    FG_TRY(split_heads(ws->qh, ws->q, c->heads));
    FG_TRY(split_heads(ws->kh, ws->k, c->heads));
    FG_TRY(split_heads(ws->vh, ws->v, c->heads));
    FG_TRY(fg_attention(ws->att, ws->qh, ws->kh, ws->vh, ws->mask, 0.125f)); /* 1/sqrt(64) */
    FG_TRY(merge_heads(ws->merged, ws->att));
    FG_TRY(linear(ws->h, ws->merged, &l->o, FG_ACT_NONE));
    FG_TRY(fg_add(x, x, ws->h));
    FG_TRY(fg_layer_norm(ws->h, x, &l->ln2_w, &l->ln2_b, CLIP_LN_EPS, NULL, NULL));
    FG_TRY(linear(ws->mlp, ws->h, &l->fc1, FG_ACT_QUICK_GELU));
    FG_TRY(linear(ws->h, ws->mlp, &l->fc2, FG_ACT_NONE));
    return fg_add(x, x, ws->h);
}

/* Host I32 data onto dev as a tensor of the given shape (from s). */
static fg_error *upload_i32(fg_scope *s, fg_device dev, const int32_t *data, int ndim, const int64_t *shape,
                            fg_tensor **out) {
    fg_tensor host;
    FG_TRY(fg_tensor_view(&host, FG_I32, FG_DEVICE_CPU, ndim, shape, (void *)data));
    FG_TRY(fg_scope_alloc(s, dev, FG_I32, ndim, shape, out));
    return fg_tensor_copy(*out, &host);
}

/* x (from s) = token_embedding[ids] + position_embedding[0..L-1]; ids and positions on the
 * device and the position rows are temporaries. */
static fg_error *embed(const fg_clip_model *m, fg_scope *s, fg_scope *tmp, const int32_t *ids, int64_t batch,
                       int64_t len, fg_tensor **x) {
    const fg_device dev = m->device;
    fg_tensor *positions, *ids_dev, *pos_ids, *pos;
    FG_TRY(fg_scope_alloc(tmp, FG_DEVICE_CPU, FG_I32, FG_SHAPE(len), &positions));
    for (int64_t i = 0; i < len; i++) ((int32_t *)positions->data)[i] = (int32_t)i;
    FG_TRY(upload_i32(tmp, dev, ids, FG_SHAPE(batch, len), &ids_dev));
    FG_TRY(upload_i32(tmp, dev, positions->data, FG_SHAPE(len), &pos_ids));
    FG_TRY(fg_scope_alloc(tmp, dev, m->act_dtype, FG_SHAPE(len, m->cfg.hidden), &pos));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, m->cfg.hidden), x));
    FG_TRY(fg_error_wrapf(fg_embedding(*x, ids_dev, &m->token_emb), "token ids"));
    FG_TRY(fg_embedding(pos, pos_ids, &m->pos_emb));
    return fg_add(*x, *x, pos);
}

/* A view of rows [first, first + rows) of a contiguous [.., D] buffer, as [rows, D]. */
static fg_error *rows_view(const fg_tensor *t, int64_t first, int64_t rows, int64_t d, fg_tensor *out) {
    return fg_tensor_view(out, t->dtype, t->device, FG_SHAPE(rows, d),
                          (char *)t->data + (size_t)(first * d) * fg_dtype_size(t->dtype));
}

static fg_error *pool(const fg_clip_model *m, fg_scope *s, const int32_t *ids, int64_t batch, int64_t len,
                      const fg_tensor *last, fg_tensor **pooled) {
    const int64_t d = m->cfg.hidden;
    FG_TRY(fg_scope_alloc(s, last->device, last->dtype, FG_SHAPE(batch, d), pooled));
    for (int64_t b = 0; b < batch; b++) {
        fg_tensor seq, row;
        FG_TRY(rows_view(last, b * len, len, d, &seq));
        FG_TRY(rows_view(*pooled, b, 1, d, &row));
        FG_TRY(fg_slice(&row, &seq, 0, fg_clip_pooled_position(ids + b * len, len)));
    }
    return NULL;
}

/* The final layer norm and what is computed from it (from s). */
static fg_error *final_outputs(const fg_clip_model *m, fg_scope *s, const int32_t *ids, const fg_tensor *x,
                               unsigned want, clip_results *r) {
    const int64_t batch = x->shape[0], len = x->shape[1];
    FG_TRY(fg_scope_alloc(s, x->device, x->dtype, x->ndim, x->shape, &r->last_hidden));
    FG_TRY(fg_layer_norm(r->last_hidden, x, &m->final_w, &m->final_b, CLIP_LN_EPS, NULL, NULL));
    if (want & (FG_CLIP_POOLED | FG_CLIP_PROJECTED)) FG_TRY(pool(m, s, ids, batch, len, r->last_hidden, &r->pooled));
    if (want & FG_CLIP_PROJECTED) {
        FG_TRY(fg_scope_alloc(s, x->device, x->dtype, FG_SHAPE(batch, m->proj_dim), &r->pooled_projected));
        FG_TRY(linear(r->pooled_projected, r->pooled, &m->proj, FG_ACT_NONE));
    }
    return NULL;
}

/* The layers on x in place (their buffers from work); the input of the last layer copied into
 * r->penultimate (from s) when wanted. */
static fg_error *run_layers(const fg_clip_model *m, fg_scope *s, fg_scope *work, fg_tensor *x, unsigned want,
                            clip_results *r) {
    clip_work ws;
    FG_TRY(work_alloc(m, work, x->shape[0], x->shape[1], &ws));
    for (int64_t i = 0; i < m->cfg.layers; i++) {
        if (i == m->cfg.layers - 1 && (want & FG_CLIP_PENULTIMATE)) {
            FG_TRY(fg_scope_alloc(s, x->device, x->dtype, x->ndim, x->shape, &r->penultimate));
            FG_TRY(fg_tensor_copy(r->penultimate, x));
        }
        FG_TRY(fg_error_wrapf(layer_forward(&m->layers[i], &m->cfg, &ws, x), "CLIP layer %lld", (long long)i));
    }
    return NULL;
}

static fg_error *forward(const fg_clip_model *m, fg_scope *s, fg_scope *seq, const int32_t *ids, int64_t batch,
                         int64_t len, unsigned want, clip_results *r) {
    fg_tensor *x;
    FG_SCOPED(seq, emb, embed(m, seq, &emb, ids, batch, len, &x));
    FG_SCOPED(seq, work, run_layers(m, s, &work, x, want, r));
    if (want & ~(unsigned)FG_CLIP_PENULTIMATE) FG_TRY(final_outputs(m, s, ids, x, want, r));
    return NULL;
}

/* Moves a result to the caller as F32 on dev: the tensor itself when it already is, else a
 * converted copy (from s). */
static fg_error *hand_out(fg_scope *s, fg_device dev, fg_tensor *t, fg_tensor *dst) {
    if (t->dtype != FG_F32 || t->device != dev) {
        fg_tensor *f32;
        FG_TRY(fg_scope_alloc(s, dev, FG_F32, t->ndim, t->shape, &f32));
        FG_TRY(fg_tensor_convert(f32, t));
        t = f32;
    }
    fg_scope_move_out(s, t, dst);
    return NULL;
}

static fg_error *encode(const fg_clip_model *m, fg_scope *s, fg_device dev, const int32_t *ids, int64_t batch,
                        int64_t len, unsigned want, fg_clip_outputs *out) {
    clip_results r = {0};
    FG_SCOPED(s, seq, forward(m, s, &seq, ids, batch, len, want, &r));
    struct {
        unsigned flag;
        fg_tensor *result, *dst;
    } outputs[] = {{FG_CLIP_LAST, r.last_hidden, &out->last_hidden},
                   {FG_CLIP_PENULTIMATE, r.penultimate, &out->penultimate},
                   {FG_CLIP_POOLED, r.pooled, &out->pooled},
                   {FG_CLIP_PROJECTED, r.pooled_projected, &out->pooled_projected}};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        if ((want & outputs[i].flag) && outputs[i].result) FG_TRY(hand_out(s, dev, outputs[i].result, outputs[i].dst));
    return NULL;
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
    fg_scope s = fg_scope_open(NULL);
    fg_error *err = encode(m, &s, dev, ids, batch, len, want, out);
    fg_scope_end(&s);
    if (err) fg_clip_outputs_free(out); /* what had moved out already */
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
