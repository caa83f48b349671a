// The GEMM of our own behind linear and conv2d when the vendor libraries are absent or decline
// a shape, and the elementwise passes around the library calls. Correctness first: dtypes are
// resolved per element at run time (one branch, uniform across the grid) so a single kernel
// serves every weight dtype, and the tiles are plain shared-memory 64x64x16 blocks with f32
// accumulation. The fast paths are cuBLASLt and cuDNN; this one only has to be right.
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_gemm.h"

#define GEMM_TM 64
#define GEMM_TN 64
#define GEMM_TK 16
#define GEMM_THREADS 256
#define EW_BLOCK 256

__device__ __forceinline__ float load_any(const void *p, fg_dtype dt, long long i) {
    switch (dt) {
    case FG_F32: return fg_cuda_load((const float *)p, i);
    case FG_BF16: return fg_cuda_load((const __nv_bfloat16 *)p, i);
    case FG_F16: return fg_cuda_load((const __half *)p, i);
    case FG_F8_E4M3: return fg_cuda_load((const __nv_fp8_e4m3 *)p, i);
    case FG_F8_E5M2: return fg_cuda_load((const __nv_fp8_e5m2 *)p, i);
    default: return 0.0f;
    }
}

__device__ __forceinline__ void store_any(void *p, fg_dtype dt, long long i, float v) {
    switch (dt) {
    case FG_F32: fg_cuda_store((float *)p, i, v); break;
    case FG_BF16: fg_cuda_store((__nv_bfloat16 *)p, i, v); break;
    case FG_F16: fg_cuda_store((__half *)p, i, v); break;
    case FG_F8_E4M3: fg_cuda_store((__nv_fp8_e4m3 *)p, i, v); break;
    case FG_F8_E5M2: fg_cuda_store((__nv_fp8_e5m2 *)p, i, v); break;
    default: break;
    }
}

// ---- the fallback GEMM ------------------------------------------------------------------

// Element B[k, n] of batch entry b (explicit strides or the implicit im2col view).
__device__ __forceinline__ float gemm_load_b(const fg_gemm_desc &d, int b, long long k, long long n) {
    if (!d.b_is_conv) return load_any(d.b.p, d.b.dt, b * d.b.sb + k * d.b.s0 + n * d.b.s1);
    const fg_gemm_conv &g = d.conv;
    long long taps = g.kh * g.kw;
    long long ci = k / taps, r = k - ci * taps;
    long long ky = r / g.kw, kx = r - ky * g.kw;
    long long oy = n / g.Wo, ox = n - oy * g.Wo;
    long long y = oy * g.stride - g.pad_top + ky, x = ox * g.stride - g.pad_left + kx;
    if (y < 0 || y >= g.H || x < 0 || x >= g.W) return 0.0f;
    return load_any(d.b.p, d.b.dt, b * d.b.sb + (ci * g.H + y) * g.W + x);
}

// One block computes a 64x64 tile of C; thread (tx, ty) owns rows ty + 16i and columns
// tx + 16j (i, j < 4), so shared-memory reads of one warp hit distinct banks or broadcast.
// Tile loads walk the operand's contiguous dimension with consecutive threads (coalesced).
__global__ void __launch_bounds__(GEMM_THREADS) gemm_fallback_kernel(const fg_gemm_desc d) {
    __shared__ float As[GEMM_TK][GEMM_TM + 1];
    __shared__ float Bs[GEMM_TK][GEMM_TN + 1];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const long long m0 = (long long)blockIdx.y * GEMM_TM, n0 = (long long)blockIdx.x * GEMM_TN;
    const int b = blockIdx.z;
    const bool a_k_fast = d.a.s1 == 1;
    const bool b_k_fast = !d.b_is_conv && d.b.s0 == 1;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (long long k0 = 0; k0 < d.K; k0 += GEMM_TK) {
        for (int r = 0; r < GEMM_TM * GEMM_TK / GEMM_THREADS; r++) {
            int e = tid + r * GEMM_THREADS;
            int kk = a_k_fast ? e % GEMM_TK : e / GEMM_TM;
            int mm = a_k_fast ? e / GEMM_TK : e % GEMM_TM;
            long long m = m0 + mm, k = k0 + kk;
            As[kk][mm] = m < d.M && k < d.K ? load_any(d.a.p, d.a.dt, b * d.a.sb + m * d.a.s0 + k * d.a.s1) : 0.0f;
        }
        for (int r = 0; r < GEMM_TN * GEMM_TK / GEMM_THREADS; r++) {
            int e = tid + r * GEMM_THREADS;
            int kk = b_k_fast ? e % GEMM_TK : e / GEMM_TN;
            int nn = b_k_fast ? e / GEMM_TK : e % GEMM_TN;
            long long n = n0 + nn, k = k0 + kk;
            Bs[kk][nn] = n < d.N && k < d.K ? gemm_load_b(d, b, k, n) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < GEMM_TK; kk++) {
            float av[4], bv[4];
            for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
            for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tx + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        long long m = m0 + ty + 16 * i;
        if (m >= d.M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            long long n = n0 + tx + 16 * j;
            if (n >= d.N) continue;
            float v = d.alpha * acc[i][j];
            if (d.bias_mode == FG_GEMM_BIAS_PER_ROW) v += load_any(d.bias, d.bias_dt, m);
            else if (d.bias_mode == FG_GEMM_BIAS_PER_COL) v += load_any(d.bias, d.bias_dt, n);
            store_any(d.c, d.c_dt, b * d.c_sb + m * d.c_s0 + n * d.c_s1, fg_cuda_activate(v, d.act));
        }
    }
}

fg_error *fg_cuda_gemm_fallback(const char *op, const fg_gemm_desc *d) {
    if (d->M <= 0 || d->N <= 0 || d->batch <= 0) return NULL;
    if (d->c_dt != FG_F32 && d->c_dt != FG_BF16)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: fallback GEMM writes F32 or BF16, not %s", op,
                         fg_dtype_name(d->c_dt));
    long long tiles_m = (d->M + GEMM_TM - 1) / GEMM_TM, tiles_n = (d->N + GEMM_TN - 1) / GEMM_TN;
    if (tiles_m > 65535 || tiles_n > 0x7fffffffLL || d->batch > 65535)
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: fallback GEMM of %lld x %lld (batch %d) exceeds the grid limits", op,
                         d->M, d->N, d->batch);
    dim3 grid((unsigned)tiles_n, (unsigned)tiles_m, (unsigned)d->batch);
    gemm_fallback_kernel<<<grid, GEMM_THREADS, 0, fg_cuda_stream()>>>(*d);
    return fg_cuda_launch_status(op, "fallback GEMM");
}

