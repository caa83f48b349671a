// cuDNN fused flash attention (SDPA forward, inference) through the backend graph API.
// The operation graph is the pattern cuDNN's fused-attention engine recognises (the one
// cudnn-frontend's SDPA node expands to for cuDNN < 9.21 in inference, without bias, masks or
// dropout):
//   S = Q . K^T        MATMUL; K^T is K described with transposed dims/strides, no copy
//   S = S * scale      POINTWISE MUL by a pass-by-value FLOAT scalar
//   softmax            MAX reduction, SUB, EXP, ADD reduction, DIV; plus LOG and ADD making the
//                      (virtual) log-sum-exp stats, which the flash engine's pattern includes
//   O = P . V          MATMUL; P is virtual BF16 (the engine wants the I/O type as its A type)
// The other intermediates are virtual FLOAT tensors, so everything fuses into one kernel.
// One execution plan per shape is built on first use and cached; a shape whose build failed is
// remembered so the cost (and the debug log line) is paid once.
#include <mutex>
#include <string.h>

#include "kernels/cuda/cuda_attention.h"

extern "C" {
#include "core/log.h"
}

#if FG_HAVE_CUDNN
#include <cudnn.h>

namespace {

typedef cudnnBackendDescriptor_t desc_t;

enum : int64_t { UID_Q = 1, UID_K = 2, UID_V = 3, UID_O = 4, UID_SCALE = 5, UID_VIRTUAL = 100 };

constexpr int kMaxDescs = 48; // the graph needs 38
constexpr int kMaxEngineConfigs = 16;
constexpr int kMaxPlans = 64;

fg_error *dnn_check(cudnnStatus_t s, const char *step) {
    if (s == CUDNN_STATUS_SUCCESS) return NULL;
    return fg_errorf(FG_ERR_DEVICE, "cudnn sdpa: %s: %s", step, cudnnGetErrorString(s));
}
#define DNN_TRY(call, step) FG_TRY(dnn_check((call), step))

// Every descriptor a plan needs; the plan refers to the graph and its tensors, so all stay
// alive as long as the plan.
struct sdpa_plan {
    long long key[6]; // b, h, lq, lk, d, dv (scale is a by-value input, not part of the plan)
    bool ok;
    desc_t descs[kMaxDescs];
    int n_descs;
    desc_t plan;
    int64_t workspace;
};

void plan_release(sdpa_plan *p) {
    for (int i = p->n_descs - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(p->descs[i]);
    p->n_descs = 0;
    p->plan = NULL;
}

fg_error *new_desc(sdpa_plan *p, cudnnBackendDescriptorType_t type, const char *what, desc_t *out) {
    if (p->n_descs == kMaxDescs) return fg_errorf(FG_ERR_DEVICE, "cudnn sdpa: too many descriptors (%s)", what);
    DNN_TRY(cudnnBackendCreateDescriptor(type, out), what);
    p->descs[p->n_descs++] = *out;
    return NULL;
}

fg_error *set_attr(desc_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                   const void *value, const char *step) {
    DNN_TRY(cudnnBackendSetAttribute(d, name, type, count, value), step);
    return NULL;
}

fg_error *set_desc(desc_t d, cudnnBackendAttributeName_t name, desc_t value, const char *step) {
    return set_attr(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value, step);
}

struct tensor_spec {
    int64_t uid;
    cudnnDataType_t type;
    int64_t dims[4], strides[4];
    bool is_virtual, by_value;
};

fg_error *make_tensor(sdpa_plan *p, const tensor_spec &s, desc_t *out) {
    desc_t t;
    const int64_t align = 16;
    FG_TRY(new_desc(p, CUDNN_BACKEND_TENSOR_DESCRIPTOR, "create tensor", &t));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &s.type, "tensor data type"));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, s.dims, "tensor dims"));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, s.strides, "tensor strides"));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &s.uid, "tensor uid"));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, "tensor alignment"));
    FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &s.is_virtual, "tensor virtual"));
    if (s.by_value)
        FG_TRY(set_attr(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &s.by_value, "tensor by value"));
    DNN_TRY(cudnnBackendFinalize(t), "finalize tensor");
    *out = t;
    return NULL;
}

