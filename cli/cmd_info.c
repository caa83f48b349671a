/* Placeholder: replaced by the real subcommand. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "fluxgraph: info is not implemented yet\n");
    return 1;
}
