/* Unit tests of the core runtime: dtype conversions (checked against expectations derived from
 * first principles: each format's value formula and a brute-force nearest-value search with
 * ties to even), errors, shapes and tensors, the thread pool and the progress bar. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "tests/testing.h"

/* ---- small binary formats from their definition ------------------------------------------- */

typedef struct {
    const char *name;
    int ebits, mbits, bias;
    bool ieee_specials; /* all-ones exponent = inf/NaN (f16, e5m2); else e4m3fn's single NaN */
    bool saturate;      /* finite overflow goes to the max, not inf */
    int nbits;
} minifmt;

static const minifmt F16 = {"f16", 5, 10, 15, true, false, 16};
static const minifmt E4M3 = {"e4m3", 4, 3, 7, false, true, 8};
static const minifmt E5M2 = {"e5m2", 5, 2, 15, true, true, 8};

static double mini_decode(const minifmt *f, uint32_t code) {
    uint32_t sign = code >> (f->ebits + f->mbits) & 1, e = (code >> f->mbits) & ((1u << f->ebits) - 1);
    uint32_t m = code & ((1u << f->mbits) - 1), emax = (1u << f->ebits) - 1;
    double v;
    if (f->ieee_specials && e == emax) v = m ? NAN : INFINITY;
    else if (!f->ieee_specials && e == emax && m == (1u << f->mbits) - 1) v = NAN;
    else if (e == 0) v = ldexp((double)m, 1 - f->bias - f->mbits);
    else v = ldexp((double)((1u << f->mbits) + m), (int)e - f->bias - f->mbits);
    return sign ? -v : v;
}

/* Largest finite positive code. */
static uint32_t mini_max_code(const minifmt *f) {
    uint32_t top = (1u << (f->ebits + f->mbits)) - 1; /* all ones without sign */
    return f->ieee_specials ? ((top >> f->mbits) << f->mbits) - 1 : top - 1;
}

static uint32_t mini_call_encode(const minifmt *f, float x) {
    if (f == &F16) return fg_f32_to_f16(x);
    if (f == &E4M3) return fg_f32_to_e4m3(x);
    return fg_f32_to_e5m2(x);
}

static double mini_call_decode(const minifmt *f, uint32_t c) {
    if (f == &F16) return fg_f16_to_f32((uint16_t)c);
    if (f == &E4M3) return fg_e4m3_to_f32((uint8_t)c);
    return fg_e5m2_to_f32((uint8_t)c);
}

/* The expected code of a finite x: the nearest representable value, ties to the even code;
 * above the max either saturate or, past the rounding midpoint, infinity. */
static uint32_t mini_expected(const minifmt *f, double x) {
    uint32_t sign = signbit(x) ? 1u << (f->ebits + f->mbits) : 0;
    double a = fabs(x);
    uint32_t maxc = mini_max_code(f);
    double maxv = mini_decode(f, maxc);
    if (a > maxv) {
        if (f->saturate) return sign | maxc;
        double next = maxv + (maxv - mini_decode(f, maxc - 1)); /* the next value the grid would have */
        if (a > (maxv + next) / 2 || (a == (maxv + next) / 2 && ((maxc + 1) % 2 == 0))) return sign | (maxc + 1);
        return sign | maxc;
    }
    if (mini_decode(f, maxc) <= a) return sign | maxc;
    uint32_t lo = 0, hi = maxc; /* positive codes are ordered by value: value(lo) <= a < value(hi) */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (mini_decode(f, mid) <= a) lo = mid;
        else hi = mid;
    }
    double dl = a - mini_decode(f, lo), dh = mini_decode(f, hi) - a;
    return sign | (dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi));
}

