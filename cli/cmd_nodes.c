/* fluxgraph nodes [--json]: the node catalogue, as text or as ComfyUI 0.30's /object_info
 * reports these nodes (nodes/node_info.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "nodes/comfy_defs.h"
#include "graph/workflow.h"
#include "nodes/node_ctx.h"
#include "nodes/node_info.h"

static const char *node_category(const fg_node_spec *s) {
    const char *c = json_string_value(json_object_get(fg_comfy_def_find(s->class_type), "category"));
    return c ? c : s->category;
}

static void print_text(void) {
    for (size_t i = 0; i < fg_node_count(); i++) {
        const fg_node_spec *s = fg_node_at(i);
        printf("%s (%s)%s%s\n  in: ", s->class_type, node_category(s), s->output_node ? " [output]" : "",
               s->execute ? "" : " [declared, not runnable yet]");
        for (int k = 0; k < s->n_inputs; k++)
            printf("%s%s %s%s", k ? ", " : "", s->inputs[k].name, fg_type_name(s->inputs[k].type),
                   s->inputs[k].optional ? "?" : "");
        printf("\n  out: ");
        for (int k = 0; k < s->n_outputs; k++) printf("%s%s", k ? ", " : "", fg_type_name(s->outputs[k]));
        printf("%s\n", s->n_outputs ? "" : "-");
    }
}

int cmd_nodes(int argc, char **argv) {
    int json = 0;
    const char *models = getenv("FLUXGRAPH_MODELS");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) models = argv[++i];
        else {
            fprintf(stderr, "fluxgraph nodes: unexpected argument '%s'\nusage: fluxgraph nodes [--json] [--models DIR]\n",
                    argv[i]);
            return 2;
        }
    }
    if (!json) {
        print_text();
        return 0;
    }
    fg_run_settings settings = {.models_dir = models && *models ? models : NULL};
    json_t *all = fg_node_info_all(&settings);
    char *text = all ? fg_workflow_dump_api(all) : NULL;
    json_decref(all);
    if (!text) return cli_report(fg_errorf(FG_ERR_OUT_OF_MEMORY, "writing the node list"));
    printf("%s\n", text);
    free(text);
    return 0;
}
