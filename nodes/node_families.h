/* Private to nodes/: each family file (nodes_loaders.c, nodes_conditioning.c, ...) exports
 * its spec table; registry.c assembles them into one sorted catalogue. The IN_* macros keep
 * the tables readable: one line per input, in ComfyUI's declaration order (which is also
 * the UI's widget order, comfyui.md 1.3). */
#ifndef FG_NODES_NODE_FAMILIES_H
#define FG_NODES_NODE_FAMILIES_H

#include <stddef.h>

#include "nodes/node_args.h"
#include "nodes/registry.h"

#define FG_U64_MAX_AS_DOUBLE 18446744073709551615.0

#define IN_SOCKET(n, t) {.name = (n), .type = (t)}
/* st = 0: no step declared (ComfyUI's INTs mostly declare none). */
#define IN_INT(n, d, lo, hi, st)                                                          \
    {.name = (n), .type = FG_TYPE_INT, .def = (d), .min = (lo), .max = (hi), .step = (st), \
     .has_min = true, .has_max = true}
#define IN_FLOAT(n, d, lo, hi, st)                                                          \
    {.name = (n), .type = FG_TYPE_FLOAT, .def = (d), .min = (lo), .max = (hi), .step = (st), \
     .has_min = true, .has_max = true}
/* Seeds: 0 .. 2^64-1 with the UI's control_after_generate pseudo-widget after them. */
#define IN_SEED(n)                                                                          \
    {.name = (n), .type = FG_TYPE_INT, .def = 0, .min = 0, .max = FG_U64_MAX_AS_DOUBLE,     \
     .has_min = true, .has_max = true, .max_u64 = true, .control_after_generate = true}
#define IN_BOOL(n, d) {.name = (n), .type = FG_TYPE_BOOLEAN, .def = (d)}
#define IN_STRING(n, d) {.name = (n), .type = FG_TYPE_STRING, .def_string = (d)}
/* Prompts have no default in ComfyUI: a missing one is required_input_missing. */
#define IN_TEXT(n) {.name = (n), .type = FG_TYPE_STRING, .multiline = true, .dynamic_prompts = true}
/* Combos have no declared default (the UI starts at the first option); opts holds only the
 * values fluxgraph runs. */
#define IN_COMBO(n, opts) {.name = (n), .type = FG_TYPE_COMBO, .options = (opts)}
#define IN_MODELS(n, src) {.name = (n), .type = FG_TYPE_COMBO, .source = (src)}

extern const char *const fg_sampler_names[];   /* comfyui.md 3.5, NULL-terminated */
extern const char *const fg_scheduler_names[];

extern const fg_node_spec fg_nodes_loaders[];
extern const size_t fg_nodes_loaders_count;
extern const fg_node_spec fg_nodes_conditioning[];
extern const size_t fg_nodes_conditioning_count;
extern const fg_node_spec fg_nodes_latent[];
extern const size_t fg_nodes_latent_count;
extern const fg_node_spec fg_nodes_image[];
extern const size_t fg_nodes_image_count;
extern const fg_node_spec fg_nodes_vae[];
extern const size_t fg_nodes_vae_count;
extern const fg_node_spec fg_nodes_sampling[];
extern const size_t fg_nodes_sampling_count;
extern const fg_node_spec fg_nodes_lora[];
extern const size_t fg_nodes_lora_count;

#endif