static void check_minifloat(const minifmt *f) {
    uint32_t ncodes = 1u << f->nbits;
    int bad_decode = 0, bad_round_trip = 0, bad_mid = 0, bad_rand = 0;
    for (uint32_t c = 0; c < ncodes; c++) {
        double want = mini_decode(f, c), got = mini_call_decode(f, c);
        if (isnan(want) ? !isnan(got) : (got != want || signbit(got) != signbit(want))) bad_decode++;
        if (!isnan(want) && mini_call_encode(f, (float)want) != c) bad_round_trip++;
    }
    /* midpoints between neighbours (exact ties) and just beside them */
    for (uint32_t c = 0; c < mini_max_code(f); c++) {
        double mid = (mini_decode(f, c) + mini_decode(f, c + 1)) / 2;
        float probes[3] = {(float)mid, nextafterf((float)mid, 0), nextafterf((float)mid, INFINITY)};
        for (int k = 0; k < 3; k++) {
            if (mini_call_encode(f, probes[k]) != mini_expected(f, probes[k])) bad_mid++;
            if (mini_call_encode(f, -probes[k]) != mini_expected(f, -probes[k])) bad_mid++;
        }
    }
    uint64_t s = 12345;
    double maxv = mini_decode(f, mini_max_code(f));
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1p-53;
        /* log-uniform from below the smallest subnormal to beyond the max */
        double mag = exp2(-(f->bias + f->mbits + 3) + u * (log2(maxv) + f->bias + f->mbits + 5));
        float x = (float)((s >> 3) & 1 ? -mag : mag);
        if (mini_call_encode(f, x) != mini_expected(f, x)) {
            if (bad_rand++ < 3)
                test_fail_at(__FILE__, __LINE__, "%s: %.9g -> 0x%x, want 0x%x", f->name, x, mini_call_encode(f, x),
                             mini_expected(f, x));
        }
    }
    CHECK(bad_decode == 0, "%s: %d codes decode wrong", f->name, bad_decode);
    CHECK(bad_round_trip == 0, "%s: %d codes do not round trip", f->name, bad_round_trip);
    CHECK(bad_mid == 0, "%s: %d midpoint probes round wrong", f->name, bad_mid);
    CHECK(bad_rand == 0, "%s: %d random values round wrong", f->name, bad_rand);
}

