#include "reference.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

double ref_model(double x, double sigma, int64_t e) { return (0.6 + 0.25 * sigma) * x + 0.1 * sin((double)e) * sigma; }

typedef struct ref_state {
    double *x, *den, *d, *tmp, *tmp2;
    int64_t n;
    fg_torch_generator gen;
    float *noise;
} ref_state;

static void denoise(const ref_state *s, const double *x, double sigma, double *out) {
    for (int64_t e = 0; e < s->n; e++) out[e] = ref_model(x[e], sigma, e);
}

static void to_d(const ref_state *s, const double *x, const double *den, double sigma, double *d) {
    for (int64_t e = 0; e < s->n; e++) d[e] = (x[e] - den[e]) / sigma;
}

static void draw(ref_state *s) { fg_torch_randn(&s->gen, s->noise, s->n, FG_RANDN_AVX2); }

static void euler(ref_state *s, const float *sg, int steps) {
    for (int i = 0; i < steps; i++) {
        denoise(s, s->x, sg[i], s->den);
        to_d(s, s->x, s->den, sg[i], s->d);
        for (int64_t e = 0; e < s->n; e++) s->x[e] += s->d[e] * ((double)sg[i + 1] - sg[i]);
    }
}

static void rf_coeffs(double sigma, double next, double eta, double *down, double *a_ip1, double *a_down,
                      double *renoise) {
    *down = next * (1.0 + (next / sigma - 1.0) * eta);
    *a_ip1 = 1.0 - next;
    *a_down = 1.0 - *down;
    *renoise = sqrt(next * next - *down * *down * *a_ip1 * *a_ip1 / (*a_down * *a_down));
}

static void euler_ancestral(ref_state *s, const float *sg, int steps, double eta, double s_noise) {
    for (int i = 0; i < steps; i++) {
        denoise(s, s->x, sg[i], s->den);
        if (sg[i + 1] == 0.0f) {
            memcpy(s->x, s->den, (size_t)s->n * sizeof(double));
            continue;
        }
        double down, a1, ad, rn;
        rf_coeffs(sg[i], sg[i + 1], eta, &down, &a1, &ad, &rn);
        const double r = down / sg[i];
        for (int64_t e = 0; e < s->n; e++) s->x[e] = r * s->x[e] + (1.0 - r) * s->den[e];
        if (eta > 0) {
            draw(s);
            for (int64_t e = 0; e < s->n; e++) s->x[e] = a1 / ad * s->x[e] + s->noise[e] * s_noise * rn;
        }
    }
}

static void heun(ref_state *s, const float *sg, int steps) {
    for (int i = 0; i < steps; i++) {
        const double sigma = sg[i], next = sg[i + 1], dt = next - sigma;
        denoise(s, s->x, sigma, s->den);
        to_d(s, s->x, s->den, sigma, s->d);
        if (next == 0.0) {
            for (int64_t e = 0; e < s->n; e++) s->x[e] += s->d[e] * dt;
            continue;
        }
        for (int64_t e = 0; e < s->n; e++) s->tmp[e] = s->x[e] + s->d[e] * dt;
        denoise(s, s->tmp, next, s->tmp2);
        for (int64_t e = 0; e < s->n; e++) {
            const double d2 = (s->tmp[e] - s->tmp2[e]) / next;
            s->x[e] += (s->d[e] + d2) / 2.0 * dt;
        }
    }
}

/* DPM-Solver-2 from sigma to target using d at sigma. */
static void dpm2_to(ref_state *s, double sigma, double target) {
    const double mid = exp((log(sigma) + log(target)) / 2.0);
    for (int64_t e = 0; e < s->n; e++) s->tmp[e] = s->x[e] + s->d[e] * (mid - sigma);
    denoise(s, s->tmp, mid, s->tmp2);
    for (int64_t e = 0; e < s->n; e++) s->x[e] += (s->tmp[e] - s->tmp2[e]) / mid * (target - sigma);
}

