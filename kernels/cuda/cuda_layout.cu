// CUDA layout ops: pure data movement, so they work on any dtype by element size (1, 2, 4, 8
// bytes). Where whole runs of bytes move together (permutes that keep the innermost dim,
// concat and slice blocks) the copy uses the widest unit up to 16 bytes that divides the run
// and both addresses, so FLUX's qkv split [B,L,3,H,D] -> [3,B,H,L,D] and the head merge
// [B,H,L,D] -> [B,L,H,D] move 16-byte vectors. Every kernel writes its output contiguously
// (coalesced stores) and gathers from the input.
#include <stdint.h>

#include <type_traits>

#include "kernels/cuda/cuda_vec.cuh"

namespace {

constexpr int kBlock = 256;

struct Bytes16 {
    uint4 v;
};

// Calls f((E *)nullptr) with E an element type of `size` bytes (1, 2, 4, 8 or 16).
template <typename F> fg_error *with_unit(size_t size, const char *op, F &&f) {
    switch (size) {
    case 1: return f((uint8_t *)nullptr);
    case 2: return f((uint16_t *)nullptr);
    case 4: return f((uint32_t *)nullptr);
    case 8: return f((unsigned long long *)nullptr);
    case 16: return f((Bytes16 *)nullptr);
    default: return fg_errorf(FG_ERR_UNSUPPORTED, "%s: elements of %zu bytes are not supported", op, size);
    }
}

// The widest unit (<= 16 bytes, a multiple of esz) dividing every value and address given.
size_t widest_unit(size_t esz, int n, const uint64_t *vals) {
    size_t u = 16;
    while (u > esz) {
        bool ok = true;
        for (int i = 0; i < n && ok; i++) ok = vals[i] % u == 0;
        if (ok) break;
        u /= 2;
    }
    return u > esz ? u : esz;
}

#define GRID_STRIDE(i, n)                                                                     \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n);             \
         i += (long long)gridDim.x * blockDim.x)

// ---- permute ----------------------------------------------------------------------------------

struct PermuteArgs {
    int ndim;
    long long shape[FG_MAX_DIMS];     // out's shape (in units)
    long long in_stride[FG_MAX_DIMS]; // input stride (in units) of each out dim
    fg_fastdiv div[FG_MAX_DIMS];      // by shape[d], set when every index fits in 32 bits
};

// Input offset of out's element i; FAST: every index fits in 32 bits, so the coordinates come
// from multiply-shift divisions.
template <bool FAST> __host__ __device__ __forceinline__ long long permute_offset(const PermuteArgs &g, long long i) {
    long long off = 0;
    if constexpr (FAST) {
        unsigned rem = (unsigned)i, o = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            unsigned q = fg_fastdiv_div(rem, g.div[d]);
            o += (rem - q * g.div[d].d) * (unsigned)g.in_stride[d];
            rem = q;
        }
        off = o;
    } else {
        long long rem = i;
        for (int d = g.ndim - 1; d >= 0; d--) {
            off += (rem % g.shape[d]) * g.in_stride[d];
            rem /= g.shape[d];
        }
    }
    return off;
}

template <typename E, bool FAST> __global__ void permute_kernel(E *out, const E *in, PermuteArgs g, long long n) {
    GRID_STRIDE(i, n) out[i] = in[permute_offset<FAST>(g, i)];
}

// Drops size-1 dims and merges out dims that are also adjacent and in order in the input.
PermuteArgs simplify_permute(const PermuteArgs &a) {
    PermuteArgs g = {};
    for (int d = 0; d < a.ndim; d++) {
        if (a.shape[d] == 1) continue;
        if (g.ndim > 0 && g.in_stride[g.ndim - 1] == a.in_stride[d] * a.shape[d]) {
            g.shape[g.ndim - 1] *= a.shape[d];
            g.in_stride[g.ndim - 1] = a.in_stride[d];
        } else {
            g.shape[g.ndim] = a.shape[d];
            g.in_stride[g.ndim] = a.in_stride[d];
            g.ndim++;
        }
    }
    if (g.ndim == 0) {
        g.ndim = 1;
        g.shape[0] = 1;
        g.in_stride[0] = 1;
    }
    return g;
}

