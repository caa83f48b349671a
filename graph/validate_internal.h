/* Private to graph/validate*.c. */
#ifndef FG_GRAPH_VALIDATE_INTERNAL_H
#define FG_GRAPH_VALIDATE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "nodes/node_ctx.h"

/* NULL when the constant v is acceptable for input `in` (converted by fg_convert_constant,
 * then range- and option-checked), with *converted its converted value (new reference);
 * else a ComfyUI error object. */
json_t *fg_validate_constant(const fg_input_spec *in, const json_t *v, const fg_run_settings *settings,
                             json_t **converted);
/* ComfyUI's error objects for a constant: invalid_input_type ("Failed to convert an input
 * value to a INT value", details "<input>, <value>, <why>"), value_smaller_than_min /
 * value_bigger_than_max (shown: the value as printed), and a constant given for a link type. */
json_t *fg_constant_type_error(const fg_input_spec *in, const json_t *v, const char *why);
json_t *fg_constant_range_error(const fg_input_spec *in, const json_t *v, const char *shown, bool too_small);
json_t *fg_constant_link_error(const fg_input_spec *in, const json_t *v);
int fg_cmp_node_ids(const char *a, const char *b);

#endif
