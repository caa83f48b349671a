/* T5 v1.1 encoder on the op interface (models.md section 4). One f32 residual stream
 * x [B, L, D], one fixed workspace reused by every block, and the [1, H, L, L] position bias
 * built once per call (from block 0's table, through the embedding op) and shared by all
 * blocks. */
#include "text_encoders/t5_model.h"

#include "models/weights_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

/* A hostile file could name block 4000000000; T5-XXL has 24. */
#define T5_MAX_LAYERS 256
#define T5_RMS_EPS 1e-6f
#define T5_REL_BIAS_NAME "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"

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

static fg_error *get_linear(const fg_weights *w, const char *name, int64_t n_out, int64_t n_in, t5_linear *out) {
    FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(n_out, n_in), &out->w));
    return fg_weights_scale(w, name, &out->scale);
}

static fg_error *count_blocks(const fg_weights *w, int64_t *layers) {
    FG_TRY(fg_weights_count_indexed(w, "encoder.block.", T5_MAX_LAYERS, layers));
    if (*layers == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no tensors named '%sencoder.block.0.*': not a T5 encoder", fg_weights_path(w),
                         fg_weights_prefix(w));
    return NULL;
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
    const char *embed_name = fg_weights_has(w, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    if (!fg_weights_has(w, embed_name))
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: missing tensor '%sshared.weight' (or '%sencoder.embed_tokens.weight')",
                         fg_weights_path(w), fg_weights_prefix(w), fg_weights_prefix(w));
    FG_TRY(fg_weights_get(w, embed_name, &m->embed));
    if (!is_float_2d(&m->embed)) return bad_2d(w, embed_name, &m->embed, "[vocab, d_model]");
    FG_TRY(fg_weights_scale(w, embed_name, &m->embed_scale));
    c->vocab = m->embed.shape[0];
    c->d_model = m->embed.shape[1];
    FG_TRY(fg_weights_get(w, T5_REL_BIAS_NAME, &m->rel_bias));
    if (!is_float_2d(&m->rel_bias)) return bad_2d(w, T5_REL_BIAS_NAME, &m->rel_bias, "[buckets, heads]");
    c->buckets = m->rel_bias.shape[0];
    c->heads = m->rel_bias.shape[1];
    if (c->buckets < 4 || c->buckets / 4 >= FG_T5_MAX_DISTANCE)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has %lld buckets; bidirectional buckets need 4..%d",
                         fg_weights_path(w), fg_weights_prefix(w), T5_REL_BIAS_NAME, (long long)c->buckets,
                         4 * FG_T5_MAX_DISTANCE - 1);
    static const char q_name[] = "encoder.block.0.layer.0.SelfAttention.q.weight";
    fg_tensor q;
    FG_TRY(fg_weights_get(w, q_name, &q));
    if (!is_float_2d(&q)) return bad_2d(w, q_name, &q, "[heads * d_kv, d_model]");
    if (q.shape[0] % c->heads != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has %lld rows, not a multiple of the %lld heads",
                         fg_weights_path(w), fg_weights_prefix(w), q_name, (long long)q.shape[0], (long long)c->heads);
    m->inner = q.shape[0];
    c->d_kv = m->inner / c->heads;
    c->dtype = q.dtype;
    static const char wi_name[] = "encoder.block.0.layer.1.DenseReluDense.wi_0.weight";
    fg_tensor wi;
    FG_TRY(fg_weights_get(w, wi_name, &wi));
    if (!is_float_2d(&wi)) return bad_2d(w, wi_name, &wi, "[d_ff, d_model]");
    c->d_ff = wi.shape[0];
    return count_blocks(w, &c->layers);
}

static fg_error *load_block(const fg_weights *w, const fg_t5_model *m, int64_t i, t5_block *b) {
    const fg_t5_config *c = &m->cfg;
    const int64_t d = c->d_model;
    char name[192];
#define BLOCK_NAME(suffix) (snprintf(name, sizeof name, "encoder.block.%lld.%s", (long long)i, suffix), name)
    FG_TRY(fg_weights_get_shaped(w, BLOCK_NAME("layer.0.layer_norm.weight"), FG_SHAPE(d), &b->ln0));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.0.SelfAttention.q.weight"), m->inner, d, &b->q));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.0.SelfAttention.k.weight"), m->inner, d, &b->k));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.0.SelfAttention.v.weight"), m->inner, d, &b->v));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.0.SelfAttention.o.weight"), d, m->inner, &b->o));
    FG_TRY(fg_weights_get_shaped(w, BLOCK_NAME("layer.1.layer_norm.weight"), FG_SHAPE(d), &b->ln1));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.1.DenseReluDense.wi_0.weight"), c->d_ff, d, &b->wi0));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.1.DenseReluDense.wi_1.weight"), c->d_ff, d, &b->wi1));
    FG_TRY(get_linear(w, BLOCK_NAME("layer.1.DenseReluDense.wo.weight"), d, c->d_ff, &b->wo));