// The kernel's view of a permute: units of *unit bytes (the element, or up to 16 bytes of the
// innermost dim when that stays innermost), simplified dims, divisors for 32-bit indexing.
PermuteArgs plan_permute(const fg_tensor *out, const fg_tensor *x, const int *perm, size_t *unit) {
    size_t esz = fg_dtype_size(x->dtype);
    int nd = x->ndim, last = nd - 1;
    PermuteArgs a = {};
    a.ndim = nd > 0 ? nd : 1;
    a.shape[0] = 1;
    a.in_stride[0] = 1;
    long long x_stride[FG_MAX_DIMS];
    long long s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        x_stride[d] = s;
        s *= x->shape[d];
    }
    for (int d = 0; d < nd; d++) {
        a.shape[d] = out->shape[d];
        a.in_stride[d] = x_stride[perm[d]];
    }
    *unit = esz;
    if (nd > 0 && perm[last] == last) {
        // the innermost dim stays innermost: copy its bytes in the widest unit that fits
        uint64_t vals[] = {(uint64_t)(uintptr_t)out->data, (uint64_t)(uintptr_t)x->data,
                           (uint64_t)(x->shape[last] * (long long)esz)};
        *unit = widest_unit(esz, 3, vals);
        long long k = (long long)(*unit / esz);
        a.shape[last] /= k;
        for (int d = 0; d < last; d++) a.in_stride[d] /= k; // multiples of the inner dim's size
    }
    PermuteArgs g = simplify_permute(a);
    long long units = 1;
    for (int d = 0; d < g.ndim; d++) units *= g.shape[d];
    if (units <= 0xFFFFFFFFLL)
        for (int d = 0; d < g.ndim; d++) g.div[d] = fg_fastdiv_make((unsigned)g.shape[d]);
    return g;
}

// ---- strided 2-D copy (concat, slice) ------------------------------------------------------

// rows x width units: dst[r * dst_pitch + k] = src[r * src_pitch + k].
// FAST: n fits in 32 bits and wdiv divides by width.
template <typename E, bool FAST>
__global__ void copy2d_kernel(E *dst, long long dst_pitch, const E *src, long long src_pitch, long long width,
                              fg_fastdiv wdiv, long long n) {
    GRID_STRIDE(i, n) {
        long long r = FAST ? (long long)fg_fastdiv_div((unsigned)i, wdiv) : i / width;
        long long k = i - r * width;
        dst[r * dst_pitch + k] = src[r * src_pitch + k];
    }
}

// Copies `rows` runs of row_bytes bytes with the given pitches (bytes).
fg_error *copy2d(const char *op, void *dst, long long dst_pitch, const void *src, long long src_pitch,
                 long long row_bytes, long long rows, size_t esz) {
    if (rows <= 0 || row_bytes <= 0) return NULL;
    uint64_t vals[] = {(uint64_t)(uintptr_t)dst, (uint64_t)(uintptr_t)src, (uint64_t)dst_pitch, (uint64_t)src_pitch,
                       (uint64_t)row_bytes};
    size_t u = widest_unit(esz, 5, vals);
    return with_unit(u, op, [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        long long width = row_bytes / (long long)u, n = rows * width;
        long long dp = dst_pitch / (long long)u, sp = src_pitch / (long long)u;
        unsigned grid = fg_cuda_grid(n, kBlock);
        if (n <= 0xFFFFFFFFLL)
            copy2d_kernel<E, true><<<grid, kBlock, 0, fg_cuda_stream()>>>(
                (E *)dst, dp, (const E *)src, sp, width, fg_fastdiv_make((unsigned)width), n);
        else
            copy2d_kernel<E, false><<<grid, kBlock, 0, fg_cuda_stream()>>>((E *)dst, dp, (const E *)src, sp, width,
                                                                           fg_fastdiv{1, 1, 0}, n);
        CUDA_TRY(cudaGetLastError(), op);
        return NULL;
    });
}

void outer_inner(const fg_tensor *t, int dim, long long *outer, long long *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < dim; d++) *outer *= t->shape[d];
    for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

// ---- pad2d ------------------------------------------------------------------------------------

struct PadArgs {
    long long H, W, Ho, Wo;
    int top, left;
    bool circular;
};

