/* Workflows embedded in PNGs. The "prompt" chunk (API format) is what ran, so it is what a
 * re-run uses: the "workflow" chunk (UI format, what ComfyUI's "load" shows) can be older than
 * the prompt when a run changed values (--set, --seed, --prompt, batch seeds), and the two
 * agree otherwise. The UI workflow is kept beside the prompt (re-embedded in new images,
 * names subgraphs in messages) and fills in inputs an older prompt lacks; either chunk alone
 * is used as it is. Chunk parsing and its
 * hostile-input checks live in core/image. */
#include <string.h>

#include "core/image.h"
#include "graph/workflow_internal.h"

/* A prompt written by an older ComfyUI lacks inputs that nodes gained since; its UI copy,
 * converted with today's definitions, has them (with their defaults). Each node of the same id
 * and class takes the inputs it lacks from there; values it has are kept. */
static void fill_missing_inputs(json_t *prompt, const json_t *converted) {
    const char *id, *name;
    json_t *node, *v;
    json_object_foreach(prompt, id, node) {
        const json_t *other = json_object_get(converted, id);
        const char *a = json_string_value(json_object_get(node, "class_type"));
        const char *b = json_string_value(json_object_get(other, "class_type"));
        json_t *inputs = json_object_get(node, "inputs");
        if (!a || !b || strcmp(a, b) != 0 || !json_is_object(inputs)) continue;
        json_object_foreach(json_object_get(other, "inputs"), name, v) {
            if (!json_object_get(inputs, name)) json_object_set(inputs, name, v);
        }
    }
}

static fg_error *from_both(const fg_text_entry *ui_text, const fg_text_entry *prompt_text, const char *label,
                           fg_workflow **out) {
    fg_workflow *ran = NULL, *ui = NULL;
    fg_error *err = fg_workflow_from_json_text(prompt_text->value, prompt_text->value_len, label, &ran);
    if (!err && ran->ui) { /* a UI workflow in the prompt chunk: not what ComfyUI writes */
        fg_workflow_free(ran);
        ran = NULL;
        err = fg_errorf(FG_ERR_FORMAT, "%s: the \"prompt\" chunk is not an API prompt", label);
    }
    fg_error *ui_err = fg_workflow_from_json_text(ui_text->value, ui_text->value_len, label, &ui);
    if (err) { /* an unusable prompt next to a UI workflow: the UI alone */
        fg_error_free(err);
        *out = ui;
        return ui_err;
    }
    if (!ui_err && ui->ui) {
        fill_missing_inputs(ran->prompt, ui->prompt);
        ran->ui = ui->ui;
        ui->ui = NULL;
    }
    fg_error_free(ui_err);
    fg_workflow_free(ui);
    *out = ran;
    return NULL;
}

fg_error *fg_workflow_from_png(const void *data, size_t len, const char *label, fg_workflow **out) {
    fg_text_list texts = {0};
    FG_TRY_CTX(fg_png_read_text_memory(data, len, label, &texts), "reading the workflow of %s", label);
    const fg_text_entry *wf = fg_text_list_find(&texts, "workflow");
    const fg_text_entry *prompt = fg_text_list_find(&texts, "prompt");
    fg_error *err = NULL;
    if (wf && prompt) err = from_both(wf, prompt, label, out);
    else if (wf) err = fg_workflow_from_json_text(wf->value, wf->value_len, label, out);
    else if (prompt) err = fg_workflow_from_json_text(prompt->value, prompt->value_len, label, out);
    else err = fg_errorf(FG_ERR_NOT_FOUND, "%s: the PNG carries no \"workflow\" or \"prompt\" text chunk", label);
    fg_text_list_free(&texts);
    return err;
}
