#include "sampling/noise.h"

#include <stdlib.h>
#include <string.h>

static bool variant_set;
static fg_randn_variant variant;

void fg_noise_set_variant(fg_randn_variant v) {
    variant = v;
    variant_set = true;
}

fg_randn_variant fg_noise_variant(void) {
    return variant_set ? variant : fg_randn_native_variant();
}

static fg_error *check_host_f32(const fg_tensor *t, const char *what) {
    FG_CHECK_ARG(t && t->data, "%s: no tensor", what);
    FG_CHECK_ARG(t->dtype == FG_F32 && t->device == FG_DEVICE_CPU, "%s: needs a host F32 tensor", what);
    FG_CHECK_ARG(t->ndim >= 1, "%s: needs a batch dimension", what);
    return NULL;
}

fg_error *fg_prepare_noise(fg_tensor *out, uint64_t seed, const int64_t *batch_index, int n_index) {
    FG_TRY(check_host_f32(out, "prepare_noise"));
    fg_torch_generator gen;
    fg_torch_manual_seed(&gen, seed);
    float *data = out->data;
    const int64_t batch = out->shape[0];
    if (!batch_index) {
        fg_torch_randn(&gen, data, fg_tensor_numel(out), fg_noise_variant());
        return NULL;
    }
    FG_CHECK_ARG(n_index == batch, "prepare_noise: %d batch indices for a batch of %lld", n_index, (long long)batch);
    int64_t max_index = -1;
    for (int b = 0; b < n_index; b++) {
        FG_CHECK_ARG(batch_index[b] >= 0 && batch_index[b] < FG_MAX_BATCH_INDEX,
                     "prepare_noise: batch_index %lld out of range 0..%d", (long long)batch_index[b],
                     FG_MAX_BATCH_INDEX - 1);
        if (batch_index[b] > max_index) max_index = batch_index[b];
    }
    const int64_t item = batch ? fg_tensor_numel(out) / batch : 0;
    float *draw = malloc((size_t)(item > 0 ? item : 1) * sizeof(float));
    if (!draw) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "prepare_noise");
    /* Draw items 0..max in order; each index keeps its own draw (duplicates share it). */
    for (int64_t k = 0; k <= max_index; k++) {
        fg_torch_randn(&gen, draw, item, fg_noise_variant());
        for (int b = 0; b < n_index; b++)
            if (batch_index[b] == k) memcpy(data + b * item, draw, (size_t)item * sizeof(float));
    }
    free(draw);
    return NULL;
}

void fg_noise_stream_init(fg_noise_stream *s, uint64_t sampler_seed) {
    fg_torch_manual_seed(&s->gen, sampler_seed + 1);
}

fg_error *fg_noise_stream_next(fg_noise_stream *s, fg_tensor *out) {
    FG_TRY(check_host_f32(out, "noise sampler"));
    fg_torch_randn(&s->gen, out->data, fg_tensor_numel(out), fg_noise_variant());
    return NULL;
}
