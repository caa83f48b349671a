/* T5 v1.1 encoder on the op interface (docs/models.md section 4). One f32 residual stream
 * x [B, L, D], one fixed workspace reused by every block, and the [1, H, L, L] position bias
 * built once per call (from block 0's table, through the embedding op) and shared by all
 * blocks. */
#include "text_encoders/t5_model.h"

#include "models/weights_internal.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/scope.h"
#include "models/layout_text.h"

/* A hostile file could name block 4000000000; T5-XXL has 24. */
#define T5_MAX_LAYERS 256
#define T5_RMS_EPS 1e-6f

typedef struct t5_linear {
    fg_tensor w;
    float scale; /* fp8 dequantisation scale, 1 otherwise */
} t5_linear;

typedef struct t5_block {
    fg_tensor ln0, ln1;
    t5_linear q, k, v, o, wi0, wi1, wo;
} t5_block;

struct fg_t5_model {
    fg_t5_config cfg;
    int64_t inner; /* heads * d_kv */
    fg_weights *file; /* owned when opened by path */
    fg_tensor embed;  /* the file's table, or embed_finite */
    fg_tensor embed_finite; /* owned copy of an fp8 table with NaN entries zeroed */
    float embed_scale;
    fg_tensor rel_bias, final_ln;
    t5_block *blocks;
    fg_device device;   /* of the weights: where the activations live */
    fg_dtype act_dtype; /* F32 or BF16; the position bias stays F32 (a mask) */
};

/* ---- relative position buckets ---------------------------------------------------------- */

int32_t fg_t5_relative_bucket(int64_t r, int64_t num_buckets, int64_t max_distance) {
    int64_t half = num_buckets / 2;
    int64_t bucket = r > 0 ? half : 0;
    int64_t n = r < 0 ? -r : r;
    int64_t max_exact = half / 2;
    if (n < max_exact) return (int32_t)(bucket + n);
    /* The references evaluate the log part on f32 tensors (the Python scalars become f32),
     * then truncate toward zero. */
    float ratio = (float)n / (float)max_exact;
    float denom = (float)log((double)max_distance / (double)max_exact);
    float scaled = logf(ratio) / denom * (float)(half - max_exact);
    int64_t large = max_exact + (int64_t)scaled;
    if (large > half - 1) large = half - 1;
    return (int32_t)(bucket + large);
}

/* ---- loading ---------------------------------------------------------------------------- */

static fg_error *count_blocks(const fg_weights *w, int64_t *layers) {
    const char *stem = fg_t5_table.groups[FG_T5_GROUP_BLOCK].stem;
    FG_TRY(fg_weights_count_indexed(w, stem, T5_MAX_LAYERS, layers));
    if (*layers == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no tensors named '%s%s0.*': not a T5 encoder", fg_weights_path(w),
                         fg_weights_prefix(w), stem);
    return NULL;
}

/* The name of parameter p in block 0 (or of the model) into buf. */
static const char *name_of(fg_t5_param p, char *buf, size_t cap) {
    fg_error *err = fg_table_weight_name(&fg_t5_table, &fg_t5_table.params[p], 0, buf, cap);
    fg_error_free(err); /* the table's names are short */
    return buf;
}

/* The token embedding's name in w: shared.weight, or the other name some exports use. */
static const char *embedding_name(const fg_weights *w) {
    const fg_param_desc *shared = &fg_t5_table.params[FG_T5_SHARED];
    return fg_weights_has(w, shared->name) ? shared->name : shared->alt_name;
}

static fg_error *bad_2d(const fg_weights *w, const char *name, const fg_tensor *t, const char *expected) {
    char buf[96];
    return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' is %s %s, expected a float %s", fg_weights_path(w),
                     fg_weights_prefix(w), name, fg_dtype_name(t->dtype), fg_tensor_shape_str(t, buf, sizeof buf),
                     expected);
}

static bool is_float_2d(const fg_tensor *t) {
    return t->ndim == 2 && fg_dtype_is_float(t->dtype) && t->shape[0] > 0 && t->shape[1] > 0;
}

