/* vae/: the FLUX autoencoder against the golden fixture (stage 6), an independent double
 * precision reference (any size, other configs), its loader (prefixes, dtypes, bad files),
 * tiled decode/encode against ComfyUI's blending math, and the latent/pixel helpers.
 * Usage: test_vae [--compare-probe FILE]   (checks a `fluxgraph probe ae` output)
 *        test_vae --write-checkpoint SRC DST  (SRC under the "vae." prefix, for the probe test) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "kernels/ops.h"
#include "tests/testing.h"
#include "tests/vae/vae_helpers.h"
#include "vae/ae_config.h"
#include "vae/ae_model.h"
#include "vae/latent_format.h"

#define GOLDEN_TOL 1e-4 /* fixtures README stage 6 */

static char tiny_path[1024], golden_path[1024];
static fg_safetensors *golden;

/* ---- helpers -------------------------------------------------------------------------- */

/* Opens path (under prefix when non-NULL) and loads the VAE; the weights are closed at once,
 * which the model must survive. */
static fg_error *load_vae(const char *path, const char *prefix, fg_vae **m) {
    fg_weights *base = NULL, *view = NULL;
    FG_TRY(fg_weights_open(path, &base));
    fg_error *err = prefix ? fg_weights_view(base, prefix, &view) : NULL;
    if (!err) err = fg_vae_load(view ? view : base, m);
    fg_weights_close(view);
    fg_weights_close(base);
    return err;
}

static fg_tensor host(fg_dtype dt, int ndim, const int64_t *shape) {
    fg_tensor t = {0};
    CHECK_OK(fg_tensor_alloc(&t, FG_DEVICE_CPU, dt, ndim, shape));
    return t;
}

/* A copy of golden tensor `name`. */
static fg_tensor golden_tensor(const char *name) {
    fg_tensor v = {0}, t = {0};
    if (!CHECK_OK(fg_safetensors_tensor(golden, name, &v))) return t;
    t = host(v.dtype, v.ndim, v.shape);
    if (t.data) memcpy(t.data, v.data, fg_tensor_nbytes(&v));
    return t;
}

