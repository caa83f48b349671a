/* A node's inputs as its execute function sees them: read by name, with the declared type
 * checked. The executor (and the tests) wrap the gathered values (values[i] belongs to
 * spec->inputs[i]) in an fg_node_args; a node never indexes them by position, so adding or
 * reordering a declared input cannot silently hand a node the wrong value.
 *
 * Every accessor fails with a message naming the node and the input: an undeclared name or a
 * declared type the accessor cannot return is a programming error (FG_ERR_INVALID_ARGUMENT,
 * "KSampler declares no input 'sead'", "EmptyLatentImage input 'width' is declared INT, read as
 * FLOAT"); so is a value whose type differs from the declaration ("... holds FLOAT, expected
 * INT": the executor converted constants against the same declaration, so only a broken caller
 * gets here). A missing required object is an error in ComfyUI's wording, which names only the
 * input ("model input is invalid: None"). */
#ifndef FG_NODES_NODE_ARGS_H
#define FG_NODES_NODE_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "nodes/registry.h"
#include "nodes/value.h"

typedef struct fg_node_args {
    const fg_node_spec *spec;
    const fg_value *values; /* values[i] for spec->inputs[i]; FG_TYPE_NONE = absent optional */
} fg_node_args;

/* Whether an input has a value (false for an absent optional input). */
bool fg_arg_given(const fg_node_args *a, const char *name);

/* Scalars: the input must be declared with this type (INT, FLOAT, BOOLEAN, STRING or COMBO)
 * and given. fg_arg_seed reads an INT as ComfyUI's unsigned 64-bit seed. */
fg_error *fg_arg_int(const fg_node_args *a, const char *name, int64_t *out) FG_MUST_CHECK;
fg_error *fg_arg_seed(const fg_node_args *a, const char *name, uint64_t *out) FG_MUST_CHECK;
fg_error *fg_arg_float(const fg_node_args *a, const char *name, double *out) FG_MUST_CHECK;
fg_error *fg_arg_bool(const fg_node_args *a, const char *name, bool *out) FG_MUST_CHECK;
/* The "width" and "height" INT inputs that image, latent and model-sampling nodes declare. */
fg_error *fg_arg_size(const fg_node_args *a, int64_t *width, int64_t *height) FG_MUST_CHECK;
/* STRING or COMBO; the string is borrowed for the duration of the call. */
fg_error *fg_arg_string(const fg_node_args *a, const char *name, const char **out) FG_MUST_CHECK;

/* An object input (MODEL, LATENT, ...) declared with `type`: *out is borrowed. A required one
 * that is missing is an error; fg_arg_object_opt sets *out = NULL for an absent input. */
fg_error *fg_arg_object(const fg_node_args *a, const char *name, fg_type type, const fg_object **out) FG_MUST_CHECK;
fg_error *fg_arg_object_opt(const fg_node_args *a, const char *name, fg_type type,
                            const fg_object **out) FG_MUST_CHECK;

#endif
