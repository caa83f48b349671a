#include "tests/image/image_craft.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

static int write_png_body(png_structp png, png_infop info, FILE *fp, const craft_png_spec *s) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth, s->color_type, s->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->num_palette);
    if (s->trns || s->trns_color) png_set_tRNS(png, info, s->trns, s->num_trns, s->trns_color);
    if (s->exif) png_set_eXIf_1(png, info, (png_uint_32)s->exif_len, (png_bytep)s->exif);
    if (s->num_before) png_set_text(png, info, s->texts_before, s->num_before);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < s->height; y++) png_write_row(png, s->pixels + (size_t)y * rowbytes);
    if (s->num_after) png_set_text(png, info, s->texts_after, s->num_after);
    png_write_end(png, info);
    return 0;
}

int craft_png(const char *path, const craft_png_spec *spec) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = info ? write_png_body(png, info, fp, spec) : -1;
    png_destroy_write_struct(&png, &info);
    if (fclose(fp) != 0) rc = -1;
    return rc;
}

typedef struct craft_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} craft_err;

static void craft_error_exit(j_common_ptr c) { longjmp(((craft_err *)c->err)->jump, 1); }

static int write_jpeg_body(struct jpeg_compress_struct *c, craft_err *e, FILE *fp, int w, int h, int comps,
                           const uint8_t *pixels, int quality, const uint8_t *app1, unsigned app1_len) {
    if (setjmp(e->jump)) return -1;
    jpeg_create_compress(c);
    jpeg_stdio_dest(c, fp);
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = comps;
    c->in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    for (int i = 0; i < c->num_components; i++) c->comp_info[i].h_samp_factor = c->comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(c, TRUE);
    if (app1) jpeg_write_marker(c, JPEG_APP0 + 1, app1, app1_len);
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c->next_scanline * w * comps);
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

int craft_jpeg(const char *path, int width, int height, int components, const uint8_t *pixels, int quality,
               const uint8_t *app1, unsigned app1_len) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    struct jpeg_compress_struct c;
    craft_err e;
    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = craft_error_exit;
    int rc = write_jpeg_body(&c, &e, fp, width, height, components, pixels, quality, app1, app1_len);
    jpeg_destroy_compress(&c);
    if (fclose(fp) != 0) rc = -1;
    return rc;
}

size_t craft_exif_orientation(uint8_t *out, int value, int big_endian, int with_exif_header) {
    size_t n = 0;
    if (with_exif_header) {
        memcpy(out, "Exif\0\0", 6);
        n = 6;
    }
    uint8_t *t = out + n;
    /* header (8) + count (2) + one entry (12) + next IFD (4) = 26 bytes */
    memset(t, 0, 26);
    if (big_endian) {
        memcpy(t, "MM\0\x2a\0\0\0\x08", 8);
        t[9] = 1;                                    /* one entry */
        t[10] = 0x01; t[11] = 0x12;                  /* tag 0x0112 */
        t[13] = 3;                                   /* SHORT */
        t[17] = 1;                                   /* count 1 */
        t[18] = (uint8_t)(value >> 8); t[19] = (uint8_t)value;
    } else {
        memcpy(t, "II\x2a\0\x08\0\0\0", 8);
        t[8] = 1;
        t[10] = 0x12; t[11] = 0x01;
        t[12] = 3;
        t[14] = 1;
        t[18] = (uint8_t)value; t[19] = (uint8_t)(value >> 8);
    }
    return n + 26;
}
