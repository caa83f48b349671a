/* The step runner equals fg_flux_forward call after call: the timestep and guidance change
 * every call (the tables a recorded graph reads must be refreshed), two shapes alternate (a
 * CFG run), a third evicts one, and a runner keeps working after a bad call. On the CPU there
 * is no graph, so every call is eager and nothing is replayed; with FG_TEST_DEVICE=cuda the
 * BF16 model runs on the GPU, where every call after an entry's first replays its graph
 * (unless FG_CUDA_GRAPHS=0), and the replays must equal the eager forward. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/flux/flux_common.h"
#include "tests/testing.h"
#include "unet/flux_runner.h"

static const fg_flux_model *g_model; /* the model under test: F32 on the CPU, BF16 on a GPU */

/* One runner call with the inputs on the model's device; *out on the host. */
static bool runner_step(fg_flux_runner *r, const fg_flux_inputs *in, fg_tensor *out) {
    const fg_device dev = g_model->device;
    fg_tensor x = flux_copy_to(in->x, dev), ctx = flux_copy_to(in->context, dev), y = flux_copy_to(in->y, dev);
    fg_tensor dev_out = {0};
    fg_flux_inputs din = {&x, in->timestep, &ctx, &y, in->guidance};
    bool ok = x.data && ctx.data && y.data && CHECK_OK(fg_tensor_alloc(out, FG_DEVICE_CPU, FG_F32, 4, in->x->shape)) &&
              CHECK_OK(fg_tensor_alloc(&dev_out, dev, FG_F32, 4, in->x->shape)) &&
              CHECK_OK(fg_flux_runner_forward(r, &din, &dev_out)) && CHECK_OK(fg_tensor_copy(out, &dev_out));
    fg_tensor_free(&x), fg_tensor_free(&ctx), fg_tensor_free(&y), fg_tensor_free(&dev_out);
    if (!ok) fg_tensor_free(out);
    return ok;
}

/* Runner vs eager on in with timestep t and guidance g written into the case's tensors. */
static void compare_step(fg_flux_runner *r, flux_case *c, fg_flux_inputs *in, float t, float g) {
    for (int64_t b = 0; b < c->timestep.shape[0]; b++) {
        ((float *)c->timestep.data)[b] = t + 0.01f * (float)b;
        ((float *)c->guidance.data)[b] = g;
    }
    fg_tensor want, got;
    if (!flux_run(g_model, in, &want, NULL)) return;
    if (runner_step(r, in, &got)) {
        double d = flux_max_abs_diff(&got, &want);
        CHECK(d == 0.0, "runner vs forward at t=%g: %g", t, d); /* the same kernels in the same order */
        fg_tensor_free(&got);
    }
    fg_tensor_free(&want);
}

/* The first half of c's text tokens: a second input shape. */
static bool shorter_context(const flux_case *c, fg_tensor *out) {
    const int64_t b = c->context.shape[0], lt = c->context.shape[1] / 2, d = c->context.shape[2];
    if (!CHECK_OK(fg_tensor_alloc_host(out, FG_F32, FG_SHAPE(b, lt, d)))) return false;
    for (int64_t i = 0; i < b; i++)
        memcpy((float *)out->data + i * lt * d, (const float *)c->context.data + i * c->context.shape[1] * d,
               (size_t)(lt * d) * sizeof(float));
    return true;
}

void test_runner_matches_forward(void) {
    flux_case c;
    fg_flux_runner *r = NULL;
    fg_flux_model *uploaded = test_device() == FG_DEVICE_CPU ? NULL : flux_uploaded_tiny(NULL);
    g_model = test_device() == FG_DEVICE_CPU ? flux_tiny() : uploaded;
    if (!g_model || !flux_case_load("c0", &c)) {
        fg_flux_free(uploaded);
        return;
    }
    fg_tensor short_ctx = {0};
    if (CHECK_OK(fg_flux_runner_new(g_model, &r)) && shorter_context(&c, &short_ctx)) {
        fg_flux_inputs in = flux_case_inputs(&c), in_short = in;
        in_short.context = &short_ctx;
        const float ts[] = {1.0f, 0.75f, 0.5f, 0.25f};
        for (int i = 0; i < 4; i++) {
            compare_step(r, &c, &in, ts[i], 3.5f + (float)i);
            compare_step(r, &c, &in_short, ts[i], 2.0f); /* alternating shapes, as CFG does */
        }
        in.guidance = NULL; /* a third signature evicts one entry */
        compare_step(r, &c, &in, 0.3f, 0.0f);
        in.guidance = &c.guidance;
        compare_step(r, &c, &in, 0.2f, 4.0f);

        fg_tensor bad;
        if (CHECK_OK(fg_tensor_alloc(&bad, g_model->device, FG_F32, FG_SHAPE(1, 16, 4, 4)))) {
            CHECK_ERR(fg_flux_runner_forward(r, &in, &bad), "out is"); /* host inputs are fine, a wrong shape is not */
            fg_tensor_free(&bad);
        }
        compare_step(r, &c, &in, 0.1f, 4.0f); /* still fine after a rejected call */
        /* Every call after an entry's first is a replay: 4 + 4 calls over two shapes (3 + 3),
         * a third shape evicts the first (1 call: 0), the first comes back and evicts the
         * second (1 call: 0), then its second call (1). */
        const char *env = getenv("FG_CUDA_GRAPHS");
        const bool graphs = g_model->device != FG_DEVICE_CPU && !(env && strcmp(env, "0") == 0);
        const int want = graphs ? 3 + 3 + 0 + 0 + 1 : 0;
        CHECK(fg_flux_runner_replays(r) == want, "%d replays, expected %d", fg_flux_runner_replays(r), want);
    }
    fg_flux_runner_free(r);
    fg_flux_free(uploaded);
    fg_tensor_free_host(&short_ctx);
    flux_case_free(&c);
}
