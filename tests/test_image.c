/* Image files: PNG/JPEG round trips, SaveImage's chunk layout, LoadImage's conversions, text
 * chunks, EXIF orientation, atomic writes, the hostile corpus; resizing in tests/image/. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/image.h"
#include "tests/image/image_craft.h"
#include "tests/image/image_tests.h"
#include "tests/testing.h"

#define HOSTILE_DIR "tests/hostile_images"

static const char *tmp_path(const char *name) {
    static char buf[4][4200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return b;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static uint8_t *slurp(const char *path, size_t *size) {
    uint8_t *data = NULL;
    if (!CHECK_OK(fg_image_load_file(path, &data, size))) return NULL;
    return data;
}

static uint8_t pattern(int x, int y, int c) { return (uint8_t)(x * 13 + y * 71 + c * 101 + (x * y) % 7); }

static fg_image make_image(int w, int h, int c) {
    fg_image img;
    if (!CHECK_OK(fg_image_alloc(w, h, c, &img))) return img;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) img.data[((size_t)y * w + x) * c + k] = pattern(x, y, k);
    return img;
}

/* ---- PNG chunk walking (independent of the library's own walker) --------------------- */

typedef struct chunk_ref {
    char type[5];
    const uint8_t *data;
    uint32_t len;
} chunk_ref;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int walk_png(const uint8_t *d, size_t n, chunk_ref *out, int max) {
    if (n < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0) return -1;
    size_t pos = 8;
    int count = 0;
    while (pos + 12 <= n && count < max) {
        uint32_t len = be32(d + pos);
        if (len > n - pos - 12) return -1;
        if (crc32(0, d + pos + 4, len + 4) != be32(d + pos + 8 + len)) return -1;
        memcpy(out[count].type, d + pos + 4, 4);
        out[count].type[4] = 0;
        out[count].data = d + pos + 8;
        out[count].len = len;
        count++;
        pos += 12 + (size_t)len;
    }
    return pos == n ? count : -1;
}

/* ---- PNG writing --------------------------------------------------------------------- */

static void check_png_round_trip(int channels) {
    const char *path = tmp_path("rt.png");
    fg_image img = make_image(37, 23, channels);
    if (!img.data) return;
    const char *prompt = "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 5}}}";
    fg_png_text texts[2] = {fg_png_text_str("prompt", prompt), fg_png_text_str("workflow", "{\"nodes\": []}")};
    if (CHECK_OK(fg_png_write(path, &img, texts, 2, FG_PNG_LEVEL_SAVE))) {
        fg_decoded_image d;
        if (CHECK_OK(fg_image_read_file(path, &d))) {
            CHECK(d.format == FG_IMAGE_PNG && d.rgb.width == 37 && d.rgb.height == 23 && d.rgb.channels == 3);
            CHECK((d.alpha.data != NULL) == (channels == 2 || channels == 4), "alpha presence for %d channels", channels);
            int bad = 0;
            for (int i = 0; i < 37 * 23; i++) {
                for (int k = 0; k < 3; k++) bad += d.rgb.data[3 * i + k] != img.data[channels * i + (channels < 3 ? 0 : k)];
                if (d.alpha.data) bad += d.alpha.data[i] != img.data[channels * i + channels - 1];
            }
            CHECK(bad == 0, "%d pixel mismatches for %d channels", bad, channels);
            fg_decoded_image_free(&d);
        }
        fg_text_list list;
        if (CHECK_OK(fg_png_read_text_file(path, &list))) {
            CHECK(list.count == 2);
            const fg_text_entry *p = fg_text_list_find(&list, "prompt"), *w = fg_text_list_find(&list, "workflow");
            CHECK(p && strcmp(p->value, prompt) == 0 && p->value_len == strlen(prompt) && !strcmp(p->chunk, "tEXt"));
            CHECK(w && strcmp(w->value, "{\"nodes\": []}") == 0);
            CHECK(list.count == 2 && list.items[0].key[0] == 'p', "file order");
            fg_text_list_free(&list);
        }
    }
    fg_image_free(&img);
    CHECK(!file_exists(tmp_path("rt.png.tmp")), "temporary file left behind");
}

static void test_png_round_trip(void) {
    for (int c = 1; c <= 4; c++) check_png_round_trip(c);
}

/* SaveImage layout: IHDR, tEXt prompt, tEXt workflow, IDAT..., IEND, nothing else; 8-bit RGB;
 * the zlib header's FLEVEL field reflects level 4 (SaveImage) or 1 (PreviewImage). */
