/* Image buffers, whole-file loading, atomic output files, format sniffing and EXIF
 * orientation: what the PNG and JPEG modules share. */
#include "core/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fg_error *fg_image_alloc(int width, int height, int channels, fg_image *out) {
    FG_CHECK_ARG(out, "fg_image_alloc: NULL output");
    memset(out, 0, sizeof *out);
    FG_CHECK_ARG(channels >= 1 && channels <= 4, "image: %d channels (expected 1..4)", channels);
    FG_CHECK_ARG(width >= 1 && height >= 1, "image: size %dx%d must be at least 1x1", width, height);
    if (width > FG_IMAGE_MAX_SIDE || height > FG_IMAGE_MAX_SIDE ||
        (int64_t)width * height > FG_IMAGE_MAX_PIXELS)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "image: size %dx%d exceeds the limit (sides <= %d, %lld pixels)",
                         width, height, FG_IMAGE_MAX_SIDE, (long long)FG_IMAGE_MAX_PIXELS);
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    out->data = malloc(bytes);
    if (!out->data) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "image of %dx%dx%d (%zu bytes)", width, height, channels, bytes);
    out->width = width;
    out->height = height;
    out->channels = channels;
    return NULL;
}

void fg_image_free(fg_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

void fg_decoded_image_free(fg_decoded_image *img) {
    if (!img) return;
    fg_image_free(&img->rgb);
    fg_image_free(&img->alpha);
    memset(img, 0, sizeof *img);
}

fg_png_text fg_png_text_str(const char *key, const char *value) {
    fg_png_text t = {key, value, value ? strlen(value) : 0};
    return t;
}

fg_image_format fg_image_sniff(const void *data, size_t size) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *p = data;
    if (!p) return FG_IMAGE_UNKNOWN;
    if (size >= 8 && memcmp(p, png_sig, 8) == 0) return FG_IMAGE_PNG;
    if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return FG_IMAGE_JPEG;
    return FG_IMAGE_UNKNOWN;
}

/* ---- whole-file reading -------------------------------------------------------------- */

static fg_error *read_all(FILE *fp, const char *path, uint8_t *buf, size_t size) {
    size_t got = fread(buf, 1, size, fp);
    if (got != size) return fg_errorf(FG_ERR_IO, "%s: read failed after %zu of %zu bytes", path, got, size);
    return NULL;
}

