/* Private to nodes/: each family file (nodes_loaders.c, nodes_conditioning.c, ...) exports its
 * node declarations (nodes/node_decl.h: the class, the execute function, and what fluxgraph
 * restricts of ComfyUI's definition); registry.c derives the specs and sorts them into one
 * catalogue. */
#ifndef FG_NODES_NODE_FAMILIES_H
#define FG_NODES_NODE_FAMILIES_H

#include <stddef.h>

#include "nodes/node_args.h"
#include "nodes/node_decl.h"
#include "nodes/registry.h"

extern const char *const fg_sampler_names[];   /* docs/comfyui.md 3.5, NULL-terminated */
extern const char *const fg_scheduler_names[];

extern const fg_node_decl fg_nodes_loaders[];
extern const size_t fg_nodes_loaders_count;
extern const fg_node_decl fg_nodes_conditioning[];
extern const size_t fg_nodes_conditioning_count;
extern const fg_node_decl fg_nodes_latent[];
extern const size_t fg_nodes_latent_count;
extern const fg_node_decl fg_nodes_image[];
extern const size_t fg_nodes_image_count;
extern const fg_node_decl fg_nodes_vae[];
extern const size_t fg_nodes_vae_count;
extern const fg_node_decl fg_nodes_sampling[];
extern const size_t fg_nodes_sampling_count;
extern const fg_node_decl fg_nodes_lora[];
extern const size_t fg_nodes_lora_count;

#endif
