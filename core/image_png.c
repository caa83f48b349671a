/* PNG writing (SaveImage's layout) and decoding (LoadImage's conversions) through libpng.
 * libpng reports errors by longjmp: the setjmp lives in a small function that keeps all its
 * state in a struct owned by the caller, so nothing it touches is indeterminate after the
 * jump, and the caller frees everything on every path. */
#include "core/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

typedef struct png_msgs {
    const char *name;   /* file being read or written, for messages */
    char error[256];    /* libpng's fatal message */
    char warning[256];  /* its last warning: often the reason behind a generic error */
} png_msgs;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_msgs *m = png_get_error_ptr(png);
    snprintf(m->error, sizeof m->error, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    png_msgs *m = png_get_error_ptr(png);
    snprintf(m->warning, sizeof m->warning, "%s", msg ? msg : "");
    FG_LOG_D("%s: libpng: %s", m->name, m->warning);
}

static fg_error *png_failure(const png_msgs *m, const char *what) {
    if (m->warning[0] && strcmp(m->warning, m->error) != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: %s: %s (%s)", m->name, what, m->error, m->warning);
    return fg_errorf(FG_ERR_FORMAT, "%s: %s: %s", m->name, what, m->error);
}

/* ---- writing ------------------------------------------------------------------------- */

/* The PNG spec's keyword rules; libpng would silently rewrite a bad key instead. */
static fg_error *check_key(const char *key) {
    FG_CHECK_ARG(key, "PNG text: NULL key");
    size_t n = strlen(key);
    FG_CHECK_ARG(n >= 1 && n <= 79, "PNG text key '%.80s': length %zu (expected 1..79)", key, n);
    FG_CHECK_ARG(key[0] != ' ' && key[n - 1] != ' ', "PNG text key '%s': leading or trailing space", key);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        FG_CHECK_ARG((c >= 32 && c <= 126) || c >= 161, "PNG text key '%s': byte 0x%02x is not printable Latin-1", key, c);
        FG_CHECK_ARG(!(c == ' ' && key[i + 1] == ' '), "PNG text key '%s': consecutive spaces", key);
    }
    return NULL;
}

static fg_error *check_texts(const fg_png_text *texts, size_t n) {
    FG_CHECK_ARG(texts || n == 0, "PNG text: NULL list");
    for (size_t i = 0; i < n; i++) {
        FG_TRY(check_key(texts[i].key));
        FG_CHECK_ARG(texts[i].value || texts[i].value_len == 0, "PNG text '%s': NULL value", texts[i].key);
        FG_CHECK_ARG(texts[i].value_len <= 0x7fffff00u, "PNG text '%s': value too long", texts[i].key);
        if (texts[i].value_len && memchr(texts[i].value, 0, texts[i].value_len))
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "PNG text '%s': value contains a NUL byte", texts[i].key);
    }
    return NULL;
}

typedef struct png_writer {
    png_msgs msgs;
    png_structp png;
    png_infop info;
    png_textp texts; /* libpng's view of the caller's texts */
    size_t ntexts;
    fg_outfile file;
} png_writer;

static void free_texts(png_writer *w) {
    for (size_t i = 0; w->texts && i < w->ntexts; i++) free(w->texts[i].text);
    free(w->texts);
    w->texts = NULL;
}

/* libpng measures tEXt values with strlen, so each value gets a NUL-terminated copy. */
static fg_error *copy_texts(png_writer *w, const fg_png_text *texts, size_t n) {
    if (n == 0) return NULL;
    w->texts = calloc(n, sizeof *w->texts);
    if (!w->texts) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: text list", w->msgs.name);
    w->ntexts = n;
    for (size_t i = 0; i < n; i++) {
        char *copy = malloc(texts[i].value_len + 1);
        if (!copy) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: text '%s'", w->msgs.name, texts[i].key);
        if (texts[i].value_len) memcpy(copy, texts[i].value, texts[i].value_len);
        copy[texts[i].value_len] = 0;
        w->texts[i].compression = PNG_TEXT_COMPRESSION_NONE;
        w->texts[i].key = (png_charp)texts[i].key;
        w->texts[i].text = copy;
        w->texts[i].text_length = texts[i].value_len;
    }
    return NULL;
}

