// The CUDA backend's skeleton: device discovery, memory, copies and the first elementwise
// kernels, so the build and dispatch paths exist before the real kernels (cuBLASLt GEMMs,
// cuDNN attention and convolutions, fused kernels) arrive. Ops left NULL in the table report
// FG_ERR_UNSUPPORTED through the dispatcher.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "kernels/backend.h"
}

#define CUDA_TRY(call, what)                                                                  \
    do {                                                                                      \
        cudaError_t e_ = (call);                                                              \
        if (e_ != cudaSuccess)                                                                \
            return fg_errorf(FG_ERR_DEVICE, "%s: %s (%s)", what, cudaGetErrorString(e_),      \
                             cudaGetErrorName(e_));                                           \
    } while (0)

static bool cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no device" error
        return false;
    }
    return n > 0;
}

static const char *cuda_description(void) {
    static char buf[512];
    cudaDeviceProp prop;
    if (!cuda_available() || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        snprintf(buf, sizeof buf, "cuda: no device (compiled for %s)", fg_cuda_archs_compiled());
        return buf;
    }
    snprintf(buf, sizeof buf, "cuda: %s, sm_%d%d, %.1f GiB", prop.name, prop.major, prop.minor,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

static fg_error *cuda_alloc(void **ptr, size_t nbytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, nbytes ? nbytes : 1);
    if (e != cudaSuccess)
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cudaMalloc of %zu bytes: %s", nbytes, cudaGetErrorString(e));
    CUDA_TRY(cudaMemset(p, 0, nbytes), "cudaMemset");
    *ptr = p;
    return NULL;
}

static void cuda_free(void *ptr) { cudaFree(ptr); }

static fg_error *cuda_copy(void *dst, fg_device dst_dev, const void *src, fg_device src_dev, size_t nbytes) {
    (void)dst_dev;
    (void)src_dev;
    CUDA_TRY(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault), "cudaMemcpy");
    return NULL;
}

static fg_error *cuda_synchronize(void) {
    CUDA_TRY(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    return NULL;
}

// ---- elementwise ------------------------------------------------------------------------

template <typename T> __device__ inline float load_f(const T *p, long long i);
template <> __device__ inline float load_f<float>(const float *p, long long i) { return p[i]; }
template <> __device__ inline float load_f<__nv_bfloat16>(const __nv_bfloat16 *p, long long i) {
    return __bfloat162float(p[i]);
}
template <typename T> __device__ inline void store_f(T *p, long long i, float v);
template <> __device__ inline void store_f<float>(float *p, long long i, float v) { p[i] = v; }
template <> __device__ inline void store_f<__nv_bfloat16>(__nv_bfloat16 *p, long long i, float v) {
    p[i] = __float2bfloat16_rn(v);
}

template <typename T>
__global__ void axpby_kernel(T *out, float alpha, const T *x, float beta, const T *y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = alpha * load_f(x, i);
        if (y) v += beta * load_f(y, i);
        store_f(out, i, v);
    }
}

template <typename T> __global__ void scale_shift_kernel(T *out, const T *x, float mul, float add, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store_f(out, i, load_f(x, i) * mul + add);
}

static unsigned grid_for(long long n) {
    long long blocks = (n + 255) / 256;
    return (unsigned)(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

static fg_error *cuda_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    long long n = fg_tensor_numel(out);
    if (out->dtype == FG_F32)
        axpby_kernel<float><<<grid_for(n), 256>>>((float *)out->data, alpha, (const float *)x->data, beta,
                                                  y ? (const float *)y->data : nullptr, n);
    else if (out->dtype == FG_BF16)
        axpby_kernel<__nv_bfloat16><<<grid_for(n), 256>>>((__nv_bfloat16 *)out->data, alpha,
                                                          (const __nv_bfloat16 *)x->data, beta,
                                                          y ? (const __nv_bfloat16 *)y->data : nullptr, n);
    else
        return fg_errorf(FG_ERR_UNSUPPORTED, "cuda axpby: dtype %s", fg_dtype_name(out->dtype));
    CUDA_TRY(cudaGetLastError(), "axpby kernel launch");
    return NULL;
}

static fg_error *cuda_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    long long n = fg_tensor_numel(out);
    if (out->dtype == FG_F32)
        scale_shift_kernel<float><<<grid_for(n), 256>>>((float *)out->data, (const float *)x->data, mul, add, n);
    else if (out->dtype == FG_BF16)
        scale_shift_kernel<__nv_bfloat16><<<grid_for(n), 256>>>((__nv_bfloat16 *)out->data,
                                                                (const __nv_bfloat16 *)x->data, mul, add, n);
    else
        return fg_errorf(FG_ERR_UNSUPPORTED, "cuda scale_shift: dtype %s", fg_dtype_name(out->dtype));
    CUDA_TRY(cudaGetLastError(), "scale_shift kernel launch");
    return NULL;
}

static fg_backend make_cuda_backend(void) {
    fg_backend b;
    memset(&b, 0, sizeof b);
    b.name = "cuda";
    b.device = FG_DEVICE_CUDA;
    b.available = cuda_available;
    b.description = cuda_description;
    b.alloc = cuda_alloc;
    b.free = cuda_free;
    b.copy = cuda_copy;
    b.synchronize = cuda_synchronize;
    b.axpby = cuda_axpby;
    b.scale_shift = cuda_scale_shift;
    return b;
}

static const fg_backend cuda_backend_table = make_cuda_backend();

extern "C" const fg_backend *fg_cuda_backend(void) { return &cuda_backend_table; }

extern "C" const char *fg_cuda_archs_compiled(void) {
#ifdef FG_CUDA_ARCHS
    return FG_CUDA_ARCHS;
#else
    return "";
#endif
}