static void test_f16(void) {
    check_minifloat(&F16);
    CHECK(fg_f16_to_f32(0x3C00) == 1.0f && fg_f16_to_f32(0x7BFF) == 65504.0f && fg_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(fg_f32_to_f16(0x1p-24f) == 0x0001);
    CHECK(fg_f32_to_f16(0x1p-25f) == 0x0000, "tie to even (0)");
    CHECK(fg_f32_to_f16(0x3p-25f) == 0x0002, "tie to even (2)");
    CHECK(fg_f32_to_f16(65519.0f) == 0x7BFF);
    CHECK(fg_f32_to_f16(65520.0f) == 0x7C00, "the midpoint to 2^16 rounds to inf");
    CHECK(fg_f32_to_f16(1e6f) == 0x7C00 && fg_f32_to_f16(-1e6f) == 0xFC00);
    CHECK(fg_f32_to_f16(INFINITY) == 0x7C00);
    uint16_t n = fg_f32_to_f16(NAN);
    CHECK((n & 0x7C00) == 0x7C00 && (n & 0x3FF) != 0, "NaN stays NaN: 0x%x", n);
    CHECK(fg_f32_to_f16(-0.0f) == 0x8000);
}

static void test_e4m3(void) {
    check_minifloat(&E4M3);
    CHECK(fg_e4m3_to_f32(0x7E) == 448.0f && fg_e4m3_to_f32(0xFE) == -448.0f);
    CHECK(fg_e4m3_to_f32(0x38) == 1.0f && fg_e4m3_to_f32(0x08) == 0x1p-6f && fg_e4m3_to_f32(0x01) == 0x1p-9f);
    CHECK(isnan(fg_e4m3_to_f32(0x7F)) && isnan(fg_e4m3_to_f32(0xFF)));
    CHECK(fg_e4m3_to_f32(0x78) == 256.0f, "e4m3fn has no infinities");
    CHECK(fg_f32_to_e4m3(500.0f) == 0x7E && fg_f32_to_e4m3(1e9f) == 0x7E && fg_f32_to_e4m3(INFINITY) == 0x7E);
    CHECK(fg_f32_to_e4m3(-500.0f) == 0xFE && fg_f32_to_e4m3(-INFINITY) == 0xFE);
    CHECK((fg_f32_to_e4m3(NAN) & 0x7F) == 0x7F);
    CHECK(fg_f32_to_e4m3(432.0f) == 0x7E, "midpoint 416|448 -> even 448");
    CHECK(fg_f32_to_e4m3(1.0625f) == 0x38, "midpoint 1|1.125 -> even 1");
    CHECK(fg_f32_to_e4m3(1.1875f) == 0x3A, "midpoint 1.125|1.25 -> even 1.25");
}

static void test_e5m2(void) {
    check_minifloat(&E5M2);
    CHECK(fg_e5m2_to_f32(0x7B) == 57344.0f && fg_e5m2_to_f32(0x3C) == 1.0f && fg_e5m2_to_f32(0x01) == 0x1p-16f);
    CHECK(isinf(fg_e5m2_to_f32(0x7C)) && isinf(fg_e5m2_to_f32(0xFC)) && fg_e5m2_to_f32(0xFC) < 0);
    CHECK(isnan(fg_e5m2_to_f32(0x7D)) && isnan(fg_e5m2_to_f32(0x7F)));
    CHECK(fg_f32_to_e5m2(60000.0f) == 0x7B && fg_f32_to_e5m2(1e9f) == 0x7B && fg_f32_to_e5m2(-1e9f) == 0xFB);
    CHECK(fg_f32_to_e5m2(INFINITY) == 0x7C && fg_f32_to_e5m2(-INFINITY) == 0xFC);
    uint8_t n = fg_f32_to_e5m2(NAN);
    CHECK((n & 0x7C) == 0x7C && (n & 3) != 0);
    CHECK(fg_f32_to_e5m2(1.125f) == 0x3C, "midpoint 1|1.25 -> even 1");
    CHECK(fg_f32_to_e5m2(1.375f) == 0x3E, "midpoint 1.25|1.5 -> even 1.5");
}

/* bf16 is the top half of an f32: the expected result is whichever of the two neighbouring
 * truncations is nearer, ties to the even one, with 2^128 standing in beyond the max. */
static uint16_t bf16_expected(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t t = (uint16_t)(u >> 16);
    if ((u & 0xFFFF) == 0) return t;
    double lo = fabs((double)fg_bf16_to_f32(t));
    double hi = (t & 0x7FFF) == 0x7F7F ? 0x1p128 : fabs((double)fg_bf16_to_f32((uint16_t)(t + 1)));
    double a = fabs((double)x);
    if (a - lo < hi - a) return t;
    if (hi - a < a - lo) return (uint16_t)(t + 1);
    return (t & 1) ? (uint16_t)(t + 1) : t;
}

static void test_bf16(void) {
    uint64_t s = 777;
    int bad = 0;
    for (int i = 0; i < 1000000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t u = (uint32_t)(s >> 32);
        if (i % 4 == 0) u = (u & 0xFFFF0000u) | 0x8000u; /* exact ties */
        float x;
        memcpy(&x, &u, 4);
        if (isnan(x) || isinf(x)) continue;
        if (fg_f32_to_bf16(x) != bf16_expected(x) && bad++ < 3)
            test_fail_at(__FILE__, __LINE__, "bf16 of 0x%08x: 0x%04x, want 0x%04x", u, fg_f32_to_bf16(x), bf16_expected(x));
    }
    CHECK(bad == 0, "%d values", bad);
    CHECK(fg_f32_to_bf16(1.0f + 0x1p-8f) == 0x3F80, "tie to even down");
    CHECK(fg_f32_to_bf16(1.0f + 0x3p-8f) == 0x3F82, "tie to even up");
    CHECK(fg_f32_to_bf16(3.4028235e38f) == 0x7F80, "max float rounds to inf");
    CHECK(fg_f32_to_bf16(INFINITY) == 0x7F80 && fg_f32_to_bf16(-INFINITY) == 0xFF80);
    uint32_t snan_bits = 0xFF800001u; /* signalling NaN with the low bits only */
    float snan;
    memcpy(&snan, &snan_bits, 4);
    uint16_t q = fg_f32_to_bf16(snan);
    CHECK((q & 0x7F80) == 0x7F80 && (q & 0x40) && (q & 0x8000), "NaN kept, quiet, signed: 0x%04x", q);
    for (uint32_t c = 0; c < 65536; c++) {
        float v = fg_bf16_to_f32((uint16_t)c);
        if (!isnan(v) && fg_f32_to_bf16(v) != c) bad++;
    }
    CHECK(bad == 0, "bf16 round trip");
}

static void test_bulk_conversions(void) {
    float src[8] = {1.5f, -2.25f, 448.0f, 1e-3f, 3.7f, -3.7f, 1e10f, NAN};
    for (fg_dtype dt = FG_F32; dt <= FG_F8_E5M2; dt++) {
        unsigned char buf[64];
        float back[8];
        fg_convert_from_f32(buf, dt, src, 7);
        fg_convert_to_f32(back, buf, dt, 7);
        for (int i = 0; i < 7; i++) {
            float one;
            unsigned char b1[8];
            fg_convert_from_f32(b1, dt, &src[i], 1);
            fg_convert_to_f32(&one, b1, dt, 1);
            CHECK(one == back[i] || (isnan(one) && isnan(back[i])), "%s element %d", fg_dtype_name(dt), i);
        }
    }
    int32_t i32[8];
    fg_convert_from_f32(i32, FG_I32, src, 8);
    CHECK(i32[0] == 1 && i32[1] == -2 && i32[4] == 3 && i32[5] == -3 && i32[6] == INT32_MAX && i32[7] == 0);
    uint8_t u8[8];
    fg_convert_from_f32(u8, FG_U8, src, 8);
    CHECK(u8[0] == 1 && u8[1] == 0 && u8[2] == 255);
    fg_convert_from_f32(u8, FG_BOOL, (const float[]){0.0f, -0.0f, 0.5f}, 3);
    CHECK(u8[0] == 0 && u8[1] == 0 && u8[2] == 1);
    int64_t i64[2] = {-7, (int64_t)1 << 40};
    float f[2];
    fg_convert_to_f32(f, i64, FG_I64, 2);
    CHECK(f[0] == -7.0f && f[1] == 0x1p40f);
}

static void test_dtype_names(void) {
    for (fg_dtype dt = 0; dt < FG_DTYPE_COUNT; dt++) {
        fg_dtype back;
        CHECK(fg_dtype_from_name(fg_dtype_name(dt), &back) == 0 && back == dt, "%s", fg_dtype_name(dt));
        CHECK(fg_dtype_size(dt) >= 1 && fg_dtype_size(dt) <= 8);
    }
    fg_dtype dummy;
    CHECK(fg_dtype_from_name("F64", &dummy) == -1);
    CHECK(fg_dtype_size(FG_BF16) == 2 && fg_dtype_size(FG_I64) == 8 && fg_dtype_size(FG_F8_E4M3) == 1);
    CHECK(fg_dtype_is_float(FG_F8_E5M2) && !fg_dtype_is_float(FG_I32) && !fg_dtype_is_float(FG_DTYPE_COUNT));
    CHECK(fg_dtype_size(FG_DTYPE_COUNT) == 0 && strcmp(fg_dtype_name((fg_dtype)99), "?") == 0);
}

/* ---- errors, shapes, tensors ----------------------------------------------------------------- */

static fg_error *inner_failure(int n) { return fg_errorf(FG_ERR_FORMAT, "bad byte at %d", n); }

static fg_error *middle(void) {
    FG_TRY_CTX(inner_failure(42), "tensor '%s'", "img_in.weight");
    return NULL;
}

static fg_error *succeeding(void) { return NULL; }

static void test_errors(void) {
    fg_error *e = fg_error_wrapf(middle(), "loading %s", "flux.safetensors");
    CHECK(strcmp(fg_error_message(e), "loading flux.safetensors: tensor 'img_in.weight': bad byte at 42") == 0, "%s",
          fg_error_message(e));
    CHECK(fg_error_code_of(e) == FG_ERR_FORMAT);
    fg_error_free(e);
    fg_error *none = fg_error_wrapf(NULL, "context %d", 1);
    CHECK(none == NULL, "NULL passes through");
    CHECK(fg_error_wrapf(succeeding(), "x") == NULL);
    CHECK(fg_error_code_of(NULL) == 0 && strcmp(fg_error_message(NULL), "success") == 0);
    CHECK(strcmp(fg_error_code_name(FG_ERR_UNSUPPORTED), "unsupported") == 0);
    fg_error_free(NULL);
    e = fg_errorf(FG_ERR_IO, "%s", "");
    CHECK(strcmp(fg_error_message(e), "") == 0 && fg_error_code_of(e) == FG_ERR_IO);
    fg_error_free(e);
}

static void test_shapes(void) {
    size_t nbytes = 0;
    CHECK_OK(fg_shape_check(FG_BF16, FG_SHAPE(2, 16, 64, 64), &nbytes));
    CHECK(nbytes == 2u * 16 * 64 * 64 * 2);
    CHECK_OK(fg_shape_check(FG_F32, 0, NULL, &nbytes));
    CHECK(nbytes == 4, "a 0-d tensor holds one element");
    CHECK_OK(fg_shape_check(FG_F32, FG_SHAPE(3, 0, (int64_t)1 << 62), &nbytes));
    CHECK(nbytes == 0, "an empty dim first makes the product 0");
    CHECK_ERR(fg_shape_check(FG_F32, FG_SHAPE((int64_t)1 << 40, (int64_t)1 << 40), NULL), "overflows");
    CHECK_ERR(fg_shape_check(FG_I64, FG_SHAPE((int64_t)1 << 61), NULL), "overflows");
    CHECK_ERR(fg_shape_check(FG_F32, FG_SHAPE(2, -1), NULL), "negative dimension in shape [2, -1]");
    CHECK_ERR(fg_shape_check(FG_F32, FG_SHAPE(1, 1, 1, 1, 1, 1), NULL), "6 dims");
    CHECK_ERR(fg_shape_check(FG_F32, -1, NULL, NULL), "dims");
    CHECK_ERR(fg_shape_check((fg_dtype)42, FG_SHAPE(1), NULL), "unknown dtype");
    fg_tensor t;
    CHECK_ERR(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE((int64_t)1 << 40, (int64_t)1 << 40)), "overflows");
}

