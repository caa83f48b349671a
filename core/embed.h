/* Files compiled into the binary with the assembler's .incbin (paths relative to the
 * repository root, where make runs the compiler), so fluxgraph needs no data files beside it.
 * Each blob is followed by a NUL byte so text parsers may treat it as a C string; `size`
 * excludes it. A .c file that embeds must be listed as depending on the file in the Makefile
 * (-MMD cannot see .incbin). */
#ifndef FG_CORE_EMBED_H
#define FG_CORE_EMBED_H

#include <stddef.h>

typedef struct fg_blob {
    const unsigned char *data;
    size_t size;
} fg_blob;

/* Defines `fg_blob sym(void)` returning the embedded contents of path. */
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

#endif
