/* The FLUX forward (docs/models.md 1.4): patchify (with ComfyUI's circular padding of odd sizes),
 * embeddings, the double and single blocks, the final layer, unpatchify and crop. */
#include <string.h>

#include "models/weights_internal.h"
#include "unet/flux_internal.h"

/* ---- helpers shared by the forward's files ---------------------------------------------------- */

fg_error *flux_alloc(const fg_flux_model *m, fg_scope *s, int ndim, const int64_t *shape, fg_tensor **t) {
    return fg_scope_alloc(s, m->device, m->act_dtype, ndim, shape, t);
}

fg_error *flux_linear(const fg_flux_model *m, fg_scope *s, const fg_flux_linear *l, const fg_tensor *x,
                      fg_activation act, fg_tensor **out) {
    int64_t shape[FG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = l->w.shape[0];
    FG_TRY(flux_alloc(m, s, x->ndim, shape, out));
    return fg_linear(*out, x, &l->w, l->has_bias ? &l->b : NULL, l->w_scale, act);
}

fg_error *flux_slab(const fg_tensor *t, int64_t index, fg_tensor *view) {
    FG_CHECK_ARG(t->ndim >= 2 && index >= 0 && index < t->shape[0], "flux_slab: index %lld of a %d-dim tensor",
                 (long long)index, t->ndim);
    size_t slab_bytes = fg_tensor_nbytes(t) / (size_t)t->shape[0];
    return fg_tensor_view(view, t->dtype, t->device, t->ndim - 1, t->shape + 1,
                          (char *)t->data + (size_t)index * slab_bytes);
}

fg_error *flux_to(const fg_flux_model *m, fg_scope *s, const fg_tensor *src, fg_dtype dt, fg_tensor **dst) {
    FG_TRY(fg_scope_alloc(s, m->device, dt, src->ndim, src->shape, dst));
    return fg_tensor_convert(*dst, src);
}

fg_error *flux_clone(const fg_flux_model *m, const fg_tensor *src, fg_tensor *dst) {
    fg_scope tmp = fg_scope_open(NULL);
    fg_tensor *copy = NULL;
    fg_error *err = flux_to(m, &tmp, src, FG_F32, &copy);
    if (!err) fg_scope_move_out(&tmp, copy, dst); /* the trace outlives the forward */
    fg_scope_end(&tmp);
    return err;
}

fg_error *flux_table_rows(const fg_tensor *table, int64_t start, int64_t len, fg_tensor *view) {
    FG_CHECK_ARG(table->ndim == 3 && table->shape[0] == 1 && start >= 0 && start + len <= table->shape[1],
                 "flux_table_rows: rows %lld + %lld of a table of %lld", (long long)start, (long long)len,
                 (long long)table->shape[1]);
    const size_t row = (size_t)table->shape[2] * fg_dtype_size(table->dtype);
    return fg_tensor_view(view, table->dtype, table->device, FG_SHAPE(1, len, table->shape[2]),
                          (char *)table->data + (size_t)start * row);
}

fg_error *fg_flux_set_act_dtype(fg_flux_model *m, fg_dtype act_dtype) {
    FG_CHECK_ARG(m, "fg_flux_set_act_dtype: NULL model");
    FG_TRY(fg_act_dtype_check("flux", act_dtype));
    m->act_dtype = act_dtype;
    return NULL;
}

size_t fg_flux_activation_bytes(const fg_flux_params *p, int64_t batch, int64_t img_tokens, int64_t txt_tokens,
                                fg_dtype act_dtype) {
    const double h = (double)p->arch.hidden, mh = (double)p->arch.mlp_hidden, len = (double)(img_tokens + txt_tokens);
    const double act = (double)fg_dtype_size(act_dtype);
    /* Per token of a single block at its peak (single_branches, after linear1): the sequence x,
     * linear1's output [3H + M] and its qkv [3H] and mlp [M] slices; later stages (heads 3H +
     * q + k beside qkv and mlp: 8H + M) stay below that for M >= H. */
    const double single_peak = h + 2.0 * (3.0 * h + mh);
    /* The double blocks' peak: img + txt, the two streams' heads (5H) and the joint q, k, v. */
    const double double_peak = h + 8.0 * h;
    const double per_token = (single_peak > double_peak ? single_peak : double_peak) * act;
    const double rope = 2.0 * len * (double)(p->head_dim / 2) * 4.0; /* F32 cos and sin */
    /* Modulation chunks, vec and the final layer's modulations: [B, k, H] vectors. */
    const double vectors = (double)batch * (6.0 + 6.0 + 3.0 + 2.0 + 4.0) * 2.0 * h * act;
    return (size_t)((double)batch * len * per_token + rope + vectors);
}

void fg_flux_trace_free(fg_flux_trace *t) {
    if (!t) return;
    fg_tensor *all[] = {&t->img_tokens,  &t->img_ids,     &t->txt_ids,     &t->vec,
                        &t->double0_img, &t->double0_txt, &t->doubles_img, &t->doubles_txt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fg_tensor_free(all[i]);
}

/* ---- memory ------------------------------------------------------------------------------------ */

#define FLUX_VAE_FACTOR 8 /* latent pixel -> image pixels, for messages */

fg_error *fg_flux_check_activation_memory(const fg_flux_model *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                          int64_t txt_tokens, size_t free_bytes) {
    FG_CHECK_ARG(m && batch > 0 && latent_h > 0 && latent_w > 0 && txt_tokens >= 0,
                 "flux memory check: bad sizes");
    const int64_t img_tokens = ((latent_h + 1) / 2) * ((latent_w + 1) / 2);
    const size_t need = fg_flux_activation_bytes(&m->p, batch, img_tokens, txt_tokens, m->act_dtype);
    if (need <= free_bytes) return NULL;
    const double gib = (double)(1u << 30);
    return fg_errorf(FG_ERR_OUT_OF_MEMORY, "FLUX %lldx%lld batch %lld needs %.1f GiB for activations, %.1f GiB free on %s",
                     (long long)(latent_w * FLUX_VAE_FACTOR), (long long)(latent_h * FLUX_VAE_FACTOR), (long long)batch,
                     (double)need / gib, (double)free_bytes / gib, fg_device_name(m->device));
}

fg_error *fg_flux_check_device_memory(const fg_flux_model *m, int64_t batch, int64_t latent_h, int64_t latent_w,
                                      int64_t txt_tokens) {
    FG_CHECK_ARG(m, "flux memory check: no model");
    size_t free_bytes = 0, total = 0;
    fg_memory_stats stats = {0};
    FG_TRY(fg_device_memory_info(m->device, &free_bytes, &total));
    FG_TRY(fg_device_memory_stats(m->device, &stats));
    return fg_flux_check_activation_memory(m, batch, latent_h, latent_w, txt_tokens, free_bytes + stats.cached);
}

/* ---- input checks ------------------------------------------------------------------------------ */

static fg_error *check_tensor(const fg_flux_model *m, const char *name, const fg_tensor *t, int ndim, bool any_device) {
    char s[96];
    FG_CHECK_ARG(t && t->data, "flux forward: %s is missing", name);
    FG_CHECK_ARG(t->dtype == FG_F32 && t->ndim == ndim, "flux forward: %s is %s %s, expected F32 with %d dims", name,
                 fg_dtype_name(t->dtype), fg_tensor_shape_str(t, s, sizeof s), ndim);
    FG_CHECK_ARG(any_device || t->device == m->device, "flux forward: %s is on %s but the model runs on %s", name,
                 fg_device_name(t->device), fg_device_name(m->device));
    for (int i = 0; i < ndim; i++)
        FG_CHECK_ARG(t->shape[i] > 0, "flux forward: %s is %s (empty)", name, fg_tensor_shape_str(t, s, sizeof s));
    return NULL;
}

fg_error *flux_check_inputs(const fg_flux_model *m, const fg_flux_inputs *in, const fg_tensor *out,
                            bool io_any_device) {
    const fg_flux_config *a = &m->p.arch;
    char s[96], s2[96];
    FG_TRY(check_tensor(m, "x", in->x, 4, io_any_device));
    FG_TRY(check_tensor(m, "timestep", in->timestep, 1, true));
    FG_TRY(check_tensor(m, "context", in->context, 3, io_any_device));
    FG_TRY(check_tensor(m, "y", in->y, 2, io_any_device));
    FG_TRY(check_tensor(m, "out", out, 4, io_any_device));
    if (in->guidance) FG_TRY(check_tensor(m, "guidance", in->guidance, 1, true));
    const int64_t b = in->x->shape[0];
    FG_CHECK_ARG(in->x->shape[1] == m->p.latent_channels, "flux forward: x is %s but the model takes %lld channels",
                 fg_tensor_shape_str(in->x, s, sizeof s), (long long)m->p.latent_channels);
    FG_CHECK_ARG(fg_tensor_same_shape(out, in->x), "flux forward: out is %s but x is %s",
                 fg_tensor_shape_str(out, s, sizeof s), fg_tensor_shape_str(in->x, s2, sizeof s2));
    FG_CHECK_ARG(in->timestep->shape[0] == b && (!in->guidance || in->guidance->shape[0] == b),
                 "flux forward: timestep and guidance need %lld values (the batch of x)", (long long)b);
    FG_CHECK_ARG(in->context->shape[0] == b && in->context->shape[2] == a->context_in_dim,
                 "flux forward: context is %s, expected [%lld, L, %lld]", fg_tensor_shape_str(in->context, s, sizeof s),
                 (long long)b, (long long)a->context_in_dim);
    FG_CHECK_ARG(in->y->shape[0] == b && in->y->shape[1] >= a->vec_in_dim,
                 "flux forward: y is %s, expected [%lld, >= %lld]", fg_tensor_shape_str(in->y, s, sizeof s),
                 (long long)b, (long long)a->vec_in_dim);
    return NULL;
}

/* ---- stages ------------------------------------------------------------------------------------ */

/* Tokens [B, h2*w2, C*4] of x (from s), circular-padded to even sizes on the bottom/right
 * first (the padded copy is a temporary). */
static fg_error *patchify(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *x, fg_tensor **tokens) {
    const int64_t b = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int ph = (int)(h % FG_FLUX_PATCH), pw = (int)(w % FG_FLUX_PATCH);
    const int64_t h2 = (h + ph) / FG_FLUX_PATCH, w2 = (w + pw) / FG_FLUX_PATCH;
    const fg_tensor *src = x;
    if (ph || pw) {
        fg_tensor *padded;
        FG_TRY(flux_alloc(m, tmp, FG_SHAPE(b, c, h + ph, w + pw), &padded));
        FG_TRY(fg_pad2d(padded, x, 0, ph, 0, pw, FG_PAD_CIRCULAR));
        src = padded;
    }
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, h2 * w2, c * FG_FLUX_PATCH * FG_FLUX_PATCH), tokens));
    return fg_patchify(*tokens, src, FG_FLUX_PATCH);
}

