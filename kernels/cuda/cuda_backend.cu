// The CUDA backend's context: device discovery, the one stream every op queues on, a caching
// allocator (cudaMalloc/cudaFree synchronise the device, so freed blocks are kept and reused in
// stream order), per-op scratch buffers, host<->device copies staged through pinned buffers,
// memory statistics and CUDA-graph capture. The op kernels live in the other kernels/cuda/*.cu
// files (see cuda_ops.h); this file only assembles them into the backend table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_ops.h"

// ---- context ---------------------------------------------------------------------------

namespace {

struct cuda_context {
    bool initialised = false;
    cudaError_t init_error = cudaSuccess;
    cudaStream_t stream = nullptr;
    int sm_count = 0, cc = 0;
};

cuda_context g_ctx;

// The one-time setup; a failure is remembered and reported by every later call.
cudaError_t context_init(void) {
    if (g_ctx.initialised) return g_ctx.init_error;
    g_ctx.initialised = true;
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, 0);
    if (e == cudaSuccess) e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&g_ctx.stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) {
        g_ctx.sm_count = prop.multiProcessorCount;
        g_ctx.cc = prop.major * 10 + prop.minor;
    }
    g_ctx.init_error = e;
    return e;
}

} // namespace

#define CONTEXT_TRY(what) CUDA_TRY(context_init(), what ": CUDA initialisation")

cudaStream_t fg_cuda_stream(void) {
    context_init();
    return g_ctx.stream;
}
int fg_cuda_sm_count(void) { return context_init() == cudaSuccess ? g_ctx.sm_count : 0; }
int fg_cuda_compute_capability(void) { return context_init() == cudaSuccess ? g_ctx.cc : 0; }

static bool cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no device" error
        return false;
    }
    return n > 0 && context_init() == cudaSuccess;
}

static const char *cuda_description(void) {
    static char buf[512];
    cudaDeviceProp prop;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0 || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, sizeof buf, "cuda: no device (compiled for %s)", fg_cuda_archs_compiled());
        return buf;
    }
    snprintf(buf, sizeof buf, "cuda: %s, sm_%d%d, %d SMs, %.1f GiB", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

// ---- caching allocator -------------------------------------------------------------------
//
// Sizes are rounded (512 B below 1 MiB, 2 MiB above) so blocks are reusable across slightly
// different shapes. A cached block is reused for a request of at most its own size and at
// least half of it. While a graph is being captured, frees go to the capture's private pool:
// the graph replays with those addresses, so they must not be handed to anyone else until the
// graph is freed.

namespace {

struct block_pool {
    std::multimap<size_t, void *> free_blocks; // size -> block
    size_t bytes = 0;

    void put(void *p, size_t size) {
        free_blocks.emplace(size, p);
        bytes += size;
    }
    // A cached block of size..2*size bytes, or NULL; *block_size is its real size, which the
    // caller must keep (recording the request instead would shrink the block for good).
    void *take(size_t size, size_t *block_size) {
        auto it = free_blocks.lower_bound(size);
        if (it == free_blocks.end() || it->first > 2 * size) return nullptr;
        void *p = it->second;
        *block_size = it->first;
        bytes -= it->first;
        free_blocks.erase(it);
        return p;
    }
};

struct allocator_state {
    std::unordered_map<void *, size_t> live; // block -> rounded size
    block_pool cache;
    block_pool *capture_pool = nullptr; // non-NULL while capturing
    size_t in_use = 0, peak = 0;
};

allocator_state g_alloc;

size_t round_size(size_t n) {
    const size_t small = 512, large = 2u << 20;
    if (n == 0) n = 1;
    return n < (1u << 20) ? (n + small - 1) / small * small : (n + large - 1) / large * large;
}

void release_pool(block_pool *pool) {
    for (auto &kv : pool->free_blocks) cudaFree(kv.second);
    pool->free_blocks.clear();
    pool->bytes = 0;
}

} // namespace

bool fg_cuda_capturing(void) { return g_alloc.capture_pool != nullptr; }

static fg_error *cuda_alloc(void **ptr, size_t nbytes) {
    CONTEXT_TRY("alloc");
    size_t size = round_size(nbytes);
    void *p = nullptr;
    if (g_alloc.capture_pool) p = g_alloc.capture_pool->take(size, &size);
    if (!p) p = g_alloc.cache.take(size, &size);
    if (!p && fg_cuda_capturing())
        return fg_errorf(FG_ERR_DEVICE,
                         "cuda: allocation of %zu bytes while capturing a graph (run the sequence eagerly first)",
                         nbytes);
    if (!p) {
        cudaError_t e = cudaMalloc(&p, size);
        if (e != cudaSuccess) { // give the cache back to the driver and try once more
            cudaGetLastError();
            cudaStreamSynchronize(g_ctx.stream);
            release_pool(&g_alloc.cache);
            e = cudaMalloc(&p, size);
        }
        if (e != cudaSuccess) {
            cudaGetLastError();
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cuda: cannot allocate %.2f GiB (%.2f GiB free of %.2f GiB): %s",
                             size / 1073741824.0, free_b / 1073741824.0, total_b / 1073741824.0,
                             cudaGetErrorString(e));
        }
    }
    // Zeroed, as fg_tensor_alloc promises; queued, so it costs no synchronisation.
    cudaError_t e = cudaMemsetAsync(p, 0, nbytes, g_ctx.stream);
    if (e != cudaSuccess) { // the caller gets no pointer to free: the block goes back now
        cudaGetLastError();
        (g_alloc.capture_pool ? g_alloc.capture_pool : &g_alloc.cache)->put(p, size);
        return fg_errorf(FG_ERR_DEVICE, "cudaMemsetAsync: %s", cudaGetErrorString(e));
    }
    g_alloc.live[p] = size;
    g_alloc.in_use += size;
    if (g_alloc.in_use > g_alloc.peak) g_alloc.peak = g_alloc.in_use;
    *ptr = p;
    return NULL;
}

