/* Image nodes (docs/comfyui.md 3.6; the VAE nodes are in nodes_vae.c): save, preview, load, resize.
 * The execute functions come first; their declarations (nodes/node_decl.h: ComfyUI's definitions
 * give the inputs) close the file, so no prototypes are needed. */
#include "nodes/node_families.h"

#define MAX_RES 16384

/* ---- execute functions ---------------------------------------------------------------- */

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/image_resize.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "core/fs.h"
#include "core/image.h"

#define SAVE_PATH_MAX 4096

static fg_error *image_in(const fg_node_args *args, const char *name, const fg_image_obj **im) {
    const fg_object *obj;
    FG_TRY(fg_arg_object(args, name, FG_TYPE_IMAGE, &obj));
    *im = (const fg_image_obj *)obj;
    return NULL;
}

/* SaveImage and PreviewImage pass their images on. */
static fg_error *pass_on(const fg_image_obj *im, fg_value *out) {
    *out = fg_value_object(fg_object_ref((fg_object *)&im->base));
    return NULL;
}

/* ---- file names (docs/comfyui.md 6.4) ---------------------------------------------------- */

static fg_error *append(char *dst, size_t cap, size_t *len, const char *s, size_t n) {
    if (*len + n + 1 > cap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix is too long");
    memcpy(dst + *len, s, n);
    *len += n;
    dst[*len] = 0;
    return NULL;
}

/* Replaces %width% %height% %year% %month% %day% %hour% %minute% %second% (local time). */
static fg_error *expand_tokens(const char *prefix, int64_t width, int64_t height, char *out, size_t cap) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    struct {
        const char *token;
        char value[32];
    } vars[8] = {{"%width%", ""}, {"%height%", ""}, {"%year%", ""}, {"%month%", ""},
                 {"%day%", ""},   {"%hour%", ""},   {"%minute%", ""}, {"%second%", ""}};
    snprintf(vars[0].value, sizeof vars[0].value, "%lld", (long long)width);
    snprintf(vars[1].value, sizeof vars[1].value, "%lld", (long long)height);
    snprintf(vars[2].value, sizeof vars[2].value, "%d", tm.tm_year + 1900);
    snprintf(vars[3].value, sizeof vars[3].value, "%02d", tm.tm_mon + 1);
    snprintf(vars[4].value, sizeof vars[4].value, "%02d", tm.tm_mday);
    snprintf(vars[5].value, sizeof vars[5].value, "%02d", tm.tm_hour);
    snprintf(vars[6].value, sizeof vars[6].value, "%02d", tm.tm_min);
    snprintf(vars[7].value, sizeof vars[7].value, "%02d", tm.tm_sec);
    size_t len = 0;
    out[0] = 0;
    for (const char *p = prefix; *p;) {
        int hit = -1;
        for (int v = 0; v < 8 && hit < 0; v++)
            if (strncmp(p, vars[v].token, strlen(vars[v].token)) == 0) hit = v;
        if (hit >= 0) {
            FG_TRY(append(out, cap, &len, vars[hit].value, strlen(vars[hit].value)));
            p += strlen(vars[hit].token);
        } else FG_TRY(append(out, cap, &len, p++, 1));
    }
    return NULL;
}

/* normpath + split: "a/./b/../c/name" -> subfolder "a/c", filename "name". Anything that
 * climbs above the root, or an absolute path, is refused. */
