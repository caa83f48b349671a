/* Shared helpers of the LoRA patch tests: deterministic random tensors and straightforward
 * double-precision reference arithmetic. */
#ifndef FG_TESTS_LP_UTIL_H
#define FG_TESTS_LP_UTIL_H

#include <stdint.h>

#include "core/tensor.h"

/* Owned host tensor of dtype dt filled with values in [-amp, amp) (rounded to dt). */
fg_tensor lp_random(fg_dtype dt, float amp, int ndim, const int64_t *shape);
/* Owned host tensor with the given f32 values (rounded to dt). */
fg_tensor lp_values(fg_dtype dt, const float *values, int ndim, const int64_t *shape);
/* Owned F32 copy. */
fg_tensor lp_clone(const fg_tensor *t);
/* The values widened to double (caller frees). */
double *lp_doubles(const fg_tensor *t);
/* c[m,n] = a[m,k] @ b[k,n] in double (caller frees). */
double *lp_matmul(const double *a, const double *b, int64_t m, int64_t k, int64_t n);
/* max |f32 tensor - reference| */
double lp_max_diff(const fg_tensor *t, const double *ref);
/* True when the two F32 tensors hold identical bytes. */
int lp_same_bits(const fg_tensor *a, const fg_tensor *b);

#define LP_TOL 1e-6

#endif