// A virtual intermediate, packed row-major ([b,h,lq,lk] or [b,h,lq,1]).
tensor_spec virtual_spec(int64_t uid, int64_t b, int64_t h, int64_t rows, int64_t cols,
                         cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    tensor_spec s = {uid, type, {b, h, rows, cols}, {h * rows * cols, rows * cols, cols, 1}, true, false};
    return s;
}

fg_error *make_matmul(sdpa_plan *p, desc_t a, desc_t b, desc_t c, desc_t *op) {
    desc_t mm;
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    FG_TRY(new_desc(p, CUDNN_BACKEND_MATMUL_DESCRIPTOR, "create matmul", &mm));
    FG_TRY(set_attr(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "matmul compute type"));
    DNN_TRY(cudnnBackendFinalize(mm), "finalize matmul");
    FG_TRY(new_desc(p, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "create matmul op", op));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, "matmul A"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, "matmul B"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, "matmul C"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_DESC, mm, "matmul descriptor"));
    DNN_TRY(cudnnBackendFinalize(*op), "finalize matmul op");
    return NULL;
}

// y = x (mode) b; b NULL for unary modes.
fg_error *make_pointwise(sdpa_plan *p, cudnnPointwiseMode_t mode, desc_t x, desc_t b, desc_t y, desc_t *op) {
    desc_t pw;
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    FG_TRY(new_desc(p, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "create pointwise", &pw));
    FG_TRY(set_attr(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode"));
    FG_TRY(set_attr(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, "pointwise precision"));
    DNN_TRY(cudnnBackendFinalize(pw), "finalize pointwise");
    FG_TRY(new_desc(p, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "create pointwise op", op));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw, "pointwise descriptor"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, "pointwise X"));
    if (b) FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, "pointwise B"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, "pointwise Y"));
    DNN_TRY(cudnnBackendFinalize(*op), "finalize pointwise op");
    return NULL;
}

fg_error *make_reduction(sdpa_plan *p, cudnnReduceTensorOp_t mode, desc_t x, desc_t y, desc_t *op) {
    desc_t red;
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    FG_TRY(new_desc(p, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "create reduction", &red));
    FG_TRY(set_attr(red, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode,
                    "reduction operator"));
    FG_TRY(set_attr(red, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "reduction compute type"));
    DNN_TRY(cudnnBackendFinalize(red), "finalize reduction");
    FG_TRY(new_desc(p, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "create reduction op", op));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, "reduction X"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, "reduction Y"));
    FG_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, red, "reduction descriptor"));
    DNN_TRY(cudnnBackendFinalize(*op), "finalize reduction op");
    return NULL;
}

constexpr int kSdpaOps = 10;

