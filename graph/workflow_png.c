/* Workflows embedded in PNGs: prefer the "workflow" chunk (UI format, what ComfyUI's "load"
 * does), fall back to "prompt" (API format). Chunk parsing and its hostile-input checks live
 * in core/image. */
#include <string.h>

#include "core/image.h"
#include "graph/workflow_internal.h"

fg_error *fg_workflow_from_png(const void *data, size_t len, const char *label, fg_workflow **out) {
    fg_text_list texts = {0};
    FG_TRY_CTX(fg_png_read_text_memory(data, len, label, &texts), "reading the workflow of %s", label);
    const fg_text_entry *wf = fg_text_list_find(&texts, "workflow");
    const fg_text_entry *prompt = fg_text_list_find(&texts, "prompt");
    fg_error *err = NULL;
    if (wf) {
        err = fg_workflow_from_json_text(wf->value, wf->value_len, label, out);
        if (err && prompt) { /* a broken UI chunk next to a usable prompt */
            fg_error_free(err);
            err = fg_workflow_from_json_text(prompt->value, prompt->value_len, label, out);
        }
    } else if (prompt) {
        err = fg_workflow_from_json_text(prompt->value, prompt->value_len, label, out);
    } else {
        err = fg_errorf(FG_ERR_NOT_FOUND, "%s: the PNG carries no \"workflow\" or \"prompt\" text chunk", label);
    }
    fg_text_list_free(&texts);
    return err;
}