static fg_error *infer_config(const fg_weights *w, fg_t5_model *m) {
    fg_t5_config *c = &m->cfg;
    /* Tied copies when both exist; ComfyUI reads shared.weight. */
    const char *embed_name = embedding_name(w);
    const fg_param_desc *shared = &fg_t5_table.params[FG_T5_SHARED];
    if (!fg_weights_has(w, embed_name))
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: missing tensor '%s%s' (or '%s%s')", fg_weights_path(w),
                         fg_weights_prefix(w), shared->name, fg_weights_prefix(w), shared->alt_name);
    FG_TRY(fg_weights_get(w, embed_name, &m->embed));
    if (!is_float_2d(&m->embed)) return bad_2d(w, embed_name, &m->embed, "[vocab, d_model]");
    FG_TRY(fg_weights_scale(w, embed_name, &m->embed_scale));
    c->vocab = m->embed.shape[0];
    c->d_model = m->embed.shape[1];
    char rel_name[128], q_name[128], wi_name[128];
    name_of(FG_T5_RELATIVE_BIAS, rel_name, sizeof rel_name);
    FG_TRY(fg_weights_get(w, rel_name, &m->rel_bias));
    if (!is_float_2d(&m->rel_bias)) return bad_2d(w, rel_name, &m->rel_bias, "[buckets, heads]");
    c->buckets = m->rel_bias.shape[0];
    c->heads = m->rel_bias.shape[1];
    if (c->buckets < 4 || c->buckets / 4 >= FG_T5_MAX_DISTANCE)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has %lld buckets; bidirectional buckets need 4..%d",
                         fg_weights_path(w), fg_weights_prefix(w), rel_name, (long long)c->buckets,
                         4 * FG_T5_MAX_DISTANCE - 1);
    name_of(FG_T5_Q, q_name, sizeof q_name);
    fg_tensor q;
    FG_TRY(fg_weights_get(w, q_name, &q));
    if (!is_float_2d(&q)) return bad_2d(w, q_name, &q, "[heads * d_kv, d_model]");
    if (q.shape[0] % c->heads != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has %lld rows, not a multiple of the %lld heads",
                         fg_weights_path(w), fg_weights_prefix(w), q_name, (long long)q.shape[0], (long long)c->heads);
    m->inner = q.shape[0];
    c->d_kv = m->inner / c->heads;
    c->dtype = q.dtype;
    name_of(FG_T5_WI0, wi_name, sizeof wi_name);
    fg_tensor wi;
    FG_TRY(fg_weights_get(w, wi_name, &wi));
    if (!is_float_2d(&wi)) return bad_2d(w, wi_name, &wi, "[d_ff, d_model]");
    c->d_ff = wi.shape[0];
    return count_blocks(w, &c->layers);
}

/* Where the parameters of models/layout_text.c land; the embedding and the position bias are
 * read with the config. */
#define LINEAR_AT(f) {offsetof(t5_block, f.w), FG_NO_FIELD, offsetof(t5_block, f.scale)}
#define SCALE_AT(T, f) {offsetof(T, f), FG_NO_FIELD, FG_NO_FIELD}
static const fg_param_fields fields[FG_T5_PARAM_COUNT] = {
    [FG_T5_Q] = LINEAR_AT(q),
    [FG_T5_K] = LINEAR_AT(k),
    [FG_T5_V] = LINEAR_AT(v),
    [FG_T5_O] = LINEAR_AT(o),
    [FG_T5_RELATIVE_BIAS] = {FG_NO_FIELD, FG_NO_FIELD, FG_NO_FIELD},
    [FG_T5_LN0] = SCALE_AT(t5_block, ln0),
    [FG_T5_WI0] = LINEAR_AT(wi0),
    [FG_T5_WI1] = LINEAR_AT(wi1),
    [FG_T5_WO] = LINEAR_AT(wo),
    [FG_T5_LN1] = SCALE_AT(t5_block, ln1),
    [FG_T5_FINAL_NORM] = SCALE_AT(fg_t5_model, final_ln),
    [FG_T5_SHARED] = {FG_NO_FIELD, FG_NO_FIELD, FG_NO_FIELD},
};

