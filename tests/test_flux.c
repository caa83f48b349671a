/* The FLUX DiT: config inference from shapes, the golden forward of the tiny model (cases c0,
 * c1 and the c0 intermediates), odd latent sizes, batch consistency, every checkpoint layout
 * (tests/flux/flux_layouts.c) and bad inputs.
 *   test_flux                         all tests
 *   test_flux --compare-probe OUT     checks a `fluxgraph probe flux` output against golden */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/flux/flux_common.h"
#include "tests/testing.h"

#define OUT_TOL 1e-4          /* fixtures README, stage 5 */
#define INTERMEDIATE_TOL 5e-5

/* ---- config ------------------------------------------------------------------------------- */

static void test_config_inference(void) {
    const fg_flux_model *m = flux_tiny();
    if (!m) return;
    const fg_flux_params *p = &m->p;
    const fg_flux_config *a = &p->arch;
    char desc[512];
    printf("  %s\n", fg_flux_params_describe(p, desc, sizeof desc));
    CHECK(a->hidden == 256 && a->num_heads == 2 && p->head_dim == 128);
    CHECK(a->depth == 2 && a->depth_single == 2 && a->mlp_hidden == 1024);
    CHECK(a->in_channels == 64 && a->out_channels == 64 && p->latent_channels == 16);
    CHECK(a->context_in_dim == 64 && a->vec_in_dim == 128 && a->time_dim == 256);
    CHECK(a->guidance_embed && a->qkv_bias && a->dtype == FG_BF16);
    CHECK(p->axes_dim[0] == 16 && p->axes_dim[1] == 56 && p->axes_dim[2] == 56 && p->theta == 10000.0);
    CHECK(!m->diffusers);

    int axes[3];
    if (CHECK_OK(fg_flux_axes_for_head_dim(64, axes))) CHECK(axes[0] == 8 && axes[1] == 28 && axes[2] == 28);
    if (CHECK_OK(fg_flux_axes_for_head_dim(32, axes))) CHECK(axes[0] == 4 && axes[1] == 14 && axes[2] == 14);
    CHECK_ERR(fg_flux_axes_for_head_dim(48, axes), "multiple of 32");
    CHECK_ERR(fg_flux_axes_for_head_dim(0, axes), "head_dim 0");
}

/* ---- golden -------------------------------------------------------------------------------- */

static void check_against_golden(const char *name, const fg_tensor *got, double tol) {
    fg_tensor want;
    if (!flux_golden_tensor(name, &want)) return;
    double d = flux_max_abs_diff(got, &want);
    printf("  %-16s max |diff| %.3g (limit %.0e)\n", name, d, tol);
    CHECK(d <= tol, "%s: %g", name, d);
    fg_tensor_free_host(&want);
}

