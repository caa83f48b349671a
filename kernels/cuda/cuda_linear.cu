// CUDA linear and embedding.
//
// linear: out[M, N] = act(x[M, K] . (w_scale * w[N, K])^T + bias[N]) through cuBLASLt. cuBLASLt is
// column-major, and a row-major [R, C] matrix is the column-major [C, R] one with the same
// leading dimension, so we ask for the column-major out^T [N, M] = op_T(w) . x: A = w seen as
// column-major [K, N] (ld K) with transa = T, B = x seen as column-major [K, M] (ld K), D = out
// seen as column-major [N, M] (ld N); m = N, n = M, k = K. The bias vector runs along D's rows,
// i.e. over the N output features, which is what CUBLASLT_EPILOGUE_BIAS broadcasts.
//
// Dtypes: BF16 activations run a BF16 GEMM, F32 activations an F32 one, both with
// CUBLAS_COMPUTE_32F and F32 alpha = w_scale (no TF32: the CPU parity test stays tight). A
// weight of another dtype is converted into scratch first, but only where that is exact (any
// float dtype into F32, fp8 into BF16): the CPU computes with the weight's own values, and an
// F32 or F16 weight rounded to BF16 moves ~10% of the outputs past the parity bound, so those
// run our own GEMM, which reads the weight as stored. GELU (tanh) rides on
// CUBLASLT_EPILOGUE_GELU(_BIAS). With F32 activations the other activations run as one
// in-place pass afterwards; with BF16 ones the output must be rounded once (as on the CPU), so
// whatever the epilogue cannot do exactly (another activation, a bias not exact in BF16, no
// fused algorithm) has cuBLASLt write D in F32 into scratch and one pass finish it.
//
// Which cuBLASLt epilogue is GELU: the header and the cuBLAS docs only say "GELU". PyTorch's
// test of _addmm_activation(use_gelu=True), which lowers to CUBLASLT_EPILOGUE_GELU_BIAS,
// compares CUDA results with gelu(approximate="tanh") (test_linalg.py, `approximate = "tanh"
// if t.is_cuda else "none"`, at float32 tolerances tighter than the ~5e-4 gap between the two
// forms), so the epilogue is taken to be the tanh form FLUX and T5 use. The op parity test's
// 2e-2 tolerance cannot tell the forms apart; FG_CUDA_GELU_EPILOGUE=0 applies our own GELU
// instead, and comparing F32 outputs with and without it checks the assumption on hardware.
#include <mutex>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <type_traits>

#include "kernels/cuda/cuda_gemm.h"

extern "C" {
#include "core/log.h"
}

#if FG_HAVE_CUBLASLT
#include <cublasLt.h>
#endif

// Workspace offered to cuBLASLt (split-K and stream-K algorithms want some); one fixed size so
// the scratch slot is allocated on the first call and never grows inside a graph capture.
#define LT_WORKSPACE_BYTES ((size_t)32 << 20)

// Scratch slots of one linear call.
enum { SLOT_WORKSPACE = 0, SLOT_WEIGHT = 1, SLOT_BIAS = 2, SLOT_F32_OUT = 3 };

// One linear call with its operands resolved to what the GEMM reads.
typedef struct linear_call {
    long long M, N, K;
    fg_dtype dt; // x and out (F32 or BF16)
    const void *x;
    void *out;
    const fg_tensor *w;
    const fg_tensor *bias; // NULL when absent
    float w_scale;
    fg_activation act;
} linear_call;

// Our own GEMM, reading every operand in its stored dtype: A = x [M, K], B[k, n] = w[n, k].
static fg_error *linear_fallback(const linear_call *c) {
    fg_gemm_desc d;
    memset(&d, 0, sizeof d);
    d.M = c->M;
    d.N = c->N;
    d.K = c->K;
    d.batch = 1;
    d.a = fg_gemm_operand{c->x, c->dt, c->K, 1, 0};
    d.b = fg_gemm_operand{c->w->data, c->w->dtype, 1, c->K, 0};
    d.c = c->out;
    d.c_dt = c->dt;
    d.c_s0 = c->N;
    d.c_s1 = 1;
    d.bias = c->bias ? c->bias->data : NULL;
    d.bias_dt = c->bias ? c->bias->dtype : FG_F32;
    d.bias_mode = c->bias ? FG_GEMM_BIAS_PER_COL : FG_GEMM_BIAS_NONE;
    d.alpha = c->w_scale;
    d.act = c->act;
    return fg_cuda_gemm_fallback("linear", &d);
}