/* NaN (and, for e5m2, infinity) bit patterns of an fp8 byte. */
static bool fp8_not_finite(uint8_t v, fg_dtype dt) {
    return dt == FG_F8_E4M3 ? (v & 0x7F) == 0x7F : (v & 0x7C) == 0x7C;
}

/* ComfyUI runs nan_to_num on the f32 embedding output of fp8 T5 models. Zeroing the NaN
 * bytes of the table once gives the same lookups (NaN -> 0) without a per-call pass. e5m2
 * infinities become the largest finite e5m2 value (nan_to_num would give FLT_MAX; no e5m2
 * T5 files are known). */
/* *out = a finite copy of the fp8 table t when it holds non-finite bytes (else left empty). */
static fg_error *finite_fp8_copy(const fg_tensor *t, fg_tensor *out) {
    const fg_dtype dt = t->dtype;
    *out = (fg_tensor){0};
    if ((dt != FG_F8_E4M3 && dt != FG_F8_E5M2) || t->device != FG_DEVICE_CPU) return NULL;
    const uint8_t *src = t->data;
    size_t n = (size_t)fg_tensor_numel(t), first = n;
    for (size_t i = 0; i < n && first == n; i++)
        if (fp8_not_finite(src[i], dt)) first = i;
    if (first == n) return NULL;
    FG_TRY(fg_tensor_alloc_host(out, dt, t->ndim, t->shape));
    uint8_t *dst = out->data;
    memcpy(dst, src, n);
    for (size_t i = first; i < n; i++) {
        if (!fp8_not_finite(dst[i], dt)) continue;
        bool is_nan = dt == FG_F8_E4M3 || (dst[i] & 0x03) != 0;
        dst[i] = is_nan ? 0x00 : (uint8_t)((dst[i] & 0x80) | 0x7B);
    }
    return NULL;
}

/* Uploads convert fp8 to BF16 first (fg_t5_sanitize_view cleans the table before), so only
 * host tables are looked at. */
static fg_error *sanitize_fp8_embedding(fg_t5_model *m) {
    FG_TRY(finite_fp8_copy(&m->embed, &m->embed_finite));
    if (!m->embed_finite.data) return NULL;
    m->embed = m->embed_finite;
    m->embed.owns_data = false;
    return NULL;
}

fg_error *fg_t5_sanitize_view(fg_weights *w) {
    FG_CHECK_ARG(w, "fg_t5_sanitize_view: NULL view");
    const char *name = embedding_name(w);
    if (!fg_weights_has(w, name)) return NULL; /* fg_t5_load names what is missing */
    fg_tensor t, finite;
    FG_TRY(fg_weights_get(w, name, &t));
    FG_TRY(finite_fp8_copy(&t, &finite));
    return finite.data ? fg_weights_override(w, name, &finite) : NULL;
}

static fg_error *load_all(const fg_weights *w, fg_t5_model *m) {
    FG_TRY(infer_config(w, m));
    m->blocks = calloc((size_t)m->cfg.layers, sizeof *m->blocks);
    if (!m->blocks) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 blocks");
    fg_table_config config;
    fg_t5_config_to_table(&m->cfg, &config);
    fg_table_target target = {fields, {m, m->blocks}, {0, sizeof *m->blocks}};
    FG_TRY(fg_table_load_all(w, &fg_t5_table, &config, &target));
    return sanitize_fp8_embedding(m);
}

fg_error *fg_t5_load(const fg_weights *w, fg_t5_model **out) {
    FG_CHECK_ARG(w && out, "fg_t5_load: NULL argument");
    *out = NULL;
    fg_t5_model *m = calloc(1, sizeof *m);
    if (!m) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 model");
    m->device = fg_weights_device(w);
    m->act_dtype = m->device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    fg_error *err = load_all(w, m);
    if (err) {
        fg_t5_free(m);
        return fg_error_wrapf(err, "loading the T5 encoder");
    }
    *out = m;
    return NULL;
}

fg_error *fg_t5_load_owned(fg_weights *w, fg_t5_model **out) {
    fg_error *err = fg_t5_load(w, out);
    if (err) {
        fg_weights_close(w);
        return err;
    }
    (*out)->file = w;
    return NULL;
}

