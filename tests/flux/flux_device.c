/* The GPU's path on the CPU: the tiny DiT over weights uploaded as BF16 (fg_weights_upload to
 * the CPU), with BF16 activations, against the f32 golden; the activation estimate against the
 * measured peak; the memory check's message. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/flux/flux_common.h"
#include "tests/testing.h"

/* Measured (test_bf16_golden prints them): c0 max |diff| 0.0196, c1 0.0242, relative RMS
 * 0.0058 for both, i.e. 1.5 BF16 ulps (2^-8 = 0.0039) of error accumulated over the tiny
 * model's 4 blocks, every activation rounded. The limits are about twice that: room for the
 * GPU's other accumulation order (f32 either way; only the summation order differs), while
 * a real error (a wrong op, a missed cast) is off by the output's own magnitude (RMS ~1). */
#define BF16_OUT_TOL 0.05
#define BF16_REL_RMS_TOL 0.012

/* The tiny DiT over a BF16 upload of its file, with BF16 activations. */
fg_flux_model *flux_uploaded_tiny(fg_upload_stats *stats) {
    fg_weights *file = NULL, *up = NULL;
    fg_flux_model *m = NULL;
    if (!CHECK_OK(fg_weights_open(test_fixture(TINY_FLUX), &file))) return NULL;
    bool ok = CHECK_OK(fg_weights_upload(file, test_device(), FG_BF16, &up, stats));
    fg_weights_close(file);
    if (!ok || !CHECK_OK(fg_flux_load_weights(up, &m))) return NULL;
    if (test_device() == FG_DEVICE_CPU)
        CHECK(m->device == FG_DEVICE_CPU && m->act_dtype == FG_F32, "CPU models default to F32 activations");
    else
        CHECK(m->device == test_device() && m->act_dtype == FG_BF16, "GPU models default to BF16 activations");
    if (!CHECK_OK(fg_flux_set_act_dtype(m, FG_BF16))) {
        fg_flux_free(m);
        return NULL;
    }
    return m;
}

static void bf16_case(const fg_flux_model *m, const char *case_id) {
    flux_case c;
    fg_tensor out, want;
    char name[32];
    snprintf(name, sizeof name, "%s_out", case_id);
    if (!flux_case_load(case_id, &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(m, &in, &out, NULL) && flux_golden_tensor(name, &want)) {
        double d = flux_max_abs_diff(&out, &want), rel = flux_rel_rms_diff(&out, &want);
        printf("  %s bf16: max |diff| %.3g (limit %.2g), rel rms %.3g (limit %.2g)\n", name, d, BF16_OUT_TOL, rel,
               BF16_REL_RMS_TOL);
        CHECK(d <= BF16_OUT_TOL && rel <= BF16_REL_RMS_TOL, "%s: max %g, rel rms %g", name, d, rel);
        CHECK(d > 0.0, "BF16 activations round: an exact match means F32 ran");
        fg_tensor_free_host(&want);
    }
    fg_tensor_free(&out);
    flux_case_free(&c);
}

void test_bf16_golden(void) {
    fg_upload_stats stats = {0};
    fg_flux_model *m = flux_uploaded_tiny(&stats);
    if (!m) return;
    printf("  upload: %zu bytes read, %zu on the device, %.3f s\n", stats.bytes_read, stats.bytes_device,
           stats.seconds);
    CHECK(stats.bytes_device >= stats.bytes_read, "the tiny model is BF16 already: same bytes plus alignment");
    bf16_case(m, "c0");
    bf16_case(m, "c1");
    fg_flux_free(m);
}

/* Peak bytes fg_tensor_alloc handed out during one forward, beyond what was live before (the
 * RoPE tables are built inside each forward: the model keeps no cache). The forward's own
 * count (its scopes' peak, through a trace left disabled) is checked against it: the same
 * tensors, without the allocator's 64-byte rounding and the host staging of the tables. */
static size_t measured_peak(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out) {
    fg_memory_stats before = {0}, after = {0};
    fg_flux_trace counted = {.enabled = false};
    if (!CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &before))) return 0;
    fg_device_reset_peak(FG_DEVICE_CPU);
    CHECK_OK(fg_flux_forward(m, in, out, &counted));
    if (!CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &after))) return 0;
    CHECK(after.in_use == before.in_use, "the forward frees what it allocates (%zu -> %zu)", before.in_use,
          after.in_use);
    const size_t peak = after.peak - before.in_use;
    printf("  scopes counted a peak of %zu bytes\n", counted.activation_peak_bytes);
    CHECK(counted.activation_peak_bytes <= peak && (double)counted.activation_peak_bytes >= 0.95 * (double)peak,
          "the scopes' peak %zu is not the measured %zu", counted.activation_peak_bytes, peak);
    return peak;
}

