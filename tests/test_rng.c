/* The torch CPU generator against PyTorch 1.13.1's own numbers (tests/fixtures/golden/
 * rng.safetensors) and against properties derived from the algorithm (docs/comfyui.md 5.2).
 *
 *   test_rng                          all tests
 *   test_rng --compare-probe OUT [--golden FIXTURE]
 *                                     checks a `fluxgraph probe rng` output file against golden
 *                                     (FIXTURE relative to tests/fixtures) */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/safetensors.h"
#include "tests/testing.h"

static fg_safetensors *golden;

typedef struct golden_case {
    const char *name;
    uint64_t seed;
    const float *values;
    int64_t n;
} golden_case;

enum { MAX_CASES = 64 };
static golden_case cases[MAX_CASES];
static size_t case_count;

/* The metadata value is a JSON object like {"seed": "42", "shape": [...]}; the tests only need
 * the seed (a u64 decimal string; the shape is the stored tensor's). */
static bool extract_seed(const char *meta, uint64_t *seed) {
    json_t *root = meta ? json_loads(meta, 0, NULL) : NULL;
    const char *text = json_string_value(json_object_get(root, "seed"));
    char *end = NULL;
    bool ok = text && text[0] >= '0' && text[0] <= '9';
    if (ok) {
        errno = 0;
        *seed = strtoull(text, &end, 10);
        ok = errno == 0 && *end == '\0';
    }
    json_decref(root);
    return ok;
}

/* Every tensor of a fixture file as a case (seed from its metadata); st stays open. */
static bool load_cases(const char *fixture, fg_safetensors **st, golden_case *out, size_t *count) {
    *count = 0;
    if (!CHECK_OK(fg_safetensors_open(test_fixture(fixture), st))) return false;
    for (size_t i = 0; i < fg_safetensors_count(*st) && *count < MAX_CASES; i++) {
        const fg_st_entry *e = fg_safetensors_entry(*st, i);
        fg_tensor t;
        if (!CHECK_OK(fg_safetensors_entry_tensor(*st, e, &t))) return false;
        golden_case *c = &out[(*count)++];
        c->name = e->name;
        c->values = t.data;
        c->n = fg_tensor_numel(&t);
        CHECK(e->dtype == FG_F32, "%s: %s", fixture, e->name);
        CHECK(extract_seed(fg_safetensors_metadata(*st, e->name), &c->seed), "%s: seed of %s", fixture, e->name);
    }
    return !test_current_failed();
}

/* The AVX2 golden (torch 1.13.1 on x86), or with --golden another file of the same shape. */
static const char *golden_fixture = "golden/rng.safetensors";

static bool load_golden(void) { return load_cases(golden_fixture, &golden, cases, &case_count); }

static const golden_case *find_case(const char *name) {
    for (size_t i = 0; i < case_count; i++)
        if (strcmp(cases[i].name, name) == 0) return &cases[i];
    return NULL;
}

static void randn_seeded(uint64_t seed, float *out, int64_t n, fg_randn_variant variant) {
    fg_torch_generator g;
    fg_torch_manual_seed(&g, seed);
    fg_torch_randn(&g, out, n, variant);
}

static int64_t count_bit_equal(const float *a, const float *b, int64_t n) {
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) same += memcmp(&a[i], &b[i], sizeof a[i]) == 0;
    return same;
}

/* ---- engine -------------------------------------------------------------------------- */

static void test_mt19937_reference_outputs(void) {
    fg_torch_generator g;
    fg_torch_manual_seed(&g, 5489); /* std::mt19937's default seed */
    uint32_t first = fg_torch_random(&g), v = first;
    for (int i = 2; i <= 10000; i++) v = fg_torch_random(&g);
    CHECK(first == 3499211612u, "got %u", first);
    CHECK(v == 4123659995u, "10000th output %u", v); /* C++11 [rand.predef] */
}

