/* fluxgraph: run ComfyUI FLUX workflows without Python. This file parses the global options
 * and hands over to one subcommand; it is the only place allowed to decide exit codes. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/log.h"
#include "core/mapped_files.h"
#include "core/threadpool.h"
#include "kernels/ops.h"
#include "sampling/noise.h"
#include "text_encoders/tokenizer_compat.h"

cli_globals g_cli;

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"bench", cmd_bench, "[--device D] [--preset dev|schnell|tiny] [--sizes 512,1024] ...: time the DiT, T5, VAE"},
    {"convert", cmd_convert, "FILE: the API-format prompt of a workflow (API/UI JSON or PNG)"},
    {"info", cmd_info, "FILE.safetensors: tensors, dtypes, parameters, detected model kind"},
    {"mkmodel", cmd_mkmodel, "--preset NAME DIR | --list: random-weight models in the real layouts"},
    {"nodes", cmd_nodes, "[--json]: the supported nodes (ComfyUI /object_info shape with --json)"},
    {"probe", cmd_probe, "COMPONENT --golden FILE --out FILE: run one component on golden inputs"},
    {"run", cmd_run, "FILE [--models DIR] [--output DIR] [--set NODE.INPUT=VALUE] [--seed N] ...: run a workflow"},
    {"validate", cmd_validate, "FILE [--models DIR] [--json]: check a workflow as ComfyUI does"},
    {"version", cmd_version, "version, backends and compiled CUDA architectures"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: fluxgraph [--device cpu|cuda] [--activations f32|bf16] [--threads N]\n                 [--noise-compat auto|avx2|default]\n                 [--tokenizer-compat transformers5|transformers4] [-v|-q] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

int cli_report(fg_error *err) {
    if (!err) return 0;
    fprintf(stderr, "fluxgraph: error: %s\n", fg_error_message(err));
    fg_error_free(err);
    return 1;
}

/* --noise-compat (or FLUXGRAPH_NOISE_COMPAT; the option wins): which of torch's CPU randn
 * kernels the seeded noise imitates, for comparing with a ComfyUI on another kind of machine. */
static bool apply_noise_compat(const char *name) {
    const char *env = getenv("FLUXGRAPH_NOISE_COMPAT");
    if (!name && env && *env) name = env;
    if (!name) return true;
    fg_randn_variant v;
    if (!fg_randn_variant_parse(name, &v)) {
        fprintf(stderr, "fluxgraph: --noise-compat (or FLUXGRAPH_NOISE_COMPAT) must be auto, avx2 or default, not '%s'\n",
                name);
        return false;
    }
    fg_noise_set_variant(v);
    return true;
}

/* --tokenizer-compat (or FLUXGRAPH_TOKENIZER_COMPAT; the option wins): which transformers major
 * version's CLIP/T5 tokenizers ComfyUI is matched against (transformers5 by default). */
static bool apply_tokenizer_compat(const char *name) {
    const char *env = getenv("FLUXGRAPH_TOKENIZER_COMPAT");
    if (!name && env && *env) name = env;
    if (!name) return true;
    fg_tokenizer_compat c;
    fg_error *err = fg_tokenizer_compat_parse(name, &c);
    if (err) {
        fprintf(stderr, "fluxgraph: error: --tokenizer-compat (or FLUXGRAPH_TOKENIZER_COMPAT): %s\n", fg_error_message(err));
        fg_error_free(err);
        return false;
    }
    fg_tokenizer_compat_set_default(c);
    return true;
}

/* SIGBUS: a mapped model file was truncated or rewritten in place while in use (cp over it, a
 * download finishing into the same name). The fault cannot be turned into an error for the
 * running node (it may hit any worker thread inside a GEMM), so name the file and stop with the
 * runtime-failure exit code; anything else gets the default action. Async-signal-safe. */
