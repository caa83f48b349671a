/* PyTorch's CPU generator (mt19937 + randn), bit for bit (docs/comfyui.md 5.2).
 *
 * The AVX2 kernel of PyTorch is reproduced lane by lane in scalar C. The build uses
 * -ffp-contract=off, so every multiply-add that the reference build's compiler fused is written
 * as an explicit fmaf(), and every other operation rounds on its own: changing either breaks
 * bit-exactness in ~1% of values. */
#include "core/rng.h"

#include <math.h>
#include <string.h>

enum { MT_N = 624, MT_M = 397 };
#define MT_MATRIX_A 0x9908B0DFu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7FFFFFFFu

void fg_torch_manual_seed(fg_torch_generator *g, uint64_t seed) {
    g->state[0] = (uint32_t)(seed & 0xFFFFFFFFu);
    for (uint32_t j = 1; j < MT_N; j++)
        g->state[j] = 1812433253u * (g->state[j - 1] ^ (g->state[j - 1] >> 30)) + j;
    g->left = 1;
    g->next = 0;
    g->has_cached_normal = false;
    g->cached_normal = 0.0;
}

static uint32_t mt_twist(uint32_t u, uint32_t v) {
    uint32_t mixed = (u & MT_UPPER) | (v & MT_LOWER);
    return (mixed >> 1) ^ ((v & 1u) ? MT_MATRIX_A : 0u);
}

static void mt_regenerate(fg_torch_generator *g) {
    uint32_t *s = g->state;
    for (int k = 0; k < MT_N; k++) s[k] = s[(k + MT_M) % MT_N] ^ mt_twist(s[k], s[(k + 1) % MT_N]);
    g->left = MT_N;
    g->next = 0;
}

uint32_t fg_torch_random(fg_torch_generator *g) {
    if (--g->left == 0) mt_regenerate(g);
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

uint64_t fg_torch_random64(fg_torch_generator *g) {
    uint64_t hi = fg_torch_random(g);
    uint64_t lo = fg_torch_random(g);
    return (hi << 32) | lo;
}

/* at::uniform_real_distribution<float>(0, 1): the low 24 bits, exactly representable. */
static float uniform_f32(fg_torch_generator *g) {
    return (float)(fg_torch_random(g) & 0x00FFFFFFu) * 0x1p-24f;
}

static double uniform_f64(fg_torch_generator *g) {
    return (double)(fg_torch_random64(g) & ((UINT64_C(1) << 53) - 1)) * 0x1p-53;
}

/* ---- AVX2 kernel lane: Cephes log / sincos (Pommier's avx_mathfun) ----------------- */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float cephes_logf(float x) {
    const bool invalid = x <= 0.0f; /* ordered compare: NaN is not flagged, as in _CMP_LE_OS */
    x = fmaxf(x, 1.17549435e-38f);
    int32_t e_int = (int32_t)(f2u(x) >> 23) - 127;
    x = u2f((f2u(x) & ~0x7F800000u) | f2u(0.5f));
    float e = (float)e_int + 1.0f;
    const bool below_sqrthf = x < 0.707106781186547524f;
    const float tmp = below_sqrthf ? x : 0.0f;
    x = x - 1.0f;
    e = e - (below_sqrthf ? 1.0f : 0.0f);
    x = x + tmp;

    const float z = x * x;
    float y = 7.0376836292E-2f;
    y = fmaf(y, x, -1.1514610310E-1f);
    y = fmaf(y, x, 1.1676998740E-1f);
    y = fmaf(y, x, -1.2420140846E-1f);
    y = fmaf(y, x, 1.4249322787E-1f);
    y = fmaf(y, x, -1.6668057665E-1f);
    y = fmaf(y, x, 2.0000714765E-1f);
    y = fmaf(y, x, -2.4999993993E-1f);
    y = fmaf(y, x, 3.3333331174E-1f);
    y = y * x;
    const float e_q1 = e * -2.12194440E-4f;
    y = fmaf(y, z, e_q1);
    const float half_z = z * 0.5f;
    y = y - half_z;
    const float e_q2 = e * 0.693359375f;
    x = x + y;
    x = x + e_q2;
    return invalid ? NAN : x;
}

/* Selections and sign flips follow the vector code's mask arithmetic literally, so even
 * signed zeros come out as PyTorch's do. */
static void cephes_sincosf(float x, float *s_out, float *c_out) {
    uint32_t sign_sin = f2u(x) & 0x80000000u;
    x = u2f(f2u(x) & 0x7FFFFFFFu);
    float y = x * 1.27323954473516f;
    int32_t j = (int32_t)y; /* cvttps: truncation; theta < 2*pi keeps it in range */
    j = (j + 1) & ~1;
    y = (float)j;
    const uint32_t swap_sin = ((uint32_t)j & 4u) << 29;
    const bool poly_sin = (j & 2) == 0;
    x = fmaf(y, -0.78515625f, x);
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);
    const uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    sign_sin ^= swap_sin;

    const float z = x * x;
    float c = fmaf(2.443315711809948E-5f, z, -1.388731625493765E-3f);
    c = fmaf(c, z, 4.166664568298827E-2f);
    c = c * z;
    const float half_z = z * 0.5f;
    c = fmaf(c, z, -half_z);
    c = c + 1.0f;

    float s = fmaf(-1.9515295891E-4f, z, 8.3321608736E-3f);
    s = fmaf(s, z, -1.6666654611E-1f);
    s = s * z;
    s = fmaf(s, x, x);

    const float sin_part = poly_sin ? s : 0.0f; /* mask & s */
    const float cos_part = poly_sin ? 0.0f : c; /* ~mask & c */
    s = s - sin_part;
    c = c - cos_part;
    const float ys = cos_part + sin_part;
    const float yc = c + s;
    *s_out = u2f(f2u(ys) ^ sign_sin);
    *c_out = u2f(f2u(yc) ^ sign_cos);
}