static double max_abs_ref(const float *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static fg_tensor decode(const fg_vae *m, const fg_tensor *z) {
    int64_t f = fg_vae_factor(m);
    fg_tensor out = host(FG_F32, FG_SHAPE(z->shape[0], 3, z->shape[2] * f, z->shape[3] * f));
    CHECK_OK(fg_vae_decode(m, z, &out));
    return out;
}

static fg_tensor encode_moments(const fg_vae *m, const fg_tensor *x) {
    int64_t f = fg_vae_factor(m);
    fg_tensor out = host(FG_F32, FG_SHAPE(x->shape[0], 2 * fg_vae_config(m)->z_channels, x->shape[2] / f, x->shape[3] / f));
    CHECK_OK(fg_vae_encode(m, x, &out));
    return out;
}

/* ---- config --------------------------------------------------------------------------- */

static void test_config_inferred_from_shapes(void) {
    fg_weights *w = NULL;
    if (!CHECK_OK(fg_weights_open(tiny_path, &w))) return;
    fg_ae_config c, want = fg_ae_config_tiny();
    if (CHECK_OK(fg_vae_infer_config(w, &c))) {
        CHECK(c.ch == 32 && c.levels == 4 && c.num_res_blocks == 1 && c.z_channels == 16, "ch %lld levels %lld nrb %lld z %lld",
              (long long)c.ch, (long long)c.levels, (long long)c.num_res_blocks, (long long)c.z_channels);
        CHECK(c.in_channels == 3 && c.out_ch == 3 && c.dtype == FG_F32);
        for (int i = 0; i < 4; i++) CHECK(c.ch_mult[i] == want.ch_mult[i], "ch_mult[%d] = %lld", i, (long long)c.ch_mult[i]);
        CHECK(fg_vae_spatial_factor(&c) == 8);
    }
    fg_weights_close(w);
}

typedef struct layout_fill {
    const fg_layout_tensor *t;
} layout_fill;

static fg_error *fill_layout_tensor(void *ctx, const char *name, void *buf, size_t nbytes) {
    (void)name;
    const layout_fill *f = ctx;
    return fg_layout_fill_random(f->t, 7, buf, nbytes);
}

/* A VAE of another shape (3 levels -> factor 4, 2 residual blocks, 128 channels deep, z = 4,
 * BF16) written from the layout generator: the config is inferred from it and decode/encode
 * agree with the double reference. */
static void test_other_config_matches_reference(void) {
    fg_ae_config want = {.ch = 32, .levels = 3, .ch_mult = {1, 2, 4}, .num_res_blocks = 2, .z_channels = 4,
                         .in_channels = 3, .out_ch = 3, .dtype = FG_BF16};
    fg_layout layout = {0};
    if (!CHECK_OK(fg_layout_ae(&want, &layout))) return;
    layout_fill *fills = calloc(layout.count, sizeof *fills);
    fg_st_writer *sw = NULL;
    const char *path = test_tmp_file("other-ae.safetensors");
    CHECK_OK(fg_st_writer_create(&sw));
    for (size_t i = 0; sw && i < layout.count; i++) {
        const fg_layout_tensor *t = &layout.tensors[i];
        fills[i].t = t;
        CHECK_OK(fg_st_writer_add_lazy(sw, t->name, t->dtype, t->ndim, t->shape, fill_layout_tensor, &fills[i]));
    }
    CHECK_OK(fg_st_writer_write(sw, path));
    fg_st_writer_free(sw);
    fg_weights *w = NULL;
    fg_vae *m = NULL;
    if (CHECK_OK(fg_weights_open(path, &w)) && CHECK_OK(fg_vae_load(w, &m))) {
        const fg_ae_config *c = fg_vae_config(m);
        CHECK(c->levels == 3 && c->num_res_blocks == 2 && c->z_channels == 4 && c->ch_mult[2] == 4 && c->dtype == FG_BF16);
        CHECK(fg_vae_factor(m) == 4);
        fg_tensor z = host(FG_F32, FG_SHAPE(1, 4, 3, 5)), x = host(FG_F32, FG_SHAPE(1, 3, 12, 8));
        vae_fill(&z, 11, 1.5f);
        vae_fill(&x, 12, 1.0f);
        fg_tensor d = decode(m, &z), mo = encode_moments(m, &x);
        double *rd = NULL, *re = NULL;
        if (CHECK_OK(ref_decode(w, c, z.data, 3, 5, &rd)) && CHECK_OK(ref_encode(w, c, x.data, 12, 8, &re))) {
            double ed = max_abs_ref(d.data, rd, fg_tensor_numel(&d)), ee = max_abs_ref(mo.data, re, fg_tensor_numel(&mo));
            printf("  3-level bf16 VAE vs double reference: decode %.2e, encode %.2e\n", ed, ee);
            CHECK(ed <= GOLDEN_TOL && ee <= GOLDEN_TOL);
        }
        free(rd);
        free(re);
        fg_tensor_free(&z), fg_tensor_free(&x), fg_tensor_free(&d), fg_tensor_free(&mo);
    }
    fg_vae_free(m);
    fg_weights_close(w);
    free(fills);
    fg_layout_free(&layout);
}

/* ---- golden --------------------------------------------------------------------------- */

static void test_golden_decode(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_vae(tiny_path, NULL, &m))) return;
    fg_tensor z = golden_tensor("z"), want = golden_tensor("decoded"), want_u8 = golden_tensor("image_u8");
    fg_tensor d = decode(m, &z);
    double err = vae_max_abs(d.data, want.data, fg_tensor_numel(&want));
    printf("  decoded: max abs %.2e (tolerance %.0e)\n", err, GOLDEN_TOL);
    CHECK(err <= GOLDEN_TOL, "%g", err);
    fg_tensor u8 = host(FG_U8, want_u8.ndim, want_u8.shape);
    if (CHECK_OK(fg_vae_decoded_to_u8(&u8, &d))) {
        int64_t off = 0, worst = 0, n = fg_tensor_numel(&u8);
        for (int64_t i = 0; i < n; i++) {
            int diff = abs((int)((uint8_t *)u8.data)[i] - (int)((uint8_t *)want_u8.data)[i]);
            off += diff != 0;
            if (diff > worst) worst = diff;
        }
        printf("  image_u8: %lld of %lld bytes differ, by at most %lld\n", (long long)off, (long long)n, (long long)worst);
        CHECK(worst <= 1);
    }
    fg_tensor_free(&z), fg_tensor_free(&want), fg_tensor_free(&want_u8), fg_tensor_free(&d), fg_tensor_free(&u8);
    fg_vae_free(m);
}

