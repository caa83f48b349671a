#include <stdio.h>

#include "cli/commands.h"
#include "kernels/backend.h"
#include "sampling/noise.h"
#include "text_encoders/tokenizer_compat.h"

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
    printf("noise: torch's %s randn kernel (torch on this machine uses %s; --noise-compat)\n",
           fg_randn_variant_name(fg_noise_variant()), fg_randn_variant_name(fg_randn_native_variant()));
    printf("tokenizers: ComfyUI with %s (--tokenizer-compat)\n", fg_tokenizer_compat_name(fg_tokenizer_compat_default()));
    return 0;
}