fg_error *fg_t5_open(const char *path, fg_t5_model **out) {
    FG_CHECK_ARG(path && out, "fg_t5_open: NULL argument");
    *out = NULL;
    fg_weights *view = NULL;
    FG_TRY(fg_weights_open_at_anchor(path, "encoder.final_layer_norm.weight", "T5 encoder", &view));
    return fg_t5_load_owned(view, out);
}

void fg_t5_free(fg_t5_model *m) {
    if (!m) return;
    free(m->blocks);
    fg_tensor_free_host(&m->embed_finite);
    fg_weights_close(m->file);
    free(m);
}

const fg_t5_config *fg_t5_model_config(const fg_t5_model *m) { return &m->cfg; }

/* ---- forward ---------------------------------------------------------------------------- */
/* Activations come from scopes (kernels/scope.h): the output from the encode's scope (moved
 * out to the caller at the end), the sequence from a child, the attention bias and the
 * per-block buffers from a child of that, host staging from root scopes of their own. */

typedef struct t5_work {
    fg_tensor *h, *q, *k, *v, *qh, *kh, *vh, *att, *merged, *ff0, *ff1, *bias;
} t5_work;

static fg_error *work_alloc(const fg_t5_model *m, fg_scope *s, int64_t batch, int64_t len, t5_work *ws) {
    const fg_t5_config *c = &m->cfg;
    const int64_t inner = m->inner;
    const fg_device dev = m->device;
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_model), &ws->h));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, inner), &ws->q));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, inner), &ws->k));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, inner), &ws->v));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv), &ws->qh));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv), &ws->kh));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv), &ws->vh));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv), &ws->att));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, inner), &ws->merged));
    FG_TRY(fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_ff), &ws->ff0));
    return fg_scope_alloc(s, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_ff), &ws->ff1);
}

/* A host tensor's data onto dev (from s). */
static fg_error *upload(fg_scope *s, fg_device dev, const fg_tensor *host, fg_tensor **out) {
    FG_TRY(fg_scope_alloc(s, dev, host->dtype, host->ndim, host->shape, out));
    return fg_tensor_copy(*out, host);
}

/* The bucket id of every (query i, key j) pair [L, L] on dev (from s), built on the host. */
static fg_error *bucket_ids(const fg_t5_model *m, fg_scope *s, fg_scope *host, int64_t len, fg_tensor **ids) {
    fg_tensor *buckets;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_I32, FG_SHAPE(len, len), &buckets));
    int32_t *b = buckets->data;
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < len; j++)
            b[i * len + j] = fg_t5_relative_bucket(j - i, m->cfg.buckets, FG_T5_MAX_DISTANCE);
    return upload(s, m->device, buckets, ids);
}

/* bias[0, h, i, j] (from s) = table[bucket(j - i), h], looked up by the embedding op from the
 * bucket ids; the ids and the looked-up table are temporaries. */
static fg_error *position_bias(const fg_t5_model *m, fg_scope *s, fg_scope *tmp, int64_t len, fg_tensor **bias) {
    const int64_t heads = m->cfg.heads;
    fg_tensor *ids, *table, heads_first;
    FG_SCOPED(NULL, host, bucket_ids(m, tmp, &host, len, &ids));
    FG_TRY(fg_scope_alloc(tmp, m->device, FG_F32, FG_SHAPE(len, len, heads), &table));
    FG_TRY(fg_embedding(table, ids, &m->rel_bias));
    FG_TRY(fg_scope_alloc(s, m->device, FG_F32, FG_SHAPE(1, heads, len, len), bias));
    FG_TRY(fg_tensor_reshape(&heads_first, *bias, FG_SHAPE(heads, len, len)));
    return fg_permute(&heads_first, table, (const int[]){2, 0, 1});
}

/* The key mask [B, 1, 1, L] (0 or -FLT_MAX) on dev (from s), built on the host. */
static fg_error *key_mask_bias(const fg_t5_model *m, fg_scope *s, fg_scope *host, const float *key_mask,
                               int64_t batch, int64_t len, fg_tensor **keys) {
    fg_tensor *staged;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(batch, 1, 1, len), &staged));
    float *k = staged->data;
    for (int64_t i = 0; i < batch * len; i++) k[i] = key_mask[i] == 1.0f ? 0.0f : -FLT_MAX;
    return upload(s, m->device, staged, keys);
}