static void test_tensors(void) {
    fg_tensor t, r;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(2, 3, 4)))) return;
    CHECK(t.owns_data && t.device == FG_DEVICE_CPU && fg_tensor_numel(&t) == 24 && fg_tensor_nbytes(&t) == 96);
    CHECK(((float *)t.data)[23] == 0.0f, "zeroed");
    CHECK_OK(fg_tensor_reshape(&r, &t, FG_SHAPE(6, 4)));
    CHECK(r.data == t.data && !r.owns_data && r.ndim == 2 && r.shape[0] == 6 && r.dtype == FG_F32);
    CHECK_ERR(fg_tensor_reshape(&r, &t, FG_SHAPE(5, 5)), "cannot reshape [2, 3, 4] to [5, 5]");
    CHECK(r.shape[0] == 6, "a failed reshape leaves dst alone");
    CHECK_ERR(fg_tensor_reshape(&r, &t, FG_SHAPE(-24)), "negative");
    fg_tensor s;
    CHECK_OK(fg_tensor_view(&s, FG_F32, FG_DEVICE_CPU, FG_SHAPE(2, 3, 4), t.data));
    CHECK(fg_tensor_same_shape(&s, &t) && !fg_tensor_same_shape(&s, &r));
    fg_tensor_free_host(&s); /* a borrowed view: cleared, storage untouched */
    CHECK(s.data == NULL);
    fg_tensor_free_host(&t);
    CHECK(t.data == NULL && t.ndim == 0);

    char buf[64];
    CHECK(strcmp(fg_shape_str(FG_SHAPE(2, 16, 64, 64), buf, sizeof buf), "[2, 16, 64, 64]") == 0, "%s", buf);
    CHECK(strcmp(fg_shape_str(0, NULL, buf, sizeof buf), "[]") == 0);
    char small[6];
    fg_shape_str(FG_SHAPE(123456, 7), small, sizeof small);
    CHECK(strlen(small) == 5 && strncmp(small, "[1234", 5) == 0, "truncated, terminated: %s", small);
    CHECK(strcmp(fg_device_name(FG_DEVICE_CUDA), "cuda") == 0 && strcmp(fg_device_name(FG_DEVICE_CPU), "cpu") == 0);
}

