#include "models/random_weights.h"

#include <math.h>
#include <string.h>

#include "kernels/ops.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

uint64_t fg_random_weights_bytes(const fg_layout *layout, fg_dtype dtype) {
    uint64_t n = 0;
    for (size_t i = 0; layout && i < layout->count; i++) n += (uint64_t)fg_layout_tensor_numel(&layout->tensors[i]);
    return n * fg_dtype_size(dtype);
}

void fg_random_weights_range(const fg_layout_tensor *t, float *lo, float *hi) {
    float c = 0.0f, r = 0.0f; /* centre and half-width */
    switch (t->init) {
    case FG_INIT_WEIGHT: r = t->fan_in > 0 ? 1.0f / sqrtf((float)t->fan_in) : 1.0f; break;
    case FG_INIT_BIAS: r = 0.02f; break;
    case FG_INIT_ONES: c = 1.0f, r = 0.05f; break;
    case FG_INIT_ZEROS: r = 0.02f; break;
    case FG_INIT_EMBEDDING: r = 1.0f; break;
    }
    *lo = c - r;
    *hi = c + r;
}

uint64_t fg_random_weights_seed(uint64_t seed, const char *name) {
    /* FNV-1a over the name, started from the seed, then one round of mixing so that names
     * differing in one character give unrelated streams. */
    uint64_t h = 0xCBF29CE484222325ull ^ seed;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001B3ull;
    return fg_fill_hash(h, 0);
}

/* Refuses up front when the weights alone exceed the device's free memory. A backend that
 * cannot say (FG_ERR_UNSUPPORTED) is simply tried. */
static fg_error *check_fits(const char *label, fg_device dev, uint64_t need) {
    size_t free_bytes = 0, total_bytes = 0;
    fg_device_release_cached(dev); /* blocks the allocator keeps count as used to the driver */
    fg_error *err = fg_device_memory_info(dev, &free_bytes, &total_bytes);
    if (err && fg_error_code_of(err) == FG_ERR_UNSUPPORTED) {
        fg_error_free(err);
        return NULL;
    }
    FG_TRY_CTX(err, "%s: querying %s memory", label, fg_device_name(dev));
    if (need > (uint64_t)free_bytes)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s needs %.2f GiB of %s memory for its weights but only %.2f GiB of %.2f GiB is free",
                         label, (double)need / GIB, fg_device_name(dev), (double)free_bytes / GIB,
                         (double)total_bytes / GIB);
    return NULL;
}

static fg_error *add_tensor(fg_weights *w, const fg_layout_tensor *lt, fg_device dev, fg_dtype dtype, uint64_t seed) {
    /* Names are unique in a layout; checking here keeps a device tensor from reaching
     * fg_weights_add_owned's duplicate path, which can only free host storage. */
    if (fg_weights_has(w, lt->name)) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor '%s' appears twice", lt->name);
    fg_tensor t = {0};
    FG_TRY(fg_tensor_alloc(&t, dev, dtype, lt->ndim, lt->shape));
    float lo, hi;
    fg_random_weights_range(lt, &lo, &hi);
    fg_error *err = fg_fill_uniform(&t, fg_random_weights_seed(seed, lt->name), lo, hi);
    if (err) {
        fg_tensor_free(&t);
        return err;
    }
    return fg_weights_add_owned(w, lt->name, &t);
}

fg_error *fg_random_weights(const fg_layout *layout, fg_device dev, fg_dtype dtype, uint64_t seed, const char *label,
                            fg_weights **out) {
    FG_CHECK_ARG(layout && out, "fg_random_weights: NULL argument");
    FG_CHECK_ARG(dtype == FG_F32 || dtype == FG_BF16 || dtype == FG_F16,
                 "fg_random_weights: dtype %s (F32, BF16 or F16 allowed)", fg_dtype_name(dtype));
    *out = NULL;
    if (!label) label = "random model";
    FG_CHECK_ARG(layout->count > 0, "%s: the layout has no tensors", label);
    FG_CHECK_ARG(fg_device_available(dev), "%s: device %s is not available (%s)", label, fg_device_name(dev),
                 fg_device_description(dev));
    const uint64_t need = fg_random_weights_bytes(layout, dtype);
    FG_TRY(check_fits(label, dev, need));
    fg_weights *w = NULL;
    FG_TRY(fg_weights_new(label, &w));
    fg_error *err = NULL;
    for (size_t i = 0; i < layout->count && !err; i++) err = add_tensor(w, &layout->tensors[i], dev, dtype, seed);
    if (!err) err = fg_device_synchronize(dev);
    if (err) {
        fg_weights_close(w);
        return fg_error_wrapf(err, "%s: building %.2f GiB of random %s weights on %s", label, (double)need / GIB,
                              fg_dtype_name(dtype), fg_device_name(dev));
    }
    *out = w;
    return NULL;
}

fg_error *fg_random_weights_for(const fg_model_config *config, fg_device dev, fg_dtype dtype, uint64_t seed,
                                const char *label, fg_weights **out) {
    FG_CHECK_ARG(config && out, "fg_random_weights_for: NULL argument");
    fg_layout layout = {0};
    FG_TRY(fg_layout_from_config(config, &layout));
    fg_error *err = fg_random_weights(&layout, dev, dtype, seed, label, out);
    fg_layout_free(&layout);
    return err;
}
