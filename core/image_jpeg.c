/* JPEG writing and decoding through libjpeg-turbo. libjpeg's default error_exit calls exit(),
 * so both directions install an error manager that formats the message and longjmps back;
 * warnings are logged at debug level, except "premature end of file", which is fatal
 * (a truncated image is an error, as in Pillow). As in the PNG module, the setjmp lives in a
 * small function whose state belongs to the caller. */
#include "core/image.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h needs size_t and FILE declared first. */
#include <jpeglib.h>
#include <jerror.h>

#include "core/log.h"

/* More scans than any real progressive JPEG has; a crafted file can ask for thousands, each
 * of which re-reads the whole coefficient buffer. */
#define MAX_SCANS 1000
#define MAX_DECODER_MEMORY ((long)2 << 30)

typedef struct jpeg_errors {
    struct jpeg_error_mgr mgr; /* first, so libjpeg's err pointer is ours */
    jmp_buf jump;
    const char *name;
    char message[JMSG_LENGTH_MAX];
    int warnings;
} jpeg_errors;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
    /* The entropy-coded data ended at a marker with pixels still to decode: libjpeg would fill
     * the rest with gray, so a tiny file could claim any size (a decompression bomb). */
    if (cinfo->err->msg_code == JWRN_HIT_MARKER) {
        snprintf(e->message, sizeof e->message, "the scan data ends before the image is filled (corrupt or a bomb)");
        longjmp(e->jump, 1);
    }
    if (e->warnings++ == 0) {
        char msg[JMSG_LENGTH_MAX];
        cinfo->err->format_message(cinfo, msg);
        FG_LOG_D("%s: libjpeg warning: %s", e->name, msg);
    }
}

static void init_errors(jpeg_errors *e, const char *name) {
    memset(e, 0, sizeof *e);
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_jpeg_error;
    e->mgr.emit_message = on_jpeg_message;
    e->name = name;
}

/* ---- writing ------------------------------------------------------------------------- */

typedef struct jpeg_writer {
    jpeg_errors errors;
    struct jpeg_compress_struct cinfo;
    int created;
    fg_outfile file;
} jpeg_writer;

