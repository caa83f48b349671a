// What cuda_linear.cu and cuda_conv.cu share (implemented in cuda_gemm_fallback.cu): a plain
// tiled GEMM of our own for when cuBLASLt/cuDNN are absent, decline a shape, or are switched
// off (FG_CUDA_GEMM=own, FG_CUDA_CONV=own), plus the small elementwise passes around the
// library calls (weight conversion, bias + activation epilogues).
//
// Every function queues on fg_cuda_stream() and never synchronises.
#ifndef FG_KERNELS_CUDA_GEMM_H
#define FG_KERNELS_CUDA_GEMM_H

#include "kernels/cuda/cuda_ops.h"

// One operand of the fallback GEMM: element (i, j) of matrix number b of the batch is
// p[b * sb + i * s0 + j * s1], widened to f32 from dt (any float dtype).
typedef struct fg_gemm_operand {
    const void *p;
    fg_dtype dt;
    long long s0, s1, sb;
} fg_gemm_operand;

// B given implicitly as the im2col matrix of one NCHW image (b.p = x, b.sb = Ci*H*W):
// B[k, n] with k = (ci, ky, kx), n = (oy, ox) reads x[ci, oy*stride - pad_top + ky,
// ox*stride - pad_left + kx], zero outside the image (so asymmetric padding is free).
typedef struct fg_gemm_conv {
    long long Ci, H, W, kh, kw, Wo;
    int stride, pad_top, pad_left;
} fg_gemm_conv;

typedef enum fg_gemm_bias {
    FG_GEMM_BIAS_NONE = 0,
    FG_GEMM_BIAS_PER_ROW, // bias[m] (conv: one value per output channel)
    FG_GEMM_BIAS_PER_COL, // bias[n] (linear: one value per output feature)
} fg_gemm_bias;

// C[b] = act(alpha * A[b] . B[b] + bias) for b < batch, with A [M, K], B [K, N], C [M, N].
typedef struct fg_gemm_desc {
    long long M, N, K;
    int batch;
    fg_gemm_operand a;
    fg_gemm_operand b; // ignored strides s0/s1 when b_is_conv
    bool b_is_conv;
    fg_gemm_conv conv;
    void *c;
    fg_dtype c_dt; // F32 or BF16
    long long c_s0, c_s1, c_sb;
    const void *bias;
    fg_dtype bias_dt;
    fg_gemm_bias bias_mode;
    float alpha;
    fg_activation act;
} fg_gemm_desc;

// Runs the fallback GEMM (f32 accumulation); `op` names the caller in error messages.
// K == 0 is allowed (C = act(bias)).
fg_error *fg_cuda_gemm_fallback(const char *op, const fg_gemm_desc *d);

// dst[i] = src[i] * scale for i < n, converted between any two float dtypes.
fg_error *fg_cuda_convert(const char *op, void *dst, fg_dtype dst_dt, const void *src, fg_dtype src_dt, long long n,
                          float scale);

// In place on a row-major [rows, cols] act matrix: c = act(c + bias[col]); bias may be NULL
// (any float dtype otherwise).
fg_error *fg_cuda_bias_act(const char *op, void *c, fg_dtype c_dt, long long rows, long long cols, const void *bias,
                           fg_dtype bias_dt, fg_activation act);

// dst = act(src + bias[col]) on a row-major [rows, cols] matrix, src F32 (a GEMM result kept
// in f32 so that the act-dtype output is rounded once, as on the CPU); bias may be NULL.
fg_error *fg_cuda_bias_act_from_f32(const char *op, void *dst, fg_dtype dst_dt, const float *src, long long rows,
                                    long long cols, const void *bias, fg_dtype bias_dt, fg_activation act);

// NCHW out [B, C, plane] = bias[c] broadcast (bias any float dtype), e.g. as the beta = 1 input
// of a library call that then adds its product in f32 and rounds once.
fg_error *fg_cuda_fill_channels(const char *op, void *out, fg_dtype dt, long long B, long long C, long long plane,
                                const void *bias, fg_dtype bias_dt);

// True when every value of dtype src is exactly representable in dtype dst (so converting a
// weight costs no precision: the CPU backend computes with the weight's own values).
static inline bool fg_cuda_dtype_exact_in(fg_dtype src, fg_dtype dst) {
    if (src == dst || dst == FG_F32) return true;
    if (dst == FG_BF16) return src == FG_F8_E4M3 || src == FG_F8_E5M2; // 8-bit exponent, 8-bit significand
    if (dst == FG_F16) return src == FG_F8_E4M3 || src == FG_F8_E5M2;
    return false;
}

// In place on NCHW out [B, C, plane]: out += bias[c] (bias any float dtype).
fg_error *fg_cuda_bias_channels(const char *op, void *out, fg_dtype dt, long long B, long long C, long long plane,
                                const void *bias, fg_dtype bias_dt);

// True when environment variable name is set to value (the FG_CUDA_GEMM=own style switches).
bool fg_cuda_env_is(const char *name, const char *value);

// The launch status of the kernel just queued, as an error naming the op and the kernel.
static inline fg_error *fg_cuda_launch_status(const char *op, const char *kernel) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return NULL;
    return fg_errorf(FG_ERR_DEVICE, "%s: %s kernel launch: %s (%s)", op, kernel, cudaGetErrorString(e),
                     cudaGetErrorName(e));
}

// Largest power of two (at most 256) dividing the address: what cuBLASLt's alignment
// preferences and the algorithm caches key on.
static inline unsigned fg_cuda_ptr_align(const void *p) {
    unsigned long long v = (unsigned long long)(uintptr_t)p;
    unsigned long long low = v & (~v + 1ull);
    return low == 0 || low > 256 ? 256u : (unsigned)low;
}

#endif