static void on_bus_error(int sig, siginfo_t *info, void *context) {
    (void)context;
    static int claimed; /* several worker threads fault at once: one reports, the others wait */
    char path[512];
    if (info && fg_mapped_files_find(info->si_addr, path, sizeof path)) {
        if (__atomic_exchange_n(&claimed, 1, __ATOMIC_SEQ_CST))
            for (;;) pause(); /* the first thread's _exit ends the process */
        static const char a[] = "\nfluxgraph: error: the model file ";
        static const char b[] = " changed while in use (truncated or rewritten in place); stopping. Replace a model "
                                "by moving a finished file over it (mv), which running jobs do not notice.\n";
        char msg[sizeof a + sizeof path + sizeof b];
        size_t n = strlen(path);
        memcpy(msg, a, sizeof a - 1);
        memcpy(msg + sizeof a - 1, path, n);
        memcpy(msg + sizeof a - 1 + n, b, sizeof b - 1);
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof a - 1 + n + sizeof b - 1); /* one write: one line */
        (void)ignored;
        _exit(3);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_bus_error_handler(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_bus_error;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int main(int argc, char **argv) {
    fg_log_init_from_env();
    install_bus_error_handler();
    int i = 1;
    const char *device = NULL, *activations = NULL, *noise_compat = NULL;
    const char *tokenizer_compat = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--device") == 0 && i + 1 < argc) device = argv[++i];
        else if (strncmp(a, "--device=", 9) == 0) device = a + 9;
        else if (strcmp(a, "--activations") == 0 && i + 1 < argc) activations = argv[++i];
        else if (strncmp(a, "--activations=", 14) == 0) activations = a + 14;
        else if (strcmp(a, "--noise-compat") == 0 && i + 1 < argc) noise_compat = argv[++i];
        else if (strncmp(a, "--noise-compat=", 15) == 0) noise_compat = a + 15;
        else if (strcmp(a, "--tokenizer-compat") == 0 && i + 1 < argc) tokenizer_compat = argv[++i];
        else if (strncmp(a, "--tokenizer-compat=", 19) == 0) tokenizer_compat = a + 19;
        else if (strcmp(a, "--threads") == 0 && i + 1 < argc) g_cli.threads = atoi(argv[++i]);
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) fg_log_set_level(FG_LOG_DEBUG);
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) fg_log_set_level(FG_LOG_ERROR);
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            return cmd_version(0, NULL);
        } else {
            fprintf(stderr, "fluxgraph: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (g_cli.threads > 0) fg_threadpool_global_set_size(g_cli.threads);
    if (!apply_noise_compat(noise_compat)) return 2;
    if (!apply_tokenizer_compat(tokenizer_compat)) return 2;
    /* FLUXGRAPH_DEVICE sets the default (the test runner pins the CPU); --device wins. */
    const char *env_device = getenv("FLUXGRAPH_DEVICE");
    if (!device && env_device && *env_device) device = env_device;
    if (device) {
        if (strcmp(device, "cpu") == 0) g_cli.device = FG_DEVICE_CPU;
        else if (strcmp(device, "cuda") == 0) g_cli.device = FG_DEVICE_CUDA;
        else {
            fprintf(stderr, "fluxgraph: --device (or FLUXGRAPH_DEVICE) must be cpu or cuda, not '%s'\n", device);
            return 2;
        }
        g_cli.device_forced = 1;
        if (!fg_device_available(g_cli.device)) {
            fprintf(stderr, "fluxgraph: error: device %s requested (--device or FLUXGRAPH_DEVICE) but %s\n", device,
                    fg_device_description(g_cli.device));
            return 1;
        }
    } else {
        /* CUDA only when a device really exists; otherwise the CPU backend. */
        g_cli.device = fg_device_available(FG_DEVICE_CUDA) ? FG_DEVICE_CUDA : FG_DEVICE_CPU;
    }
    /* The GPU computes in BF16; --activations bf16 on the CPU reproduces its numerics. */
    g_cli.act_dtype = g_cli.device == FG_DEVICE_CPU ? FG_F32 : FG_BF16;
    if (activations) {
        if (strcmp(activations, "f32") == 0) g_cli.act_dtype = FG_F32;
        else if (strcmp(activations, "bf16") == 0) g_cli.act_dtype = FG_BF16;
        else {
            fprintf(stderr, "fluxgraph: --activations must be f32 or bf16, not '%s'\n", activations);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(argv[i], commands[c].name) == 0) return commands[c].run(argc - i, argv + i);
    fprintf(stderr, "fluxgraph: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