static void check_layout(int level, uint8_t want_flevel) {
    const char *path = tmp_path("layout.png");
    fg_image img = make_image(64, 40, 3);
    if (!img.data) return;
    fg_png_text texts[2] = {fg_png_text_str("prompt", "{\"a\": 1}"), fg_png_text_str("workflow", "{\"b\": 2}")};
    if (CHECK_OK(fg_png_write(path, &img, texts, 2, level))) {
        size_t n;
        uint8_t *d = slurp(path, &n);
        chunk_ref ch[64];
        int count = d ? walk_png(d, n, ch, 64) : -1;
        CHECK(count >= 5, "chunk walk failed (%d)", count);
        if (count >= 5) {
            CHECK(!strcmp(ch[0].type, "IHDR") && ch[0].len == 13);
            CHECK(be32(ch[0].data) == 64 && be32(ch[0].data + 4) == 40 && ch[0].data[8] == 8 && ch[0].data[9] == 2);
            CHECK(!strcmp(ch[1].type, "tEXt") && ch[1].len == 7 + 8 && !memcmp(ch[1].data, "prompt\0{\"a\": 1}", 15));
            CHECK(!strcmp(ch[2].type, "tEXt") && ch[2].len == 9 + 8 && !memcmp(ch[2].data, "workflow\0{\"b\": 2}", 17));
            CHECK(!strcmp(ch[3].type, "IDAT") && ch[3].len >= 2);
            CHECK((ch[3].data[0] & 0x0f) == 8 && (ch[3].data[1] >> 6) == want_flevel, "zlib header %02x %02x for level %d",
                  ch[3].data[0], ch[3].data[1], level);
            int i = 4;
            while (i < count && !strcmp(ch[i].type, "IDAT")) i++;
            CHECK(i == count - 1 && !strcmp(ch[count - 1].type, "IEND"), "unexpected chunk '%s'", ch[i < count ? i : 0].type);
        }
        free(d);
    }
    fg_image_free(&img);
}

static void test_png_layout(void) {
    check_layout(FG_PNG_LEVEL_SAVE, 1);
    check_layout(FG_PNG_LEVEL_PREVIEW, 0);
    check_layout(9, 3);
}

static void test_png_write_errors(void) {
    const char *path = tmp_path("bad.png");
    fg_image img = make_image(4, 4, 3);
    if (!img.data) return;
    char long_key[81];
    memset(long_key, 'k', 80);
    long_key[80] = 0;
    const char *bad_keys[] = {"", long_key, " prompt", "prompt ", "two  spaces", "tab\there", "del\x7f"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        fg_png_text t = fg_png_text_str(bad_keys[i], "{}");
        CHECK_ERR(fg_png_write(path, &img, &t, 1, 4), "PNG text key");
    }
    fg_png_text nul = {"prompt", "a\0b", 3};
    CHECK_ERR(fg_png_write(path, &img, &nul, 1, 4), "NUL byte");
    fg_png_text latin = fg_png_text_str("caf\xe9", "ok"); /* Latin-1 keys are allowed */
    CHECK_OK(fg_png_write(path, &img, &latin, 1, 4));
    CHECK_ERR(fg_png_write(path, &img, NULL, 0, 10), "compression level");
    fg_image bad = img;
    bad.channels = 5;
    CHECK_ERR(fg_png_write(path, &bad, NULL, 0, 4), "channels");
    CHECK_ERR(fg_jpeg_write(path, &bad, 90), "channels");
    CHECK_ERR(fg_jpeg_write(path, &img, 0), "quality");
    CHECK_ERR(fg_jpeg_write(path, &img, 101), "quality");
    fg_image rgba = make_image(4, 4, 4);
    CHECK_ERR(fg_jpeg_write(path, &rgba, 90), "no alpha in JPEG");
    fg_image_free(&rgba);
    fg_image_free(&img);
    fg_image tmp;
    CHECK_ERR(fg_image_alloc(0, 5, 3, &tmp), "at least 1x1");
    CHECK_ERR(fg_image_alloc(70000, 1, 3, &tmp), "exceeds the limit");
    CHECK_ERR(fg_image_alloc(30000, 30000, 1, &tmp), "exceeds the limit");
}

/* ---- atomic writes ------------------------------------------------------------------- */

static void write_marker(const char *path) {
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fputs("previous content", fp);
        fclose(fp);
    }
}

static bool has_marker(const char *path) {
    FILE *fp = fopen(path, "rb");
    char buf[64] = {0};
    if (!fp) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    return n == 16 && strcmp(buf, "previous content") == 0;
}

/* Files "<path>.*.tmp" (the writers' temporaries) in path's folder. */
static int count_temporaries(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    if (slash) *slash = 0;
    DIR *d = opendir(slash ? dir : ".");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > blen + 4 && strncmp(e->d_name, path + (base - path), blen) == 0 && e->d_name[blen] == '.' &&
            strcmp(e->d_name + len - 4, ".tmp") == 0)
            n++;
    }
    if (d) closedir(d);
    return n;
}

