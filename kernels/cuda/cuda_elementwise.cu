// CUDA elementwise ops: activations, broadcast add/mul, gated residual, axpby, scalar affine,
// dtype casts and the deterministic uniform fill. All memory-bound: same-size operands go
// through one flat kernel moving 16-byte vectors; broadcasting works on the output's dims
// after merging the dims every input walks the same way. Math in f32 with the separate
// multiply and add of the CPU backend (no fused multiply-add), so F32 results agree exactly.
// A thread reads element i of its inputs before writing element i of out, so out may alias an
// input of out's shape.
#include <string.h>

#include <type_traits>

#include "kernels/cuda/cuda_vec.cuh"

namespace {

constexpr int kBlock = 256;

// ---- per-element operations ------------------------------------------------------------------

struct ActOp {
    int act;
    __device__ float operator()(float a, float, float) const { return fg_cuda_activate(a, (fg_activation)act); }
};

struct AxpbyOp {
    float alpha, beta;
    bool has_y;
    __device__ float operator()(float x, float y, float) const {
        float v = __fmul_rn(alpha, x);
        return has_y ? __fadd_rn(v, __fmul_rn(beta, y)) : v;
    }
};

struct AffineOp {
    float mul, add;
    __device__ float operator()(float x, float, float) const { return __fadd_rn(__fmul_rn(x, mul), add); }
};

enum BinKind { BIN_ADD, BIN_MUL, BIN_GATED };

// add: a + b; mul: a * b; gated: a + b * c (x + gate * y).
struct BinOp {
    int kind;
    __device__ float operator()(float a, float b, float c) const {
        if (kind == BIN_ADD) return __fadd_rn(a, b);
        if (kind == BIN_MUL) return __fmul_rn(a, b);
        return __fadd_rn(a, __fmul_rn(b, c));
    }
};

// ---- flat kernel: inputs of out's size -----------------------------------------------------

// out[i] = op(a[i], b[i], c[i]) (b, c may be NULL). Chunks of V elements, then a scalar tail.
template <typename T, int V, typename Op>
__global__ void flat_kernel(T *out, const T *a, const T *b, const T *c, Op op, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long chunks = n / V;
    for (long long k = tid; k < chunks; k += stride) {
        float fa[V], fb[V] = {}, fc[V] = {};
        fg_chunk_load<T, V>(a + k * V, fa);
        if (b) fg_chunk_load<T, V>(b + k * V, fb);
        if (c) fg_chunk_load<T, V>(c + k * V, fc);
#pragma unroll
        for (int j = 0; j < V; j++) fa[j] = op(fa[j], fb[j], fc[j]);
        fg_chunk_store<T, V>(out + k * V, fa);
    }
    for (long long i = chunks * V + tid; i < n; i += stride) {
        float vb = b ? fg_cuda_load(b, i) : 0.0f, vc = c ? fg_cuda_load(c, i) : 0.0f;
        fg_cuda_store(out, i, op(fg_cuda_load(a, i), vb, vc));
    }
}

template <typename T, typename Op>
fg_error *launch_flat(const char *op_name, T *out, const T *a, const T *b, const T *c, Op op, long long n) {
    if (n <= 0) return NULL;
    constexpr int VW = fg_vec_width<T>;
    bool vec = fg_cuda_aligned16(out) && fg_cuda_aligned16(a) && (!b || fg_cuda_aligned16(b)) &&
               (!c || fg_cuda_aligned16(c));
    if (vec) {
        long long chunks = n / VW > 0 ? n / VW : 1;
        flat_kernel<T, VW, Op><<<fg_cuda_grid(chunks, kBlock), kBlock, 0, fg_cuda_stream()>>>(out, a, b, c, op, n);
    } else {
        flat_kernel<T, 1, Op><<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>(out, a, b, c, op, n);
    }
    CUDA_TRY(cudaGetLastError(), op_name);
    return NULL;
}

// ---- broadcasting ---------------------------------------------------------------------------

// out's dims after dropping size-1 dims and merging neighbours, with each input's element
// stride per dim (0 where it broadcasts). Inputs are contiguous, so the last stride is 0 or 1.
struct Bcast {
    int ndim;
    long long shape[FG_MAX_DIMS];
    long long stride[3][FG_MAX_DIMS];
    fg_fastdiv div[FG_MAX_DIMS]; // by shape[d], set when every index fits in 32 bits
};

// Element strides of t against out's shape padded on the left to FG_MAX_DIMS (as the CPU does).
void bcast_strides(const fg_tensor *t, const long long *shape5, long long *stride5) {
    long long s = 1;
    for (int d = FG_MAX_DIMS - 1; d >= 0; d--) {
        int td = t->ndim - (FG_MAX_DIMS - d);
        long long size = td >= 0 ? t->shape[td] : 1;
        stride5[d] = (td < 0 || (size == 1 && shape5[d] != 1)) ? 0 : s;
        if (td >= 0) s *= size;
    }
}

Bcast make_bcast(const fg_tensor *out, int n_in, const fg_tensor *const *ins) {
    long long shape5[FG_MAX_DIMS], stride5[3][FG_MAX_DIMS] = {};
    for (int d = 0; d < FG_MAX_DIMS; d++) {
        int od = out->ndim - (FG_MAX_DIMS - d);
        shape5[d] = od >= 0 ? out->shape[od] : 1;
    }
    for (int k = 0; k < n_in; k++) bcast_strides(ins[k], shape5, stride5[k]);
    Bcast g = {};
    for (int d = 0; d < FG_MAX_DIMS; d++) {
        if (shape5[d] == 1) continue; // contributes nothing to any offset
        bool merge = g.ndim > 0;
        // dim d folds into the previous kept dim p when every input steps through p exactly
        // shape[d] times faster than through d (contiguous, or broadcast in both: 0 == 0)
        for (int k = 0; merge && k < 3; k++) merge = g.stride[k][g.ndim - 1] == stride5[k][d] * shape5[d];
        if (merge) {
            g.shape[g.ndim - 1] *= shape5[d];
            for (int k = 0; k < 3; k++) g.stride[k][g.ndim - 1] = stride5[k][d];
        } else {
            g.shape[g.ndim] = shape5[d];
            for (int k = 0; k < 3; k++) g.stride[k][g.ndim] = stride5[k][d];
            g.ndim++;
        }
    }
    if (g.ndim == 0) { // a single element
        g.ndim = 1;
        g.shape[0] = 1;
    }
    return g;
}

// Loads the V-element chunk of an input at offset off: contiguous (last stride 1) or one
// value repeated (last stride 0).
template <typename T, int V>
__device__ __forceinline__ void bcast_load(const T *p, long long off, bool repeat, float *f) {
    if (repeat) {
        float v = fg_cuda_load(p, off);
#pragma unroll
        for (int j = 0; j < V; j++) f[j] = v;
    } else {
        fg_chunk_load<T, V>(p + off, f);
    }
}

// Input offsets of out's element i (each < 2^32 when FAST, as no input outsizes out).
template <bool FAST>
__host__ __device__ __forceinline__ void bcast_offsets(const Bcast &g, long long i, long long *off) {
    off[0] = off[1] = off[2] = 0;
    if constexpr (FAST) {
        unsigned rem = (unsigned)i, o0 = 0, o1 = 0, o2 = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            unsigned q = fg_fastdiv_div(rem, g.div[d]), idx = rem - q * g.div[d].d;
            o0 += idx * (unsigned)g.stride[0][d];
            o1 += idx * (unsigned)g.stride[1][d];
            o2 += idx * (unsigned)g.stride[2][d];
            rem = q;
        }
        off[0] = o0;
        off[1] = o1;
        off[2] = o2;
    } else {
        long long rem = i;
        for (int d = g.ndim - 1; d >= 0; d--) {
            long long idx = rem % g.shape[d];
            rem /= g.shape[d];
            for (int k = 0; k < 3; k++) off[k] += idx * g.stride[k][d];
        }
    }
}

