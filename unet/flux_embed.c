/* The conditioning vector (timestep, guidance and pooled-text embeddings, docs/models.md 1.8) and
 * the position tables (ids 1.6, RoPE 1.7). The sinusoidal embeddings and the RoPE cos/sin are
 * small host-side tables built with the reference's exact arithmetic, then copied to the
 * device; everything else goes through the ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unet/flux_internal.h"

/* ---- sinusoidal embedding ------------------------------------------------------------------ */

/* ComfyUI's timestep_embedding in fp32: s = 1000 t; freq_j = exp((-ln(max_period) * j) / half)
 * with each step rounded to float; out = [cos(s freq_j) ..., sin(s freq_j) ...]. cos, sin and
 * exp are evaluated in double and rounded once (correctly rounded float results). */
static void timestep_embedding(float t, int64_t dim, float *out) {
    const int64_t half = dim / 2;
    const float s = FG_FLUX_TIME_FACTOR * t;
    const float c = (float)-log(FG_FLUX_MAX_PERIOD);
    for (int64_t j = 0; j < half; j++) {
        float u = c * (float)j;
        u = u / (float)half;
        const float freq = (float)exp((double)u);
        const float arg = s * freq;
        out[j] = (float)cos((double)arg);
        out[half + j] = (float)sin((double)arg);
    }
}

/* The sinusoidal table [B, time_dim] of values (timestep or guidance, F32 [B] on either
 * device), built in host memory from `host` and copied to m's device as F32 from s. */
static fg_error *scalar_table(const fg_flux_model *m, fg_scope *s, fg_scope *host, const fg_tensor *values,
                              fg_tensor **out) {
    const int64_t b = values->shape[0], dim = m->p.arch.time_dim;
    fg_tensor *scalars, *table;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, 1, values->shape, &scalars));
    FG_TRY(fg_tensor_copy(scalars, values));
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(b, dim), &table));
    const float *v = scalars->data;
    for (int64_t i = 0; i < b; i++) timestep_embedding(v[i], dim, (float *)table->data + i * dim);
    FG_TRY(fg_scope_alloc(s, m->device, FG_F32, FG_SHAPE(b, dim), out));
    return fg_tensor_copy(*out, table);
}

fg_error *flux_time_tables(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in, fg_tensor **t_table,
                           fg_tensor **g_table) {
    *g_table = NULL;
    /* Host staging buffers are not activations: a root scope of their own. */
    FG_SCOPED(NULL, host, scalar_table(m, s, &host, in->timestep, t_table));
    if (!m->p.arch.guidance_embed || !in->guidance) return NULL;
    FG_SCOPED(NULL, host, scalar_table(m, s, &host, in->guidance, g_table));
    return NULL;
}

/* emb = out_layer(silu(in_layer(table))) -> [B, H] from s. */
static fg_error *embed_scalars(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *table,
                               const fg_flux_linear *in_layer, const fg_flux_linear *out_layer, fg_tensor **emb) {
    fg_tensor *act, *hidden;
    FG_TRY(flux_to(m, tmp, table, m->act_dtype, &act));
    FG_TRY(flux_linear(m, tmp, in_layer, act, FG_ACT_SILU, &hidden));
    return flux_linear(m, s, out_layer, hidden, FG_ACT_NONE, emb);
}

/* vector_in on y's first vec_in_dim columns (ComfyUI slices y), from s. */
static fg_error *embed_pooled(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *y,
                              fg_tensor **emb) {
    const int64_t vdim = m->p.arch.vec_in_dim;
    const fg_tensor *src = y;
    fg_tensor *sliced, *hidden;
    if (y->shape[1] != vdim) {
        FG_TRY(flux_alloc(m, tmp, FG_SHAPE(y->shape[0], vdim), &sliced));
        FG_TRY(fg_slice(sliced, y, 1, 0));
        src = sliced;
    }
    FG_TRY(flux_linear(m, tmp, &m->vector_in, src, FG_ACT_SILU, &hidden));
    return flux_linear(m, s, &m->vector_out, hidden, FG_ACT_NONE, emb);
}

/* vec += guidance_in(g_table); the embedding is a temporary. */
static fg_error *add_guidance(const fg_flux_model *m, fg_scope *tmp, const fg_tensor *g_table, fg_tensor *vec) {
    fg_tensor *part;
    FG_SCOPED(tmp, e, embed_scalars(m, tmp, &e, g_table, &m->guidance_in, &m->guidance_out, &part));
    return fg_add(vec, vec, part);
}

/* vec += vector_in(y); the embedding is a temporary. */
static fg_error *add_pooled(const fg_flux_model *m, fg_scope *tmp, const fg_tensor *y, fg_tensor *vec) {
    fg_tensor *part;
    FG_SCOPED(tmp, e, embed_pooled(m, tmp, &e, y, &part));
    return fg_add(vec, vec, part);
}

