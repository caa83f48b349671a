/* Embeds the vocabulary files with the assembler's .incbin (paths relative to the repository
 * root, where make runs the compiler). Each blob is followed by a NUL byte so text parsers may
 * treat it as a C string; `size` excludes it. */
#include "text_encoders/vocab_data.h"

#define FG_EMBED(sym, path)                                                                \
    __asm__(".section .rodata\n"                                                           \
            ".balign 16\n"                                                                 \
            ".global " #sym "_start\n" #sym "_start:\n"                                    \
            ".incbin \"" path "\"\n"                                                       \
            ".global " #sym "_end\n" #sym "_end:\n"                                        \
            ".byte 0\n"                                                                    \
            ".previous\n");                                                                \
    extern const unsigned char sym##_start[], sym##_end[];                                 \
    fg_blob sym(void) { return (fg_blob){sym##_start, (size_t)(sym##_end - sym##_start)}; }

FG_EMBED(fg_vocab_clip_vocab_json, "text_encoders/vocab/clip_l/vocab.json")
FG_EMBED(fg_vocab_clip_merges_txt, "text_encoders/vocab/clip_l/merges.txt")
FG_EMBED(fg_vocab_t5_tokenizer_json, "text_encoders/vocab/t5xxl/tokenizer.json")
FG_EMBED(fg_vocab_t5_spiece_model, "text_encoders/vocab/t5xxl/spiece.model")
