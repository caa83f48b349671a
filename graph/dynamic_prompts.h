/* The frontend's dynamic prompt syntax for text widgets (graph/dynamic_prompts.c). */
#ifndef FG_GRAPH_DYNAMIC_PROMPTS_H
#define FG_GRAPH_DYNAMIC_PROMPTS_H

#include <stdbool.h>
#include <stdint.h>

/* Whether the text contains anything the processing changes. */
bool fg_dynamic_prompt_has_syntax(const char *s);
/* The text the frontend would send: comments removed, {a|b} choices made with *rng (seeded
 * from the clock when 0). malloc'd; NULL when out of memory. */
char *fg_dynamic_prompt(const char *s, uint64_t *rng);

#endif
