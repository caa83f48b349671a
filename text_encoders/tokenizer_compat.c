/* The tokenizer compatibility switch (see tokenizer_compat.h). */
#include "text_encoders/tokenizer_compat.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic int g_default = FG_TOKENIZER_TRANSFORMERS5;

fg_error *fg_tokenizer_compat_parse(const char *name, fg_tokenizer_compat *out) {
    FG_CHECK_ARG(name && out, "fg_tokenizer_compat_parse: NULL argument");
    if (strcmp(name, "transformers5") == 0) *out = FG_TOKENIZER_TRANSFORMERS5;
    else if (strcmp(name, "transformers4") == 0) *out = FG_TOKENIZER_TRANSFORMERS4;
    else
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "tokenizer compatibility must be transformers5 or transformers4, not '%.64s'", name);
    return NULL;
}

const char *fg_tokenizer_compat_name(fg_tokenizer_compat c) {
    return c == FG_TOKENIZER_TRANSFORMERS4 ? "transformers4" : "transformers5";
}

void fg_tokenizer_compat_set_default(fg_tokenizer_compat c) { atomic_store(&g_default, (int)c); }

fg_tokenizer_compat fg_tokenizer_compat_default(void) { return (fg_tokenizer_compat)atomic_load(&g_default); }

bool fg_unicode_white_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
