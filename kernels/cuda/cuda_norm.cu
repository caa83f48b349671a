// CUDA normalisation, softmax and rotary embedding. Row ops (layer_norm, rms_norm, softmax,
// rope, the fused rms_norm + rope) give one warp to each row of <= 1024 elements and one block
// to longer rows; x is re-read per pass (rows sit in L1/L2), statistics are f32 two-pass
// (mean, then squared deviations). group_norm spans up to millions of elements per group, so
// it runs as three kernels: per-chunk shifted sums into scratch, a Chan merge per group in
// double, then the normalise (+ SiLU) pass. Parameters of any float dtype are read through a
// runtime dtype switch (uniform per launch, values cached), which keeps one instantiation
// per activation dtype.
#include <type_traits>

#include "kernels/cuda/cuda_vec.cuh"

namespace {

constexpr int kWarpRowsBlock = 256; // warp-per-row launches: 8 rows per block
constexpr int kMaxWarpRow = 1024;   // longer rows get a block each

// ---- parameters of any float dtype ------------------------------------------------------------

struct Param {
    const void *p; // NULL: absent
    int dt;
};

Param param_of(const fg_tensor *t) { return Param{t ? t->data : nullptr, t ? (int)t->dtype : 0}; }

__device__ __forceinline__ float load_param(Param w, long long i) {
    switch (w.dt) {
    case FG_BF16: return fg_cuda_load((const __nv_bfloat16 *)w.p, i);
    case FG_F16: return fg_cuda_load((const __half *)w.p, i);
    case FG_F8_E4M3: return fg_cuda_load((const __nv_fp8_e4m3 *)w.p, i);
    case FG_F8_E5M2: return fg_cuda_load((const __nv_fp8_e5m2 *)w.p, i);
    default: return fg_cuda_load((const float *)w.p, i);
    }
}

fg_error *check_param_dtype(const char *op, const char *name, const fg_tensor *t) {
    if (t && !fg_dtype_is_float(t->dtype))
        return fg_errorf(FG_ERR_UNSUPPORTED, "%s: %s is %s, not a float dtype", op, name, fg_dtype_name(t->dtype));
    return NULL;
}

// ---- row reductions ---------------------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    return v;
}

// Sum (or max) over the threads of a row: the warp, or the whole block (blockDim a multiple of
// 32, at most 1024). Every thread gets the result. The leading barrier protects smem from the
// previous reduction's readers.
template <bool BLOCK, bool MAX> __device__ float row_reduce(float v, float *smem) {
    v = MAX ? warp_max(v) : warp_sum(v);
    if (!BLOCK) return v;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    float t = lane < warps ? smem[lane] : (MAX ? -INFINITY : 0.0f);
    return MAX ? warp_max(t) : warp_sum(t);
}

// Which row a thread works on and how it walks the row's chunks.
struct RowWalk {
    long long row, row_step;
    int lane, lanes;
};

template <bool BLOCK> __device__ __forceinline__ RowWalk row_walk() {
    RowWalk w;
    if (BLOCK) {
        w.row = blockIdx.x;
        w.row_step = gridDim.x;
        w.lane = threadIdx.x;
        w.lanes = blockDim.x;
    } else {
        int rows_per_block = blockDim.x >> 5;
        w.row = (long long)blockIdx.x * rows_per_block + (threadIdx.x >> 5);
        w.row_step = (long long)gridDim.x * rows_per_block;
        w.lane = threadIdx.x & 31;
        w.lanes = 32;
    }
    return w;
}

// Launch shape of a row kernel: rows of `chunks` chunks each.
struct RowPlan {
    bool block;
    int threads;
    unsigned grid;
};

RowPlan plan_rows(long long rows, long long d, long long chunks) {
    const long long max_grid = 65535LL * 16;
    RowPlan p;
    p.block = d > kMaxWarpRow;
    if (p.block) {
        // about two chunks per thread (FLUX's 3072-wide bf16 rows: 384 chunks -> 192 threads)
        long long t = ((chunks + 1) / 2 + 31) / 32 * 32;
        p.threads = (int)(t < 64 ? 64 : t > 1024 ? 1024 : t);
        p.grid = (unsigned)(rows < max_grid ? rows : max_grid);
    } else {
        p.threads = kWarpRowsBlock;
        long long rows_per_block = kWarpRowsBlock / 32, g = (rows + rows_per_block - 1) / rows_per_block;
        p.grid = (unsigned)(g < max_grid ? g : max_grid);
    }
    if (p.grid < 1) p.grid = 1;
    return p;
}