// One chunk of V elements along out's last dim per step.
template <typename T, int V, bool FAST>
__global__ void bcast_kernel(T *out, const T *a, const T *b, const T *c, BinOp op, Bcast g, long long chunks) {
    const int last = g.ndim - 1;
    bool rep_a = g.stride[0][last] == 0, rep_b = g.stride[1][last] == 0, rep_c = g.stride[2][last] == 0;
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < chunks; k += step) {
        long long off[3];
        bcast_offsets<FAST>(g, k * V, off);
        float fa[V], fb[V], fc[V] = {};
        bcast_load<T, V>(a, off[0], rep_a, fa);
        bcast_load<T, V>(b, off[1], rep_b, fb);
        if (c) bcast_load<T, V>(c, off[2], rep_c, fc);
#pragma unroll
        for (int j = 0; j < V; j++) fa[j] = op(fa[j], fb[j], fc[j]);
        fg_chunk_store<T, V>(out + k * V, fa);
    }
}

template <typename T, int V>
void launch_bcast(T *out, const T *a, const T *b, const T *c, BinOp op, Bcast g, long long n) {
    long long chunks = n / V;
    unsigned grid = fg_cuda_grid(chunks, kBlock);
    if (n <= 0xFFFFFFFFLL) {
        for (int d = 0; d < g.ndim; d++) g.div[d] = fg_fastdiv_make((unsigned)g.shape[d]);
        bcast_kernel<T, V, true><<<grid, kBlock, 0, fg_cuda_stream()>>>(out, a, b, c, op, g, chunks);
    } else {
        bcast_kernel<T, V, false><<<grid, kBlock, 0, fg_cuda_stream()>>>(out, a, b, c, op, g, chunks);
    }
}

