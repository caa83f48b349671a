/* Every op of kernels/ops.h against a naive double reference on the CPU backend, over random
 * shapes including odd sizes, once with F32 activations and once with the same cases in BF16
 * (expected values from the bf16-rounded inputs); `test_ops --device cuda` runs the same cases
 * on the GPU against the CPU backend (the backend parity test). */
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/ops/harness.h"
#include "tests/testing.h"

/* The act-dependent families start from fixed seeds, so the BF16 pass draws exactly the
 * shapes and (before rounding) the values of the F32 pass. */
static void build_cases(op_case_list *l, fg_dtype act) {
    l->act_dtype = act;
    l->rng_state = 0x5EED0F1A5u;
    ops_cases_dense(l);
    ops_cases_norm(l);
    ops_cases_elementwise(l);
    ops_cases_new_ops(l);
    l->rng_state = 0xC0C0417u;
    ops_cases_conv(l);
    if (act == FG_F32) ops_cases_layout(l); /* any dtype: the cases pick their own */
}

int main(int argc, char **argv) {
    fg_device dev = FG_DEVICE_CPU;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            dev = strcmp(argv[++i], "cuda") == 0 ? FG_DEVICE_CUDA : FG_DEVICE_CPU;
        }
    }
    if (!fg_device_available(dev)) {
        printf("device %s is not available: %s\n", dev == FG_DEVICE_CUDA ? "cuda" : "cpu", fg_device_description(dev));
        return test_summary();
    }
    op_case_list l;
    memset(&l, 0, sizeof l);
    build_cases(&l, FG_F32);
    build_cases(&l, FG_BF16);
    op_cases_run(&l, dev);
    op_case_list_free(&l);
    if (dev == FG_DEVICE_CPU) {
        ops_checks_dense();
        ops_checks_elementwise();
        ops_checks_layout();
        ops_checks_new_ops();
    }
    return test_summary();
}