static fg_error *split_prefix(const char *prefix, char *subfolder, size_t cap, char *filename, size_t fcap) {
    if (prefix[0] == '/') return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix '%s' is an absolute path", prefix);
    char comps[SAVE_PATH_MAX];
    snprintf(comps, sizeof comps, "%s", prefix);
    const char *stack[512];
    int depth = 0;
    char *save = NULL;
    for (char *c = strtok_r(comps, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0) continue;
        if (strcmp(c, "..") == 0) {
            if (depth == 0)
                return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix '%s' escapes the output folder", prefix);
            depth--;
            continue;
        }
        if (depth == 512) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix is too deep");
        stack[depth++] = c;
    }
    if (depth == 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix '%s' names no file", prefix);
    size_t len = 0;
    subfolder[0] = 0;
    for (int i = 0; i < depth - 1; i++) {
        if (i) FG_TRY(append(subfolder, cap, &len, "/", 1));
        FG_TRY(append(subfolder, cap, &len, stack[i], strlen(stack[i])));
    }
    if (strlen(stack[depth - 1]) + 1 > fcap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "filename_prefix is too long");
    strcpy(filename, stack[depth - 1]);
    return NULL;
}

static bool inside(const char *real_root, const char *real_path) {
    size_t n = strlen(real_root);
    if (strncmp(real_root, real_path, n) != 0) return false;
    return real_path[n] == 0 || real_path[n] == '/' || (n == 1 && real_root[0] == '/');
}

static fg_error *make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return NULL;
    return fg_errorf(FG_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
}

/* Creates root/subfolder one level at a time, checking after each level that the real path
 * is still under the root (a symlink cannot lead the next mkdir outside). */
static fg_error *make_folder(const char *root, const char *subfolder, char *full, size_t cap) {
    FG_CHECK_ARG(root && root[0], "no output folder configured");
    char real_root[PATH_MAX], real[PATH_MAX];
    FG_TRY(fg_make_dirs(root)); /* like ComfyUI's os.makedirs: a nested output folder is fine */
    if (!realpath(root, real_root)) return fg_errorf(FG_ERR_IO, "output folder %s: %s", root, strerror(errno));
    int n = snprintf(full, cap, "%s", root);
    const char *p = subfolder;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if ((size_t)n + len + 2 > cap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "subfolder path is too long");
        n += snprintf(full + n, cap - (size_t)n, "/%.*s", (int)len, p);
        FG_TRY(make_dir(full));
        if (!realpath(full, real) || !inside(real_root, real))
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "subfolder '%s' leads outside the output folder", subfolder);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode))
            return fg_errorf(FG_ERR_IO, "%s is not a folder", full);
        p += len;
        if (*p == '/') p++;
    }
    return NULL;
}

/* 1 + the largest N of existing "filename_N..." files, N read as ComfyUI 0.30's map_filename
 * reads it: the digits up to the first '.' or '_' ("x_00012.png" and "x_00012_.png" both
 * count as 12; docs/comfyui.md 6.4 step 3). */
static fg_error *next_counter(const char *folder, const char *filename, int64_t *counter) {
    *counter = 1;
    DIR *d = opendir(folder);
    if (!d) return fg_errorf(FG_ERR_IO, "cannot list %s: %s", folder, strerror(errno));
    size_t flen = strlen(filename);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, filename, flen) != 0 || e->d_name[flen] != '_') continue;
        const char *digits = e->d_name + flen + 1;
        size_t nd = strcspn(digits, "._");
        int64_t n = 0;
        bool ok = nd > 0 && nd < 18;
        for (size_t i = 0; ok && i < nd; i++) {
            if (digits[i] < '0' || digits[i] > '9') ok = false;
            else n = n * 10 + (digits[i] - '0');
        }
        if (ok && n + 1 > *counter) *counter = n + 1;
    }
    closedir(d);
    return NULL;
}

/* filename with %batch_num% replaced by b. */
static fg_error *batch_name(const char *filename, int64_t b, char *out, size_t cap) {
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)b);
    size_t len = 0;
    out[0] = 0;
    for (const char *p = filename; *p;) {
        if (strncmp(p, "%batch_num%", 11) == 0) {
            FG_TRY(append(out, cap, &len, num, strlen(num)));
            p += 11;
        } else FG_TRY(append(out, cap, &len, p++, 1));
    }
    return NULL;
}

/* ---- pixels out --------------------------------------------------------------------- */

/* v = 255 * x in float32, clipped, truncated (docs/comfyui.md 6.3). */
static fg_error *to_raster(const fg_image_obj *im, int64_t b, fg_image *out) {
    const fg_tensor *t = &im->pixels;
    int64_t h = t->shape[1], w = t->shape[2], c = t->shape[3];
    FG_CHECK_ARG(c == 3 || c == 1 || c == 4, "IMAGE has %lld channels", (long long)c);
    FG_CHECK_ARG(w >= 1 && h >= 1 && w <= FG_IMAGE_MAX_SIDE && h <= FG_IMAGE_MAX_SIDE, "image size %lldx%lld",
                 (long long)w, (long long)h);
    FG_TRY(fg_image_alloc((int)w, (int)h, c == 1 ? 1 : 3, out));
    const float *src = (const float *)t->data + (size_t)b * (size_t)(h * w * c);
    for (int64_t p = 0; p < h * w; p++)
        for (int k = 0; k < out->channels; k++) {
            float v = 255.0f * src[p * c + k];
            out->data[p * out->channels + k] = v >= 255.0f ? 255 : (v > 0.0f ? (uint8_t)v : 0);
        }
    return NULL;
}