/* bias [1, H, L, L] + key mask -> [B, H, L, L] (from s); the mask is a temporary. */
static fg_error *masked_bias(const fg_t5_model *m, fg_scope *s, fg_scope *tmp, const float *key_mask,
                             int64_t batch, int64_t len, const fg_tensor *bias, fg_tensor **full) {
    fg_tensor *keys;
    FG_SCOPED(NULL, host, key_mask_bias(m, tmp, &host, key_mask, batch, len, &keys));
    FG_TRY(fg_scope_alloc(s, m->device, FG_F32, FG_SHAPE(batch, bias->shape[1], len, len), full));
    return fg_add(*full, keys, bias);
}

static fg_error *split_heads(fg_tensor *out, const fg_tensor *x, int64_t heads) {
    fg_tensor v;
    FG_TRY(fg_tensor_reshape(&v, x, FG_SHAPE(x->shape[0], x->shape[1], heads, x->shape[2] / heads)));
    return fg_permute(out, &v, (const int[]){0, 2, 1, 3});
}

static fg_error *merge_heads(fg_tensor *out, const fg_tensor *x) {
    fg_tensor v;
    FG_TRY(fg_tensor_reshape(&v, out, FG_SHAPE(x->shape[0], x->shape[2], x->shape[1], x->shape[3])));
    return fg_permute(&v, x, (const int[]){0, 2, 1, 3});
}

static fg_error *linear(fg_tensor *out, const fg_tensor *x, const t5_linear *l, fg_activation act) {
    return fg_linear(out, x, &l->w, NULL, l->scale, act);
}

/* x += o(Attn(RMS0(x)) with the shared bias); x += wo(gelu_tanh(wi_0(h)) * wi_1(h)), h = RMS1(x). */
static fg_error *block_forward(const t5_block *b, int64_t heads, const t5_work *ws, fg_tensor *x) {
    FG_TRY(fg_rms_norm(ws->h, x, &b->ln0, T5_RMS_EPS));
    FG_TRY(linear(ws->q, ws->h, &b->q, FG_ACT_NONE));
    FG_TRY(linear(ws->k, ws->h, &b->k, FG_ACT_NONE));
    FG_TRY(linear(ws->v, ws->h, &b->v, FG_ACT_NONE));
    FG_TRY(split_heads(ws->qh, ws->q, heads));
    FG_TRY(split_heads(ws->kh, ws->k, heads));
    FG_TRY(split_heads(ws->vh, ws->v, heads));
    FG_TRY(fg_attention(ws->att, ws->qh, ws->kh, ws->vh, ws->bias, 1.0f)); /* T5: no 1/sqrt(d) */
    FG_TRY(merge_heads(ws->merged, ws->att));
    FG_TRY(linear(ws->h, ws->merged, &b->o, FG_ACT_NONE));
    FG_TRY(fg_add(x, x, ws->h));
    FG_TRY(fg_rms_norm(ws->h, x, &b->ln1, T5_RMS_EPS));
    FG_TRY(linear(ws->ff0, ws->h, &b->wi0, FG_ACT_GELU_TANH));
    FG_TRY(linear(ws->ff1, ws->h, &b->wi1, FG_ACT_NONE));
    FG_TRY(fg_mul(ws->ff0, ws->ff0, ws->ff1));
    FG_TRY(linear(ws->h, ws->ff0, &b->wo, FG_ACT_NONE));
    return fg_add(x, x, ws->h);
}

/* x (from s) = the scaled embeddings of ids; the ids on the device are a temporary. */
static fg_error *embed(const fg_t5_model *m, fg_scope *s, fg_scope *tmp, const int32_t *ids, int64_t batch,
                       int64_t len, fg_tensor **x) {
    fg_tensor host, *ids_dev;
    FG_TRY(fg_tensor_view(&host, FG_I32, FG_DEVICE_CPU, FG_SHAPE(batch, len), (void *)ids));
    FG_TRY(upload(tmp, m->device, &host, &ids_dev));
    FG_TRY(fg_scope_alloc(s, m->device, m->act_dtype, FG_SHAPE(batch, len, m->cfg.d_model), x));
    FG_TRY(fg_error_wrapf(fg_embedding(*x, ids_dev, &m->embed), "token ids"));
    if (m->embed_scale != 1.0f) FG_TRY(fg_scale_shift(*x, *x, m->embed_scale, 0.0f));
    return NULL;
}

