/* Modified copies of the tiny fixture models (prefixed, renamed, damaged, fp8-quantised),
 * written with the project's safetensors writer, plus small helpers shared by the tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testing.h"
#include "tests/text_models/tm.h"

model_copy copy_defaults(void) {
    model_copy c;
    memset(&c, 0, sizeof c);
    c.poke_index = -1;
    return c;
}

/* The tensors being written; they must stay alive until the writer has written. */
typedef struct out_list {
    fg_tensor *t;
    char **names;
    size_t n, cap;
} out_list;

static bool out_add(out_list *l, const char *name, fg_tensor *t) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->t = realloc(l->t, l->cap * sizeof *l->t);
        l->names = realloc(l->names, l->cap * sizeof *l->names);
        if (!l->t || !l->names) return false;
    }
    l->t[l->n] = *t;
    l->names[l->n] = strdup(name);
    l->n++;
    return true;
}

static void out_free(out_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        fg_tensor_free_host(&l->t[i]);
        free(l->names[i]);
    }
    free(l->t);
    free(l->names);
}

static bool is_linear_weight(const fg_st_entry *e) {
    size_t n = strlen(e->name);
    return e->ndim == 2 && n > 7 && strcmp(e->name + n - 7, ".weight") == 0 && !strstr(e->name, "embed") &&
           !strstr(e->name, "shared") && !strstr(e->name, "relative_attention_bias");
}

static float max_abs(const float *v, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

/* Quantises vals in place to what the file will hold (as f32) and fills *t in its dtype;
 * *scale gets the per-tensor scale (1 without). */
static bool quantise(const float *vals, int64_t n, const fg_st_entry *e, fp8_mode mode, bool plain, fg_tensor *t,
                     float *scale) {
    *scale = plain || mode == FP8_PLAIN ? 1.0f : max_abs(vals, n) / 448.0f;
    if (*scale == 0.0f) *scale = 1.0f;
    fg_dtype dt = mode == FP8_DEQUANT_F32 ? FG_F32 : FG_F8_E4M3;
    if (!CHECK_OK(fg_tensor_alloc_host(t, dt, e->ndim, e->shape))) return false;
    for (int64_t i = 0; i < n; i++) {
        uint8_t q = fg_f32_to_e4m3(vals[i] / *scale);
        if (dt == FG_F8_E4M3) ((uint8_t *)t->data)[i] = q;
        else ((float *)t->data)[i] = fg_e4m3_to_f32(q) * *scale;
    }
    return true;
}

static bool add_scale(out_list *l, const char *weight_name, const char *suffix, float s) {
    fg_tensor t;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, 0, NULL))) return false;
    *(float *)t.data = s;
    char name[512];
    snprintf(name, sizeof name, "%.*s%s", (int)(strlen(weight_name) - 7), weight_name, suffix);
    return out_add(l, name, &t);
}

/* One source tensor -> its copy (and maybe a scale tensor). */
static bool copy_one(const fg_safetensors *st, const fg_st_entry *e, const model_copy *c, out_list *l) {
    fg_tensor src, t;
    if (!CHECK_OK(fg_safetensors_entry_tensor(st, e, &src))) return false;
    int64_t n = fg_tensor_numel(&src);
    bool is_embedding = c->embedding && strcmp(e->name, c->embedding) == 0;
    bool quantised = c->fp8 != FP8_NONE && (is_embedding || is_linear_weight(e));
    float scale = 1.0f;
    if (quantised) {
        float *vals = malloc((size_t)(n ? n : 1) * sizeof *vals);
        if (!vals) return false;
        fg_convert_to_f32(vals, src.data, src.dtype, (size_t)n);
        bool ok = quantise(vals, n, e, c->fp8, is_embedding, &t, &scale);
        free(vals);
        if (!ok) return false;
        if (is_embedding && c->poke_index >= 0 && c->poke_index < n && t.dtype == FG_F8_E4M3)
            ((uint8_t *)t.data)[c->poke_index] = c->poke_byte;
    } else {
        int64_t shape[FG_MAX_DIMS];
        memcpy(shape, e->shape, sizeof shape);
        if (c->cut_row && strcmp(e->name, c->cut_row) == 0 && e->ndim > 0) shape[0]--;
        if (!CHECK_OK(fg_tensor_alloc_host(&t, e->dtype, e->ndim, shape))) return false;
        memcpy(t.data, src.data, fg_tensor_nbytes(&t));
    }
    char name[512];
    const char *base = c->rename_from && strcmp(e->name, c->rename_from) == 0 ? c->rename_to : e->name;
    snprintf(name, sizeof name, "%s%s", c->prefix ? c->prefix : "", base);
    if (!out_add(l, name, &t)) return false;
    if (!quantised || is_embedding) return true;
    if (c->fp8 == FP8_SCALE_WEIGHT) return add_scale(l, name, ".scale_weight", scale);
    if (c->fp8 == FP8_WEIGHT_SCALE) return add_scale(l, name, ".weight_scale", scale);
    return true;
}