static void test_golden_encode(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_vae(tiny_path, NULL, &m))) return;
    fg_tensor u8 = golden_tensor("pixels_u8"), want = golden_tensor("moments"), want_mean = golden_tensor("mean");
    fg_tensor x = host(FG_F32, FG_SHAPE(1, 3, 64, 64)), mean = host(FG_F32, want_mean.ndim, want_mean.shape);
    CHECK_OK(fg_vae_u8_to_pixels(&x, &u8));
    fg_tensor mo = encode_moments(m, &x);
    double e1 = vae_max_abs(mo.data, want.data, fg_tensor_numel(&want));
    CHECK_OK(fg_vae_encode_mean(m, &x, &mean));
    double e2 = vae_max_abs(mean.data, want_mean.data, fg_tensor_numel(&want_mean));
    printf("  moments: max abs %.2e, mean: %.2e (tolerance %.0e)\n", e1, e2, GOLDEN_TOL);
    CHECK(e1 <= GOLDEN_TOL && e2 <= GOLDEN_TOL);
    CHECK(memcmp(mean.data, mo.data, (size_t)fg_tensor_numel(&mean) * 4) == 0, "mean = first half of the moments");
    fg_tensor_free(&u8), fg_tensor_free(&want), fg_tensor_free(&want_mean), fg_tensor_free(&x);
    fg_tensor_free(&mean), fg_tensor_free(&mo);
    fg_vae_free(m);
}

static void test_latent_format_matches_golden(void) {
    fg_tensor mean = golden_tensor("mean"), want_in = golden_tensor("mean_process_in");
    fg_tensor z = golden_tensor("z"), want_out = golden_tensor("z_process_out");
    fg_tensor a = host(FG_F32, mean.ndim, mean.shape), b = host(FG_F32, z.ndim, z.shape);
    CHECK_OK(fg_latent_process_in(&a, &mean));
    CHECK_OK(fg_latent_process_out(&b, &z));
    double ein = vae_max_abs(a.data, want_in.data, fg_tensor_numel(&a)), eout = vae_max_abs(b.data, want_out.data, fg_tensor_numel(&b));
    printf("  process_in: max abs %.2e (bit-exact expected), process_out: %.2e\n", ein, eout);
    CHECK(ein == 0.0, "%g", ein);
    CHECK(eout <= 1e-6, "%g", eout);
    CHECK_OK(fg_latent_process_in(&b, &b)); /* in place, and the round trip */
    CHECK(vae_max_abs(b.data, z.data, fg_tensor_numel(&z)) <= 1e-6);
    fg_tensor_free(&mean), fg_tensor_free(&want_in), fg_tensor_free(&z), fg_tensor_free(&want_out);
    fg_tensor_free(&a), fg_tensor_free(&b);
}

/* ---- shapes --------------------------------------------------------------------------- */

static void test_batch_equals_single_samples(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_vae(tiny_path, NULL, &m))) return;
    fg_tensor z = host(FG_F32, FG_SHAPE(2, 16, 4, 6)), x = host(FG_F32, FG_SHAPE(2, 3, 32, 24));
    vae_fill(&z, 1, 2.0f);
    vae_fill(&x, 2, 1.0f);
    fg_tensor d = decode(m, &z), mo = encode_moments(m, &x);
    for (int64_t b = 0; b < 2; b++) {
        fg_tensor zb = host(FG_F32, FG_SHAPE(1, 16, 4, 6)), xb = host(FG_F32, FG_SHAPE(1, 3, 32, 24));
        CHECK_OK(fg_slice(&zb, &z, 0, b));
        CHECK_OK(fg_slice(&xb, &x, 0, b));
        fg_tensor db = decode(m, &zb), mb = encode_moments(m, &xb);
        int64_t nd = fg_tensor_numel(&db), nm = fg_tensor_numel(&mb);
        double ed = vae_max_abs((float *)d.data + b * nd, db.data, nd), em = vae_max_abs((float *)mo.data + b * nm, mb.data, nm);
        printf("  batch item %lld vs alone: decode %.2e, encode %.2e\n", (long long)b, ed, em);
        CHECK(ed <= 1e-6 && em <= 1e-6);
        fg_tensor_free(&zb), fg_tensor_free(&xb), fg_tensor_free(&db), fg_tensor_free(&mb);
    }
    fg_tensor_free(&z), fg_tensor_free(&x), fg_tensor_free(&d), fg_tensor_free(&mo);
    fg_vae_free(m);
}

/* Non-square and odd latent sizes against the double reference (which also pins down which
 * side the asymmetric downsample pads). */
