/* The node catalogue: for each ComfyUI node class fluxgraph runs, its inputs (name, type,
 * default, range, options), outputs and execute function, like ComfyUI's INPUT_TYPES /
 * RETURN_TYPES / FUNCTION. Each fg_node_spec is derived once, at first use, from ComfyUI's
 * own definition of the class plus the node's short C declaration (nodes/node_decl.h). The
 * graph layer validates and converts workflows against these specs; `fluxgraph nodes --json`
 * prints them in /object_info's shape. */
#ifndef FG_NODES_REGISTRY_H
#define FG_NODES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "nodes/value.h"

#define FG_NODE_MAX_INPUTS 16
#define FG_NODE_MAX_OUTPUTS 4

/* Where a COMBO's options come from when they are not a fixed list. */
typedef enum fg_combo_source {
    FG_COMBO_FIXED = 0,       /* `options` */
    FG_COMBO_CHECKPOINTS,     /* files under models/checkpoints */
    FG_COMBO_DIFFUSION_MODELS,/* models/diffusion_models + models/unet */
    FG_COMBO_TEXT_ENCODERS,   /* models/text_encoders + models/clip */
    FG_COMBO_VAE,             /* models/vae */
    FG_COMBO_LORAS,           /* models/loras */
    FG_COMBO_INPUT_IMAGES,    /* the input folder (LoadImage) */
} fg_combo_source;

typedef struct fg_input_spec {
    const char *name;
    fg_type type;              /* FG_TYPE_COMBO for option lists */
    bool optional;
    /* INT / FLOAT / BOOLEAN defaults and ranges (ComfyUI's min/max/step; step is not
     * validated, as in ComfyUI, and 0 = not declared, as ComfyUI declares none on most INTs).
     * INT ranges are carried as doubles except seeds, whose max is 2^64-1: `max_u64` marks
     * that. */
    double def, min, max, step;
    double round;              /* ComfyUI's "round" (FLOAT cfg: 0.01); 0 = not declared */
    bool has_min, has_max, max_u64;
    /* STRING / COMBO default; NULL where ComfyUI 0.30 declares none (CLIPTextEncode's text,
     * every combo of ours): a missing required value is then required_input_missing. */
    const char *def_string;
    /* COMBO fixed options, NULL-terminated: ComfyUI's list, or the declaration's subset of
     * the values that run (nodes/comfyui/not_offered.json lists those left out and why). */
    const char *const *options;
    fg_combo_source source;
    bool control_after_generate; /* a seed: the UI stores one extra widget value after it */
    bool image_upload;           /* LoadImage: the UI stores an "image" upload pseudo-widget */
    bool force_input;            /* socket only, no widget */
    bool multiline, dynamic_prompts;
} fg_input_spec;

/* ComfyUI's hidden inputs, which the server supplies rather than the workflow (SaveImage gets
 * the prompt and the UI workflow to store in the PNG). */
#define FG_HIDDEN_PROMPT 1u
#define FG_HIDDEN_EXTRA_PNGINFO 2u
#define FG_HIDDEN_UNIQUE_ID 4u

typedef struct fg_node_ctx fg_node_ctx;   /* execution context, nodes/node_ctx.h */
typedef struct fg_node_args fg_node_args; /* the inputs, read by name: nodes/node_args.h */

/* The node reads its inputs by name through nodes/node_args.h and fills
 * outputs[0..n_outputs-1]. On error the executor clears whatever was filled. */
typedef fg_error *(*fg_node_execute_fn)(fg_node_ctx *ctx, const fg_node_args *inputs, fg_value *outputs);

typedef struct fg_node_spec {
    const char *class_type;
    const char *display_name;
    const char *category;
    const char *description;
    fg_input_spec inputs[FG_NODE_MAX_INPUTS];
    int n_inputs;
    fg_type outputs[FG_NODE_MAX_OUTPUTS];
    const char *output_names[FG_NODE_MAX_OUTPUTS];
    int n_outputs;
    bool output_node;          /* SaveImage, PreviewImage */
    unsigned hidden;           /* FG_HIDDEN_* */
    bool not_idempotent;       /* never served from the cache */
    /* NULL = declared for validation and conversion only (e.g. samplers before the sampling
     * issue): running it is a clear error, never a crash. */
    fg_node_execute_fn execute;
    /* The combo lists copied from ComfyUI's definition, which inputs[].options point into
     * (owned; nodes/node_decl.h). */
    const char **owned_options;
} fg_node_spec;

/* All supported nodes, sorted by class_type. A declaration that does not fit ComfyUI's
 * definition leaves its node out (and is logged); fg_node_registry_check reports the first
 * such error, NULL when every declaration was accepted (the tests require that). */
fg_error *fg_node_registry_check(void) FG_MUST_CHECK;
size_t fg_node_count(void);
const fg_node_spec *fg_node_at(size_t i);
/* NULL when unknown. */
const fg_node_spec *fg_node_find(const char *class_type);
/* Up to `max` supported class names closest to an unknown one (edit distance), for "did you
 * mean" messages. Returns how many were written. */
size_t fg_node_suggest(const char *class_type, const char **out, size_t max);
/* Index of the input called name, -1 if none. */
int fg_node_input_index(const fg_node_spec *spec, const char *name);

#endif
