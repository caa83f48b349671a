/* Linked instead of the kernels/cuda sources when the build has no nvcc: the CUDA backend is absent
 * and every request for it says so. */
#include "kernels/backend.h"

const fg_backend *fg_cuda_backend(void) { return NULL; }
const char *fg_cuda_archs_compiled(void) { return ""; }
