/* Internal: the precompiled-charsmap normaliser of T5's tokenizer, as the Hugging Face tokenizers
 * library applies it (docs/models.md 5.2, docs/tokenizers.md). Blob layout: u32 little-endian
 * trie size in bytes, a Darts-clone double-array trie of that size (u32 units), then a pool of
 * NUL-terminated replacement strings. The text is walked by extended grapheme cluster
 * (utf8proc): a cluster shorter than 6 bytes that has any key as a prefix is replaced whole by
 * the string of the SHORTEST such key (the rest of the cluster is dropped); otherwise each of its
 * characters is replaced by its own entry, or kept. Whitespace handling is the tokenizer's
 * (t5_tokenizer.c), as it differs between transformers 4.x and 5.x. */
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
} fg_sp_normalizer;

typedef struct fg_sp_buf {
    char *data;
    size_t len, cap;
} fg_sp_buf;

/* Validates and copies blob (size 0: identity). */
fg_error *fg_sp_normalizer_init(fg_sp_normalizer *nz, const unsigned char *blob, size_t size) FG_MUST_CHECK;
void fg_sp_normalizer_free(fg_sp_normalizer *nz);

/* The mapping of the shortest charsmap key that prefixes s[0..n): true and *rep (rep_len bytes,
 * inside the pool); false when no key matches (or there is no charsmap). */
bool fg_sp_charsmap_lookup(const fg_sp_normalizer *nz, const unsigned char *s, size_t n, const char **rep,
                           size_t *rep_len);

/* Appends the charsmap-normalised text to out (kept NUL-terminated). An invalid UTF-8 byte
 * becomes U+FFFD (it cannot occur in ComfyUI, whose text is a Python str). */
fg_error *fg_sp_charsmap_apply(const fg_sp_normalizer *nz, const char *text, size_t len,
                               fg_sp_buf *out) FG_MUST_CHECK;
fg_error *fg_sp_buf_append(fg_sp_buf *b, const char *s, size_t n) FG_MUST_CHECK;

/* Length of the valid UTF-8 character at s (n >= 1 bytes available), 0 if invalid (overlong,
 * surrogate, > U+10FFFF, truncated). */
size_t fg_utf8_valid_len(const unsigned char *s, size_t n);

#endif
