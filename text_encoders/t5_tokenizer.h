/* T5 v1.1 SentencePiece unigram tokenizer, as ComfyUI's T5 tokenizer (Hugging Face tokenizers,
 * driven by transformers 5.x or 4.x: tokenizer_compat.h) produces ids: the nmt_nfkc precompiled
 * charsmap, the mode's whitespace handling and "▁" prefixes, Viterbi segmentation over piece
 * scores, unknown characters as <unk> (docs/models.md section 5.2, docs/tokenizers.md). */
#ifndef FG_TEXT_ENCODERS_T5_TOKENIZER_H
#define FG_TEXT_ENCODERS_T5_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text_encoders/tokenizer_compat.h"

enum { FG_T5_PAD_ID = 0, FG_T5_EOS_ID = 1, FG_T5_UNK_ID = 2 };

typedef struct fg_t5_tokenizer fg_t5_tokenizer;

/* The vocabulary compiled into the binary (text_encoders/vocab/t5xxl). */
fg_error *fg_t5_tokenizer_load_default(fg_t5_tokenizer **out) FG_MUST_CHECK;
/* A tokenizer.json (HF tokenizers) or spiece.model (SentencePiece protobuf) file. */
fg_error *fg_t5_tokenizer_load_file(const char *path, fg_t5_tokenizer **out) FG_MUST_CHECK;
void fg_t5_tokenizer_free(fg_t5_tokenizer *tok);

/* Encodes len bytes of UTF-8 text to piece ids WITHOUT the trailing eos. Special tokens
 * written in the text (<pad>, </s>, <unk>, <extra_id_N>) become their ids, as in the HF
 * tokenizer ComfyUI uses. *ids is malloc'd
 * (free() it; may be NULL when *count is 0). Invalid UTF-8 is not an error: each bad byte is
 * treated as U+FFFD. */
fg_error *fg_t5_tokenize(const fg_t5_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                         size_t *count) FG_MUST_CHECK;

/* The compatibility mode (tokenizer_compat.h); a new tokenizer takes the process default. */
void fg_t5_tokenizer_set_compat(fg_t5_tokenizer *tok, fg_tokenizer_compat mode);
fg_tokenizer_compat fg_t5_tokenizer_compat(const fg_t5_tokenizer *tok);

/* Number of pieces (32100 for T5 v1.1 with its 100 extra ids). */
size_t fg_t5_vocab_size(const fg_t5_tokenizer *tok);
/* The piece text of id ("▁Hello"), NULL when out of range. For debugging and tests. */
const char *fg_t5_piece(const fg_t5_tokenizer *tok, int32_t id);

#endif
