/* Private to graph/validate*.c. */
#ifndef FG_GRAPH_VALIDATE_INTERNAL_H
#define FG_GRAPH_VALIDATE_INTERNAL_H

#include <jansson.h>

#include "nodes/node_ctx.h"

/* NULL when the constant v is acceptable for input `in`, else a ComfyUI error object. */
json_t *fg_validate_constant(const fg_input_spec *in, const json_t *v, const fg_run_settings *settings);
int fg_cmp_node_ids(const char *a, const char *b);

#endif
