#include "tests/ops/harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testing.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double op_rand_uniform(op_case_list *l, double lo, double hi) {
    return lo + (hi - lo) * (double)(splitmix(&l->rng_state) >> 11) * 0x1p-53;
}

int64_t op_rand_int(op_case_list *l, int64_t lo, int64_t hi) {
    return lo + (int64_t)(splitmix(&l->rng_state) % (uint64_t)(hi - lo + 1));
}

op_case *op_case_new(op_case_list *l, op_run_fn run, const char *fmt, ...) {
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
        if (!l->items) abort(); /* test program: out of memory is fatal */
    }
    op_case *c = &l->items[l->count++];
    memset(c, 0, sizeof *c);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->name, sizeof c->name, fmt, ap);
    va_end(ap);
    if (l->act_dtype != FG_F32) {
        size_t len = strlen(c->name);
        snprintf(c->name + len, sizeof c->name - len, " [act %s]", fg_dtype_name(l->act_dtype));
    }
    c->run = run;
    c->atol = 1e-5;
    c->rtol = 1e-5;
    return c;
}

int op_case_input(op_case *c, op_case_list *l, fg_dtype dt, int ndim, const int64_t *shape, double lo, double hi) {
    int i = c->n_inputs++;
    fg_tensor *t = &c->in[i];
    fg_error *err = fg_tensor_alloc_host(t, dt, ndim, shape);
    if (err) {
        fprintf(stderr, "op_case_input: %s\n", fg_error_message(err));
        abort();
    }
    int64_t n = fg_tensor_numel(t);
    for (int64_t k = 0; k < n; k++) {
        if (fg_dtype_is_float(dt)) {
            float v = (float)op_rand_uniform(l, lo, hi);
            fg_convert_from_f32((char *)t->data + (size_t)k * fg_dtype_size(dt), dt, &v, 1);
        } else {
            int64_t v = op_rand_int(l, (int64_t)lo, (int64_t)hi - 1);
            switch (dt) {
            case FG_I64: ((int64_t *)t->data)[k] = v; break;
            case FG_I32: ((int32_t *)t->data)[k] = (int32_t)v; break;
            default: ((uint8_t *)t->data)[k] = (uint8_t)v; break;
            }
        }
    }
    return i;
}

int op_case_act(op_case *c, op_case_list *l, int ndim, const int64_t *shape, double lo, double hi) {
    return op_case_input(c, l, l->act_dtype, ndim, shape, lo, hi);
}

double *op_case_act_output(op_case *c, const op_case_list *l, int ndim, const int64_t *shape) {
    c->bf16_act = l->act_dtype == FG_BF16;
    return op_case_output(c, l->act_dtype, ndim, shape);
}

int op_case_absent(op_case *c) {
    int i = c->n_inputs++;
    memset(&c->in[i], 0, sizeof c->in[i]);
    return i;
}

double *op_case_output(op_case *c, fg_dtype dt, int ndim, const int64_t *shape) {
    c->out_dtype = dt;
    c->out_ndim = ndim;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        c->out_shape[i] = shape[i];
        n *= shape[i];
    }
    free(c->expected);
    c->expected = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!c->expected) abort();
    return c->expected;
}

fg_tensor op_view(fg_dtype dt, int ndim, const int64_t *shape, void *data) {
    fg_tensor t;
    fg_error *err = fg_tensor_view(&t, dt, FG_DEVICE_CPU, ndim, shape, data);
    if (err) {
        test_fail_at(__FILE__, __LINE__, "view: %s", fg_error_message(err));
        fg_error_free(err);
        memset(&t, 0, sizeof t);
    }
    return t;
}

double op_in(const op_case *c, int i, int64_t idx) {
    const fg_tensor *t = &c->in[i];
    switch (t->dtype) {
    case FG_I64: return (double)((const int64_t *)t->data)[idx];
    case FG_I32: return (double)((const int32_t *)t->data)[idx];
    default: {
        float v;
        fg_convert_to_f32(&v, (const char *)t->data + (size_t)idx * fg_dtype_size(t->dtype), t->dtype, 1);
        return v;
    }
    }
}