static void estimate_case(fg_flux_model *m, fg_dtype act, const char *case_id) {
    flux_case c;
    fg_tensor out = {0};
    if (!CHECK_OK(fg_flux_set_act_dtype(m, act)) || !flux_case_load(case_id, &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (CHECK_OK(fg_tensor_alloc(&out, FG_DEVICE_CPU, FG_F32, in.x->ndim, in.x->shape))) {
        const int64_t b = in.x->shape[0], lt = in.context->shape[1];
        const int64_t li = ((in.x->shape[2] + 1) / 2) * ((in.x->shape[3] + 1) / 2);
        size_t peak = measured_peak(m, &in, &out);
        size_t est = fg_flux_activation_bytes(&m->p, b, li, lt, act);
        printf("  %s %s: measured peak %zu bytes, estimate %zu (x%.2f)\n", case_id, fg_dtype_name(act), peak, est,
               peak ? (double)est / (double)peak : 0.0);
        CHECK(peak > 0 && est >= peak, "estimate %zu below the measured %zu", est, peak);
        CHECK((double)est <= 1.25 * (double)peak, "estimate %zu is far above the measured %zu", est, peak);
    }
    fg_tensor_free(&out);
    flux_case_free(&c);
}

void test_activation_estimate(void) {
    fg_flux_model *m = flux_uploaded_tiny(NULL);
    if (!m) return;
    estimate_case(m, FG_F32, "c0");
    estimate_case(m, FG_BF16, "c0");
    estimate_case(m, FG_BF16, "c1");
    fg_flux_free(m);
}

/* A forward that fails deep inside a block (a weight whose shape no longer matches) returns
 * the error and gives back every byte it took, the trace's included. */
static void failing_forward(fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out, fg_tensor *broken,
                            const char *where) {
    fg_memory_stats before = {0}, after = {0};
    fg_flux_trace trace = {.enabled = true};
    const int64_t width = broken->shape[1];
    broken->shape[1] = width - 1;
    if (CHECK_OK(fg_device_memory_stats(m->device, &before))) {
        CHECK_ERR(fg_flux_forward(m, in, out, &trace), "but x's last dim is");
        CHECK(!trace.vec.data && !trace.img_tokens.data, "%s: the trace is freed on failure", where);
        if (CHECK_OK(fg_device_memory_stats(m->device, &after)))
            CHECK(after.in_use == before.in_use, "%s: a failed forward keeps %zu bytes", where,
                  after.in_use - before.in_use);
    }
    broken->shape[1] = width;
}

/* On the CPU only: the case's inputs are host tensors. */
void test_forward_error_frees_everything(void) {
    fg_flux_model *m = flux_uploaded_tiny(NULL);
    flux_case c;
    fg_tensor out = {0};
    if (!m) return;
    if (m->device == FG_DEVICE_CPU && m->p.arch.depth > 0 && m->p.arch.depth_single > 0 && flux_case_load("c0", &c)) {
        fg_flux_inputs in = flux_case_inputs(&c);
        if (CHECK_OK(fg_tensor_alloc(&out, m->device, FG_F32, in.x->ndim, in.x->shape))) {
            failing_forward(m, &in, &out, &m->double_blocks[0].txt.mlp2.w, "double block 0, txt mlp2");
            failing_forward(m, &in, &out, &m->single_blocks[m->p.arch.depth_single - 1].linear2.w, "last single block");
            failing_forward(m, &in, &out, &m->final_linear.w, "final layer");
            CHECK_OK(fg_flux_forward(m, &in, &out, NULL)); /* the model is whole again */
        }
        fg_tensor_free(&out);
        flux_case_free(&c);
    }
    fg_flux_free(m);
}

void test_memory_check(void) {
    const fg_flux_model *m = flux_tiny();
    if (!m) return;
    size_t need = fg_flux_activation_bytes(&m->p, 1, 64 * 64, 512, m->act_dtype);
    CHECK_OK(fg_flux_check_activation_memory(m, 1, 128, 128, 512, need));
    CHECK_ERR(fg_flux_check_activation_memory(m, 1, 128, 128, 512, need - 1), "FLUX 1024x1024 batch 1 needs");
    CHECK_ERR(fg_flux_check_activation_memory(m, 2, 128, 96, 512, 1u << 20), "FLUX 768x1024 batch 2 needs");
    CHECK_ERR(fg_flux_check_activation_memory(m, 1, 128, 128, 512, 0), "GiB free on cpu");
    /* The CPU is checked too (against MemAvailable / the cgroup limit): a 16384x16384 batch of
     * 64 cannot fit anywhere, a 128x128 image always does. */
    CHECK_ERR(fg_flux_check_device_memory(m, 64, 2048, 2048, 512), "FLUX 16384x16384 batch 64 needs");
    CHECK_OK(fg_flux_check_device_memory(m, 1, 16, 16, 512));
    CHECK_ERR(fg_flux_check_activation_memory(m, 0, 128, 128, 512, 0), "bad sizes");
    /* FLUX.1-dev's shapes at 1024x1024 (4096 image + 512 text tokens): GiB a GPU must hold. */
    fg_flux_params dev = m->p;
    dev.arch.hidden = 3072, dev.arch.mlp_hidden = 12288, dev.head_dim = 128;
    double gib = (double)fg_flux_activation_bytes(&dev, 1, 4096, 512, FG_BF16) / (double)(1u << 30);
    printf("  FLUX.1-dev 1024x1024 batch 1, BF16: %.2f GiB of activations\n", gib);
    /* per token: 15 x 3072 BF16 values (x, linear1's 21504-wide output and its two slices) */
    CHECK(gib > 0.35 && gib < 0.5, "%g GiB", gib);
}