/* A write that fails half-way (file size limit) leaves the old file and no temporary. */
static void check_failed_write(bool jpeg) {
    const char *path = tmp_path(jpeg ? "atomic.jpg" : "atomic.png");
    write_marker(path);
    fg_image img = make_image(600, 400, 3);
    if (!img.data) return;
    for (size_t i = 0; i < (size_t)600 * 400 * 3; i++) img.data[i] = (uint8_t)(i * 2654435761u >> 13); /* noise */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {4096, old.rlim_max};
    setrlimit(RLIMIT_FSIZE, &small);
    fg_error *err = jpeg ? fg_jpeg_write(path, &img, 95) : fg_png_write(path, &img, NULL, 0, 4);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_ERR(err, path);
    CHECK(has_marker(path), "%s: existing file was modified", path);
    CHECK(count_temporaries(path) == 0, "a temporary of %s left behind", path);
    /* A successful write replaces it. */
    if (CHECK_OK(jpeg ? fg_jpeg_write(path, &img, 50) : fg_png_write(path, &img, NULL, 0, 1)))
        CHECK(!has_marker(path) && count_temporaries(path) == 0);
    fg_image_free(&img);
}

static void test_atomic_write(void) {
    fg_image img = make_image(8, 8, 3);
    if (!img.data) return;
    const char *missing_dir = tmp_path("no/such/dir/out.png");
    CHECK_ERR(fg_png_write(missing_dir, &img, NULL, 0, 4), "cannot create");
    CHECK_ERR(fg_jpeg_write(missing_dir, &img, 80), "cannot create");
    CHECK(!file_exists(missing_dir));
    const char *path = tmp_path("keep.png");
    write_marker(path);
    fg_png_text bad = fg_png_text_str("", "x");
    CHECK_ERR(fg_png_write(path, &img, &bad, 1, 4), "key");
    CHECK(has_marker(path), "a rejected write touched the existing file");
    /* The no-replace writers: an existing file stays, the error says so, no temporary is left. */
    fg_error *err = fg_png_write_new(path, &img, NULL, 0, 1);
    CHECK(fg_error_code_of(err) == FG_ERR_EXISTS, "png_write_new over a file: %s", err ? fg_error_message(err) : "ok");
    fg_error_free(err);
    err = fg_jpeg_write_new(path, &img, 80);
    CHECK(fg_error_code_of(err) == FG_ERR_EXISTS, "jpeg_write_new over a file");
    fg_error_free(err);
    CHECK(has_marker(path) && count_temporaries(path) == 0);
    const char *fresh = tmp_path("fresh_new.png");
    unlink(fresh);
    if (CHECK_OK(fg_png_write_new(fresh, &img, NULL, 0, 1))) CHECK(file_exists(fresh) && count_temporaries(fresh) == 0);
    fg_image_free(&img);
    check_failed_write(false);
    check_failed_write(true);
}

/* ---- PNG variants LoadImage meets ---------------------------------------------------- */

static bool read_crafted(const char *path, const craft_png_spec *spec, fg_decoded_image *d) {
    CHECK(craft_png(path, spec) == 0, "libpng could not write %s", path);
    return CHECK_OK(fg_image_read_file(path, d));
}

static void test_png_palette_trns(void) {
    const png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {0, 255, 0}};
    const uint8_t trns[2] = {0, 128}; /* index 2 stays opaque */
    const uint8_t idx[6] = {0, 1, 2, 2, 1, 0};
    craft_png_spec s = {.width = 3, .height = 2, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_PALETTE, .pixels = idx,
                        .palette = pal, .num_palette = 3};
    fg_decoded_image d;
    if (read_crafted(tmp_path("pal.png"), &s, &d)) {
        CHECK(!d.alpha.data, "palette without tRNS has no alpha");
        CHECK(d.rgb.data[3] == 200 && d.rgb.data[4] == 100 && d.rgb.data[5] == 50 && d.rgb.data[12] == 200);
        fg_decoded_image_free(&d);
    }
    s.trns = trns;
    s.num_trns = 2;
    if (read_crafted(tmp_path("pal_trns.png"), &s, &d)) {
        CHECK(d.alpha.data && d.alpha.data[0] == 0 && d.alpha.data[1] == 128 && d.alpha.data[2] == 255 &&
              d.alpha.data[5] == 0);
        CHECK(d.rgb.data[0] == 10 && d.rgb.data[1] == 20 && d.rgb.data[2] == 30, "colour kept under alpha 0");
        fg_decoded_image_free(&d);
    }
    /* 2-bit palette, packed 4 indices per byte. */
    const uint8_t packed[2] = {0x18, 0x90}; /* 0 1 2 0 / 2 1 0 0 */
    craft_png_spec s2 = {.width = 3, .height = 2, .bit_depth = 2, .color_type = PNG_COLOR_TYPE_PALETTE,
                         .pixels = packed, .palette = pal, .num_palette = 3};
    if (read_crafted(tmp_path("pal2.png"), &s2, &d)) {
        CHECK(d.rgb.data[3] == 200 && d.rgb.data[6] == 0 && d.rgb.data[7] == 255 && d.rgb.data[9] == 0 && d.rgb.data[10] == 255);
        fg_decoded_image_free(&d);
    }
}

