// 16-byte vector access for the memory-bound kernels of cuda_elementwise.cu and cuda_norm.cu:
// a "chunk" is V consecutive elements; with V == 16 / sizeof(T) it moves as one 128-bit load or
// store (the caller guarantees 16-byte alignment), with any other V element by element.
#ifndef FG_KERNELS_CUDA_VEC_CUH
#define FG_KERNELS_CUDA_VEC_CUH

#include <stdint.h>

#include "kernels/cuda/cuda_ops.h"

// Elements of T in one 16-byte vector.
template <typename T> constexpr int fg_vec_width = (int)(16 / sizeof(T));

static inline bool fg_cuda_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

__device__ __forceinline__ void fg_vec16_load(const float *p, float *f) {
    float4 v = *reinterpret_cast<const float4 *>(p);
    f[0] = v.x;
    f[1] = v.y;
    f[2] = v.z;
    f[3] = v.w;
}

__device__ __forceinline__ void fg_vec16_load(const __nv_bfloat16 *p, float *f) {
    uint4 v = *reinterpret_cast<const uint4 *>(p);
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&v);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        float2 t = __bfloat1622float2(h[k]);
        f[2 * k] = t.x;
        f[2 * k + 1] = t.y;
    }
}

__device__ __forceinline__ void fg_vec16_store(float *p, const float *f) {
    *reinterpret_cast<float4 *>(p) = make_float4(f[0], f[1], f[2], f[3]);
}

__device__ __forceinline__ void fg_vec16_store(__nv_bfloat16 *p, const float *f) {
    uint4 v;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&v);
#pragma unroll
    for (int k = 0; k < 4; k++) h[k] = __floats2bfloat162_rn(f[2 * k], f[2 * k + 1]);
    *reinterpret_cast<uint4 *>(p) = v;
}

// f[0..V) = p[0..V) widened to f32.
template <typename T, int V> __device__ __forceinline__ void fg_chunk_load(const T *p, float *f) {
    if constexpr (V == fg_vec_width<T>) {
        fg_vec16_load(p, f);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = fg_cuda_load(p, k);
    }
}

// p[0..V) = f[0..V) rounded to T (nearest even).
template <typename T, int V> __device__ __forceinline__ void fg_chunk_store(T *p, const float *f) {
    if constexpr (V == fg_vec_width<T>) {
        fg_vec16_store(p, f);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) fg_cuda_store(p, k, f[k]);
    }
}

// Division by a runtime-invariant 32-bit divisor as a multiply-high and shift (Granlund and
// Montgomery's round-up method): exact for every 32-bit dividend. Index decomposition in the
// layout and broadcast kernels divides by each dim size per element, and a hardware-less
// integer divide costs ~20 instructions.
struct fg_fastdiv {
    unsigned d, m, s;
};

static inline fg_fastdiv fg_fastdiv_make(unsigned d) {
    unsigned s = 0;
    while ((1ull << s) < d) s++;
    // m = floor(2^32 (2^s - d) / d) + 1 < 2^32 since 2^s - d < d
    unsigned m = (unsigned)(((1ull << 32) * ((1ull << s) - d)) / d + 1);
    return fg_fastdiv{d, m, s};
}

__host__ __device__ __forceinline__ unsigned fg_fastdiv_div(unsigned n, fg_fastdiv f) {
#ifdef __CUDA_ARCH__
    unsigned hi = __umulhi(n, f.m);
#else
    unsigned hi = (unsigned)(((unsigned long long)n * f.m) >> 32);
#endif
    return (unsigned)(((unsigned long long)hi + n) >> f.s);
}

// Runs f((float *)nullptr) or f((__nv_bfloat16 *)nullptr) for an activation dtype (F32/BF16).
template <typename F> fg_error *fg_cuda_with_act_type(fg_dtype dt, F &&f) {
    if (dt == FG_F32) return f((float *)nullptr);
    return f((__nv_bfloat16 *)nullptr);
}

// Activation tensors of one call: out's dtype F32 or BF16, every non-NULL t the same.
static inline fg_error *fg_cuda_check_act(const char *op, const fg_tensor *out, int n, const fg_tensor *const *ts) {
    if (out->dtype != FG_F32 && out->dtype != FG_BF16)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: the cuda backend computes activations in F32 or BF16, not %s", op,
                         fg_dtype_name(out->dtype));
    for (int i = 0; i < n; i++) {
        if (ts[i] && ts[i]->dtype != out->dtype)
            return fg_errorf(FG_ERR_UNSUPPORTED,
                             "%s: the cuda backend needs every activation in out's dtype %s, got %s", op,
                             fg_dtype_name(out->dtype), fg_dtype_name(ts[i]->dtype));
    }
    return NULL;
}

#endif