// ins[0..n_in) (2 or 3) combined by `kind` into out; same-size inputs take the flat kernel.
fg_error *run_binary(const char *op_name, fg_tensor *out, int n_in, const fg_tensor *const *ins, int kind) {
    FG_TRY(fg_cuda_check_act(op_name, out, n_in, ins));
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    bool all_same = true;
    for (int k = 0; k < n_in; k++) all_same = all_same && fg_tensor_numel(ins[k]) == n;
    BinOp op = {kind};
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        T *o = (T *)out->data;
        const T *a = (const T *)ins[0]->data, *b = (const T *)ins[1]->data;
        const T *c = n_in > 2 ? (const T *)ins[2]->data : nullptr;
        if (all_same) return launch_flat<T>(op_name, o, a, b, c, op, n);
        Bcast g = make_bcast(out, n_in, ins);
        constexpr int VW = fg_vec_width<T>;
        bool vec = g.shape[g.ndim - 1] % VW == 0 && fg_cuda_aligned16(o) && fg_cuda_aligned16(a) &&
                   fg_cuda_aligned16(b) && (!c || fg_cuda_aligned16(c));
        if (vec) launch_bcast<T, VW>(o, a, b, c, op, g, n);
        else launch_bcast<T, 1>(o, a, b, c, op, g, n);
        CUDA_TRY(cudaGetLastError(), op_name);
        return NULL;
    });
}

// ---- exact conversions for cast and fill (core/dtype.c's rules, bit for bit) -----------------
// Host-callable too, so they can be checked against core/dtype.c without a GPU.

#define FG_HD __host__ __device__ __forceinline__

FG_HD unsigned f32_bits(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
#endif
}

