/* Small helpers shared by the VAE tests. */
#include <math.h>

#include "tests/vae/vae_helpers.h"

void vae_fill(fg_tensor *t, uint32_t seed, float amp) {
    float *d = t->data;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = ((float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f) * amp;
    }
}

double vae_max_abs(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}