static void test_png_gray_and_16bit(void) {
    fg_decoded_image d;
    /* 1-bit gray: 0 -> 0, 1 -> 255. */
    const uint8_t bits[2] = {0xa0, 0x40}; /* 1 0 1 / 0 1 0 */
    craft_png_spec g1 = {.width = 3, .height = 2, .bit_depth = 1, .color_type = PNG_COLOR_TYPE_GRAY, .pixels = bits};
    if (read_crafted(tmp_path("g1.png"), &g1, &d)) {
        const uint8_t want[6] = {255, 0, 255, 0, 255, 0};
        for (int i = 0; i < 6; i++) CHECK(d.rgb.data[3 * i] == want[i] && d.rgb.data[3 * i + 2] == want[i], "g1 [%d]", i);
        fg_decoded_image_free(&d);
    }
    /* 4-bit gray scales by 17. */
    const uint8_t nib[2] = {0x0f, 0x73}; /* 0 15 7 3 (2x2) */
    craft_png_spec g4 = {.width = 2, .height = 2, .bit_depth = 4, .color_type = PNG_COLOR_TYPE_GRAY, .pixels = nib};
    if (read_crafted(tmp_path("g4.png"), &g4, &d)) {
        CHECK(d.rgb.data[0] == 0 && d.rgb.data[3] == 255 && d.rgb.data[6] == 119 && d.rgb.data[9] == 51);
        fg_decoded_image_free(&d);
    }
    /* 16-bit gray: mode "I" / 255, truncated, clipped. */
    const uint16_t v16[4] = {382, 509, 65535, 32768};
    uint8_t be[8];
    for (int i = 0; i < 4; i++) be[2 * i] = (uint8_t)(v16[i] >> 8), be[2 * i + 1] = (uint8_t)v16[i];
    craft_png_spec g16 = {.width = 4, .height = 1, .bit_depth = 16, .color_type = PNG_COLOR_TYPE_GRAY, .pixels = be};
    if (read_crafted(tmp_path("g16.png"), &g16, &d)) {
        CHECK(d.rgb.data[0] == 1 && d.rgb.data[3] == 1 && d.rgb.data[6] == 255 && d.rgb.data[9] == 128,
              "16-bit gray: %d %d %d %d", d.rgb.data[0], d.rgb.data[3], d.rgb.data[6], d.rgb.data[9]);
        CHECK(!d.alpha.data);
        fg_decoded_image_free(&d);
    }
    /* 16-bit RGBA keeps the high bytes, alpha included. */
    const uint8_t rgba16[8] = {0x12, 0xff, 0x34, 0x01, 0xab, 0x80, 0x7f, 0xff};
    craft_png_spec c16 = {.width = 1, .height = 1, .bit_depth = 16, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .pixels = rgba16};
    if (read_crafted(tmp_path("c16.png"), &c16, &d)) {
        CHECK(d.rgb.data[0] == 0x12 && d.rgb.data[1] == 0x34 && d.rgb.data[2] == 0xab && d.alpha.data && d.alpha.data[0] == 0x7f);
        fg_decoded_image_free(&d);
    }
    /* An RGB colour key (tRNS) gives no MASK in ComfyUI. */
    const uint8_t rgb[6] = {1, 2, 3, 4, 5, 6};
    png_color_16 key = {.red = 1, .green = 2, .blue = 3};
    craft_png_spec ck = {.width = 2, .height = 1, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .pixels = rgb, .trns_color = &key};
    if (read_crafted(tmp_path("ckey.png"), &ck, &d)) {
        CHECK(!d.alpha.data && d.rgb.data[0] == 1 && d.rgb.data[5] == 6);
        fg_decoded_image_free(&d);
    }
}