/* out [B, C, h, w] from the final tokens [B, h2*w2, C*4]: unpatchify, then crop the padding
 * (through temporaries). */
static fg_error *unpatchify(const fg_flux_model *m, fg_scope *tmp, const fg_tensor *tokens, int64_t h2, int64_t w2,
                            fg_tensor *out) {
    const int64_t b = out->shape[0], c = out->shape[1];
    fg_tensor *full, *rows;
    if (out->shape[2] == 2 * h2 && out->shape[3] == 2 * w2) return fg_unpatchify(out, tokens, FG_FLUX_PATCH);
    FG_TRY(flux_alloc(m, tmp, FG_SHAPE(b, c, 2 * h2, 2 * w2), &full));
    FG_TRY(fg_unpatchify(full, tokens, FG_FLUX_PATCH));
    FG_TRY(flux_alloc(m, tmp, FG_SHAPE(b, c, out->shape[2], 2 * w2), &rows));
    FG_TRY(fg_slice(rows, full, 2, 0));
    return fg_slice(out, rows, 3, 0);
}

/* tokens [B, Li, C*4] (from s) = final_layer.linear(modulate(LN(img), shift, scale)), shift
 * first. */
static fg_error *final_layer(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *img,
                             const fg_tensor *silu_vec, fg_tensor **tokens) {
    fg_tensor *mods[2], *a;
    FG_TRY(flux_modulation(m, tmp, &m->final_mod, silu_vec, 2, mods));
    FG_TRY(flux_alloc(m, tmp, 3, img->shape, &a));
    FG_TRY(fg_layer_norm(a, img, NULL, NULL, FG_FLUX_EPS, mods[0], mods[1]));
    return flux_linear(m, s, &m->final_linear, a, FG_ACT_NONE, tokens);
}

