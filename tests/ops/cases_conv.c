/* conv2d cases against a naive double-precision direct convolution. */
#include <stdio.h>

#include "tests/ops/harness.h"

typedef struct {
    int64_t B, Ci, H, W, Co, kh, kw;
    int stride, pt, pb, pl, pr;
    fg_dtype wdt;
    bool bias;
} conv_spec;

static fg_error *run_conv(const op_case *c, const fg_tensor *in, fg_tensor *out) {
    fg_conv2d_params p = {.stride = (int)c->iparam[0], .pad_top = (int)c->iparam[1], .pad_bottom = (int)c->iparam[2],
                          .pad_left = (int)c->iparam[3], .pad_right = (int)c->iparam[4]};
    return fg_conv2d(out, &in[0], &in[1], in[2].data ? &in[2] : NULL, &p);
}

static void conv_reference(const op_case *c, const conv_spec *s, int64_t Ho, int64_t Wo, double *e) {
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t co = 0; co < s->Co; co++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double acc = s->bias ? op_in(c, 2, co) : 0.0;
                    for (int64_t ci = 0; ci < s->Ci; ci++)
                        for (int64_t ky = 0; ky < s->kh; ky++) {
                            int64_t y = oy * s->stride - s->pt + ky;
                            if (y < 0 || y >= s->H) continue;
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t x = ox * s->stride - s->pl + kx;
                                if (x < 0 || x >= s->W) continue;
                                acc += op_in(c, 0, ((b * s->Ci + ci) * s->H + y) * s->W + x) *
                                       op_in(c, 1, ((co * s->Ci + ci) * s->kh + ky) * s->kw + kx);
                            }
                        }
                    e[((b * s->Co + co) * Ho + oy) * Wo + ox] = acc;
                }
}

static void conv_case(op_case_list *l, const char *what, const conv_spec *s) {
    int64_t Ho = (s->pt + s->H + s->pb - s->kh) / s->stride + 1, Wo = (s->pl + s->W + s->pr - s->kw) / s->stride + 1;
    op_case *c = op_case_new(l, run_conv,
                             "conv2d %s: x [%lld, %lld, %lld, %lld] w %s [%lld, %lld, %lld, %lld] stride %d pad "
                             "(%d,%d,%d,%d)%s",
                             what, (long long)s->B, (long long)s->Ci, (long long)s->H, (long long)s->W,
                             fg_dtype_name(s->wdt), (long long)s->Co, (long long)s->Ci, (long long)s->kh,
                             (long long)s->kw, s->stride, s->pt, s->pb, s->pl, s->pr, s->bias ? " +bias" : "");
    c->iparam[0] = s->stride;
    c->iparam[1] = s->pt;
    c->iparam[2] = s->pb;
    c->iparam[3] = s->pl;
    c->iparam[4] = s->pr;
    op_case_act(c, l, 4, (const int64_t[]){s->B, s->Ci, s->H, s->W}, -1, 1);
    double wscale = 1.0 / (double)(s->Ci * s->kh * s->kw); /* keeps outputs O(1) */
    op_case_input(c, l, s->wdt, 4, (const int64_t[]){s->Co, s->Ci, s->kh, s->kw}, -wscale * 3, wscale * 3);
    if (s->bias) op_case_input(c, l, s->wdt, 1, (const int64_t[]){s->Co}, -1, 1);
    else op_case_absent(c);
    double *e = op_case_act_output(c, l, 4, (const int64_t[]){s->B, s->Co, Ho, Wo});
    conv_reference(c, s, Ho, Wo, e);
    c->atol = 2e-5;
    c->rtol = 1e-4;
}

void ops_cases_conv(op_case_list *l) {
    static const fg_dtype wdts[] = {FG_F32, FG_BF16, FG_F16};
    for (int k = 0; k < 12; k++) {
        /* each kind gets one batch of 2 and one case without bias */
        conv_spec s = {.B = 1 + (k / 4) % 2, .Ci = op_rand_int(l, 1, 13), .H = op_rand_int(l, 3, 17),
                       .W = op_rand_int(l, 3, 17), .Co = op_rand_int(l, 1, 11), .wdt = wdts[k % 3],
                       .bias = k % 5 != 4};
        const char *what;
        switch (k % 4) {
        case 0: /* 1x1, stride 1: the direct GEMM path */
            s.kh = s.kw = 1;
            s.stride = 1;
            what = "1x1";
            break;
        case 1: /* 3x3 same padding */
            s.kh = s.kw = 3;
            s.stride = 1;
            s.pt = s.pb = s.pl = s.pr = 1;
            what = "3x3 same";
            break;
        case 2: /* the VAE encoder downsample: pad (0,1,0,1), stride 2 */
            s.kh = s.kw = 3;
            s.stride = 2;
            s.pb = s.pr = 1;
            what = "3x3 stride 2 asym pad";
            break;
        default: /* general kernel and padding */
            s.kh = op_rand_int(l, 1, 4);
            s.kw = op_rand_int(l, 1, 4);
            s.stride = (int)op_rand_int(l, 1, 3);
            s.pt = (int)op_rand_int(l, 0, 2);
            s.pb = (int)op_rand_int(l, 0, 2);
            s.pl = (int)op_rand_int(l, 0, 2);
            s.pr = (int)op_rand_int(l, 0, 2);
            what = "general";
            break;
        }
        conv_case(l, what, &s);
    }
    conv_spec one_strided = {.B = 2, .Ci = 5, .H = 9, .W = 7, .Co = 3, .kh = 1, .kw = 1, .stride = 2,
                             .wdt = FG_F32, .bias = true};
    conv_case(l, "1x1 stride 2", &one_strided);
    conv_spec padded_1x1 = {.B = 1, .Ci = 3, .H = 5, .W = 6, .Co = 2, .kh = 1, .kw = 1, .stride = 1, .pt = 1,
                            .pr = 2, .wdt = FG_BF16, .bias = true};
    conv_case(l, "1x1 padded", &padded_1x1);
    /* wide enough that the im2col buffer is split into several bands of output rows */
    conv_spec tiled = {.B = 1, .Ci = 128, .H = 131, .W = 129, .Co = 3, .kh = 3, .kw = 3, .stride = 1, .pt = 1,
                       .pb = 1, .pl = 1, .pr = 1, .wdt = FG_BF16, .bias = true};
    conv_case(l, "tiled", &tiled);
}