typedef struct save_opts {
    const char *root, *type;
    int level;
    bool jpeg;
} save_opts;

static fg_error *write_one(fg_node_ctx *ctx, const fg_image_obj *im, int64_t b, const char *path, const save_opts *o) {
    fg_image r = {0};
    FG_TRY(to_raster(im, b, &r));
    fg_error *err;
    if (o->jpeg) err = fg_jpeg_write_new(path, &r, ctx->settings->jpeg_quality > 0 ? ctx->settings->jpeg_quality : 90);
    else {
        fg_png_text texts[2];
        size_t nt = 0;
        if (ctx->settings->embed_metadata) {
            if (ctx->prompt_json) texts[nt++] = fg_png_text_str("prompt", ctx->prompt_json);
            if (ctx->workflow_json) texts[nt++] = fg_png_text_str("workflow", ctx->workflow_json);
        }
        err = fg_png_write_new(path, &r, texts, nt, o->level);
    }
    fg_image_free(&r);
    return err;
}

/* Writes image b under the first free "<base>_<counter>_.<ext>" from *counter on. Another
 * process saving into the same folder may take a number between our directory scan and our
 * write: the write never replaces a file (FG_ERR_EXISTS), so we move on to the next number. */
static fg_error *claim_and_write(fg_node_ctx *ctx, const fg_image_obj *im, int64_t b, const char *folder,
                                 const char *base, int64_t *counter, const save_opts *o, char *name, size_t cap) {
    enum { MAX_CLAIMS = 10000 };
    char file[SAVE_PATH_MAX + 300];
    for (int attempt = 0; attempt < MAX_CLAIMS; attempt++) {
        if (snprintf(name, cap, "%s_%05lld_.%s", base, (long long)(*counter)++, o->jpeg ? "jpg" : "png") >= (int)cap)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "file name too long");
        snprintf(file, sizeof file, "%s/%s", folder, name);
        fg_error *err = write_one(ctx, im, b, file, o);
        if (fg_error_code_of(err) != FG_ERR_EXISTS) return err;
        fg_error_free(err);
    }
    return fg_errorf(FG_ERR_IO, "%s: no free file name for '%s' after %d tries", folder, base, MAX_CLAIMS);
}

static fg_error *save_images(fg_node_ctx *ctx, const fg_image_obj *im, const char *prefix, const save_opts *o) {
    const fg_tensor *t = &im->pixels;
    FG_CHECK_ARG(t->ndim == 4 && t->shape[0] >= 1, "images must be a [B,H,W,C] batch");
    char expanded[SAVE_PATH_MAX], subfolder[SAVE_PATH_MAX], filename[256], folder[SAVE_PATH_MAX];
    FG_TRY(expand_tokens(prefix, t->shape[2], t->shape[1], expanded, sizeof expanded));
    FG_TRY(split_prefix(expanded, subfolder, sizeof subfolder, filename, sizeof filename));
    FG_TRY(make_folder(o->root, subfolder, folder, sizeof folder));
    int64_t counter;
    FG_TRY(next_counter(folder, filename, &counter));
    json_t *images = json_array();
    if (!images) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "SaveImage");
    fg_error *err = NULL;
    for (int64_t b = 0; b < t->shape[0] && !err; b++) {
        if (fg_node_cancelled(ctx)) {
            err = fg_node_cancel_error(ctx);
            break;
        }
        char name[300], base[256];
        err = batch_name(filename, b, base, sizeof base);
        if (!err) err = claim_and_write(ctx, im, b, folder, base, &counter, o, name, sizeof name);
        if (!err)
            json_array_append_new(images, json_pack("{s:s, s:s, s:s}", "filename", name, "subfolder", subfolder,
                                                    "type", o->type));
    }
    if (!err) {
        json_t *ui = json_pack("{s:o}", "images", images);
        images = NULL;
        ctx->ui_result_json = ui ? json_dumps(ui, JSON_COMPACT) : NULL;
        json_decref(ui);
        if (!ctx->ui_result_json) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "SaveImage result");
    }
    json_decref(images);
    return err;
}

