/* The op test harness. Each case holds random host inputs, the output's dtype and shape, and
 * the expected values computed by a naive double-precision reference at build time. The same
 * cases run on any backend: on the CPU they are compared with the double reference; with
 * `test_ops --device cuda` the inputs are copied to the GPU and the result is compared with
 * the CPU backend's (a backend parity test in the manner of ggml's test-backend-ops). */
#ifndef FG_TESTS_OPS_HARNESS_H
#define FG_TESTS_OPS_HARNESS_H

#include <stdint.h>

#include "core/tensor.h"
#include "kernels/ops.h"

#define OP_MAX_INPUTS 8

typedef struct op_case op_case;
/* Runs the op under test. in[i] is on the device being tested (or absent: data == NULL when
 * the case declared it with op_case_absent); out is allocated there with the case's shape. */
typedef fg_error *(*op_run_fn)(const op_case *c, const fg_tensor *in, fg_tensor *out);

struct op_case {
    char name[160];
    int n_inputs;
    fg_tensor in[OP_MAX_INPUTS];      /* host; data NULL = absent optional input */
    fg_dtype out_dtype;
    int out_ndim;
    int64_t out_shape[FG_MAX_DIMS];
    double *expected;                 /* numel(out) values */
    double atol, rtol;                /* |got - want| <= atol + rtol * |want| for the f32 result */
    bool bf16_act;                    /* act tensors in BF16: the output's rounding widens the bound */
    double parity_atol_extra;         /* added to atol against the CPU only, where the CPU's double
                                       * statistics are beyond what f32 math on a GPU can match */
    op_run_fn run;
    int64_t iparam[8];                /* op parameters for run() */
    double fparam[8];
};

typedef struct op_case_list {
    op_case *items;
    int count, cap;
    uint64_t rng_state;               /* for shapes and values; fixed seed = reproducible */
    fg_dtype act_dtype;               /* dtype of the act tensors of the cases built now (F32, BF16) */
} op_case_list;

/* Appends a case; default tolerance atol 1e-5, rtol 1e-5. */
op_case *op_case_new(op_case_list *l, op_run_fn run, const char *fmt, ...) FG_PRINTF(3, 4);
/* Adds input i (in order) filled with uniform values in [lo, hi) then rounded to dt. Integer
 * dtypes get integers in [lo, hi). Returns the input's index. */
int op_case_input(op_case *c, op_case_list *l, fg_dtype dt, int ndim, const int64_t *shape, double lo, double hi);
/* An act input: op_case_input with the list's act dtype. */
int op_case_act(op_case *c, op_case_list *l, int ndim, const int64_t *shape, double lo, double hi);
/* Adds an absent optional input slot. */
int op_case_absent(op_case *c);
/* Declares the output and returns the zeroed expected array to fill. */
double *op_case_output(op_case *c, fg_dtype dt, int ndim, const int64_t *shape);
/* An act output: op_case_output with the list's act dtype (BF16 marks the case bf16_act). */
double *op_case_act_output(op_case *c, const op_case_list *l, int ndim, const int64_t *shape);
/* Value of input i at flat index idx, as the op will see it (after dtype rounding). */
double op_in(const op_case *c, int i, int64_t idx);

/* v rounded to dt as core/dtype.h specifies, written from the format definitions (reference). */
double op_ref_to_dtype(double v, fg_dtype dt);

/* A CPU view for error-path tests; a failure is recorded and an empty tensor returned. */
fg_tensor op_view(fg_dtype dt, int ndim, const int64_t *shape, void *data);

/* Zeroed host tensors for the error-path checks, held until op_release_held (at most 32). */
fg_tensor *op_held(fg_dtype dt, int ndim, const int64_t *shape);
void op_release_held(void);

/* Deterministic helpers for case builders. */
int64_t op_rand_int(op_case_list *l, int64_t lo, int64_t hi_inclusive);
double op_rand_uniform(op_case_list *l, double lo, double hi);

/* Case families (tests/ops/cases_*.c). */
void ops_cases_dense(op_case_list *l);       /* linear, embedding, attention, rope, softmax */
void ops_cases_norm(op_case_list *l);        /* layer_norm (+modulation), rms_norm, group_norm */
void ops_cases_elementwise(op_case_list *l); /* unary, add, mul, add_gated, axpby, scale_shift, cast */
void ops_cases_layout(op_case_list *l);      /* permute, concat, slice, pad2d, patchify, upsample, conv2d */
void ops_cases_conv(op_case_list *l);        /* conv2d (also run by ops_cases_layout) */
void ops_cases_new_ops(op_case_list *l);     /* fill_uniform, rms_norm_rope */
/* Plain tests of error paths (bad shapes, dtypes, devices) per family, run with RUN_TEST. */
void ops_checks_dense(void);
void ops_checks_elementwise(void);
void ops_checks_layout(void);
void ops_checks_new_ops(void);               /* memory stats, graphs, mixed act dtypes */

/* Runs every case on dev; returns the number of failing cases (each also reported through the
 * test framework as one named test). On the CPU the result is compared with the double values
 * under the case's bound, widened by 2^-8 relative for a BF16 output's rounding; on any other
 * device with the CPU backend's own output under twice the case's bound (two f32 computations
 * in different orders), plus one bf16 ulp (2^-7 relative) for BF16 outputs, whose f32 values
 * may round to neighbouring bf16 numbers. */
int op_cases_run(op_case_list *l, fg_device dev);
void op_case_list_free(op_case_list *l);

#endif
