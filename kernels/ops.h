/* The op interface: every op the models need, written once, run on any backend.
 *
 * Eager execution. The caller allocates every output (shape and dtype decide what is
 * computed); an op checks shapes, dtypes and devices here, then dispatches on the output
 * tensor's device to the CPU or CUDA implementation. All tensors of one call live on one
 * device. Tensors are contiguous row-major.
 *
 * Dtypes. "act" = activation tensors: F32 or BF16 on every backend, and all act tensors of one
 * call share one dtype (fg_cast moves between them). BF16 activations are stored rounded to
 * nearest-even while every op computes and accumulates in f32 and normalises in f32; the CPU
 * backend runs BF16 calls through its f32 kernels with the same rounding of inputs and outputs,
 * so the GPU's BF16 path can be tested without a GPU. Parameters documented as F32 (RoPE
 * tables, attention masks) stay F32 whatever the act dtype.
 * "weight" = parameters read from checkpoints: any float dtype (F32, BF16, F16, F8_E4M3,
 * F8_E5M2), widened per call; a NULL optional parameter means "absent".
 * Errors: FG_ERR_INVALID_ARGUMENT for shape/dtype/device mismatches (the message names the op
 * and the shapes), FG_ERR_UNSUPPORTED when a backend lacks the op or dtype. */
#ifndef FG_KERNELS_OPS_H
#define FG_KERNELS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

/* FG_ERR_INVALID_ARGUMENT unless dt is an activation dtype (F32 or BF16); `who` starts the
 * message ("flux: activations must be F32 or BF16, not F16"). */
fg_error *fg_act_dtype_check(const char *who, fg_dtype dt) FG_MUST_CHECK;

/* ---- devices and memory ------------------------------------------------------------- */

/* True when the backend is compiled in and (for CUDA) a device is present. */
bool fg_device_available(fg_device dev);
/* Human-readable description ("cpu: 2 threads, OpenBLAS 0.3.21", "cuda: NVIDIA H100 ..."). */
const char *fg_device_description(fg_device dev);
/* Allocates zero-initialised storage for t on dev. */
fg_error *fg_tensor_alloc(fg_tensor *t, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape) FG_MUST_CHECK;
/* Frees owned storage on whichever device it lives; borrowed views are just cleared. */
void fg_tensor_free(fg_tensor *t);
/* Byte copy between any two devices; dtype and element count must match (shapes may differ). */
fg_error *fg_tensor_copy(fg_tensor *dst, const fg_tensor *src) FG_MUST_CHECK;
/* Waits for queued work on dev (a no-op on the CPU). */
fg_error *fg_device_synchronize(fg_device dev) FG_MUST_CHECK;

/* Device memory as the driver sees it (the CPU reports physical memory). */
fg_error *fg_device_memory_info(fg_device dev, size_t *free_bytes, size_t *total_bytes) FG_MUST_CHECK;
/* What fg_tensor_alloc has handed out on dev: bytes live now, the peak since the last reset,
 * and bytes held in the backend's cache of freed blocks (reused without a driver call). */
typedef struct fg_memory_stats {
    size_t in_use, peak, cached;
} fg_memory_stats;
fg_error *fg_device_memory_stats(fg_device dev, fg_memory_stats *out) FG_MUST_CHECK;
void fg_device_reset_peak(fg_device dev);
/* Returns cached free blocks to the driver (between workflows, or before a large upload). */
void fg_device_release_cached(fg_device dev);

/* Recorded op sequences (CUDA graphs). Between capture_begin and capture_end the ops queued on
 * dev are recorded instead of run; launching the graph replays them on the same tensors, so a
 * caller changes inputs by copying into those tensors first. No allocation from the driver,
 * host copy or synchronisation may happen while capturing: run the sequence once eagerly
 * first so every cache is warm. Backends without graphs return FG_ERR_UNSUPPORTED from
 * capture_begin; callers then keep running eagerly. */
typedef struct fg_graph fg_graph;
fg_error *fg_graph_capture_begin(fg_device dev) FG_MUST_CHECK;
/* Ends the capture; on error (an op failed while recording) nothing is returned. */
fg_error *fg_graph_capture_end(fg_device dev, fg_graph **out) FG_MUST_CHECK;
fg_error *fg_graph_launch(fg_graph *g) FG_MUST_CHECK;
void fg_graph_free(fg_graph *g);

/* ---- dense layers --------------------------------------------------------------------- */

