#include "sampling/guidance.h"

#include <math.h>
#include <string.h>

#include "kernels/ops.h"

bool fg_cond_view_active(const fg_model_sampling *ms, const fg_cond_view *e, float sigma) {
    /* torch compares the float32 sigma tensor with the Python float cast to float32 */
    if (e->has_start && sigma > (float)fg_ms_percent_to_sigma(ms, e->start_percent)) return false;
    if (e->has_end && sigma < (float)fg_ms_percent_to_sigma(ms, e->end_percent)) return false;
    return true;
}

bool fg_cfg_is_one(float cfg) { return fabs((double)cfg - 1.0) <= 1e-9 * fmax(fabs((double)cfg), 1.0); }

/* out = sum(D_e) / (count + 1e-37) over the active entries (every mult is 1 without areas). */
static fg_error *combine(const fg_cfg_guider *g, const fg_cond_view *list, int n, const fg_tensor *x, float sigma,
                         fg_tensor *out, fg_tensor *tmp) {
    memset(out->data, 0, fg_tensor_nbytes(out));
    float count = 1e-37f;
    for (int k = 0; k < n; k++) {
        if (!fg_cond_view_active(g->ms, &list[k], sigma)) continue;
        FG_TRY_CTX(g->model(g->user, x, sigma, &list[k], tmp), "conditioning entry %d", k);
        FG_TRY(fg_axpby(out, 1.0f, out, 1.0f, tmp));
        count += 1.0f;
    }
    if (count != 1.0f) FG_TRY(fg_scale_shift(out, out, 1.0f / count, 0.0f));
    return NULL;
}

fg_error *fg_cfg_guider_denoise(void *guider, const fg_tensor *x, float sigma, fg_tensor *out) {
    const fg_cfg_guider *g = guider;
    FG_CHECK_ARG(g && g->model && g->ms && x && out, "guider: missing argument");
    FG_CHECK_ARG(out->dtype == FG_F32 && out->device == FG_DEVICE_CPU && fg_tensor_same_shape(out, x),
                 "guider: out must be a host F32 tensor shaped like x");
    FG_CHECK_ARG(g->n_positive >= 0 && g->n_negative >= 0, "guider: bad entry counts");
    fg_tensor tmp, uncond;
    FG_TRY(fg_tensor_alloc_host(&tmp, FG_F32, x->ndim, x->shape));
    fg_error *err = combine(g, g->positive, g->n_positive, x, sigma, out, &tmp);
    if (!err && !fg_cfg_is_one(g->cfg)) {
        err = fg_tensor_alloc_host(&uncond, FG_F32, x->ndim, x->shape);
        if (!err) {
            err = combine(g, g->negative, g->n_negative, x, sigma, &uncond, &tmp);
            /* uncond + (cond - uncond) * cfg */
            if (!err) err = fg_axpby(&tmp, 1.0f, out, -1.0f, &uncond);
            if (!err) err = fg_axpby(out, 1.0f, &uncond, g->cfg, &tmp);
            fg_tensor_free_host(&uncond);
        }
    }
    fg_tensor_free_host(&tmp);
    return err;
}
