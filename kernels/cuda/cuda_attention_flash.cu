// BF16 flash attention on tensor cores (mma.sync.m16n8k16, f32 accumulation), FlashAttention-2
// style: a block owns 64 query rows (4 warps x 16) and one slice of the output columns,
// streams K/V tiles through shared memory and keeps the output, running max and running sum
// of its rows in registers (f32). Scores, max and sum live in the log2 domain (exp2).
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16; g = lane / 4, t = lane % 4):
//   A 16x16 row-major: a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
//   B 16x8 (k x n):    b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g)
//   C 16x8 f32:        c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1)
// The element with the lower column (or k) index sits in the low 16 bits of each register.
// S = Q K^T takes B from K rows directly (B[k][n] = K[n][k] is contiguous in k); the C
// fragments of two adjacent 8-key tiles of S are exactly the A fragment of P for P V; V's B
// fragments come from ldmatrix.trans on row-major V tiles.
#include "kernels/cuda/cuda_attention.h"

namespace {

constexpr int kRows = 64;    // query rows per block
constexpr int kWarps = 4;    // 16 query rows each
constexpr int kPad = 8;      // bf16 of padding per shared row: conflict-free fragment loads
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ uint32_t lds32(const __nv_bfloat16 *p) { return *reinterpret_cast<const uint32_t *>(p); }

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); // .x (low half) = lo
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// B fragment (k = 16 keys from key0, n = 8 columns from col0) of a row-major [key][col] tile.
__device__ __forceinline__ void ldmatrix_b_trans(const __nv_bfloat16 *tile, int stride, int key0, int col0,
                                                 uint32_t &b0, uint32_t &b1) {
    const int lane = threadIdx.x & 31;
    // Lanes 0-7 address keys key0..+7 (matrix 0 -> b0), lanes 8-15 keys key0+8..+15 (-> b1);
    // lanes 16-31 are ignored by .x2 but still get valid addresses.
    const __nv_bfloat16 *p = tile + (key0 + (lane & 15)) * stride + col0;
    const unsigned addr = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(b0), "=r"(b1)
                 : "r"(addr));
}

