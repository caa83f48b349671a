#include "tests/flux/flux_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testing.h"

static fg_safetensors *golden;
static bool golden_tried;
static fg_flux_model *tiny;
static bool tiny_tried;

const fg_safetensors *flux_golden(void) {
    if (!golden_tried) {
        golden_tried = true;
        if (!CHECK_OK(fg_safetensors_open(test_fixture(GOLDEN_FLUX), &golden))) golden = NULL;
    }
    return golden;
}

const fg_flux_model *flux_tiny(void) {
    if (!tiny_tried) {
        tiny_tried = true;
        if (!CHECK_OK(fg_flux_load(test_fixture(TINY_FLUX), &tiny))) tiny = NULL;
    }
    return tiny;
}

void flux_common_cleanup(void) {
    fg_flux_free(tiny);
    fg_safetensors_close(golden);
    tiny = NULL;
    golden = NULL;
}

bool flux_golden_tensor(const char *name, fg_tensor *out) {
    memset(out, 0, sizeof *out);
    const fg_safetensors *g = flux_golden();
    fg_tensor view;
    if (!g || !CHECK_OK(fg_safetensors_tensor(g, name, &view))) return false;
    if (view.dtype != FG_F32) {
        CHECK(view.dtype == FG_F32, "%s is not F32", name);
        return false;
    }
    if (!CHECK_OK(fg_tensor_alloc_host(out, FG_F32, view.ndim, view.shape))) return false;
    memcpy(out->data, view.data, fg_tensor_nbytes(&view));
    return true;
}

bool flux_case_load(const char *case_id, flux_case *c) {
    memset(c, 0, sizeof *c);
    const char *parts[] = {"x", "timestep", "context", "y", "guidance"};
    fg_tensor *slots[] = {&c->x, &c->timestep, &c->context, &c->y, &c->guidance};
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%s", case_id, parts[i]);
        if (!flux_golden_tensor(name, slots[i])) {
            flux_case_free(c);
            return false;
        }
    }
    return true;
}

void flux_case_free(flux_case *c) {
    fg_tensor *slots[] = {&c->x, &c->timestep, &c->context, &c->y, &c->guidance};
    for (int i = 0; i < 5; i++) fg_tensor_free_host(slots[i]);
}

fg_flux_inputs flux_case_inputs(const flux_case *c) {
    return (fg_flux_inputs){&c->x, &c->timestep, &c->context, &c->y, &c->guidance};
}

/* An owned copy of t on dev (an empty tensor on failure, which the check records). */
fg_tensor flux_copy_to(const fg_tensor *t, fg_device dev) {
    fg_tensor d = {0};
    if (CHECK_OK(fg_tensor_alloc(&d, dev, t->dtype, t->ndim, t->shape)) && !CHECK_OK(fg_tensor_copy(&d, t)))
        fg_tensor_free(&d);
    return d;
}

/* A model on another device gets device copies of x, context and y (timestep and guidance
 * may stay on the host) and its output comes back to the host. */
static bool run_on_device(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out, fg_flux_trace *trace) {
    fg_tensor x = flux_copy_to(in->x, m->device), ctx = flux_copy_to(in->context, m->device);
    fg_tensor y = flux_copy_to(in->y, m->device);
    fg_tensor dev_out = {0};
    fg_flux_inputs din = {&x, in->timestep, &ctx, &y, in->guidance};
    bool ok = x.data && ctx.data && y.data &&
              CHECK_OK(fg_tensor_alloc(&dev_out, m->device, FG_F32, in->x->ndim, in->x->shape)) &&
              CHECK_OK(fg_flux_forward(m, &din, &dev_out, trace)) && CHECK_OK(fg_tensor_copy(out, &dev_out));
    fg_tensor_free(&x), fg_tensor_free(&ctx), fg_tensor_free(&y), fg_tensor_free(&dev_out);
    return ok;
}

bool flux_run(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out, fg_flux_trace *trace) {
    memset(out, 0, sizeof *out);
    if (!m || !CHECK_OK(fg_tensor_alloc(out, FG_DEVICE_CPU, FG_F32, in->x->ndim, in->x->shape))) return false;
    if (m->device != FG_DEVICE_CPU ? run_on_device(m, in, out, trace) : CHECK_OK(fg_flux_forward(m, in, out, trace)))
        return true;
    fg_tensor_free(out);
    return false;
}

bool flux_run_file(const char *path, fg_tensor *out) {
    memset(out, 0, sizeof *out);
    fg_flux_model *m = NULL;
    flux_case c;
    if (!CHECK_OK(fg_flux_load(path, &m))) return false;
    bool ok = flux_case_load("c0", &c);
    if (ok) {
        fg_flux_inputs in = flux_case_inputs(&c);
        ok = flux_run(m, &in, out, NULL);
        flux_case_free(&c);
    }
    fg_flux_free(m);
    return ok;
}

double flux_max_abs_diff(const fg_tensor *a, const fg_tensor *b) {
    if (!a->data || !b->data || !fg_tensor_same_shape(a, b) || a->dtype != FG_F32 || b->dtype != FG_F32) return INFINITY;
    double worst = 0.0;
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < fg_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (d != d) return INFINITY; /* NaN anywhere fails every tolerance */
        if (d > worst) worst = d;
    }
    return worst;
}

double flux_rel_rms_diff(const fg_tensor *a, const fg_tensor *b) {
    if (!a->data || !b->data || !fg_tensor_same_shape(a, b)) return INFINITY;
    double num = 0.0, den = 0.0;
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < fg_tensor_numel(a); i++) {
        double d = (double)x[i] - (double)y[i];
        num += d * d;
        den += (double)y[i] * y[i];
    }
    return den > 0 ? sqrt(num / den) : INFINITY;
}
