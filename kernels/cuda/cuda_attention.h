// Internals of the CUDA attention op, shared by cuda_attention.cu (entry point, dispatch and
// the simple kernel), cuda_attention_flash.cu (the BF16 tensor-core kernel) and
// cuda_attention_cudnn.cu (cuDNN fused SDPA). Not part of the backend interface.
#ifndef FG_KERNELS_CUDA_ATTENTION_H
#define FG_KERNELS_CUDA_ATTENTION_H

#include "kernels/cuda/cuda_ops.h"

// One validated attention call with its shapes flattened (tensors are contiguous).
struct fg_cuda_attn_args {
    long long b, h, lq, lk, d, dv; // q [b,h,lq,d], k [b,h,lk,d], v [b,h,lk,dv], out [b,h,lq,dv]
    long long mb, mh;              // mask [mb,mh,lq,lk]; 0 when there is no mask
    fg_dtype dtype;                // F32 or BF16, shared by q, k, v and out
    const void *q, *k, *v;
    void *out;
    const float *mask; // NULL or F32
    float scale;
};

// Largest dynamic shared memory one block may opt into on the current device (cached).
fg_error *fg_cuda_attention_smem_limit(size_t *bytes);

// Any shape (D and Dv limited only by shared memory, about 1100 on sm_90), F32 or BF16, one
// warp per query row with f32 math on CUDA cores. The reference for the other two paths.
fg_error *fg_cuda_attention_simple(const fg_cuda_attn_args *a);

// The mma.sync BF16 kernel: BF16, D == Dv in {64, 128, 512}, 16-byte aligned tensors.
// FG_ERR_UNSUPPORTED when the device's shared memory is too small for the tiles (D = 512 on
// GPUs with 99 KiB per block); the caller then runs the simple kernel.
bool fg_cuda_attention_flash_supports(const fg_cuda_attn_args *a);
fg_error *fg_cuda_attention_flash(const fg_cuda_attn_args *a);

// cuDNN's fused flash-attention engine (BF16, no mask). Returns an error (never crashes) when
// cuDNN is absent, the shape is unsupported or any backend step fails; the caller then runs
// its own kernel. Plans are cached per shape, and a shape that failed once is not retried.
fg_error *fg_cuda_attention_cudnn(const fg_cuda_attn_args *a);

#endif