/* ComfyUI 0.30's SaveImage and PreviewImage also pass their images on (RETURN_TYPES IMAGE). */
static fg_error *exec_save_image(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_image_obj *im;
    const char *prefix;
    FG_TRY(image_in(args, "images", &im));
    FG_TRY(fg_arg_string(args, "filename_prefix", &prefix));
    save_opts o = {.root = ctx->settings->output_dir, .type = "output", .level = FG_PNG_LEVEL_SAVE,
                   .jpeg = ctx->settings->image_format == 1};
    FG_TRY(save_images(ctx, im, prefix, &o));
    return pass_on(im, &out[0]);
}

static fg_error *exec_preview_image(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_image_obj *im;
    FG_TRY(image_in(args, "images", &im));
    static const char letters[] = "abcdefghijklmnopqrstupvxyz"; /* ComfyUI's own alphabet */
    static uint64_t state;
    if (!state) state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state;
    char prefix[32] = "ComfyUI_temp_";
    for (int i = 0; i < 5; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        prefix[13 + i] = letters[state % 26];
    }
    prefix[18] = 0;
    save_opts o = {.root = ctx->settings->temp_dir, .type = "temp", .level = FG_PNG_LEVEL_PREVIEW};
    FG_CHECK_ARG(o.root, "no temporary folder configured for PreviewImage");
    FG_TRY(save_images(ctx, im, prefix, &o));
    return pass_on(im, &out[0]);
}

/* ---- LoadImage ---------------------------------------------------------------------- */

static fg_error *decoded_to_values(const fg_decoded_image *d, fg_value *out) {
    int64_t h = d->rgb.height, w = d->rgb.width;
    fg_tensor px, mk;
    FG_TRY(fg_tensor_alloc_host(&px, FG_F32, FG_SHAPE(1, h, w, 3)));
    for (int64_t i = 0; i < h * w * 3; i++) ((float *)px.data)[i] = (float)d->rgb.data[i] / 255.0f;
    fg_error *err = d->alpha.data ? fg_tensor_alloc_host(&mk, FG_F32, FG_SHAPE(1, h, w))
                                  : fg_tensor_alloc_host(&mk, FG_F32, FG_SHAPE(1, 64, 64));
    if (err) {
        fg_tensor_free_host(&px);
        return err;
    }
    if (d->alpha.data)
        for (int64_t i = 0; i < h * w; i++) ((float *)mk.data)[i] = 1.0f - (float)d->alpha.data[i] / 255.0f;
    fg_image_obj *image = NULL, *mask = NULL;
    err = fg_image_obj_new(FG_TYPE_IMAGE, &px, &image);
    if (!err) err = fg_image_obj_new(FG_TYPE_MASK, &mk, &mask);
    if (err) {
        fg_tensor_free_host(&px);
        fg_tensor_free_host(&mk);
        if (image) fg_object_unref(&image->base);
        return err;
    }
    out[0] = fg_value_object(&image->base);
    out[1] = fg_value_object(&mask->base);
    return NULL;
}

static fg_error *exec_load_image(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const char *name;
    FG_TRY(fg_arg_string(args, "image", &name));
    char path[SAVE_PATH_MAX];
    FG_TRY(fg_node_resolve_model(ctx->settings, FG_COMBO_INPUT_IMAGES, name, path, sizeof path));
    fg_decoded_image d;
    FG_TRY(fg_image_read_file(path, &d));
    fg_error *err = d.rgb.channels == 3 ? decoded_to_values(&d, out)
                                        : fg_errorf(FG_ERR_FORMAT, "%s: decoded to %d channels", name, d.rgb.channels);
    fg_decoded_image_free(&d);
    return err;
}

/* ---- ImageScale / ImageScaleBy ------------------------------------------------------ */

/* NHWC <-> NCHW, as ComfyUI's movedim around common_upscale. */
static void transpose(const float *src, float *dst, int64_t b, int64_t d1, int64_t d2, int64_t d3, bool to_nchw) {
    for (int64_t n = 0; n < b; n++)
        for (int64_t y = 0; y < d1; y++)
            for (int64_t x = 0; x < d2; x++)
                for (int64_t c = 0; c < d3; c++) {
                    size_t hwc = (size_t)(((n * d1 + y) * d2 + x) * d3 + c);
                    size_t chw = (size_t)(((n * d3 + c) * d1 + y) * d2 + x);
                    if (to_nchw) dst[chw] = src[hwc];
                    else dst[hwc] = src[chw];
                }
}