template <typename E> __global__ void pad2d_kernel(E *out, const E *in, PadArgs a, long long n) {
    GRID_STRIDE(i, n) {
        long long ox = i % a.Wo, t = i / a.Wo;
        long long oy = t % a.Ho, plane = t / a.Ho;
        long long y = oy - a.top, x = ox - a.left;
        if (a.circular) {
            // pads are <= the padded dim, so one wrap suffices
            if (y < 0) y += a.H;
            else if (y >= a.H) y -= a.H;
            if (x < 0) x += a.W;
            else if (x >= a.W) x -= a.W;
        }
        E v = {};
        if (y >= 0 && y < a.H && x >= 0 && x < a.W) v = in[(plane * a.H + y) * a.W + x];
        out[i] = v;
    }
}

// ---- patchify / unpatchify --------------------------------------------------------------------

struct PatchArgs {
    long long C, H, W, p;
};

// tokens[B, Hp*Wp, C*p*p] <- image[B, C, H, W]; one token feature per index.
template <typename E> __global__ void patchify_kernel(E *tokens, const E *image, PatchArgs a, long long n) {
    long long p = a.p, Wp = a.W / p, Hp = a.H / p, feat = a.C * p * p;
    GRID_STRIDE(i, n) {
        long long f = i % feat, t = i / feat;
        long long tok = t % (Hp * Wp), b = t / (Hp * Wp);
        long long hi = tok / Wp, wi = tok % Wp;
        long long c = f / (p * p), ph = (f / p) % p, pw = f % p;
        tokens[i] = image[((b * a.C + c) * a.H + hi * p + ph) * a.W + wi * p + pw];
    }
}

// image[B, C, H, W] <- tokens[B, Hp*Wp, C*p*p]; one pixel per index.
template <typename E> __global__ void unpatchify_kernel(E *image, const E *tokens, PatchArgs a, long long n) {
    long long p = a.p, Wp = a.W / p, Hp = a.H / p, feat = a.C * p * p;
    GRID_STRIDE(i, n) {
        long long w = i % a.W, t = i / a.W;
        long long h = t % a.H;
        t /= a.H;
        long long c = t % a.C, b = t / a.C;
        long long tok = (b * Hp + h / p) * Wp + w / p;
        image[i] = tokens[tok * feat + (c * p + h % p) * p + w % p];
    }
}

// ---- nearest 2x upsampling --------------------------------------------------------------------

// One input element per index of [planes, 2H, W]: written to both columns of its output pair
// (adjacent threads write adjacent pairs, so the stores stay coalesced). The VAE upsamples
// hundreds of millions of values, so 32-bit indices divide by multiply-shift.
struct UpsampleArgs {
    long long H, W;
    fg_fastdiv by_w, by_2h; // set when FAST
};

template <typename E, bool FAST>
__global__ void upsample2x_kernel(E *out, const E *in, UpsampleArgs a, long long n) {
    GRID_STRIDE(i, n) {
        long long x, oy, plane;
        if constexpr (FAST) {
            unsigned t = fg_fastdiv_div((unsigned)i, a.by_w), q = fg_fastdiv_div(t, a.by_2h);
            x = (unsigned)i - t * a.by_w.d;
            oy = t - q * a.by_2h.d;
            plane = q;
        } else {
            long long t = i / a.W;
            x = i - t * a.W;
            oy = t % (2 * a.H);
            plane = t / (2 * a.H);
        }
        E v = in[(plane * a.H + oy / 2) * a.W + x];
        E *o = out + (plane * 2 * a.H + oy) * 2 * a.W + 2 * x;
        o[0] = v;
        o[1] = v;
    }
}

template <typename F> fg_error *with_elem(const fg_tensor *t, const char *op, F &&f) {
    return with_unit(fg_dtype_size(t->dtype), op, f);
}

} // namespace

// ---- entry points -----------------------------------------------------------------------------

fg_error *fg_cuda_permute(fg_tensor *out, const fg_tensor *x, const int *perm) {
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    size_t unit;
    PermuteArgs g = plan_permute(out, x, perm, &unit);
    long long units = n / (long long)(unit / fg_dtype_size(x->dtype));
    return with_unit(unit, "permute", [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        E *o = (E *)out->data;
        const E *in = (const E *)x->data;
        unsigned grid = fg_cuda_grid(units, kBlock);
        if (units <= 0xFFFFFFFFLL) permute_kernel<E, true><<<grid, kBlock, 0, fg_cuda_stream()>>>(o, in, g, units);
        else permute_kernel<E, false><<<grid, kBlock, 0, fg_cuda_stream()>>>(o, in, g, units);
        CUDA_CHECK_LAUNCH("permute");
        return NULL;
    });
}

