/* SentencePiece's normaliser over a precompiled charsmap (see sentencepiece_normalizer.h). */
#include "text_encoders/sentencepiece_normalizer.h"

#include <stdlib.h>
#include <string.h>

/* SentencePiece collects at most this many trie matches per position before taking the
 * longest; kept so pathological charsmaps behave the same. */
#define MAX_PREFIX_MATCHES 32

static const char SPACE_SYMBOL[] = "\xE2\x96\x81"; /* U+2581 */
static const char REPLACEMENT_CHAR[] = "\xEF\xBF\xBD"; /* U+FFFD */

fg_error *fg_sp_normalizer_init(fg_sp_normalizer *nz, const unsigned char *blob, size_t size) {
    bool flags[3] = {nz->add_dummy_prefix, nz->remove_extra_whitespaces, nz->escape_whitespaces};
    memset(nz, 0, sizeof *nz);
    nz->add_dummy_prefix = flags[0];
    nz->remove_extra_whitespaces = flags[1];
    nz->escape_whitespaces = flags[2];
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

/* Longest key prefixing s[0..n) among the first MAX_PREFIX_MATCHES matches: its length (0 when
 * none) and pool offset. Any index outside the trie ends the walk (hostile blobs). */
static size_t longest_match(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, uint32_t *value) {
    size_t best = 0, found = 0;
    uint64_t node = unit_offset(nz->units[0]);
    for (size_t i = 0; i < n && found < MAX_PREFIX_MATCHES; i++) {
        node ^= s[i];
        if (node >= nz->n_units) break;
        uint32_t u = nz->units[node];
        if (unit_label(u) != s[i]) break;
        node ^= unit_offset(u);
        if (!unit_has_leaf(u)) continue;
        if (node >= nz->n_units) break;
        found++;
        uint32_t v = unit_value(nz->units[node]);
        if (v < nz->pool_size) {
            best = i + 1;
            *value = v;
        }
    }
    return best;
}

size_t fg_sp_normalize_prefix(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, const char **rep,
                              size_t *rep_len) {
    uint32_t value = 0;
    size_t matched = nz->units ? longest_match(nz, s, n, &value) : 0;
    if (matched > 0) {
        *rep = nz->pool + value;
        *rep_len = strlen(*rep);
        return matched;
    }
    size_t len = fg_utf8_valid_len(s, n);
    if (len == 0) {
        *rep = REPLACEMENT_CHAR;
        *rep_len = 3;
        return 1;
    }
    *rep = (const char *)s;
    *rep_len = len;
    return len;
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

static fg_error *append_space(const fg_sp_normalizer *nz, fg_sp_buf *out) {
    size_t n = nz->escape_whitespaces ? 3 : 1;
    FG_TRY(buf_reserve(out, n));
    memcpy(out->data + out->len, nz->escape_whitespaces ? SPACE_SYMBOL : " ", n);
    out->len += n;
    return NULL;
}

/* Appends one replacement, dropping its leading spaces after a space (remove_extra_whitespaces)
 * and escaping the rest. Returns through *ends_in_space whether it ended in a space. */
static fg_error *append_piece(const fg_sp_normalizer *nz, const char *rep, size_t n, bool prev_space,
                              fg_sp_buf *out, bool *ends_in_space) {
    if (prev_space)
        while (n > 0 && *rep == ' ') rep++, n--;
    if (n == 0) {
        *ends_in_space = prev_space;
        return NULL;
    }
    FG_TRY(buf_reserve(out, 3 * n));
    for (size_t i = 0; i < n; i++) {
        if (rep[i] == ' ' && nz->escape_whitespaces) {
            memcpy(out->data + out->len, SPACE_SYMBOL, 3);
            out->len += 3;
        } else out->data[out->len++] = rep[i];
    }
    *ends_in_space = rep[n - 1] == ' ';
    return NULL;
}

fg_error *fg_sp_normalize(const fg_sp_normalizer *nz, const char *text, size_t len, bool at_start,
                          fg_sp_buf *out) {
    const unsigned char *s = (const unsigned char *)text;
    const char *rep;
    size_t rep_len;
    size_t start_len = out->len;
    if (at_start && nz->remove_extra_whitespaces) {
        while (len > 0) {
            size_t used = fg_sp_normalize_prefix(nz, s, len, &rep, &rep_len);
            if (rep_len != 1 || rep[0] != ' ') break;
            s += used, len -= used;
        }
    }
    if (len == 0) return NULL;
    if (at_start && nz->add_dummy_prefix) FG_TRY(append_space(nz, out));
    bool prev_space = at_start && nz->remove_extra_whitespaces;
    while (len > 0) {
        size_t used = fg_sp_normalize_prefix(nz, s, len, &rep, &rep_len);
        FG_TRY(append_piece(nz, rep, rep_len, prev_space, out, &prev_space));
        if (!nz->remove_extra_whitespaces) prev_space = false;
        s += used, len -= used;
    }
    if (nz->remove_extra_whitespaces) {
        const char *sp = nz->escape_whitespaces ? SPACE_SYMBOL : " ";
        size_t n = strlen(sp);
        while (out->len - start_len >= n && memcmp(out->data + out->len - n, sp, n) == 0) out->len -= n;
    }
    return NULL;
}
