/* SentencePiece's normaliser over a precompiled charsmap (see sentencepiece_normalizer.h). */
#include "text_encoders/sentencepiece_normalizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* A cluster shorter than this many bytes is first looked up whole. */
enum { CLUSTER_LOOKUP_MAX = 6 };

static const char REPLACEMENT_CHAR[] = "\xEF\xBF\xBD"; /* U+FFFD */

fg_error *fg_sp_normalizer_init(fg_sp_normalizer *nz, const unsigned char *blob, size_t size) {
    memset(nz, 0, sizeof *nz);
    if (size == 0) return NULL;
    if (size < 8) return fg_errorf(FG_ERR_FORMAT, "precompiled charsmap of %zu bytes is too short", size);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (trie_bytes < 4 || trie_bytes % 4 != 0 || trie_bytes > size - 4)
        return fg_errorf(FG_ERR_FORMAT, "precompiled charsmap: trie size %u does not fit its %zu bytes", trie_bytes,
                         size);
    nz->n_units = trie_bytes / 4;
    nz->pool_size = size - 4 - trie_bytes;
    nz->units = malloc(trie_bytes);
    nz->pool = malloc(nz->pool_size + 1);
    if (!nz->units || !nz->pool) {
        fg_sp_normalizer_free(nz);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "precompiled charsmap");
    }
    for (size_t i = 0; i < nz->n_units; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        nz->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(nz->pool, blob + 4 + trie_bytes, nz->pool_size);
    nz->pool[nz->pool_size] = '\0';
    return NULL;
}

void fg_sp_normalizer_free(fg_sp_normalizer *nz) {
    free(nz->units);
    free(nz->pool);
    nz->units = NULL;
    nz->pool = NULL;
    nz->n_units = nz->pool_size = 0;
}

size_t fg_utf8_valid_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Darts-clone unit fields. */
static inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & 0x200) >> 6); }
static inline uint32_t unit_label(uint32_t u) { return u & 0x800000FFu; }
static inline int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }

/* The shortest key prefixing s[0..n), as the first result of a common-prefix search: its length
 * (0 when none) and pool offset. Any index outside the trie ends the walk (hostile blobs). */
static size_t shortest_match(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, uint32_t *value) {
    uint64_t node = unit_offset(nz->units[0]);
    for (size_t i = 0; i < n; i++) {
        node ^= s[i];
        if (node >= nz->n_units) break;
        uint32_t u = nz->units[node];
        if (unit_label(u) != s[i]) break;
        node ^= unit_offset(u);
        if (!unit_has_leaf(u)) continue;
        if (node >= nz->n_units) break;
        uint32_t v = unit_value(nz->units[node]);
        if (v < nz->pool_size) {
            *value = v;
            return i + 1;
        }
    }
    return 0;
}

bool fg_sp_charsmap_lookup(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, const char **rep,
                           size_t *rep_len) {
    uint32_t value = 0;
    if (!nz->units || n == 0 || !shortest_match(nz, s, n, &value)) return false;
    *rep = nz->pool + value;
    *rep_len = strlen(*rep);
    return true;
}

static fg_error *buf_reserve(fg_sp_buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return NULL;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "normalised text of %zu bytes", cap);
    b->data = d;
    b->cap = cap;
    return NULL;
}

fg_error *fg_sp_buf_append(fg_sp_buf *b, const char *s, size_t n) {
    FG_TRY(buf_reserve(b, n + 1));
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
    return NULL;
}

/* One character at s: its byte length and code point; an invalid byte is one U+FFFD. */
static size_t next_char(const unsigned char *s, size_t n, int32_t *cp) {
    size_t len = fg_utf8_valid_len(s, n);
    if (len == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    utf8proc_int32_t c = 0;
    utf8proc_iterate(s, (utf8proc_ssize_t)len, &c);
    *cp = c;
    return len;
}

/* One character of a cluster that was not replaced whole: its own mapping or itself. */
static fg_error *map_char(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, fg_sp_buf *out) {
    const char *rep;
    size_t rep_len;
    if (fg_utf8_valid_len(s, n) == 0) return fg_sp_buf_append(out, REPLACEMENT_CHAR, 3);
    if (fg_sp_charsmap_lookup(nz, s, n, &rep, &rep_len)) return fg_sp_buf_append(out, rep, rep_len);
    return fg_sp_buf_append(out, (const char *)s, n);
}

/* One extended grapheme cluster s[0..n) (tokenizers' Precompiled::normalize). */
static fg_error *map_cluster(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, fg_sp_buf *out) {
    const char *rep;
    size_t rep_len;
    if (n < CLUSTER_LOOKUP_MAX && fg_sp_charsmap_lookup(nz, s, n, &rep, &rep_len))
        return fg_sp_buf_append(out, rep, rep_len);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = next_char(s + i, n - i, &cp);
        FG_TRY(map_char(nz, s + i, k, out));
        i += k;
    }
    return NULL;
}

fg_error *fg_sp_charsmap_apply(const fg_sp_normalizer *nz, const char *text, size_t len, fg_sp_buf *out) {
    const unsigned char *s = (const unsigned char *)text;
    FG_TRY(buf_reserve(out, len + 1));
    if (!nz->units) return fg_sp_buf_append(out, text, len);
    utf8proc_int32_t state = 0;
    int32_t prev = -1;
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t k = next_char(s + i, len - i, &cp);
        if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
            FG_TRY(map_cluster(nz, s + start, i - start, out));
            start = i;
        }
        prev = cp;
        i += k;
    }
    if (len > start) FG_TRY(map_cluster(nz, s + start, len - start, out));
    return NULL;
}
