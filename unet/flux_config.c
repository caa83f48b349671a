#include "unet/flux_config.h"

#include <stdio.h>
#include <string.h>

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

static fg_error *infer_dims(const fg_weights *w, fg_flux_params *out) {
    fg_table_weights_ctx ctx = {w, true};
    fg_table_lookup look = fg_table_lookup_weights(&ctx, false);
    fg_table_config t;
    FG_TRY(fg_table_infer(&fg_flux_table, &look, &t));
    fg_flux_config *a = &out->arch;
    fg_flux_config_from_table(&t, a);
    out->head_dim = t.sym[FG_FLUX_SYM_HEAD_DIM];
    if (a->depth == 0 && a->depth_single == 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: no %sN or %sN tensors", fg_weights_path(w),
                         fg_flux_table.groups[FG_FLUX_GROUP_DOUBLE].stem, fg_flux_table.groups[FG_FLUX_GROUP_SINGLE].stem);
    return NULL;
}

fg_error *fg_flux_params_infer(const fg_weights *w, fg_flux_params *out) {
    FG_CHECK_ARG(w && out, "fg_flux_params_infer: NULL argument");
    memset(out, 0, sizeof *out);
    fg_flux_config *a = &out->arch;
    FG_TRY(infer_dims(w, out));
    const char *path = fg_weights_path(w);
    if (a->hidden % out->head_dim != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: hidden size %lld is not a multiple of head_dim %lld (the q-norm scale length)",
                         path, (long long)a->hidden, (long long)out->head_dim);
    int64_t pp = FG_FLUX_PATCH * FG_FLUX_PATCH;
    if (a->in_channels % pp != 0 || a->out_channels != a->in_channels)
        return fg_errorf(FG_ERR_FORMAT, "%s: patched channels in %lld / out %lld: expected equal multiples of %lld",
                         path, (long long)a->in_channels, (long long)a->out_channels, (long long)pp);
    if (a->time_dim % 2 != 0)
        return fg_errorf(FG_ERR_FORMAT, "%s: timestep embedding width %lld is odd", path, (long long)a->time_dim);
    out->latent_channels = a->in_channels / pp;
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
