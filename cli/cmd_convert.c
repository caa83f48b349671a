/* fluxgraph convert FILE: prints the API-format prompt of an API/UI JSON or a PNG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "graph/workflow.h"

/* 1 for unreadable files, 2 for files that are not a usable workflow. */
int cli_workflow_error(const char *cmd, fg_error *err) {
    int code = fg_error_code_of(err) == FG_ERR_IO || fg_error_code_of(err) == FG_ERR_OUT_OF_MEMORY ? 1 : 2;
    fprintf(stderr, "fluxgraph %s: error: %s\n", cmd, fg_error_message(err));
    fg_error_free(err);
    return code;
}

int cmd_convert(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((argv[i][0] == '-' && argv[i][1]) || path) {
            fprintf(stderr, "fluxgraph convert: unexpected argument '%s'\nusage: fluxgraph convert FILE\n", argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: fluxgraph convert FILE (API or UI JSON, or a PNG with a workflow)\n");
        return 2;
    }
    fg_workflow *wf = NULL;
    fg_error *err = fg_workflow_load_file(path, &wf);
    if (err) return cli_workflow_error("convert", err);
    char *text = fg_workflow_dump_api(wf->prompt);
    fg_workflow_free(wf);
    if (!text) return cli_report(fg_errorf(FG_ERR_OUT_OF_MEMORY, "writing the prompt"));
    printf("%s\n", text);
    free(text);
    return 0;
}
