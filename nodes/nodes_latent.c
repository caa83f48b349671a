/* Latent nodes (docs/comfyui.md 3.4): empty latents, resizing, batches. The execute functions come
 * first; their declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) close the
 * file, so no prototypes are needed. */
#include "nodes/node_families.h"

#define MAX_RES 16384

/* ---- execute functions ---------------------------------------------------------------- */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_resize.h"
#include "nodes/objects.h"

static fg_error *output_latent(fg_latent *l, fg_value *out) {
    out[0] = fg_value_object(&l->base);
    return NULL;
}

static fg_error *empty_latent(const fg_node_args *args, fg_value *out, int64_t channels) {
    int64_t width, height, batch;
    FG_TRY(fg_arg_size(args, &width, &height));
    FG_TRY(fg_arg_int(args, "batch_size", &batch));
    FG_CHECK_ARG(width >= 8 && height >= 8 && width <= MAX_RES && height <= MAX_RES && batch >= 1 && batch <= 4096,
                 "empty latent: %lldx%lld x %lld is out of range", (long long)width, (long long)height,
                 (long long)batch);
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(batch, channels, height / 8, width / 8)));
    fg_latent *l;
    fg_error *err = fg_latent_new(&t, &l);
    if (err) {
        fg_tensor_free_host(&t);
        return err;
    }
    return output_latent(l, out);
}

static fg_error *exec_empty_latent(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    return empty_latent(args, out, 4);
}

static fg_error *exec_empty_sd3_latent(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    return empty_latent(args, out, 16);
}

static fg_error *samples_in(const fg_node_args *args, const fg_latent **l) {
    const fg_object *obj;
    FG_TRY(fg_arg_object(args, "samples", FG_TYPE_LATENT, &obj));
    *l = (const fg_latent *)obj;
    return NULL;
}

/* Python's round(): half to even (the default FE_TONEAREST mode). */
static int64_t py_round(double x) {
    return (int64_t)nearbyint(x);
}

/* Resizes the samples to w x h latent pixels, keeping the other keys. */
static fg_error *resize_latent(const fg_latent *l, const char *method_name, int64_t w, int64_t h, const char *crop_name,
                               fg_value *out) {
    fg_upscale_method method;
    fg_upscale_crop crop;
    FG_TRY(fg_upscale_method_parse(method_name, &method));
    FG_TRY(fg_upscale_crop_parse(crop_name, &crop));
    if (method == FG_UPSCALE_LANCZOS)
        return fg_errorf(FG_ERR_UNSUPPORTED, "upscale method '%s' is not supported for latents yet", method_name);
    FG_CHECK_ARG(w >= 1 && h >= 1 && w <= MAX_RES && h <= MAX_RES, "latent size %lldx%lld is out of range",
                 (long long)w, (long long)h);
    const fg_tensor *s = &l->samples;
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(s->shape[0], s->shape[1], h, w)));
    fg_error *err = fg_common_upscale(s->data, s->shape[0], s->shape[1], (int)s->shape[2], (int)s->shape[3], t.data,
                                      (int)w, (int)h, method, crop);
    fg_latent *res = NULL;
    if (!err) err = fg_latent_with_samples(l, &t, &res);
    if (err) {
        fg_tensor_free_host(&t);
        return err;
    }
    return output_latent(res, out);
}

static fg_error *exec_latent_upscale(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_latent *l;
    const char *method, *crop;
    int64_t width, height;
    FG_TRY(samples_in(args, &l));
    FG_TRY(fg_arg_string(args, "upscale_method", &method));
    FG_TRY(fg_arg_size(args, &width, &height));
    FG_TRY(fg_arg_string(args, "crop", &crop));
    double lat_h = (double)l->samples.shape[2], lat_w = (double)l->samples.shape[3];
    if (width == 0 && height == 0) {
        out[0] = fg_value_object(fg_object_ref((fg_object *)&l->base));
        return NULL;
    }
    if (width == 0) {
        height = height > 64 ? height : 64;
        width = py_round(lat_w * (double)height / lat_h);
        width = width > 64 ? width : 64;
    } else if (height == 0) {
        width = width > 64 ? width : 64;
        height = py_round(lat_h * (double)width / lat_w);
        height = height > 64 ? height : 64;
    } else {
        width = width > 64 ? width : 64;
        height = height > 64 ? height : 64;
    }
    return resize_latent(l, method, width / 8, height / 8, crop, out);
}

