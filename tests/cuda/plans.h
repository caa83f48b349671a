// The host checks of kernels/cuda (one translation unit per kernel file, as each file keeps
// its helpers private); main in test_cuda_plans.cu.
#ifndef FG_TESTS_CUDA_PLANS_H
#define FG_TESTS_CUDA_PLANS_H

/* xorshift64: the same random cases on every run (one stream per translation unit). */
static unsigned long long g_rng = 88172645463325252ull;
static inline unsigned rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)g_rng;
}

void test_permute_plans(void);
void test_fast_divider_and_upsample(void);
void test_broadcast_plans(void);
void test_conversions_match_core(void);

#endif