fg_error *fg_cuda_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim) {
    if (fg_tensor_numel(out) == 0) return NULL;
    size_t esz = fg_dtype_size(out->dtype);
    long long outer, inner;
    outer_inner(out, dim, &outer, &inner);
    long long inner_bytes = inner * (long long)esz, out_pitch = out->shape[dim] * inner_bytes, at = 0;
    for (int k = 0; k < n; k++) {
        long long bytes = inputs[k]->shape[dim] * inner_bytes;
        FG_TRY(copy2d("concat", (char *)out->data + at, out_pitch, inputs[k]->data, bytes, bytes, outer, esz));
        at += bytes;
    }
    return NULL;
}

fg_error *fg_cuda_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start) {
    if (fg_tensor_numel(out) == 0) return NULL;
    size_t esz = fg_dtype_size(out->dtype);
    long long outer, inner;
    outer_inner(out, dim, &outer, &inner);
    long long ib = inner * (long long)esz;
    return copy2d("slice", out->data, out->shape[dim] * ib, (const char *)x->data + start * ib, x->shape[dim] * ib,
                  out->shape[dim] * ib, outer, esz);
}

fg_error *fg_cuda_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                        fg_pad_mode mode) {
    (void)bottom;
    (void)right;
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    PadArgs a = {x->shape[2], x->shape[3], out->shape[2], out->shape[3], top, left, mode == FG_PAD_CIRCULAR};
    if (a.circular && (a.H == 0 || a.W == 0)) return NULL; // all pads 0 on that dim: nothing to copy
    return with_elem(x, "pad2d", [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        pad2d_kernel<E><<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>((E *)out->data,
                                                                                  (const E *)x->data, a, n);
        CUDA_CHECK_LAUNCH("pad2d");
        return NULL;
    });
}

fg_error *fg_cuda_patchify(fg_tensor *out, const fg_tensor *x, int p) {
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    PatchArgs a = {x->shape[1], x->shape[2], x->shape[3], p};
    return with_elem(x, "patchify", [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        patchify_kernel<E><<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>((E *)out->data,
                                                                                     (const E *)x->data, a, n);
        CUDA_CHECK_LAUNCH("patchify");
        return NULL;
    });
}

fg_error *fg_cuda_unpatchify(fg_tensor *out, const fg_tensor *x, int p) {
    long long n = fg_tensor_numel(out);
    if (n == 0) return NULL;
    PatchArgs a = {out->shape[1], out->shape[2], out->shape[3], p};
    return with_elem(x, "unpatchify", [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        unpatchify_kernel<E><<<fg_cuda_grid(n, kBlock), kBlock, 0, fg_cuda_stream()>>>((E *)out->data,
                                                                                       (const E *)x->data, a, n);
        CUDA_CHECK_LAUNCH("unpatchify");
        return NULL;
    });
}

fg_error *fg_cuda_upsample_nearest2x(fg_tensor *out, const fg_tensor *x) {
    long long n_in = fg_tensor_numel(x);
    if (n_in == 0) return NULL;
    long long n = 2 * n_in; // each input element on two output rows
    UpsampleArgs a = {x->shape[2], x->shape[3], {}, {}};
    bool fast = n <= 0xFFFFFFFFLL;
    if (fast) {
        a.by_w = fg_fastdiv_make((unsigned)a.W);
        a.by_2h = fg_fastdiv_make((unsigned)(2 * a.H));
    }
    return with_elem(x, "upsample_nearest2x", [&](auto tag) -> fg_error * {
        using E = std::remove_pointer_t<decltype(tag)>;
        E *o = (E *)out->data;
        const E *in = (const E *)x->data;
        unsigned grid = fg_cuda_grid(n, kBlock);
        if (fast) upsample2x_kernel<E, true><<<grid, kBlock, 0, fg_cuda_stream()>>>(o, in, a, n);
        else upsample2x_kernel<E, false><<<grid, kBlock, 0, fg_cuda_stream()>>>(o, in, a, n);
        CUDA_CHECK_LAUNCH("upsample_nearest2x");
        return NULL;
    });
}