/* normal_fill_16_AVX2 with mean 0, std 1: the final fma(n, std, mean) only turns -0 into +0. */
static void normal16_avx2(float *d) {
    for (int j = 0; j < 8; j++) {
        const float u1 = 1.0f - d[j];
        const float u2 = d[j + 8];
        const float radius = sqrtf(-2.0f * cephes_logf(u1));
        const float theta = 6.2831855f * u2;
        float sin_t, cos_t;
        cephes_sincosf(theta, &sin_t, &cos_t);
        const float n1 = radius * cos_t;
        const float n2 = radius * sin_t;
        d[j] = fmaf(n1, 1.0f, 0.0f);
        d[j + 8] = fmaf(n2, 1.0f, 0.0f);
    }
}

/* normal_fill_16 of the DEFAULT (non-AVX2) build: libm float functions, theta in double. */
static void normal16_default(float *d) {
    for (int j = 0; j < 8; j++) {
        const float u1 = 1.0f - d[j];
        const float u2 = d[j + 8];
        const float radius = sqrtf(-2.0f * logf(u1));
        const float theta = (float)(2.0 * 3.14159265358979323846 * (double)u2);
        d[j] = radius * cosf(theta) * 1.0f + 0.0f;
        d[j + 8] = radius * sinf(theta) * 1.0f + 0.0f;
    }
}

/* at::normal_distribution<double>: Box-Muller on two 53-bit uniforms, second value cached in
 * the generator (so consecutive small randn calls share pairs). */
static double normal_f64(fg_torch_generator *g) {
    if (g->has_cached_normal) {
        g->has_cached_normal = false;
        return g->cached_normal;
    }
    const double u1 = uniform_f64(g);
    const double u2 = uniform_f64(g);
    const double r = sqrt(-2.0 * log1p(-u2));
    const double theta = 2.0 * 3.14159265358979323846 * u1;
    g->cached_normal = r * sin(theta);
    g->has_cached_normal = true;
    return r * cos(theta);
}

void fg_torch_randn(fg_torch_generator *g, float *out, int64_t n, fg_randn_variant variant) {
    if (n <= 0) return;
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)normal_f64(g);
        return;
    }
    void (*block16)(float *) = variant == FG_RANDN_DEFAULT ? normal16_default : normal16_avx2;
    for (int64_t i = 0; i < n; i++) out[i] = uniform_f32(g);
    for (int64_t i = 0; i + 16 <= n; i += 16) block16(out + i);
    if (n % 16 != 0) {
        /* PyTorch redraws the last 16 (overlapping the last full block) rather than a tail. */
        float *tail = out + n - 16;
        for (int k = 0; k < 16; k++) tail[k] = uniform_f32(g);
        block16(tail);
    }
}

fg_randn_variant fg_randn_native_variant(void) {
#if defined(__x86_64__) || defined(__i386__)
    /* torch's cpuinfo check for its AVX2 capability: both AVX2 and FMA3. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FG_RANDN_AVX2;
#endif
    return FG_RANDN_DEFAULT;
}

bool fg_randn_variant_parse(const char *name, fg_randn_variant *out) {
    if (!name) return false;
    if (strcmp(name, "auto") == 0) *out = fg_randn_native_variant();
    else if (strcmp(name, "avx2") == 0) *out = FG_RANDN_AVX2;
    else if (strcmp(name, "default") == 0) *out = FG_RANDN_DEFAULT;
    else return false;
    return true;
}

const char *fg_randn_variant_name(fg_randn_variant v) { return v == FG_RANDN_DEFAULT ? "default" : "avx2"; }