static int write_png_body(png_writer *w, const fg_image *img, size_t ntexts, int level) {
    if (setjmp(png_jmpbuf(w->png))) return -1;
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(w->png, w->file.fp);
    png_set_IHDR(w->png, w->info, (png_uint_32)img->width, (png_uint_32)img->height, 8, color_types[img->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(w->png, level);
    /* Text set before png_write_info lands between IHDR and IDAT, in array order. */
    if (ntexts) png_set_text(w->png, w->info, w->texts, (int)ntexts);
    png_write_info(w->png, w->info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++) png_write_row(w->png, img->data + (size_t)y * stride);
    png_write_end(w->png, NULL);
    return 0;
}

static fg_error *check_image(const fg_image *img, const char *what) {
    FG_CHECK_ARG(img && img->data, "%s: NULL image", what);
    FG_CHECK_ARG(img->channels >= 1 && img->channels <= 4, "%s: %d channels (expected 1..4)", what, img->channels);
    FG_CHECK_ARG(img->width >= 1 && img->height >= 1 && img->width <= FG_IMAGE_MAX_SIDE &&
                     img->height <= FG_IMAGE_MAX_SIDE && (int64_t)img->width * img->height <= FG_IMAGE_MAX_PIXELS,
                 "%s: bad image size %dx%d", what, img->width, img->height);
    return NULL;
}

static fg_error *png_write(const char *path, const fg_image *img, const fg_png_text *texts, size_t ntexts,
                           int compression_level, bool exclusive) {
    FG_CHECK_ARG(path && path[0], "fg_png_write: NULL path");
    FG_TRY_CTX(check_image(img, "PNG"), "%s", path);
    FG_CHECK_ARG(compression_level >= 0 && compression_level <= 9, "%s: PNG compression level %d (expected 0..9)",
                 path, compression_level);
    FG_CHECK_ARG(ntexts <= 4096, "%s: %zu text chunks", path, ntexts);
    FG_TRY_CTX(check_texts(texts, ntexts), "%s", path);

    png_writer w = {.msgs = {.name = path}};
    fg_error *err = copy_texts(&w, texts, ntexts);
    if (!err) err = exclusive ? fg_outfile_open_new(path, &w.file) : fg_outfile_open(path, &w.file);
    if (!err) {
        w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w.msgs, on_png_error, on_png_warning);
        w.info = w.png ? png_create_info_struct(w.png) : NULL;
        if (!w.info) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: creating the PNG writer", path);
        else if (write_png_body(&w, img, ntexts, compression_level) != 0) err = png_failure(&w.msgs, "writing PNG");
        png_destroy_write_struct(w.png ? &w.png : NULL, w.info ? &w.info : NULL);
        if (err) fg_outfile_abort(&w.file);
        else err = fg_outfile_commit(&w.file);
    }
    free_texts(&w);
    return err;
}

fg_error *fg_png_write(const char *path, const fg_image *img, const fg_png_text *texts, size_t ntexts,
                       int compression_level) {
    return png_write(path, img, texts, ntexts, compression_level, false);
}

fg_error *fg_png_write_new(const char *path, const fg_image *img, const fg_png_text *texts, size_t ntexts,
                           int compression_level) {
    return png_write(path, img, texts, ntexts, compression_level, true);
}

/* ---- decoding ------------------------------------------------------------------------ */

typedef struct png_reader {
    png_msgs msgs;
    const uint8_t *data;
    size_t size, pos;
    png_structp png;
    png_infop info;
    uint8_t *pixels; /* decoded rows, `channels` samples of `depth` bits each */
    png_bytep *rows;
    int width, height, channels, depth;
    int pixels_done; /* every row decoded: a later failure only loses trailing chunks */
    int orientation;
} png_reader;

static void read_from_memory(png_structp png, png_bytep dst, size_t n) {
    png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos) png_error(png, "file is truncated");
    memcpy(dst, r->data + r->pos, n);
    r->pos += n;
}

/* Chunks LoadImage never uses: skipping them costs nothing and avoids inflating text. */
static const png_byte ignored_chunks[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0";

static void update_orientation(png_reader *r) {
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(r->png, r->info, &n, &exif) && exif) r->orientation = fg_exif_orientation(exif, n);
}

/* libpng transforms giving 8-bit gray/GA/RGB/RGBA (16-bit gray kept for LoadImage's scaling). */
static void set_transforms(png_reader *r, int color_type, int bit_depth) {
    png_structp png = r->png;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    /* High byte, like Pillow's ";16B" unpackers. */
    if (bit_depth == 16 && color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, r->info);
}