static fg_error *exec_latent_upscale_by(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_latent *l;
    const char *method;
    double scale;
    FG_TRY(samples_in(args, &l));
    FG_TRY(fg_arg_string(args, "upscale_method", &method));
    FG_TRY(fg_arg_float(args, "scale_by", &scale));
    FG_CHECK_ARG(isfinite(scale) && scale > 0 && scale <= 8.0, "scale_by %g is out of range", scale);
    int64_t w = py_round((double)l->samples.shape[3] * scale), h = py_round((double)l->samples.shape[2] * scale);
    return resize_latent(l, method, w, h, "disabled", out);
}

static size_t item_bytes(const fg_tensor *t) {
    return t->shape[0] ? fg_tensor_nbytes(t) / (size_t)t->shape[0] : 0;
}

/* A latent built item by item: samples[i] = src[pick[i]], mask likewise (mask_pick). */
static fg_error *gather_latent(const fg_latent *l, const int64_t *pick, int64_t n, const int64_t *mask_pick,
                               int64_t mask_n, fg_latent **out) {
    const fg_tensor *s = &l->samples;
    fg_tensor t, m = {0};
    FG_TRY(fg_tensor_alloc_host(&t, FG_F32, 4, (int64_t[]){n, s->shape[1], s->shape[2], s->shape[3]}));
    size_t ib = item_bytes(s);
    for (int64_t i = 0; i < n; i++) memcpy((char *)t.data + (size_t)i * ib, (const char *)s->data + (size_t)pick[i] * ib, ib);
    fg_error *err = NULL;
    if (l->noise_mask.data) {
        const fg_tensor *nm = &l->noise_mask;
        int64_t shape[FG_MAX_DIMS];
        memcpy(shape, nm->shape, sizeof shape);
        shape[0] = mask_n;
        err = fg_tensor_alloc_host(&m, FG_F32, nm->ndim, shape);
        size_t mb = item_bytes(nm);
        for (int64_t i = 0; !err && i < mask_n; i++)
            memcpy((char *)m.data + (size_t)i * mb, (const char *)nm->data + (size_t)mask_pick[i] * mb, mb);
    }
    fg_latent *res = NULL;
    if (!err) err = fg_latent_new(&t, &res);
    if (err) {
        fg_tensor_free_host(&t);
        fg_tensor_free_host(&m);
        return err;
    }
    res->noise_mask = m;
    *out = res;
    return NULL;
}

static fg_error *set_batch_index(fg_latent *l, int64_t *list, size_t n) {
    l->batch_index = list;
    l->batch_index_count = n;
    return NULL;
}