// ---- layer_norm ------------------------------------------------------------------------------

template <typename T> struct LayerNormArgs {
    T *out;
    const T *x, *shift, *scale; // shift/scale: [B, D] modulation, or NULL
    Param weight, bias;
    long long rows, d, l; // l: rows per batch (the modulation's row)
    float eps;
};

template <typename T, int V, bool BLOCK> __global__ void layer_norm_kernel(LayerNormArgs<T> a) {
    __shared__ float smem[32];
    RowWalk w = row_walk<BLOCK>();
    long long chunks = a.d / V;
    for (long long r = w.row; r < a.rows; r += w.row_step) {
        const T *x = a.x + r * a.d;
        float s = 0.0f;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) s += f[k];
        }
        float mean = row_reduce<BLOCK, false>(s, smem) / (float)a.d;
        float q = 0.0f;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) q += (f[k] - mean) * (f[k] - mean);
        }
        float rstd = 1.0f / sqrtf(row_reduce<BLOCK, false>(q, smem) / (float)a.d + a.eps);
        long long mod = (r / a.l) * a.d;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V], sh[V], sc[V];
            fg_chunk_load<T, V>(x + c * V, f);
            if (a.shift) {
                fg_chunk_load<T, V>(a.shift + mod + c * V, sh);
                fg_chunk_load<T, V>(a.scale + mod + c * V, sc);
            }
#pragma unroll
            for (int k = 0; k < V; k++) {
                long long i = c * V + k;
                float o = (f[k] - mean) * rstd;
                if (a.weight.p) o *= load_param(a.weight, i);
                if (a.bias.p) o += load_param(a.bias, i);
                if (a.shift) o = o * (1.0f + sc[k]) + sh[k];
                f[k] = o;
            }
            fg_chunk_store<T, V>(a.out + r * a.d + c * V, f);
        }
    }
}

// ---- rms_norm --------------------------------------------------------------------------------

template <typename T> struct RmsNormArgs {
    T *out;
    const T *x;
    Param weight;
    long long rows, d;
    float eps;
};

template <typename T, int V, bool BLOCK> __global__ void rms_norm_kernel(RmsNormArgs<T> a) {
    __shared__ float smem[32];
    RowWalk w = row_walk<BLOCK>();
    long long chunks = a.d / V;
    for (long long r = w.row; r < a.rows; r += w.row_step) {
        const T *x = a.x + r * a.d;
        float s = 0.0f;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) s += f[k] * f[k];
        }
        float inv = 1.0f / sqrtf(row_reduce<BLOCK, false>(s, smem) / (float)a.d + a.eps);
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) {
                f[k] *= inv;
                if (a.weight.p) f[k] *= load_param(a.weight, c * V + k);
            }
            fg_chunk_store<T, V>(a.out + r * a.d + c * V, f);
        }
    }
}

// ---- rope, alone or after rms_norm ------------------------------------------------------------

template <typename T> struct RopeArgs {
    T *out;
    const T *x;
    const float *cos, *sin; // [Bp, L, D/2]
    Param weight;           // NORM only
    long long rows, d, h, l;
    bool cs_batched; // Bp == B
    float eps;
};

// Rows of x[B,H,L,D]; chunks of V (even) elements hold whole (2i, 2i+1) pairs. NORM applies
// rms_norm (and the weight) first, kept in f32 into the rotation.
template <typename T, int V, bool BLOCK, bool NORM> __global__ void rope_kernel(RopeArgs<T> a) {
    __shared__ float smem[32];
    RowWalk w = row_walk<BLOCK>();
    long long chunks = a.d / V, half = a.d / 2;
    for (long long r = w.row; r < a.rows; r += w.row_step) {
        const T *x = a.x + r * a.d;
        float inv = 1.0f;
        if (NORM) {
            float s = 0.0f;
            for (long long c = w.lane; c < chunks; c += w.lanes) {
                float f[V];
                fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
                for (int k = 0; k < V; k++) s += f[k] * f[k];
            }
            inv = 1.0f / sqrtf(row_reduce<BLOCK, false>(s, smem) / (float)a.d + a.eps);
        }
        long long pos = r % a.l, b = r / (a.l * a.h);
        long long cs = ((a.cs_batched ? b : 0) * a.l + pos) * half;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(x + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k += 2) {
                float x0 = f[k], x1 = f[k + 1];
                if (NORM) {
                    x0 *= inv;
                    x1 *= inv;
                    if (a.weight.p) {
                        x0 *= load_param(a.weight, c * V + k);
                        x1 *= load_param(a.weight, c * V + k + 1);
                    }
                }
                long long pair = cs + (c * V + k) / 2;
                float co = a.cos[pair], si = a.sin[pair];
                f[k] = x0 * co - x1 * si;
                f[k + 1] = x0 * si + x1 * co;
            }
            fg_chunk_store<T, V>(a.out + r * a.d + c * V, f);
        }
    }
}

