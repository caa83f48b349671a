/* Shared by the FLUX forward's files (flux_model.c, flux_embed.c, flux_blocks.c); not a
 * public interface. Every helper takes its outputs, activations (m->act_dtype) on the model's
 * device, from the scope it is given (kernels/scope.h) and its temporaries from scopes of its
 * own, so nothing here frees tensors one by one. */
#ifndef FG_UNET_FLUX_INTERNAL_H
#define FG_UNET_FLUX_INTERNAL_H

#include "kernels/ops.h"
#include "kernels/scope.h"
#include "unet/flux_model.h"

/* Activation (m->act_dtype) on m's device, from s. */
fg_error *flux_alloc(const fg_flux_model *m, fg_scope *s, int ndim, const int64_t *shape, fg_tensor **t) FG_MUST_CHECK;
/* out = act(l(x)) from s, with x's leading dims and l's output width. */
fg_error *flux_linear(const fg_flux_model *m, fg_scope *s, const fg_flux_linear *l, const fg_tensor *x,
                      fg_activation act, fg_tensor **out) FG_MUST_CHECK;
/* A borrowed view of t[index] (t contiguous, at least 2 dims): drops the leading dim. */
fg_error *flux_slab(const fg_tensor *t, int64_t index, fg_tensor *view) FG_MUST_CHECK;
/* An owned F32 copy of src on m's device, outliving every scope (the trace's tensors). */
fg_error *flux_clone(const fg_flux_model *m, const fg_tensor *src, fg_tensor *dst) FG_MUST_CHECK;

/* A copy of src (any device, any float dtype) on m's device as dtype dt, from s. */
fg_error *flux_to(const fg_flux_model *m, fg_scope *s, const fg_tensor *src, fg_dtype dt,
                  fg_tensor **dst) FG_MUST_CHECK;
/* Rows [start, start + len) of a RoPE table [1, L, P]: a borrowed view. */
fg_error *flux_table_rows(const fg_tensor *table, int64_t start, int64_t len, fg_tensor *view) FG_MUST_CHECK;

/* ---- flux_embed.c ---- */

/* What the forward needs computed on the host: the sinusoidal tables of timestep and guidance
 * (F32 [B, time_dim]; g_table NULL when the model or the call has no guidance) and the RoPE
 * tables. With them on the device, the rest of the forward is device work only, which is what
 * the step runner records as a graph (flux_runner.c). The tensors belong to the scope they
 * were built in: the forward's for fg_flux_forward, a runner entry's for the step runner. */
typedef struct flux_tables {
    fg_tensor *t_table, *g_table, *cos, *sin;
} flux_tables;

/* Builds the time tables of in from s (reads timestep/guidance, from either device). */
fg_error *flux_time_tables(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in, fg_tensor **t_table,
                           fg_tensor **g_table) FG_MUST_CHECK;
/* vec [B, H] = time_in(t_table) + guidance_in(g_table) + vector_in(y), from s. */
fg_error *flux_vec(const fg_flux_model *m, fg_scope *s, const flux_tables *tables, const fg_tensor *y,
                   fg_tensor **vec) FG_MUST_CHECK;
/* RoPE cos/sin tables [1, Lt + h2*w2, head_dim/2] (F32) for text ids 0 then image ids (0, i, j),
 * built on the host and copied to m's device, from s. Whoever runs many forwards of one shape
 * keeps them (the runner's entries); the model holds no cache. */
fg_error *flux_rope_tables(const fg_flux_model *m, fg_scope *s, int64_t lt, int64_t h2, int64_t w2, fg_tensor **cos,
                           fg_tensor **sin) FG_MUST_CHECK;
/* F32 ids for the trace (owned, on m's device): img_ids [B, h2*w2, 3] = (0, i, j),
 * txt_ids [B, lt, 3] = 0. */
fg_error *flux_ids(const fg_flux_model *m, int64_t b, int64_t lt, int64_t h2, int64_t w2, fg_tensor *img_ids,
                   fg_tensor *txt_ids) FG_MUST_CHECK;

/* ---- flux_model.c ---- */

/* Checks in and out against the model (shapes, dtypes, devices); io_any_device lets x,
 * context, y and out live on any device (callers that copy them, like the step runner). */
fg_error *flux_check_inputs(const fg_flux_model *m, const fg_flux_inputs *in, const fg_tensor *out,
                            bool io_any_device) FG_MUST_CHECK;
/* The forward from prepared tables: reads in->x, in->context, in->y (not timestep/guidance)
 * and queues device work only when trace is NULL. Its activations come from a child of s,
 * all released on return, so s's peak afterwards includes the forward's. */
fg_error *flux_forward_prepared(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in,
                                const flux_tables *tables, fg_tensor *out, fg_flux_trace *trace) FG_MUST_CHECK;
/* Builds all of tables for in (latent grid h2 x w2 after padding) from s. */
fg_error *flux_tables_build(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in,
                            flux_tables *tables) FG_MUST_CHECK;

/* ---- flux_blocks.c ---- */

/* The k modulation chunks [B, 1, H] of lin(silu_vec), in stored order, from s. */
fg_error *flux_modulation(const fg_flux_model *m, fg_scope *s, const fg_flux_linear *lin, const fg_tensor *silu_vec,
                          int k, fg_tensor **chunks) FG_MUST_CHECK;
/* One double block on img [B, Li, H] and txt [B, Lt, H], in place; its temporaries come from a
 * child of s that ends with the block. */
fg_error *flux_double_block(const fg_flux_model *m, fg_scope *s, const fg_flux_double_block *blk, fg_tensor *img,
                            fg_tensor *txt, const fg_tensor *silu_vec, const fg_tensor *cos,
                            const fg_tensor *sin) FG_MUST_CHECK;
/* One single block on x [B, Lt + Li, H], in place; temporaries as flux_double_block. */
fg_error *flux_single_block(const fg_flux_model *m, fg_scope *s, const fg_flux_single_block *blk, fg_tensor *x,
                            const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin) FG_MUST_CHECK;

#endif