static fg_error *exec_repeat_latent_batch(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_latent *l;
    int64_t amount;
    FG_TRY(samples_in(args, &l));
    FG_TRY(fg_arg_int(args, "amount", &amount));
    int64_t b = l->samples.shape[0];
    FG_CHECK_ARG(amount >= 1 && amount <= 64, "amount %lld is out of range", (long long)amount);
    int64_t mb = l->noise_mask.data ? l->noise_mask.shape[0] : 0;
    int64_t mask_n = mb > 1 ? mb * amount : mb; /* a single mask applies to every item: kept whole */
    int64_t *pick = calloc((size_t)(b * amount + mask_n + 1), sizeof *pick);
    if (!pick) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "RepeatLatentBatch");
    for (int64_t i = 0; i < b * amount; i++) pick[i] = i % b;
    int64_t *mask_pick = pick + b * amount;
    for (int64_t i = 0; i < mask_n; i++) mask_pick[i] = i % mb;
    fg_latent *res = NULL;
    fg_error *err = gather_latent(l, pick, b * amount, mask_pick, mask_n, &res);
    free(pick);
    if (err) return err;
    if (l->batch_index && l->batch_index_count) {
        size_t n = l->batch_index_count;
        int64_t lo = l->batch_index[0], hi = l->batch_index[0];
        for (size_t i = 1; i < n; i++) {
            lo = l->batch_index[i] < lo ? l->batch_index[i] : lo;
            hi = l->batch_index[i] > hi ? l->batch_index[i] : hi;
        }
        int64_t offset = hi - lo + 1, *list = malloc(n * (size_t)amount * sizeof *list);
        if (!list) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "RepeatLatentBatch");
        for (int64_t r = 0; list && r < amount; r++)
            for (size_t i = 0; i < n; i++) list[(size_t)r * n + i] = l->batch_index[i] + r * offset;
        if (!err) err = set_batch_index(res, list, n * (size_t)amount);
    }
    if (err) {
        fg_object_unref(&res->base);
        return err;
    }
    return output_latent(res, out);
}

static fg_error *exec_latent_from_batch(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_latent *l;
    int64_t index, length;
    FG_TRY(samples_in(args, &l));
    FG_TRY(fg_arg_int(args, "batch_index", &index));
    FG_TRY(fg_arg_int(args, "length", &length));
    int64_t b = l->samples.shape[0];
    FG_CHECK_ARG(b >= 1 && length >= 1, "batch_index %lld / length %lld out of range", (long long)index,
                 (long long)length);
    /* ComfyUI 0.30: a negative index counts from the end, then it is clamped into the batch. */
    if (index < 0) index += b;
    index = index < 0 ? 0 : index < b - 1 ? index : b - 1;
    length = length < b - index ? length : b - index;
    int64_t mb = l->noise_mask.data ? l->noise_mask.shape[0] : 0;
    int64_t mask_n = mb == 1 ? 1 : (mb > 1 ? length : 0);
    int64_t *pick = calloc((size_t)(length + mask_n + 1), sizeof *pick);
    int64_t *list = malloc((size_t)length * sizeof *list);
    fg_error *err = (!pick || !list) ? fg_errorf(FG_ERR_OUT_OF_MEMORY, "LatentFromBatch") : NULL;
    fg_latent *res = NULL;
    size_t nlist = 0;
    if (!err) {
        for (int64_t i = 0; i < length; i++) pick[i] = index + i;
        /* a shorter mask batch is tiled to the samples' batch before slicing */
        for (int64_t i = 0; i < mask_n; i++) pick[length + i] = mb == 1 ? 0 : (index + i) % mb;
        if (!l->batch_index)
            for (int64_t i = 0; i < length; i++) list[nlist++] = index + i;
        else
            for (int64_t i = index; i < index + length && (size_t)i < l->batch_index_count; i++)
                list[nlist++] = l->batch_index[i];
        err = gather_latent(l, pick, length, pick + length, mask_n, &res);
    }
    free(pick);
    if (err) {
        free(list);
        return err;
    }
    set_batch_index(res, list, nlist);
    return output_latent(res, out);
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_latent[] = {
    {NODE("EmptyLatentImage", exec_empty_latent)},
    {NODE("EmptySD3LatentImage", exec_empty_sd3_latent)},
    {NODE("LatentUpscale", exec_latent_upscale)},
    {NODE("LatentUpscaleBy", exec_latent_upscale_by)},
    {NODE("RepeatLatentBatch", exec_repeat_latent_batch)},
    {NODE("LatentFromBatch", exec_latent_from_batch)},
};
const size_t fg_nodes_latent_count = sizeof fg_nodes_latent / sizeof fg_nodes_latent[0];