static void test_random64_is_high_word_first(void) {
    fg_torch_generator a, b;
    fg_torch_manual_seed(&a, 7);
    fg_torch_manual_seed(&b, 7);
    for (int i = 0; i < 700; i++) { /* crosses a state regeneration */
        uint64_t hi = fg_torch_random(&b), lo = fg_torch_random(&b);
        uint64_t v = fg_torch_random64(&a);
        CHECK(v == ((hi << 32) | lo), "draw %d", i);
        if (test_current_failed()) return;
    }
}

static void test_seed_uses_low_32_bits(void) {
    const uint64_t pairs[][2] = {{(UINT64_C(1) << 32) + 5, 5}, {UINT64_C(0xFEDCBA9876543210), 0x76543210u}};
    for (size_t k = 0; k < 2; k++) {
        fg_torch_generator a, b;
        fg_torch_manual_seed(&a, pairs[k][0]);
        fg_torch_manual_seed(&b, pairs[k][1]);
        int equal = 0;
        for (int i = 0; i < 2000; i++) equal += fg_torch_random(&a) == fg_torch_random(&b);
        CHECK(equal == 2000, "pair %zu: %d of 2000 draws equal", k, equal);
    }
    float x[17], y[17];
    randn_seeded((UINT64_C(1) << 32) + 5, x, 17, FG_RANDN_AVX2);
    randn_seeded(5, y, 17, FG_RANDN_AVX2);
    CHECK(count_bit_equal(x, y, 17) == 17);
    randn_seeded(6, y, 17, FG_RANDN_AVX2); /* the comparison can tell seeds apart */
    CHECK(count_bit_equal(x, y, 17) == 0);
}

/* ---- golden values ----------------------------------------------------------------------- */

static void test_golden_has_every_case(void) {
    if (!load_golden() || strcmp(golden_fixture, "golden/rng.safetensors") != 0) return;
    int64_t vectorised = 0;
    for (size_t i = 0; i < case_count; i++) vectorised += cases[i].n >= 16 ? cases[i].n : 0;
    CHECK(case_count == 32, "%zu tensors", case_count);
    CHECK(vectorised == 274242, "%lld values of numel >= 16", (long long)vectorised);
    CHECK(find_case("big") && find_case("big")->n == 16 * 128 * 128);
    CHECK(find_case("prepare_noise") && find_case("prepare_noise")->n == 2 * 16 * 8 * 8);
}

static void test_golden_avx2_bit_exact(void) {
    CHECK(case_count > 0, "golden file not loaded");
    int64_t total = 0, total_same = 0;
    for (size_t i = 0; i < case_count; i++) {
        const golden_case *c = &cases[i];
        float *got = malloc((size_t)c->n * sizeof *got);
        if (!got) {
            CHECK(false, "out of memory");
            return;
        }
        randn_seeded(c->seed, got, c->n, FG_RANDN_AVX2);
        int64_t same = count_bit_equal(got, c->values, c->n);
        printf("  avx2   %-13s seed %-20llu n %6lld: %6lld exact (%.4f%%)\n", c->name,
               (unsigned long long)c->seed, (long long)c->n, (long long)same, 100.0 * (double)same / (double)c->n);
        CHECK(same == c->n, "%s: %lld of %lld values differ", c->name, (long long)(c->n - same), (long long)c->n);
        total += c->n;
        total_same += same;
        free(got);
    }
    printf("  avx2   all: %lld of %lld exact\n", (long long)total_same, (long long)total);
}

/* The DEFAULT (non-AVX2) build of PyTorch rounds theta = 2*pi*u2 from double instead of
 * computing it in float, which moves theta by up to one float ulp (4.8e-7 near 2*pi); times a
 * radius of up to ~4.5 that alone is 2.2e-6 (the largest gap over the fixtures, at big[85210]).
 * With float theta the remaining differences are libm's, at most 3 ulp. Hence 2.5e-6. */
#define SCALAR_VARIANT_ATOL 2.5e-6

