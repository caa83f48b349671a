#include <stdio.h>

#include "cli/commands.h"
#include "kernels/backend.h"

#ifndef FG_VERSION
#define FG_VERSION "dev"
#endif

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("fluxgraph %s\n", FG_VERSION);
    printf("backends: cpu%s\n", fg_cuda_backend() ? " cuda" : "");
    printf("  %s\n", fg_device_description(FG_DEVICE_CPU));
    if (fg_cuda_backend()) {
        printf("  %s\n", fg_device_description(FG_DEVICE_CUDA));
        printf("cuda architectures: %s\n", fg_cuda_archs_compiled());
    } else {
        printf("cuda architectures: none (built without nvcc)\n");
    }
    printf("default device: %s\n", fg_device_available(FG_DEVICE_CUDA) ? "cuda" : "cpu");
    return 0;
}