static void test_png_interlaced(void) {
    enum { W = 13, H = 11 };
    uint8_t px[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) px[(y * W + x) * 3 + c] = pattern(x, y, c);
    craft_png_spec s = {.width = W, .height = H, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_RGB,
                        .interlace = PNG_INTERLACE_ADAM7, .pixels = px};
    fg_decoded_image d;
    if (read_crafted(tmp_path("adam7.png"), &s, &d)) {
        CHECK(memcmp(d.rgb.data, px, sizeof px) == 0, "interlaced pixels differ");
        fg_decoded_image_free(&d);
    }
}

/* ---- text chunks --------------------------------------------------------------------- */

/* Two "prompt" (and "workflow") chunks: the last one counts, as in ComfyUI's frontend, so a PNG
 * runs the workflow ComfyUI shows for it. */
static void test_png_duplicate_text_keys(void) {
    const uint8_t px[3] = {1, 2, 3};
    png_text before[2] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "prompt", .text = "first prompt"},
        {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "workflow", .text = "first workflow"},
    };
    png_text after[2] = {
        {.compression = PNG_ITXT_COMPRESSION_NONE, .key = "prompt", .text = "last prompt"},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "workflow", .text = "last workflow"},
    };
    craft_png_spec s = {.width = 1, .height = 1, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .pixels = px,
                        .texts_before = before, .num_before = 2, .texts_after = after, .num_after = 2};
    const char *path = tmp_path("dup_texts.png");
    CHECK(craft_png(path, &s) == 0);
    fg_text_list list;
    if (!CHECK_OK(fg_png_read_text_file(path, &list))) return;
    CHECK(list.count == 4, "%zu entries", list.count);
    const fg_text_entry *p = fg_text_list_find(&list, "prompt"), *w = fg_text_list_find(&list, "workflow");
    CHECK(p && strcmp(p->value, "last prompt") == 0, "prompt: %s", p ? p->value : "(none)");
    CHECK(w && strcmp(w->value, "last workflow") == 0, "workflow: %s", w ? w->value : "(none)");
    fg_text_list_free(&list);
}

static void test_png_text_kinds(void) {
    const uint8_t px[3] = {1, 2, 3};
    png_text before[3] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "prompt", .text = "{\"1\": {}}"},
        {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "workflow", .text = "{\"nodes\": [1, 2, 3]}"},
        {.compression = PNG_ITXT_COMPRESSION_zTXt, .key = "itxt_z", .text = "caf\xc3\xa9 \xe2\x9c\x93", .lang = "en",
         .lang_key = "k\xc3\xa9y"},
    };
    png_text after[2] = {
        {.compression = PNG_ITXT_COMPRESSION_NONE, .key = "itxt_plain", .text = "\xf0\x9f\x8c\x8a wave"},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "latin", .text = "caf\xe9"},
    };
    craft_png_spec s = {.width = 1, .height = 1, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .pixels = px,
                        .texts_before = before, .num_before = 3, .texts_after = after, .num_after = 2};
    const char *path = tmp_path("texts.png");
    CHECK(craft_png(path, &s) == 0);
    fg_text_list list;
    if (!CHECK_OK(fg_png_read_text_file(path, &list))) return;
    const char *keys[5] = {"prompt", "workflow", "itxt_z", "itxt_plain", "latin"};
    const char *chunks[5] = {"tEXt", "zTXt", "iTXt", "iTXt", "tEXt"};
    const char *values[5] = {"{\"1\": {}}", "{\"nodes\": [1, 2, 3]}", "caf\xc3\xa9 \xe2\x9c\x93", "\xf0\x9f\x8c\x8a wave",
                             "caf\xc3\xa9"};
    CHECK(list.count == 5, "%zu entries", list.count);
    for (size_t i = 0; i < list.count && i < 5; i++) {
        CHECK(!strcmp(list.items[i].key, keys[i]), "[%zu] key %s", i, list.items[i].key);
        CHECK(!strcmp(list.items[i].chunk, chunks[i]), "[%zu] chunk %s", i, list.items[i].chunk);
        CHECK(!strcmp(list.items[i].value, values[i]) && list.items[i].value_len == strlen(values[i]), "[%zu] value", i);
    }
    CHECK(fg_text_list_find(&list, "missing") == NULL);
    fg_text_list_free(&list);
    /* The image reader skips the text and still decodes. */
    fg_decoded_image d;
    if (CHECK_OK(fg_image_read_file(path, &d))) {
        CHECK(d.rgb.data[0] == 1 && d.rgb.data[2] == 3);
        fg_decoded_image_free(&d);
    }
}

