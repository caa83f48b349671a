#ifndef FG_TESTS_GRAPH_UTIL_H
#define FG_TESTS_GRAPH_UTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "nodes/node_ctx.h"

/* Human validation report (or the error message); *ok = prompt valid. malloc'd. */
char *graph_validate_text(const json_t *prompt, const fg_run_settings *settings, bool *ok);
bool graph_json_same(const json_t *a, const json_t *b);

#endif