static void test_non_square_matches_reference(void) {
    fg_weights *w = NULL;
    fg_vae *m = NULL;
    if (!CHECK_OK(fg_weights_open(tiny_path, &w)) || !CHECK_OK(fg_vae_load(w, &m))) {
        fg_weights_close(w);
        return;
    }
    const int64_t sizes[2][2] = {{3, 5}, {6, 2}};
    for (int k = 0; k < 2; k++) {
        int64_t h = sizes[k][0], wd = sizes[k][1];
        fg_tensor z = host(FG_F32, FG_SHAPE(1, 16, h, wd)), x = host(FG_F32, FG_SHAPE(1, 3, 8 * h, 8 * wd));
        vae_fill(&z, 20 + (uint32_t)k, 2.0f);
        vae_fill(&x, 30 + (uint32_t)k, 1.0f);
        fg_tensor d = decode(m, &z), mo = encode_moments(m, &x);
        CHECK(d.shape[2] == 8 * h && d.shape[3] == 8 * wd);
        double *rd = NULL, *re = NULL;
        if (CHECK_OK(ref_decode(w, fg_vae_config(m), z.data, h, wd, &rd)) &&
            CHECK_OK(ref_encode(w, fg_vae_config(m), x.data, 8 * h, 8 * wd, &re))) {
            double ed = max_abs_ref(d.data, rd, fg_tensor_numel(&d)), ee = max_abs_ref(mo.data, re, fg_tensor_numel(&mo));
            printf("  latent %lldx%lld vs double reference: decode %.2e, encode %.2e\n", (long long)wd, (long long)h, ed, ee);
            CHECK(ed <= GOLDEN_TOL && ee <= GOLDEN_TOL);
        }
        free(rd);
        free(re);
        fg_tensor_free(&z), fg_tensor_free(&x), fg_tensor_free(&d), fg_tensor_free(&mo);
    }
    fg_vae_free(m);
    fg_weights_close(w);
}

/* The decode memory bound: at least the peak the CPU backend really allocates (its counted
 * blocks, scratch excluded), within a factor of the peak (else it refuses runs that fit), and
 * the check fails first, naming the size and the GiB needed. */
static void test_decode_memory_bound(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_vae(tiny_path, NULL, &m))) return;
    const int64_t sizes[][3] = {{1, 8, 8}, {2, 12, 20}, {1, 32, 32}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int64_t b = sizes[i][0], h = sizes[i][1], w = sizes[i][2];
        fg_tensor z = host(FG_F32, FG_SHAPE(b, 16, h, w));
        fg_memory_stats before = {0}, after = {0};
        CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &before));
        fg_device_reset_peak(FG_DEVICE_CPU);
        fg_tensor out = decode(m, &z);
        CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &after));
        const size_t measured = after.peak - before.in_use;
        const size_t bound = fg_vae_decode_activation_bytes(m, b, h, w) - ((size_t)64 << 20);
        printf("  %lldx%lldx%lld: peak %zu bytes, bound %zu\n", (long long)b, (long long)h, (long long)w, measured,
               bound);
        CHECK(bound >= measured && bound <= 4 * measured, "bound %zu for a peak of %zu", bound, measured);
        fg_tensor_free(&z), fg_tensor_free(&out);
    }
    const size_t need = fg_vae_decode_activation_bytes(m, 1, 128, 128);
    CHECK_OK(fg_vae_check_decode_memory(m, 1, 128, 128, need));
    CHECK_ERR(fg_vae_check_decode_memory(m, 1, 128, 128, need - 1), "a 1024x1024 batch 1 needs");
    CHECK_ERR(fg_vae_check_decode_memory(m, 3, 64, 32, 0), "a 256x512 batch 3 needs");
    CHECK_ERR(fg_vae_check_decode_memory(m, 0, 64, 32, 0), "bad sizes");
    /* A 16384x16384 batch of 4096 cannot fit anywhere: fg_vae_decode refuses before any work. */
    fg_tensor big_z = {.device = FG_DEVICE_CPU, .dtype = FG_F32, .ndim = 4, .shape = {4096, 16, 2048, 2048}};
    fg_tensor small = host(FG_F32, FG_SHAPE(1, 16, 2, 2)), out = host(FG_F32, FG_SHAPE(1, 3, 16, 16));
    big_z.data = small.data; /* never read: the check comes first */
    fg_tensor big_out = out;
    big_out.shape[0] = 4096, big_out.shape[2] = 16384, big_out.shape[3] = 16384;
    CHECK_ERR(fg_vae_decode(m, &big_z, &big_out), "VAE decode: a 16384x16384 batch 4096 needs");
    fg_tensor_free(&small), fg_tensor_free(&out);
    fg_vae_free(m);
}