#if FG_HAVE_CUBLASLT

// ---- cuBLASLt ---------------------------------------------------------------------------

// How a cached shape runs: the fused epilogue, a plain GEMM with an F32 D followed by our
// bias/activation pass (cuBLASLt offered no algorithm with the epilogue, or BF16 activations
// need what it cannot do exactly), or our fallback GEMM (none at all).
typedef enum { LT_FUSED, LT_UNFUSED, LT_OWN } lt_mode;

typedef struct lt_key {
    long long M, N, K;
    int dt;
    unsigned epilogue;
    int unfused_only;
    unsigned align_a, align_b, align_d, align_bias;
} lt_key;

typedef struct lt_entry {
    lt_key key;
    lt_mode mode;
    cublasLtMatmulAlgo_t algo; // for the epilogue the mode implies
} lt_entry;

// Algorithms per shape, chosen once by the heuristic. A fixed table (FLUX has a few dozen
// distinct shapes per resolution); when full, entries are replaced round-robin.
#define LT_CACHE_SIZE 512
static lt_entry lt_cache[LT_CACHE_SIZE];
static int lt_cache_count, lt_cache_next;
static std::mutex lt_mutex; // guards the cache and the handle
static cublasLtHandle_t lt_handle;

static const char *describe(const linear_call *c, char *buf, size_t cap) {
    snprintf(buf, cap, "x [%lld, %lld] %s . w [%lld, %lld] %s^T%s%s", c->M, c->K, fg_dtype_name(c->dt), c->N, c->K,
             fg_dtype_name(c->w->dtype), c->bias ? " + bias " : "", c->bias ? fg_dtype_name(c->bias->dtype) : "");
    return buf;
}

static bool lt_key_eq(const lt_key *a, const lt_key *b) { return memcmp(a, b, sizeof *a) == 0; }

static bool lt_cache_find(const lt_key *k, lt_entry *out) {
    std::lock_guard<std::mutex> lock(lt_mutex);
    for (int i = 0; i < lt_cache_count; i++)
        if (lt_key_eq(&lt_cache[i].key, k)) {
            *out = lt_cache[i];
            return true;
        }
    return false;
}

static void lt_cache_put(const lt_entry *e) {
    std::lock_guard<std::mutex> lock(lt_mutex);
    for (int i = 0; i < lt_cache_count; i++)
        if (lt_key_eq(&lt_cache[i].key, &e->key)) {
            lt_cache[i] = *e; // a plan later found not to run replaces the original
            return;
        }
    int slot = lt_cache_count < LT_CACHE_SIZE ? lt_cache_count++ : lt_cache_next++ % LT_CACHE_SIZE;
    lt_cache[slot] = *e;
}

static fg_error *lt_status_error(const linear_call *c, const char *what, cublasStatus_t s) {
    char buf[192];
    return fg_errorf(FG_ERR_DEVICE, "linear: %s failed for %s: %s (%s)", what, describe(c, buf, sizeof buf),
                     cublasLtGetStatusString(s), cublasLtGetStatusName(s));
}

#define LT_TRY(c, call)                                                                                              \
    do {                                                                                                             \
        cublasStatus_t s_ = (call);                                                                                  \
        if (s_ != CUBLAS_STATUS_SUCCESS) return lt_status_error(c, #call, s_);                                       \
    } while (0)

static fg_error *lt_get_handle(const linear_call *c, cublasLtHandle_t *out) {
    std::lock_guard<std::mutex> lock(lt_mutex);
    if (!lt_handle) {
        cublasLtHandle_t h = NULL;
        cublasStatus_t s = cublasLtCreate(&h);
        if (s != CUBLAS_STATUS_SUCCESS) return lt_status_error(c, "cublasLtCreate", s);
        lt_handle = h;
    }
    *out = lt_handle;
    return NULL;
}

// The descriptors of one matmul, destroyed on every return path.
struct lt_descs {
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t a = NULL, b = NULL, d = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    ~lt_descs() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (d) cublasLtMatrixLayoutDestroy(d);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
    }
};