static void cuda_free(void *ptr) {
    if (!ptr) return;
    auto it = g_alloc.live.find(ptr);
    if (it == g_alloc.live.end()) return; // not ours: never hand a foreign pointer to cudaFree
    size_t size = it->second;
    g_alloc.live.erase(it);
    g_alloc.in_use -= size;
    // Work queued on the stream may still read the block; later users are queued behind it.
    (g_alloc.capture_pool ? g_alloc.capture_pool : &g_alloc.cache)->put(ptr, size);
}

static fg_error *cuda_memory_stats(fg_memory_stats *out) {
    out->in_use = g_alloc.in_use;
    out->peak = g_alloc.peak;
    out->cached = g_alloc.cache.bytes;
    return NULL;
}

static void cuda_reset_peak(void) { g_alloc.peak = g_alloc.in_use; }

static void cuda_release_cached(void) {
    if (fg_cuda_capturing() || context_init() != cudaSuccess) return;
    cudaStreamSynchronize(g_ctx.stream);
    release_pool(&g_alloc.cache);
}

static fg_error *cuda_memory_info(size_t *free_bytes, size_t *total_bytes) {
    CONTEXT_TRY("memory info");
    CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
    *free_bytes += g_alloc.cache.bytes; // cached blocks are ours to reuse
    return NULL;
}

// ---- scratch -------------------------------------------------------------------------------

enum { SCRATCH_SLOTS = 4 };
static void *g_scratch[SCRATCH_SLOTS];
static size_t g_scratch_size[SCRATCH_SLOTS];
// A recorded graph replays with the scratch addresses of its capture, so a buffer replaced by a
// larger one stays allocated (retired) until no graph is left; then they are freed together.
static int g_graphs_alive;
static std::vector<void *> g_retired_scratch;

static void retire_scratch(void *p) {
    if (!p) return;
    if (g_graphs_alive == 0) {
        cudaFree(p);
        return;
    }
    try {
        g_retired_scratch.push_back(p);
    } catch (...) { // out of host memory: keep the buffer allocated for good, never free it early
    }
}

static void free_retired_scratch(void) {
    for (void *p : g_retired_scratch) cudaFree(p);
    g_retired_scratch.clear();
}

fg_error *fg_cuda_scratch(int slot, size_t nbytes, void **ptr) {
    if (slot < 0 || slot >= SCRATCH_SLOTS) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "cuda scratch slot %d", slot);
    CONTEXT_TRY("scratch");
    if (nbytes > g_scratch_size[slot]) {
        if (fg_cuda_capturing())
            return fg_errorf(FG_ERR_DEVICE, "cuda: scratch slot %d must grow to %zu bytes while capturing a graph",
                             slot, nbytes);
        size_t size = round_size(nbytes + nbytes / 4); // headroom: shapes creep up
        CUDA_TRY(cudaStreamSynchronize(g_ctx.stream), "scratch: synchronise before growing");
        retire_scratch(g_scratch[slot]);
        g_scratch[slot] = nullptr;
        g_scratch_size[slot] = 0;
        CUDA_TRY(cudaMalloc(&g_scratch[slot], size), "scratch: cudaMalloc");
        g_scratch_size[slot] = size;
    }
    *ptr = g_scratch[slot];
    return NULL;
}

