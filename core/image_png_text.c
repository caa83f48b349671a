/* PNG text chunks (tEXt, zTXt, iTXt) without decoding the pixels: a strict walk over the
 * chunk structure (lengths, types, CRCs, IHDR first, IEND last) with zlib for the compressed
 * kinds, capped at FG_PNG_MAX_TEXT_BYTES of decompressed text per file. */
#include "core/image.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct text_walk {
    const char *name;
    fg_text_list *list;
    size_t cap;
    size_t text_bytes; /* decompressed so far, against FG_PNG_MAX_TEXT_BYTES */
} text_walk;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return false;
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* NUL-terminated UTF-8 copy of Latin-1 bytes. */
static char *latin1_to_utf8(const uint8_t *s, size_t n, size_t *out_len) {
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) extra += s[i] >= 0x80;
    char *out = malloc(n + extra + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) out[k++] = (char)s[i];
        else {
            out[k++] = (char)(0xc0 | s[i] >> 6);
            out[k++] = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    out[k] = 0;
    if (out_len) *out_len = k;
    return out;
}

static char *copy_bytes(const uint8_t *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    if (n) memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* Inflates a zlib stream into a new buffer, never past the file's remaining text budget. */
static fg_error *inflate_text(text_walk *tw, const char *what, const uint8_t *src, size_t n, uint8_t **out,
                              size_t *out_len) {
    size_t budget = FG_PNG_MAX_TEXT_BYTES - tw->text_bytes, cap = n * 4 + 256, len = 0;
    if (cap > budget + 1) cap = budget + 1;
    uint8_t *buf = malloc(cap);
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: %s", tw->name, what);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        free(buf);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: %s: zlib init", tw->name, what);
    }
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n; /* n < 2^31: chunk lengths are checked first */
    int rc = Z_OK;
    fg_error *err = NULL;
    while (!err && rc != Z_STREAM_END) {
        if (len == cap) {
            if (cap > budget) {
                err = fg_errorf(FG_ERR_FORMAT, "%s: %s: text chunks decompress to more than %zu bytes (decompression bomb?)",
                                tw->name, what, FG_PNG_MAX_TEXT_BYTES);
                break;
            }
            size_t grown = cap * 2 > budget + 1 ? budget + 1 : cap * 2;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: %s: %zu bytes", tw->name, what, grown);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        size_t room = cap - len > (1u << 30) ? (1u << 30) : cap - len;
        zs.next_out = buf + len;
        zs.avail_out = (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        len += room - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) rc = Z_DATA_ERROR, zs.msg = (char *)"truncated zlib stream";
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            err = fg_errorf(FG_ERR_FORMAT, "%s: %s: bad zlib data: %s", tw->name, what, zs.msg ? zs.msg : "inflate failed");
    }
    inflateEnd(&zs);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return NULL;
}

/* Appends (key, value): key is Latin-1; value is UTF-8 when `utf8`, else UTF-8-or-Latin-1. */
static fg_error *add_entry(text_walk *tw, const char *chunk, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len, bool utf8) {
    if (memchr(value, 0, value_len))
        return fg_errorf(FG_ERR_FORMAT, "%s: %s '%.79s': text contains a NUL byte", tw->name, chunk, (const char *)key);
    if (value_len > FG_PNG_MAX_TEXT_BYTES - tw->text_bytes)
        return fg_errorf(FG_ERR_FORMAT, "%s: text chunks hold more than %zu bytes", tw->name, FG_PNG_MAX_TEXT_BYTES);
    tw->text_bytes += value_len;
    if (tw->list->count == tw->cap) {
        size_t cap = tw->cap ? tw->cap * 2 : 8;
        fg_text_entry *items = realloc(tw->list->items, cap * sizeof *items);
        if (!items) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: text list", tw->name);
        tw->list->items = items;
        tw->cap = cap;
    }
    fg_text_entry *e = &tw->list->items[tw->list->count];
    memset(e, 0, sizeof *e);
    memcpy(e->chunk, chunk, 4);
    e->key = latin1_to_utf8(key, key_len, NULL);
    if (utf8 || valid_utf8(value, value_len)) {
        e->value = copy_bytes(value, value_len);
        e->value_len = value_len;
    } else {
        e->value = latin1_to_utf8(value, value_len, &e->value_len);
    }
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: text '%.79s'", tw->name, (const char *)key);
    }
    tw->list->count++;
    return NULL;
}