/* The streams through the blocks: img [B, Li, H] and txt [B, Lt, H] in (from an ancestor of
 * tmp; consumed), the image rows of the final sequence out (from s). */
static fg_error *run_blocks(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, fg_tensor *img, fg_tensor *txt,
                            const fg_tensor *silu_vec, const fg_tensor *cos, const fg_tensor *sin,
                            fg_flux_trace *trace, fg_tensor **img_out) {
    const fg_flux_config *a = &m->p.arch;
    const int64_t b = img->shape[0], li = img->shape[1], lt = txt->shape[1];
    fg_tensor *x;
    for (int64_t n = 0; n < a->depth; n++) {
        FG_TRY(flux_double_block(m, tmp, &m->double_blocks[n], img, txt, silu_vec, cos, sin));
        if (trace && trace->enabled && n == 0) {
            FG_TRY(flux_clone(m, img, &trace->double0_img));
            FG_TRY(flux_clone(m, txt, &trace->double0_txt));
        }
        if (trace && trace->enabled && n == a->depth - 1) {
            FG_TRY(flux_clone(m, img, &trace->doubles_img));
            FG_TRY(flux_clone(m, txt, &trace->doubles_txt));
        }
    }
    FG_TRY(flux_alloc(m, tmp, FG_SHAPE(b, lt + li, a->hidden), &x));
    FG_TRY(fg_concat(x, (const fg_tensor *const[]){txt, img}, 2, 1)); /* text first */
    /* The streams are not live through the single blocks (fg_flux_activation_bytes). */
    fg_scope_release(tmp, txt);
    fg_scope_release(tmp, img);
    for (int64_t n = 0; n < a->depth_single; n++)
        FG_TRY(flux_single_block(m, tmp, &m->single_blocks[n], x, silu_vec, cos, sin));
    FG_TRY(flux_alloc(m, s, FG_SHAPE(b, li, a->hidden), img_out));
    return fg_slice(*img_out, x, 1, lt); /* drop the text rows */
}