/* ---- thread pool ------------------------------------------------------------------------------- */

typedef struct {
    int *counts;
    int pool_size;
    int bad_worker;
    int bad_range;
    int64_t n;
} cover_ctx;

static void cover_body(void *ctx, int64_t begin, int64_t end, int worker) {
    cover_ctx *c = ctx;
    if (worker < 0 || worker >= c->pool_size) __atomic_fetch_add(&c->bad_worker, 1, __ATOMIC_RELAXED);
    if (begin < 0 || end > c->n || begin >= end) __atomic_fetch_add(&c->bad_range, 1, __ATOMIC_RELAXED);
    for (int64_t i = begin; i < end && i < c->n && i >= 0; i++) __atomic_fetch_add(&c->counts[i], 1, __ATOMIC_RELAXED);
}

static void check_cover(fg_threadpool *pool, int64_t n, int64_t min_chunk) {
    cover_ctx c = {.counts = calloc((size_t)(n + 1), sizeof(int)), .pool_size = fg_threadpool_size(pool), .n = n};
    fg_parallel_for(pool, n, min_chunk, cover_body, &c);
    int wrong = 0;
    for (int64_t i = 0; i < n; i++) wrong += c.counts[i] != 1;
    CHECK(wrong == 0 && c.bad_worker == 0 && c.bad_range == 0, "pool %d n %lld min_chunk %lld: %d indices wrong",
          c.pool_size, (long long)n, (long long)min_chunk, wrong);
    free(c.counts);
}