typedef enum fg_activation {
    FG_ACT_NONE = 0,
    FG_ACT_GELU_TANH,  /* 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))): FLUX MLPs, T5 gated-gelu */
    FG_ACT_GELU_ERF,   /* 0.5x(1+erf(x/sqrt 2)) */
    FG_ACT_SILU,       /* x*sigmoid(x): FLUX modulation input, VAE swish */
    FG_ACT_QUICK_GELU, /* x*sigmoid(1.702x): CLIP-L */
} fg_activation;

/* out[..., N] = act(x[..., K] . (w_scale * w[N, K])^T + bias[N]).
 * x, out: act; w, bias: weight (bias may be NULL); w_scale multiplies the widened weight
 * (fp8 scaled checkpoints; pass 1.0f otherwise). Leading dims of x and out must match. */
fg_error *fg_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                    float w_scale, fg_activation act) FG_MUST_CHECK;

/* out[..., D] = table[ids[...], :]. ids: I32 or I64, every id checked against V (an error
 * names the first bad id); table: weight [V, D]; out: act with shape ids.shape + [D]. */
fg_error *fg_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) FG_MUST_CHECK;

/* Scaled dot-product attention per (batch, head):
 * out[B,H,Lq,Dv] = softmax(scale * q[B,H,Lq,D] . k[B,H,Lk,D]^T + mask) . v[B,H,Lk,Dv].
 * mask: NULL or an additive F32 bias [Bm,Hm,Lq,Lk] with Bm in {1,B}, Hm in {1,H}
 * (-inf entries allowed; a row that is all -inf gives zeros, not NaN).
 * T5 passes scale 1, everything else 1/sqrt(D). */
fg_error *fg_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                       const fg_tensor *mask, float scale) FG_MUST_CHECK;

/* Rotary embedding on pairs (2i, 2i+1) of the last dim, as FLUX applies it:
 * out[..2i] = x[2i]*cos - x[2i+1]*sin;  out[..2i+1] = x[2i]*sin + x[2i+1]*cos.
 * x, out: [B,H,L,D] act; cos, sin: F32 [Bp,L,D/2] with Bp in {1,B}. */
fg_error *fg_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin) FG_MUST_CHECK;

/* ---- initialisation ------------------------------------------------------------------ */

/* Fills a float tensor of any float dtype with pseudo-random values uniform in [lo, hi):
 * element i gets lo + (hi - lo) * u, u = (fg_fill_hash(seed, i) >> 40) / 2^24, rounded to the
 * tensor's dtype. The hash is fixed (below), so every backend writes identical values: random
 * full-size models are built directly in device memory for benchmarks. */
fg_error *fg_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi) FG_MUST_CHECK;
/* SplitMix64's finaliser applied to seed + (i + 1) * 0x9E3779B97F4A7C15; shared with the CUDA
 * kernels (callable from device code). */
#ifdef __CUDACC__
#define FG_HOST_DEVICE __host__ __device__
#else
#define FG_HOST_DEVICE
#endif
FG_HOST_DEVICE static inline uint64_t fg_fill_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- normalisation -------------------------------------------------------------------- */

/* LayerNorm over the last dim D with optional affine weight/bias [D] (weight dtype), then the
 * optional adaLN modulation out = norm * (1 + scale) + shift, where x is [B, L, D] and
 * shift/scale are act tensors of B*D elements ([B, D] or [B, 1, D]); both or neither. */
fg_error *fg_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                        float eps, const fg_tensor *shift, const fg_tensor *scale) FG_MUST_CHECK;

/* RMSNorm over the last dim: out = x / sqrt(mean(x^2) + eps) * weight[D] (weight may be NULL).
 * (T5 layer norm; FLUX q/k norm with weight = the per-head-dim scale.) */
fg_error *fg_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps) FG_MUST_CHECK;

/* QK normalisation and rotary embedding in one pass (FLUX attention):
 * out = rope(rms_norm(x, weight, eps), cos, sin) with x, out [B,H,L,D] act, weight [D] (weight
 * dtype), cos, sin as fg_rope. Equals the two ops in sequence, without the intermediate. */
fg_error *fg_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                           const fg_tensor *cos, const fg_tensor *sin) FG_MUST_CHECK;

/* GroupNorm on x[B, C, *spatial] with `groups` groups (C % groups == 0), optional affine
 * weight/bias [C], then SiLU when fuse_silu (the VAE's norm -> swish pair). */
