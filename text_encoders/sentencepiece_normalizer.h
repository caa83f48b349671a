/* Internal: SentencePiece's text normaliser over a precompiled charsmap (spec models.md 5.2).
 * Blob layout: u32 little-endian trie size in bytes, a Darts-clone double-array trie of that
 * size (u32 units), then a pool of NUL-terminated replacement strings. At each input position
 * the longest trie key that prefixes the remaining bytes is replaced by its pool string;
 * without a match one UTF-8 character is copied (an invalid byte becomes U+FFFD). Spaces are
 * then cleaned up and written as "▁" (U+2581). */
#ifndef FG_TEXT_ENCODERS_SENTENCEPIECE_NORMALIZER_H
#define FG_TEXT_ENCODERS_SENTENCEPIECE_NORMALIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct fg_sp_normalizer {
    uint32_t *units; /* NULL: identity (no charsmap) */
    size_t n_units;
    char *pool;      /* owned copy, with a NUL appended so every offset ends in a string */
    size_t pool_size;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} fg_sp_normalizer;

typedef struct fg_sp_buf {
    char *data;
    size_t len, cap;
} fg_sp_buf;

/* Validates and copies blob (size 0: identity). */
fg_error *fg_sp_normalizer_init(fg_sp_normalizer *nz, const unsigned char *blob, size_t size) FG_MUST_CHECK;
void fg_sp_normalizer_free(fg_sp_normalizer *nz);

/* Consumes the longest normalisable prefix of s[0..n) (n >= 1): returns the bytes consumed and
 * points *rep at the replacement (rep_len bytes; not NUL-terminated when it is the input). */
size_t fg_sp_normalize_prefix(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, const char **rep,
                              size_t *rep_len);

/* Appends the normalised text to out. `at_start`: the text begins the input, so leading
 * whitespace is dropped and the dummy "▁" prefix added (SentencePiece); otherwise (text after
 * a special token, HF's rule) a leading whitespace run stays as one "▁" and no prefix is added. */
fg_error *fg_sp_normalize(const fg_sp_normalizer *nz, const char *text, size_t len, bool at_start,
                          fg_sp_buf *out) FG_MUST_CHECK;

/* Length of the valid UTF-8 character at s (n >= 1 bytes available), 0 if invalid (overlong,
 * surrogate, > U+10FFFF, truncated). */
size_t fg_utf8_valid_len(const unsigned char *s, size_t n);

#endif