// ---- softmax ---------------------------------------------------------------------------------

template <typename T, int V, bool BLOCK>
__global__ void softmax_kernel(T *out, const T *x, long long rows, long long d) {
    __shared__ float smem[32];
    RowWalk w = row_walk<BLOCK>();
    long long chunks = d / V;
    for (long long r = w.row; r < rows; r += w.row_step) {
        const T *xr = x + r * d;
        T *o = out + r * d;
        float m = -INFINITY;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(xr + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) m = fmaxf(m, f[k]);
        }
        m = row_reduce<BLOCK, true>(m, smem);
        if (m == -INFINITY) { // every entry -inf: zeros, not NaN (uniform over the row's threads)
            float z[V] = {};
            for (long long c = w.lane; c < chunks; c += w.lanes) fg_chunk_store<T, V>(o + c * V, z);
            continue;
        }
        float s = 0.0f;
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(xr + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) s += expf(f[k] - m);
        }
        float inv = 1.0f / row_reduce<BLOCK, false>(s, smem);
        for (long long c = w.lane; c < chunks; c += w.lanes) {
            float f[V];
            fg_chunk_load<T, V>(xr + c * V, f);
#pragma unroll
            for (int k = 0; k < V; k++) f[k] = expf(f[k] - m) * inv;
            fg_chunk_store<T, V>(o + c * V, f);
        }
    }
}

// ---- group_norm ------------------------------------------------------------------------------

constexpr long long kGroupChunk = 16384; // elements per partial; a multiple of every vector width
constexpr int kGroupThreads = 256;

// Partial statistics of one chunk: count, mean, sum of squared deviations.
struct Moments {
    float n, mean, m2;
};

// Block (g, k) of [groups_total, nchunks] sums chunk k of group g shifted by the chunk's first
// value (close to the mean, so the squares do not cancel), then converts to Moments.
template <typename T, int V>
__global__ void group_partial_kernel(const T *x, long long span, int nchunks, Moments *part) {
    __shared__ float smem[32];
    long long g = blockIdx.x / nchunks, k = blockIdx.x % nchunks;
    long long begin = k * kGroupChunk, end = begin + kGroupChunk < span ? begin + kGroupChunk : span;
    const T *xg = x + g * span;
    float shift = fg_cuda_load(xg, begin);
    float s = 0.0f, q = 0.0f;
    for (long long c = begin / V + threadIdx.x; c < end / V; c += blockDim.x) {
        float f[V];
        fg_chunk_load<T, V>(xg + c * V, f);
#pragma unroll
        for (int j = 0; j < V; j++) {
            float t = f[j] - shift;
            s += t;
            q += t * t;
        }
    }
    s = row_reduce<true, false>(s, smem);
    q = row_reduce<true, false>(q, smem);
    if (threadIdx.x == 0) {
        float n = (float)(end - begin); // <= kGroupChunk: exact
        part[blockIdx.x] = Moments{n, shift + s / n, fmaxf(q - s * s / n, 0.0f)};
    }
}

// Chan et al.'s pairwise merge of (n, mean, m2), in double.
__device__ __forceinline__ void merge_moments(double &n, double &mean, double &m2, double nb, double mb, double m2b) {
    if (nb == 0.0) return;
    double tot = n + nb, delta = mb - mean;
    mean += delta * (nb / tot);
    m2 += m2b + delta * delta * (n * nb / tot);
    n = tot;
}

