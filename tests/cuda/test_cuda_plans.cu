// The host-side logic of the CUDA kernels, checked without a GPU (kernels/cuda's "kernel lab"):
// the index plans the layout and elementwise kernels are launched with (permute units and
// offsets, NumPy broadcasting, the fast integer divider, nearest upsampling's decomposition)
// and the dtype conversions the kernels share with the host (every 8/16-bit pattern widened,
// special and random floats narrowed), each against a naive reference or core/dtype.c. The
// kernel files are included whole, so these are the functions the GPU path really uses; their
// entry points are never called (the context functions are stubbed). Built only when nvcc is
// present; the kernels themselves are checked on a GPU by `make test-gpu`.
#include "kernels/cuda/cuda_ops.h"

extern "C" {
#include "tests/testing.h"
}
#include "tests/cuda/plans.h"

// The context functions the kernel files reference; their entry points are never called here.
cudaStream_t fg_cuda_stream(void) { return nullptr; }
fg_error *fg_cuda_scratch(int, size_t, void **p) {
    *p = nullptr;
    return fg_errorf(FG_ERR_DEVICE, "no scratch in the host test");
}
bool fg_cuda_capturing(void) { return false; }
int fg_cuda_sm_count(void) { return 1; }
int fg_cuda_compute_capability(void) { return 90; }

int main(void) {
    RUN_TEST(test_permute_plans);
    RUN_TEST(test_broadcast_plans);
    RUN_TEST(test_fast_divider_and_upsample);
    RUN_TEST(test_conversions_match_core);
    return test_summary();
}