static void test_golden_scalar_variant_close(void) {
    CHECK(case_count > 0, "golden file not loaded");
    for (size_t i = 0; i < case_count; i++) {
        const golden_case *c = &cases[i];
        float *got = malloc((size_t)c->n * sizeof *got);
        if (!got) {
            CHECK(false, "out of memory");
            return;
        }
        randn_seeded(c->seed, got, c->n, FG_RANDN_DEFAULT);
        double max_diff = 0;
        for (int64_t k = 0; k < c->n; k++) max_diff = fmax(max_diff, fabs((double)got[k] - c->values[k]));
        int64_t same = count_bit_equal(got, c->values, c->n);
        printf("  scalar %-13s n %6lld: %6lld exact (%.2f%%), max |diff| %.3g\n", c->name, (long long)c->n,
               (long long)same, 100.0 * (double)same / (double)c->n, max_diff);
        CHECK(max_diff <= SCALAR_VARIANT_ATOL, "%s: max diff %g", c->name, max_diff);
        /* numel < 16 takes the double path, which both variants share. */
        if (c->n < 16) CHECK(same == c->n, "%s: small path must be exact in both variants", c->name);
        free(got);
    }
}

/* torch's generic kernel, recorded by tools/rng_variants/ from torch itself: on x86-64 with
 * ATEN_CPU_CAPABILITY=default, and on aarch64 (qemu-user). Bit-exact, and each fixture must
 * tell the two variants apart (else it could not catch a wrong choice). */
static void check_default_variant_fixture(const char *fixture) {
    fg_safetensors *st = NULL;
    static golden_case var_cases[MAX_CASES];
    size_t n_cases = 0;
    if (!load_cases(fixture, &st, var_cases, &n_cases)) {
        fg_safetensors_close(st);
        return;
    }
    int64_t total = 0, exact = 0, unlike_avx2 = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const golden_case *c = &var_cases[i];
        float *got = malloc((size_t)c->n * sizeof *got), *avx2 = malloc((size_t)c->n * sizeof *avx2);
        CHECK(got && avx2, "out of memory");
        if (got && avx2) {
            randn_seeded(c->seed, got, c->n, FG_RANDN_DEFAULT);
            randn_seeded(c->seed, avx2, c->n, FG_RANDN_AVX2);
            int64_t same = count_bit_equal(got, c->values, c->n);
            CHECK(same == c->n, "%s %s: %lld of %lld values differ", fixture, c->name, (long long)(c->n - same),
                  (long long)c->n);
            total += c->n;
            exact += same;
            unlike_avx2 += c->n - count_bit_equal(avx2, c->values, c->n);
        }
        free(got);
        free(avx2);
    }
    printf("  default %s: %lld of %lld exact; %lld differ from the avx2 kernel\n", fixture, (long long)exact,
           (long long)total, (long long)unlike_avx2);
    CHECK(n_cases >= 30 && total > 60000, "%s: %zu cases, %lld values", fixture, n_cases, (long long)total);
    CHECK(unlike_avx2 > 1000, "%s does not tell the kernels apart", fixture);
    fg_safetensors_close(st);
}

static void test_default_variant_x86_fixture(void) { check_default_variant_fixture("golden/rng_default.safetensors"); }

/* The same seeds drawn by torch 2.15 for aarch64 under qemu-user (SVE128, like the DGX Spark's
 * cores; DEFAULT, SVE256 and 512-bit SVE gave identical files): what auto picks there. */
static void test_default_variant_aarch64_fixture(void) {
    check_default_variant_fixture("golden/rng_aarch64.safetensors");
}