// 16-byte global -> shared copy that bypasses registers (sm_80+); src_bytes 0 writes zeros
// without reading src.
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Starts copying rows [row0, row0 + ROWS) x columns [col0, col0 + COLS) of a [rows_total,
// src_cols] matrix into a [ROWS][COLS + kPad] tile; rows past the end become zeros (so P = 0
// never meets garbage V). Completion: cp_async_commit / cp_async_wait, then a barrier.
template <int ROWS, int COLS>
__device__ void load_tile_async(__nv_bfloat16 *tile, const __nv_bfloat16 *src, long long row0, long long rows_total,
                                long long src_cols, long long col0) {
    constexpr int kVecPerRow = COLS / 8;
    for (int i = threadIdx.x; i < ROWS * kVecPerRow; i += kWarps * 32) {
        const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
        const bool in = row0 + r < rows_total;
        cp_async16(tile + r * (COLS + kPad) + c, in ? src + (row0 + r) * src_cols + col0 + c : src, in ? 16 : 0);
    }
}

// One instantiation: head size D for q/k, DVB output columns per block (grid.y walks Dv in
// DVB steps, recomputing the scores: only the D = 512 VAE case has more than one step), KEYS
// keys per tile and STAGES K/V buffers (2: the next tile loads while this one is computed;
// 1 for D = 512, where a second buffer would halve the blocks per SM).
template <int D, int DVB, int KEYS, int STAGES> struct flash_cfg {
    static constexpr int kQStride = D + kPad, kVStride = DVB + kPad;
    static constexpr int kStageElems = KEYS * kQStride + KEYS * kVStride; // K tile, then V tile
    static constexpr size_t kSmemBytes =
        ((size_t)kRows * kQStride + (size_t)STAGES * kStageElems) * sizeof(__nv_bfloat16);
};

// Per-thread state of the two query rows (g and g+8 of the warp's 16) this thread touches.
template <int DVB> struct flash_state {
    float o[DVB / 8][4]; // output accumulators, C layout per 8-column tile
    float m[2];          // running max of the scaled scores, log2 domain
    float l[2];          // running sum of exp2(score - m), this thread's columns only
};

// Scores of one key tile in C layout: s[nt] covers keys nt*8..nt*8+7 of the tile. Q's A
// fragments come from the warp's 16 rows of the Q tile.
template <int D, int KEYS>
__device__ __forceinline__ void tile_scores(float s[KEYS / 8][4], const __nv_bfloat16 *q_rows,
                                            const __nv_bfloat16 *k_tile) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    constexpr int kStride = D + kPad;
#pragma unroll
    for (int nt = 0; nt < KEYS / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
    const __nv_bfloat16 *qr = q_rows + g * kStride + 2 * t;
#pragma unroll 4
    for (int kc = 0; kc < D / 16; kc++) {
        uint32_t qa[4];
        qa[0] = lds32(qr + kc * 16);
        qa[1] = lds32(qr + 8 * kStride + kc * 16);
        qa[2] = lds32(qr + kc * 16 + 8);
        qa[3] = lds32(qr + 8 * kStride + kc * 16 + 8);
#pragma unroll
        for (int nt = 0; nt < KEYS / 8; nt++) {
            const __nv_bfloat16 *kr = k_tile + (nt * 8 + g) * kStride + 2 * t + kc * 16;
            mma_bf16(s[nt], qa, lds32(kr), lds32(kr + 8));
        }
    }
}

// Scale, mask and bounds in the log2 domain; then the online-softmax update of m, l and o.
// Leaves the probabilities in s.
template <int DVB, int KEYS>
__device__ __forceinline__ void tile_softmax(flash_state<DVB> &st, float s[KEYS / 8][4], const fg_cuda_attn_args &a,
                                             const float *mask_head, long long row_base, long long k0) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const float scale2 = a.scale * kLog2e;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < KEYS / 8; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const long long row = row_base + g + (e >= 2 ? 8 : 0);
            const long long key = k0 + nt * 8 + 2 * t + (e & 1);
            float x = -INFINITY;
            if (key < a.lk) {
                x = s[nt][e] * scale2;
                if (mask_head && row < a.lq) x += mask_head[row * a.lk + key] * kLog2e;
            }
            s[nt][e] = x;
            mx[e >> 1] = fmaxf(mx[e >> 1], x);
        }
    }
    float alpha[2], m_use[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        // The 4 lanes of a quad hold the same two rows.
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        const float m_new = fmaxf(st.m[r], mx[r]);
        m_use[r] = m_new == -INFINITY ? 0.0f : m_new; // fully masked so far: exp2(-inf - 0) = 0
        alpha[r] = exp2f(st.m[r] - m_use[r]);          // 0 while st.m is -inf
        st.m[r] = m_new;
    }
    float sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int nt = 0; nt < KEYS / 8; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[nt][e] = exp2f(s[nt][e] - m_use[e >> 1]);
            sum[e >> 1] += s[nt][e];
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) st.l[r] = st.l[r] * alpha[r] + sum[r];
#pragma unroll
    for (int nt = 0; nt < DVB / 8; nt++) {
        st.o[nt][0] *= alpha[0];
        st.o[nt][1] *= alpha[0];
        st.o[nt][2] *= alpha[1];
        st.o[nt][3] *= alpha[1];
    }
}

// o += P V for one tile; P (f32, C layout) is rounded to BF16 A fragments.
template <int DVB, int KEYS>
__device__ __forceinline__ void tile_pv(flash_state<DVB> &st, const float p[KEYS / 8][4],
                                        const __nv_bfloat16 *v_tile) {
#pragma unroll
    for (int kc = 0; kc < KEYS / 16; kc++) {
        uint32_t pa[4];
        pa[0] = pack_bf16(p[2 * kc][0], p[2 * kc][1]);
        pa[1] = pack_bf16(p[2 * kc][2], p[2 * kc][3]);
        pa[2] = pack_bf16(p[2 * kc + 1][0], p[2 * kc + 1][1]);
        pa[3] = pack_bf16(p[2 * kc + 1][2], p[2 * kc + 1][3]);
#pragma unroll
        for (int nt = 0; nt < DVB / 8; nt++) {
            uint32_t b0, b1;
            ldmatrix_b_trans(v_tile, DVB + kPad, kc * 16, nt * 8, b0, b1);
            mma_bf16(st.o[nt], pa, b0, b1);
        }
    }
}

