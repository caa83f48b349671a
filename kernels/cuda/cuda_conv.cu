// CUDA conv2d: cuDNN's convolution forward on NCHW tensors, with an implicit-GEMM kernel of our
// own (cuda_gemm_fallback.cu) when cuDNN is absent, declines the shape, or FG_CUDA_CONV=own.
//
// Semantics are kernels/ops.h's (PyTorch's conv2d = cross-correlation) with zero padding that
// may differ per side (the VAE encoder's downsample pads (0, 1, 0, 1)). cuDNN's descriptor takes
// one pad per dimension, so the symmetric part goes to cuDNN and the remainder is padded
// explicitly into scratch first (a copy of x; only the VAE encoder's three downsamples pay it).
// The fallback reads the padding implicitly and needs no copy.
//
// Dtypes: F32 or BF16 activations with f32 accumulation; a weight of another dtype is converted
// into scratch where that is exact (any float dtype into F32, fp8 into BF16; an F32 or F16
// weight with BF16 activations runs our own kernel, which reads it as stored, as the CPU
// does). F32 convolutions are restricted to FMA kernels (CUDNN_FMA_MATH: no TF32) so the CPU
// parity test stays tight; BF16 ones use tensor cores. The bias: with F32 activations one pass
// of our own afterwards; with BF16 ones out is first filled with it and cuDNN adds its result
// with beta = 1, so the output is rounded once as on the CPU (adding it to an already rounded
// BF16 result moves outputs where conv and bias nearly cancel past the parity bound); a bias
// not exact in BF16 takes our own kernel.
//
// Uses the legacy cudnnConvolutionForward API (deprecated in cuDNN 9 in favour of the graph
// API, still shipped; no deprecation warnings unless CUDNN_WARN_DEPRECATED is defined).
// NHWC (channels-last) tensors would let cuDNN pick faster tensor-core kernels for BF16 and
// skip its internal transposes; that is an optimisation for later, once measured on the VAE.
#include <mutex>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/cuda_gemm.h"

extern "C" {
#include "core/log.h"
}

#if FG_HAVE_CUDNN
#include <cudnn.h>
#endif

// Scratch slots of one conv2d call.
enum { SLOT_WORKSPACE = 0, SLOT_WEIGHT = 1, SLOT_PADDED = 2 };

typedef struct conv_call {
    const fg_tensor *out, *x, *w, *bias;
    const fg_conv2d_params *p;
    fg_dtype dt;
    long long B, Ci, H, W, Co, kh, kw, Ho, Wo;
} conv_call;

// Implicit GEMM per image: out[b] [Co, Ho*Wo] = w [Co, Ci*kh*kw] . im2col(x[b]) + bias.
static fg_error *conv_fallback(const conv_call *c) {
    fg_gemm_desc d;
    memset(&d, 0, sizeof d);
    long long plane = c->Ho * c->Wo;
    if (c->B > 65535)
        return fg_errorf(FG_ERR_UNSUPPORTED, "conv2d: batch %lld exceeds the fallback kernel's grid", c->B);
    d.M = c->Co;
    d.N = plane;
    d.K = c->Ci * c->kh * c->kw;
    d.batch = (int)c->B;
    d.a = fg_gemm_operand{c->w->data, c->w->dtype, d.K, 1, 0};
    d.b = fg_gemm_operand{c->x->data, c->dt, 0, 0, c->Ci * c->H * c->W};
    d.b_is_conv = true;
    d.conv = fg_gemm_conv{c->Ci, c->H, c->W, c->kh, c->kw, c->Wo, c->p->stride, c->p->pad_top, c->p->pad_left};
    d.c = c->out->data;
    d.c_dt = c->dt;
    d.c_s0 = plane;
    d.c_s1 = 1;
    d.c_sb = c->Co * plane;
    d.bias = c->bias ? c->bias->data : NULL;
    d.bias_dt = c->bias ? c->bias->dtype : FG_F32;
    d.bias_mode = c->bias ? FG_GEMM_BIAS_PER_ROW : FG_GEMM_BIAS_NONE;
    d.alpha = 1.0f;
    d.act = FG_ACT_NONE;
    return fg_cuda_gemm_fallback("conv2d", &d);
}

#if FG_HAVE_CUDNN