// The operations of the SDPA pattern, in graph order.
fg_error *make_sdpa_ops(sdpa_plan *p, const fg_cuda_attn_args *a, desc_t ops[kSdpaOps]) {
    const int64_t b = a->b, h = a->h, lq = a->lq, lk = a->lk, d = a->d, dv = a->dv;
    const cudnnDataType_t io = CUDNN_DATA_BFLOAT16;
    const tensor_spec q_spec = {UID_Q, io, {b, h, lq, d}, {h * lq * d, lq * d, d, 1}, false, false};
    // K [b,h,lk,d] seen as K^T [b,h,d,lk]: element (d_i, k_j) at k_j * d + d_i.
    const tensor_spec kt_spec = {UID_K, io, {b, h, d, lk}, {h * lk * d, lk * d, 1, d}, false, false};
    const tensor_spec v_spec = {UID_V, io, {b, h, lk, dv}, {h * lk * dv, lk * dv, dv, 1}, false, false};
    const tensor_spec o_spec = {UID_O, io, {b, h, lq, dv}, {h * lq * dv, lq * dv, dv, 1}, false, false};
    const tensor_spec scale_spec = {UID_SCALE, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1}, false, true};
    desc_t q, kt, v, o, scale, s, ss, mx, sub, ex, sum, logsum, stats, prob;
    FG_TRY(make_tensor(p, q_spec, &q));
    FG_TRY(make_tensor(p, kt_spec, &kt));
    FG_TRY(make_tensor(p, v_spec, &v));
    FG_TRY(make_tensor(p, o_spec, &o));
    FG_TRY(make_tensor(p, scale_spec, &scale));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 0, b, h, lq, lk), &s));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 1, b, h, lq, lk), &ss));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 2, b, h, lq, 1), &mx));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 3, b, h, lq, lk), &sub));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 4, b, h, lq, lk), &ex));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 5, b, h, lq, 1), &sum));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 6, b, h, lq, 1), &logsum));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 7, b, h, lq, 1), &stats));
    FG_TRY(make_tensor(p, virtual_spec(UID_VIRTUAL + 8, b, h, lq, lk, io), &prob));
    FG_TRY(make_matmul(p, q, kt, s, &ops[0]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_MUL, s, scale, ss, &ops[1]));
    FG_TRY(make_reduction(p, CUDNN_REDUCE_TENSOR_MAX, ss, mx, &ops[2]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_SUB, ss, mx, sub, &ops[3]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_EXP, sub, NULL, ex, &ops[4]));
    FG_TRY(make_reduction(p, CUDNN_REDUCE_TENSOR_ADD, ex, sum, &ops[5]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_LOG, sum, NULL, logsum, &ops[6]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_ADD, mx, logsum, stats, &ops[7]));
    FG_TRY(make_pointwise(p, CUDNN_POINTWISE_DIV, ex, sum, prob, &ops[8]));
    FG_TRY(make_matmul(p, prob, v, o, &ops[9]));
    return NULL;
}

// An execution plan for one engine config, with its workspace size.
fg_error *try_engine_config(cudnnHandle_t handle, desc_t cfg, desc_t *plan_out, int64_t *workspace) {
    desc_t plan;
    DNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan), "create execution plan");
    // Deprecated in cuDNN 9 (execute takes the handle) but still accepted; a refusal is harmless.
    (void)cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    fg_error *err = dnn_check(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg),
                              "plan engine config");
    if (!err) err = dnn_check(cudnnBackendFinalize(plan), "finalize execution plan");
    int64_t count = 0;
    if (!err)
        err = dnn_check(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                                 &count, workspace),
                        "plan workspace size");
    if (!err && *workspace < 0) err = fg_errorf(FG_ERR_DEVICE, "cudnn sdpa: negative workspace size");
    if (err) {
        cudnnBackendDestroyDescriptor(plan);
        return err;
    }
    *plan_out = plan;
    return NULL;
}

