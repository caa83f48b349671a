/* Multistep samplers that keep a history of derivatives or denoised predictions: lms,
 * dpmpp_2m, ipndm and deis. */
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "sampling/samplers_internal.h"

enum { HISTORY = 4 };

/* A ring of derivative tensors, newest first: h[0] is the latest. */
typedef struct history {
    fg_tensor t[HISTORY];
    int count, cap;
} history;

static fg_error *history_init(const fg_sampler_run_ctx *c, history *h, int cap) {
    memset(h, 0, sizeof *h);
    h->cap = cap;
    for (int k = 0; k < cap; k++) FG_TRY(fg_sr_tmp(c, &h->t[k]));
    return NULL;
}

static void history_free(history *h) {
    for (int k = 0; k < h->cap; k++) fg_tensor_free_host(&h->t[k]);
}

/* Returns the slot for a new newest entry (the oldest is recycled when full). */
static fg_tensor *history_push(history *h) {
    fg_tensor oldest = h->t[h->cap - 1];
    memmove(&h->t[1], &h->t[0], (size_t)(h->cap - 1) * sizeof(fg_tensor));
    h->t[0] = oldest;
    if (h->count < h->cap) h->count++;
    return &h->t[0];
}

/* ---- lms ------------------------------------------------------------------------------ */

/* Integral over [s[i], s[i+1]] of the Lagrange basis polynomial j on nodes s[i-k],
 * k < order, in closed form (scipy's quad is exact on these cubic polynomials). */
double fg_lms_coeff(int order, const float *s, int i, int j) {
    double poly[HISTORY + 1] = {1.0}; /* ascending coefficients */
    int deg = 0;
    for (int k = 0; k < order; k++) {
        if (k == j) continue;
        const double node = s[i - k], den = (double)s[i - j] - node;
        for (int p = deg + 1; p >= 0; p--) /* poly *= (tau - node) / den */
            poly[p] = ((p > 0 ? poly[p - 1] : 0.0) - node * poly[p]) / den;
        deg++;
    }
    const double a = s[i], b = s[i + 1];
    double sum = 0.0, pa = a, pb = b;
    for (int p = 0; p <= deg; p++) {
        sum += poly[p] * (pb - pa) / (p + 1);
        pa *= a;
        pb *= b;
    }
    return sum;
}

fg_error *fg_sample_lms(fg_sampler_run_ctx *c) {
    history ds;
    fg_tensor acc = {0};
    fg_error *err = history_init(c, &ds, 4);
    if (!err) err = fg_sr_tmp(c, &acc);
    for (int i = 0; i < c->steps && !err; i++) {
        err = fg_sr_main_call(c, i);
        if (err) break;
        fg_tensor *d = history_push(&ds);
        err = fg_sr_to_d(d, c->x, &c->den, c->s[i]);
        if (err) break;
        if (c->s[i + 1] == 0.0f) {
            err = fg_tensor_copy(c->x, &c->den);
            continue;
        }
        const int order = i + 1 < 4 ? i + 1 : 4;
        for (int j = 0; j < order && !err; j++) {
            const float coeff = (float)fg_lms_coeff(order, c->s, i, j);
            err = j == 0 ? fg_scale_shift(&acc, &ds.t[0], coeff, 0.0f) : fg_axpby(&acc, 1.0f, &acc, coeff, &ds.t[j]);
        }
        if (!err) err = fg_axpby(c->x, 1.0f, c->x, 1.0f, &acc);
    }
    history_free(&ds);
    fg_tensor_free_host(&acc);
    return err;
}

/* ---- dpmpp_2m ------------------------------------------------------------------------- */

fg_error *fg_sample_dpmpp_2m(fg_sampler_run_ctx *c) {
    fg_tensor old = {0}, mix = {0};
    fg_error *err = fg_sr_tmp(c, &old);
    if (!err) err = fg_sr_tmp(c, &mix);
    bool have_old = false;
    for (int i = 0; i < c->steps && !err; i++) {
        err = fg_sr_main_call(c, i);
        if (err) break;
        const float t = -logf(c->s[i]), t_next = -logf(c->s[i + 1]); /* +inf at sigma 0 */
        const float h = t_next - t;
        const float ratio = expf(-t_next) / expf(-t);
        const float coef = -expm1f(-h);
        if (!have_old || c->s[i + 1] == 0.0f) {
            err = fg_axpby(c->x, ratio, c->x, coef, &c->den);
        } else {
            const float h_last = t - -logf(c->s[i - 1]);
            const float r = h_last / h;
            const float b = 1.0f / (2.0f * r);
            err = fg_axpby(&mix, 1.0f + b, &c->den, -b, &old);
            if (!err) err = fg_axpby(c->x, ratio, c->x, coef, &mix);
        }
        if (!err) err = fg_tensor_copy(&old, &c->den);
        have_old = true;
    }
    fg_tensor_free_host(&old);
    fg_tensor_free_host(&mix);
    return err;
}

/* ---- ipndm and deis: Adams-Bashforth style updates on d = (x - D) / sigma ------------------ */