static void test_threadpool_cover(void) {
    static const int sizes[] = {1, 2, 3, 8};
    static const int64_t ns[] = {0, 1, 2, 3, 7, 64, 100, 1000, 12345, 100003};
    static const int64_t chunks[] = {0, 1, 3, 64, 5000, 1000000};
    for (int s = 0; s < 4; s++) {
        fg_threadpool *pool = NULL;
        if (!CHECK_OK(fg_threadpool_create(sizes[s], &pool))) continue;
        CHECK(fg_threadpool_size(pool) == sizes[s]);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 6; b++) check_cover(pool, ns[a], chunks[b]);
        for (int rep = 0; rep < 200; rep++) check_cover(pool, 37, 1); /* many back-to-back jobs */
        fg_threadpool_destroy(pool);
    }
    check_cover(NULL, 1000, 1); /* a NULL pool runs inline */
    check_cover(fg_threadpool_global(), 4321, 7);
    CHECK(fg_threadpool_global() != NULL);
}

typedef struct {
    int calls;
    int64_t begin, end;
} inner_record;

typedef struct {
    fg_threadpool *pool;
    inner_record *rec;
} nest_ctx;

static void inner_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    inner_record *r = ctx;
    r->calls++;
    r->begin = begin;
    r->end = end;
}

static void outer_body(void *ctx, int64_t begin, int64_t end, int worker) {
    (void)worker;
    nest_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) fg_parallel_for(c->pool, 1000, 1, inner_body, &c->rec[i]);
}

static void test_threadpool_nested(void) {
    fg_threadpool *pool = NULL;
    if (!CHECK_OK(fg_threadpool_create(4, &pool))) return;
    inner_record rec[64];
    memset(rec, 0, sizeof rec);
    nest_ctx c = {.pool = pool, .rec = rec};
    fg_parallel_for(pool, 64, 1, outer_body, &c);
    int wrong = 0;
    for (int i = 0; i < 64; i++) wrong += rec[i].calls != 1 || rec[i].begin != 0 || rec[i].end != 1000;
    CHECK(wrong == 0, "%d nested loops did not run inline in one piece", wrong);
    fg_threadpool_destroy(pool);
}

static void test_threadpool_single(void) {
    fg_threadpool *pool = NULL;
    if (!CHECK_OK(fg_threadpool_create(1, &pool))) return;
    inner_record r = {0};
    fg_parallel_for(pool, 777, 1, inner_body, &r);
    CHECK(r.calls == 1 && r.begin == 0 && r.end == 777);
    fg_threadpool_destroy(pool);
    CHECK_OK(fg_threadpool_create(0, &pool)); /* clamps to 1 */
    CHECK(fg_threadpool_size(pool) == 1);
    fg_threadpool_destroy(pool);
    fg_threadpool_destroy(NULL);
}

/* ---- progress --------------------------------------------------------------------------------- */