// Heuristics (mode A) over the finalized graph; the first engine config that finalizes into
// an execution plan wins. The configs not taken are destroyed here.
fg_error *make_plan(sdpa_plan *p, cudnnHandle_t handle, desc_t graph) {
    if (p->n_descs + 3 > kMaxDescs) return fg_errorf(FG_ERR_DEVICE, "cudnn sdpa: descriptor table too small");
    desc_t heur;
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    FG_TRY(new_desc(p, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "create heuristics", &heur));
    FG_TRY(set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph, "heuristics graph"));
    FG_TRY(set_attr(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics mode"));
    DNN_TRY(cudnnBackendFinalize(heur), "finalize heuristics");
    int64_t available = 0;
    DNN_TRY(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available,
                                     NULL),
            "count engine configs");
    if (available <= 0) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: no engine supports this graph");
    const int64_t n = available < kMaxEngineConfigs ? available : kMaxEngineConfigs;
    desc_t cfgs[kMaxEngineConfigs] = {};
    int created = 0;
    fg_error *err = NULL;
    while (created < n && !err) {
        err = dnn_check(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[created]),
                        "create engine config");
        if (!err) created++;
    }
    int64_t got = 0;
    if (!err)
        err = dnn_check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                                 created, &got, cfgs),
                        "get engine configs");
    if (got > created) got = created;
    int chosen = -1;
    fg_error *last = NULL; // why the most recent config was refused
    for (int i = 0; !err && i < got; i++) {
        fg_error *e = try_engine_config(handle, cfgs[i], &p->plan, &p->workspace);
        if (!e) {
            chosen = i;
            break;
        }
        fg_error_free(last);
        last = e;
    }
    for (int i = 0; i < created; i++)
        if (i != chosen) cudnnBackendDestroyDescriptor(cfgs[i]);
    if (err) {
        fg_error_free(last);
        return err;
    }
    if (chosen < 0) {
        if (last) return fg_error_wrapf(last, "cudnn sdpa: none of %lld engine configs finalized", (long long)got);
        return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: heuristics returned no engine config");
    }
    fg_error_free(last);
    // Released with the rest in reverse order: the plan before its config.
    p->descs[p->n_descs++] = cfgs[chosen];
    p->descs[p->n_descs++] = p->plan;
    return NULL;
}

fg_error *build_plan(sdpa_plan *p, cudnnHandle_t handle, const fg_cuda_attn_args *a) {
    desc_t ops[kSdpaOps], graph;
    FG_TRY(make_sdpa_ops(p, a, ops));
    FG_TRY(new_desc(p, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "create operation graph", &graph));
    // Deprecated in cuDNN 9 like the plan's handle; set for older 9.x releases that want it.
    (void)cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    FG_TRY(set_attr(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, kSdpaOps, ops, "graph ops"));
    DNN_TRY(cudnnBackendFinalize(graph), "finalize operation graph");
    return make_plan(p, handle, graph);
}

fg_error *execute_plan(const sdpa_plan *p, cudnnHandle_t handle, const fg_cuda_attn_args *a, void *workspace) {
    float scale = a->scale; // by-value: read from host memory when the plan executes
    const int64_t uids[5] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE};
    void *ptrs[5] = {(void *)a->q, (void *)a->k, (void *)a->v, a->out, &scale};
    desc_t pack;
    DNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack), "create variant pack");
    fg_error *err = dnn_check(
        cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uids), "pack uids");
    if (!err)
        err = dnn_check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5,
                                                 ptrs),
                        "pack pointers");
    if (!err)
        err = dnn_check(
            cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace),
            "pack workspace");
    if (!err) err = dnn_check(cudnnBackendFinalize(pack), "finalize variant pack");
    if (!err) err = dnn_check(cudnnSetStream(handle, fg_cuda_stream()), "set stream");
    if (!err) err = dnn_check(cudnnBackendExecute(handle, p->plan, pack), "execute");
    cudnnBackendDestroyDescriptor(pack);
    return err;
}

// Lazily created handle and plan cache, guarded by one mutex.
struct sdpa_cache {
    std::mutex lock;
    cudnnHandle_t handle = NULL;
    bool handle_failed = false;
    sdpa_plan plans[kMaxPlans];
    int n_plans = 0;
};

sdpa_cache &cache(void) {
    static sdpa_cache c;
    return c;
}

fg_error *get_handle(sdpa_cache &c) {
    if (c.handle) return NULL;
    if (c.handle_failed) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: no cuDNN handle");
    // cudnnCreate allocates and synchronises, which would invalidate a stream capture.
    if (fg_cuda_capturing()) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: no handle created while capturing");
    cudnnStatus_t s = cudnnCreate(&c.handle);
    if (s != CUDNN_STATUS_SUCCESS) {
        c.handle = NULL;
        c.handle_failed = true;
        FG_LOG_D("attention: cudnnCreate failed (%s); using our own kernels", cudnnGetErrorString(s));
        return dnn_check(s, "cudnnCreate");
    }
    return NULL;
}

