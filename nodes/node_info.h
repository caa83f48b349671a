/* A supported node's /object_info entry, as `fluxgraph nodes --json` prints it and as ComfyUI
 * 0.30 would report the same node (docs/nodes.md). */
#ifndef FG_NODES_NODE_INFO_H
#define FG_NODES_NODE_INFO_H

#include <jansson.h>

#include "nodes/node_ctx.h"
#include "nodes/registry.h"

/* The entry of one node; combos over folders list the files found through settings (none
 * without a models folder). NULL only when out of memory. */
json_t *fg_node_info(const fg_node_spec *spec, const fg_run_settings *settings);
/* The entry of spec->inputs[i] alone ([type, {options}]), what ComfyUI's validation errors
 * carry as extra_info.input_config. */
json_t *fg_node_input_info(const fg_node_spec *spec, int i, const fg_run_settings *settings);
/* Every supported node, class -> entry, sorted by class. */
json_t *fg_node_info_all(const fg_run_settings *settings);

#endif