/* ---- JPEG ---------------------------------------------------------------------------- */

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void test_jpeg_round_trip(void) {
    enum { W = 64, H = 48 };
    fg_image img;
    if (!CHECK_OK(fg_image_alloc(W, H, 3, &img))) return;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = img.data + ((size_t)y * W + x) * 3;
            p[0] = (uint8_t)(x * 4), p[1] = (uint8_t)(y * 5), p[2] = (uint8_t)(128 + (x - y));
        }
    const char *hi = tmp_path("q95.jpg"), *lo = tmp_path("q10.jpg");
    if (CHECK_OK(fg_jpeg_write(hi, &img, 95)) && CHECK_OK(fg_jpeg_write(lo, &img, 10))) {
        CHECK(file_size(lo) < file_size(hi), "quality 10: %ld bytes, 95: %ld bytes", file_size(lo), file_size(hi));
        fg_decoded_image d;
        if (CHECK_OK(fg_image_read_file(hi, &d))) {
            CHECK(d.format == FG_IMAGE_JPEG && d.rgb.width == W && d.rgb.height == H && !d.alpha.data);
            double e = mean_abs_diff(d.rgb.data, img.data, (size_t)W * H * 3);
            CHECK(e < 2.5, "quality 95 mean error %.2f", e);
            fg_decoded_image_free(&d);
        }
        if (CHECK_OK(fg_image_read_file(lo, &d))) {
            double e = mean_abs_diff(d.rgb.data, img.data, (size_t)W * H * 3);
            CHECK(e < 12, "quality 10 mean error %.2f", e);
            fg_decoded_image_free(&d);
        }
    }
    fg_image_free(&img);
    /* Grayscale JPEG becomes equal R = G = B. */
    fg_image gray = make_image(16, 16, 1);
    if (gray.data && CHECK_OK(fg_jpeg_write(tmp_path("gray.jpg"), &gray, 90))) {
        fg_decoded_image d;
        if (CHECK_OK(fg_image_read_file(tmp_path("gray.jpg"), &d))) {
            int unequal = 0;
            for (int i = 0; i < 256; i++) unequal += d.rgb.data[3 * i] != d.rgb.data[3 * i + 1] || d.rgb.data[3 * i] != d.rgb.data[3 * i + 2];
            CHECK(unequal == 0);
            fg_decoded_image_free(&d);
        }
    }
    fg_image_free(&gray);
}

/* Pillow's CMYK -> RGB with Adobe's inverted storage: (100, 50, 200, 30) -> (137, 181, 49). */
static void test_jpeg_cmyk(void) {
    enum { N = 16 * 16 };
    uint8_t px[N * 4];
    for (int i = 0; i < N; i++) px[4 * i] = 155, px[4 * i + 1] = 205, px[4 * i + 2] = 55, px[4 * i + 3] = 225;
    const char *path = tmp_path("cmyk.jpg");
    CHECK(craft_jpeg(path, 16, 16, 4, px, 100, NULL, 0) == 0);
    fg_decoded_image d;
    if (CHECK_OK(fg_image_read_file(path, &d))) {
        const uint8_t *p = d.rgb.data + 3 * 100;
        CHECK(abs(p[0] - 137) <= 2 && abs(p[1] - 181) <= 2 && abs(p[2] - 49) <= 2, "CMYK -> %d %d %d", p[0], p[1], p[2]);
        fg_decoded_image_free(&d);
    }
}

/* ---- EXIF orientation ---------------------------------------------------------------- */

static void test_exif_parser(void) {
    uint8_t buf[64];
    for (int v = 1; v <= 8; v++) {
        size_t n = craft_exif_orientation(buf, v, v & 1, v & 2);
        CHECK(fg_exif_orientation(buf, n) == v, "orientation %d", v);
    }
    size_t n = craft_exif_orientation(buf, 6, 1, 0);
    for (size_t cut = 0; cut < n - 6; cut++) CHECK(fg_exif_orientation(buf, cut) == 1, "cut at %zu", cut);
    buf[9] = 200; /* entry count past the end */
    CHECK(fg_exif_orientation(buf, n) == 1);
    n = craft_exif_orientation(buf, 9, 0, 0);
    CHECK(fg_exif_orientation(buf, n) == 1, "out-of-range value ignored");
    n = craft_exif_orientation(buf, 6, 0, 0);
    buf[4] = 0xf0; /* IFD offset past the end */
    CHECK(fg_exif_orientation(buf, n) == 1);
    CHECK(fg_exif_orientation(NULL, 10) == 1);
}