/* What auto picks: torch's AVX2 kernel needs AVX2 and FMA on x86-64; aarch64 has no such kernel. */
static void test_native_variant(void) {
    fg_randn_variant v = FG_RANDN_AVX2;
    CHECK(fg_randn_variant_parse("auto", &v) && v == fg_randn_native_variant());
    CHECK(fg_randn_variant_parse("avx2", &v) && v == FG_RANDN_AVX2);
    CHECK(fg_randn_variant_parse("default", &v) && v == FG_RANDN_DEFAULT);
    CHECK(!fg_randn_variant_parse("AVX2", &v) && !fg_randn_variant_parse("", &v) && !fg_randn_variant_parse(NULL, &v));
    CHECK(strcmp(fg_randn_variant_name(FG_RANDN_DEFAULT), "default") == 0);
    CHECK(strcmp(fg_randn_variant_name(FG_RANDN_AVX2), "avx2") == 0);
#if defined(__aarch64__)
    CHECK(fg_randn_native_variant() == FG_RANDN_DEFAULT);
#elif defined(__x86_64__)
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    CHECK(fg_randn_native_variant() == (avx2 ? FG_RANDN_AVX2 : FG_RANDN_DEFAULT));
#endif
    printf("  native variant here: %s\n", fg_randn_variant_name(fg_randn_native_variant()));
}

/* ---- properties of the algorithm --------------------------------------------------------- */

/* at::normal_distribution<double> written out from docs/comfyui.md 5.2, independently of core/rng.c's
 * code path: pairs from 53-bit uniforms, cos first, sin kept for the next element. */
static void reference_small_normals(uint64_t seed, float *out, int n) {
    fg_torch_generator g;
    fg_torch_manual_seed(&g, seed);
    for (int i = 0; i < n; i += 2) {
        double u1 = (double)(fg_torch_random64(&g) & ((UINT64_C(1) << 53) - 1)) / 9007199254740992.0;
        double u2 = (double)(fg_torch_random64(&g) & ((UINT64_C(1) << 53) - 1)) / 9007199254740992.0;
        double r = sqrt(-2.0 * log1p(-u2)), theta = 2.0 * M_PI * u1;
        out[i] = (float)(r * cos(theta));
        if (i + 1 < n) out[i + 1] = (float)(r * sin(theta));
    }
}

static void test_small_randn_continues_cached_normal(void) {
    for (uint64_t seed = 0; seed < 4; seed++) {
        fg_torch_generator g;
        fg_torch_manual_seed(&g, seed);
        float got[10], want[10];
        fg_torch_randn(&g, got, 5, FG_RANDN_AVX2);
        fg_torch_randn(&g, got + 5, 5, FG_RANDN_AVX2); /* starts with the sin cached by call 1 */
        reference_small_normals(seed, want, 10);
        CHECK(count_bit_equal(got, want, 10) == 10, "seed %llu", (unsigned long long)seed);
    }
    /* Torch's own numbers: three randn(5) calls are one randn(15) (golden sK_x1). */
    int fifteen = 0;
    for (size_t i = 0; i < case_count; i++) {
        const golden_case *c = &cases[i];
        if (c->n != 15) continue;
        fifteen++;
        fg_torch_generator g;
        fg_torch_manual_seed(&g, c->seed);
        float got[15];
        for (int k = 0; k < 3; k++) fg_torch_randn(&g, got + 5 * k, 5, FG_RANDN_AVX2);
        CHECK(count_bit_equal(got, c->values, 15) == 15, "%s as 3 x randn(5)", c->name);
    }
    CHECK(fifteen == 5, "%d golden randn(15) cases", fifteen);
}

static void test_manual_seed_clears_cached_normal(void) {
    fg_torch_generator g;
    fg_torch_manual_seed(&g, 0);
    float first[5], again[5];
    fg_torch_randn(&g, first, 5, FG_RANDN_AVX2); /* leaves a cached value */
    CHECK(g.has_cached_normal);
    fg_torch_manual_seed(&g, 0);
    CHECK(!g.has_cached_normal);
    fg_torch_randn(&g, again, 5, FG_RANDN_AVX2);
    CHECK(count_bit_equal(first, again, 5) == 5);
}

/* n % 16 != 0: all n uniforms, the full blocks, then 16 fresh draws over the last 16. */
static void test_tail_redraws_last_sixteen(void) {
    for (fg_randn_variant v = FG_RANDN_AVX2; v <= FG_RANDN_DEFAULT; v++) {
        float got[17], head[16], tail[16];
        randn_seeded(3, got, 17, v);
        randn_seeded(3, head, 16, v);
        fg_torch_generator g;
        fg_torch_manual_seed(&g, 3);
        for (int k = 0; k < 17; k++) (void)fg_torch_random(&g);
        fg_torch_randn(&g, tail, 16, v);
        CHECK(memcmp(&got[0], &head[0], sizeof got[0]) == 0, "variant %d", (int)v);
        CHECK(count_bit_equal(got + 1, tail, 16) == 16, "variant %d", (int)v);
    }
}