FG_HD float bits_f32(unsigned u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

FG_HD bool is_int_dtype(int dt) {
    return dt == FG_I64 || dt == FG_I32 || dt == FG_U8 || dt == FG_BOOL;
}

FG_HD float load_as_float(const void *p, int dt, long long i) {
    switch (dt) {
    case FG_F32: return ((const float *)p)[i];
    case FG_BF16: return bits_f32((unsigned)((const unsigned short *)p)[i] << 16);
    case FG_F16: return __half2float(((const __half *)p)[i]);
    case FG_F8_E4M3:
        return __half2float(__half(__nv_cvt_fp8_to_halfraw(((const __nv_fp8_storage_t *)p)[i], __NV_E4M3)));
    case FG_F8_E5M2:
        return __half2float(__half(__nv_cvt_fp8_to_halfraw(((const __nv_fp8_storage_t *)p)[i], __NV_E5M2)));
    case FG_I64: return (float)((const long long *)p)[i];
    case FG_I32: return (float)((const int *)p)[i];
    default: return (float)((const unsigned char *)p)[i]; // U8, BOOL
    }
}

FG_HD long long load_as_int(const void *p, int dt, long long i) {
    switch (dt) {
    case FG_I64: return ((const long long *)p)[i];
    case FG_I32: return ((const int *)p)[i];
    default: return ((const unsigned char *)p)[i];
    }
}

// f32 -> bf16 nearest even, NaN kept quiet (fg_f32_to_bf16).
FG_HD unsigned short bf16_bits(float f) {
    unsigned u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (unsigned short)((u >> 16) | 0x40u);
    return (unsigned short)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Float -> integer: NaN is 0, out of range saturates, otherwise truncation toward zero.
FG_HD long long float_to_int(float f, long long lo, long long hi) {
    if (isnan(f)) return 0;
    if (f <= (float)lo) return lo;
    if (f >= (float)hi) return hi;
    return (long long)f;
}

FG_HD void store_from_float(void *p, int dt, long long i, float v) {
    unsigned sign = f32_bits(v) >> 31;
    switch (dt) {
    case FG_F32: ((float *)p)[i] = v; break;
    case FG_BF16: ((unsigned short *)p)[i] = bf16_bits(v); break;
    case FG_F16:
        ((unsigned short *)p)[i] =
            isnan(v) ? (unsigned short)((sign << 15) | 0x7E00u) : __half_raw(__float2half_rn(v)).x;
        break;
    case FG_F8_E4M3: {
        // e4m3fn has no inf: inf saturates to 448 like any overflow; 0x7F is NaN
        unsigned char b = isnan(v)   ? (unsigned char)((sign << 7) | 0x7Fu)
                          : isinf(v) ? (unsigned char)((sign << 7) | 0x7Eu)
                                     : (unsigned char)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
        ((unsigned char *)p)[i] = b;
        break;
    }
    case FG_F8_E5M2: {
        unsigned char b = isnan(v)   ? (unsigned char)((sign << 7) | 0x7Eu)
                          : isinf(v) ? (unsigned char)((sign << 7) | 0x7Cu)
                                     : (unsigned char)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E5M2);
        ((unsigned char *)p)[i] = b;
        break;
    }
    case FG_I64: ((long long *)p)[i] = float_to_int(v, (long long)INT64_MIN, (long long)INT64_MAX); break;
    case FG_I32: ((int *)p)[i] = (int)float_to_int(v, INT32_MIN, INT32_MAX); break;
    case FG_U8: ((unsigned char *)p)[i] = (unsigned char)float_to_int(v, 0, 255); break;
    default: ((unsigned char *)p)[i] = v != 0.0f; break; // BOOL
    }
}

// Integer -> integer: exact, narrowing wraps modulo 2^bits; BOOL is v != 0.
FG_HD void store_int(void *p, int dt, long long i, long long v) {
    switch (dt) {
    case FG_I64: ((long long *)p)[i] = v; break;
    case FG_I32: ((int *)p)[i] = (int)(unsigned)(unsigned long long)v; break;
    case FG_U8: ((unsigned char *)p)[i] = (unsigned char)(unsigned long long)v; break;
    default: ((unsigned char *)p)[i] = v != 0; break;
    }
}

// Runtime dtypes: casts are rare (model boundaries, weight conversion), so one kernel serves
// all 72 pairs; the dtype switches are uniform across the grid.
__global__ void cast_kernel(void *dst, int dst_dt, const void *src, int src_dt, long long n) {
    bool ints = is_int_dtype(src_dt) && is_int_dtype(dst_dt);
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += step) {
        if (ints) store_int(dst, dst_dt, i, load_as_int(src, src_dt, i));
        else store_from_float(dst, dst_dt, i, load_as_float(src, src_dt, i));
    }
}

// F32 <-> BF16, the activation casts: 16-byte loads of 4 floats, 8-byte stores of 4 bf16.
__global__ void f32_to_bf16_kernel(__nv_bfloat16 *dst, const float *src, long long n) {
    long long step = (long long)gridDim.x * blockDim.x;
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long quads = n / 4;
    for (long long k = tid; k < quads; k += step) {
        float4 v = reinterpret_cast<const float4 *>(src)[k];
        uint2 o;
        o.x = (unsigned)bf16_bits(v.x) | ((unsigned)bf16_bits(v.y) << 16);
        o.y = (unsigned)bf16_bits(v.z) | ((unsigned)bf16_bits(v.w) << 16);
        reinterpret_cast<uint2 *>(dst)[k] = o;
    }
    for (long long i = quads * 4 + tid; i < n; i += step)
        reinterpret_cast<unsigned short *>(dst)[i] = bf16_bits(src[i]);
}

