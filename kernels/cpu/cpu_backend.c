/* The CPU backend: host memory, per-thread scratch, and the table of CPU op implementations. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/cpu/cpu_ops.h"

/* Provided by OpenBLAS; declared here so no BLAS header is needed for the description. */
extern char *openblas_get_config(void);

#define SCRATCH_SLOTS 4
static _Thread_local float *scratch_ptr[SCRATCH_SLOTS];
static _Thread_local size_t scratch_cap[SCRATCH_SLOTS];

float *fg_cpu_scratch(int slot, size_t n_floats) {
    if (slot < 0 || slot >= SCRATCH_SLOTS) return NULL;
    if (scratch_cap[slot] < n_floats) {
        free(scratch_ptr[slot]);
        size_t bytes = ((n_floats * sizeof(float)) + 63) & ~(size_t)63;
        scratch_ptr[slot] = aligned_alloc(64, bytes);
        scratch_cap[slot] = scratch_ptr[slot] ? n_floats : 0;
    }
    return scratch_ptr[slot];
}

void fg_cpu_widen(float *dst, const fg_tensor *t, int64_t begin, int64_t n) {
    fg_convert_to_f32(dst, (const char *)t->data + (size_t)begin * fg_dtype_size(t->dtype), t->dtype, (size_t)n);
}

static bool cpu_available(void) { return true; }

static const char *cpu_description(void) {
    static char buf[256];
    snprintf(buf, sizeof buf, "cpu: %d threads, %s", fg_threadpool_size(fg_threadpool_global()),
             openblas_get_config());
    return buf;
}

static fg_error *cpu_copy(void *dst, fg_device dst_dev, const void *src, fg_device src_dev, size_t nbytes) {
    if (dst_dev != FG_DEVICE_CPU || src_dev != FG_DEVICE_CPU)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "cpu backend asked to copy between %s and %s",
                         fg_device_name(src_dev), fg_device_name(dst_dev));
    memmove(dst, src, nbytes);
    return NULL;
}

static fg_error *cpu_synchronize(void) { return NULL; }

static const fg_backend cpu_backend = {
    .name = "cpu",
    .device = FG_DEVICE_CPU,
    .available = cpu_available,
    .description = cpu_description,
    .alloc = fg_cpu_alloc,
    .free = fg_cpu_free,
    .copy = cpu_copy,
    .synchronize = cpu_synchronize,
    .memory_info = fg_cpu_memory_info,
    .memory_stats = fg_cpu_memory_stats,
    .reset_peak = fg_cpu_reset_peak,
    .release_cached = fg_cpu_release_cached,
    /* no graphs: capture_begin answers FG_ERR_UNSUPPORTED and callers run eagerly */
    .linear = fg_cpu_bf16_linear,
    .embedding = fg_cpu_bf16_embedding,
    .attention = fg_cpu_bf16_attention,
    .rope = fg_cpu_bf16_rope,
    .layer_norm = fg_cpu_bf16_layer_norm,
    .rms_norm = fg_cpu_bf16_rms_norm,
    .rms_norm_rope = fg_cpu_bf16_rms_norm_rope,
    .fill_uniform = fg_cpu_fill_uniform,
    .group_norm = fg_cpu_bf16_group_norm,
    .softmax = fg_cpu_bf16_softmax,
    .unary = fg_cpu_bf16_unary,
    .add = fg_cpu_bf16_add,
    .mul = fg_cpu_bf16_mul,
    .add_gated = fg_cpu_bf16_add_gated,
    .axpby = fg_cpu_bf16_axpby,
    .scale_shift = fg_cpu_bf16_scale_shift,
    .cast = fg_cpu_cast,
    .permute = fg_cpu_permute,
    .concat = fg_cpu_concat,
    .slice = fg_cpu_slice,
    .pad2d = fg_cpu_pad2d,
    .patchify = fg_cpu_patchify,
    .unpatchify = fg_cpu_unpatchify,
    .upsample_nearest2x = fg_cpu_upsample_nearest2x,
    .conv2d = fg_cpu_bf16_conv2d,
};

const fg_backend *fg_cpu_backend(void) { return &cpu_backend; }