fg_error *flux_vec(const fg_flux_model *m, fg_scope *s, const flux_tables *tables, const fg_tensor *y,
                   fg_tensor **vec) {
    /* time, then guidance, then vector: the reference's addition order */
    FG_SCOPED(s, tmp, embed_scalars(m, s, &tmp, tables->t_table, &m->time_in, &m->time_out, vec));
    if (m->p.arch.guidance_embed && tables->g_table) FG_SCOPED(s, tmp, add_guidance(m, &tmp, tables->g_table, *vec));
    FG_SCOPED(s, tmp, add_pooled(m, &tmp, y, *vec));
    return NULL;
}

/* ---- positions ----------------------------------------------------------------------------- */

/* torch.linspace(0, (d-2)/d, d/2, dtype=float64): the first half counts up from the start,
 * the second half down from the end, as torch computes it. */
static double rope_exponent(int d, int k) {
    const int steps = d / 2;
    if (steps == 1) return 0.0;
    const double end = (double)(d - 2) / (double)d;
    const double step = end / (double)(steps - 1);
    return k < steps / 2 ? step * k : end - step * (steps - 1 - k);
}

/* Angles of one token with ids pos[3] into angles[head_dim/2]: axis 0's pairs first. */
static void rope_angles(const fg_flux_params *p, const float pos[3], const double *omega, double *angles) {
    int m = 0;
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < p->axes_dim[a] / 2; k++, m++) angles[m] = (double)pos[a] * omega[m];
}

/* The cos and sin tables [1, Lt + h2*w2, pairs] on the host (from host); omega and angles
 * are scratch of `pairs` doubles each. */
static fg_error *host_rope_tables(const fg_flux_params *p, fg_scope *host, double *omega, double *angles, int64_t lt,
                                  int64_t h2, int64_t w2, fg_tensor **hc, fg_tensor **hs) {
    const int64_t pairs = p->head_dim / 2, len = lt + h2 * w2;
    for (int a = 0, mi = 0; a < 3; a++)
        for (int k = 0; k < p->axes_dim[a] / 2; k++) omega[mi++] = 1.0 / pow(p->theta, rope_exponent(p->axes_dim[a], k));
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, len, pairs), hc));
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, len, pairs), hs));
    float *c = (*hc)->data, *sn = (*hs)->data;
    for (int64_t r = 0; r < len; r++) {
        float pos[3] = {0, 0, 0}; /* text tokens: all zero */
        if (r >= lt) pos[1] = (float)((r - lt) / w2), pos[2] = (float)((r - lt) % w2);
        rope_angles(p, pos, omega, angles);
        for (int64_t k = 0; k < pairs; k++) {
            c[r * pairs + k] = (float)cos(angles[k]);
            sn[r * pairs + k] = (float)sin(angles[k]);
        }
    }
    return NULL;
}

fg_error *flux_rope_tables(const fg_flux_model *m, fg_scope *s, int64_t lt, int64_t h2, int64_t w2, fg_tensor **cos_t,
                           fg_tensor **sin_t) {
    const int64_t pairs = m->p.head_dim / 2;
    double *scratch = malloc(2 * (size_t)pairs * sizeof *scratch); /* omega, then one token's angles */
    if (!scratch) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "rope table");
    fg_scope host = fg_scope_open(NULL); /* host staging, not activations */
    fg_tensor *hc, *hs;
    fg_error *err = host_rope_tables(&m->p, &host, scratch, scratch + pairs, lt, h2, w2, &hc, &hs);
    if (!err) err = flux_to(m, s, hc, FG_F32, cos_t); /* RoPE tables stay F32 */
    if (!err) err = flux_to(m, s, hs, FG_F32, sin_t);
    fg_scope_end(&host);
    free(scratch);
    return err;
}

/* The trace's ids (owned F32 on m's device) from host tables. */
static fg_error *trace_ids(const fg_flux_model *m, fg_scope *host, int64_t b, int64_t lt, int64_t h2, int64_t w2,
                           fg_tensor *img_ids, fg_tensor *txt_ids) {
    fg_tensor *hi, *ht;
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(b, h2 * w2, 3), &hi));
    FG_TRY(fg_scope_alloc(host, FG_DEVICE_CPU, FG_F32, FG_SHAPE(b, lt, 3), &ht)); /* zeroed: text ids */
    float *ids = hi->data;
    for (int64_t n = 0; n < b; n++)
        for (int64_t t = 0; t < h2 * w2; t++) {
            float *row = ids + (n * h2 * w2 + t) * 3;
            row[0] = 0.0f, row[1] = (float)(t / w2), row[2] = (float)(t % w2);
        }
    FG_TRY(flux_clone(m, hi, img_ids));
    return flux_clone(m, ht, txt_ids);
}

fg_error *flux_ids(const fg_flux_model *m, int64_t b, int64_t lt, int64_t h2, int64_t w2, fg_tensor *img_ids,
                   fg_tensor *txt_ids) {
    /* On failure the trace (and what was cloned into it) is freed by fg_flux_forward. */
    FG_SCOPED(NULL, host, trace_ids(m, &host, b, lt, h2, w2, img_ids, txt_ids));
    return NULL;
}
