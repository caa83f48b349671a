/* uni_pc (variant bh1) and uni_pc_bh2: ComfyUI's UniPC multistep sampler (Zhao et al. 2023),
 * data prediction, order min(3, steps - 1), lower_order_final, corrector on every step but the
 * last. It treats the sigmas as a VP-EPS schedule even for flow models: x is divided by
 * sqrt(1 + sigma0^2) first, the model's eps is (x sqrt(sigma^2 + 1) - D) / sigma, a final sigma
 * 0 is replaced by 0.001 and the result is divided by alpha(last). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "sampling/samplers_internal.h"

enum { UNIPC_MAX_ORDER = 3 };

typedef struct unipc {
    fg_sampler_run_ctx *c;
    bool bh2;
    fg_tensor mp[UNIPC_MAX_ORDER]; /* model_prev_list (x0 predictions), oldest first */
    double tp[UNIPC_MAX_ORDER];    /* t_prev_list */
    int n;
    fg_tensor xk, tmp, base, res, model_t;
} unipc;

static double log_mean_coeff(double s) { return 0.5 * log(1.0 / (s * s + 1.0)); }
static double vp_alpha(double s) { return exp(log_mean_coeff(s)); }
static double vp_std(double s) { return sqrt(1.0 - exp(2.0 * log_mean_coeff(s))); }
static double vp_lambda(double s) {
    const double l = log_mean_coeff(s);
    return l - 0.5 * log(1.0 - exp(2.0 * l));
}

/* x0 = (x - std_t eps) / alpha_t with eps = (x sqrt(t^2 + 1) - D) / t. */
static fg_error *data_prediction(unipc *u, const fg_tensor *x, double t, fg_tensor *out) {
    FG_TRY(fg_scale_shift(&u->xk, x, (float)sqrt(t * t + 1.0), 0.0f));
    FG_TRY(fg_sr_call(u->c, &u->xk, (float)t, out));
    FG_TRY(fg_axpby(&u->tmp, (float)(1.0 / t), &u->xk, (float)(-1.0 / t), out)); /* eps */
    const double a = vp_alpha(t);
    return fg_axpby(out, (float)(1.0 / a), x, (float)(-vp_std(t) / a), &u->tmp);
}

/* Solves the n x n system m y = rhs (partial pivoting, n <= 3). */
static void solve_small(int n, double m[3][3], double *rhs, double *y) {
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(m[r][col]) > fabs(m[piv][col])) piv = r;
        for (int k = 0; k < n; k++) {
            const double t = m[col][k];
            m[col][k] = m[piv][k];
            m[piv][k] = t;
        }
        const double t = rhs[col];
        rhs[col] = rhs[piv];
        rhs[piv] = t;
        for (int r = col + 1; r < n; r++) {
            const double f = m[r][col] / m[col][col];
            for (int k = col; k < n; k++) m[r][k] -= f * m[col][k];
            rhs[r] -= f * rhs[col];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = rhs[r];
        for (int k = r + 1; k < n; k++) s -= m[r][k] * y[k];
        y[r] = s / m[r][r];
    }
}

/* res = sum_k rho[k] * (mp_k - m0) / rk[k] over the k < count previous predictions. */
static fg_error *residual(unipc *u, const double *rho, const double *rk, int count, fg_tensor *res) {
    const fg_tensor *m0 = &u->mp[u->n - 1];
    double total = 0.0;
    FG_TRY(fg_scale_shift(res, m0, 0.0f, 0.0f));
    for (int k = 0; k < count; k++) {
        const double w = rho[k] / rk[k];
        FG_TRY(fg_axpby(res, 1.0f, res, (float)w, &u->mp[u->n - 2 - k]));
        total += w;
    }
    return fg_axpby(res, 1.0f, res, (float)-total, m0);
}

/* One multistep_uni_pc_bh_update to time t; with the corrector, u->model_t holds the model's
 * x0 prediction at the predicted point. */
static fg_error *bh_update(unipc *u, fg_tensor *x, double t, int order, bool corrector) {
    const double t0 = u->tp[u->n - 1];
    const double lambda_0 = vp_lambda(t0), lambda_t = vp_lambda(t);
    const double sigma_0 = vp_std(t0), sigma_t = vp_std(t), alpha_t = vp_alpha(t);
    const double h = lambda_t - lambda_0;
    double rks[UNIPC_MAX_ORDER], b[UNIPC_MAX_ORDER], R[3][3];
    for (int i = 1; i < order; i++) rks[i - 1] = (vp_lambda(u->tp[u->n - 1 - i]) - lambda_0) / h;
    rks[order - 1] = 1.0;
    const double hh = -h, h_phi_1 = expm1(hh);
    const double B_h = u->bh2 ? expm1(hh) : hh;
    double h_phi_k = h_phi_1 / hh - 1.0, factorial = 1.0;
    for (int i = 1; i <= order; i++) {
        for (int k = 0; k < order; k++) R[i - 1][k] = pow(rks[k], i - 1);
        b[i - 1] = h_phi_k * factorial / B_h;
        factorial *= i + 1;
        h_phi_k = h_phi_k / hh - 1.0 / factorial;
    }
    /* x_t_ = (sigma_t / sigma_0) x - alpha_t h_phi_1 m0 */
    FG_TRY(fg_axpby(&u->base, (float)(sigma_t / sigma_0), x, (float)(-alpha_t * h_phi_1), &u->mp[u->n - 1]));
    const float step = (float)(alpha_t * B_h);
    if (order > 1) {
        double rho_p[UNIPC_MAX_ORDER] = {0.5}, Rp[3][3], bp[3];
        if (order > 2) {
            for (int r = 0; r < order - 1; r++) {
                memcpy(Rp[r], R[r], sizeof Rp[r]);
                bp[r] = b[r];
            }
            solve_small(order - 1, Rp, bp, rho_p);
        }
        FG_TRY(residual(u, rho_p, rks, order - 1, &u->res));
        FG_TRY(fg_axpby(x, 1.0f, &u->base, -step, &u->res));
    } else {
        FG_TRY(fg_tensor_copy(x, &u->base));
    }
    if (!corrector) return NULL;
    double rho_c[UNIPC_MAX_ORDER] = {0.5};
    if (order > 1) solve_small(order, R, b, rho_c);
    FG_TRY(data_prediction(u, x, t, &u->model_t));
    FG_TRY(residual(u, rho_c, rks, order - 1, &u->res));
    /* corr_res + rho_c[-1] * (model_t - m0) */
    FG_TRY(fg_axpby(&u->res, 1.0f, &u->res, (float)rho_c[order - 1], &u->model_t));
    FG_TRY(fg_axpby(&u->res, 1.0f, &u->res, (float)-rho_c[order - 1], &u->mp[u->n - 1]));
    return fg_axpby(x, 1.0f, &u->base, -step, &u->res);
}

