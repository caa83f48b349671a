/* What a node sees of the run it is part of: its id, the folders, the device, progress and
 * cancellation, the workflow to embed in saved images, and where to report UI results. The
 * executor (graph/) fills it; nodes only call these accessors. */
#ifndef FG_NODES_NODE_CTX_H
#define FG_NODES_NODE_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nodes/registry.h"

typedef struct fg_run_settings {
    const char *models_dir;   /* ComfyUI-style models/ folder (NULL: none configured) */
    const char *output_dir;   /* SaveImage root; nothing is written outside it */
    const char *temp_dir;     /* PreviewImage */
    const char *input_dir;    /* LoadImage */
    fg_device device;         /* where loaders put the models (--device) */
    fg_dtype act_dtype;       /* their activations: F32 or BF16 (--activations); 0 is F32 */
    bool embed_metadata;      /* write prompt/workflow into PNGs (--no-metadata turns it off) */
    int image_format;         /* 0 = PNG, 1 = JPEG */
    int jpeg_quality;
    bool strict_lora;         /* --strict-lora: a LoRA key that maps to no weight is an error */
    /* Set asynchronously (Ctrl-C); nodes with long loops check it between steps. */
    volatile int *cancel_flag;
} fg_run_settings;

/* Progress callback the executor installs: value of max (sampling steps, tiles). */
typedef void (*fg_node_progress_fn)(void *user, const char *node_id, int64_t value, int64_t max);

struct fg_node_ctx {
    const char *node_id;
    const fg_node_spec *spec;
    const fg_run_settings *settings;
    /* The executed API prompt and the UI workflow (NULL if none): JSON text for PNG chunks. */
    const char *prompt_json;
    const char *workflow_json;
    fg_node_progress_fn progress;
    void *progress_user;
    /* UI result of an output node (ComfyUI's {"images": [...]}), as a JSON text the node
     * builds; owned by the executor after the call. */
    char *ui_result_json;
};

void fg_node_progress(fg_node_ctx *ctx, int64_t value, int64_t max);
bool fg_node_cancelled(const fg_node_ctx *ctx);
/* FG_ERR_CANCELLED with a clear message, for nodes to return when fg_node_cancelled. */
fg_error *fg_node_cancel_error(const fg_node_ctx *ctx) FG_MUST_CHECK;

/* Resolves a model name of a COMBO source against the models folder: the name must be a
 * relative path without ".." components, found under one of the source's folders
 * (diffusion_models/ or unet/, text_encoders/ or clip/, vae/, loras/, checkpoints/). Writes
 * the full path. Errors list what the folder holds. */
fg_error *fg_node_resolve_model(const fg_run_settings *settings, fg_combo_source source, const char *name,
                                char *path, size_t cap) FG_MUST_CHECK;
/* Lists the model files of a source (sorted, relative, '/' separators) as a
 * NULL-terminated malloc'd array of malloc'd strings (free with fg_string_list_free). */
fg_error *fg_node_list_models(const fg_run_settings *settings, fg_combo_source source, char ***names,
                              size_t *count) FG_MUST_CHECK;
void fg_string_list_free(char **list);

#endif