static void test_bad_arguments(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_vae(tiny_path, NULL, &m))) return;
    fg_tensor z = host(FG_F32, FG_SHAPE(1, 16, 2, 2)), z4 = host(FG_F32, FG_SHAPE(1, 4, 2, 2));
    fg_tensor out = host(FG_F32, FG_SHAPE(1, 3, 16, 16)), wrong = host(FG_F32, FG_SHAPE(1, 3, 16, 8));
    fg_tensor x = host(FG_F32, FG_SHAPE(1, 3, 20, 16)), mo = host(FG_F32, FG_SHAPE(1, 32, 2, 2));
    CHECK_ERR(fg_vae_decode(m, &z4, &out), "latent is [1, 4, 2, 2], expected [B, 16, H, W]");
    CHECK_ERR(fg_vae_decode(m, &z, &wrong), "output is [1, 3, 16, 8], expected [1, 3, 16, 16]");
    CHECK_ERR(fg_vae_encode(m, &x, &mo), "not a multiple of 8");
    CHECK_ERR(fg_vae_decode_tiled(m, &z, 0, 0, &out), "out of range");
    CHECK_ERR(fg_vae_decode_tiled(m, &z, 64, -1, &out), "out of range");
    CHECK_ERR(fg_vae_encode_tiled(m, &x, 64, 8, &mo), "not a multiple of 8");
    fg_tensor_free(&z), fg_tensor_free(&z4), fg_tensor_free(&out), fg_tensor_free(&wrong);
    fg_tensor_free(&x), fg_tensor_free(&mo);
    fg_vae_free(m);
}

/* ---- loader: prefixes, dtypes, broken files ------------------------------------------- */

static void test_prefixed_checkpoint_identical(void) {
    const char *path = test_tmp_file("checkpoint.safetensors");
    ae_copy_opts o = {.prefix = "vae.", .extra = "model.diffusion_model.img_in.weight"};
    if (!CHECK_OK(ae_write_copy(tiny_path, path, &o))) return;
    fg_vae *plain = NULL, *pre = NULL;
    CHECK_OK(load_vae(tiny_path, NULL, &plain));
    CHECK_OK(load_vae(path, "vae.", &pre));
    if (plain && pre) {
        fg_tensor z = golden_tensor("z");
        fg_tensor a = decode(plain, &z), b = decode(pre, &z);
        CHECK(memcmp(a.data, b.data, fg_tensor_nbytes(&a)) == 0, "prefixed checkpoint decodes bit-identically");
        fg_tensor_free(&z), fg_tensor_free(&a), fg_tensor_free(&b);
    }
    fg_vae *none = NULL;
    CHECK_ERR(load_vae(path, NULL, &none), "missing tensor 'encoder.conv_in.weight'");
    fg_vae_free(plain);
    fg_vae_free(pre);
}

/* F16 / BF16 copies: the widening inside the ops must be exact, so a half copy gives the same
 * result as an F32 file holding the same (rounded) values, up to f32 reassociation noise; against
 * the F32 golden the outputs move by the weight rounding (relative 2^-11 for F16, 2^-8 for BF16)
 * carried through ~40 layers: allowed 50x / 20x that relative step on outputs of size ~1. */
static void test_half_precision_copies(void) {
    const fg_dtype dts[2] = {FG_F16, FG_BF16};
    const double golden_tol[2] = {50 * 4.9e-4, 20 * 3.9e-3};
    fg_tensor z = golden_tensor("z"), want = golden_tensor("decoded");
    for (int k = 0; k < 2; k++) {
        const char *half = test_tmp_file("half.safetensors"), *rounded = test_tmp_file("rounded.safetensors");
        ae_copy_opts oh = {.convert = true, .dtype = dts[k]}, orr = {.convert = true, .dtype = dts[k], .round_only = true};
        if (!CHECK_OK(ae_write_copy(tiny_path, half, &oh)) || !CHECK_OK(ae_write_copy(tiny_path, rounded, &orr))) continue;
        fg_vae *mh = NULL, *mr = NULL;
        if (CHECK_OK(load_vae(half, NULL, &mh)) && CHECK_OK(load_vae(rounded, NULL, &mr))) {
            CHECK(fg_vae_config(mh)->dtype == dts[k]);
            fg_tensor a = decode(mh, &z), b = decode(mr, &z);
            int64_t n = fg_tensor_numel(&a);
            double same = vae_max_abs(a.data, b.data, n), vs_golden = vae_max_abs(a.data, want.data, n);
            printf("  %s weights: vs F32 file of the same values %.2e, vs golden %.2e (allowed %.1e)\n",
                   fg_dtype_name(dts[k]), same, vs_golden, golden_tol[k]);
            CHECK(same <= 1e-5);
            CHECK(vs_golden <= golden_tol[k]);
            fg_tensor_free(&a), fg_tensor_free(&b);
        }
        fg_vae_free(mh);
        fg_vae_free(mr);
    }
    fg_tensor_free(&z), fg_tensor_free(&want);
}