static fg_error *scale_image(const fg_image_obj *im, const char *method_name, int64_t w, int64_t h, const char *crop_name,
                             fg_value *out) {
    fg_upscale_method method;
    fg_upscale_crop crop;
    FG_TRY(fg_upscale_method_parse(method_name, &method));
    FG_TRY(fg_upscale_crop_parse(crop_name, &crop));
    FG_CHECK_ARG(w >= 1 && h >= 1 && w <= MAX_RES && h <= MAX_RES, "image size %lldx%lld is out of range",
                 (long long)w, (long long)h);
    const fg_tensor *s = &im->pixels;
    int64_t b = s->shape[0], sh = s->shape[1], sw = s->shape[2], c = s->shape[3];
    fg_tensor nchw = {0}, scaled = {0}, res = {0};
    fg_error *err = fg_tensor_alloc_host(&nchw, FG_F32, FG_SHAPE(b, c, sh, sw));
    if (!err) err = fg_tensor_alloc_host(&scaled, FG_F32, FG_SHAPE(b, c, h, w));
    if (!err) err = fg_tensor_alloc_host(&res, FG_F32, FG_SHAPE(b, h, w, c));
    if (!err) {
        transpose(s->data, nchw.data, b, sh, sw, c, true);
        err = fg_common_upscale(nchw.data, b, c, (int)sh, (int)sw, scaled.data, (int)w, (int)h, method, crop);
    }
    if (!err) transpose(scaled.data, res.data, b, h, w, c, false);
    fg_image_obj *result = NULL;
    if (!err) err = fg_image_obj_new(FG_TYPE_IMAGE, &res, &result);
    fg_tensor_free_host(&nchw);
    fg_tensor_free_host(&scaled);
    fg_tensor_free_host(&res);
    if (err) return err;
    out[0] = fg_value_object(&result->base);
    return NULL;
}

static int64_t py_round(double x) {
    return (int64_t)nearbyint(x); /* half to even, as Python's round */
}

static fg_error *exec_image_scale(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_image_obj *im;
    const char *method, *crop;
    int64_t width, height;
    FG_TRY(image_in(args, "image", &im));
    FG_TRY(fg_arg_string(args, "upscale_method", &method));
    FG_TRY(fg_arg_size(args, &width, &height));
    FG_TRY(fg_arg_string(args, "crop", &crop));
    double ih = (double)im->pixels.shape[1], iw = (double)im->pixels.shape[2];
    if (width == 0 && height == 0) {
        out[0] = fg_value_object(fg_object_ref((fg_object *)&im->base));
        return NULL;
    }
    if (width == 0) {
        width = py_round(iw * (double)height / ih);
        width = width > 1 ? width : 1;
    } else if (height == 0) {
        height = py_round(ih * (double)width / iw);
        height = height > 1 ? height : 1;
    }
    return scale_image(im, method, width, height, crop, out);
}

static fg_error *exec_image_scale_by(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_image_obj *im;
    const char *method;
    double s;
    FG_TRY(image_in(args, "image", &im));
    FG_TRY(fg_arg_string(args, "upscale_method", &method));
    FG_TRY(fg_arg_float(args, "scale_by", &s));
    FG_CHECK_ARG(isfinite(s) && s > 0 && s <= 8.0, "scale_by %g is out of range", s);
    return scale_image(im, method, py_round((double)im->pixels.shape[2] * s),
                       py_round((double)im->pixels.shape[1] * s), "disabled", out);
}

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_image[] = {
    {NODE("SaveImage", exec_save_image)},
    {NODE("PreviewImage", exec_preview_image)},
    {NODE("LoadImage", exec_load_image), .rules = {FILES("image", FG_COMBO_INPUT_IMAGES)}},
    {NODE("ImageScale", exec_image_scale)},
    {NODE("ImageScaleBy", exec_image_scale_by)},
};
const size_t fg_nodes_image_count = sizeof fg_nodes_image / sizeof fg_nodes_image[0];
