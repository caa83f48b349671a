// The host checks of kernels/cuda (one translation unit per kernel file, as each file keeps
// its helpers private); main in test_cuda_plans.cu.
#ifndef FG_TESTS_CUDA_PLANS_H
#define FG_TESTS_CUDA_PLANS_H

void test_permute_plans(void);
void test_fast_divider_and_upsample(void);
void test_broadcast_plans(void);
void test_conversions_match_core(void);

#endif