static void run_golden_case(const char *case_id) {
    flux_case c;
    fg_tensor out;
    if (!flux_tiny() || !flux_case_load(case_id, &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(flux_tiny(), &in, &out, NULL)) {
        char name[32];
        snprintf(name, sizeof name, "%s_out", case_id);
        check_against_golden(name, &out, OUT_TOL);
        fg_tensor_free(&out);
    }
    flux_case_free(&c);
}

static void test_golden_c0(void) { run_golden_case("c0"); } /* 16x16 latent, 32 text tokens, B=2 */
static void test_golden_c1(void) { run_golden_case("c1"); } /* 12x20: non-square, 17 tokens */

/* c0_double0_*: the generator hooked double_blocks.0, but ComfyUI's blocks update img/txt in
 * place, so the stored tensors are the streams after the LAST double block (see
 * cli/probe_flux.c). We compare them with that, and check the true block-0 output is a
 * different thing, so the test notices if the fixture is ever regenerated correctly. */
static void test_golden_intermediates(void) {
    flux_case c;
    fg_tensor out;
    fg_flux_trace trace = {.enabled = true};
    if (!flux_tiny() || !flux_case_load("c0", &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(flux_tiny(), &in, &out, &trace)) {
        check_against_golden("c0_img_tokens", &trace.img_tokens, INTERMEDIATE_TOL);
        check_against_golden("c0_img_ids", &trace.img_ids, 0.0);
        check_against_golden("c0_txt_ids", &trace.txt_ids, 0.0);
        check_against_golden("c0_vec", &trace.vec, INTERMEDIATE_TOL);
        check_against_golden("c0_double0_img", &trace.doubles_img, INTERMEDIATE_TOL);
        check_against_golden("c0_double0_txt", &trace.doubles_txt, INTERMEDIATE_TOL);
        fg_tensor golden_img;
        if (flux_golden_tensor("c0_double0_img", &golden_img)) {
            double d = flux_max_abs_diff(&trace.double0_img, &golden_img);
            printf("  (our true double_blocks.0 output differs from c0_double0_img by %.3g)\n", d);
            CHECK(d > 0.01, "the golden double0 now matches block 0: compare with double0_img instead");
            fg_tensor_free_host(&golden_img);
        }
        fg_tensor_free(&out);
    }
    fg_flux_trace_free(&trace);
    flux_case_free(&c);
}

/* ---- shapes -------------------------------------------------------------------------------- */

/* x[:, :, :h, :w] of a host tensor as a new host tensor (through the ops). */
static bool crop(const fg_tensor *x, int64_t h, int64_t w, fg_tensor *out) {
    fg_tensor rows;
    bool ok = CHECK_OK(fg_tensor_alloc(&rows, FG_DEVICE_CPU, FG_F32, FG_SHAPE(x->shape[0], x->shape[1], h, x->shape[3])));
    ok = ok && CHECK_OK(fg_slice(&rows, x, 2, 0));
    ok = ok && CHECK_OK(fg_tensor_alloc(out, FG_DEVICE_CPU, FG_F32, FG_SHAPE(x->shape[0], x->shape[1], h, w)));
    ok = ok && CHECK_OK(fg_slice(out, &rows, 3, 0));
    fg_tensor_free(&rows);
    return ok;
}

/* An odd 13x9 latent runs (circular pad to 14x10, crop back) and equals running the padded
 * latent ourselves and cropping. */
static void test_odd_latent(void) {
    flux_case c;
    fg_tensor x_odd = {0}, x_pad = {0}, out_odd = {0}, out_pad = {0}, out_crop = {0};
    if (!flux_tiny() || !flux_case_load("c0", &c)) return;
    if (!crop(&c.x, 13, 9, &x_odd)) goto done;
    fg_flux_inputs in = flux_case_inputs(&c);
    in.x = &x_odd;
    fg_flux_trace trace = {.enabled = true};
    if (!flux_run(flux_tiny(), &in, &out_odd, &trace)) goto done;
    CHECK(trace.img_tokens.shape[1] == 7 * 5, "%lld tokens for a 13x9 latent", (long long)trace.img_tokens.shape[1]);
    const float *ids = trace.img_ids.data;
    CHECK(ids[34 * 3 + 1] == 6.0f && ids[34 * 3 + 2] == 4.0f, "last token id (0, 6, 4)");
    fg_flux_trace_free(&trace);

    if (!CHECK_OK(fg_tensor_alloc(&x_pad, FG_DEVICE_CPU, FG_F32, FG_SHAPE(2, 16, 14, 10)))) goto done;
    if (!CHECK_OK(fg_pad2d(&x_pad, &x_odd, 0, 1, 0, 1, FG_PAD_CIRCULAR))) goto done;
    in.x = &x_pad;
    if (!flux_run(flux_tiny(), &in, &out_pad, NULL) || !crop(&out_pad, 13, 9, &out_crop)) goto done;
    double d = flux_max_abs_diff(&out_odd, &out_crop);
    printf("  13x9 vs padded 14x10 cropped: max |diff| %.3g\n", d);
    CHECK(d <= 1e-6, "%g", d);
    CHECK(flux_max_abs_diff(&out_odd, &out_odd) == 0.0, "finite output"); /* NaN compares as infinite */
done:
    fg_tensor_free(&x_odd), fg_tensor_free(&x_pad), fg_tensor_free(&out_odd);
    fg_tensor_free(&out_pad), fg_tensor_free(&out_crop);
    flux_case_free(&c);
}

/* Row `b` of a host tensor [B, ...] as a [1, ...] tensor (a view). */
static fg_tensor batch_row(const fg_tensor *t, int64_t b) {
    fg_tensor v = *t;
    size_t row = fg_tensor_nbytes(t) / (size_t)t->shape[0];
    v.shape[0] = 1;
    v.data = (char *)t->data + (size_t)b * row;
    v.owns_data = false;
    return v;
}

/* B=2 equals two B=1 runs. */
static void test_batch_consistency(void) {
    flux_case c;
    fg_tensor both;
    if (!flux_tiny() || !flux_case_load("c0", &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(flux_tiny(), &in, &both, NULL)) {
        for (int64_t b = 0; b < 2; b++) {
            fg_tensor x = batch_row(&c.x, b), t = batch_row(&c.timestep, b), ctx = batch_row(&c.context, b);
            fg_tensor y = batch_row(&c.y, b), g = batch_row(&c.guidance, b), one;
            fg_flux_inputs single = {&x, &t, &ctx, &y, &g};
            if (!flux_run(flux_tiny(), &single, &one, NULL)) continue;
            fg_tensor want = batch_row(&both, b);
            double d = flux_max_abs_diff(&one, &want);
            printf("  batch row %lld alone vs in B=2: max |diff| %.3g\n", (long long)b, d);
            CHECK(d <= 1e-5, "%g", d);
            fg_tensor_free(&one);
        }
        fg_tensor_free(&both);
    }
    flux_case_free(&c);
}

/* Without guidance the result changes (the term is skipped), and stays finite. */
static void test_guidance_optional(void) {
    flux_case c;
    fg_tensor with, without;
    if (!flux_tiny() || !flux_case_load("c0", &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(flux_tiny(), &in, &with, NULL)) {
        in.guidance = NULL;
        if (flux_run(flux_tiny(), &in, &without, NULL)) {
            double d = flux_max_abs_diff(&with, &without);
            CHECK(d > 1e-3 && isfinite(d), "guidance changes the output (%g)", d);
            fg_tensor_free(&without);
        }
        fg_tensor_free(&with);
    }
    flux_case_free(&c);
}

/* ComfyUI slices y to its first vec_in_dim columns: extra columns change nothing. */
static void test_wider_y(void) {
    flux_case c;
    fg_tensor want, got, wide;
    if (!flux_tiny() || !flux_case_load("c0", &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    if (flux_run(flux_tiny(), &in, &want, NULL)) {
        if (CHECK_OK(fg_tensor_alloc_host(&wide, FG_F32, FG_SHAPE(2, 160)))) {
            for (int b = 0; b < 2; b++)
                for (int j = 0; j < 160; j++)
                    ((float *)wide.data)[b * 160 + j] = j < 128 ? ((const float *)c.y.data)[b * 128 + j] : 99.0f;
            in.y = &wide;
            if (flux_run(flux_tiny(), &in, &got, NULL)) {
                CHECK(flux_max_abs_diff(&got, &want) == 0.0, "%g", flux_max_abs_diff(&got, &want));
                fg_tensor_free(&got);
            }
            fg_tensor_free_host(&wide);
        }
        fg_tensor_free(&want);
    }
    flux_case_free(&c);
}

static void test_bad_inputs(void) {
    flux_case c;
    const fg_flux_model *m = flux_tiny();
    if (!m || !flux_case_load("c0", &c)) return;
    fg_flux_inputs in = flux_case_inputs(&c);
    fg_tensor out, wrong;
    if (!CHECK_OK(fg_tensor_alloc(&out, FG_DEVICE_CPU, FG_F32, 4, c.x.shape))) goto done;
    fg_tensor ctx_view = c.context;
    ctx_view.shape[2] = 32, ctx_view.shape[1] = 64; /* same bytes, wrong width */
    in.context = &ctx_view;
    CHECK_ERR(fg_flux_forward(m, &in, &out, NULL), "context is [2, 64, 32], expected [2, L, 64]");
    in = flux_case_inputs(&c);
    fg_tensor y_short = c.y;
    y_short.shape[1] = 64, y_short.shape[0] = 4;
    in.y = &y_short;
    CHECK_ERR(fg_flux_forward(m, &in, &out, NULL), "y is [4, 64]");
    in = flux_case_inputs(&c);
    fg_tensor x_chan = c.x;
    x_chan.shape[1] = 8, x_chan.shape[2] = 32;
    in.x = &x_chan;
    CHECK_ERR(fg_flux_forward(m, &in, &out, NULL), "16 channels");
    in = flux_case_inputs(&c);
    if (CHECK_OK(fg_tensor_alloc(&wrong, FG_DEVICE_CPU, FG_F32, FG_SHAPE(2, 16, 8, 8)))) {
        CHECK_ERR(fg_flux_forward(m, &in, &wrong, NULL), "out is [2, 16, 8, 8]");
        fg_tensor_free(&wrong);
    }
    in.timestep = NULL;
    CHECK_ERR(fg_flux_forward(m, &in, &out, NULL), "timestep is missing");
    fg_tensor_free(&out);
done:
    flux_case_free(&c);
}

/* ---- --compare-probe ------------------------------------------------------------------------- */

static const char *probe_out_path;

static bool is_input_name(const char *name) {
    static const char *const suffixes[] = {"_x", "_timestep", "_context", "_y", "_guidance"};
    size_t n = strlen(name);
    for (size_t i = 0; i < 5; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && strcmp(name + n - m, suffixes[i]) == 0) return true;
    }
    return false;
}

static void test_probe_output_matches_golden(void) {
    const fg_safetensors *golden = flux_golden();
    fg_safetensors *out = NULL;
    if (!golden || !CHECK_OK(fg_safetensors_open(probe_out_path, &out))) return;
    size_t expected = 0;
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        if (is_input_name(name)) continue;
        expected++;
        fg_tensor view, got;
        if (!CHECK_OK(fg_safetensors_tensor(out, name, &view))) continue;
        CHECK(view.dtype == FG_F32, "%s", name);
        if (view.dtype != FG_F32) continue;
        if (!CHECK_OK(fg_tensor_alloc_host(&got, FG_F32, view.ndim, view.shape))) continue;
        memcpy(got.data, view.data, fg_tensor_nbytes(&view));
        size_t n = strlen(name);
        check_against_golden(name, &got, n > 4 && strcmp(name + n - 4, "_out") == 0 ? OUT_TOL : INTERMEDIATE_TOL);
        fg_tensor_free_host(&got);
    }
    CHECK(fg_safetensors_count(out) == expected, "%zu tensors in the probe output, %zu expected",
          fg_safetensors_count(out), expected);
    fg_safetensors_close(out);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--compare-probe") == 0) {
        probe_out_path = argv[2];
        RUN_TEST(test_probe_output_matches_golden);
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--compare-probe FILE]\n", argv[0]);
        return 2;
    } else {
        RUN_TEST(test_config_inference);
        RUN_TEST(test_golden_c0);
        RUN_TEST(test_golden_c1);
        RUN_TEST(test_golden_intermediates);
        RUN_TEST(test_odd_latent);
        RUN_TEST(test_batch_consistency);
        RUN_TEST(test_guidance_optional);
        RUN_TEST(test_wider_y);
        RUN_TEST(test_bad_inputs);
        RUN_TEST(test_layout_prefixed);
        RUN_TEST(test_layout_diffusers);
        RUN_TEST(test_layout_diffusers_sharded);
        RUN_TEST(test_layout_fp8_plain);
        RUN_TEST(test_layout_fp8_scaled);
        RUN_TEST(test_layout_fp8_diffusers_scaled);
        RUN_TEST(test_load_errors_bfl);
        RUN_TEST(test_load_errors_diffusers);
        RUN_TEST(test_runner_matches_forward);
        RUN_TEST(test_bf16_golden);
        RUN_TEST(test_activation_estimate);
        RUN_TEST(test_forward_error_frees_everything);
        RUN_TEST(test_memory_check);
    }
    flux_common_cleanup();
    return test_summary();
}
