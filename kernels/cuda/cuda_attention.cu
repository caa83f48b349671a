// Attention on CUDA: the entry point (path selection) and the simple flash-attention kernel
// that handles every shape. Paths, fastest first:
//   1. cuDNN fused SDPA (BF16, no mask) — cuda_attention_cudnn.cu,
//   2. our BF16 tensor-core kernel (D == Dv in {64, 128, 512}) — cuda_attention_flash.cu,
//   3. the simple kernel below (F32 or BF16, any D/Dv, any mask).
// FG_CUDA_ATTENTION=own skips cuDNN; FG_CUDA_ATTENTION=simple forces path 3 (parity tests
// compare the paths this way).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_attention.h"

extern "C" {
#include "core/log.h"
}

namespace {

constexpr int kSimpleRows = 8;       // warps per block, one query row each
constexpr int kSimpleKeys = 32;      // keys per shared-memory tile, one per lane
constexpr int kSimpleDvChunk = 256;  // output columns per block: 8 accumulators per lane
constexpr int kSimpleAccPerLane = kSimpleDvChunk / 32;
constexpr size_t kDefaultSmem = 48 * 1024;

__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// Shared memory: q rows of this block (pre-scaled, f32) [kSimpleRows][d], a K tile
// [kSimpleKeys][d | 1] (odd row stride: lanes reading column c of different keys hit different
// banks) and a V tile [kSimpleKeys][chunk] restricted to this block's output columns.
struct simple_layout {
    int d, kstride, chunk;
    __host__ __device__ size_t floats() const {
        return (size_t)kSimpleRows * d + (size_t)kSimpleKeys * kstride + (size_t)kSimpleKeys * chunk;
    }
};

__host__ __device__ inline simple_layout simple_layout_for(long long d, long long dv) {
    simple_layout s;
    s.d = (int)d;
    s.kstride = (int)(d | 1);
    s.chunk = (int)(dv < kSimpleDvChunk ? dv : kSimpleDvChunk);
    return s;
}

// Cooperative load of keys [k0, k0 + nk) of one head: K fully, V only for columns [c0, c0 + cw).
template <typename T>
__device__ void simple_load_tile(float *k_s, float *v_s, const T *kh, const T *vh, long long k0, int nk,
                                 const simple_layout &s, long long dv, int c0, int cw) {
    for (int i = threadIdx.x; i < nk * s.d; i += blockDim.x) {
        int j = i / s.d, c = i - j * s.d;
        k_s[j * s.kstride + c] = fg_cuda_load(kh, (k0 + j) * s.d + c);
    }
    for (int i = threadIdx.x; i < nk * cw; i += blockDim.x) {
        int j = i / cw, c = i - j * cw;
        v_s[j * s.chunk + c] = fg_cuda_load(vh, (k0 + j) * dv + c0 + c);
    }
}

// grid.x = (b*h) * q_tiles, grid.y = output-column chunks. Online softmax per warp: running
// max m and sum l in f32; a lane owns key (k0 + lane) of the tile for the scores and output
// columns c0 + lane + 32*i for the accumulators.
template <typename T>
__global__ void __launch_bounds__(kSimpleRows * 32)
    attention_simple_kernel(fg_cuda_attn_args a, long long q_tiles) {
    extern __shared__ float smem[];
    const simple_layout s = simple_layout_for(a.d, a.dv);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const long long bh = blockIdx.x / q_tiles, qt = blockIdx.x % q_tiles;
    const long long bi = bh / a.h, hi = bh % a.h;
    const int c0 = blockIdx.y * s.chunk;
    const int cw = (int)(a.dv - c0 < s.chunk ? a.dv - c0 : s.chunk);
    const long long row = qt * kSimpleRows + warp;
    const bool live = row < a.lq;

    float *q_s = smem + warp * s.d;
    float *k_s = smem + kSimpleRows * s.d;
    float *v_s = k_s + kSimpleKeys * s.kstride;
    const T *qh = (const T *)a.q + bh * a.lq * a.d;
    const T *kh = (const T *)a.k + bh * a.lk * a.d;
    const T *vh = (const T *)a.v + bh * a.lk * a.dv;
    const float *mrow = NULL;
    if (a.mask && live)
        mrow = a.mask + (((a.mb == 1 ? 0 : bi) * a.mh + (a.mh == 1 ? 0 : hi)) * a.lq + row) * a.lk;
    if (live)
        for (int i = lane; i < s.d; i += 32) q_s[i] = fg_cuda_load(qh, row * s.d + i) * a.scale;

    float acc[kSimpleAccPerLane];
#pragma unroll
    for (int i = 0; i < kSimpleAccPerLane; i++) acc[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (long long k0 = 0; k0 < a.lk; k0 += kSimpleKeys) {
        const int nk = (int)(a.lk - k0 < kSimpleKeys ? a.lk - k0 : kSimpleKeys);
        __syncthreads(); // the previous tile is consumed (and q_s is written on the first pass)
        simple_load_tile(k_s, v_s, kh, vh, k0, nk, s, a.dv, c0, cw);
        __syncthreads();
        if (!live) continue;
        float sc = -INFINITY;
        if (lane < nk) {
            const float *kr = k_s + lane * s.kstride;
            float dot = 0.0f;
            for (int c = 0; c < s.d; c++) dot = fmaf(q_s[c], kr[c], dot);
            sc = dot + (mrow ? mrow[k0 + lane] : 0.0f);
        }
        const float m_new = fmaxf(m, warp_max(sc));
        if (m_new == -INFINITY) continue; // everything so far masked: nothing to accumulate
        const float alpha = expf(m - m_new); // 0 when m is still -inf
        const float p = expf(sc - m_new);    // 0 for masked keys and lanes past nk
        l = l * alpha + warp_sum(p);
#pragma unroll
        for (int i = 0; i < kSimpleAccPerLane; i++) acc[i] *= alpha;
        for (int j = 0; j < nk; j++) {
            const float pj = __shfl_sync(0xffffffffu, p, j);
            const float *vr = v_s + j * s.chunk;
#pragma unroll
            for (int i = 0; i < kSimpleAccPerLane; i++) {
                const int col = lane + 32 * i;
                if (col < cw) acc[i] = fmaf(pj, vr[col], acc[i]);
            }
        }
        m = m_new;
    }
    if (!live) return;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f; // a fully masked row gives zeros
    T *orow = (T *)a.out + (bh * a.lq + row) * a.dv + c0;
#pragma unroll
    for (int i = 0; i < kSimpleAccPerLane; i++) {
        const int col = lane + 32 * i;
        if (col < cw) fg_cuda_store(orow, col, acc[i] * inv);
    }
}

template <typename T> fg_error *launch_simple(const fg_cuda_attn_args *a) {
    const simple_layout s = simple_layout_for(a->d, a->dv);
    const size_t smem = s.floats() * sizeof(float);
    size_t limit;
    FG_TRY(fg_cuda_attention_smem_limit(&limit));
    if (smem > limit)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "attention: head size D=%lld, Dv=%lld needs %zu bytes of shared memory (device limit %zu)",
                         a->d, a->dv, smem, limit);
    // The attribute only ever grows, so a later smaller launch keeps working.
    static size_t optin = kDefaultSmem;
    if (smem > optin) {
        CUDA_TRY(cudaFuncSetAttribute(attention_simple_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      (int)smem),
                 "attention: shared memory opt-in");
        optin = smem;
    }
    const long long q_tiles = (a->lq + kSimpleRows - 1) / kSimpleRows;
    const long long chunks = (a->dv + s.chunk - 1) / s.chunk;
    if (a->b * a->h * q_tiles > INT32_MAX || chunks > 65535)
        return fg_errorf(FG_ERR_UNSUPPORTED, "attention: B*H=%lld with Lq=%lld exceeds the launch grid", a->b * a->h,
                         a->lq);
    dim3 grid((unsigned)(a->b * a->h * q_tiles), (unsigned)chunks);
    attention_simple_kernel<T><<<grid, kSimpleRows * 32, smem, fg_cuda_stream()>>>(*a, q_tiles);
    CUDA_CHECK_LAUNCH("attention (simple)");
    return NULL;
}

enum attention_mode { MODE_AUTO, MODE_OWN, MODE_SIMPLE };

attention_mode mode_from_env(void) {
    const char *e = getenv("FG_CUDA_ATTENTION");
    if (!e || !*e) return MODE_AUTO;
    if (!strcmp(e, "own")) return MODE_OWN;
    if (!strcmp(e, "simple")) return MODE_SIMPLE;
    static bool warned = false;
    if (!warned) FG_LOG_W("FG_CUDA_ATTENTION=%s is not one of own|simple; using the default paths", e);
    warned = true;
    return MODE_AUTO;
}

} // namespace