// One warp per group: merges its partials into (mean, rstd).
__global__ void group_stats_kernel(const Moments *part, int nchunks, long long groups_total, float eps, float2 *stats) {
    long long g = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (g >= groups_total) return; // whole warps leave together
    int lane = threadIdx.x & 31;
    double n = 0.0, mean = 0.0, m2 = 0.0;
    for (int k = lane; k < nchunks; k += 32) {
        Moments m = part[g * nchunks + k];
        merge_moments(n, mean, m2, m.n, m.mean, m.m2);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        double nb = __shfl_xor_sync(0xFFFFFFFFu, n, o), mb = __shfl_xor_sync(0xFFFFFFFFu, mean, o);
        double m2b = __shfl_xor_sync(0xFFFFFFFFu, m2, o);
        merge_moments(n, mean, m2, nb, mb, m2b);
    }
    if (lane == 0) stats[g] = make_float2((float)mean, (float)(1.0 / sqrt((n > 0.0 ? m2 / n : 0.0) + (double)eps)));
}

struct GroupApply {
    const float2 *stats;
    Param weight, bias;
    long long chunks, plane_chunks, channels, cpg; // cpg: channels per group
    fg_fastdiv by_plane, by_channels, by_cpg;      // set when FAST
    bool silu;
};

// out = (x - mean) * rstd * weight[c] + bias[c], then SiLU. A chunk lies in one channel plane
// (b, c) of plane_chunks chunks, and plane / cpg is its (b, group) index.
template <typename T, int V, bool FAST> __global__ void group_apply_kernel(T *out, const T *x, GroupApply a) {
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < a.chunks; k += step) {
        long long c, g;
        if constexpr (FAST) {
            unsigned plane = fg_fastdiv_div((unsigned)k, a.by_plane);
            c = plane - fg_fastdiv_div(plane, a.by_channels) * a.by_channels.d;
            g = fg_fastdiv_div(plane, a.by_cpg);
        } else {
            long long plane = k / a.plane_chunks;
            c = plane % a.channels;
            g = plane / a.cpg;
        }
        float2 st = a.stats[g];
        float mul = st.y * (a.weight.p ? load_param(a.weight, c) : 1.0f);
        float add = a.bias.p ? load_param(a.bias, c) : 0.0f;
        float f[V];
        fg_chunk_load<T, V>(x + k * V, f);
#pragma unroll
        for (int j = 0; j < V; j++) {
            float o = (f[j] - st.x) * mul + add;
            f[j] = a.silu ? o / (1.0f + expf(-o)) : o;
        }
        fg_chunk_store<T, V>(out + k * V, f);
    }
}

// ---- launching -------------------------------------------------------------------------------

// Launches KERNEL<T, V, BLOCK>: V = VW (16-byte chunks) when `vec`, else 1; BLOCK as planned.
#define LAUNCH_ROWS(KERNEL, plan, vec, ...)                                                    \
    do {                                                                                      \
        if (plan.block) {                                                                     \
            if (vec) KERNEL<T, VW, true><<<plan.grid, plan.threads, 0, fg_cuda_stream()>>>(__VA_ARGS__); \
            else KERNEL<T, 1, true><<<plan.grid, plan.threads, 0, fg_cuda_stream()>>>(__VA_ARGS__);    \
        } else {                                                                              \
            if (vec) KERNEL<T, VW, false><<<plan.grid, plan.threads, 0, fg_cuda_stream()>>>(__VA_ARGS__); \
            else KERNEL<T, 1, false><<<plan.grid, plan.threads, 0, fg_cuda_stream()>>>(__VA_ARGS__);    \
        }                                                                                     \
    } while (0)

bool all_aligned16(int n, const void *const *ps) {
    for (int i = 0; i < n; i++)
        if (ps[i] && !fg_cuda_aligned16(ps[i])) return false;
    return true;
}

template <typename T>
fg_error *launch_rope(const char *op, fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                      const fg_tensor *cos, const fg_tensor *sin, bool norm) {
    constexpr int VW = fg_vec_width<T>;
    RopeArgs<T> a = {(T *)out->data, (const T *)x->data, (const float *)cos->data, (const float *)sin->data,
                     param_of(weight), 0, x->shape[3], x->shape[1], x->shape[2], cos->shape[0] != 1, eps};
    a.rows = x->shape[0] * x->shape[1] * x->shape[2];
    if (a.rows == 0 || a.d == 0) return NULL;
    const void *ps[] = {out->data, x->data};
    bool vec = a.d % VW == 0 && all_aligned16(2, ps);
    RowPlan p = plan_rows(a.rows, norm ? a.d : 0, a.d / (vec ? VW : 2)); // plain rope: a warp per row
    cudaStream_t st = fg_cuda_stream();
    if (norm && p.block) {
        if (vec) rope_kernel<T, VW, true, true><<<p.grid, p.threads, 0, st>>>(a);
        else rope_kernel<T, 2, true, true><<<p.grid, p.threads, 0, st>>>(a);
    } else if (norm) {
        if (vec) rope_kernel<T, VW, false, true><<<p.grid, p.threads, 0, st>>>(a);
        else rope_kernel<T, 2, false, true><<<p.grid, p.threads, 0, st>>>(a);
    } else {
        if (vec) rope_kernel<T, VW, false, false><<<p.grid, p.threads, 0, st>>>(a);
        else rope_kernel<T, 2, false, false><<<p.grid, p.threads, 0, st>>>(a);
    }
    CUDA_TRY(cudaGetLastError(), op);
    return NULL;
}