static void dpm_2(ref_state *s, const float *sg, int steps, bool ancestral, double eta, double s_noise) {
    for (int i = 0; i < steps; i++) {
        const double sigma = sg[i];
        double target = sg[i + 1], a1 = 1, ad = 1, rn = 0;
        if (ancestral) rf_coeffs(sigma, sg[i + 1], eta, &target, &a1, &ad, &rn);
        denoise(s, s->x, sigma, s->den);
        to_d(s, s->x, s->den, sigma, s->d);
        if (target == 0.0) {
            for (int64_t e = 0; e < s->n; e++) s->x[e] += s->d[e] * (target - sigma);
            continue;
        }
        dpm2_to(s, sigma, target);
        if (ancestral) {
            draw(s);
            for (int64_t e = 0; e < s->n; e++) s->x[e] = a1 / ad * s->x[e] + s->noise[e] * s_noise * rn;
        }
    }
}

/* Simpson's rule is exact on the cubic Lagrange basis polynomials. */
static double lms_coeff(int order, const float *t, int i, int j) {
    double a = t[i], b = t[i + 1], pts[3] = {a, (a + b) / 2, b}, val[3];
    for (int q = 0; q < 3; q++) {
        double prod = 1.0;
        for (int k = 0; k < order; k++)
            if (k != j) prod *= (pts[q] - t[i - k]) / ((double)t[i - j] - t[i - k]);
        val[q] = prod;
    }
    return (b - a) / 6.0 * (val[0] + 4 * val[1] + val[2]);
}

static void lms(ref_state *s, const float *sg, int steps) {
    double *ds[4];
    for (int k = 0; k < 4; k++) ds[k] = calloc((size_t)s->n, sizeof(double));
    for (int i = 0; i < steps; i++) {
        denoise(s, s->x, sg[i], s->den);
        double *last = ds[3];
        memmove(&ds[1], &ds[0], 3 * sizeof(double *));
        ds[0] = last;
        to_d(s, s->x, s->den, sg[i], ds[0]);
        if (sg[i + 1] == 0.0f) {
            memcpy(s->x, s->den, (size_t)s->n * sizeof(double));
            continue;
        }
        const int order = i + 1 < 4 ? i + 1 : 4;
        for (int j = 0; j < order; j++) {
            const double c = lms_coeff(order, sg, i, j);
            for (int64_t e = 0; e < s->n; e++) s->x[e] += c * ds[j][e];
        }
    }
    for (int k = 0; k < 4; k++) free(ds[k]);
}

static void dpmpp_2m(ref_state *s, const float *sg, int steps) {
    double *old = calloc((size_t)s->n, sizeof(double));
    for (int i = 0; i < steps; i++) {
        denoise(s, s->x, sg[i], s->den);
        const double t = -log(sg[i]);
        if (sg[i + 1] == 0.0f) {
            memcpy(s->x, s->den, (size_t)s->n * sizeof(double));
        } else {
            const double tn = -log(sg[i + 1]), h = tn - t;
            for (int64_t e = 0; e < s->n; e++) {
                double dd = s->den[e];
                if (i > 0) {
                    const double r = (t + log(sg[i - 1])) / h;
                    dd = (1 + 1 / (2 * r)) * s->den[e] - 1 / (2 * r) * old[e];
                }
                s->x[e] = exp(-tn) / exp(-t) * s->x[e] - expm1(-h) * dd;
            }
        }
        memcpy(old, s->den, (size_t)s->n * sizeof(double));
    }
    free(old);
}

/* DEIS 'tab' coefficient j of step i (order nodes), ComfyUI deis.py with N = 10000. */
static double vp_t(double sigma) {
    const double eps = 1e-3, bd = 2 * (log(0.002 * 0.002 + 1) / eps - log(80.0 * 80.0 + 1)) / (eps - 1);
    const double bmin = log(80.0 * 80.0 + 1) - 0.5 * bd;
    return (sqrt(bmin * bmin + 2 * bd * log(sigma * sigma + 1)) - bmin) / bd;
}