/* x += sum_k w[k] * terms[k] (w[0] multiplies d_cur). */
static fg_error *add_combination(fg_tensor *x, fg_tensor *acc, const fg_tensor *d_cur, const history *h, int order,
                                 const float *w) {
    FG_TRY(fg_scale_shift(acc, d_cur, w[0], 0.0f));
    for (int k = 1; k < order; k++) FG_TRY(fg_axpby(acc, 1.0f, acc, w[k], &h->t[k - 1]));
    return fg_axpby(x, 1.0f, x, 1.0f, acc);
}

static void ipndm_weights(int order, float dt, float *w) {
    static const float tab[4][5] = {
        {1, 0, 0, 0, 1}, {3, -1, 0, 0, 2}, {23, -16, 5, 0, 12}, {55, -59, 37, -9, 24},
    };
    for (int k = 0; k < order; k++) w[k] = dt * tab[order - 1][k] / tab[order - 1][4];
}

/* The shared loop; deis=false is ipndm (max order 4), deis=true deis "tab" (max order 3). */
static fg_error *adams_loop(fg_sampler_run_ctx *c, bool deis) {
    const int max_order = deis ? 3 : 4;
    history buf;
    fg_tensor d = {0}, acc = {0};
    fg_error *err = history_init(c, &buf, max_order - 1);
    if (!err) err = fg_sr_tmp(c, &d);
    if (!err) err = fg_sr_tmp(c, &acc);
    for (int i = 0; i < c->steps && !err; i++) {
        const float t_cur = c->s[i], t_next = c->s[i + 1];
        err = fg_sr_main_call(c, i);
        if (!err) err = fg_sr_to_d(&d, c->x, &c->den, t_cur);
        if (err) break;
        int order = i + 1 < max_order ? i + 1 : max_order;
        float w[4];
        if (!deis && t_next == 0.0f) {
            err = fg_tensor_copy(c->x, &c->den);
        } else {
            if (deis && t_next <= 0.0f) order = 1;
            if (order == 1 || !deis) {
                ipndm_weights(order, t_next - t_cur, w);
            } else {
                double cw[3];
                fg_deis_coeffs(c->s, i, order, cw);
                for (int k = 0; k < order; k++) w[k] = (float)cw[k];
            }
            err = add_combination(c->x, &acc, &d, &buf, order, w);
        }
        if (!err) err = fg_tensor_copy(history_push(&buf), &d);
    }
    history_free(&buf);
    fg_tensor_free_host(&d);
    fg_tensor_free_host(&acc);
    return err;
}

fg_error *fg_sample_ipndm(fg_sampler_run_ctx *c) { return adams_loop(c, false); }
fg_error *fg_sample_deis(fg_sampler_run_ctx *c) { return adams_loop(c, true); }

/* DEIS "tab" coefficients: sigmas mapped to VP time by edm2t (sigma_min 0.002, sigma_max 80,
 * epsilon 1e-3), then sum(integrand * Lagrange basis) * dtau over linspace(t_cur, t_next,
 * 10000), where integrand = -0.5 dlog(alpha)/dtau / sqrt(alpha (1 - alpha)). Double precision
 * (ComfyUI evaluates in float32: agreement is about 1e-6). */
static double edm2t(double sigma, double beta_min, double beta_d) {
    return (sqrt(beta_min * beta_min + 2.0 * beta_d * log(sigma * sigma + 1.0)) - beta_min) / beta_d;
}

void fg_deis_coeffs(const float *s, int i, int order, double *coeffs) {
    const double eps = 1e-3, smin = 0.002, smax = 80.0;
    const double beta_d = 2.0 * (log(smin * smin + 1.0) / eps - log(smax * smax + 1.0)) / (eps - 1.0);
    const double beta_0 = log(smax * smax + 1.0) - 0.5 * beta_d;
    const double beta_1 = beta_d + beta_0;
    double prev[3];
    for (int k = 0; k < order; k++) prev[k] = edm2t(s[i - k], beta_0, beta_d);
    const double t_cur = prev[0], t_next = edm2t(s[i + 1], beta_0, beta_d);
    const int n = 10000;
    const double dtau = (t_next - t_cur) / n;
    const double step = (t_next - t_cur) / (n - 1);
    for (int j = 0; j < order; j++) coeffs[j] = 0.0;
    for (int p = 0; p < n; p++) {
        const double tau = p < n / 2 ? t_cur + step * p : t_next - step * (n - 1 - p);
        const double alpha = exp(-0.5 * tau * tau * (beta_1 - beta_0) - tau * beta_0);
        const double dlog = -(tau * (beta_1 - beta_0) + beta_0);
        const double integrand = -0.5 * dlog / sqrt(alpha * (1.0 - alpha));
        for (int j = 0; j < order; j++) {
            double poly = 1.0;
            for (int k = 0; k < order; k++)
                if (k != j) poly *= (tau - prev[k]) / (prev[j] - prev[k]);
            coeffs[j] += integrand * poly;
        }
    }
    for (int j = 0; j < order; j++) coeffs[j] *= dtau;
}