/* Appends (model, t) to the lists, dropping the oldest past `order` entries. */
static fg_error *push_model(unipc *u, const fg_tensor *model, double t, int order) {
    if (u->n == order) {
        fg_tensor oldest = u->mp[0];
        memmove(&u->mp[0], &u->mp[1], (size_t)(order - 1) * sizeof(fg_tensor));
        memmove(&u->tp[0], &u->tp[1], (size_t)(order - 1) * sizeof(double));
        u->mp[order - 1] = oldest;
        u->n--;
    }
    FG_TRY(fg_tensor_copy(&u->mp[u->n], model));
    u->tp[u->n++] = t;
    return NULL;
}

static void report(unipc *u, int i) {
    fg_sampler_run_ctx *c = u->c;
    if (fg_tensor_copy(&c->den, &u->mp[u->n - 1]) == NULL) c->have_den = true;
    if (c->opt->progress) c->opt->progress(c->opt->progress_user, i + 1, c->steps, c->x, &c->den);
}

static fg_error *unipc_loop(unipc *u, const float *ts) {
    fg_sampler_run_ctx *c = u->c;
    const int steps = c->steps;
    const int order = steps - 1 < UNIPC_MAX_ORDER ? steps - 1 : UNIPC_MAX_ORDER;
    FG_TRY(fg_scale_shift(c->x, c->x, (float)(1.0 / sqrt(1.0 + (double)ts[0] * ts[0])), 0.0f));
    for (int i = 0; i < steps; i++) {
        FG_TRY(fg_sr_check_cancel(c, i));
        if (i == 0) {
            FG_TRY(data_prediction(u, c->x, ts[0], &u->model_t));
            FG_TRY(push_model(u, &u->model_t, ts[0], order > 0 ? order : 1));
        } else if (i < order) {
            FG_TRY(bh_update(u, c->x, ts[i], i, true));
            FG_TRY(push_model(u, &u->model_t, ts[i], order));
        } else {
            const int last = i == steps - 1 ? i + 1 : i;
            for (int s = i; s <= last; s++) {
                const int step_order = order < steps + 1 - s ? order : steps + 1 - s;
                const bool corrector = s != steps;
                FG_TRY(bh_update(u, c->x, ts[s], step_order, corrector));
                if (corrector) FG_TRY(push_model(u, &u->model_t, ts[s], order));
                else u->tp[u->n - 1] = ts[s]; /* the list shifts; the last prediction stays */
            }
        }
        report(u, i);
    }
    return fg_scale_shift(c->x, c->x, (float)(1.0 / vp_alpha(ts[steps])), 0.0f);
}

static fg_error *sample_unipc(fg_sampler_run_ctx *c, bool bh2) {
    unipc u = {.c = c, .bh2 = bh2};
    float *ts = malloc((size_t)(c->steps + 1) * sizeof(float));
    if (!ts) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "uni_pc: %d sigmas", c->steps + 1);
    memcpy(ts, c->s, (size_t)(c->steps + 1) * sizeof(float));
    if (ts[c->steps] == 0.0f) ts[c->steps] = 0.001f;
    fg_error *err = NULL;
    fg_tensor *bufs[] = {&u.mp[0], &u.mp[1], &u.mp[2], &u.xk, &u.tmp, &u.base, &u.res, &u.model_t};
    const int nbufs = (int)(sizeof bufs / sizeof bufs[0]);
    for (int k = 0; k < nbufs && !err; k++) err = fg_sr_tmp(c, bufs[k]);
    if (!err) err = unipc_loop(&u, ts);
    for (int k = 0; k < nbufs; k++) fg_tensor_free_host(bufs[k]);
    free(ts);
    return err;
}

fg_error *fg_sample_uni_pc(fg_sampler_run_ctx *c) { return sample_unipc(c, false); }
fg_error *fg_sample_uni_pc_bh2(fg_sampler_run_ctx *c) { return sample_unipc(c, true); }
