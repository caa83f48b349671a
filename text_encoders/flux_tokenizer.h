/* ComfyUI's FluxTokenizer.tokenize_with_weights: one prompt becomes a CLIP-L stream (chunks of
 * 77: bos, up to 75 tokens, eos, padded with eos) and a T5-XXL stream (one row: tokens, eos 1,
 * padded with 0 to at least 256, no truncation), both with per-token weights. Spec: docs/models.md
 * section 5, fixtures README stage 2.
 *
 * Per stream, as SDTokenizer does it: the prompt is split into weighted segments
 * (prompt_weights.h); each segment is split before every "embedding:" that follows whitespace;
 * a piece starting with "embedding:NAME" names a textual-inversion embedding, which fluxgraph
 * does not have, so (as ComfyUI does for a missing file) NAME is dropped with a warning and the
 * rest of the piece is tokenized; every other piece goes through the tokenizer on its own
 * ("group", without the tokenizer's bos/eos; no shortcuts: upstream ComfyUI has none). An
 * "embedding:" followed by no name (only whitespace) is an error, as ComfyUI fails there too.
 * Groups are packed into chunks; a group of >= 8 tokens may be split at a chunk boundary, a
 * shorter one that does not fit moves whole to the next chunk. bos/eos/pad have weight 1.0.
 *
 * Weights are Python floats in ComfyUI; they are stored here as float (what the encoders
 * multiply with), so 1e308 becomes inf, and nan stays nan. */
#ifndef FG_TEXT_ENCODERS_FLUX_TOKENIZER_H
#define FG_TEXT_ENCODERS_FLUX_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text_encoders/clip_tokenizer.h"
#include "text_encoders/t5_tokenizer.h"

enum { FG_CLIP_CHUNK_LENGTH = 77, FG_FLUX_T5_MIN_LENGTH = 256 };
/* The longest prompt tokenized, checked before any work: the T5 encoder takes at most 16384
 * tokens (~80 KB of English), so 1 MiB leaves room for any prompt that can run, while a 40 MB
 * prompt hidden in a small PNG fails at once instead of after seconds and gigabytes. */
#define FG_MAX_PROMPT_BYTES ((size_t)1 << 20)

/* rows x cols token ids and weights, row-major. */
typedef struct fg_token_chunks {
    int32_t *ids;
    float *weights;
    int64_t rows, cols;
} fg_token_chunks;

typedef struct fg_flux_tokens {
    fg_token_chunks clip; /* [chunks, 77] */
    fg_token_chunks t5;   /* [1, L], L >= 256 */
} fg_flux_tokens;

/* Both streams from one prompt (CLIPTextEncode). Invalid UTF-8 is an error naming the byte
 * offset; NUL bytes are ordinary characters. */
fg_error *fg_flux_tokenize(fg_clip_tokenizer *clip, const fg_t5_tokenizer *t5, const char *text, size_t len,
                           fg_flux_tokens *out) FG_MUST_CHECK;
/* One stream each (CLIPTextEncodeFlux gives each encoder its own text). min_length: the T5
 * row is padded to at least this many tokens (256 for FLUX). */
fg_error *fg_flux_tokenize_clip(fg_clip_tokenizer *clip, const char *text, size_t len,
                                fg_token_chunks *out) FG_MUST_CHECK;
fg_error *fg_flux_tokenize_t5(const fg_t5_tokenizer *t5, const char *text, size_t len, int64_t min_length,
                              fg_token_chunks *out) FG_MUST_CHECK;

void fg_token_chunks_free(fg_token_chunks *c);
void fg_flux_tokens_free(fg_flux_tokens *t);

#endif