fg_error *fg_cuda_attention_smem_limit(size_t *bytes) {
    static int cached = 0;
    if (!cached) {
        int dev = 0, v = 0;
        CUDA_TRY(cudaGetDevice(&dev), "attention: cudaGetDevice");
        CUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
                 "attention: shared memory limit query");
        cached = v;
    }
    *bytes = (size_t)cached;
    return NULL;
}

fg_error *fg_cuda_attention_simple(const fg_cuda_attn_args *a) {
    if (a->dtype == FG_F32) return launch_simple<float>(a);
    if (a->dtype == FG_BF16) return launch_simple<__nv_bfloat16>(a);
    return fg_errorf(FG_ERR_UNSUPPORTED, "attention: the cuda backend needs F32 or BF16 activations (got %s)",
                     fg_dtype_name(a->dtype));
}

fg_error *fg_cuda_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                            const fg_tensor *mask, float scale) {
    const fg_dtype dt = q->dtype;
    if ((dt != FG_F32 && dt != FG_BF16) || k->dtype != dt || v->dtype != dt || out->dtype != dt)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "attention: the cuda backend needs q, k, v and out all F32 or all BF16 (got %s, %s, %s, %s)",
                         fg_dtype_name(q->dtype), fg_dtype_name(k->dtype), fg_dtype_name(v->dtype),
                         fg_dtype_name(out->dtype));
    fg_cuda_attn_args a;
    a.b = q->shape[0];
    a.h = q->shape[1];
    a.lq = q->shape[2];
    a.d = q->shape[3];
    a.lk = k->shape[2];
    a.dv = v->shape[3];
    a.mb = mask ? mask->shape[0] : 0;
    a.mh = mask ? mask->shape[1] : 0;
    a.dtype = dt;
    a.q = q->data;
    a.k = k->data;
    a.v = v->data;
    a.out = out->data;
    a.mask = mask ? (const float *)mask->data : NULL;
    a.scale = scale;
    if (a.b == 0 || a.h == 0 || a.lq == 0 || a.dv == 0) return NULL;
    if (a.lk == 0) { // nothing to attend to: every row is fully masked
        CUDA_TRY(cudaMemsetAsync(out->data, 0, fg_tensor_nbytes(out), fg_cuda_stream()), "attention: zero fill");
        return NULL;
    }
    const attention_mode mode = mode_from_env();
    if (mode == MODE_AUTO && dt == FG_BF16 && !mask) {
        fg_error *err = fg_cuda_attention_cudnn(&a);
        if (!err) return NULL;
        fg_error_free(err); // logged (once per shape) where it failed; our kernels take over
    }
    if (mode != MODE_SIMPLE && fg_cuda_attention_flash_supports(&a)) {
        fg_error *err = fg_cuda_attention_flash(&a);
        if (!err || fg_error_code_of(err) != FG_ERR_UNSUPPORTED) return err;
        fg_error_free(err); // e.g. the D = 512 tiles exceed this GPU's shared memory
    }
    return fg_cuda_attention_simple(&a);
}
