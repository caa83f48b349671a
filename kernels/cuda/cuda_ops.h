// CUDA backend internals: what kernels/cuda/*.cu share. cuda_backend.cu owns the device
// context (one stream, the caching allocator, scratch buffers, graphs) and assembles the
// backend table from the per-family entry points declared here. Arguments arrive validated
// by the dispatcher (kernels/ops_*.c), exactly as for the CPU backend (kernels/cpu/cpu_ops.h).
//
// Conventions every kernel file follows:
// - All work is queued on fg_cuda_stream(): nothing runs on the legacy default stream and no
//   entry point synchronises, so a whole DiT step can be captured as a CUDA graph.
// - Entry points never call cudaMalloc/cudaFree directly: temporaries come from
//   fg_cuda_scratch (grown on first use, then stable, which graph replay relies on).
// - Activations are F32 or BF16 (all act tensors of one call share the dtype); weights any
//   float dtype (the uploader makes them BF16, other dtypes take a slower path); f32 math.
#ifndef FG_KERNELS_CUDA_OPS_H
#define FG_KERNELS_CUDA_OPS_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

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

// Checks the last kernel launch of `what` (launch errors only; asynchronous faults surface at
// the next synchronisation).
#define CUDA_CHECK_LAUNCH(what) CUDA_TRY(cudaGetLastError(), what " kernel launch")

// ---- context (cuda_backend.cu) ----------------------------------------------------------

// The stream every op queues on (created with the context on first use).
cudaStream_t fg_cuda_stream(void);
// A device buffer for temporaries of one op, at least nbytes, 256-byte aligned. slot 0..3 lets
// one op hold several; contents are undefined between calls. Grows (reallocating) only when a
// larger size is asked, which is an error while a graph is being captured.
fg_error *fg_cuda_scratch(int slot, size_t nbytes, void **ptr);
// True between fg_graph_capture_begin and _end.
bool fg_cuda_capturing(void);
// SM count and compute capability of the current device (cached).
int fg_cuda_sm_count(void);
int fg_cuda_compute_capability(void); // 90 for sm_90

// Grid for a grid-stride loop over n elements with `block` threads per block.
static inline unsigned fg_cuda_grid(long long n, int block) {
    long long blocks = (n + block - 1) / block;
    if (blocks < 1) blocks = 1;
    if (blocks > 65535LL * 16) blocks = 65535LL * 16;
    return (unsigned)blocks;
}

// ---- element access for every float dtype -------------------------------------------------

__device__ __forceinline__ float fg_cuda_load(const float *p, long long i) { return p[i]; }
__device__ __forceinline__ float fg_cuda_load(const __nv_bfloat16 *p, long long i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float fg_cuda_load(const __half *p, long long i) { return __half2float(p[i]); }
__device__ __forceinline__ float fg_cuda_load(const __nv_fp8_e4m3 *p, long long i) { return float(p[i]); }
__device__ __forceinline__ float fg_cuda_load(const __nv_fp8_e5m2 *p, long long i) { return float(p[i]); }
__device__ __forceinline__ void fg_cuda_store(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void fg_cuda_store(__nv_bfloat16 *p, long long i, float v) { p[i] = __float2bfloat16_rn(v); }
__device__ __forceinline__ void fg_cuda_store(__half *p, long long i, float v) { p[i] = __float2half_rn(v); }
// fp8 stores saturate like core/dtype.c's conversion (torch's .to(float8) saturates to max).
__device__ __forceinline__ void fg_cuda_store(__nv_fp8_e4m3 *p, long long i, float v) { p[i] = __nv_fp8_e4m3(v); }
__device__ __forceinline__ void fg_cuda_store(__nv_fp8_e5m2 *p, long long i, float v) { p[i] = __nv_fp8_e5m2(v); }

// fg_cpu_activate's formulas (kernels/cpu/cpu_elementwise.c) in f32, shared by every kernel
// that applies an activation (unary ops, GEMM epilogues of our own). Each GELU/SiLU form is
// x * sigmoid(z) or uses erfc, so negative x never computes 1 + (-1 + tiny); the CPU evaluates
// in double and the two differ by a few f32 ulp.
__device__ __forceinline__ float fg_cuda_activate(float v, fg_activation act) {
    switch (act) {
    case FG_ACT_GELU_TANH: {
        float u = 0.7978845608028654f * (v + 0.044715f * v * v * v); // 0.5(1+tanh u) = sigmoid(2u)
        return v / (1.0f + expf(-2.0f * u));
    }
    case FG_ACT_GELU_ERF: return 0.5f * v * erfcf(-v * 0.7071067811865476f);
    case FG_ACT_SILU: return v / (1.0f + expf(-v));
    case FG_ACT_QUICK_GELU: return v / (1.0f + expf(-1.702f * v));
    case FG_ACT_NONE:
    default: return v;
    }
}

// Calls f.template operator()<T>() with T the C++ type of float dtype dt; false when dt is not
// a float dtype. Used to instantiate one kernel template for every weight dtype.
template <typename F> bool fg_cuda_dispatch_float(fg_dtype dt, F &&f) {
    switch (dt) {
    case FG_F32: f((float *)nullptr); return true;
    case FG_BF16: f((__nv_bfloat16 *)nullptr); return true;
    case FG_F16: f((__half *)nullptr); return true;
    case FG_F8_E4M3: f((__nv_fp8_e4m3 *)nullptr); return true;
    case FG_F8_E5M2: f((__nv_fp8_e5m2 *)nullptr); return true;
    default: return false;
    }
}

// ---- ops, by family (same meaning as kernels/backend.h) -----------------------------------

// cuda_linear.cu: cuBLASLt GEMMs with bias/GELU epilogues; embedding.
fg_error *fg_cuda_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                         float w_scale, fg_activation act);
fg_error *fg_cuda_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table);
// cuda_attention.cu: cuDNN fused SDPA with a flash-attention kernel of our own as fallback.
fg_error *fg_cuda_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                            const fg_tensor *mask, float scale);
// cuda_conv.cu: cuDNN convolution.
fg_error *fg_cuda_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                         const fg_conv2d_params *params);

// cuda_norm.cu: normalisation, softmax, rope (+ the fused QK norm + rope).
fg_error *fg_cuda_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                             float eps, const fg_tensor *shift, const fg_tensor *scale);
fg_error *fg_cuda_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps);
fg_error *fg_cuda_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                                const fg_tensor *cos, const fg_tensor *sin);
fg_error *fg_cuda_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                             const fg_tensor *bias, float eps, bool fuse_silu);
fg_error *fg_cuda_softmax(fg_tensor *out, const fg_tensor *x);
fg_error *fg_cuda_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin);

// cuda_elementwise.cu
fg_error *fg_cuda_unary(fg_tensor *out, const fg_tensor *x, fg_activation act);
fg_error *fg_cuda_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cuda_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cuda_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y);
fg_error *fg_cuda_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y);
fg_error *fg_cuda_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add);
fg_error *fg_cuda_cast(fg_tensor *out, const fg_tensor *x);
fg_error *fg_cuda_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi);

// cuda_layout.cu
fg_error *fg_cuda_permute(fg_tensor *out, const fg_tensor *x, const int *perm);
fg_error *fg_cuda_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim);
fg_error *fg_cuda_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start);
fg_error *fg_cuda_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                        fg_pad_mode mode);
fg_error *fg_cuda_patchify(fg_tensor *out, const fg_tensor *x, int p);
fg_error *fg_cuda_unpatchify(fg_tensor *out, const fg_tensor *x, int p);
fg_error *fg_cuda_upsample_nearest2x(fg_tensor *out, const fg_tensor *x);

#endif