static double deis_coeff(const float *sg, int i, int order, int j) {
    const double eps = 1e-3, bd = 2 * (log(0.002 * 0.002 + 1) / eps - log(80.0 * 80.0 + 1)) / (eps - 1);
    const double b0 = log(80.0 * 80.0 + 1) - 0.5 * bd, b1 = bd + b0;
    const double tc = vp_t(sg[i]), tn = vp_t(sg[i + 1]);
    double sum = 0;
    for (int p = 0; p < 10000; p++) {
        const double tau = tc + (tn - tc) * p / 9999.0;
        const double alpha = exp(-0.5 * tau * tau * (b1 - b0) - tau * b0);
        const double integrand = 0.5 * (tau * (b1 - b0) + b0) / sqrt(alpha * (1 - alpha));
        double poly = 1;
        for (int k = 0; k < order; k++)
            if (k != j) poly *= (tau - vp_t(sg[i - k])) / (vp_t(sg[i - j]) - vp_t(sg[i - k]));
        sum += integrand * poly;
    }
    return sum * (tn - tc) / 10000.0;
}

static void adams(ref_state *s, const float *sg, int steps, bool deis) {
    static const double ab[4][5] = {{1, 0, 0, 0, 1}, {3, -1, 0, 0, 2}, {23, -16, 5, 0, 12}, {55, -59, 37, -9, 24}};
    const int max_order = deis ? 3 : 4;
    double *buf[3];
    for (int k = 0; k < 3; k++) buf[k] = calloc((size_t)s->n, sizeof(double));
    double *d = calloc((size_t)s->n, sizeof(double));
    for (int i = 0; i < steps; i++) {
        const double tc = sg[i], tn = sg[i + 1];
        denoise(s, s->x, tc, s->den);
        to_d(s, s->x, s->den, tc, d);
        int order = i + 1 < max_order ? i + 1 : max_order;
        if (!deis && tn == 0) {
            memcpy(s->x, s->den, (size_t)s->n * sizeof(double));
        } else {
            if (deis && tn <= 0) order = 1;
            double w[4];
            for (int k = 0; k < order; k++)
                w[k] = (order == 1 || !deis) ? (tn - tc) * ab[order - 1][k] / ab[order - 1][4]
                                             : deis_coeff(sg, i, order, k);
            for (int64_t e = 0; e < s->n; e++) {
                double acc = w[0] * d[e];
                for (int k = 1; k < order; k++) acc += w[k] * buf[k - 1][e];
                s->x[e] += acc;
            }
        }
        double *oldest = buf[max_order - 2];
        memmove(&buf[1], &buf[0], (size_t)(max_order - 2) * sizeof(double *));
        buf[0] = oldest;
        memcpy(buf[0], d, (size_t)s->n * sizeof(double));
    }
    for (int k = 0; k < 3; k++) free(buf[k]);
    free(d);
}

static void lcm(ref_state *s, const float *sg, int steps) {
    for (int i = 0; i < steps; i++) {
        denoise(s, s->x, sg[i], s->x);
        if (sg[i + 1] > 0) {
            draw(s);
            for (int64_t e = 0; e < s->n; e++) s->x[e] = sg[i + 1] * s->noise[e] + (1.0 - sg[i + 1]) * s->x[e];
        }
    }
}

/* ---- UniPC, following ComfyUI's uni_pc.py structure (lists shifted as in Python) ---- */

typedef struct ref_unipc {
    ref_state *s;
    bool bh2;
    double *models[4], tlist[4];
    int len;
    double *model_t, *xk;
} ref_unipc;

static double lmc(double t) { return 0.5 * log(1 / (t * t + 1)); }
static double ns_alpha(double t) { return exp(lmc(t)); }
static double ns_std(double t) { return sqrt(1 - exp(2 * lmc(t))); }
static double ns_lambda(double t) { return lmc(t) - 0.5 * log(1 - exp(2 * lmc(t))); }

