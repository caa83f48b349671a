/* A growing, always NUL-terminated text for the graph layer's writers (workflow_dump.c,
 * dynamic_prompts.c). An allocation failure sets `failed` and later appends do nothing, so a
 * writer checks once at the end. */
#ifndef FG_GRAPH_TEXT_BUFFER_H
#define FG_GRAPH_TEXT_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool failed;
} sbuf;

void sbuf_put(sbuf *b, const char *s, size_t n);
void sbuf_puts(sbuf *b, const char *s);

#endif
