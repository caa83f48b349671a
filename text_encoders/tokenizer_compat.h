/* Which Hugging Face transformers major version the tokenizers reproduce (docs/tokenizers.md).
 * ComfyUI requires transformers >= 4.50.3, so installs differ: a fresh one gets 5.x, whose CLIP
 * and T5 tokenizers treat non-English text, control characters and whitespace differently from
 * 4.x. fluxgraph follows 5.x unless asked otherwise (--tokenizer-compat transformers4 or
 * FLUXGRAPH_TOKENIZER_COMPAT=transformers4).
 *
 * A tokenizer takes the process-wide default when it is loaded; tests switch a loaded one with
 * fg_clip_tokenizer_set_compat / fg_t5_tokenizer_set_compat. */
#ifndef FG_TEXT_ENCODERS_TOKENIZER_COMPAT_H
#define FG_TEXT_ENCODERS_TOKENIZER_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef enum fg_tokenizer_compat {
    FG_TOKENIZER_TRANSFORMERS5 = 0, /* the default */
    FG_TOKENIZER_TRANSFORMERS4 = 1,
} fg_tokenizer_compat;

/* "transformers5" or "transformers4" (exactly); anything else is an error naming the value. */
fg_error *fg_tokenizer_compat_parse(const char *name, fg_tokenizer_compat *out) FG_MUST_CHECK;
const char *fg_tokenizer_compat_name(fg_tokenizer_compat c);

/* The process-wide default for tokenizers loaded from now on (set once by the CLI at start-up). */
void fg_tokenizer_compat_set_default(fg_tokenizer_compat c);
fg_tokenizer_compat fg_tokenizer_compat_default(void);

/* The Unicode White_Space property (what \s means in the tokenizers library's regexes and what
 * Rust's char::is_whitespace tests): a fixed list since Unicode 6.3. Shared by both tokenizers. */
bool fg_unicode_white_space(int32_t c);

#endif