static char *slurp(FILE *f) {
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

static int count_char(const char *s, char ch) {
    int n = 0;
    for (; *s; s++) n += *s == ch;
    return n;
}

static void test_progress_plain(void) {
    FILE *f = tmpfile();
    if (!f) {
        test_fail_at(__FILE__, __LINE__, "tmpfile failed");
        return;
    }
    fg_progress p;
    fg_progress_begin(&p, f, "steps", 20, 0);
    for (int i = 1; i <= 20; i++) fg_progress_update(&p, i);
    fg_progress_end(&p);
    fg_progress_update(&p, 5); /* after the end: ignored */
    char *s = slurp(f);
    CHECK(count_char(s, '\r') == 0 && count_char(s, '\033') == 0, "no terminal control in plain mode");
    CHECK(count_char(s, '\n') == 12, "a line per 10%% plus the end line, got %d lines:\n%s", count_char(s, '\n'), s);
    /* (CHECK pastes its condition into a format string: keep '%' out of it) */
    bool first = strncmp(s, "steps: 0/20 (0%)", 16) == 0;
    bool half = strstr(s, "steps: 10/20 (50%)") != NULL, full = strstr(s, "steps: 20/20 (100%)") != NULL;
    CHECK(first && half && full, "%s", s);
    const char *last = strstr(s, "steps: done, 20/20 in ");
    CHECK(last != NULL && strchr(last, '\n') == s + strlen(s) - 1, "end line last");
    free(s);
    fclose(f);
}

/* A loop that ends early (Ctrl-C after step 2 of 10) must not report itself done. */
static void test_progress_stopped_early(void) {
    FILE *f = tmpfile();
    if (!f) {
        test_fail_at(__FILE__, __LINE__, "tmpfile failed");
        return;
    }
    fg_progress p;
    fg_progress_begin(&p, f, "sampling", 10, 0);
    fg_progress_update(&p, 2);
    fg_progress_end(&p);
    char *s = slurp(f);
    CHECK(strstr(s, "sampling: stopped at 2/10 after ") != NULL && strstr(s, "done") == NULL, "%s", s);
    free(s);
    fclose(f);
}

static void test_progress_tty(void) {
    FILE *f = tmpfile();
    if (!f) {
        test_fail_at(__FILE__, __LINE__, "tmpfile failed");
        return;
    }
    fg_progress p;
    fg_progress_begin(&p, f, "load", 4, 1);
    for (int i = 1; i <= 4; i++) fg_progress_update(&p, i);
    fg_progress_update(&p, 99); /* clamped to the total */
    CHECK(p.done == 4);
    fg_progress_end(&p);
    char *s = slurp(f);
    CHECK(strncmp(s, "\r\033[Kload [", sizeof "\r\033[Kload [" - 1) == 0, "redraws with \\r: %s", s);
    bool full = strstr(s, "4/4 100%") != NULL && strstr(s, "##############################") != NULL;
    CHECK(full, "full bar: %s", s);
    CHECK(count_char(s, '\n') == 1, "only the end line ends with a newline");
    CHECK(strstr(s, "\r\033[Kload: done, 4/4 in ") != NULL);
    free(s);
    fclose(f);
    char buf[32];
    CHECK(strcmp(fg_format_duration(3.2, buf, sizeof buf), "3.2s") == 0, "%s", buf);
    CHECK(strcmp(fg_format_duration(65, buf, sizeof buf), "1m05s") == 0, "%s", buf);
    CHECK(strcmp(fg_format_duration(3725, buf, sizeof buf), "1h02m") == 0, "%s", buf);
    CHECK(strcmp(fg_format_duration(-1, buf, sizeof buf), "0.0s") == 0, "%s", buf);
    double t0 = fg_time_now(), t1 = fg_time_now();
    CHECK(t1 >= t0 && t0 > 0);
}

int main(void) {
    RUN_TEST(test_f16);
    RUN_TEST(test_e4m3);
    RUN_TEST(test_e5m2);
    RUN_TEST(test_bf16);
    RUN_TEST(test_bulk_conversions);
    RUN_TEST(test_dtype_names);
    RUN_TEST(test_errors);
    RUN_TEST(test_shapes);
    RUN_TEST(test_tensors);
    RUN_TEST(test_threadpool_cover);
    RUN_TEST(test_threadpool_nested);
    RUN_TEST(test_threadpool_single);
    RUN_TEST(test_progress_plain);
    RUN_TEST(test_progress_tty);
    RUN_TEST(test_progress_stopped_early);
    return test_summary();
}