static const char *describe(const conv_call *c, char *buf, size_t cap) {
    snprintf(buf, cap, "x [%lld, %lld, %lld, %lld] %s, w [%lld, %lld, %lld, %lld] %s, stride %d, pad (%d, %d, %d, %d)",
             c->B, c->Ci, c->H, c->W, fg_dtype_name(c->dt), c->Co, c->Ci, c->kh, c->kw, fg_dtype_name(c->w->dtype),
             c->p->stride, c->p->pad_top, c->p->pad_bottom, c->p->pad_left, c->p->pad_right);
    return buf;
}

// ---- explicit padding of the asymmetric remainder ---------------------------------------

// dst [planes, Hp, Wp] = src [planes, H, W] placed at (top, left), zeros around. T is a bit
// container of the element's size (the copy never needs the value).
template <typename T>
__global__ void pad_kernel(T *dst, const T *src, long long n, long long H, long long W, long long Hp, long long Wp,
                           long long top, long long left) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long xq = i % Wp, t = i / Wp;
        long long yq = t % Hp, plane = t / Hp;
        long long y = yq - top, x = xq - left;
        dst[i] = y >= 0 && y < H && x >= 0 && x < W ? src[(plane * H + y) * W + x] : (T)0;
    }
}

static fg_error *pad_into(const conv_call *c, void *dst, long long Hp, long long Wp, long long top, long long left) {
    long long n = c->B * c->Ci * Hp * Wp;
    unsigned grid = fg_cuda_grid(n, 256);
    if (c->dt == FG_F32)
        pad_kernel<uint32_t><<<grid, 256, 0, fg_cuda_stream()>>>((uint32_t *)dst, (const uint32_t *)c->x->data, n,
                                                                 c->H, c->W, Hp, Wp, top, left);
    else
        pad_kernel<uint16_t><<<grid, 256, 0, fg_cuda_stream()>>>((uint16_t *)dst, (const uint16_t *)c->x->data, n,
                                                                 c->H, c->W, Hp, Wp, top, left);
    return fg_cuda_launch_status("conv2d", "asymmetric padding");
}

// ---- cuDNN ------------------------------------------------------------------------------

// The geometry cuDNN sees: x padded by the asymmetric remainder, symmetric pads ph, pw.
typedef struct dnn_geom {
    long long Hp, Wp;          // height/width of the tensor cuDNN reads
    long long top, left;       // where x sits inside it (0 when no explicit padding)
    int ph, pw;                // cuDNN's symmetric padding
    bool padded;               // an explicit padded copy is needed
} dnn_geom;

typedef struct dnn_key {
    long long B, Ci, Hp, Wp, Co, kh, kw;
    int stride, ph, pw, dt;
} dnn_key;

typedef struct dnn_plan {
    dnn_key key;
    bool rejected; // cuDNN has no usable algorithm: the fallback runs
    cudnnConvolutionFwdAlgo_t algo;
    cudnnMathType_t math;
    size_t workspace;
} dnn_plan;

// Largest workspace we let an algorithm ask for.
#define DNN_MAX_WORKSPACE ((size_t)256 << 20)
#define DNN_CACHE_SIZE 256
static dnn_plan dnn_cache[DNN_CACHE_SIZE];
static int dnn_cache_count, dnn_cache_next;
static std::mutex dnn_mutex; // guards the cache and the handle
static cudnnHandle_t dnn_handle;

static bool dnn_cache_find(const dnn_key *k, dnn_plan *out) {
    std::lock_guard<std::mutex> lock(dnn_mutex);
    for (int i = 0; i < dnn_cache_count; i++)
        if (memcmp(&dnn_cache[i].key, k, sizeof *k) == 0) {
            *out = dnn_cache[i];
            return true;
        }
    return false;
}

static void dnn_cache_put(const dnn_plan *p) {
    std::lock_guard<std::mutex> lock(dnn_mutex);
    for (int i = 0; i < dnn_cache_count; i++)
        if (memcmp(&dnn_cache[i].key, &p->key, sizeof p->key) == 0) {
            dnn_cache[i] = *p; // a plan later found to be rejected replaces the original
            return;
        }
    int slot = dnn_cache_count < DNN_CACHE_SIZE ? dnn_cache_count++ : dnn_cache_next++ % DNN_CACHE_SIZE;
    dnn_cache[slot] = *p;
}