/* The blocks on x in place; the attention bias (masked when key_mask is given) and the
 * per-block buffers come from work. */
static fg_error *run_blocks(const fg_t5_model *m, fg_scope *work, const float *key_mask, fg_tensor *x) {
    const int64_t batch = x->shape[0], len = x->shape[1];
    t5_work ws;
    FG_SCOPED(work, tmp, position_bias(m, work, &tmp, len, &ws.bias));
    if (key_mask) {
        fg_tensor *full;
        FG_SCOPED(work, tmp, masked_bias(m, work, &tmp, key_mask, batch, len, ws.bias, &full));
        fg_scope_release(work, ws.bias); /* the unmasked bias, replaced */
        ws.bias = full;
    }
    FG_TRY(work_alloc(m, work, batch, len, &ws));
    for (int64_t i = 0; i < m->cfg.layers; i++)
        FG_TRY(fg_error_wrapf(block_forward(&m->blocks[i], m->cfg.heads, &ws, x), "T5 block %lld", (long long)i));
    return NULL;
}

/* y (from s) = final_ln(blocks(embed(ids))); the sequence is a temporary. */
static fg_error *encoder_stack(const fg_t5_model *m, fg_scope *s, fg_scope *seq, const int32_t *ids, int64_t batch,
                               int64_t len, const float *key_mask, fg_tensor **y) {
    fg_tensor *x;
    FG_SCOPED(seq, tmp, embed(m, seq, &tmp, ids, batch, len, &x));
    FG_SCOPED(seq, work, run_blocks(m, &work, key_mask, x));
    FG_TRY(fg_scope_alloc(s, m->device, m->act_dtype, x->ndim, x->shape, y));
    return fg_rms_norm(*y, x, &m->final_ln, T5_RMS_EPS);
}

static fg_error *encode(const fg_t5_model *m, fg_scope *s, fg_device out_dev, const int32_t *ids, int64_t batch,
                        int64_t len, const float *key_mask, fg_tensor *out) {
    fg_tensor *y;
    FG_SCOPED(s, seq, encoder_stack(m, s, &seq, ids, batch, len, key_mask, &y));
    if (y->dtype != FG_F32 || m->device != out_dev) { /* else y already is the output */
        fg_tensor *f32;
        FG_TRY(fg_scope_alloc(s, out_dev, FG_F32, y->ndim, y->shape, &f32));
        FG_TRY(fg_tensor_convert(f32, y));
        y = f32;
    }
    fg_scope_move_out(s, y, out);
    return NULL;
}

fg_error *fg_t5_set_act_dtype(fg_t5_model *m, fg_dtype act_dtype) {
    FG_CHECK_ARG(m, "fg_t5_set_act_dtype: NULL model");
    FG_TRY(fg_act_dtype_check("T5", act_dtype));
    m->act_dtype = act_dtype;
    return NULL;
}

fg_error *fg_t5_encode(const fg_t5_model *m, fg_device dev, const int32_t *ids, int64_t batch, int64_t len,
                       const float *key_mask, fg_tensor *out) {
    FG_CHECK_ARG(m && ids && out, "fg_t5_encode: NULL argument");
    memset(out, 0, sizeof *out);
    FG_CHECK_ARG(batch >= 1 && batch <= INT32_MAX, "T5: batch %lld out of range", (long long)batch);
    /* The position bias is [H, L, L] (as in the references): 16384 tokens already need 64 GiB
     * with 64 heads, so anything longer is a mistake rather than a prompt. */
    FG_CHECK_ARG(len >= 1 && len <= 16384, "T5: %lld tokens out of range 1..16384", (long long)len);
    FG_SCOPED(NULL, s, encode(m, &s, dev, ids, batch, len, key_mask, out));
    return NULL;
}