__device__ void fill_one(void *p, int dt, long long i, unsigned long long seed, float lo, float span) {
    // u has 24 random bits, exact in f32; no fma, so the CPU's lo + span * u is matched
    float u = (float)(fg_fill_hash(seed, (unsigned long long)i) >> 40) * (1.0f / 16777216.0f);
    store_from_float(p, dt, i, __fadd_rn(lo, __fmul_rn(span, u)));
}

__global__ void fill_uniform_kernel(void *dst, int dt, long long n, unsigned long long seed, float lo, float span) {
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += step)
        fill_one(dst, dt, i, seed, lo, span);
}

fg_error *copy_bytes(void *dst, const void *src, size_t nbytes, const char *op_name) {
    if (dst == src || nbytes == 0) return NULL;
    CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, fg_cuda_stream()), op_name);
    return NULL;
}

} // namespace

// ---- entry points ---------------------------------------------------------------------------

fg_error *fg_cuda_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) {
    FG_TRY(fg_cuda_check_act("unary", out, 1, &x));
    long long n = fg_tensor_numel(out);
    if (act == FG_ACT_NONE) return copy_bytes(out->data, x->data, fg_tensor_nbytes(out), "unary copy");
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        return launch_flat<T>("unary", (T *)out->data, (const T *)x->data, nullptr, nullptr, ActOp{(int)act}, n);
    });
}

fg_error *fg_cuda_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    const fg_tensor *ins[] = {a, b};
    return run_binary("add", out, 2, ins, BIN_ADD);
}

fg_error *fg_cuda_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) {
    const fg_tensor *ins[] = {a, b};
    return run_binary("mul", out, 2, ins, BIN_MUL);
}

fg_error *fg_cuda_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) {
    const fg_tensor *ins[] = {x, gate, y};
    return run_binary("add_gated", out, 3, ins, BIN_GATED);
}

fg_error *fg_cuda_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) {
    const fg_tensor *ins[] = {x, y};
    FG_TRY(fg_cuda_check_act("axpby", out, 2, ins));
    long long n = fg_tensor_numel(out);
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        AxpbyOp op = {alpha, beta, y != nullptr};
        return launch_flat<T>("axpby", (T *)out->data, (const T *)x->data, y ? (const T *)y->data : nullptr,
                              nullptr, op, n);
    });
}

fg_error *fg_cuda_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) {
    FG_TRY(fg_cuda_check_act("scale_shift", out, 1, &x));
    long long n = fg_tensor_numel(out);
    return fg_cuda_with_act_type(out->dtype, [&](auto tag) -> fg_error * {
        using T = std::remove_pointer_t<decltype(tag)>;
        return launch_flat<T>("scale_shift", (T *)out->data, (const T *)x->data, nullptr, nullptr,
                              AffineOp{mul, add}, n);
    });
}

fg_error *fg_cuda_cast(fg_tensor *out, const fg_tensor *x) {
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    if ((unsigned)out->dtype >= FG_DTYPE_COUNT || (unsigned)x->dtype >= FG_DTYPE_COUNT)
        return fg_errorf(FG_ERR_UNSUPPORTED, "cast: unknown dtype %d -> %d", (int)x->dtype, (int)out->dtype);
    if (out->dtype == x->dtype) return copy_bytes(out->data, x->data, fg_tensor_nbytes(out), "cast copy");
    if (x->dtype == FG_F32 && out->dtype == FG_BF16 && fg_cuda_aligned16(x->data) && ((uintptr_t)out->data & 7u) == 0) {
        f32_to_bf16_kernel<<<fg_cuda_grid(n / 4 > 0 ? n / 4 : 1, kBlock), kBlock, 0, fg_cuda_stream()>>>(
            (__nv_bfloat16 *)out->data, (const float *)x->data, n);
    } else {
        cast_kernel<<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>(out->data, (int)out->dtype, x->data,
                                                                             (int)x->dtype, n);
    }
    CUDA_CHECK_LAUNCH("cast");
    return NULL;
}

fg_error *fg_cuda_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi) {
    if (!fg_dtype_is_float(out->dtype))
        return fg_errorf(FG_ERR_UNSUPPORTED, "fill_uniform: out is %s, not a float dtype", fg_dtype_name(out->dtype));
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    float span = hi - lo;
    fill_uniform_kernel<<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>(out->data, (int)out->dtype, n,
                                                                                 (unsigned long long)seed, lo, span);
    CUDA_CHECK_LAUNCH("fill_uniform");
    return NULL;
}
