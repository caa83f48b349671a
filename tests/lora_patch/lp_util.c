#include "tests/lora_patch/lp_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testing.h"

static uint64_t lp_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: reproducible across runs and platforms */
static double lp_uniform(void) {
    lp_state ^= lp_state >> 12;
    lp_state ^= lp_state << 25;
    lp_state ^= lp_state >> 27;
    return (double)((lp_state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

fg_tensor lp_values(fg_dtype dt, const float *values, int ndim, const int64_t *shape) {
    fg_tensor t = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&t, dt, ndim, shape))) return t;
    fg_convert_from_f32(t.data, dt, values, (size_t)fg_tensor_numel(&t));
    return t;
}

fg_tensor lp_random(fg_dtype dt, float amp, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = (float)((2.0 * lp_uniform() - 1.0) * amp);
    fg_tensor t = lp_values(dt, v, ndim, shape);
    free(v);
    return t;
}

fg_tensor lp_clone(const fg_tensor *t) {
    fg_tensor c = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&c, FG_F32, t->ndim, t->shape))) return c;
    fg_convert_to_f32(c.data, t->data, t->dtype, (size_t)fg_tensor_numel(t));
    return c;
}

double *lp_doubles(const fg_tensor *t) {
    int64_t n = fg_tensor_numel(t);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    fg_convert_to_f32(f, t->data, t->dtype, (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = f[i];
    free(f);
    return d;
}

double *lp_matmul(const double *a, const double *b, int64_t m, int64_t k, int64_t n) {
    double *c = calloc((size_t)(m * n > 0 ? m * n : 1), sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0.0;
            for (int64_t l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
            c[i * n + j] = s;
        }
    return c;
}

double lp_max_diff(const fg_tensor *t, const double *ref) {
    const float *x = t->data;
    double m = 0.0;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) {
        double d = fabs((double)x[i] - ref[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

int lp_same_bits(const fg_tensor *a, const fg_tensor *b) {
    return fg_tensor_same_shape(a, b) && a->dtype == b->dtype && memcmp(a->data, b->data, fg_tensor_nbytes(a)) == 0;
}
