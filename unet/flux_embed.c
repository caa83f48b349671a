/* The conditioning vector (timestep, guidance and pooled-text embeddings, models.md 1.8) and
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

/* Host copy of a [B] F32 tensor (timestep, guidance), from either device. */
static fg_error *read_scalars(const fg_tensor *t, fg_tensor *host) {
    FG_TRY(fg_tensor_alloc_host(host, FG_F32, 1, t->shape));
    fg_error *err = fg_tensor_copy(host, t);
    if (err) fg_tensor_free_host(host);
    return err;
}

/* emb = out_layer(silu(in_layer(temb(values)))) -> [B, H]. */
static fg_error *embed_scalars(const fg_flux_model *m, const fg_tensor *values, const fg_flux_linear *in_layer,
                               const fg_flux_linear *out_layer, fg_tensor *emb) {
    const int64_t b = values->shape[0], dim = m->p.arch.time_dim;
    fg_tensor host = {0}, table = {0}, dev = {0}, hidden = {0};
    fg_error *err = NULL;
    FLUX_TRY(read_scalars(values, &host));
    FLUX_TRY(fg_tensor_alloc_host(&table, FG_F32, FG_SHAPE(b, dim)));
    for (int64_t i = 0; i < b; i++) timestep_embedding(((float *)host.data)[i], dim, (float *)table.data + i * dim);
    FLUX_TRY(flux_to(m, &table, m->act_dtype, &dev));
    FLUX_TRY(flux_linear(m, in_layer, &dev, FG_ACT_SILU, &hidden));
    FLUX_TRY(flux_linear(m, out_layer, &hidden, FG_ACT_NONE, emb));
done:
    fg_tensor_free_host(&host);
    fg_tensor_free_host(&table);
    fg_tensor_free(&dev);
    fg_tensor_free(&hidden);
    return err;
}

/* vector_in on y's first vec_in_dim columns (ComfyUI slices y). */
static fg_error *embed_pooled(const fg_flux_model *m, const fg_tensor *y, fg_tensor *emb) {
    const int64_t vdim = m->p.arch.vec_in_dim;
    fg_tensor sliced = {0}, hidden = {0};
    const fg_tensor *src = y;
    fg_error *err = NULL;
    if (y->shape[1] != vdim) {
        FLUX_TRY(flux_alloc(m, &sliced, FG_SHAPE(y->shape[0], vdim)));
        FLUX_TRY(fg_slice(&sliced, y, 1, 0));
        src = &sliced;
    }
    FLUX_TRY(flux_linear(m, &m->vector_in, src, FG_ACT_SILU, &hidden));
    FLUX_TRY(flux_linear(m, &m->vector_out, &hidden, FG_ACT_NONE, emb));
done:
    fg_tensor_free(&sliced);
    fg_tensor_free(&hidden);
    return err;
}