/* t itself when it already is an activation, else a converted copy from s. */
static fg_error *as_act(const fg_flux_model *m, fg_scope *s, const fg_tensor *t, const fg_tensor **act) {
    *act = t;
    if (t->dtype == m->act_dtype) return NULL;
    fg_tensor *copy;
    FG_TRY(flux_to(m, s, t, m->act_dtype, &copy));
    *act = copy;
    return NULL;
}

fg_error *flux_tables_build(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in, flux_tables *tables) {
    const int64_t lt = in->context->shape[1];
    const int64_t h2 = (in->x->shape[2] + 1) / 2, w2 = (in->x->shape[3] + 1) / 2;
    memset(tables, 0, sizeof *tables);
    FG_TRY(flux_time_tables(m, s, in, &tables->t_table, &tables->g_table));
    return flux_rope_tables(m, s, lt, h2, w2, &tables->cos, &tables->sin);
}

/* The tokens of x (from s); x's activation copy is a temporary. */
static fg_error *patchify_input(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *x,
                                fg_tensor **tokens) {
    const fg_tensor *xa;
    FG_TRY(as_act(m, tmp, x, &xa));
    FG_SCOPED(tmp, pad, patchify(m, s, &pad, xa, tokens));
    return NULL;
}

/* img [B, Li, H] (from s) = img_in(tokens of x); x's activation copy and the tokens are
 * temporaries (the trace copies the tokens first). */
static fg_error *embed_image(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *x, int64_t lt,
                             fg_flux_trace *trace, fg_tensor **img) {
    const int64_t b = x->shape[0], h2 = (x->shape[2] + 1) / 2, w2 = (x->shape[3] + 1) / 2;
    fg_tensor *tokens;
    FG_SCOPED(tmp, input, patchify_input(m, tmp, &input, x, &tokens));
    if (trace && trace->enabled) {
        FG_TRY(flux_clone(m, tokens, &trace->img_tokens));
        FG_TRY(flux_ids(m, b, lt, h2, w2, &trace->img_ids, &trace->txt_ids));
    }
    return flux_linear(m, s, &m->img_in, tokens, FG_ACT_NONE, img);
}