static void test_zero_elements_draw_nothing(void) {
    fg_torch_generator a, b;
    fg_torch_manual_seed(&a, 11);
    fg_torch_manual_seed(&b, 11);
    float unused = 0;
    fg_torch_randn(&a, &unused, 0, FG_RANDN_AVX2);
    CHECK(fg_torch_random(&a) == fg_torch_random(&b));
}

/* ---- --compare-probe --------------------------------------------------------------------- */

static const char *probe_out_path;

static void test_probe_output_matches_golden(void) {
    fg_safetensors *out = NULL;
    CHECK(case_count > 0, "golden file not loaded");
    if (!CHECK_OK(fg_safetensors_open(probe_out_path, &out))) return;
    CHECK(fg_safetensors_count(out) == case_count, "%zu tensors in the probe output, %zu in golden",
          fg_safetensors_count(out), case_count);
    for (size_t i = 0; i < case_count; i++) {
        const fg_st_entry *g = fg_safetensors_find(golden, cases[i].name);
        const fg_st_entry *e = fg_safetensors_find(out, cases[i].name);
        fg_tensor t;
        if (!e || !CHECK_OK(fg_safetensors_entry_tensor(out, e, &t))) {
            CHECK(e, "%s missing from the probe output", cases[i].name);
            continue;
        }
        bool same_shape = e->dtype == g->dtype && e->ndim == g->ndim &&
                          memcmp(e->shape, g->shape, (size_t)g->ndim * sizeof g->shape[0]) == 0;
        CHECK(same_shape, "%s: dtype/shape differ", cases[i].name);
        if (!same_shape) continue;
        int64_t same = count_bit_equal(t.data, cases[i].values, cases[i].n);
        printf("  probe  %-13s %lld / %lld bit-exact\n", cases[i].name, (long long)same, (long long)cases[i].n);
        CHECK(same == cases[i].n, "%s", cases[i].name);
    }
    const char *seed_meta = fg_safetensors_metadata(out, "big");
    CHECK(seed_meta && strcmp(seed_meta, fg_safetensors_metadata(golden, "big")) == 0, "metadata copied through");
    CHECK(fg_safetensors_metadata_count(out) == fg_safetensors_metadata_count(golden));
    fg_safetensors_close(out);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--compare-probe") == 0) probe_out_path = argv[2];
    else if (argc == 5 && strcmp(argv[1], "--compare-probe") == 0 && strcmp(argv[3], "--golden") == 0) {
        probe_out_path = argv[2];
        golden_fixture = argv[4];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--compare-probe FILE [--golden FIXTURE]]\n", argv[0]);
        return 2;
    }
    RUN_TEST(test_golden_has_every_case); /* loads the golden file first */
    if (probe_out_path) {
        RUN_TEST(test_probe_output_matches_golden);
    } else {
        RUN_TEST(test_mt19937_reference_outputs);
        RUN_TEST(test_random64_is_high_word_first);
        RUN_TEST(test_seed_uses_low_32_bits);
        RUN_TEST(test_golden_avx2_bit_exact);
        RUN_TEST(test_golden_scalar_variant_close);
        RUN_TEST(test_default_variant_x86_fixture);
        RUN_TEST(test_default_variant_aarch64_fixture);
        RUN_TEST(test_native_variant);
        RUN_TEST(test_small_randn_continues_cached_normal);
        RUN_TEST(test_manual_seed_clears_cached_normal);
        RUN_TEST(test_tail_redraws_last_sixteen);
        RUN_TEST(test_zero_elements_draw_nothing);
    }
    if (golden) fg_safetensors_close(golden);
    return test_summary();
}
