// Broadcast plans and dtype conversions of kernels/cuda/cuda_elementwise.cu.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/cuda_elementwise.cu"

extern "C" {
#include "core/dtype.h"
#include "tests/testing.h"
}
#include "tests/cuda/plans.h"

void test_broadcast_plans(void) {
    int bad = 0;
    for (int it = 0; it < 10000; it++) {
        fg_tensor out = {}, in[3] = {};
        const int nd = 1 + rnd() % 5, n_in = 2 + rnd() % 2;
        out.ndim = nd;
        for (int d = 0; d < nd; d++) out.shape[d] = 1 + rnd() % 4;
        for (int k = 0; k < n_in; k++) { // right-aligned, each dim equal to out's or 1
            in[k].ndim = rnd() % (nd + 1);
            for (int d = 0; d < in[k].ndim; d++)
                in[k].shape[d] = rnd() % 3 == 0 ? 1 : out.shape[nd - in[k].ndim + d];
        }
        const fg_tensor *ins[3] = {&in[0], &in[1], &in[2]};
        Bcast g = make_bcast(&out, n_in, ins);
        for (int d = 0; d < g.ndim; d++) g.div[d] = fg_fastdiv_make((unsigned)g.shape[d]);
        long long prod = 1;
        for (int d = 0; d < g.ndim; d++) prod *= g.shape[d];
        bool ok = prod == fg_tensor_numel(&out);
        for (long long i = 0; ok && i < prod; i++) {
            long long off[3], off64[3], coord[FG_MAX_DIMS], rem = i;
            bcast_offsets<true>(g, i, off);
            bcast_offsets<false>(g, i, off64);
            for (int d = nd - 1; d >= 0; d--) coord[d] = rem % out.shape[d], rem /= out.shape[d];
            for (int k = 0; k < n_in; k++) {
                long long want = 0;
                for (int d = 0; d < in[k].ndim; d++)
                    want = want * in[k].shape[d] + (in[k].shape[d] == 1 ? 0 : coord[nd - in[k].ndim + d]);
                ok = ok && off[k] == want && off64[k] == want;
            }
        }
        if (!ok) bad++;
    }
    CHECK(bad == 0, "%d broadcast plans wrong", bad);
}

static bool same_float(float a, float b) { return memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b)); }

void test_conversions_match_core(void) {
    long bad = 0;
    const fg_dtype narrow[] = {FG_BF16, FG_F16, FG_F8_E4M3, FG_F8_E5M2, FG_U8, FG_BOOL};
    for (int t = 0; t < 6; t++) { // every bit pattern widened
        const int count = fg_dtype_size(narrow[t]) == 1 ? 256 : 65536;
        for (int v = 0; v < count; v++) {
            unsigned char buf[8] = {(unsigned char)(v & 255), (unsigned char)(v >> 8)};
            float want;
            fg_convert_to_f32(&want, buf, narrow[t], 1);
            if (!same_float(want, load_as_float(buf, narrow[t], 0)) && bad++ < 5)
                printf("  widen %s 0x%04x\n", fg_dtype_name(narrow[t]), v);
        }
    }
    const fg_dtype all[] = {FG_F32, FG_BF16, FG_F16, FG_F8_E4M3, FG_F8_E5M2, FG_I64, FG_I32, FG_U8, FG_BOOL};
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 448.0f, 464.0f, 480.0f, -465.0f, 57344.0f,
                              61440.0f, 65504.0f, 65520.0f, 1e-8f, 1e-40f, -1e-45f, 2.5f, 255.5f, 256.0f, -1.0f,
                              2147483648.0f, -2147483904.0f, 9.3e18f, 0.0009765625f, 5.9604645e-08f, 2.9802322e-08f};
    const int n_specials = (int)(sizeof specials / sizeof specials[0]);
    for (int i = 0; i < 400000; i++) { // specials, then random bits and values near the small types' ranges
        unsigned r = rnd();
        float f;
        if (i < n_specials) f = specials[i];
        else if (i % 2) memcpy(&f, &r, 4);
        else {
            unsigned bits = (r & 0x80000000u) | ((100 + rnd() % 60) << 23) | (rnd() & 0x7FFFFFu);
            memcpy(&f, &bits, 4);
        }
        for (int t = 0; t < 9; t++) {
            unsigned char want[8] = {0}, got[8] = {0};
            fg_convert_from_f32(want, all[t], &f, 1);
            store_from_float(got, all[t], 0, f);
            bool same = memcmp(want, got, fg_dtype_size(all[t])) == 0 || (all[t] == FG_F32 && isnan(f));
            if (!same && bad++ < 5) printf("  narrow %s %.9g\n", fg_dtype_name(all[t]), (double)f);
        }
    }
    CHECK(bad == 0, "%ld conversions differ from core/dtype.c", bad);
}