// The operands as cuBLASLt sees them (after any conversion into scratch).
typedef struct lt_operands {
    const void *a;    // weight in the act dtype
    const void *bias; // in the act dtype, or NULL
    void *workspace;
    float alpha;
} lt_operands;

// d_type: the type of C and D (the act dtype, or F32 for an unfused plan).
static fg_error *lt_build(const linear_call *c, const lt_operands *o, cublasLtEpilogue_t epi, cudaDataType_t d_type,
                          lt_descs *ds) {
    cudaDataType_t type = c->dt == FG_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    LT_TRY(c, cublasLtMatmulDescCreate(&ds->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    int32_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    LT_TRY(c, cublasLtMatmulDescSetAttribute(ds->op, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa));
    LT_TRY(c, cublasLtMatmulDescSetAttribute(ds->op, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb));
    uint32_t epilogue = (uint32_t)epi;
    LT_TRY(c, cublasLtMatmulDescSetAttribute(ds->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    if (epi == CUBLASLT_EPILOGUE_BIAS || epi == CUBLASLT_EPILOGUE_GELU_BIAS) {
        const void *bias = o->bias;
        int32_t bias_type = (int32_t)type;
        LT_TRY(c, cublasLtMatmulDescSetAttribute(ds->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        LT_TRY(c, cublasLtMatmulDescSetAttribute(ds->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                 sizeof bias_type));
    }
    // Column-major views (see the top of the file): A = w [K, N] ld K, B = x [K, M] ld K, D = out [N, M] ld N.
    LT_TRY(c, cublasLtMatrixLayoutCreate(&ds->a, type, (uint64_t)c->K, (uint64_t)c->N, (int64_t)c->K));
    LT_TRY(c, cublasLtMatrixLayoutCreate(&ds->b, type, (uint64_t)c->K, (uint64_t)c->M, (int64_t)c->K));
    LT_TRY(c, cublasLtMatrixLayoutCreate(&ds->d, d_type, (uint64_t)c->N, (uint64_t)c->M, (int64_t)c->N));
    return NULL;
}

// Runs the heuristic for one epilogue; *found is false when cuBLASLt has no algorithm for it.
static fg_error *lt_heuristic(const linear_call *c, const lt_operands *o, cublasLtHandle_t h, cublasLtEpilogue_t epi,
                              cudaDataType_t d_type, bool *found, cublasLtMatmulAlgo_t *algo) {
    lt_descs ds;
    *found = false;
    FG_TRY(lt_build(c, o, epi, d_type, &ds));
    LT_TRY(c, cublasLtMatmulPreferenceCreate(&ds.pref));
    uint64_t ws = LT_WORKSPACE_BYTES;
    LT_TRY(c, cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    // The actual alignment of each pointer, so no algorithm needing more is picked.
    uint32_t align_a = fg_cuda_ptr_align(o->a), align_b = fg_cuda_ptr_align(c->x), align_d = fg_cuda_ptr_align(c->out);
    LT_TRY(c, cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                   sizeof align_a));
    LT_TRY(c, cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                   sizeof align_b));
    LT_TRY(c, cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d,
                                                   sizeof align_d));
    LT_TRY(c, cublasLtMatmulPreferenceSetAttribute(ds.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d,
                                                   sizeof align_d));
    cublasLtMatmulHeuristicResult_t result;
    memset(&result, 0, sizeof result);
    int returned = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(h, ds.op, ds.a, ds.b, ds.d, ds.d, ds.pref, 1, &result, &returned);
    // NOT_SUPPORTED is how the heuristic says "no algorithm for this configuration".
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE) {
        FG_LOG_D("linear: cuBLASLt heuristic for epilogue %u: %s", (unsigned)epi, cublasLtGetStatusName(s));
        return NULL;
    }
    if (s != CUBLAS_STATUS_SUCCESS) return lt_status_error(c, "cublasLtMatmulAlgoGetHeuristic", s);
    if (returned < 1 || result.state != CUBLAS_STATUS_SUCCESS || result.workspaceSize > LT_WORKSPACE_BYTES)
        return NULL;
    *found = true;
    *algo = result.algo;
    return NULL;
}

// With BF16 activations: whether the fused epilogue does all the call needs in f32 before
// D's single rounding (a bias exact in BF16; no activation, or the tanh GELU it fuses).
static bool epilogue_exact(const linear_call *c) {
    bool bias_ok = !c->bias || fg_cuda_dtype_exact_in(c->bias->dtype, c->dt);
    bool gelu = c->act == FG_ACT_GELU_TANH && !fg_cuda_env_is("FG_CUDA_GELU_EPILOGUE", "0");
    return bias_ok && (c->act == FG_ACT_NONE || gelu);
}

static cublasLtEpilogue_t fused_epilogue(const linear_call *c) {
    bool gelu = c->act == FG_ACT_GELU_TANH && !fg_cuda_env_is("FG_CUDA_GELU_EPILOGUE", "0");
    if (c->bias) return gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    return gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT;
}

// The cached plan for this call's shape and alignments, running the heuristic on a miss.
// unfused_only: skip the fused attempt (BF16 activations whose epilogue is not exact).
static fg_error *lt_plan(const linear_call *c, const lt_operands *o, cublasLtHandle_t h, cublasLtEpilogue_t epi,
                         bool unfused_only, lt_entry *plan) {
    lt_key key;
    memset(&key, 0, sizeof key); // padding bytes take part in the memcmp
    key.M = c->M;
    key.N = c->N;
    key.K = c->K;
    key.dt = (int)c->dt;
    key.epilogue = (unsigned)epi;
    key.unfused_only = unfused_only;
    key.align_a = fg_cuda_ptr_align(o->a);
    key.align_b = fg_cuda_ptr_align(c->x);
    key.align_d = fg_cuda_ptr_align(c->out);
    key.align_bias = o->bias ? fg_cuda_ptr_align(o->bias) : 0;
    if (lt_cache_find(&key, plan)) return NULL;
    memset(plan, 0, sizeof *plan);
    plan->key = key;
    bool found = false;
    cudaDataType_t act_type = c->dt == FG_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    if (!unfused_only) FG_TRY(lt_heuristic(c, o, h, epi, act_type, &found, &plan->algo));
    plan->mode = LT_FUSED;
    if (!found && (unfused_only || epi != CUBLASLT_EPILOGUE_DEFAULT)) {
        FG_TRY(lt_heuristic(c, o, h, CUBLASLT_EPILOGUE_DEFAULT, CUDA_R_32F, &found, &plan->algo));
        plan->mode = LT_UNFUSED;
    }
    if (!found) plan->mode = LT_OWN;
    lt_cache_put(plan);
    static const char *modes[] = {"cuBLASLt, fused epilogue", "cuBLASLt with an F32 D, separate bias/activation pass",
                                  "no cuBLASLt algorithm: own GEMM"};
    char buf[192];
    FG_LOG_D("linear: %s (epilogue %u): %s", describe(c, buf, sizeof buf), (unsigned)epi, modes[plan->mode]);
    return NULL;
}

// Points o at the weight and bias in the act dtype, converting into scratch when they differ
// (returns the conversions to queue through *convert_w / *convert_b). w_scale stays alpha, so
// the conversions are exact (the caller only converts dtypes exact in the act dtype).
static fg_error *lt_operands_for(const linear_call *c, lt_operands *o, bool *convert_w, bool *convert_b) {
    memset(o, 0, sizeof *o);
    FG_TRY(fg_cuda_scratch(SLOT_WORKSPACE, LT_WORKSPACE_BYTES, &o->workspace));
    *convert_w = c->w->dtype != c->dt;
    *convert_b = c->bias && c->bias->dtype != c->dt;
    size_t esz = fg_dtype_size(c->dt);
    if (*convert_w) {
        void *p;
        FG_TRY(fg_cuda_scratch(SLOT_WEIGHT, (size_t)c->N * (size_t)c->K * esz, &p));
        o->a = p;
    } else {
        o->a = c->w->data;
    }
    o->alpha = c->w_scale;
    if (*convert_b) {
        void *p;
        FG_TRY(fg_cuda_scratch(SLOT_BIAS, (size_t)c->N * esz, &p));
        o->bias = p;
    } else {
        o->bias = c->bias ? c->bias->data : NULL;
    }
    return NULL;
}

// Runs the call through cuBLASLt; *done is false when it has no algorithm for the shape (then
// nothing, or only a harmless weight conversion into scratch, was queued).
static fg_error *linear_lt(const linear_call *c, bool *done) {
    *done = false;
    // cuBLASLt takes 32-bit-representable sizes in practice.
    if (c->M > INT32_MAX || c->N > INT32_MAX || c->K > INT32_MAX) return NULL;
    if (!fg_cuda_dtype_exact_in(c->w->dtype, c->dt)) return NULL; // our GEMM reads the weight as stored
    cublasLtHandle_t h = NULL;
    FG_TRY(lt_get_handle(c, &h));
    lt_operands o;
    bool convert_w, convert_b;
    FG_TRY(lt_operands_for(c, &o, &convert_w, &convert_b));
    const bool unfused_only = c->dt != FG_F32 && !epilogue_exact(c);
    cublasLtEpilogue_t epi = unfused_only ? CUBLASLT_EPILOGUE_DEFAULT : fused_epilogue(c);
    lt_entry plan;
    FG_TRY(lt_plan(c, &o, h, epi, unfused_only, &plan));
    if (plan.mode == LT_OWN) return NULL;
    const bool fused = plan.mode == LT_FUSED;
    if (!fused) epi = CUBLASLT_EPILOGUE_DEFAULT;
    // An unfused plan's D is F32: out itself for F32 activations, scratch for BF16 ones.
    void *d = c->out;
    if (!fused && c->dt != FG_F32)
        FG_TRY(fg_cuda_scratch(SLOT_F32_OUT, (size_t)c->M * (size_t)c->N * sizeof(float), &d));

    if (convert_w) FG_TRY(fg_cuda_convert("linear", (void *)o.a, c->dt, c->w->data, c->w->dtype, c->N * c->K, 1.0f));
    if (convert_b && fused)
        FG_TRY(fg_cuda_convert("linear", (void *)o.bias, c->dt, c->bias->data, c->bias->dtype, c->N, 1.0f));
    lt_descs ds;
    FG_TRY(lt_build(c, &o, epi, fused ? (c->dt == FG_BF16 ? CUDA_R_16BF : CUDA_R_32F) : CUDA_R_32F, &ds));
    float beta = 0.0f;
    // C = D with beta 0: C is never read, but the API wants a matrix there.
    cublasStatus_t s = cublasLtMatmul(h, ds.op, &o.alpha, o.a, ds.a, c->x, ds.b, &beta, d, ds.d, d, ds.d, &plan.algo,
                                      o.workspace, LT_WORKSPACE_BYTES, fg_cuda_stream());
    if (s == CUBLAS_STATUS_NOT_SUPPORTED) { // declined at run time: remember, and let our GEMM run
        plan.mode = LT_OWN;
        lt_cache_put(&plan);
        FG_LOG_D("linear: cublasLtMatmul declined the planned algorithm; own GEMM from now on");
        return NULL;
    }
    if (s != CUBLAS_STATUS_SUCCESS) return lt_status_error(c, "cublasLtMatmul", s);
    *done = true;

    // What the epilogue did not do: everything (unfused: one rounding into out, in place for
    // F32) or, with F32 activations, the non-tanh activations.
    bool fused_gelu = epi == CUBLASLT_EPILOGUE_GELU || epi == CUBLASLT_EPILOGUE_GELU_BIAS;
    if (!fused)
        return fg_cuda_bias_act_from_f32("linear", c->out, c->dt, (const float *)d, c->M, c->N,
                                         c->bias ? c->bias->data : NULL, c->bias ? c->bias->dtype : FG_F32, c->act);
    if (!fused_gelu && c->act != FG_ACT_NONE)
        return fg_cuda_bias_act("linear", c->out, c->dt, c->M, c->N, NULL, FG_F32, c->act);
    return NULL;
}

#endif // FG_HAVE_CUBLASLT

fg_error *fg_cuda_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias, float w_scale,
                         fg_activation act) {
    if ((x->dtype != FG_F32 && x->dtype != FG_BF16) || out->dtype != x->dtype)
        return fg_errorf(FG_ERR_UNSUPPORTED, "linear: the cuda backend takes F32 or BF16 activations (x %s, out %s)",
                         fg_dtype_name(x->dtype), fg_dtype_name(out->dtype));
    linear_call c;
    c.N = w->shape[0];
    c.K = w->shape[1];
    c.M = 1;
    for (int i = 0; i + 1 < out->ndim; i++) c.M *= out->shape[i]; // leading dims flatten (K may be 0)
    c.dt = x->dtype;
    c.x = x->data;
    c.out = out->data;
    c.w = w;
    c.bias = bias;
    c.w_scale = w_scale;
    c.act = act;
    if (c.M == 0 || c.N == 0) return NULL;
#if FG_HAVE_CUBLASLT
    // K == 0 (out = act(bias)) is left to our kernel: cuBLASLt's k must be positive.
    if (c.K > 0 && !fg_cuda_env_is("FG_CUDA_GEMM", "own")) {
        bool done = false;
        FG_TRY(linear_lt(&c, &done));
        if (done) return NULL;
    }
#endif
    return linear_fallback(&c);
}

// ---- embedding --------------------------------------------------------------------------

template <typename T, typename O>
__global__ void embedding_kernel(O *out, const T *table, const void *ids, bool ids64, long long n, long long D) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * D;
         i += (long long)gridDim.x * blockDim.x) {
        long long r = i / D, j = i - r * D;
        long long id = ids64 ? ((const long long *)ids)[r] : (long long)((const int *)ids)[r];
        fg_cuda_store(out, i, fg_cuda_load(table, id * D + j));
    }
}

