/* 8-bit images and the two file formats ComfyUI users exchange: PNG (with the tEXt chunks
 * that carry workflows) and JPEG.
 *
 * Writing follows SaveImage: 8-bit PNG, uncompressed tEXt chunks after IHDR and before IDAT in
 * the order given ("prompt" then "workflow"), zlib level 4 (1 for previews). Every file is
 * written to "<path>.tmp" and renamed on success, so a failure leaves no partial file and an
 * existing file at path is only replaced by a complete one.
 *
 * Reading follows LoadImage (Pillow's open + exif_transpose + convert("RGB")):
 *   - RGB/RGBA/gray/gray+alpha/palette PNGs of every bit depth, interlaced or not. 16-bit
 *     channels keep their high byte (Pillow's ";16B" unpackers), except 16-bit grayscale,
 *     which Pillow opens as mode "I" and ComfyUI scales by 1/255: floor(v / 255) clipped to
 *     255. (Pillow >= 10 opens it as "I;16" instead, which ComfyUI then saturates at 255 — a
 *     white image; we implement the scaling ComfyUI intends.) Gray 1/2/4-bit values are
 *     scaled to 0..255.
 *   - An alpha plane is returned when the file has an alpha channel (gray+alpha, RGBA) or is
 *     a palette image with a tRNS chunk (ComfyUI's MASK = 1 - alpha/255). A tRNS colour key
 *     on a gray or RGB image gives no alpha, as in ComfyUI.
 *   - JPEG: YCbCr, RGB and grayscale via libjpeg-turbo; CMYK/YCCK are read with Adobe's
 *     inverted convention (as Pillow assumes) and converted like Pillow's CMYK -> RGB.
 *     A truncated JPEG is an error (Pillow: "image file is truncated"), and so is one whose
 *     scan data ends (at a marker) before the declared size is filled: a few hundred bytes
 *     must not become a gigapixel gray image.
 *   - EXIF orientation 2..8 (JPEG APP1 "Exif", PNG eXIf) is applied like exif_transpose.
 *   - Only the first frame (APNG, MPO) is read.
 * Every input is treated as hostile: errors name the file, nothing is allocated for an image
 * before its size passed the caps below, and decompressed text is capped too. */
#ifndef FG_CORE_IMAGE_H
#define FG_CORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define FG_IMAGE_MAX_SIDE 65535
#define FG_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
/* Largest image a decoder accepts, checked from the header before anything is allocated:
 * Pillow's decompression-bomb limit (2 * MAX_IMAGE_PIXELS = 2 * 1024^3 / 4 / 3), above which
 * ComfyUI's LoadImage fails too. Writing allows up to FG_IMAGE_MAX_PIXELS (ComfyUI's largest
 * latent decodes to 16384^2). */
#define FG_IMAGE_MAX_READ_PIXELS ((int64_t)178956970)
/* Total decompressed size of the text chunks of one PNG. */
#define FG_PNG_MAX_TEXT_BYTES ((size_t)64 << 20)
/* Largest file read into memory. */
#define FG_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

/* Interleaved 8-bit pixels: `height` rows of width * channels bytes, no padding. */
typedef struct fg_image {
    int width, height;
    int channels; /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    uint8_t *data; /* owned (malloc); NULL for an empty image */
} fg_image;

/* Allocates an uninitialised image after checking the caps. */
fg_error *fg_image_alloc(int width, int height, int channels, fg_image *out) FG_MUST_CHECK;
void fg_image_free(fg_image *img); /* frees data and zeroes the struct */

/* ---- writing ------------------------------------------------------------------------- */

/* One tEXt chunk. key: 1..79 Latin-1 bytes (printable, no leading/trailing or double
 * spaces, as the PNG spec requires); value: value_len bytes written as-is, which must not
 * contain NUL (ComfyUI's JSON is ASCII). fg_png_text_str fills value_len with strlen. */
typedef struct fg_png_text {
    const char *key;
    const char *value;
    size_t value_len;
} fg_png_text;
fg_png_text fg_png_text_str(const char *key, const char *value);

#define FG_PNG_LEVEL_SAVE 4    /* SaveImage */
#define FG_PNG_LEVEL_PREVIEW 1 /* PreviewImage */

/* 8-bit PNG of 1..4 channels; compression_level 0..9. */
fg_error *fg_png_write(const char *path, const fg_image *img, const fg_png_text *texts, size_t ntexts,
                       int compression_level) FG_MUST_CHECK;
/* Baseline JPEG (libjpeg defaults: 4:2:0, quality 1..100) of a 1- or 3-channel image. */
fg_error *fg_jpeg_write(const char *path, const fg_image *img, int quality) FG_MUST_CHECK;
/* The same, never replacing an existing file (FG_ERR_EXISTS): how SaveImage claims a numbered
 * name when other processes save into the same folder. */
fg_error *fg_png_write_new(const char *path, const fg_image *img, const fg_png_text *texts, size_t ntexts,
                           int compression_level) FG_MUST_CHECK;