/* silu(vec) [B, H] (from s), which every modulation reads; vec itself is a temporary. */
static fg_error *embed_vector(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const flux_tables *tables,
                              const fg_tensor *y, fg_flux_trace *trace, fg_tensor **silu_vec) {
    fg_tensor *vec;
    FG_TRY(flux_vec(m, tmp, tables, y, &vec));
    if (trace && trace->enabled) FG_TRY(flux_clone(m, vec, &trace->vec));
    FG_TRY(flux_alloc(m, s, 2, vec->shape, silu_vec));
    return fg_unary(*silu_vec, vec, FG_ACT_SILU);
}

/* txt [B, Lt, H] (from s) = txt_in(context); context's activation copy is a temporary. */
static fg_error *embed_text(const fg_flux_model *m, fg_scope *s, fg_scope *tmp, const fg_tensor *context,
                            fg_tensor **txt) {
    const fg_tensor *ctx;
    FG_TRY(as_act(m, tmp, context, &ctx));
    return flux_linear(m, s, &m->txt_in, ctx, FG_ACT_NONE, txt);
}

/* out (F32) from the final image rows: through an activation copy when out's dtype differs. */
static fg_error *write_output(const fg_flux_model *m, fg_scope *tmp, const fg_tensor *img, const fg_tensor *silu_vec,
                              int64_t h2, int64_t w2, fg_tensor *out) {
    fg_tensor *tokens, *out_act;
    FG_SCOPED(tmp, final, final_layer(m, tmp, &final, img, silu_vec, &tokens));
    if (out->dtype == m->act_dtype) {
        FG_SCOPED(tmp, crop, unpatchify(m, &crop, tokens, h2, w2, out));
        return NULL;
    }
    FG_TRY(flux_alloc(m, tmp, 4, out->shape, &out_act));
    FG_SCOPED(tmp, crop, unpatchify(m, &crop, tokens, h2, w2, out_act));
    return fg_cast(out, out_act);
}

static fg_error *forward(const fg_flux_model *m, fg_scope *fwd, const fg_flux_inputs *in, const flux_tables *tables,
                         fg_tensor *out, fg_flux_trace *trace) {
    const int64_t lt = in->context->shape[1];
    const int64_t h2 = (in->x->shape[2] + 1) / 2, w2 = (in->x->shape[3] + 1) / 2;
    const fg_tensor *y;
    fg_tensor *img, *txt, *silu_vec, *img_out;
    FG_TRY(as_act(m, fwd, in->y, &y));
    FG_SCOPED(fwd, stage, embed_image(m, fwd, &stage, in->x, lt, trace, &img));
    FG_SCOPED(fwd, stage, embed_vector(m, fwd, &stage, tables, y, trace, &silu_vec));
    FG_SCOPED(fwd, stage, embed_text(m, fwd, &stage, in->context, &txt));
    FG_SCOPED(fwd, stage, run_blocks(m, fwd, &stage, img, txt, silu_vec, tables->cos, tables->sin, trace, &img_out));
    FG_SCOPED(fwd, stage, write_output(m, &stage, img_out, silu_vec, h2, w2, out));
    return NULL;
}

fg_error *flux_forward_prepared(const fg_flux_model *m, fg_scope *s, const fg_flux_inputs *in,
                                const flux_tables *tables, fg_tensor *out, fg_flux_trace *trace) {
    FG_SCOPED(s, fwd, forward(m, &fwd, in, tables, out, trace));
    return NULL;
}

fg_error *fg_flux_forward(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out, fg_flux_trace *trace) {
    FG_CHECK_ARG(m && in && out, "fg_flux_forward: NULL argument");
    FG_TRY(flux_check_inputs(m, in, out, false));
    /* The forward's scope: the tables, then everything the forward makes (a child). */
    fg_scope scope = fg_scope_open(NULL);
    flux_tables tables;
    fg_error *err = flux_tables_build(m, &scope, in, &tables);
    if (!err) err = flux_forward_prepared(m, &scope, in, &tables, out, trace);
    fg_scope_end(&scope);
    if (trace) trace->activation_peak_bytes = fg_scope_peak_bytes(&scope);
    if (err && trace) fg_flux_trace_free(trace);
    return fg_error_wrapf(err, "flux forward");
}