static int write_jpeg_body(jpeg_writer *w, const fg_image *img, int quality) {
    if (setjmp(w->errors.jump)) return -1;
    struct jpeg_compress_struct *c = &w->cinfo;
    c->err = &w->errors.mgr;
    jpeg_create_compress(c);
    w->created = 1;
    jpeg_stdio_dest(c, w->file.fp);
    c->image_width = (JDIMENSION)img->width;
    c->image_height = (JDIMENSION)img->height;
    c->input_components = img->channels;
    c->in_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    jpeg_start_compress(c, TRUE);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = img->data + (size_t)c->next_scanline * stride;
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

static fg_error *jpeg_write(const char *path, const fg_image *img, int quality, bool exclusive) {
    FG_CHECK_ARG(path && path[0], "fg_jpeg_write: NULL path");
    FG_CHECK_ARG(img && img->data, "%s: NULL image", path);
    FG_CHECK_ARG(img->channels == 1 || img->channels == 3, "%s: JPEG needs 1 or 3 channels, not %d (no alpha in JPEG)",
                 path, img->channels);
    FG_CHECK_ARG(img->width >= 1 && img->height >= 1 && img->width <= FG_IMAGE_MAX_SIDE &&
                     img->height <= FG_IMAGE_MAX_SIDE && (int64_t)img->width * img->height <= FG_IMAGE_MAX_PIXELS,
                 "%s: bad image size %dx%d", path, img->width, img->height);
    FG_CHECK_ARG(quality >= 1 && quality <= 100, "%s: JPEG quality %d (expected 1..100)", path, quality);
    jpeg_writer w;
    memset(&w, 0, sizeof w);
    init_errors(&w.errors, path);
    FG_TRY(exclusive ? fg_outfile_open_new(path, &w.file) : fg_outfile_open(path, &w.file));
    fg_error *err = NULL;
    if (write_jpeg_body(&w, img, quality) != 0)
        err = fg_errorf(FG_ERR_IO, "%s: writing JPEG: %s", path, w.errors.message);
    if (w.created) jpeg_destroy_compress(&w.cinfo);
    if (err) fg_outfile_abort(&w.file);
    else err = fg_outfile_commit(&w.file);
    return err;
}

fg_error *fg_jpeg_write(const char *path, const fg_image *img, int quality) {
    return jpeg_write(path, img, quality, false);
}

fg_error *fg_jpeg_write_new(const char *path, const fg_image *img, int quality) {
    return jpeg_write(path, img, quality, true);
}

/* ---- decoding ------------------------------------------------------------------------ */

typedef struct jpeg_reader {
    jpeg_errors errors;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    int created;
    uint8_t *pixels; /* width * height * components */
    int width, height, components;
    int pixels_done;
    int inverted_cmyk;
    int orientation;
} jpeg_reader;

static void on_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_errors *e = (jpeg_errors *)cinfo->err;
        snprintf(e->message, sizeof e->message, "more than %d progressive scans", MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

/* EXIF orientation from the first APP1 "Exif" segment. */
static int exif_orientation_of(j_decompress_ptr d) {
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return fg_exif_orientation(m->data, m->data_length);
    return 1;
}

static void check_header(jpeg_reader *r) {
    j_decompress_ptr d = &r->cinfo;
    jpeg_errors *e = &r->errors;
    if (d->image_width > FG_IMAGE_MAX_SIDE || d->image_height > FG_IMAGE_MAX_SIDE ||
        (uint64_t)d->image_width * d->image_height > (uint64_t)FG_IMAGE_MAX_READ_PIXELS) {
        snprintf(e->message, sizeof e->message, "image size %ux%u exceeds the limit (sides <= %d, %lld pixels)",
                 d->image_width, d->image_height, FG_IMAGE_MAX_SIDE, (long long)FG_IMAGE_MAX_READ_PIXELS);
        longjmp(e->jump, 1);
    }
    switch (d->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB: d->out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: d->out_color_space = JCS_CMYK; break;
    default:
        snprintf(e->message, sizeof e->message, "unsupported colour space (%d components)", d->num_components);
        longjmp(e->jump, 1);
    }
}

static int decode_jpeg_body(jpeg_reader *r, const uint8_t *data, size_t size) {
    if (setjmp(r->errors.jump)) return -1;
    j_decompress_ptr d = &r->cinfo;
    d->err = &r->errors.mgr;
    jpeg_create_decompress(d);
    r->created = 1;
    d->mem->max_memory_to_use = MAX_DECODER_MEMORY;
    r->progress.progress_monitor = on_progress;
    d->progress = &r->progress;
    jpeg_mem_src(d, data, (unsigned long)size);
    jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
    if (jpeg_read_header(d, TRUE) != JPEG_HEADER_OK) {
        snprintf(r->errors.message, sizeof r->errors.message, "no image in the file (tables only)");
        return -1;
    }
    check_header(r);
    r->orientation = exif_orientation_of(d);
    r->inverted_cmyk = d->out_color_space == JCS_CMYK; /* Pillow: "assume adobe conventions" */
    jpeg_start_decompress(d);
    r->width = (int)d->output_width;
    r->height = (int)d->output_height;
    r->components = d->output_components;
    size_t stride = (size_t)r->width * (size_t)r->components;
    r->pixels = malloc(stride * (size_t)r->height);
    if (!r->pixels) {
        snprintf(r->errors.message, sizeof r->errors.message, "out of memory for %dx%d pixels", r->width, r->height);
        return -1;
    }
    while (d->output_scanline < d->output_height) {
        JSAMPROW row = r->pixels + (size_t)d->output_scanline * stride;
        jpeg_read_scanlines(d, &row, 1);
    }
    r->pixels_done = 1;
    jpeg_finish_decompress(d);
    return 0;
}

/* Pillow's CMYK -> RGB: nk = 255 - k; channel = nk - round(c * nk / 255) (its MULDIV255). */
static uint8_t cmyk_channel(unsigned c, unsigned k) {
    unsigned nk = 255 - k, t = c * nk + 128;
    return (uint8_t)(nk - (((t >> 8) + t) >> 8));
}

static fg_error *to_rgb(const jpeg_reader *r, fg_image *rgb) {
    FG_TRY(fg_image_alloc(r->width, r->height, 3, rgb));
    size_t n = (size_t)r->width * (size_t)r->height;
    if (r->components == 3) {
        memcpy(rgb->data, r->pixels, n * 3);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = r->pixels + 4 * i;
        unsigned inv = r->inverted_cmyk ? 255 : 0, k = p[3] ^ inv;
        for (int ch = 0; ch < 3; ch++) rgb->data[3 * i + ch] = cmyk_channel(p[ch] ^ inv, k);
    }
    return NULL;
}

fg_error *fg_jpeg_decode(const uint8_t *data, size_t size, const char *name, fg_decoded_image *out) {
    FG_CHECK_ARG(data && out, "fg_jpeg_decode: NULL argument");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    jpeg_reader r;
    memset(&r, 0, sizeof r);
    init_errors(&r.errors, name);
    r.orientation = 1;
    fg_error *err = NULL;
    if (decode_jpeg_body(&r, data, size) != 0) {
        if (r.pixels_done) FG_LOG_D("%s: ignoring a damaged JPEG tail: %s", name, r.errors.message);
        else err = fg_errorf(FG_ERR_FORMAT, "%s: JPEG: %s", name, r.errors.message);
    }
    if (r.created) jpeg_destroy_decompress(&r.cinfo);
    if (!err && (r.components != 3 && r.components != 4))
        err = fg_errorf(FG_ERR_FORMAT, "%s: JPEG: unexpected %d output components", name, r.components);
    if (!err) err = to_rgb(&r, &out->rgb);
    if (!err) err = fg_image_orient(&out->rgb, r.orientation);
    free(r.pixels);
    if (err) {
        fg_decoded_image_free(out);
        return fg_error_code_of(err) == FG_ERR_FORMAT ? err : fg_error_wrapf(err, "%s", name);
    }
    out->format = FG_IMAGE_JPEG;
    out->orientation = r.orientation;
    return NULL;
}
