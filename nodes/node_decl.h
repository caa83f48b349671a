/* A node class is declared once, by ComfyUI: its /object_info entry (nodes/comfyui/object_info.json,
 * nodes/comfy_defs.h) gives the inputs in order with their types, defaults, ranges, combo lists
 * and widget flags, the hidden inputs, the outputs with their names, the display name,
 * category, description and whether it is an output node. fluxgraph's C declaration of a node
 * it runs only attaches what ComfyUI cannot know:
 *
 *   - the class and its execute function,
 *   - ONLY(input, list): a combo restricted to the values fluxgraph runs (a subset of ComfyUI's
 *     list in ComfyUI's order; nodes/comfyui/not_offered.json says why the rest are left out),
 *   - FILES(input, source): a combo whose values are the files of a models folder (ComfyUI's
 *     list is whatever its own folders held when the data was captured),
 *   - not_idempotent: never served from the executor's cache.
 *
 * fg_node_spec_derive builds the consumer-facing fg_node_spec (nodes/registry.h) from the two
 * and refuses a declaration that does not fit ComfyUI's entry: an unknown class or input, a
 * restriction that offers a value ComfyUI does not, a type fluxgraph has no values of. Adding a
 * node is one declaration line and one execute function. */
#ifndef FG_NODES_NODE_DECL_H
#define FG_NODES_NODE_DECL_H

#include <stdbool.h>

#include "core/error.h"
#include "nodes/registry.h"

#define FG_NODE_MAX_RULES 4

/* What fluxgraph adds to one of ComfyUI's inputs (a COMBO): options or source, not both. */
typedef struct fg_input_rule {
    const char *name;
    const char *const *options; /* NULL-terminated; NULL = ComfyUI's whole list */
    fg_combo_source source;     /* FG_COMBO_FIXED = the list, else a models folder */
} fg_input_rule;

typedef struct fg_node_decl {
    const char *class_type;
    fg_node_execute_fn execute;
    fg_input_rule rules[FG_NODE_MAX_RULES]; /* the unused tail has name NULL */
    bool not_idempotent;
} fg_node_decl;

/* {NODE("VAEDecode", vae_decode)}, {NODE("VAELoader", vae_loader), .rules = {FILES(...)}} */
#define NODE(cls, fn) .class_type = (cls), .execute = (fn)
#define ONLY(n, opts) {.name = (n), .options = (opts)}
#define FILES(n, src) {.name = (n), .source = (src)}

/* The spec of a declared node, from ComfyUI's entry for its class plus the declaration's
 * rules. Strings borrow from the declaration and the embedded ComfyUI data (both live as long
 * as the process); combo lists copied from ComfyUI are owned by *out until
 * fg_node_spec_release. On error *out is left empty. */
fg_error *fg_node_spec_derive(const fg_node_decl *decl, fg_node_spec *out) FG_MUST_CHECK;
void fg_node_spec_release(fg_node_spec *spec);

#endif