// Normalises and stores the warp's 16 rows x DVB columns (from column c0 of Dv).
template <int DVB>
__device__ __forceinline__ void store_rows(const flash_state<DVB> &st, __nv_bfloat16 *out_head,
                                           const fg_cuda_attn_args &a, long long row_base, long long c0) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    // The row sums are split over the quad's 4 lanes (their columns); alpha was quad-uniform.
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = st.l[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f; // a fully masked row gives zeros
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const long long row = row_base + g + 8 * r;
        if (row >= a.lq) continue;
        __nv_bfloat16 *orow = out_head + row * a.dv + c0 + 2 * t;
#pragma unroll
        for (int nt = 0; nt < DVB / 8; nt++) {
            __nv_bfloat162 v = __floats2bfloat162_rn(st.o[nt][2 * r] * inv[r], st.o[nt][2 * r + 1] * inv[r]);
            *reinterpret_cast<__nv_bfloat162 *>(orow + nt * 8) = v;
        }
    }
}

// grid.x = (b*h) * q_tiles, grid.y = Dv / DVB. Shared memory: Q tile, then STAGES x (K, V).
template <int D, int DVB, int KEYS, int STAGES>
__global__ void __launch_bounds__(kWarps * 32) attention_flash_kernel(fg_cuda_attn_args a, long long q_tiles) {
    typedef flash_cfg<D, DVB, KEYS, STAGES> cfg;
    static_assert(STAGES == 1 || STAGES == 2, "one or two K/V buffers");
    extern __shared__ __align__(16) unsigned char flash_smem[];
    __nv_bfloat16 *q_tile = reinterpret_cast<__nv_bfloat16 *>(flash_smem);
    __nv_bfloat16 *stages = q_tile + kRows * cfg::kQStride;
    const int warp = threadIdx.x >> 5;
    const long long bh = blockIdx.x / q_tiles, qt = blockIdx.x % q_tiles;
    const long long bi = bh / a.h, hi = bh % a.h;
    const long long q0 = qt * kRows, c0 = (long long)blockIdx.y * DVB;
    const __nv_bfloat16 *qh = (const __nv_bfloat16 *)a.q + bh * a.lq * D;
    const __nv_bfloat16 *kh = (const __nv_bfloat16 *)a.k + bh * a.lk * D;
    const __nv_bfloat16 *vh = (const __nv_bfloat16 *)a.v + bh * a.lk * a.dv;
    const float *mask_head = NULL;
    if (a.mask) mask_head = a.mask + ((a.mb == 1 ? 0 : bi) * a.mh + (a.mh == 1 ? 0 : hi)) * a.lq * a.lk;
    auto load_kv = [&](int stage, long long k0) {
        __nv_bfloat16 *k_tile = stages + stage * cfg::kStageElems;
        load_tile_async<KEYS, D>(k_tile, kh, k0, a.lk, D, 0);
        load_tile_async<KEYS, DVB>(k_tile + KEYS * cfg::kQStride, vh, k0, a.lk, a.dv, c0);
        cp_async_commit();
    };

    load_tile_async<kRows, D>(q_tile, qh, q0, a.lq, D, 0);
    load_kv(0, 0); // one group: Q and the first K/V tile
    flash_state<DVB> st;
#pragma unroll
    for (int nt = 0; nt < DVB / 8; nt++) st.o[nt][0] = st.o[nt][1] = st.o[nt][2] = st.o[nt][3] = 0.0f;
    st.m[0] = st.m[1] = -INFINITY;
    st.l[0] = st.l[1] = 0.0f;
    const long long row_base = q0 + warp * 16;
    const __nv_bfloat16 *q_rows = q_tile + warp * 16 * cfg::kQStride;

    const long long n_tiles = (a.lk + KEYS - 1) / KEYS;
    for (long long i = 0; i < n_tiles; i++) {
        const int stage = STAGES == 2 ? (int)(i & 1) : 0;
        // With two buffers the next tile goes into the one the previous iteration finished
        // with (the barrier closing that iteration guarantees no warp still reads it).
        if (STAGES == 2 && i + 1 < n_tiles) {
            load_kv(stage ^ 1, (i + 1) * KEYS);
            cp_async_wait<1>(); // everything but the tile just started has landed
        } else {
            cp_async_wait<0>();
        }
        __syncthreads(); // every thread's copies of tile i (and Q) are visible
        const __nv_bfloat16 *k_tile = stages + stage * cfg::kStageElems;
        float s[KEYS / 8][4];
        tile_scores<D, KEYS>(s, q_rows, k_tile);
        tile_softmax<DVB, KEYS>(st, s, a, mask_head, row_base, i * KEYS);
        tile_pv<DVB, KEYS>(st, s, k_tile + KEYS * cfg::kQStride);
        __syncthreads(); // tile i's buffer is free
        if (STAGES == 1 && i + 1 < n_tiles) load_kv(0, (i + 1) * KEYS);
    }
    store_rows<DVB>(st, (__nv_bfloat16 *)a.out + bh * a.lq * a.dv, a, row_base, c0);
}