// ---- copies ----------------------------------------------------------------------------------
//
// Host->device copies of more than a few MiB go through two pinned buffers: the CPU fills one
// (reading the mmap'd checkpoint, which is where the disk time goes) while the DMA engine
// drains the other, so a model loads at the speed of the slower of the two.

enum { STAGE_BYTES = 32u << 20, STAGE_MIN = 4u << 20 };

namespace {
struct stage_buffers {
    void *buf[2] = {nullptr, nullptr};
    cudaEvent_t done[2] = {nullptr, nullptr};
};
stage_buffers g_stage;

// Ready only when both buffers and both events exist: an earlier attempt that failed half-way
// (one buffer pinned, the next allocation refused) resumes where it stopped.
cudaError_t stage_init(void) {
    for (int i = 0; i < 2; i++) {
        if (!g_stage.buf[i]) {
            void *p = nullptr;
            cudaError_t e = cudaHostAlloc(&p, STAGE_BYTES, cudaHostAllocDefault);
            if (e != cudaSuccess) return e;
            g_stage.buf[i] = p;
        }
        if (!g_stage.done[i]) {
            cudaEvent_t ev = nullptr;
            cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
            if (e != cudaSuccess) return e;
            g_stage.done[i] = ev;
        }
    }
    return cudaSuccess;
}
} // namespace

static fg_error *copy_to_device_staged(void *dst, const void *src, size_t nbytes) {
    if (stage_init() != cudaSuccess) { // no pinned memory to spare: copy from pageable memory
        cudaGetLastError();
        CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, g_ctx.stream), "host->device copy");
        CUDA_TRY(cudaStreamSynchronize(g_ctx.stream), "host->device copy");
        return NULL;
    }
    const char *s = (const char *)src;
    char *d = (char *)dst;
    for (size_t off = 0, i = 0; off < nbytes; off += STAGE_BYTES, i ^= 1) {
        size_t n = nbytes - off < STAGE_BYTES ? nbytes - off : STAGE_BYTES;
        CUDA_TRY(cudaEventSynchronize(g_stage.done[i]), "staged copy: wait for buffer");
        memcpy(g_stage.buf[i], s + off, n);
        CUDA_TRY(cudaMemcpyAsync(d + off, g_stage.buf[i], n, cudaMemcpyHostToDevice, g_ctx.stream), "staged copy");
        CUDA_TRY(cudaEventRecord(g_stage.done[i], g_ctx.stream), "staged copy: record");
    }
    return NULL;
}

static fg_error *cuda_copy(void *dst, fg_device dst_dev, const void *src, fg_device src_dev, size_t nbytes) {
    CONTEXT_TRY("copy");
    if (nbytes == 0) return NULL;
    bool to_dev = dst_dev == FG_DEVICE_CUDA, from_dev = src_dev == FG_DEVICE_CUDA;
    if (to_dev && from_dev) {
        CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, g_ctx.stream), "device copy");
        return NULL;
    }
    if (fg_cuda_capturing())
        return fg_errorf(FG_ERR_DEVICE, "cuda: host<->device copy of %zu bytes while capturing a graph", nbytes);
    if (to_dev) {
        if (nbytes >= STAGE_MIN) return copy_to_device_staged(dst, src, nbytes);
        CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, g_ctx.stream), "host->device copy");
        // The source is pageable caller memory that may be freed as soon as we return.
        CUDA_TRY(cudaStreamSynchronize(g_ctx.stream), "host->device copy");
        return NULL;
    }
    CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, g_ctx.stream), "device->host copy");
    CUDA_TRY(cudaStreamSynchronize(g_ctx.stream), "device->host copy");
    return NULL;
}

static fg_error *cuda_synchronize(void) {
    CONTEXT_TRY("synchronize");
    CUDA_TRY(cudaStreamSynchronize(g_ctx.stream), "cudaStreamSynchronize");
    return NULL;
}

// ---- graphs ----------------------------------------------------------------------------------

namespace {
struct cuda_graph {
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    block_pool private_blocks; // freed during capture: replays write to them
};
} // namespace

static fg_error *cuda_graph_capture_begin(void) {
    CONTEXT_TRY("graph capture");
    if (fg_cuda_capturing()) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "cuda: a graph capture is already running");
    g_alloc.capture_pool = new (std::nothrow) block_pool;
    if (!g_alloc.capture_pool) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "graph capture");
    cudaError_t e = cudaStreamBeginCapture(g_ctx.stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        delete g_alloc.capture_pool;
        g_alloc.capture_pool = nullptr;
        return fg_errorf(FG_ERR_DEVICE, "cudaStreamBeginCapture: %s", cudaGetErrorString(e));
    }
    return NULL;
}

