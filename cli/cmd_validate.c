/* fluxgraph validate FILE [--models DIR] [--json]: ComfyUI's prompt validation without
 * running anything. Exit 0 valid, 2 invalid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "graph/validate.h"
#include "graph/workflow.h"

#define VALIDATE_USAGE "usage: fluxgraph validate FILE [--models DIR] [--json]\n"

/* --json answers in ComfyUI's error shape even when the file is no workflow at all. */
static void print_unreadable(const char *path, const fg_error *err) {
    json_t *j = json_pack("{s:{s:s, s:s, s:s, s:{}}, s:{}}", "error", "type", "invalid_prompt", "message",
                          fg_error_message(err), "details", path, "extra_info", "node_errors");
    char *text = j ? fg_workflow_dump_api(j) : NULL;
    if (text) printf("%s\n", text);
    else printf("{\"error\": {\"type\": \"invalid_prompt\", \"message\": \"unreadable workflow\", \"details\": \"\", "
                "\"extra_info\": {}}, \"node_errors\": {}}\n");
    free(text);
    json_decref(j);
}

int cmd_validate(int argc, char **argv) {
    const char *path = NULL, *models = getenv("FLUXGRAPH_MODELS");
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) models = argv[++i];
        else if ((argv[i][0] == '-' && argv[i][1]) || path) {
            fprintf(stderr, "fluxgraph validate: unexpected argument '%s'\n" VALIDATE_USAGE, argv[i]);
            return 2;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, VALIDATE_USAGE);
        return 2;
    }
    fg_workflow *wf = NULL;
    fg_error *err = fg_workflow_load_file(path, &wf);
    if (err && json) print_unreadable(path, err);
    if (err) return cli_workflow_error("validate", err);
    fg_run_settings settings = {.models_dir = models && *models ? models : NULL};
    fg_validation v;
    err = fg_validate_prompt(wf->prompt, &settings, &v);
    if (err) {
        fg_validation_clear(&v);
        fg_workflow_free(wf);
        return cli_report(err);
    }
    bool ok = v.ok && !v.error;
    if (json) {
        json_t *j = fg_validation_to_json(&v);
        char *text = j ? fg_workflow_dump_api(j) : NULL;
        if (text) printf("%s\n", text);
        free(text);
        json_decref(j);
    }
    if (!ok || json_object_size(v.node_errors) > 0) fg_validation_print(&v, wf->ui, stderr);
    if (ok && !json) printf("%s: valid (%zu output node%s)\n", path, json_array_size(v.outputs),
                            json_array_size(v.outputs) == 1 ? "" : "s");
    fg_validation_clear(&v);
    fg_workflow_free(wf);
    return ok ? 0 : 2;
}