// The cached plan of a's shape (built now if new); NULL with an error when it cannot be had.
fg_error *find_plan(sdpa_cache &c, const fg_cuda_attn_args *a, sdpa_plan **out) {
    const long long key[6] = {a->b, a->h, a->lq, a->lk, a->d, a->dv};
    for (int i = 0; i < c.n_plans; i++) {
        if (memcmp(c.plans[i].key, key, sizeof key)) continue;
        if (!c.plans[i].ok) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: shape failed before");
        *out = &c.plans[i];
        return NULL;
    }
    // Building may call into the driver in ways a stream capture forbids (which would
    // invalidate the capture): new shapes are built outside captures only, and a shape first
    // seen while capturing runs our kernel without being marked as failed.
    if (fg_cuda_capturing()) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: no plan built while capturing");
    if (c.n_plans == kMaxPlans) return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: plan cache full");
    sdpa_plan *p = &c.plans[c.n_plans++];
    memcpy(p->key, key, sizeof key);
    p->n_descs = 0;
    p->plan = NULL;
    p->workspace = 0;
    fg_error *err = build_plan(p, c.handle, a);
    p->ok = err == NULL;
    if (err) {
        plan_release(p);
        FG_LOG_D("attention: cuDNN SDPA unavailable for B=%lld H=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld (%s); using our "
                 "own kernel",
                 a->b, a->h, a->lq, a->lk, a->d, a->dv, fg_error_message(err));
        return err;
    }
    *out = p;
    return NULL;
}

// Shapes the fused engine documents (BF16, head sizes multiples of 8 up to 256); anything
// else goes straight to our kernels without building a graph.
bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

bool shape_plausible(const fg_cuda_attn_args *a) {
    return a->dtype == FG_BF16 && !a->mask && a->d > 0 && a->dv > 0 && a->d % 8 == 0 && a->dv % 8 == 0 &&
           a->d <= 256 && a->dv <= 256 && aligned16(a->q) && aligned16(a->k) && aligned16(a->v) &&
           aligned16(a->out);
}

} // namespace

fg_error *fg_cuda_attention_cudnn(const fg_cuda_attn_args *a) {
    if (!shape_plausible(a))
        return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: only BF16 without a mask, D and Dv multiples of 8 <= 256");
    // The fused engine (runtime-compiled flash attention) arrived with cuDNN 9 as we use it.
    if (cudnnGetVersion() < 90000)
        return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: cuDNN %zu is older than 9.0", cudnnGetVersion());
    sdpa_cache &c = cache();
    std::lock_guard<std::mutex> guard(c.lock);
    FG_TRY(get_handle(c));
    sdpa_plan *p;
    FG_TRY(find_plan(c, a, &p));
    // A workspace that cannot grow (e.g. while capturing) is no reason to give up the plan.
    void *workspace = NULL;
    if (p->workspace > 0) FG_TRY_CTX(fg_cuda_scratch(0, (size_t)p->workspace, &workspace), "cudnn sdpa workspace");
    fg_error *err = execute_plan(p, c.handle, a, workspace);
    if (err) {
        // A plan that built but does not run is not retried either.
        FG_LOG_D("attention: cuDNN SDPA failed (%s); using our own kernel", fg_error_message(err));
        p->ok = false;
        plan_release(p);
    }
    return err;
}

#else // !FG_HAVE_CUDNN

fg_error *fg_cuda_attention_cudnn(const fg_cuda_attn_args *a) {
    (void)a;
    static bool logged = false;
    if (!logged) FG_LOG_D("attention: built without cuDNN; using our own kernels");
    logged = true;
    return fg_errorf(FG_ERR_UNSUPPORTED, "cudnn sdpa: built without cuDNN");
}

#endif