bool write_model_copy(const char *src_rel, const char *dst, const model_copy *c) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture(src_rel), &st))) return false;
    out_list l = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        if (c->drop && strcmp(e->name, c->drop) == 0) continue;
        ok = copy_one(st, e, c, &l);
    }
    fg_safetensors *also = NULL;
    if (ok && c->also_src) ok = CHECK_OK(fg_safetensors_open(test_fixture(c->also_src), &also));
    model_copy plain = copy_defaults();
    plain.prefix = c->also_prefix;
    for (size_t i = 0; ok && also && i < fg_safetensors_count(also); i++)
        ok = copy_one(also, fg_safetensors_entry(also, i), &plain, &l);
    fg_safetensors_close(also);
    fg_st_writer *w = NULL;
    if (ok) ok = CHECK_OK(fg_st_writer_create(&w));
    for (size_t i = 0; ok && i < l.n; i++) ok = CHECK_OK(fg_st_writer_add(w, l.names[i], &l.t[i]));
    if (ok) ok = CHECK_OK(fg_st_writer_write(w, dst));
    fg_st_writer_free(w);
    out_free(&l);
    fg_safetensors_close(st);
    CHECK(ok, "writing %s", dst);
    return ok;
}

/* ---- read-back and comparisons ------------------------------------------------------------ */

bool to_host(const fg_tensor *t, fg_tensor *host) {
    if (!CHECK_OK(fg_tensor_alloc_host(host, FG_F32, t->ndim, t->shape))) return false;
    if (CHECK_OK(fg_tensor_copy(host, t))) return true;
    fg_tensor_free_host(host);
    return false;
}

double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as the maximum */
    }
    return m;
}

double rel_l2_error(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

bool all_finite(const float *a, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return false;
    return true;
}

int32_t *golden_ids(const fg_safetensors *st, const char *name, int64_t *rows, int64_t *cols) {
    fg_tensor t;
    if (!CHECK_OK(fg_safetensors_tensor(st, name, &t))) return NULL;
    if (t.ndim != 2 || (t.dtype != FG_I64 && t.dtype != FG_I32)) {
        CHECK(false, "%s is not [rows, cols] integer ids", name);
        return NULL;
    }
    int64_t n = fg_tensor_numel(&t);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int64_t i = 0; ids && i < n; i++)
        ids[i] = t.dtype == FG_I64 ? (int32_t)((const int64_t *)t.data)[i] : ((const int32_t *)t.data)[i];
    *rows = t.shape[0];
    *cols = t.shape[1];
    return ids;
}

const float *golden_f32(const fg_safetensors *st, const char *name, int64_t *numel) {
    fg_tensor t;
    if (!CHECK_OK(fg_safetensors_tensor(st, name, &t))) return NULL;
    if (t.dtype != FG_F32) {
        CHECK(t.dtype == FG_F32, "%s is %s", name, fg_dtype_name(t.dtype));
        return NULL;
    }
    *numel = fg_tensor_numel(&t);
    return t.data;
}