// Copies the ids to the host (the one synchronisation of this file: ids are a text encoder's
// few hundred tokens and embedding never runs inside a captured graph) and checks them.
static fg_error *check_ids(const fg_tensor *ids, long long n, long long V) {
    bool ids64 = ids->dtype == FG_I64;
    size_t bytes = (size_t)n * (ids64 ? sizeof(int64_t) : sizeof(int32_t));
    void *host = malloc(bytes);
    if (!host) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "embedding: %zu bytes for the ids on the host", bytes);
    cudaStream_t s = fg_cuda_stream();
    cudaError_t e = cudaMemcpyAsync(host, ids->data, bytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) {
        free(host);
        return fg_errorf(FG_ERR_DEVICE, "embedding: copying %lld ids to the host: %s (%s)", n, cudaGetErrorString(e),
                         cudaGetErrorName(e));
    }
    fg_error *err = NULL;
    for (long long i = 0; i < n && !err; i++) {
        long long id = ids64 ? (long long)((const int64_t *)host)[i] : (long long)((const int32_t *)host)[i];
        if (id < 0 || id >= V)
            err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "embedding: id %lld at position %lld is out of range [0, %lld)", id,
                            i, V);
    }
    free(host);
    return err;
}

fg_error *fg_cuda_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table) {
    if (out->dtype != FG_F32 && out->dtype != FG_BF16)
        return fg_errorf(FG_ERR_UNSUPPORTED, "embedding: the cuda backend writes F32 or BF16 activations, not %s",
                         fg_dtype_name(out->dtype));
    if (fg_cuda_capturing())
        return fg_errorf(FG_ERR_UNSUPPORTED, "embedding: checks its ids on the host, which a CUDA graph capture forbids");
    long long n = fg_tensor_numel(ids), V = table->shape[0], D = table->shape[1];
    if (n == 0) return NULL;
    FG_TRY(check_ids(ids, n, V));
    if (D == 0) return NULL;
    bool ids64 = ids->dtype == FG_I64;
    unsigned grid = fg_cuda_grid(n * D, 256);
    cudaStream_t s = fg_cuda_stream();
    bool ok = fg_cuda_dispatch_float(table->dtype, [&](auto *tag) {
        using T = typename std::remove_pointer<decltype(tag)>::type;
        const T *t = (const T *)table->data;
        if (out->dtype == FG_F32)
            embedding_kernel<T, float><<<grid, 256, 0, s>>>((float *)out->data, t, ids->data, ids64, n, D);
        else
            embedding_kernel<T, __nv_bfloat16><<<grid, 256, 0, s>>>((__nv_bfloat16 *)out->data, t, ids->data, ids64, n,
                                                                   D);
    });
    if (!ok)
        return fg_errorf(FG_ERR_UNSUPPORTED, "embedding: table dtype %s is not a float dtype",
                         fg_dtype_name(table->dtype));
    return fg_cuda_launch_status("embedding", "gather");
}