/* 3x2 gray image 1..6 through every orientation (expected values from Pillow's exif_transpose). */
static void test_png_exif_orientation(void) {
    static const uint8_t want[9][6] = {
        {0}, {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
        {1, 4, 2, 5, 3, 6}, {4, 1, 5, 2, 6, 3}, {6, 3, 5, 2, 4, 1}, {3, 6, 2, 5, 1, 4},
    };
    const uint8_t px[6] = {1, 2, 3, 4, 5, 6};
    for (int o = 1; o <= 8; o++) {
        uint8_t exif[64];
        size_t n = craft_exif_orientation(exif, o, o % 2, 0);
        craft_png_spec s = {.width = 3, .height = 2, .bit_depth = 8, .color_type = PNG_COLOR_TYPE_GRAY, .pixels = px,
                            .exif = exif, .exif_len = (int)n};
        fg_decoded_image d;
        if (!read_crafted(tmp_path("exif.png"), &s, &d)) continue;
        int w = o >= 5 ? 2 : 3;
        CHECK(d.orientation == o && d.rgb.width == w && d.rgb.height == 6 / w, "orientation %d: %dx%d", o, d.rgb.width, d.rgb.height);
        for (int i = 0; i < 6; i++) CHECK(d.rgb.data[3 * i] == want[o][i], "orientation %d pixel %d", o, i);
        fg_decoded_image_free(&d);
    }
}

/* JPEG with APP1 orientation 6 (rotate 90 degrees clockwise): a 16x8 image whose left 8x8
 * block is dark becomes 8x16 with the dark block on top. */
static void test_jpeg_exif_orientation(void) {
    uint8_t px[16 * 8 * 3];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 16; x++) memset(px + (y * 16 + x) * 3, x < 8 ? 20 : 230, 3);
    uint8_t app1[64];
    size_t n = craft_exif_orientation(app1, 6, 1, 1);
    const char *path = tmp_path("exif6.jpg");
    CHECK(craft_jpeg(path, 16, 8, 3, px, 100, app1, (unsigned)n) == 0);
    fg_decoded_image d;
    if (CHECK_OK(fg_image_read_file(path, &d))) {
        CHECK(d.orientation == 6 && d.rgb.width == 8 && d.rgb.height == 16, "%dx%d, orientation %d", d.rgb.width,
              d.rgb.height, d.orientation);
        if (d.rgb.width == 8) {
            CHECK(abs(d.rgb.data[(2 * 8 + 4) * 3] - 20) < 6, "top: %d", d.rgb.data[(2 * 8 + 4) * 3]);
            CHECK(abs(d.rgb.data[(12 * 8 + 4) * 3] - 230) < 6, "bottom: %d", d.rgb.data[(12 * 8 + 4) * 3]);
        }
        fg_decoded_image_free(&d);
    }
}

/* ---- damaged and hostile files ------------------------------------------------------- */

static void test_read_errors(void) {
    fg_decoded_image d;
    fg_text_list l;
    CHECK_ERR(fg_image_read_file(tmp_path("does_not_exist.png"), &d), "does_not_exist.png: cannot open");
    CHECK_ERR(fg_image_read_file(test_tmpdir(), &d), "not a regular file");
    CHECK_ERR(fg_image_read_memory("", 0, "mem.png", &d), "mem.png: empty file");
    CHECK_ERR(fg_png_read_text_memory("GIF89a", 6, "a.gif", &l), "a.gif: not a PNG");
    /* A PNG cut right after its image data still decodes (Pillow ignores a missing tail too);
     * the text reader, which must reach IEND, reports it. */
    fg_image img = make_image(5, 5, 3);
    const char *path = tmp_path("tail.png");
    if (img.data && CHECK_OK(fg_png_write(path, &img, NULL, 0, 4))) {
        size_t n;
        uint8_t *data = slurp(path, &n);
        if (data && CHECK_OK(fg_image_read_memory(data, n - 12, "no_iend.png", &d))) {
            CHECK(memcmp(d.rgb.data, img.data, 75) == 0);
            fg_decoded_image_free(&d);
        }
        if (data) CHECK_ERR(fg_png_read_text_memory(data, n - 12, "no_iend.png", &l), "no IEND");
        free(data);
    }
    fg_image_free(&img);
}

static int run_manifest(FILE *manifest, char (*listed)[256], int max) {
    char line[240];
    int n = 0;
    while (fgets(line, sizeof line, manifest)) {
        line[strcspn(line, "\r\n")] = 0;
        char *reader = strchr(line, '\t');
        char *needle = reader ? strchr(reader + 1, '\t') : NULL;
        CHECK(needle != NULL, "bad manifest line: %s", line);
        if (!needle) continue;
        *reader++ = 0;
        *needle++ = 0;
        char path[300];
        snprintf(path, sizeof path, "%s/%s", HOSTILE_DIR, line);
        fg_error *err;
        if (!strcmp(reader, "text")) {
            fg_text_list l;
            err = fg_png_read_text_file(path, &l);
            if (!err) fg_text_list_free(&l);
        } else {
            fg_decoded_image d;
            err = fg_image_read_file(path, &d);
            if (!err) fg_decoded_image_free(&d);
        }
        CHECK(err != NULL, "%s: read succeeded", line);
        if (err) {
            const char *msg = fg_error_message(err);
            CHECK(strstr(msg, needle) != NULL, "%s: error '%s' lacks '%s'", line, msg, needle);
            CHECK(strstr(msg, path) != NULL, "%s: error '%s' does not name the file", line, msg);
            fg_error_free(err);
        }
        if (n < max) snprintf(listed[n], 256, "%s", line);
        n++;
    }
    return n;
}

