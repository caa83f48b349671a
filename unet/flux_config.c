#include "unet/flux_config.h"

#include <stdio.h>
#include <string.h>

/* Block indices past this are treated as hostile rather than as a 5000-block model. */

/* Dims past this are hostile too (the real maximum is 21504); it keeps products such as
 * 6 x hidden far from overflowing. */
#define MAX_DIM (INT64_C(1) << 30)

/* Dimension `axis` of a tensor that must exist with `ndim` dims. */
static fg_error *dim_of(const fg_weights *w, const char *name, int ndim, int axis, int64_t *out) {
    fg_tensor t;
    FG_TRY(fg_weights_get(w, name, &t));
    if (t.ndim != ndim || !fg_dtype_is_float(t.dtype)) {
        char s[96];
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' is %s %s, expected a %d-dim float tensor",
                         fg_weights_path(w), fg_weights_prefix(w), name, fg_dtype_name(t.dtype),
                         fg_tensor_shape_str(&t, s, sizeof s), ndim);
    }
    *out = t.shape[axis];
    if (*out <= 0 || *out > MAX_DIM)
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has an empty or implausibly large dim", fg_weights_path(w),
                         fg_weights_prefix(w), name);
    return NULL;
}

fg_error *fg_flux_axes_for_head_dim(int64_t head_dim, int axes_dim[3]) {
    if (head_dim == 128) {
        axes_dim[0] = 16, axes_dim[1] = 56, axes_dim[2] = 56;
        return NULL;
    }
    if (head_dim <= 0 || head_dim % 32 != 0 || head_dim > 1 << 16)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "head_dim %lld: RoPE axes (head_dim/8, 7*head_dim/16, 7*head_dim/16) need a multiple of 32",
                         (long long)head_dim);
    axes_dim[0] = (int)(head_dim / 8);
    axes_dim[1] = axes_dim[2] = (int)(7 * head_dim / 16);
    return NULL;
}

static fg_error *infer_dims(const fg_weights *w, fg_flux_config *a, int64_t *head_dim) {
    FG_TRY(dim_of(w, "img_in.weight", 2, 0, &a->hidden));
    FG_TRY(dim_of(w, "img_in.weight", 2, 1, &a->in_channels));
    FG_TRY(dim_of(w, "final_layer.linear.weight", 2, 0, &a->out_channels));
    FG_TRY(dim_of(w, "txt_in.weight", 2, 1, &a->context_in_dim));
    FG_TRY(dim_of(w, "vector_in.in_layer.weight", 2, 1, &a->vec_in_dim));
    FG_TRY(dim_of(w, "time_in.in_layer.weight", 2, 1, &a->time_dim));
    FG_TRY(fg_weights_count_indexed(w, "double_blocks.", FG_FLUX_MAX_BLOCKS, &a->depth));
    FG_TRY(fg_weights_count_indexed(w, "single_blocks.", FG_FLUX_MAX_BLOCKS, &a->depth_single));
    if (a->depth == 0 && a->depth_single == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no double_blocks.N or single_blocks.N tensors", fg_weights_path(w));
    const char *norm = a->depth ? "double_blocks.0.img_attn.norm.query_norm.scale" : "single_blocks.0.norm.query_norm.scale";
    FG_TRY(dim_of(w, norm, 1, 0, head_dim));
    int64_t mlp_double = 0, mlp_single = 0, linear1 = 0;
    if (a->depth) FG_TRY(dim_of(w, "double_blocks.0.img_mlp.0.weight", 2, 0, &mlp_double));
    if (a->depth_single) {
        FG_TRY(dim_of(w, "single_blocks.0.linear1.weight", 2, 0, &linear1));
        if (linear1 <= 3 * a->hidden)
            return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%ssingle_blocks.0.linear1.weight' has %lld rows, not more than 3 x hidden %lld",
                             fg_weights_path(w), fg_weights_prefix(w), (long long)linear1, (long long)a->hidden);
        mlp_single = linear1 - 3 * a->hidden;
    }
    if (mlp_double && mlp_single && mlp_double != mlp_single)
        return fg_errorf(FG_ERR_FORMAT, "%s: the single blocks' MLP width %lld (linear1 rows - 3 x hidden) differs from the double blocks' %lld",
                         fg_weights_path(w), (long long)mlp_single, (long long)mlp_double);
    a->mlp_hidden = mlp_double ? mlp_double : mlp_single;
    return NULL;
}

fg_error *fg_flux_params_infer(const fg_weights *w, fg_flux_params *out) {
    FG_CHECK_ARG(w && out, "fg_flux_params_infer: NULL argument");
    memset(out, 0, sizeof *out);
    fg_flux_config *a = &out->arch;
    FG_TRY(infer_dims(w, a, &out->head_dim));
    const char *path = fg_weights_path(w);
    if (a->hidden % out->head_dim != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: hidden size %lld is not a multiple of head_dim %lld (the q-norm scale length)",
                         path, (long long)a->hidden, (long long)out->head_dim);
    a->num_heads = a->hidden / out->head_dim;
    int64_t pp = FG_FLUX_PATCH * FG_FLUX_PATCH;
    if (a->in_channels % pp != 0 || a->out_channels != a->in_channels)
        return fg_errorf(FG_ERR_FORMAT, "%s: patched channels in %lld / out %lld: expected equal multiples of %lld",
                         path, (long long)a->in_channels, (long long)a->out_channels, (long long)pp);
    if (a->time_dim % 2 != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: timestep embedding width %lld is odd", path, (long long)a->time_dim);
    out->latent_channels = a->in_channels / pp;
    a->guidance_embed = fg_weights_has(w, "guidance_in.in_layer.weight");
    a->qkv_bias = a->depth > 0 && fg_weights_has(w, "double_blocks.0.img_attn.qkv.bias");
    fg_tensor img_in;
    FG_TRY(fg_weights_get(w, "img_in.weight", &img_in));
    a->dtype = img_in.dtype;
    out->theta = FG_FLUX_THETA;
    return fg_error_wrapf(fg_flux_axes_for_head_dim(out->head_dim, out->axes_dim), "%s", path);
}

char *fg_flux_params_describe(const fg_flux_params *p, char *buf, size_t cap) {
    const fg_flux_config *a = &p->arch;
    snprintf(buf, cap,
             "hidden %lld, %lld heads x %lld, %lld double + %lld single blocks, mlp %lld, in %lld, context %lld, "
             "vec %lld, axes (%d, %d, %d), %sguidance, %sqkv bias, %s",
             (long long)a->hidden, (long long)a->num_heads, (long long)p->head_dim, (long long)a->depth,
             (long long)a->depth_single, (long long)a->mlp_hidden, (long long)a->in_channels,
             (long long)a->context_in_dim, (long long)a->vec_in_dim, p->axes_dim[0], p->axes_dim[1], p->axes_dim[2],
             a->guidance_embed ? "" : "no ", a->qkv_bias ? "" : "no ", fg_dtype_name(a->dtype));
    return buf;
}
