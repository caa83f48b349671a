// Permute plans, the fast divider and upsampling coordinates of kernels/cuda/cuda_layout.cu.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/cuda_layout.cu"

extern "C" {
#include "core/dtype.h"
#include "tests/testing.h"
}
#include "tests/cuda/plans.h"

// Unit u of a plan covers out's elements [u*k, (u+1)*k): its source offset must be where a
// naive walk of the permutation finds out's element u*k in x.
static bool permute_plan_ok(const fg_tensor *x, const fg_tensor *out, const int *perm) {
    const int nd = x->ndim;
    const size_t esz = fg_dtype_size(x->dtype);
    size_t unit;
    PermuteArgs g = plan_permute(out, x, perm, &unit);
    const long long n = fg_tensor_numel(out), k = (long long)(unit / esz);
    if (unit % esz || n % k || (uintptr_t)x->data % unit || (uintptr_t)out->data % unit) return false;
    long long xs[FG_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) xs[d] = s, s *= x->shape[d];
    for (long long u = 0; u < n / k; u++) {
        long long rem = u * k, off = 0;
        for (int d = nd - 1; d >= 0; d--) off += (rem % out->shape[d]) * xs[perm[d]], rem /= out->shape[d];
        if (permute_offset<true>(g, u) * k != off || permute_offset<false>(g, u) * k != off) return false;
    }
    return true;
}

void test_permute_plans(void) {
    const fg_dtype dts[] = {FG_U8, FG_BF16, FG_F32, FG_I64};
    int bad = 0, cases = 0;
    for (int it = 0; it < 20000; it++) {
        fg_tensor x = {}, out = {};
        const int nd = rnd() % 6;
        x.ndim = out.ndim = nd;
        x.dtype = out.dtype = dts[rnd() % 4];
        const size_t esz = fg_dtype_size(x.dtype);
        for (int d = 0; d < nd; d++) x.shape[d] = 1 + rnd() % 6;
        if (nd && rnd() % 2) x.shape[nd - 1] = 8 * (1 + rnd() % 4); // room for wide units
        int perm[FG_MAX_DIMS];
        for (int d = 0; d < nd; d++) perm[d] = d;
        for (int d = nd - 1; d > 0; d--) {
            int j = rnd() % (d + 1), t = perm[d];
            perm[d] = perm[j], perm[j] = t;
        }
        if (nd && rnd() % 2) { // FLUX's permutes keep the innermost dim innermost
            int j = 0;
            while (perm[j] != nd - 1) j++;
            int t = perm[nd - 1];
            perm[nd - 1] = perm[j], perm[j] = t;
        }
        for (int d = 0; d < nd; d++) out.shape[d] = x.shape[perm[d]];
        // aligned and odd element offsets: a view into a larger tensor
        x.data = (void *)(uintptr_t)(4096 + esz * (rnd() % 3 == 0 ? rnd() % 8 : 0));
        out.data = (void *)(uintptr_t)(8192 + esz * (rnd() % 3 == 0 ? rnd() % 8 : 0));
        cases++;
        if (!permute_plan_ok(&x, &out, perm) && bad++ < 3) printf("  permute plan wrong: %d dims, dtype %s\n", nd, fg_dtype_name(x.dtype));
    }
    CHECK(bad == 0, "%d of %d permute plans wrong", bad, cases);
}

void test_fast_divider_and_upsample(void) {
    long long bad_div = 0, bad_up = 0;
    for (int it = 0; it < 1000000; it++) {
        unsigned d = it < 1000 ? (unsigned)(it + 1) : rnd() >> (rnd() % 32);
        if (!d) d = 1;
        if (it % 7 == 0) d = 0xFFFFFFFFu - rnd() % 3;
        unsigned n = it % 5 == 0 ? 0xFFFFFFFFu - rnd() % 4 : rnd();
        if (fg_fastdiv_div(n, fg_fastdiv_make(d)) != n / d) bad_div++;
    }
    for (int it = 0; it < 500; it++) {
        long long h = 1 + rnd() % 40, w = 1 + rnd() % 40, planes = 1 + rnd() % 5;
        UpsampleArgs a = {h, w, fg_fastdiv_make((unsigned)w), fg_fastdiv_make((unsigned)(2 * h))};
        for (long long i = 0; i < planes * 2 * h * w; i++) {
            unsigned t = fg_fastdiv_div((unsigned)i, a.by_w), q = fg_fastdiv_div(t, a.by_2h);
            long long col = (unsigned)i - t * a.by_w.d, row = t - q * a.by_2h.d;
            if (col != i % w || row != (i / w) % (2 * h) || q != i / w / (2 * h)) bad_up++;
        }
    }
    CHECK(bad_div == 0, "%lld wrong quotients", bad_div);
    CHECK(bad_up == 0, "%lld wrong upsample coordinates", bad_up);
}