template <int D, int DVB, int KEYS, int STAGES> fg_error *launch_flash(const fg_cuda_attn_args *a) {
    typedef flash_cfg<D, DVB, KEYS, STAGES> cfg;
    const size_t smem = cfg::kSmemBytes;
    size_t limit;
    FG_TRY(fg_cuda_attention_smem_limit(&limit));
    if (smem > limit)
        return fg_errorf(FG_ERR_UNSUPPORTED, "attention (flash bf16): D=%d tiles need %zu bytes of shared memory (device "
                         "limit %zu)", D, smem, limit);
    // Set once per instantiation; above 48 KiB the kernel must opt in.
    static bool opted_in = false;
    if (!opted_in && smem > 48 * 1024)
        CUDA_TRY(cudaFuncSetAttribute(attention_flash_kernel<D, DVB, KEYS, STAGES>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                 "attention (flash bf16): shared memory opt-in");
    opted_in = true;
    const long long q_tiles = (a->lq + kRows - 1) / kRows;
    dim3 grid((unsigned)(a->b * a->h * q_tiles), (unsigned)(a->dv / DVB));
    attention_flash_kernel<D, DVB, KEYS, STAGES><<<grid, kWarps * 32, smem, fg_cuda_stream()>>>(*a, q_tiles);
    CUDA_CHECK_LAUNCH("attention (flash bf16)");
    return NULL;
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

} // namespace

// D == Dv in {64, 128, 512}: T5/CLIP, FLUX and the VAE's single-head mid attention.
bool fg_cuda_attention_flash_supports(const fg_cuda_attn_args *a) {
    if (a->dtype != FG_BF16 || a->d != a->dv || (a->d != 64 && a->d != 128 && a->d != 512)) return false;
    if (!aligned16(a->q) || !aligned16(a->k) || !aligned16(a->v) || !aligned16(a->out)) return false;
    const long long q_tiles = (a->lq + kRows - 1) / kRows;
    return a->b * a->h * q_tiles <= INT32_MAX;
}

fg_error *fg_cuda_attention_flash(const fg_cuda_attn_args *a) {
    if (!fg_cuda_attention_flash_supports(a))
        return fg_errorf(FG_ERR_UNSUPPORTED, "attention: the bf16 flash kernel does not cover D=%lld, Dv=%lld (%s)",
                         a->d, a->dv, fg_dtype_name(a->dtype));
    // Shared memory: 45 KiB, 85 KiB and 106 KiB (at least 2 blocks per SM on sm_80+ but 86/89).
    if (a->d == 64) return launch_flash<64, 64, 64, 2>(a);
    if (a->d == 128) return launch_flash<128, 128, 64, 2>(a);
    return launch_flash<512, 128, 32, 1>(a);
}