static void test_hostile_corpus(void) {
    enum { MAX_LISTED = 256 };
    static char listed[MAX_LISTED][256];
    FILE *manifest = fopen(HOSTILE_DIR "/EXPECTED.txt", "r");
    CHECK(manifest != NULL, "cannot open " HOSTILE_DIR "/EXPECTED.txt");
    if (!manifest) return;
    int n = run_manifest(manifest, listed, MAX_LISTED);
    fclose(manifest);
    CHECK(n >= 20, "only %d hostile files", n);
    DIR *dir = opendir(HOSTILE_DIR);
    CHECK(dir != NULL);
    if (!dir) return;
    int on_disk = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "EXPECTED.txt")) continue;
        on_disk++;
        int found = 0;
        for (int i = 0; i < n && i < MAX_LISTED; i++) found |= strcmp(listed[i], de->d_name) == 0;
        CHECK(found, "%s is not listed in EXPECTED.txt", de->d_name);
    }
    closedir(dir);
    CHECK(on_disk == n, "%d files on disk, %d listed", on_disk, n);
}

/* Every prefix of a valid PNG and JPEG, and single-byte corruptions, fail cleanly or decode. */
static void test_truncation_sweep(void) {
    fg_image img = make_image(20, 12, 3);
    const char *png = tmp_path("sweep.png"), *jpg = tmp_path("sweep.jpg");
    fg_png_text t = fg_png_text_str("prompt", "{\"x\": 1}");
    if (!img.data || !CHECK_OK(fg_png_write(png, &img, &t, 1, 4)) || !CHECK_OK(fg_jpeg_write(jpg, &img, 80))) {
        fg_image_free(&img);
        return;
    }
    fg_image_free(&img);
    const char *files[2] = {png, jpg};
    for (int f = 0; f < 2; f++) {
        size_t n;
        uint8_t *data = slurp(files[f], &n);
        if (!data) continue;
        int failures = 0;
        for (size_t cut = 0; cut + 1 < n; cut++) {
            fg_decoded_image d;
            fg_error *err = fg_image_read_memory(data, cut, "cut", &d);
            if (err) failures++, fg_error_free(err);
            else fg_decoded_image_free(&d);
        }
        CHECK(failures >= (int)n - 30, "%s: only %d of %zu truncations rejected", files[f], failures, n);
        for (size_t i = 0; i < n; i += 3) {
            data[i] ^= 0x5a;
            fg_decoded_image d;
            fg_text_list l;
            fg_error *err = fg_image_read_memory(data, n, "flip", &d);
            if (err) fg_error_free(err);
            else fg_decoded_image_free(&d);
            err = fg_png_read_text_memory(data, n, "flip", &l);
            if (err) fg_error_free(err);
            else fg_text_list_free(&l);
            data[i] ^= 0x5a;
        }
        free(data);
    }
}

int main(void) {
    RUN_TEST(test_png_round_trip);
    RUN_TEST(test_png_layout);
    RUN_TEST(test_png_write_errors);
    RUN_TEST(test_atomic_write);
    RUN_TEST(test_png_palette_trns);
    RUN_TEST(test_png_gray_and_16bit);
    RUN_TEST(test_png_interlaced);
    RUN_TEST(test_png_text_kinds);
    RUN_TEST(test_png_duplicate_text_keys);
    RUN_TEST(test_jpeg_round_trip);
    RUN_TEST(test_jpeg_cmyk);
    RUN_TEST(test_exif_parser);
    RUN_TEST(test_png_exif_orientation);
    RUN_TEST(test_jpeg_exif_orientation);
    RUN_TEST(test_read_errors);
    RUN_TEST(test_hostile_corpus);
    RUN_TEST(test_truncation_sweep);
    RUN_TEST(test_resize_fixture);
    RUN_TEST(test_resize_hand_cases);
    RUN_TEST(test_resize_identity);
    RUN_TEST(test_resize_errors);
    RUN_TEST(test_bislerp_golden);
    RUN_TEST(test_bislerp_hand_cases);
    RUN_TEST(test_bislerp_errors);
    return test_summary();
}