/* Runs c on dev; result widened to f32 into *result (host, caller frees). */
static fg_error *run_on(const op_case *c, fg_device dev, float **result) {
    fg_tensor in[OP_MAX_INPUTS];
    fg_tensor out;
    memset(in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    fg_error *err = NULL;
    for (int i = 0; i < c->n_inputs && !err; i++) {
        if (!c->in[i].data) continue;
        if (dev == FG_DEVICE_CPU) {
            in[i] = c->in[i];
            in[i].owns_data = false;
        } else {
            err = fg_tensor_alloc(&in[i], dev, c->in[i].dtype, c->in[i].ndim, c->in[i].shape);
            if (!err) err = fg_tensor_copy(&in[i], &c->in[i]);
        }
    }
    if (!err) err = fg_tensor_alloc(&out, dev, c->out_dtype, c->out_ndim, c->out_shape);
    if (!err) err = c->run(c, in, &out);
    if (!err) err = fg_device_synchronize(dev);
    fg_tensor host;
    memset(&host, 0, sizeof host);
    if (!err) err = fg_tensor_alloc_host(&host, c->out_dtype, c->out_ndim, c->out_shape);
    if (!err) err = fg_tensor_copy(&host, &out);
    if (!err) {
        int64_t n = fg_tensor_numel(&host);
        *result = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        if (!*result) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "result");
        else fg_convert_to_f32(*result, host.data, host.dtype, (size_t)n);
    }
    fg_tensor_free_host(&host);
    fg_tensor_free(&out);
    if (dev != FG_DEVICE_CPU)
        for (int i = 0; i < c->n_inputs; i++) fg_tensor_free(&in[i]);
    return err;
}

static const op_case *current_case;
static fg_device current_device;

static void compare(const double *want, const float *got, int64_t n, double atol, double rtol) {
    int64_t bad = 0, first = -1;
    double worst = 0;
    int64_t worst_i = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        int ok = d <= atol + rtol * fabs(want[i]);
        if (isnan(want[i]) || isnan((double)got[i])) ok = isnan(want[i]) && isnan((double)got[i]);
        if (!ok) {
            if (first < 0) first = i;
            bad++;
        }
        if (d > worst || (d != d)) {
            worst = d;
            worst_i = i;
        }
    }
    if (bad)
        test_fail_at(__FILE__, __LINE__, "%lld of %lld values off; first at %lld: got %.9g want %.9g; worst |d|=%.3g at %lld",
                     (long long)bad, (long long)n, (long long)first, (double)got[first], want[first], worst,
                     (long long)worst_i);
}

static void run_current(void) {
    const op_case *c = current_case;
    int64_t n = 1;
    for (int i = 0; i < c->out_ndim; i++) n *= c->out_shape[i];
    float *got = NULL;
    if (!CHECK_OK(run_on(c, current_device, &got))) return;
    /* 2^-8: bf16's unit roundoff (8 significant bits, round to nearest). */
    const double bf16_u = 1.0 / 256.0;
    if (current_device == FG_DEVICE_CPU) {
        if (c->bf16_act) compare(c->expected, got, n, c->atol * (1 + bf16_u), c->rtol * (1 + bf16_u) + bf16_u);
        else compare(c->expected, got, n, c->atol, c->rtol);
    } else {
        float *ref = NULL;
        if (CHECK_OK(run_on(c, FG_DEVICE_CPU, &ref))) {
            double *want = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
            for (int64_t i = 0; i < n; i++) want[i] = ref[i];
            /* Each side is within the case's bound of the exact value (the GPU's fast exp/tanh
             * add a few f32 ulps: 1e-5); a BF16 output may then round one ulp apart. */
            double atol = 2 * c->atol + 1e-6 + c->parity_atol_extra, rtol = 2 * c->rtol + 1e-5;
            if (c->out_dtype == FG_BF16) rtol += 2 * bf16_u;
            compare(want, got, n, atol, rtol);
            free(want);
        }
        free(ref);
    }
    free(got);
}

int op_cases_run(op_case_list *l, fg_device dev) {
    int failures = 0;
    for (int i = 0; i < l->count; i++) {
        current_case = &l->items[i];
        current_device = dev;
        test_run(l->items[i].name, run_current);
        if (test_current_failed()) failures++;
    }
    return failures;
}

void op_case_list_free(op_case_list *l) {
    for (int i = 0; i < l->count; i++) {
        for (int k = 0; k < l->items[i].n_inputs; k++) fg_tensor_free_host(&l->items[i].in[k]);
        free(l->items[i].expected);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

#define MAX_HELD 32
static fg_tensor held[MAX_HELD];
static int n_held;

fg_tensor *op_held(fg_dtype dt, int ndim, const int64_t *shape) {
    if (n_held == MAX_HELD) abort(); /* a test bug: more than a check may hold */
    fg_tensor *t = &held[n_held++];
    if (fg_tensor_alloc_host(t, dt, ndim, shape)) abort();
    return t;
}

void op_release_held(void) {
    for (int i = 0; i < n_held; i++) fg_tensor_free_host(&held[i]);
    n_held = 0;
}