fg_error *fg_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                        const fg_tensor *bias, float eps, bool fuse_silu) FG_MUST_CHECK;

/* Softmax over the last dim (numerically stable; all -inf row -> zeros). */
fg_error *fg_softmax(fg_tensor *out, const fg_tensor *x) FG_MUST_CHECK;

/* ---- elementwise ---------------------------------------------------------------------- */
/* unary, add, mul, add_gated, axpby and scale_shift allow out to be the same tensor as any
 * input of out's shape (in-place updates); a broadcast input must not overlap out. */

/* out = act(x), same shape (act != FG_ACT_NONE, or a copy). */
fg_error *fg_unary(fg_tensor *out, const fg_tensor *x, fg_activation act) FG_MUST_CHECK;
/* out = a + b and out = a * b with NumPy broadcasting of a and b to out's shape
 * (dims aligned from the right; each input dim equals out's or is 1). */
fg_error *fg_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) FG_MUST_CHECK;
fg_error *fg_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b) FG_MUST_CHECK;
/* Gated residual: out = x + gate * y; x, y, out same shape; gate broadcasts to it
 * (FLUX passes gate [B, 1, D] against [B, L, D]). out may alias x. */
fg_error *fg_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y) FG_MUST_CHECK;
/* out = alpha * x + beta * y (same shapes; y may be NULL meaning beta * 0). Sampler updates. */
fg_error *fg_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y) FG_MUST_CHECK;
/* out = x * mul + add with scalars (latent process_in/out, pixel range conversion). */
fg_error *fg_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add) FG_MUST_CHECK;
/* Converts x to out's dtype (same shape), with core/dtype.h's rounding rules. */
fg_error *fg_cast(fg_tensor *out, const fg_tensor *x) FG_MUST_CHECK;

/* ---- layout --------------------------------------------------------------------------- */

/* out = x.permute(perm): out.shape[i] == x.shape[perm[i]]. Any dtype. */
fg_error *fg_permute(fg_tensor *out, const fg_tensor *x, const int *perm) FG_MUST_CHECK;
/* Concatenates n inputs along dim (all other dims equal out's). Any dtype. */
fg_error *fg_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim) FG_MUST_CHECK;
/* out = x[..., start : start + out.shape[dim], ...] along dim. Any dtype. */
fg_error *fg_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start) FG_MUST_CHECK;

typedef enum fg_pad_mode { FG_PAD_ZERO = 0, FG_PAD_CIRCULAR } fg_pad_mode;
/* Pads the last two dims of x[B, C, H, W]: out is [B, C, top+H+bottom, left+W+right].
 * CIRCULAR wraps (each pad <= the padded dim, as torch requires); ZERO fills 0. */
fg_error *fg_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                   fg_pad_mode mode) FG_MUST_CHECK;
/* x[B,C,H,W] -> out[B,(H/p)*(W/p),C*p*p], token order row-major over (H/p, W/p), feature
 * order (c, ph, pw): FLUX's "b c (h ph) (w pw) -> b (h w) (c ph pw)". H, W divisible by p. */
fg_error *fg_patchify(fg_tensor *out, const fg_tensor *x, int p) FG_MUST_CHECK;
/* The inverse: x[B,(H/p)*(W/p),C*p*p] -> out[B,C,H,W] (out's shape gives H and W). */
fg_error *fg_unpatchify(fg_tensor *out, const fg_tensor *x, int p) FG_MUST_CHECK;
/* Nearest-neighbour 2x upsampling of the last two dims: [B,C,H,W] -> [B,C,2H,2W]. */
fg_error *fg_upsample_nearest2x(fg_tensor *out, const fg_tensor *x) FG_MUST_CHECK;

/* ---- convolution ---------------------------------------------------------------------- */

typedef struct fg_conv2d_params {
    int stride;                           /* same in both directions */
    int pad_top, pad_bottom, pad_left, pad_right; /* zero padding; asymmetric for the VAE downsample */
} fg_conv2d_params;

/* out[B,Co,Ho,Wo] = conv2d(x[B,Ci,H,W], w[Co,Ci,kh,kw]) + bias[Co] (NULL allowed).
 * Ho = (pad_top + H + pad_bottom - kh) / stride + 1, likewise Wo; out's shape must agree. */
fg_error *fg_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                    const fg_conv2d_params *params) FG_MUST_CHECK;

#endif