/* Keyword: 1..79 bytes then NUL; *key_len excludes the NUL. */
static fg_error *split_keyword(text_walk *tw, const char *chunk, const uint8_t *d, size_t n, size_t *key_len) {
    const uint8_t *nul = memchr(d, 0, n < 80 ? n : 80);
    if (!nul) return fg_errorf(FG_ERR_FORMAT, "%s: %s chunk: keyword missing or longer than 79 bytes", tw->name, chunk);
    *key_len = (size_t)(nul - d);
    if (*key_len == 0) return fg_errorf(FG_ERR_FORMAT, "%s: %s chunk: empty keyword", tw->name, chunk);
    return NULL;
}

static fg_error *parse_ztxt(text_walk *tw, const uint8_t *d, size_t n, size_t kl) {
    if (n - kl < 2) return fg_errorf(FG_ERR_FORMAT, "%s: zTXt '%.*s': no compression method", tw->name, (int)kl, d);
    if (d[kl + 1] != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: zTXt '%.*s': unknown compression method %d", tw->name, (int)kl, d, d[kl + 1]);
    char what[100];
    snprintf(what, sizeof what, "zTXt '%.*s'", (int)kl, d);
    uint8_t *text = NULL;
    size_t len = 0;
    FG_TRY(inflate_text(tw, what, d + kl + 2, n - kl - 2, &text, &len));
    fg_error *err = add_entry(tw, "zTXt", d, kl, text, len, false);
    free(text);
    return err;
}

static fg_error *parse_itxt(text_walk *tw, const uint8_t *d, size_t n, size_t kl) {
    char what[100];
    snprintf(what, sizeof what, "iTXt '%.*s'", (int)kl, d);
    size_t p = kl + 1;
    if (n - p < 2) return fg_errorf(FG_ERR_FORMAT, "%s: %s: truncated header", tw->name, what);
    int compressed = d[p], method = d[p + 1];
    if (compressed > 1 || (compressed && method != 0))
        return fg_errorf(FG_ERR_FORMAT, "%s: %s: unknown compression flag %d / method %d", tw->name, what, compressed, method);
    p += 2;
    for (int field = 0; field < 2; field++) { /* language tag, translated keyword */
        const uint8_t *nul = memchr(d + p, 0, n - p);
        if (!nul) return fg_errorf(FG_ERR_FORMAT, "%s: %s: unterminated %s", tw->name, what, field ? "translated keyword" : "language tag");
        if (field == 1 && !valid_utf8(d + p, (size_t)(nul - (d + p))))
            return fg_errorf(FG_ERR_FORMAT, "%s: %s: translated keyword is not valid UTF-8", tw->name, what);
        p = (size_t)(nul - d) + 1;
    }
    uint8_t *text = NULL;
    size_t len = n - p;
    if (compressed) FG_TRY(inflate_text(tw, what, d + p, n - p, &text, &len));
    const uint8_t *value = compressed ? text : d + p;
    fg_error *err = NULL;
    if (!valid_utf8(value, len)) err = fg_errorf(FG_ERR_FORMAT, "%s: %s: text is not valid UTF-8", tw->name, what);
    else err = add_entry(tw, "iTXt", d, kl, value, len, true);
    free(text);
    return err;
}

static fg_error *parse_text_chunk(text_walk *tw, const char *type, const uint8_t *d, size_t n) {
    size_t kl;
    FG_TRY(split_keyword(tw, type, d, n, &kl));
    if (type[0] == 't') return add_entry(tw, "tEXt", d, kl, d + kl + 1, n - kl - 1, false);
    if (type[0] == 'z') return parse_ztxt(tw, d, n, kl);
    return parse_itxt(tw, d, n, kl);
}

static bool chunk_type_ok(const uint8_t *t) {
    for (int i = 0; i < 4; i++)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z'))) return false;
    return true;
}

static fg_error *walk_chunks(text_walk *tw, const uint8_t *data, size_t size) {
    size_t pos = 8;
    for (bool first = true;; first = false) {
        if (size - pos < 12)
            return fg_errorf(FG_ERR_FORMAT, "%s: truncated PNG: %s at offset %zu", tw->name,
                             pos == size ? "no IEND chunk" : "incomplete chunk header", pos);
        uint32_t len = be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (!chunk_type_ok(type)) return fg_errorf(FG_ERR_FORMAT, "%s: invalid PNG chunk type at offset %zu", tw->name, pos);
        char name[5] = {(char)type[0], (char)type[1], (char)type[2], (char)type[3], 0};
        if (len > 0x7fffffffu) return fg_errorf(FG_ERR_FORMAT, "%s: chunk '%s' length %u exceeds 2^31-1", tw->name, name, len);
        if (size - pos - 12 < len)
            return fg_errorf(FG_ERR_FORMAT, "%s: truncated PNG: chunk '%s' at offset %zu needs %u bytes", tw->name, name, pos, len);
        if (crc32(crc32(0, NULL, 0), type, len + 4) != be32(data + pos + 8 + len))
            return fg_errorf(FG_ERR_FORMAT, "%s: bad CRC in chunk '%s' at offset %zu", tw->name, name, pos);
        if (first && (strcmp(name, "IHDR") != 0 || len != 13))
            return fg_errorf(FG_ERR_FORMAT, "%s: the first PNG chunk must be a 13-byte IHDR (found '%s')", tw->name, name);
        if (!strcmp(name, "IEND")) return NULL;
        if (!strcmp(name, "tEXt") || !strcmp(name, "zTXt") || !strcmp(name, "iTXt"))
            FG_TRY(parse_text_chunk(tw, name, data + pos + 8, len));
        pos += 12 + (size_t)len;
    }
}

fg_error *fg_png_read_text_memory(const void *data, size_t size, const char *name, fg_text_list *out) {
    FG_CHECK_ARG(out, "fg_png_read_text_memory: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    FG_CHECK_ARG(data || size == 0, "%s: NULL data", name);
    if (size == 0) return fg_errorf(FG_ERR_FORMAT, "%s: empty file", name);
    fg_image_format fmt = fg_image_sniff(data, size);
    if (fmt == FG_IMAGE_JPEG)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: a JPEG file carries no workflow (ComfyUI embeds workflows in PNG text chunks only)", name);
    if (fmt != FG_IMAGE_PNG) return fg_errorf(FG_ERR_FORMAT, "%s: not a PNG file (unknown signature)", name);
    text_walk tw = {.name = name, .list = out};
    fg_error *err = walk_chunks(&tw, data, size);
    if (err) fg_text_list_free(out);
    return err;
}

fg_error *fg_png_read_text_file(const char *path, fg_text_list *out) {
    FG_CHECK_ARG(path && out, "fg_png_read_text_file: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t *data = NULL;
    size_t size = 0;
    FG_TRY(fg_image_load_file(path, &data, &size));
    fg_error *err = fg_png_read_text_memory(data, size, path, out);
    free(data);
    return err;
}

void fg_text_list_free(fg_text_list *list) {
    if (!list) return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].key);
        free(list->items[i].value);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

const fg_text_entry *fg_text_list_find(const fg_text_list *list, const char *key) {
    if (!list || !key) return NULL;
    for (size_t i = list->count; i-- > 0;)
        if (strcmp(list->items[i].key, key) == 0) return &list->items[i];
    return NULL;
}
