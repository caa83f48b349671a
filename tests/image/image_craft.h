/* Test-only writers of PNG and JPEG variants fluxgraph never writes itself (palettes, tRNS,
 * 16-bit, interlacing, zTXt/iTXt, eXIf, EXIF APP1, CMYK), straight through libpng/libjpeg. */
#ifndef FG_TESTS_IMAGE_CRAFT_H
#define FG_TESTS_IMAGE_CRAFT_H

#include <png.h>
#include <stddef.h>
#include <stdint.h>

typedef struct craft_png_spec {
    int width, height, bit_depth, color_type, interlace;
    const uint8_t *pixels; /* rows as libpng expects them (packed, big-endian 16-bit) */
    const png_color *palette;
    int num_palette;
    const uint8_t *trns; /* palette alpha */
    int num_trns;
    const png_color_16 *trns_color; /* colour key for gray/RGB */
    const png_text *texts_before;   /* written between IHDR and IDAT */
    int num_before;
    const png_text *texts_after;    /* written after IDAT */
    int num_after;
    const uint8_t *exif; /* eXIf payload ("MM"/"II" TIFF block) */
    int exif_len;
} craft_png_spec;

/* 0 on success. */
int craft_png(const char *path, const craft_png_spec *spec);

/* A JPEG of 1 (gray), 3 (RGB) or 4 (CMYK, stored as given; Adobe marker written) components,
 * 4:4:4, with an optional APP1 segment (e.g. "Exif\0\0" + TIFF). 0 on success. */
int craft_jpeg(const char *path, int width, int height, int components, const uint8_t *pixels, int quality,
               const uint8_t *app1, unsigned app1_len);

/* A TIFF-structured EXIF block with one IFD0 entry: Orientation (SHORT) = value. Returns its
 * length (at most 32 bytes are written to out); big_endian picks "MM" over "II". */
size_t craft_exif_orientation(uint8_t *out, int value, int big_endian, int with_exif_header);

#endif