static int decode_png_body(png_reader *r) {
    if (setjmp(png_jmpbuf(r->png))) return -1;
    png_set_read_fn(r->png, r, read_from_memory);
    png_set_user_limits(r->png, FG_IMAGE_MAX_SIDE, FG_IMAGE_MAX_SIDE);
    png_set_crc_action(r->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks, 5);
    png_read_info(r->png, r->info);
    png_uint_32 w = png_get_image_width(r->png, r->info), h = png_get_image_height(r->png, r->info);
    if ((uint64_t)w * h > (uint64_t)FG_IMAGE_MAX_READ_PIXELS) png_error(r->png, "image exceeds the pixel limit");
    int color_type = png_get_color_type(r->png, r->info), bit_depth = png_get_bit_depth(r->png, r->info);
    set_transforms(r, color_type, bit_depth);
    r->width = (int)w;
    r->height = (int)h;
    r->channels = png_get_channels(r->png, r->info);
    r->depth = png_get_bit_depth(r->png, r->info);
    size_t row_bytes = (size_t)w * (size_t)r->channels * (size_t)(r->depth / 8);
    if (r->channels < 1 || r->channels > 4 || (r->depth != 8 && r->depth != 16) ||
        png_get_rowbytes(r->png, r->info) != row_bytes)
        png_error(r->png, "unexpected row layout after transforms");
    update_orientation(r);
    r->pixels = malloc(row_bytes * h);
    r->rows = malloc(sizeof *r->rows * h);
    if (!r->pixels || !r->rows) png_error(r->png, "out of memory for the pixels");
    for (png_uint_32 y = 0; y < h; y++) r->rows[y] = r->pixels + (size_t)y * row_bytes;
    png_read_image(r->png, r->rows);
    r->pixels_done = 1;
    png_read_end(r->png, r->info); /* picks up an eXIf chunk placed after IDAT */
    update_orientation(r);
    return 0;
}

/* Pillow's convert("RGB") of the decoded samples, and the alpha plane when there is one. */
static fg_error *to_rgb_alpha(const png_reader *r, fg_decoded_image *out) {
    int c = r->channels;
    size_t n = (size_t)r->width * (size_t)r->height;
    FG_TRY(fg_image_alloc(r->width, r->height, 3, &out->rgb));
    if (c == 2 || c == 4) FG_TRY(fg_image_alloc(r->width, r->height, 1, &out->alpha));
    const uint8_t *p = r->pixels;
    uint8_t *rgb = out->rgb.data, *alpha = out->alpha.data;
    for (size_t i = 0; i < n; i++) {
        if (r->depth == 16) { /* gray only: mode "I" scaled by 1/255, truncated, clipped */
            unsigned v = ((unsigned)p[2 * i] << 8 | p[2 * i + 1]) / 255u;
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
        } else if (c <= 2) {
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = p[c * i];
            if (c == 2) alpha[i] = p[2 * i + 1];
        } else {
            memcpy(rgb + 3 * i, p + c * i, 3);
            if (c == 4) alpha[i] = p[4 * i + 3];
        }
    }
    return NULL;
}

fg_error *fg_png_decode(const uint8_t *data, size_t size, const char *name, fg_decoded_image *out) {
    FG_CHECK_ARG(data && out, "fg_png_decode: NULL argument");
    memset(out, 0, sizeof *out);
    png_reader r = {.msgs = {.name = name ? name : "<memory>"}, .data = data, .size = size, .orientation = 1};
    fg_error *err = NULL;
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r.msgs, on_png_error, on_png_warning);
    r.info = r.png ? png_create_info_struct(r.png) : NULL;
    if (!r.info) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: creating the PNG reader", r.msgs.name);
    else if (decode_png_body(&r) != 0) {
        if (r.pixels_done) FG_LOG_D("%s: ignoring a damaged PNG tail: %s", r.msgs.name, r.msgs.error);
        else err = png_failure(&r.msgs, "PNG");
    }
    png_destroy_read_struct(r.png ? &r.png : NULL, r.info ? &r.info : NULL, NULL);
    if (!err) err = to_rgb_alpha(&r, out);
    if (!err) err = fg_image_orient(&out->rgb, r.orientation);
    if (!err) err = fg_image_orient(&out->alpha, r.orientation);
    free(r.pixels);
    free(r.rows);
    if (err) {
        fg_decoded_image_free(out);
        /* libpng failures already name the file. */
        return fg_error_code_of(err) == FG_ERR_FORMAT ? err : fg_error_wrapf(err, "%s", r.msgs.name);
    }
    out->format = FG_IMAGE_PNG;
    out->orientation = r.orientation;
    return NULL;
}
