/* The fluxgraph subcommands. Each returns the process exit code (0 ok, 1 failure, 2 usage)
 * and prints its own errors; main.c owns the global options. */
#ifndef FG_CLI_COMMANDS_H
#define FG_CLI_COMMANDS_H

#include "core/error.h"
#include "core/tensor.h"

typedef struct cli_globals {
    fg_device device;   /* resolved from --device / auto-detection */
    int device_forced;  /* --device was given */
    fg_dtype act_dtype; /* --activations f32|bf16 (default: BF16 on cuda, F32 on cpu) */
    int threads;        /* 0 = default */
} cli_globals;

extern cli_globals g_cli;

int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_nodes(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* Prints a workflow loading error; returns 1 for unreadable files, 2 for invalid ones. */
int cli_workflow_error(const char *cmd, fg_error *err);

/* Prints "fluxgraph: error: <message>" to stderr, frees err, returns 1. */
int cli_report(fg_error *err);

#endif
