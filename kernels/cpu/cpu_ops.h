/* CPU backend internals: the per-family implementations behind fg_cpu_backend(), and the
 * scratch and threading helpers they share. Arguments arrive validated by the dispatcher. */
#ifndef FG_KERNELS_CPU_OPS_H
#define FG_KERNELS_CPU_OPS_H

#include "kernels/backend.h"

/* Per-thread growable scratch buffer (slot 0..3 so one op can hold a few at once); lives
 * until the thread exits. Returns NULL only on allocation failure. */
float *fg_cpu_scratch(int slot, size_t n_floats);

/* Widens a whole weight tensor's elements [begin, begin+n) to f32 into dst. */
void fg_cpu_widen(float *dst, const fg_tensor *t, int64_t begin, int64_t n);

/* dense (cpu_linear.c: linear, embedding; cpu_attention.c: attention, softmax, rope) */
fg_error *fg_cpu_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        float w_scale, fg_activation act);
fg_error *fg_cpu_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table);
fg_error *fg_cpu_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                           const fg_tensor *mask, float scale);
fg_error *fg_cpu_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin);

/* normalisation (cpu_norm.c) */
fg_error *fg_cpu_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                            float eps, const fg_tensor *shift, const fg_tensor *scale);
fg_error *fg_cpu_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps);
fg_error *fg_cpu_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                               const fg_tensor *cos, const fg_tensor *sin);
fg_error *fg_cpu_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                            const fg_tensor *bias, float eps, bool fuse_silu);
fg_error *fg_cpu_softmax(fg_tensor *out, const fg_tensor *x);

/* elementwise (cpu_elementwise.c) */
float fg_cpu_activate(float x, fg_activation act);
fg_error *fg_cpu_unary(fg_tensor *out, const fg_tensor *x, fg_activation act);
fg_error *fg_cpu_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cpu_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cpu_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y);
fg_error *fg_cpu_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y);
fg_error *fg_cpu_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add);
fg_error *fg_cpu_cast(fg_tensor *out, const fg_tensor *x);
fg_error *fg_cpu_fill_uniform(fg_tensor *out, uint64_t seed, float lo, float hi);

/* layout (cpu_layout.c) */
fg_error *fg_cpu_permute(fg_tensor *out, const fg_tensor *x, const int *perm);
fg_error *fg_cpu_concat(fg_tensor *out, const fg_tensor *const *inputs, int n, int dim);
fg_error *fg_cpu_slice(fg_tensor *out, const fg_tensor *x, int dim, int64_t start);
fg_error *fg_cpu_pad2d(fg_tensor *out, const fg_tensor *x, int top, int bottom, int left, int right,
                       fg_pad_mode mode);
fg_error *fg_cpu_patchify(fg_tensor *out, const fg_tensor *x, int p);
fg_error *fg_cpu_unpatchify(fg_tensor *out, const fg_tensor *x, int p);
fg_error *fg_cpu_upsample_nearest2x(fg_tensor *out, const fg_tensor *x);

/* convolution (cpu_conv.c) */
fg_error *fg_cpu_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                        const fg_conv2d_params *params);

/* memory (cpu_memory.c): fg_tensor_alloc's host blocks, counted for the memory stats */
fg_error *fg_cpu_alloc(void **ptr, size_t nbytes);
void fg_cpu_free(void *ptr);
fg_error *fg_cpu_memory_info(size_t *free_bytes, size_t *total_bytes);
fg_error *fg_cpu_memory_stats(fg_memory_stats *out);
void fg_cpu_reset_peak(void);
void fg_cpu_release_cached(void);

/* BF16 activations (cpu_bf16.c): the backend table's entries for ops with act tensors. F32
 * calls go straight to the kernels above; BF16 calls run them on f32 copies, chunk by chunk,
 * and round the results to BF16. */
fg_error *fg_cpu_bf16_linear(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                             float w_scale, fg_activation act);
fg_error *fg_cpu_bf16_embedding(fg_tensor *out, const fg_tensor *ids, const fg_tensor *table);
fg_error *fg_cpu_bf16_attention(fg_tensor *out, const fg_tensor *q, const fg_tensor *k, const fg_tensor *v,
                                const fg_tensor *mask, float scale);
fg_error *fg_cpu_bf16_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *cos, const fg_tensor *sin);
fg_error *fg_cpu_bf16_layer_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, const fg_tensor *bias,
                                 float eps, const fg_tensor *shift, const fg_tensor *scale);
fg_error *fg_cpu_bf16_rms_norm(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps);
fg_error *fg_cpu_bf16_rms_norm_rope(fg_tensor *out, const fg_tensor *x, const fg_tensor *weight, float eps,
                                    const fg_tensor *cos, const fg_tensor *sin);
fg_error *fg_cpu_bf16_group_norm(fg_tensor *out, const fg_tensor *x, int groups, const fg_tensor *weight,
                                 const fg_tensor *bias, float eps, bool fuse_silu);
fg_error *fg_cpu_bf16_softmax(fg_tensor *out, const fg_tensor *x);
fg_error *fg_cpu_bf16_unary(fg_tensor *out, const fg_tensor *x, fg_activation act);
fg_error *fg_cpu_bf16_add(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cpu_bf16_mul(fg_tensor *out, const fg_tensor *a, const fg_tensor *b);
fg_error *fg_cpu_bf16_add_gated(fg_tensor *out, const fg_tensor *x, const fg_tensor *gate, const fg_tensor *y);
fg_error *fg_cpu_bf16_axpby(fg_tensor *out, float alpha, const fg_tensor *x, float beta, const fg_tensor *y);
fg_error *fg_cpu_bf16_scale_shift(fg_tensor *out, const fg_tensor *x, float mul, float add);
fg_error *fg_cpu_bf16_conv2d(fg_tensor *out, const fg_tensor *x, const fg_tensor *w, const fg_tensor *bias,
                             const fg_conv2d_params *params);

#endif