fg_error *rope_common(const char *op, fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                      const fg_tensor *cos, const fg_tensor *sin, bool norm) {
    FG_TRY(fg_cuda_check_act(op, out, 1, &x));
    FG_TRY(check_param_dtype(op, "weight", weight));
    if (x->ndim != 4 || x->shape[3] % 2 != 0 || cos->dtype != FG_F32 || sin->dtype != FG_F32)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: needs x [B, H, L, D] with D even and F32 cos/sin", op);
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        return launch_rope<T>(op, out, x, weight, eps, cos, sin, norm);
    });
}

template <typename T>
fg_error *launch_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                            const fg_tensor *bias, float eps, bool silu) {
    constexpr int VW = fg_vec_width<T>;
    long long n = fg_tensor_numel(x), batch = x->shape[0], channels = x->shape[1];
    long long spatial = channels > 0 && batch > 0 ? n / (batch * channels) : 0;
    long long span = channels / groups * spatial, groups_total = batch * groups;
    long long nchunks = (span + kGroupChunk - 1) / kGroupChunk;
    if (groups_total * nchunks > 0x7FFFFFFFLL)
        return fg_errorf(FG_ERR_UNSUPPORTED, "group_norm: %lld groups of %lld values exceed one launch",
                         groups_total, span);
    Moments *part;
    float2 *stats;
    FG_TRY(fg_cuda_scratch(0, (size_t)(groups_total * nchunks) * sizeof(Moments), (void **)&part));
    FG_TRY(fg_cuda_scratch(1, (size_t)groups_total * sizeof(float2), (void **)&stats));
    cudaStream_t st = fg_cuda_stream();
    const void *ps[] = {out->data, x->data};
    bool vec_span = span % VW == 0 && all_aligned16(2, ps); // every chunk starts aligned
    unsigned blocks = (unsigned)(groups_total * nchunks);
    const T *xi = (const T *)x->data;
    if (vec_span) group_partial_kernel<T, VW><<<blocks, kGroupThreads, 0, st>>>(xi, span, (int)nchunks, part);
    else group_partial_kernel<T, 1><<<blocks, kGroupThreads, 0, st>>>(xi, span, (int)nchunks, part);
    CUDA_CHECK_LAUNCH("group_norm partial sums");
    unsigned stat_blocks = (unsigned)((groups_total + 7) / 8);
    group_stats_kernel<<<stat_blocks, 256, 0, st>>>(part, (int)nchunks, groups_total, eps, stats);
    CUDA_CHECK_LAUNCH("group_norm statistics");
    bool vec = spatial % VW == 0 && all_aligned16(2, ps); // a chunk never straddles two channels
    int v = vec ? VW : 1;
    GroupApply a = {stats, param_of(weight), param_of(bias), n / v, spatial / v, channels, channels / groups,
                    {}, {}, {}, silu};
    bool fast = a.chunks <= 0xFFFFFFFFLL;
    if (fast) {
        a.by_plane = fg_fastdiv_make((unsigned)a.plane_chunks);
        a.by_channels = fg_fastdiv_make((unsigned)a.channels);
        a.by_cpg = fg_fastdiv_make((unsigned)a.cpg);
    }
    unsigned grid = fg_cuda_grid(a.chunks, 256);
    T *o = (T *)out->data;
    if (vec && fast) group_apply_kernel<T, VW, true><<<grid, 256, 0, st>>>(o, xi, a);
    else if (vec) group_apply_kernel<T, VW, false><<<grid, 256, 0, st>>>(o, xi, a);
    else if (fast) group_apply_kernel<T, 1, true><<<grid, 256, 0, st>>>(o, xi, a);
    else group_apply_kernel<T, 1, false><<<grid, 256, 0, st>>>(o, xi, a);
    CUDA_CHECK_LAUNCH("group_norm normalise");
    return NULL;
}

} // namespace