fg_error *fg_jpeg_write_new(const char *path, const fg_image *img, int quality) FG_MUST_CHECK;

/* ---- reading ------------------------------------------------------------------------- */

typedef enum fg_image_format { FG_IMAGE_UNKNOWN = 0, FG_IMAGE_PNG, FG_IMAGE_JPEG } fg_image_format;

/* What LoadImage needs: RGB pixels and, when the file has transparency, the alpha plane. */
typedef struct fg_decoded_image {
    fg_image rgb;    /* 3 channels */
    fg_image alpha;  /* 1 channel, same size; data == NULL when the file has no alpha */
    fg_image_format format;
    int orientation; /* EXIF orientation applied (1 = none) */
} fg_decoded_image;

/* PNG or JPEG, told apart by signature. `name` labels errors for the memory variant. */
fg_error *fg_image_read_file(const char *path, fg_decoded_image *out) FG_MUST_CHECK;
fg_error *fg_image_read_memory(const void *data, size_t size, const char *name, fg_decoded_image *out) FG_MUST_CHECK;
void fg_decoded_image_free(fg_decoded_image *img);

fg_image_format fg_image_sniff(const void *data, size_t size);

/* ---- PNG text (workflow metadata) ---------------------------------------------------- */

/* One text chunk as read: key and value in UTF-8, NUL-terminated (value_len excludes the
 * NUL). tEXt/zTXt are Latin-1 by the PNG spec, but ComfyUI's frontend decodes them as UTF-8:
 * a value that is valid UTF-8 is kept as-is, anything else is converted from Latin-1. iTXt
 * text must be valid UTF-8 (else an error). */
typedef struct fg_text_entry {
    char *key;
    char *value;
    size_t value_len;
    char chunk[5]; /* "tEXt", "zTXt" or "iTXt" */
} fg_text_entry;

typedef struct fg_text_list {
    fg_text_entry *items;
    size_t count;
} fg_text_list;

/* Every tEXt, zTXt and iTXt chunk of a PNG (before or after IDAT), in file order. The whole
 * chunk structure is checked (CRCs, lengths, IEND); the pixels are not decoded. A JPEG gives
 * FG_ERR_UNSUPPORTED: ComfyUI embeds workflows only in PNG text chunks. */
fg_error *fg_png_read_text_file(const char *path, fg_text_list *out) FG_MUST_CHECK;
fg_error *fg_png_read_text_memory(const void *data, size_t size, const char *name, fg_text_list *out) FG_MUST_CHECK;
void fg_text_list_free(fg_text_list *list);
/* Last entry with this key, or NULL: ComfyUI's frontend keeps the last of duplicate chunks
 * (src/scripts/metadata/png.ts overwrites by keyword), so a PNG runs what ComfyUI shows. */
const fg_text_entry *fg_text_list_find(const fg_text_list *list, const char *key);

/* ---- shared by the image modules ----------------------------------------------------- */

/* Reads a whole file (at most FG_IMAGE_MAX_FILE_BYTES) into a malloc'ed buffer. */
fg_error *fg_image_load_file(const char *path, uint8_t **data, size_t *size) FG_MUST_CHECK;

/* Output through a temporary file of the writer's own ("<path>.<pid>.<n>.tmp"): commit
 * flushes, fsyncs, closes and renames; abort closes and removes the temporary file. Exactly one
 * of them must follow a successful open. */
typedef struct fg_outfile {
    FILE *fp;
    char *tmp;
    const char *path;
    bool exclusive;
} fg_outfile;
fg_error *fg_outfile_open(const char *path, fg_outfile *out) FG_MUST_CHECK;
/* Like fg_outfile_open, but commit never replaces a file: if path exists (or appears meanwhile)
 * commit fails with FG_ERR_EXISTS and removes the temporary file. */
fg_error *fg_outfile_open_new(const char *path, fg_outfile *out) FG_MUST_CHECK;
fg_error *fg_outfile_commit(fg_outfile *f) FG_MUST_CHECK;
void fg_outfile_abort(fg_outfile *f);

/* EXIF orientation (1..8) from a TIFF-structured EXIF block (starting at "II"/"MM", or at
 * "Exif\0\0"); 1 when absent or unreadable (a broken EXIF block never fails a read). */
int fg_exif_orientation(const uint8_t *exif, size_t size);
/* Applies orientation 2..8 as Pillow's exif_transpose (new buffer; width/height may swap). */
fg_error *fg_image_orient(fg_image *img, int orientation) FG_MUST_CHECK;

/* Per-format decoders behind fg_image_read_memory (name labels errors). */
fg_error *fg_png_decode(const uint8_t *data, size_t size, const char *name, fg_decoded_image *out) FG_MUST_CHECK;
fg_error *fg_jpeg_decode(const uint8_t *data, size_t size, const char *name, fg_decoded_image *out) FG_MUST_CHECK;

#endif
