/* Every op of kernels/ops.h against a naive double reference on the CPU backend, over random
 * shapes including odd sizes; `test_ops --device cuda` runs the same cases on the GPU against
 * the CPU backend (the backend parity test). */
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/ops/harness.h"
#include "tests/testing.h"

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
    l.rng_state = 0x5EED0F1A5u;
    ops_cases_dense(&l);
    ops_cases_norm(&l);
    ops_cases_elementwise(&l);
    ops_cases_layout(&l);
    op_cases_run(&l, dev);
    op_case_list_free(&l);
    if (dev == FG_DEVICE_CPU) {
        ops_checks_dense();
        ops_checks_elementwise();
        ops_checks_layout();
    }
    return test_summary();
}