fg_error *fg_image_load_file(const char *path, uint8_t **data, size_t *size) {
    FG_CHECK_ARG(path && data && size, "fg_image_load_file: NULL argument");
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return fg_errorf(errno == ENOENT ? FG_ERR_NOT_FOUND : FG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    fg_error *err = NULL;
    if (fstat(fileno(fp), &sb) != 0) err = fg_errorf(FG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) err = fg_errorf(FG_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size > FG_IMAGE_MAX_FILE_BYTES)
        err = fg_errorf(FG_ERR_FORMAT, "%s: file of %lld bytes exceeds the image file limit of %zu bytes", path,
                        (long long)sb.st_size, FG_IMAGE_MAX_FILE_BYTES);
    uint8_t *buf = NULL;
    if (!err) {
        buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
        if (!buf) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: %lld bytes", path, (long long)sb.st_size);
    }
    if (!err) err = read_all(fp, path, buf, (size_t)sb.st_size);
    fclose(fp);
    if (err) {
        free(buf);
        return err;
    }
    *data = buf;
    *size = (size_t)sb.st_size;
    return NULL;
}

fg_error *fg_image_read_memory(const void *data, size_t size, const char *name, fg_decoded_image *out) {
    FG_CHECK_ARG(out, "fg_image_read_memory: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    FG_CHECK_ARG(data || size == 0, "%s: NULL data", name);
    if (size == 0) return fg_errorf(FG_ERR_FORMAT, "%s: empty file", name);
    switch (fg_image_sniff(data, size)) {
    case FG_IMAGE_PNG: return fg_png_decode(data, size, name, out);
    case FG_IMAGE_JPEG: return fg_jpeg_decode(data, size, name, out);
    default: return fg_errorf(FG_ERR_FORMAT, "%s: not a PNG or JPEG file (unknown signature)", name);
    }
}

fg_error *fg_image_read_file(const char *path, fg_decoded_image *out) {
    FG_CHECK_ARG(path && out, "fg_image_read_file: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t *data = NULL;
    size_t size = 0;
    FG_TRY(fg_image_load_file(path, &data, &size));
    fg_error *err = fg_image_read_memory(data, size, path, out);
    free(data);
    return err;
}

/* ---- atomic output ------------------------------------------------------------------- */

/* A temporary name of the writer's own, "<path>.<pid>.<n>.tmp" created exclusively: two
 * processes (or threads) writing the same path never share a temporary file. */
static fg_error *open_temp(const char *path, char **tmp_out, FILE **fp_out) {
    static atomic_uint sequence;
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap);
    if (!tmp) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: temporary name", path);
    int fd = -1;
    for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
        snprintf(tmp, cap, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&sequence, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        fg_error *err = fg_errorf(FG_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return err;
    }
    *tmp_out = tmp;
    *fp_out = fp;
    return NULL;
}

static fg_error *outfile_open(const char *path, bool exclusive, fg_outfile *out) {
    FG_CHECK_ARG(path && path[0] && out, "fg_outfile_open: NULL argument");
    memset(out, 0, sizeof *out);
    FG_TRY(open_temp(path, &out->tmp, &out->fp));
    out->path = path;
    out->exclusive = exclusive;
    return NULL;
}

fg_error *fg_outfile_open(const char *path, fg_outfile *out) { return outfile_open(path, false, out); }
fg_error *fg_outfile_open_new(const char *path, fg_outfile *out) { return outfile_open(path, true, out); }

void fg_outfile_abort(fg_outfile *f) {
    if (!f || !f->tmp) return;
    if (f->fp) fclose(f->fp);
    unlink(f->tmp);
    free(f->tmp);
    memset(f, 0, sizeof *f);
}

/* Moves the finished temporary file to path without ever replacing a file there: the
 * check and the move are one atomic step, so of two writers racing for a name exactly one
 * gets it. Filesystems without RENAME_NOREPLACE get a hard link, just as atomic. */
static int publish_new(const char *tmp, const char *path) {
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
#endif
    if (link(tmp, path) != 0) return -1;
    unlink(tmp);
    return 0;
}

fg_error *fg_outfile_commit(fg_outfile *f) {
    FG_CHECK_ARG(f && f->fp && f->tmp, "fg_outfile_commit: file not open");
    fg_error *err = NULL;
    /* fsync surfaces delayed write errors (ENOSPC, network filesystems) before the rename. */
    if (fflush(f->fp) != 0 || ferror(f->fp)) err = fg_errorf(FG_ERR_IO, "%s: write failed: %s", f->tmp, strerror(errno));
    else if (fsync(fileno(f->fp)) != 0) err = fg_errorf(FG_ERR_IO, "%s: fsync failed: %s", f->tmp, strerror(errno));
    int rc = fclose(f->fp);
    f->fp = NULL;
    if (!err && rc != 0) err = fg_errorf(FG_ERR_IO, "%s: close failed: %s", f->tmp, strerror(errno));
    if (!err && f->exclusive && publish_new(f->tmp, f->path) != 0)
        err = errno == EEXIST ? fg_errorf(FG_ERR_EXISTS, "%s already exists", f->path)
                              : fg_errorf(FG_ERR_IO, "%s: cannot move %s there: %s", f->path, f->tmp, strerror(errno));
    else if (!err && !f->exclusive && rename(f->tmp, f->path) != 0)
        err = fg_errorf(FG_ERR_IO, "%s: cannot rename %s over it: %s", f->path, f->tmp, strerror(errno));
    if (err) unlink(f->tmp);
    free(f->tmp);
    memset(f, 0, sizeof *f);
    return err;
}

/* ---- EXIF orientation ---------------------------------------------------------------- */

static unsigned rd16(const uint8_t *p, int be) { return be ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0]; }
static uint32_t rd32(const uint8_t *p, int be) {
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int fg_exif_orientation(const uint8_t *exif, size_t size) {
    if (!exif) return 1;
    if (size >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) {
        exif += 6;
        size -= 6;
    }
    if (size < 8) return 1;
    int be;
    if (exif[0] == 'I' && exif[1] == 'I') be = 0;
    else if (exif[0] == 'M' && exif[1] == 'M') be = 1;
    else return 1;
    if (rd16(exif + 2, be) != 42) return 1;
    uint32_t ifd = rd32(exif + 4, be);
    if (ifd > size || size - ifd < 2) return 1;
    unsigned count = rd16(exif + ifd, be);
    if ((size - ifd - 2) / 12 < count) return 1;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e = exif + ifd + 2 + 12 * (size_t)i;
        if (rd16(e, be) != 0x0112) continue;
        unsigned type = rd16(e + 2, be);
        uint32_t n = rd32(e + 4, be);
        if (n != 1) return 1;
        uint32_t v = type == 3 ? rd16(e + 8, be) : type == 4 ? rd32(e + 8, be) : 0;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* Source pixel of output pixel (x, y) for each of Pillow's transposes; w, h: source size. */
static void orient_source(int orientation, int x, int y, int w, int h, int *sx, int *sy) {
    switch (orientation) {
    case 2: *sx = w - 1 - x; *sy = y; break;             /* FLIP_LEFT_RIGHT */
    case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;     /* ROTATE_180 */
    case 4: *sx = x; *sy = h - 1 - y; break;             /* FLIP_TOP_BOTTOM */
    case 5: *sx = y; *sy = x; break;                     /* TRANSPOSE */
    case 6: *sx = y; *sy = h - 1 - x; break;             /* ROTATE_270 (90 degrees clockwise) */
    case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;     /* TRANSVERSE */
    case 8: *sx = w - 1 - y; *sy = x; break;             /* ROTATE_90 (counter-clockwise) */
    default: *sx = x; *sy = y; break;
    }
}

fg_error *fg_image_orient(fg_image *img, int orientation) {
    FG_CHECK_ARG(img, "fg_image_orient: NULL image");
    if (orientation < 2 || orientation > 8 || !img->data) return NULL;
    int w = img->width, h = img->height, c = img->channels;
    int swap = orientation >= 5;
    fg_image out;
    FG_TRY(fg_image_alloc(swap ? h : w, swap ? w : h, c, &out));
    for (int y = 0; y < out.height; y++)
        for (int x = 0; x < out.width; x++) {
            int sx, sy;
            orient_source(orientation, x, y, w, h, &sx, &sy);
            memcpy(out.data + ((size_t)y * out.width + x) * c, img->data + ((size_t)sy * w + sx) * c, (size_t)c);
        }
    fg_image_free(img);
    *img = out;
    return NULL;
}