fg_error *flux_vec(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *vec) {
    fg_tensor part = {0};
    fg_error *err = NULL;
    /* time, then guidance, then vector: the reference's addition order */
    FLUX_TRY(embed_scalars(m, in->timestep, &m->time_in, &m->time_out, vec));
    if (m->p.arch.guidance_embed && in->guidance) {
        FLUX_TRY(embed_scalars(m, in->guidance, &m->guidance_in, &m->guidance_out, &part));
        FLUX_TRY(fg_add(vec, vec, &part));
        fg_tensor_free(&part);
    }
    FLUX_TRY(embed_pooled(m, in->y, &part));
    FLUX_TRY(fg_add(vec, vec, &part));
done:
    fg_tensor_free(&part);
    if (err) fg_tensor_free(vec);
    return err;
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

static fg_error *build_rope_tables(const fg_flux_model *m, int64_t lt, int64_t h2, int64_t w2, fg_tensor *cos_t,
                                  fg_tensor *sin_t) {
    const fg_flux_params *p = &m->p;
    const int64_t pairs = p->head_dim / 2, len = lt + h2 * w2;
    fg_tensor hc = {0}, hs = {0};
    double *omega = malloc((size_t)pairs * sizeof *omega), *angles = malloc((size_t)pairs * sizeof *angles);
    fg_error *err = NULL;
    if (!omega || !angles) FLUX_TRY(fg_errorf(FG_ERR_OUT_OF_MEMORY, "rope table"));
    for (int a = 0, mi = 0; a < 3; a++)
        for (int k = 0; k < p->axes_dim[a] / 2; k++) omega[mi++] = 1.0 / pow(p->theta, rope_exponent(p->axes_dim[a], k));
    FLUX_TRY(fg_tensor_alloc_host(&hc, FG_F32, FG_SHAPE(1, len, pairs)));
    FLUX_TRY(fg_tensor_alloc_host(&hs, FG_F32, FG_SHAPE(1, len, pairs)));
    for (int64_t r = 0; r < len; r++) {
        float pos[3] = {0, 0, 0}; /* text tokens: all zero */
        if (r >= lt) pos[1] = (float)((r - lt) / w2), pos[2] = (float)((r - lt) % w2);
        rope_angles(p, pos, omega, angles);
        for (int64_t k = 0; k < pairs; k++) {
            ((float *)hc.data)[r * pairs + k] = (float)cos(angles[k]);
            ((float *)hs.data)[r * pairs + k] = (float)sin(angles[k]);
        }
    }
    FLUX_TRY(flux_to(m, &hc, FG_F32, cos_t)); /* RoPE tables stay F32 */
    FLUX_TRY(flux_to(m, &hs, FG_F32, sin_t));
done:
    free(omega);
    free(angles);
    fg_tensor_free_host(&hc);
    fg_tensor_free_host(&hs);
    if (err) {
        fg_tensor_free(cos_t);
        fg_tensor_free(sin_t);
    }
    return err;
}

struct fg_flux_rope_cache {
    int64_t lt, h2, w2;
    fg_tensor cos, sin;
};

void flux_rope_cache_free(fg_flux_model *m) {
    if (!m->rope_cache) return;
    fg_tensor_free(&m->rope_cache->cos);
    fg_tensor_free(&m->rope_cache->sin);
    free(m->rope_cache);
    m->rope_cache = NULL;
}

fg_error *flux_rope_tables(const fg_flux_model *m, int64_t lt, int64_t h2, int64_t w2, fg_tensor *cos_t,
                           fg_tensor *sin_t) {
    struct fg_flux_rope_cache *c = m->rope_cache;
    if (!c || c->lt != lt || c->h2 != h2 || c->w2 != w2) {
        fg_tensor cos = {0}, sin = {0};
        FG_TRY(build_rope_tables(m, lt, h2, w2, &cos, &sin));
        if (!c) c = calloc(1, sizeof *c);
        if (!c) {
            fg_tensor_free(&cos), fg_tensor_free(&sin);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "rope table cache");
        }
        fg_tensor_free(&c->cos), fg_tensor_free(&c->sin);
        *c = (struct fg_flux_rope_cache){lt, h2, w2, cos, sin};
        ((fg_flux_model *)m)->rope_cache = c; /* a cache, not the model's meaning */
    }
    *cos_t = c->cos, *sin_t = c->sin; /* borrowed: fg_tensor_free only clears them */
    cos_t->owns_data = sin_t->owns_data = false;
    return NULL;
}

fg_error *flux_ids(const fg_flux_model *m, int64_t b, int64_t lt, int64_t h2, int64_t w2, fg_tensor *img_ids,
                   fg_tensor *txt_ids) {
    fg_tensor hi = {0}, ht = {0};
    fg_error *err = NULL;
    FLUX_TRY(fg_tensor_alloc_host(&hi, FG_F32, FG_SHAPE(b, h2 * w2, 3)));
    FLUX_TRY(fg_tensor_alloc_host(&ht, FG_F32, FG_SHAPE(b, lt, 3))); /* zeroed: text ids */
    float *ids = hi.data;
    for (int64_t n = 0; n < b; n++)
        for (int64_t t = 0; t < h2 * w2; t++) {
            float *row = ids + (n * h2 * w2 + t) * 3;
            row[0] = 0.0f, row[1] = (float)(t / w2), row[2] = (float)(t % w2);
        }
    FLUX_TRY(flux_clone(m, &hi, img_ids));
    FLUX_TRY(flux_clone(m, &ht, txt_ids));
done:
    fg_tensor_free_host(&hi);
    fg_tensor_free_host(&ht);
    if (err) {
        fg_tensor_free(img_ids);
        fg_tensor_free(txt_ids);
    }
    return err;
}