// ---- entry points -----------------------------------------------------------------------------

fg_error *fg_cuda_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                             float eps, const fg_tensor *shift, const fg_tensor *scale) {
    const fg_tensor *acts[] = {x, shift, scale};
    FG_TRY(fg_cuda_check_act("layer_norm", out, 3, acts));
    FG_TRY(check_param_dtype("layer_norm", "weight", weight));
    FG_TRY(check_param_dtype("layer_norm", "bias", bias));
    long long d = x->shape[x->ndim - 1], n = fg_tensor_numel(x);
    if (d == 0 || n == 0) return NULL;
    if (shift && (!scale || x->ndim != 3))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "layer_norm: modulation needs x [B, L, D] with shift and scale");
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        constexpr int VW = fg_vec_width<T>;
        LayerNormArgs<T> a = {(T *)out->data, (const T *)x->data, shift ? (const T *)shift->data : nullptr,
                              shift ? (const T *)scale->data : nullptr, param_of(weight), param_of(bias), n / d, d,
                              shift ? x->shape[1] : 1, eps};
        if (a.l == 0) return NULL;
        const void *ps[] = {a.out, a.x, a.shift, a.scale};
        bool vec = d % VW == 0 && all_aligned16(4, ps);
        RowPlan p = plan_rows(a.rows, d, d / (vec ? VW : 1));
        LAUNCH_ROWS(layer_norm_kernel, p, vec, a);
        CUDA_CHECK_LAUNCH("layer_norm");
        return NULL;
    });
}

fg_error *fg_cuda_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) {
    FG_TRY(fg_cuda_check_act("rms_norm", out, 1, &x));
    FG_TRY(check_param_dtype("rms_norm", "weight", weight));
    long long d = x->shape[x->ndim - 1], n = fg_tensor_numel(x);
    if (d == 0 || n == 0) return NULL;
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        constexpr int VW = fg_vec_width<T>;
        RmsNormArgs<T> a = {(T *)out->data, (const T *)x->data, param_of(weight), n / d, d, eps};
        const void *ps[] = {a.out, a.x};
        bool vec = d % VW == 0 && all_aligned16(2, ps);
        RowPlan p = plan_rows(a.rows, d, d / (vec ? VW : 1));
        LAUNCH_ROWS(rms_norm_kernel, p, vec, a);
        CUDA_CHECK_LAUNCH("rms_norm");
        return NULL;
    });
}

fg_error *fg_cuda_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                                const fg_tensor *cos, const fg_tensor *sin) {
    return rope_common("rms_norm_rope", out, x, weight, eps, cos, sin, true);
}

fg_error *fg_cuda_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) {
    return rope_common("rope", out, x, nullptr, 0.0f, cos, sin, false);
}

fg_error *fg_cuda_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                             const fg_tensor *bias, float eps, bool fuse_silu) {
    FG_TRY(fg_cuda_check_act("group_norm", out, 1, &x));
    FG_TRY(check_param_dtype("group_norm", "weight", weight));
    FG_TRY(check_param_dtype("group_norm", "bias", bias));
    if (fg_tensor_numel(x) == 0) return NULL;
    if (groups < 1 || x->ndim < 2 || x->shape[1] % groups != 0)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "group_norm: %d groups do not divide the channels", groups);
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        return launch_group_norm<T>(out, x, groups, weight, bias, eps, fuse_silu);
    });
}

fg_error *fg_cuda_softmax(fg_tensor *out, const fg_tensor *x) {
    FG_TRY(fg_cuda_check_act("softmax", out, 1, &x));
    long long d = x->shape[x->ndim - 1], n = fg_tensor_numel(x);
    if (d == 0 || n == 0) return NULL;
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        constexpr int VW = fg_vec_width<T>;
        const void *ps[] = {out->data, x->data};
        bool vec = d % VW == 0 && all_aligned16(2, ps);
        RowPlan p = plan_rows(n / d, d, d / (vec ? VW : 1));
        LAUNCH_ROWS(softmax_kernel, p, vec, (T *)out->data, (const T *)x->data, n / d, d);
        CUDA_CHECK_LAUNCH("softmax");
        return NULL;
    });
}