/* The GPU's path on the CPU: weights uploaded as BF16 (one block, fg_weights_upload), BF16
 * activations inside, F32 at the API. See BF16_ACT_TOL for the measured errors. */
static fg_error *load_uploaded_bf16(fg_vae **m) {
    fg_weights *file = NULL, *up = NULL;
    FG_TRY(fg_weights_open(tiny_path, &file));
    fg_error *err = fg_weights_upload(file, test_device(), FG_BF16, &up, NULL);
    fg_weights_close(file);
    if (!err) err = fg_vae_load(up, m);
    fg_weights_close(up); /* the model keeps its own reference */
    if (!err) err = fg_vae_set_act_dtype(*m, FG_BF16);
    return err;
}

/* Measured: decoded max |diff| 0.063 (outputs in [-1, 1]; BF16 weights alone give 0.028, see
 * test_half_precision_copies), moments 0.031. BF16's step is 2^-8 relative, carried through
 * ~40 layers with every activation rounded. About twice the measured values leaves room for
 * the GPU's summation order, while a wrong op moves the output by its own size (~1). */
#define BF16_ACT_TOL_DECODE 0.12
#define BF16_ACT_TOL_ENCODE 0.06

static void test_bf16_uploaded_golden(void) {
    fg_vae *m = NULL;
    if (!CHECK_OK(load_uploaded_bf16(&m))) return;
    fg_tensor z = golden_tensor("z"), want = golden_tensor("decoded");
    fg_tensor u8 = golden_tensor("pixels_u8"), want_mo = golden_tensor("moments");
    fg_tensor d = decode(m, &z), x = host(FG_F32, FG_SHAPE(1, 3, 64, 64));
    double ed = vae_max_abs(d.data, want.data, fg_tensor_numel(&want));
    CHECK_OK(fg_vae_u8_to_pixels(&x, &u8));
    fg_tensor mo = encode_moments(m, &x);
    double ee = vae_max_abs(mo.data, want_mo.data, fg_tensor_numel(&want_mo));
    printf("  bf16 decoded: max abs %.3g (limit %.2g); moments %.3g (limit %.2g)\n", ed, BF16_ACT_TOL_DECODE, ee,
           BF16_ACT_TOL_ENCODE);
    CHECK(ed <= BF16_ACT_TOL_DECODE && ee <= BF16_ACT_TOL_ENCODE, "%g %g", ed, ee);
    CHECK(ed > 0 && ee > 0, "BF16 activations round: an exact match means F32 ran");
    /* tiles blend in the caller's F32: one tile covering everything equals the plain decode */
    fg_tensor t = host(FG_F32, d.ndim, d.shape);
    if (CHECK_OK(fg_vae_decode_tiled(m, &z, 512, 64, &t)))
        CHECK(vae_max_abs(t.data, d.data, fg_tensor_numel(&d)) == 0.0);
    fg_tensor_free(&z), fg_tensor_free(&want), fg_tensor_free(&u8), fg_tensor_free(&want_mo);
    fg_tensor_free(&d), fg_tensor_free(&x), fg_tensor_free(&mo), fg_tensor_free(&t);
    CHECK_ERR(fg_vae_set_act_dtype(m, FG_F16), "F32 or BF16");
    fg_vae_free(m);
}

static void expect_load_error(const ae_copy_opts *o, const char *prefix, const char *needle) {
    const char *path = test_tmp_file("broken.safetensors");
    if (!CHECK_OK(ae_write_copy(tiny_path, path, o))) return;
    fg_vae *m = NULL;
    CHECK_ERR(load_vae(path, prefix, &m), needle);
    CHECK(m == NULL);
}

