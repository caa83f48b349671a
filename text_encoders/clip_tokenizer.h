/* CLIP byte-level BPE tokenizer (CLIP-L), as ComfyUI's transformers CLIPTokenizer produces ids
 * (without ftfy, which ComfyUI does not install). Rules per compatibility mode: docs/tokenizers.md.
 *
 * Pipeline: special tokens cut out of the raw text, the mode's normaliser and pre-tokenizer
 * (clip_pretokenize.c: transformers 4.x's BasicTokenizer clean-up, CJK split, NFC, str.lower,
 * or 5.x's NFC, whitespace runs to one space, per-character lower case), UTF-8 bytes -> byte
 * symbols, BPE with "</w>" on the last symbol, vocabulary ids.
 *
 * Unicode data (categories, NFC, case mapping) comes from utf8proc (2.8: Unicode 15.0).
 * Known differences from the reference (all exotic input): the Python / Rust / Oniguruma
 * behind the reference have other Unicode versions (Python 3.11: 14.0), so characters assigned
 * in between get other categories; for 4.x the "cased"/"case-ignorable" sets of the final-sigma
 * rule are approximated from categories (Lu/Ll/Lt or having a case mapping; Mn/Me/Cf/Lm/Sk plus
 * ' . : U+00B7 U+2018 U+2019 U+2024 U+2027); the regex module's IGNORECASE letter class would
 * also accept U+0345.
 *
 * The tokenizer keeps a word -> ids cache, guarded by a mutex, so one tokenizer may be shared
 * by threads. */
#ifndef FG_TEXT_ENCODERS_CLIP_TOKENIZER_H
#define FG_TEXT_ENCODERS_CLIP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text_encoders/tokenizer_compat.h"

enum { FG_CLIP_BOS_ID = 49406, FG_CLIP_EOS_ID = 49407, FG_CLIP_PAD_ID = 49407, FG_CLIP_VOCAB_SIZE = 49408 };

typedef struct fg_clip_tokenizer fg_clip_tokenizer;

/* The vocabulary compiled into the binary (text_encoders/vocab/clip_l). */
fg_error *fg_clip_tokenizer_load_default(fg_clip_tokenizer **out) FG_MUST_CHECK;
/* vocab.json (token -> id object) and merges.txt ("#version" line, then "left right" lines in
 * rank order) given as buffers; labels name them in errors. */
fg_error *fg_clip_tokenizer_load(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                 size_t merges_len, fg_clip_tokenizer **out) FG_MUST_CHECK;
void fg_clip_tokenizer_free(fg_clip_tokenizer *tok);

/* Encodes len bytes of UTF-8 (NUL bytes allowed: they are dropped like any U+0000) to ids
 * WITHOUT bos/eos. *ids is malloc'd (free() it; NULL when *count is 0). Invalid UTF-8 is an
 * error naming the byte offset. */
fg_error *fg_clip_tokenize(fg_clip_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                           size_t *count) FG_MUST_CHECK;

/* The compatibility mode (tokenizer_compat.h); a new tokenizer takes the process default. */
void fg_clip_tokenizer_set_compat(fg_clip_tokenizer *tok, fg_tokenizer_compat mode);
fg_tokenizer_compat fg_clip_tokenizer_compat(const fg_clip_tokenizer *tok);

/* One piece of text (no special tokens cut out) after the mode's normaliser, as the
 * pre-tokenizer sees it (tests, debugging). *out is malloc'd and NUL-terminated. */
fg_error *fg_clip_normalize(fg_tokenizer_compat mode, const char *text, size_t len, char **out,
                            size_t *out_len) FG_MUST_CHECK;

/* Id of the exact vocabulary key (byte-symbol spelling, e.g. "cat</w>"), -1 if absent. */
int32_t fg_clip_token_id(const fg_clip_tokenizer *tok, const char *key, size_t len);
/* The vocabulary key of id, NULL when out of range. */
const char *fg_clip_token_text(const fg_clip_tokenizer *tok, int32_t id);

/* First invalid position of a UTF-8 buffer (Python's strict decoder rules: no overlongs,
 * surrogates or values above U+10FFFF), or len when it is valid. */
size_t fg_utf8_first_invalid(const char *text, size_t len);

#endif
