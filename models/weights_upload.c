/* fg_weights_upload: every tensor of a view moved once into one allocation on a device, float
 * tensors converted to the device's weight dtype on the way. The conversion runs on the
 * destination device (fg_cast), so the host only reads the mapped file and the transfer moves
 * the file's own bytes (half of F32, the same as BF16, a quarter for FP8 of the converted
 * size). Chunks bound the staging memory whatever the largest tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "kernels/ops.h"
#include "models/weights.h"
#include "models/weights_internal.h"

#define UPLOAD_ALIGN 256
#define UPLOAD_CHUNK_ELEMS ((int64_t)16 << 20) /* 64 MiB of F32 staging */

/* One tensor of the upload plan. */
typedef struct upload_item {
    const char *name;
    fg_tensor src;
    fg_dtype dtype; /* on the device */
    size_t offset;  /* into the block */
    float scale;    /* folded fp8 scale, 1 otherwise */
} upload_item;

typedef struct upload_plan {
    upload_item *items;
    size_t count;
    size_t total_bytes;  /* the block, alignment included */
    size_t read_bytes;   /* source bytes */
    int64_t max_elems;   /* largest converted chunk: sizes the staging buffers */
    bool any_scaled;
} upload_plan;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "<layer>.weight_scale" / "<layer>.scale_weight" whose "<layer>.weight" is in w: folded into the
 * weight by the upload, so not uploaded itself. */
static bool is_folded_scale(const fg_weights *w, const char *name) {
    static const char *const suffixes[] = {".weight_scale", ".scale_weight"};
    size_t n = strlen(name);
    for (int i = 0; i < 2; i++) {
        size_t m = strlen(suffixes[i]);
        if (n <= m || strcmp(name + n - m, suffixes[i]) != 0) continue;
        char weight[1024];
        if (snprintf(weight, sizeof weight, "%.*s.weight", (int)(n - m), name) >= (int)sizeof weight) return false;
        return fg_weights_has(w, weight);
    }
    return false;
}

static fg_error *plan_item(const fg_weights *src, const char *name, fg_dtype float_dtype, upload_plan *plan) {
    upload_item *it = &plan->items[plan->count];
    it->name = name;
    FG_TRY(fg_weights_get(src, name, &it->src));
    const bool is_float = fg_dtype_is_float(it->src.dtype);
    it->dtype = is_float ? float_dtype : it->src.dtype;
    it->scale = 1.0f;
    if (is_float) FG_TRY(fg_weights_scale(src, name, &it->scale));
    size_t bytes = (size_t)fg_tensor_numel(&it->src) * fg_dtype_size(it->dtype);
    it->offset = (plan->total_bytes + UPLOAD_ALIGN - 1) / UPLOAD_ALIGN * UPLOAD_ALIGN;
    if (it->offset < plan->total_bytes || it->offset + bytes < it->offset)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: the weights do not fit in an address space", fg_weights_path(src));
    plan->total_bytes = it->offset + bytes;
    plan->read_bytes += fg_tensor_nbytes(&it->src);
    if (is_float && (it->src.dtype != it->dtype || it->scale != 1.0f)) {
        int64_t n = fg_tensor_numel(&it->src);
        if (n > plan->max_elems) plan->max_elems = n < UPLOAD_CHUNK_ELEMS ? n : UPLOAD_CHUNK_ELEMS;
        plan->any_scaled |= it->scale != 1.0f;
    }
    plan->count++;
    return NULL;
}

static fg_error *make_plan(const fg_weights *src, fg_dtype float_dtype, upload_plan *plan) {
    size_t n = fg_weights_count(src);
    plan->items = calloc(n ? n : 1, sizeof *plan->items);
    if (!plan->items) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: upload plan", fg_weights_path(src));
    for (size_t i = 0; i < n; i++) {
        const char *name = fg_weights_name(src, i);
        if (is_folded_scale(src, name)) continue;
        FG_TRY(plan_item(src, name, float_dtype, plan));
    }
    return NULL;
}