static bool dnn_not_supported(cudnnStatus_t s) { return s >= CUDNN_STATUS_NOT_SUPPORTED && s < CUDNN_STATUS_INTERNAL_ERROR; }

static fg_error *dnn_status_error(const conv_call *c, const char *what, cudnnStatus_t s) {
    char buf[256];
    return fg_errorf(FG_ERR_DEVICE, "conv2d: %s failed for %s: %s (status %d)", what, describe(c, buf, sizeof buf),
                     cudnnGetErrorString(s), (int)s);
}

#define DNN_TRY(c, call)                                                                                             \
    do {                                                                                                             \
        cudnnStatus_t s_ = (call);                                                                                   \
        if (s_ != CUDNN_STATUS_SUCCESS) return dnn_status_error(c, #call, s_);                                       \
    } while (0)

static fg_error *dnn_get_handle(const conv_call *c, cudnnHandle_t *out) {
    std::lock_guard<std::mutex> lock(dnn_mutex);
    if (!dnn_handle) {
        cudnnHandle_t h = NULL;
        cudnnStatus_t s = cudnnCreate(&h);
        if (s != CUDNN_STATUS_SUCCESS) return dnn_status_error(c, "cudnnCreate", s);
        dnn_handle = h;
    }
    *out = dnn_handle;
    return NULL;
}

// The descriptors of one call, destroyed on every return path.
struct dnn_descs {
    cudnnTensorDescriptor_t x = NULL, y = NULL;
    cudnnFilterDescriptor_t w = NULL;
    cudnnConvolutionDescriptor_t conv = NULL;
    ~dnn_descs() {
        if (conv) cudnnDestroyConvolutionDescriptor(conv);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (x) cudnnDestroyTensorDescriptor(x);
    }
};

static fg_error *dnn_build(const conv_call *c, const dnn_geom *g, dnn_descs *ds) {
    cudnnDataType_t type = c->dt == FG_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    DNN_TRY(c, cudnnCreateTensorDescriptor(&ds->x));
    DNN_TRY(c, cudnnCreateTensorDescriptor(&ds->y));
    DNN_TRY(c, cudnnCreateFilterDescriptor(&ds->w));
    DNN_TRY(c, cudnnCreateConvolutionDescriptor(&ds->conv));
    DNN_TRY(c, cudnnSetTensor4dDescriptor(ds->x, CUDNN_TENSOR_NCHW, type, (int)c->B, (int)c->Ci, (int)g->Hp,
                                          (int)g->Wp));
    DNN_TRY(c, cudnnSetFilter4dDescriptor(ds->w, type, CUDNN_TENSOR_NCHW, (int)c->Co, (int)c->Ci, (int)c->kh,
                                          (int)c->kw));
    // f32 accumulation for both dtypes (BF16 data with FLOAT compute).
    DNN_TRY(c, cudnnSetConvolution2dDescriptor(ds->conv, g->ph, g->pw, c->p->stride, c->p->stride, 1, 1,
                                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN_TRY(c, cudnnSetConvolutionMathType(ds->conv, c->dt == FG_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    DNN_TRY(c, cudnnSetTensor4dDescriptor(ds->y, CUDNN_TENSOR_NCHW, type, (int)c->B, (int)c->Co, (int)c->Ho,
                                          (int)c->Wo));
    int n = 0, ch = 0, h = 0, w = 0;
    DNN_TRY(c, cudnnGetConvolution2dForwardOutputDim(ds->conv, ds->x, ds->w, &n, &ch, &h, &w));
    if (n != c->B || ch != c->Co || h != c->Ho || w != c->Wo) {
        char buf[256];
        return fg_errorf(FG_ERR_DEVICE, "conv2d: cuDNN computes an output of [%d, %d, %d, %d] for %s, expected [%lld, %lld, %lld, %lld]",
                         n, ch, h, w, describe(c, buf, sizeof buf), c->B, c->Co, c->Ho, c->Wo);
    }
    return NULL;
}

// Picks the algorithm for the descriptors' shape: the heuristic's fastest one that runs under
// our math restriction (F32: FMA only) with a workspace we accept.
static fg_error *dnn_choose(const conv_call *c, cudnnHandle_t h, dnn_descs *ds, dnn_plan *plan) {
    cudnnConvolutionFwdAlgoPerf_t perf[16];
    int max_count = 0, returned = 0;
    DNN_TRY(c, cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
    if (max_count > 16) max_count = 16;
    if (max_count < 1) max_count = 1;
    cudnnStatus_t s = cudnnGetConvolutionForwardAlgorithm_v7(h, ds->x, ds->w, ds->conv, ds->y, max_count, &returned,
                                                             perf);
    plan->rejected = true;
    if (dnn_not_supported(s)) return NULL;
    if (s != CUDNN_STATUS_SUCCESS) return dnn_status_error(c, "cudnnGetConvolutionForwardAlgorithm_v7", s);
    for (int i = 0; i < returned; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        bool tensor_op = perf[i].mathType == CUDNN_TENSOR_OP_MATH ||
                         perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        if (c->dt == FG_F32 && tensor_op) continue;
        // F32 keeps FMA_MATH on the descriptor whatever the entry says (DEFAULT would permit TF32).
        cudnnMathType_t math = c->dt == FG_F32 ? CUDNN_FMA_MATH : perf[i].mathType;
        DNN_TRY(c, cudnnSetConvolutionMathType(ds->conv, math));
        size_t ws = 0;
        s = cudnnGetConvolutionForwardWorkspaceSize(h, ds->x, ds->w, ds->conv, ds->y, perf[i].algo, &ws);
        if (s != CUDNN_STATUS_SUCCESS || ws > DNN_MAX_WORKSPACE) continue;
        plan->rejected = false;
        plan->algo = perf[i].algo;
        plan->math = math;
        plan->workspace = ws;
        return NULL;
    }
    return NULL;
}

static dnn_geom geometry(const conv_call *c) {
    const fg_conv2d_params *p = c->p;
    dnn_geom g;
    g.ph = p->pad_top < p->pad_bottom ? p->pad_top : p->pad_bottom;
    g.pw = p->pad_left < p->pad_right ? p->pad_left : p->pad_right;
    g.top = p->pad_top - g.ph;
    g.left = p->pad_left - g.pw;
    long long bottom = p->pad_bottom - g.ph, right = p->pad_right - g.pw;
    g.Hp = c->H + g.top + bottom;
    g.Wp = c->W + g.left + right;
    g.padded = g.top || g.left || bottom || right;
    return g;
}

// cuDNN's legacy descriptors take int dimensions and strides.
static bool fits_int(const conv_call *c, const dnn_geom *g) {
    long long biggest_in = c->B * c->Ci * g->Hp * g->Wp, out = c->B * c->Co * c->Ho * c->Wo;
    return biggest_in <= INT32_MAX && out <= INT32_MAX && c->Co * c->Ci * c->kh * c->kw <= INT32_MAX;
}

// Runs the convolution through cuDNN; *done is false when cuDNN declined it. bias_in_beta:
// out is filled with the bias first and cuDNN accumulates onto it (beta = 1); otherwise the
// bias is left to the caller.
static fg_error *conv_cudnn(const conv_call *c, bool bias_in_beta, bool *done) {
    *done = false;
    dnn_geom g = geometry(c);
    if (!fits_int(c, &g)) return NULL;
    cudnnHandle_t h = NULL;
    FG_TRY(dnn_get_handle(c, &h));
    DNN_TRY(c, cudnnSetStream(h, fg_cuda_stream()));
    dnn_descs ds;
    FG_TRY(dnn_build(c, &g, &ds));

    dnn_plan plan;
    memset(&plan, 0, sizeof plan);
    dnn_key key;
    memset(&key, 0, sizeof key); // padding bytes take part in the memcmp
    key.B = c->B;
    key.Ci = c->Ci;
    key.Hp = g.Hp;
    key.Wp = g.Wp;
    key.Co = c->Co;
    key.kh = c->kh;
    key.kw = c->kw;
    key.stride = c->p->stride;
    key.ph = g.ph;
    key.pw = g.pw;
    key.dt = (int)c->dt;
    if (!dnn_cache_find(&key, &plan)) {
        plan.key = key;
        FG_TRY(dnn_choose(c, h, &ds, &plan));
        dnn_cache_put(&plan);
        char buf[256];
        if (plan.rejected) FG_LOG_D("conv2d: %s: no usable cuDNN algorithm, own kernel", describe(c, buf, sizeof buf));
        else
            FG_LOG_D("conv2d: %s: cuDNN algorithm %d, math type %d, workspace %zu bytes", describe(c, buf, sizeof buf),
                     (int)plan.algo, (int)plan.math, plan.workspace);
    }
    if (plan.rejected) return NULL;

    size_t esz = fg_dtype_size(c->dt);
    const void *x = c->x->data, *w = c->w->data;
    void *workspace = NULL;
    if (plan.workspace) FG_TRY(fg_cuda_scratch(SLOT_WORKSPACE, plan.workspace, &workspace));
    if (g.padded) {
        void *p;
        FG_TRY(fg_cuda_scratch(SLOT_PADDED, (size_t)(c->B * c->Ci * g.Hp * g.Wp) * esz, &p));
        FG_TRY(pad_into(c, p, g.Hp, g.Wp, g.top, g.left));
        x = p;
    }
    if (c->w->dtype != c->dt) {
        long long n = c->Co * c->Ci * c->kh * c->kw;
        void *p;
        FG_TRY(fg_cuda_scratch(SLOT_WEIGHT, (size_t)n * esz, &p));
        FG_TRY(fg_cuda_convert("conv2d", p, c->dt, c->w->data, c->w->dtype, n, 1.0f)); // exact (see the caller)
        w = p;
    }
    DNN_TRY(c, cudnnSetConvolutionMathType(ds.conv, plan.math));
    if (bias_in_beta)
        FG_TRY(fg_cuda_fill_channels("conv2d", c->out->data, c->dt, c->B, c->Co, c->Ho * c->Wo, c->bias->data,
                                     c->bias->dtype));
    float one = 1.0f, beta = bias_in_beta ? 1.0f : 0.0f; // alpha/beta are float for FLOAT and BFLOAT16 data
    cudnnStatus_t s = cudnnConvolutionForward(h, &one, ds.x, x, ds.w, w, ds.conv, plan.algo, workspace,
                                              plan.workspace, &beta, ds.y, c->out->data);
    if (dnn_not_supported(s)) { // declined at run time: remember, and let the fallback run
        plan.rejected = true;
        dnn_cache_put(&plan);
        char buf[256];
        FG_LOG_D("conv2d: %s: cudnnConvolutionForward declined (%s), own kernel", describe(c, buf, sizeof buf),
                 cudnnGetErrorString(s));
        return NULL;
    }
    if (s != CUDNN_STATUS_SUCCESS) return dnn_status_error(c, "cudnnConvolutionForward", s);
    *done = true;
    return NULL;
}

#endif // FG_HAVE_CUDNN

fg_error *fg_cuda_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                         const fg_conv2d_params *params) {
    if ((x->dtype != FG_F32 && x->dtype != FG_BF16) || out->dtype != x->dtype)
        return fg_errorf(FG_ERR_UNSUPPORTED, "conv2d: the cuda backend takes F32 or BF16 activations (x %s, out %s)",
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    conv_call c;
    c.out = out;
    c.x = x;
    c.w = w;
    c.bias = bias;
    c.p = params;
    c.dt = x->dtype;
    c.B = x->shape[0];
    c.Ci = x->shape[1];
    c.H = x->shape[2];
    c.W = x->shape[3];
    c.Co = w->shape[0];
    c.kh = w->shape[2];
    c.kw = w->shape[3];
    c.Ho = out->shape[2];
    c.Wo = out->shape[3];
    if (fg_tensor_numel(out) == 0) return NULL;
#if FG_HAVE_CUDNN
    // An empty x (Ci, H or W == 0: out = bias, or padding only) is left to our kernel, as
    // cuDNN's descriptors reject zero dims with BAD_PARAM, which would be an error, not a decline.
    // With BF16 activations, cuDNN only sees a weight and bias it can take without rounding.
    bool exact = fg_cuda_dtype_exact_in(w->dtype, c.dt) && (!bias || fg_cuda_dtype_exact_in(bias->dtype, c.dt));
    if (fg_tensor_numel(x) > 0 && exact && !fg_cuda_env_is("FG_CUDA_CONV", "own")) {
        bool done = false, bias_in_beta = bias && c.dt != FG_F32;
        FG_TRY(conv_cudnn(&c, bias_in_beta, &done));
        if (done)
            return bias && !bias_in_beta ? fg_cuda_bias_channels("conv2d", out->data, c.dt, c.B, c.Co, c.Ho * c.Wo,
                                                                 bias->data, bias->dtype)
                                         : NULL;
    }
#endif
    return conv_fallback(&c);
}