#undef BLOCK_NAME
    return NULL;
}

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
    const char *name = fg_weights_has(w, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
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
    for (int64_t i = 0; i < m->cfg.layers; i++) FG_TRY(load_block(w, m, i, &m->blocks[i]));
    FG_TRY(fg_weights_get_shaped(w, "encoder.final_layer_norm.weight", FG_SHAPE(m->cfg.d_model), &m->final_ln));
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

typedef struct t5_work {
    fg_tensor h, q, k, v, qh, kh, vh, att, merged, ff0, ff1, bias;
} t5_work;

static void work_free(t5_work *ws) {
    fg_tensor *all[] = {&ws->h, &ws->q, &ws->k, &ws->v, &ws->qh, &ws->kh, &ws->vh, &ws->att, &ws->merged, &ws->ff0,
                        &ws->ff1, &ws->bias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
}

static fg_error *work_alloc(const fg_t5_model *m, fg_device dev, int64_t batch, int64_t len, t5_work *ws) {
    const fg_t5_config *c = &m->cfg;
    const int64_t inner = m->inner;
    FG_TRY(fg_tensor_alloc(&ws->h, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_model)));
    FG_TRY(fg_tensor_alloc(&ws->q, dev, m->act_dtype, FG_SHAPE(batch, len, inner)));
    FG_TRY(fg_tensor_alloc(&ws->k, dev, m->act_dtype, FG_SHAPE(batch, len, inner)));
    FG_TRY(fg_tensor_alloc(&ws->v, dev, m->act_dtype, FG_SHAPE(batch, len, inner)));
    FG_TRY(fg_tensor_alloc(&ws->qh, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv)));
    FG_TRY(fg_tensor_alloc(&ws->kh, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv)));
    FG_TRY(fg_tensor_alloc(&ws->vh, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv)));
    FG_TRY(fg_tensor_alloc(&ws->att, dev, m->act_dtype, FG_SHAPE(batch, c->heads, len, c->d_kv)));
    FG_TRY(fg_tensor_alloc(&ws->merged, dev, m->act_dtype, FG_SHAPE(batch, len, inner)));
    FG_TRY(fg_tensor_alloc(&ws->ff0, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_ff)));
    return fg_tensor_alloc(&ws->ff1, dev, m->act_dtype, FG_SHAPE(batch, len, c->d_ff));
}

static fg_error *upload(fg_device dev, fg_dtype dt, const void *data, int ndim, const int64_t *shape, fg_tensor *out) {
    fg_tensor host;
    FG_TRY(fg_tensor_view(&host, dt, FG_DEVICE_CPU, ndim, shape, (void *)data));
    FG_TRY(fg_tensor_alloc(out, dev, dt, ndim, shape));
    return fg_tensor_copy(out, &host);
}

/* bias[0, h, i, j] = table[bucket(j - i), h], looked up by the embedding op from a host table
 * of bucket ids. */
static fg_error *position_bias(const fg_t5_model *m, fg_device dev, int64_t len, fg_tensor *bias) {
    const int64_t heads = m->cfg.heads;
    int32_t *buckets = malloc((size_t)(len * len) * sizeof *buckets);
    if (!buckets) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 position buckets for %lld tokens", (long long)len);
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < len; j++)
            buckets[i * len + j] = fg_t5_relative_bucket(j - i, m->cfg.buckets, FG_T5_MAX_DISTANCE);
    fg_tensor ids = {0}, table = {0}, heads_first;
    fg_error *err = upload(dev, FG_I32, buckets, FG_SHAPE(len, len), &ids);
    free(buckets);
    if (!err) err = fg_tensor_alloc(&table, dev, FG_F32, FG_SHAPE(len, len, heads));
    if (!err) err = fg_embedding(&table, &ids, &m->rel_bias);
    if (!err) err = fg_tensor_alloc(bias, dev, FG_F32, FG_SHAPE(1, heads, len, len));
    if (!err) err = fg_tensor_reshape(&heads_first, bias, FG_SHAPE(heads, len, len));
    if (!err) err = fg_permute(&heads_first, &table, (const int[]){2, 0, 1});
    fg_tensor_free(&ids);
    fg_tensor_free(&table);
    return err;
}