static void ref_data_pred(ref_unipc *u, const double *x, double t, double *out) {
    const ref_state *s = u->s;
    for (int64_t e = 0; e < s->n; e++) u->xk[e] = x[e] * pow(t * t + 1, 0.5);
    denoise(s, u->xk, t, out);
    for (int64_t e = 0; e < s->n; e++) {
        const double eps = (u->xk[e] - out[e]) / t;
        out[e] = (x[e] - ns_std(t) * eps) / ns_alpha(t);
    }
}

/* Cramer's rule for the 1x1..3x3 systems of the coefficient solve. */
static double det3(double m[3][3], int n) {
    if (n == 1) return m[0][0];
    if (n == 2) return m[0][0] * m[1][1] - m[0][1] * m[1][0];
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

static void cramer(double m[3][3], const double *b, int n, double *y) {
    const double d = det3(m, n);
    for (int k = 0; k < n; k++) {
        double mk[3][3];
        memcpy(mk, m, sizeof mk);
        for (int r = 0; r < n; r++) mk[r][k] = b[r];
        y[k] = det3(mk, n) / d;
    }
}

static void ref_bh_update(ref_unipc *u, double *x, double t, int order, bool corrector) {
    const int64_t n = u->s->n;
    const double t0 = u->tlist[u->len - 1];
    const double *m0 = u->models[u->len - 1];
    const double h = ns_lambda(t) - ns_lambda(t0);
    double rks[3];
    const double *prev[3];
    for (int i = 1; i < order; i++) {
        rks[i - 1] = (ns_lambda(u->tlist[u->len - 1 - i]) - ns_lambda(t0)) / h;
        prev[i - 1] = u->models[u->len - 1 - i];
    }
    rks[order - 1] = 1.0;
    const double hh = -h, h_phi_1 = expm1(hh), B_h = u->bh2 ? expm1(hh) : hh;
    double R[3][3], b[3], h_phi_k = h_phi_1 / hh - 1, fact = 1;
    for (int i = 1; i <= order; i++) {
        for (int k = 0; k < order; k++) R[i - 1][k] = pow(rks[k], i - 1);
        b[i - 1] = h_phi_k * fact / B_h;
        fact *= i + 1;
        h_phi_k = h_phi_k / hh - 1 / fact;
    }
    double rp[3] = {0.5}, rc[3] = {0.5};
    if (order > 2) cramer(R, b, order - 1, rp);
    if (order > 1 && corrector) cramer(R, b, order, rc);
    const double alpha_t = ns_alpha(t), ratio = ns_std(t) / ns_std(t0);
    for (int64_t e = 0; e < n; e++) {
        const double base = ratio * x[e] - alpha_t * h_phi_1 * m0[e];
        double pred = 0;
        for (int k = 0; k < order - 1; k++) pred += rp[k] * (prev[k][e] - m0[e]) / rks[k];
        x[e] = base - alpha_t * B_h * pred;
        u->s->tmp[e] = base;
    }
    if (!corrector) return;
    ref_data_pred(u, x, t, u->model_t);
    for (int64_t e = 0; e < n; e++) {
        double corr = 0;
        for (int k = 0; k < order - 1; k++) corr += rc[k] * (prev[k][e] - m0[e]) / rks[k];
        x[e] = u->s->tmp[e] - alpha_t * B_h * (corr + rc[order - 1] * (u->model_t[e] - m0[e]));
    }
}

static void ref_append(ref_unipc *u, double t) {
    memcpy(u->models[u->len], u->model_t, (size_t)u->s->n * sizeof(double));
    u->tlist[u->len++] = t;
}

/* model_prev_list[-order:] after an append */
static void ref_trim(ref_unipc *u, int order) {
    while (u->len > order) {
        double *first = u->models[0];
        for (int k = 0; k + 1 < 4; k++) {
            u->models[k] = u->models[k + 1];
            u->tlist[k] = u->tlist[k + 1];
        }
        u->models[3] = first;
        u->len--;
    }
}

static void unipc(ref_state *s, const float *sigmas, int steps, bool bh2) {
    double ts[64];
    for (int i = 0; i <= steps; i++) ts[i] = sigmas[i];
    if (ts[steps] == 0) ts[steps] = 0.001f; /* a float32 tensor element */
    ref_unipc u = {.s = s, .bh2 = bh2};
    for (int k = 0; k < 4; k++) u.models[k] = calloc((size_t)s->n, sizeof(double));
    u.model_t = calloc((size_t)s->n, sizeof(double));
    u.xk = calloc((size_t)s->n, sizeof(double));
    for (int64_t e = 0; e < s->n; e++) s->x[e] /= sqrt(1 + ts[0] * ts[0]);
    const int order = steps - 1 < 3 ? steps - 1 : 3;
    for (int i = 0; i < steps; i++) {
        if (i == 0) {
            ref_data_pred(&u, s->x, ts[0], u.model_t);
            ref_append(&u, ts[0]);
        } else if (i < order) {
            ref_bh_update(&u, s->x, ts[i], i, true);
            ref_append(&u, ts[i]);
        } else {
            const int extra = i == steps - 1;
            for (int st = i; st < i + 1 + extra; st++) {
                const int so = order < steps + 1 - st ? order : steps + 1 - st;
                const bool corr = st != steps;
                ref_bh_update(&u, s->x, ts[st], so, corr);
                /* shift the first order-1 entries left, then set the last */
                double *first = u.models[0];
                for (int k = 0; k < order - 1; k++) {
                    u.tlist[k] = u.tlist[k + 1];
                    u.models[k] = u.models[k + 1];
                }
                if (order > 1) u.models[order - 1] = first;
                u.tlist[order - 1] = ts[st];
                if (corr) memcpy(u.models[order - 1], u.model_t, (size_t)s->n * sizeof(double));
                else if (order > 1) memcpy(u.models[order - 1], u.models[order - 2], (size_t)s->n * sizeof(double));
            }
        }
        ref_trim(&u, order > 0 ? order : 1);
    }
    for (int64_t e = 0; e < s->n; e++) s->x[e] /= ns_alpha(ts[steps]);
    for (int k = 0; k < 4; k++) free(u.models[k]);
    free(u.model_t);
    free(u.xk);
}

int ref_sample(const char *name, double *x, int64_t n, const float *sg, int n_sigmas, double eta, double s_noise,
               uint64_t seed) {
    ref_state s = {.x = x, .n = n};
    s.den = calloc((size_t)n, sizeof(double));
    s.d = calloc((size_t)n, sizeof(double));
    s.tmp = calloc((size_t)n, sizeof(double));
    s.tmp2 = calloc((size_t)n, sizeof(double));
    s.noise = calloc((size_t)n, sizeof(float));
    fg_torch_manual_seed(&s.gen, seed + 1);
    const int steps = n_sigmas - 1;
    int rc = 0;
    if (!strcmp(name, "euler") || !strcmp(name, "ddim")) euler(&s, sg, steps);
    else if (!strcmp(name, "euler_ancestral")) euler_ancestral(&s, sg, steps, eta, s_noise);
    else if (!strcmp(name, "heun")) heun(&s, sg, steps);
    else if (!strcmp(name, "dpm_2")) dpm_2(&s, sg, steps, false, eta, s_noise);
    else if (!strcmp(name, "dpm_2_ancestral")) dpm_2(&s, sg, steps, true, eta, s_noise);
    else if (!strcmp(name, "lms")) lms(&s, sg, steps);
    else if (!strcmp(name, "dpmpp_2m")) dpmpp_2m(&s, sg, steps);
    else if (!strcmp(name, "ipndm")) adams(&s, sg, steps, false);
    else if (!strcmp(name, "deis")) adams(&s, sg, steps, true);
    else if (!strcmp(name, "lcm")) lcm(&s, sg, steps);
    else if (!strcmp(name, "uni_pc") && steps < 64) unipc(&s, sg, steps, false);
    else if (!strcmp(name, "uni_pc_bh2") && steps < 64) unipc(&s, sg, steps, true);
    else rc = -1;
    free(s.den);
    free(s.d);
    free(s.tmp);
    free(s.tmp2);
    free(s.noise);
    return rc;
}