/* A 1-d view of n elements of dtype dt at byte offset `at` of t's storage. */
static fg_error *flat_view(const fg_tensor *t, fg_dtype dt, size_t at, int64_t n, fg_tensor *view) {
    return fg_tensor_view(view, dt, t->device, FG_SHAPE(n), (char *)t->data + at);
}

typedef struct staging {
    fg_tensor raw;  /* source bytes on the device */
    fg_tensor wide; /* F32 for scaled tensors */
} staging;

/* Converts the item chunk by chunk: source bytes to the device, cast (through F32 and a scale
 * when one is folded, so each value rounds once) into its place in the block. Reusing the
 * staging tensors without a synchronisation relies on the backend queueing copies and ops in
 * one stream order (kernels/cuda/cuda_ops.h): the next chunk's copy lands after this cast. */
static fg_error *convert_item(const upload_item *it, const fg_tensor *block, staging *st) {
    const int64_t n = fg_tensor_numel(&it->src);
    const size_t src_size = fg_dtype_size(it->src.dtype), dst_size = fg_dtype_size(it->dtype);
    for (int64_t at = 0; at < n; at += UPLOAD_CHUNK_ELEMS) {
        const int64_t len = n - at < UPLOAD_CHUNK_ELEMS ? n - at : UPLOAD_CHUNK_ELEMS;
        fg_tensor from, raw, dst, wide;
        FG_TRY(flat_view(&it->src, it->src.dtype, (size_t)at * src_size, len, &from));
        FG_TRY(flat_view(&st->raw, it->src.dtype, 0, len, &raw));
        FG_TRY(flat_view(block, it->dtype, it->offset + (size_t)at * dst_size, len, &dst));
        FG_TRY(fg_tensor_copy(&raw, &from));
        if (it->scale == 1.0f) {
            FG_TRY(fg_cast(&dst, &raw));
            continue;
        }
        FG_TRY(flat_view(&st->wide, FG_F32, 0, len, &wide));
        FG_TRY(fg_cast(&wide, &raw));
        FG_TRY(fg_scale_shift(&wide, &wide, it->scale, 0.0f));
        FG_TRY(fg_cast(&dst, &wide));
    }
    return NULL;
}

static fg_error *upload_item_data(const upload_item *it, const fg_tensor *block, staging *st) {
    if (fg_tensor_numel(&it->src) == 0) return NULL;
    if (it->src.dtype == it->dtype && it->scale == 1.0f) { /* the file's bytes as they are */
        fg_tensor dst;
        FG_TRY(flat_view(block, it->dtype, it->offset, fg_tensor_numel(&it->src), &dst));
        fg_tensor from;
        FG_TRY(flat_view(&it->src, it->src.dtype, 0, fg_tensor_numel(&it->src), &from));
        return fg_tensor_copy(&dst, &from);
    }
    return convert_item(it, block, st);
}

/* Adds each item to w as a view of its place in the block, in the source's shape. */
static fg_error *add_views(fg_weights *w, const upload_plan *plan, const fg_tensor *block) {
    for (size_t i = 0; i < plan->count; i++) {
        const upload_item *it = &plan->items[i];
        fg_tensor view;
        FG_TRY(fg_tensor_view(&view, it->dtype, block->device, it->src.ndim, it->src.shape,
                              (char *)block->data + it->offset));
        FG_TRY(fg_weights_add_owned(w, it->name, &view));
    }
    return NULL;
}