static void test_missing_or_misshaped_tensor_named(void) {
    expect_load_error(&(ae_copy_opts){.omit = "decoder.up.0.block.0.nin_shortcut.weight"}, NULL,
                      "missing tensor 'decoder.up.0.block.0.nin_shortcut.weight'");
    expect_load_error(&(ae_copy_opts){.prefix = "vae.", .omit = "encoder.mid.attn_1.proj_out.bias"}, "vae.",
                      "missing tensor 'vae.encoder.mid.attn_1.proj_out.bias'");
    expect_load_error(&(ae_copy_opts){.reshape = "encoder.mid.attn_1.q.weight", .new_ndim = 4, .new_shape = {64, 64, 3, 3}},
                      NULL, "'encoder.mid.attn_1.q.weight' has shape [64, 64, 3, 3] but the model needs [64, 64, 1, 1]");
    expect_load_error(&(ae_copy_opts){.reshape = "decoder.norm_out.bias", .new_ndim = 1, .new_shape = {31}}, NULL,
                      "'decoder.norm_out.bias' has shape [31]");
    expect_load_error(&(ae_copy_opts){.omit = "encoder.conv_in.weight"}, NULL, "missing tensor 'encoder.conv_in.weight'");
    expect_load_error(&(ae_copy_opts){.extra = "post_quant_conv.weight"}, NULL,
                      "'post_quant_conv.weight': an SD-style VAE, not the FLUX autoencoder");
    expect_load_error(&(ae_copy_opts){.reshape = "encoder.conv_in.weight", .new_ndim = 2, .new_shape = {32, 27}}, NULL,
                      "'encoder.conv_in.weight' has shape [32, 27], expected a 3x3 conv weight");
    /* ch is read from conv_in; the level widths must be multiples of it. */
    expect_load_error(&(ae_copy_opts){.reshape = "encoder.conv_in.weight", .new_ndim = 4, .new_shape = {48, 3, 3, 3}}, NULL,
                      "not a multiple of ch = 48");
    expect_load_error(&(ae_copy_opts){.reshape = "decoder.conv_in.weight", .new_ndim = 4, .new_shape = {64, 8, 3, 3}}, NULL,
                      "'encoder.conv_out.weight' has shape [32, 64, 3, 3] but the model needs [16, 64, 3, 3]");
}

/* ---- pixel helpers ---------------------------------------------------------------------- */

static void test_pixel_conversions(void) {
    fg_tensor u8 = host(FG_U8, FG_SHAPE(1, 16, 16, 3)), px = host(FG_F32, FG_SHAPE(1, 3, 16, 16));
    for (int i = 0; i < 768; i++) ((uint8_t *)u8.data)[i] = (uint8_t)(i * 7 % 256);
    if (CHECK_OK(fg_vae_u8_to_pixels(&px, &u8))) {
        int bad = 0;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 256; p++) {
                volatile float v = (float)((uint8_t *)u8.data)[p * 3 + c] / 255.0f;
                bad += ((float *)px.data)[c * 256 + p] != v * 2.0f - 1.0f;
            }
        CHECK(bad == 0, "%d pixels differ from float32 u8/255*2-1", bad);
    }
    const float d[8] = {-1.0f, 1.0f, 0.0f, 2.5f, -3.0f, NAN, 0.99999f, -0.992f};
    fg_tensor dec = host(FG_F32, FG_SHAPE(1, 3, 1, 8)), out = host(FG_U8, FG_SHAPE(1, 1, 8, 3));
    for (int c = 0; c < 3; c++) memcpy((float *)dec.data + c * 8, d, sizeof d);
    if (CHECK_OK(fg_vae_decoded_to_u8(&out, &dec))) {
        for (int i = 0; i < 8; i++) {
            float v = (d[i] + 1.0f) / 2.0f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            float s = 255.0f * v;
            uint8_t want = isnan(d[i]) ? 0 : (uint8_t)s;
            for (int c = 0; c < 3; c++) CHECK(((uint8_t *)out.data)[i * 3 + c] == want, "value %g", (double)d[i]);
        }
    }
    fg_tensor img = host(FG_F32, FG_SHAPE(1, 2, 2, 4)), p2 = host(FG_F32, FG_SHAPE(1, 3, 2, 2));
    for (int i = 0; i < 16; i++) ((float *)img.data)[i] = (float)i / 16.0f;
    if (CHECK_OK(fg_vae_image_to_pixels(&p2, &img)))
        CHECK(((float *)p2.data)[1 * 4 + 2] == 2.0f * (9.0f / 16.0f) - 1.0f, "channel 1 of pixel (1, 0)");
    CHECK_ERR(fg_vae_decoded_to_u8(&px, &dec), "does not match");
    fg_tensor_free(&u8), fg_tensor_free(&px), fg_tensor_free(&dec), fg_tensor_free(&out);
    fg_tensor_free(&img), fg_tensor_free(&p2);
}

/* ---- tiled (tests/vae/ae_tiled_tests.c) ------------------------------------------------ */