// ---- elementwise passes -----------------------------------------------------------------

__global__ void convert_kernel(void *dst, fg_dtype dst_dt, const void *src, fg_dtype src_dt, long long n,
                               float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store_any(dst, dst_dt, i, load_any(src, src_dt, i) * scale);
}

fg_error *fg_cuda_convert(const char *op, void *dst, fg_dtype dst_dt, const void *src, fg_dtype src_dt, long long n,
                          float scale) {
    if (n <= 0) return NULL;
    if (!fg_dtype_is_float(dst_dt) || !fg_dtype_is_float(src_dt))
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: cannot convert %s to %s", op, fg_dtype_name(src_dt),
                         fg_dtype_name(dst_dt));
    convert_kernel<<<fg_cuda_grid(n, EW_BLOCK), EW_BLOCK, 0, fg_cuda_stream()>>>(dst, dst_dt, src, src_dt, n, scale);
    return fg_cuda_launch_status(op, "dtype conversion");
}

__global__ void bias_act_kernel(void *c, fg_dtype c_dt, long long n, long long cols, const void *bias,
                                fg_dtype bias_dt, fg_activation act) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = load_any(c, c_dt, i);
        if (bias) v += load_any(bias, bias_dt, i % cols);
        store_any(c, c_dt, i, fg_cuda_activate(v, act));
    }
}

fg_error *fg_cuda_bias_act(const char *op, void *c, fg_dtype c_dt, long long rows, long long cols, const void *bias,
                           fg_dtype bias_dt, fg_activation act) {
    long long n = rows * cols;
    if (n <= 0 || (!bias && act == FG_ACT_NONE)) return NULL;
    bias_act_kernel<<<fg_cuda_grid(n, EW_BLOCK), EW_BLOCK, 0, fg_cuda_stream()>>>(c, c_dt, n, cols, bias, bias_dt,
                                                                                  act);
    return fg_cuda_launch_status(op, "bias/activation epilogue");
}

__global__ void bias_act_from_f32_kernel(void *dst, fg_dtype dst_dt, const float *src, long long n, long long cols,
                                         const void *bias, fg_dtype bias_dt, fg_activation act) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = src[i];
        if (bias) v += load_any(bias, bias_dt, i % cols);
        store_any(dst, dst_dt, i, fg_cuda_activate(v, act));
    }
}

fg_error *fg_cuda_bias_act_from_f32(const char *op, void *dst, fg_dtype dst_dt, const float *src, long long rows,
                                    long long cols, const void *bias, fg_dtype bias_dt, fg_activation act) {
    long long n = rows * cols;
    if (n <= 0) return NULL;
    bias_act_from_f32_kernel<<<fg_cuda_grid(n, EW_BLOCK), EW_BLOCK, 0, fg_cuda_stream()>>>(dst, dst_dt, src, n, cols,
                                                                                           bias, bias_dt, act);
    return fg_cuda_launch_status(op, "bias/activation epilogue from f32");
}

__global__ void fill_channels_kernel(void *out, fg_dtype dt, long long n, long long C, long long plane,
                                     const void *bias, fg_dtype bias_dt) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store_any(out, dt, i, load_any(bias, bias_dt, (i / plane) % C));
}

fg_error *fg_cuda_fill_channels(const char *op, void *out, fg_dtype dt, long long B, long long C, long long plane,
                                const void *bias, fg_dtype bias_dt) {
    long long n = B * C * plane;
    if (n <= 0) return NULL;
    fill_channels_kernel<<<fg_cuda_grid(n, EW_BLOCK), EW_BLOCK, 0, fg_cuda_stream()>>>(out, dt, n, C, plane, bias,
                                                                                       bias_dt);
    return fg_cuda_launch_status(op, "channel bias fill");
}

__global__ void bias_channels_kernel(void *out, fg_dtype dt, long long n, long long C, long long plane,
                                     const void *bias, fg_dtype bias_dt) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store_any(out, dt, i, load_any(out, dt, i) + load_any(bias, bias_dt, (i / plane) % C));
}

fg_error *fg_cuda_bias_channels(const char *op, void *out, fg_dtype dt, long long B, long long C, long long plane,
                                const void *bias, fg_dtype bias_dt) {
    long long n = B * C * plane;
    if (n <= 0 || !bias) return NULL;
    bias_channels_kernel<<<fg_cuda_grid(n, EW_BLOCK), EW_BLOCK, 0, fg_cuda_stream()>>>(out, dt, n, C, plane, bias,
                                                                                       bias_dt);
    return fg_cuda_launch_status(op, "channel bias");
}

bool fg_cuda_env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}