/* bias [1, H, L, L] + key mask [B, 1, 1, L] (0 or -FLT_MAX) -> [B, H, L, L]. */
static fg_error *add_key_mask(fg_device dev, const float *key_mask, int64_t batch, int64_t len, fg_tensor *bias) {
    float *host = malloc((size_t)(batch * len) * sizeof *host);
    if (!host) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "T5 key mask");
    for (int64_t i = 0; i < batch * len; i++) host[i] = key_mask[i] == 1.0f ? 0.0f : -FLT_MAX;
    fg_tensor keys = {0}, full = {0};
    fg_error *err = upload(dev, FG_F32, host, FG_SHAPE(batch, 1, 1, len), &keys);
    free(host);
    if (!err) err = fg_tensor_alloc(&full, dev, FG_F32, FG_SHAPE(batch, bias->shape[1], len, len));
    if (!err) err = fg_add(&full, &keys, bias);
    fg_tensor_free(&keys);
    if (err) {
        fg_tensor_free(&full);
        return err;
    }
    fg_tensor_free(bias);
    *bias = full;
    return NULL;
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
static fg_error *block_forward(const t5_block *b, int64_t heads, t5_work *ws, fg_tensor *x) {
    FG_TRY(fg_rms_norm(&ws->h, x, &b->ln0, T5_RMS_EPS));
    FG_TRY(linear(&ws->q, &ws->h, &b->q, FG_ACT_NONE));
    FG_TRY(linear(&ws->k, &ws->h, &b->k, FG_ACT_NONE));
    FG_TRY(linear(&ws->v, &ws->h, &b->v, FG_ACT_NONE));
    FG_TRY(split_heads(&ws->qh, &ws->q, heads));
    FG_TRY(split_heads(&ws->kh, &ws->k, heads));
    FG_TRY(split_heads(&ws->vh, &ws->v, heads));
    FG_TRY(fg_attention(&ws->att, &ws->qh, &ws->kh, &ws->vh, &ws->bias, 1.0f)); /* T5: no 1/sqrt(d) */
    FG_TRY(merge_heads(&ws->merged, &ws->att));
    FG_TRY(linear(&ws->h, &ws->merged, &b->o, FG_ACT_NONE));
    FG_TRY(fg_add(x, x, &ws->h));
    FG_TRY(fg_rms_norm(&ws->h, x, &b->ln1, T5_RMS_EPS));
    FG_TRY(linear(&ws->ff0, &ws->h, &b->wi0, FG_ACT_GELU_TANH));
    FG_TRY(linear(&ws->ff1, &ws->h, &b->wi1, FG_ACT_NONE));
    FG_TRY(fg_mul(&ws->ff0, &ws->ff0, &ws->ff1));
    FG_TRY(linear(&ws->h, &ws->ff0, &b->wo, FG_ACT_NONE));
    return fg_add(x, x, &ws->h);
}

static fg_error *embed(const fg_t5_model *m, fg_device dev, const int32_t *ids, int64_t batch, int64_t len,
                       fg_tensor *x) {
    fg_tensor ids_dev = {0};
    fg_error *err = upload(dev, FG_I32, ids, FG_SHAPE(batch, len), &ids_dev);
    if (!err) err = fg_tensor_alloc(x, dev, m->act_dtype, FG_SHAPE(batch, len, m->cfg.d_model));
    if (!err) err = fg_error_wrapf(fg_embedding(x, &ids_dev, &m->embed), "token ids");
    if (!err && m->embed_scale != 1.0f) err = fg_scale_shift(x, x, m->embed_scale, 0.0f);
    fg_tensor_free(&ids_dev);
    return err;
}

static fg_error *forward(const fg_t5_model *m, fg_device out_dev, const int32_t *ids, int64_t batch, int64_t len,
                         const float *key_mask, fg_tensor *out) {
    const fg_device dev = m->device;
    t5_work ws = {0};
    fg_tensor x = {0}, y = {0};
    fg_error *err = embed(m, dev, ids, batch, len, &x);
    if (!err) err = position_bias(m, dev, len, &ws.bias);
    if (!err && key_mask) err = add_key_mask(dev, key_mask, batch, len, &ws.bias);
    if (!err) err = work_alloc(m, dev, batch, len, &ws);
    for (int64_t i = 0; !err && i < m->cfg.layers; i++)
        err = fg_error_wrapf(block_forward(&m->blocks[i], m->cfg.heads, &ws, &x), "T5 block %lld", (long long)i);
    work_free(&ws);
    if (!err) err = fg_tensor_alloc(&y, dev, m->act_dtype, x.ndim, x.shape);
    if (!err) err = fg_rms_norm(&y, &x, &m->final_ln, T5_RMS_EPS);
    fg_tensor_free(&x);
    if (!err && y.dtype == FG_F32 && dev == out_dev) { /* already the output */
        *out = y;
        return NULL;
    }
    if (!err) err = fg_tensor_alloc(out, out_dev, FG_F32, y.ndim, y.shape);
    if (!err) err = fg_tensor_convert(out, &y);
    fg_tensor_free(&y);
    return err;
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
    fg_error *err = forward(m, dev, ids, batch, len, key_mask, out);
    if (err) fg_tensor_free(out);
    return err;
}
