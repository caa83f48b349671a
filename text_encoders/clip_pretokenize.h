/* Internal to the CLIP tokenizer: everything before BPE, for both compatibility modes
 * (docs/tokenizers.md, "CLIP-L"): special tokens split out of the raw text, the normaliser,
 * and the pre-tokenizer regexes. */
#ifndef FG_TEXT_ENCODERS_CLIP_PRETOKENIZE_H
#define FG_TEXT_ENCODERS_CLIP_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text_encoders/tokenizer_compat.h"

/* Called for every pre-token in order: either a special token (special_id >= 0, word NULL) or a
 * pre-token to byte-encode and BPE (word[0..len) UTF-8, special_id -1). */
typedef fg_error *(*fg_clip_emit_fn)(void *ctx, const char *word, size_t len, int32_t special_id);

/* Splits len bytes of UTF-8 into pre-tokens. Invalid UTF-8 is an error naming the byte offset.
 * The largest number of ids this can lead to is at most 4 * len + 1. */
fg_error *fg_clip_pretokenize(fg_tokenizer_compat mode, const char *text, size_t len, fg_clip_emit_fn emit,
                              void *ctx) FG_MUST_CHECK;

#endif