static fg_error *cuda_graph_capture_end(void **out) {
    if (!fg_cuda_capturing()) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "cuda: no graph capture is running");
    cuda_graph *g = new (std::nothrow) cuda_graph;
    block_pool *pool = g_alloc.capture_pool;
    g_alloc.capture_pool = nullptr;
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(g_ctx.stream, &graph);
    if (e == cudaSuccess && g) e = cudaGraphInstantiate(&g->exec, graph, 0);
    if (e != cudaSuccess || !g) {
        cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        for (auto &kv : pool->free_blocks) g_alloc.cache.put(kv.second, kv.first);
        delete pool;
        delete g;
        return e != cudaSuccess ? fg_errorf(FG_ERR_DEVICE, "graph capture: %s", cudaGetErrorString(e))
                                : fg_errorf(FG_ERR_OUT_OF_MEMORY, "graph capture");
    }
    g->graph = graph;
    g->private_blocks = std::move(*pool); // no allocation: a copy could throw through C code
    delete pool;
    g_graphs_alive++;
    *out = g;
    return NULL;
}

static fg_error *cuda_graph_launch(void *handle) {
    cuda_graph *g = (cuda_graph *)handle;
    CUDA_TRY(cudaGraphLaunch(g->exec, g_ctx.stream), "cudaGraphLaunch");
    return NULL;
}

static void cuda_graph_free(void *handle) {
    cuda_graph *g = (cuda_graph *)handle;
    if (!g) return;
    cudaStreamSynchronize(g_ctx.stream); // a replay may still be running
    cudaGraphExecDestroy(g->exec);
    cudaGraphDestroy(g->graph);
    for (auto &kv : g->private_blocks.free_blocks) g_alloc.cache.put(kv.second, kv.first);
    delete g;
    if (--g_graphs_alive == 0) free_retired_scratch();
}

// ---- the table -------------------------------------------------------------------------------

static fg_backend make_cuda_backend(void) {
    fg_backend b;
    memset(&b, 0, sizeof b);
    b.name = "cuda";
    b.device = FG_DEVICE_CUDA;
    b.available = cuda_available;
    b.description = cuda_description;
    b.alloc = cuda_alloc;
    b.free = cuda_free;
    b.copy = cuda_copy;
    b.synchronize = cuda_synchronize;
    b.memory_info = cuda_memory_info;
    b.memory_stats = cuda_memory_stats;
    b.reset_peak = cuda_reset_peak;
    b.release_cached = cuda_release_cached;
    b.graph_capture_begin = cuda_graph_capture_begin;
    b.graph_capture_end = cuda_graph_capture_end;
    b.graph_launch = cuda_graph_launch;
    b.graph_free = cuda_graph_free;

    b.linear = fg_cuda_linear;
    b.embedding = fg_cuda_embedding;
    b.attention = fg_cuda_attention;
    b.rope = fg_cuda_rope;
    b.layer_norm = fg_cuda_layer_norm;
    b.rms_norm = fg_cuda_rms_norm;
    b.rms_norm_rope = fg_cuda_rms_norm_rope;
    b.fill_uniform = fg_cuda_fill_uniform;
    b.group_norm = fg_cuda_group_norm;
    b.softmax = fg_cuda_softmax;
    b.unary = fg_cuda_unary;
    b.add = fg_cuda_add;
    b.mul = fg_cuda_mul;
    b.add_gated = fg_cuda_add_gated;
    b.axpby = fg_cuda_axpby;
    b.scale_shift = fg_cuda_scale_shift;
    b.cast = fg_cuda_cast;
    b.permute = fg_cuda_permute;
    b.concat = fg_cuda_concat;
    b.slice = fg_cuda_slice;
    b.pad2d = fg_cuda_pad2d;
    b.patchify = fg_cuda_patchify;
    b.unpatchify = fg_cuda_unpatchify;
    b.upsample_nearest2x = fg_cuda_upsample_nearest2x;
    b.conv2d = fg_cuda_conv2d;
    return b;
}

static const fg_backend cuda_backend_table = make_cuda_backend();

extern "C" const fg_backend *fg_cuda_backend(void) { return &cuda_backend_table; }

extern "C" const char *fg_cuda_archs_compiled(void) {
#ifdef FG_CUDA_ARCHS
    return FG_CUDA_ARCHS;
#else
    return "";
#endif
}