void test_tiled_decode_matches_comfyui_math(void);
void test_tiled_decode_close_to_untiled(void);
void test_tiled_single_tile_equals_decode(void);
void test_tiled_encode_matches_comfyui_math(void);
void test_tiled_batch_and_overlap_rule(void);

const char *vae_test_tiny_path(void) { return tiny_path; }

/* ---- --compare-probe -------------------------------------------------------------------- */

static const char *probe_path;

static void test_probe_output_matches_golden(void) {
    fg_safetensors *out = NULL;
    if (!CHECK_OK(fg_safetensors_open(probe_path, &out))) return;
    const char *names[6] = {"decoded", "moments", "mean", "mean_process_in", "z_process_out", "image_u8"};
    for (int i = 0; i < 6; i++) {
        fg_tensor a, b;
        if (!CHECK_OK(fg_safetensors_tensor(out, names[i], &a)) || !CHECK_OK(fg_safetensors_tensor(golden, names[i], &b))) continue;
        bool same = a.dtype == b.dtype && fg_tensor_same_shape(&a, &b);
        CHECK(same, "%s: dtype/shape", names[i]);
        if (!same) continue;
        int64_t n = fg_tensor_numel(&a);
        double err = 0;
        if (a.dtype == FG_U8) {
            for (int64_t j = 0; j < n; j++) {
                double dd = abs((int)((uint8_t *)a.data)[j] - (int)((uint8_t *)b.data)[j]);
                if (dd > err) err = dd;
            }
        } else {
            float *fa = malloc((size_t)n * 4), *fb = malloc((size_t)n * 4);
            memcpy(fa, a.data, (size_t)n * 4); /* file data may be unaligned */
            memcpy(fb, b.data, (size_t)n * 4);
            err = vae_max_abs(fa, fb, n);
            free(fa), free(fb);
        }
        double tol = a.dtype == FG_U8 ? 1 : GOLDEN_TOL;
        printf("  probe  %-16s max abs %.2e (tolerance %g)\n", names[i], err, tol);
        CHECK(err <= tol, "%s", names[i]);
    }
    fg_safetensors_close(out);
}

/* --write-checkpoint SRC DST: SRC's tensors under "vae." plus a tensor of another model, as
 * in a ComfyUI all-in-one checkpoint (for tests/test_probe_ae.sh). */
static int write_checkpoint(const char *src, const char *dst) {
    ae_copy_opts o = {.prefix = "vae.", .extra = "model.diffusion_model.img_in.weight"};
    fg_error *err = ae_write_copy(src, dst, &o);
    if (!err) return 0;
    fprintf(stderr, "%s\n", fg_error_message(err));
    fg_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--write-checkpoint") == 0) return write_checkpoint(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--compare-probe") == 0) probe_path = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--compare-probe FILE | --write-checkpoint SRC DST]\n", argv[0]);
        return 2;
    }
    snprintf(tiny_path, sizeof tiny_path, "%s", test_fixture("models/vae/tiny-ae.safetensors"));
    snprintf(golden_path, sizeof golden_path, "%s", test_fixture("golden/ae.safetensors"));
    fg_error *err = fg_safetensors_open(golden_path, &golden);
    if (err) {
        fprintf(stderr, "cannot open the golden file: %s\n", fg_error_message(err));
        fg_error_free(err);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (probe_path) {
        RUN_TEST(test_probe_output_matches_golden);
    } else {
        RUN_TEST(test_config_inferred_from_shapes);
        RUN_TEST(test_golden_decode);
        RUN_TEST(test_golden_encode);
        RUN_TEST(test_latent_format_matches_golden);
        RUN_TEST(test_batch_equals_single_samples);
        RUN_TEST(test_non_square_matches_reference);
        RUN_TEST(test_other_config_matches_reference);
        RUN_TEST(test_bad_arguments);
        RUN_TEST(test_decode_memory_bound);
        RUN_TEST(test_prefixed_checkpoint_identical);
        RUN_TEST(test_half_precision_copies);
        RUN_TEST(test_missing_or_misshaped_tensor_named);
        RUN_TEST(test_pixel_conversions);
        RUN_TEST(test_tiled_decode_matches_comfyui_math);
        RUN_TEST(test_tiled_decode_close_to_untiled);
        RUN_TEST(test_tiled_single_tile_equals_decode);
        RUN_TEST(test_tiled_encode_matches_comfyui_math);
        RUN_TEST(test_tiled_batch_and_overlap_rule);
        RUN_TEST(test_bf16_uploaded_golden);
    }
    fg_safetensors_close(golden);
    return test_summary();
}