static fg_error *run_upload(const fg_weights *src, fg_device dev, const upload_plan *plan, fg_weights *w) {
    fg_tensor block = {0};
    staging st = {{0}, {0}};
    fg_error *err = NULL;
    if (plan->total_bytes > 0) {
        err = fg_tensor_alloc(&block, dev, FG_U8, FG_SHAPE((int64_t)plan->total_bytes));
        if (err) return fg_error_wrapf(err, "%s: %.2f GiB on %s for the weights", fg_weights_path(src),
                                       (double)plan->total_bytes / (1u << 30), fg_device_name(dev));
    }
    if (plan->max_elems > 0) err = fg_tensor_alloc(&st.raw, dev, FG_F32, FG_SHAPE(plan->max_elems));
    if (!err && plan->any_scaled) err = fg_tensor_alloc(&st.wide, dev, FG_F32, FG_SHAPE(plan->max_elems));
    for (size_t i = 0; !err && i < plan->count; i++) {
        err = upload_item_data(&plan->items[i], &block, &st);
        if (err) err = fg_error_wrapf(err, "%s: uploading '%s%s'", fg_weights_path(src), fg_weights_prefix(src),
                                      plan->items[i].name);
    }
    if (!err) err = fg_device_synchronize(dev);
    fg_tensor_free(&st.raw);
    fg_tensor_free(&st.wide);
    if (!err) err = add_views(w, plan, &block);
    if (err) {
        fg_tensor_free(&block);
        return err;
    }
    return fg_weights_adopt_block(w, &block);
}

fg_error *fg_weights_upload(const fg_weights *src, fg_device dev, fg_dtype float_dtype, fg_weights **out,
                            fg_upload_stats *stats) {
    FG_CHECK_ARG(src && out, "fg_weights_upload: NULL argument");
    *out = NULL;
    FG_CHECK_ARG(fg_dtype_is_float(float_dtype), "fg_weights_upload: %s is not a float dtype",
                 fg_dtype_name(float_dtype));
    if (!fg_device_available(dev))
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: cannot upload the weights: no %s device", fg_weights_path(src),
                         fg_device_name(dev));
    const double start = now_seconds();
    upload_plan plan = {0};
    fg_weights *w = NULL;
    fg_error *err = make_plan(src, float_dtype, &plan);
    if (!err) err = fg_weights_new(fg_weights_path(src), &w);
    if (!err) err = run_upload(src, dev, &plan, w);
    if (!err && stats) {
        stats->bytes_read = plan.read_bytes;
        stats->bytes_device = plan.total_bytes;
        stats->seconds = now_seconds() - start;
    }
    free(plan.items);
    if (err) {
        fg_weights_close(w); /* the views go before a block they might see: none was adopted */
        return err;
    }
    *out = w;
    return NULL;
}

fg_error *fg_tensor_convert(fg_tensor *dst, const fg_tensor *src) {
    FG_CHECK_ARG(fg_tensor_numel(dst) == fg_tensor_numel(src), "convert: %lld elements into %lld",
                 (long long)fg_tensor_numel(src), (long long)fg_tensor_numel(dst));
    if (src->dtype == dst->dtype) return fg_tensor_copy(dst, src);
    fg_tensor a, b, staged = {0};
    FG_TRY(flat_view(src, src->dtype, 0, fg_tensor_numel(src), &a));
    FG_TRY(flat_view(dst, dst->dtype, 0, fg_tensor_numel(dst), &b));
    if (src->device == dst->device) return fg_cast(&b, &a);
    /* cast where the accelerator is: on the destination when the source is the host's */
    const bool cast_at_dst = src->device == FG_DEVICE_CPU;
    FG_TRY(fg_tensor_alloc(&staged, cast_at_dst ? dst->device : src->device, cast_at_dst ? src->dtype : dst->dtype,
                           FG_SHAPE(fg_tensor_numel(src))));
    fg_error *err = cast_at_dst ? fg_tensor_copy(&staged, &a) : fg_cast(&staged, &a);
    if (!err) err = cast_at_dst ? fg_cast(&b, &staged) : fg_tensor_copy(&b, &staged);
    fg_tensor_free(&staged);
    return err;
}

fg_error *fg_weights_upload_logged(const fg_weights *src, fg_device dev, fg_dtype float_dtype, const char *what,
                                   fg_weights **out) {
    fg_upload_stats stats = {0};
    FG_TRY_CTX(fg_weights_upload(src, dev, float_dtype, out, &stats), "%s", what);
    const double gb = (double)stats.bytes_device / 1e9;
    FG_LOG_I("%s: %.2f GB to %s as %s in %.2f s (%.1f GB/s)", what, gb, fg_device_name(dev),
             fg_dtype_name(float_dtype), stats.seconds, stats.seconds > 0 ? gb / stats.seconds : 0.0);
    return NULL;
}
