#include "core/dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
    int is_float;
} dtype_info[FG_DTYPE_COUNT] = {
    [FG_F32] = {"F32", 4, 1},         [FG_BF16] = {"BF16", 2, 1},
    [FG_F16] = {"F16", 2, 1},         [FG_F8_E4M3] = {"F8_E4M3", 1, 1},
    [FG_F8_E5M2] = {"F8_E5M2", 1, 1}, [FG_I64] = {"I64", 8, 0},
    [FG_I32] = {"I32", 4, 0},         [FG_U8] = {"U8", 1, 0},
    [FG_BOOL] = {"BOOL", 1, 0},
};

size_t fg_dtype_size(fg_dtype dt) { return (unsigned)dt < FG_DTYPE_COUNT ? dtype_info[dt].size : 0; }

const char *fg_dtype_name(fg_dtype dt) {
    return (unsigned)dt < FG_DTYPE_COUNT ? dtype_info[dt].name : "?";
}

int fg_dtype_from_name(const char *name, fg_dtype *out) {
    for (int i = 0; i < FG_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (fg_dtype)i;
            return 0;
        }
    }
    return -1;
}

int fg_dtype_is_float(fg_dtype dt) { return (unsigned)dt < FG_DTYPE_COUNT && dtype_info[dt].is_float; }

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float fg_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t fg_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    uint32_t rounding_bias = 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)((u + rounding_bias) >> 16);
}

/* Decodes a small float with `mbits` mantissa bits and exponent bias `bias`; the caller has
 * already handled the all-ones exponent where the format has inf/NaN. Exact in f32. */
static float decode_minifloat(uint32_t sign, uint32_t exp, uint32_t mant, int mbits, int bias) {
    float v;
    if (exp == 0) v = ldexpf((float)mant, 1 - bias - mbits);
    else v = ldexpf((float)(mant | (1u << mbits)), (int)exp - bias - mbits);
    return sign ? -v : v;
}

float fg_f16_to_f32(uint16_t h) {
    uint32_t sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0x1F) return bits_f32((sign << 31) | 0x7F800000u | (mant << 13));
    /* Normal values map onto f32 bits directly (rebias 15 -> 127): this runs for every weight
     * of an fp16 model (T5-XXL, CLIP-L) on each forward, where ldexpf cost half the time. */
    if (exp != 0) return bits_f32((sign << 31) | ((exp + 112) << 23) | (mant << 13));
    return decode_minifloat(sign, exp, mant, 10, 15);
}

float fg_e4m3_to_f32(uint8_t v) {
    uint32_t sign = v >> 7, exp = (v >> 3) & 0xF, mant = v & 7;
    if (exp == 0xF && mant == 7) return sign ? -NAN : NAN;
    return decode_minifloat(sign, exp, mant, 3, 7);
}

float fg_e5m2_to_f32(uint8_t v) {
    uint32_t sign = v >> 7, exp = (v >> 2) & 0x1F, mant = v & 3;
    if (exp == 0x1F) return bits_f32((sign << 31) | 0x7F800000u | (mant << 21));
    return decode_minifloat(sign, exp, mant, 2, 15);
}

/* Round-to-nearest-even encode of a finite |x| into (exp_field, mantissa) of a format with
 * `mbits` mantissa bits, bias `bias`. Returns the combined magnitude bits; the exponent field
 * may exceed the format's range, which the caller turns into inf or saturation. */
static uint32_t encode_minifloat_magnitude(double ax, int mbits, int bias) {
    if (ax == 0.0) return 0;
    int min_exp = 1 - bias; /* exponent of the smallest normal */
    int e2;
    frexp(ax, &e2);
    int e = e2 - 1; /* ax in [2^e, 2^(e+1)) */
    if (e < min_exp) {
        double q = nearbyint(ldexp(ax, mbits - min_exp)); /* subnormal steps; may reach 2^mbits */
        return (uint32_t)q; /* q == 2^mbits encodes the smallest normal, as wanted */
    }
    double q = nearbyint(ldexp(ax, mbits - e));
    if (q >= ldexp(1.0, mbits + 1)) {
        q = ldexp(1.0, mbits);
        e += 1;
    }
    uint32_t exp_field = (uint32_t)(e + bias);
    return (exp_field << mbits) | ((uint32_t)q - (1u << mbits));
}

uint16_t fg_f32_to_f16(float f) {
    uint32_t sign = (f32_bits(f) >> 31) << 15;
    if (isnan(f)) return (uint16_t)(sign | 0x7E00);
    if (isinf(f)) return (uint16_t)(sign | 0x7C00);
    uint32_t mag = encode_minifloat_magnitude(fabs((double)f), 10, 15);
    if (mag >= 0x7C00) mag = 0x7C00; /* overflow rounds to inf, as IEEE and torch do */
    return (uint16_t)(sign | mag);
}

uint8_t fg_f32_to_e4m3(float f) {
    uint32_t sign = (f32_bits(f) >> 31) << 7;
    if (isnan(f)) return (uint8_t)(sign | 0x7F);
    uint32_t mag = isinf(f) ? 0x7E : encode_minifloat_magnitude(fabs((double)f), 3, 7);
    if (mag > 0x7E) mag = 0x7E; /* saturate at 448: 0x7F is NaN in e4m3fn */
    return (uint8_t)(sign | mag);
}

uint8_t fg_f32_to_e5m2(float f) {
    uint32_t sign = (f32_bits(f) >> 31) << 7;
    if (isnan(f)) return (uint8_t)(sign | 0x7E);
    if (isinf(f)) return (uint8_t)(sign | 0x7C);
    uint32_t mag = encode_minifloat_magnitude(fabs((double)f), 2, 15);
    if (mag > 0x7B) mag = 0x7B; /* saturate finite overflow at 57344 */
    return (uint8_t)(sign | mag);
}

/* Tensor data may sit at any address (a safetensors file need not align its tensors), so
 * multi-byte elements are loaded with memcpy, which compiles to a plain load. */
static uint16_t load_u16(const void *p, size_t i) {
    uint16_t v;
    memcpy(&v, (const char *)p + i * 2, 2);
    return v;
}

void fg_convert_to_f32(float *dst, const void *src, fg_dtype dt, size_t n) {
    switch (dt) {
    case FG_F32: memmove(dst, src, n * 4); break;
    case FG_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = bits_f32((uint32_t)load_u16(src, i) << 16);
        break;
    case FG_F16:
        /* A 64K-entry table would be faster; per-layer widening is not the hot path on CPU
         * compared with sgemm, so keep the exact scalar decode. */
        for (size_t i = 0; i < n; i++) dst[i] = fg_f16_to_f32(load_u16(src, i));
        break;
    case FG_F8_E4M3: {
        float lut[256];
        for (int i = 0; i < 256; i++) lut[i] = fg_e4m3_to_f32((uint8_t)i);
        const uint8_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = lut[s[i]];
        break;
    }
    case FG_F8_E5M2: {
        float lut[256];
        for (int i = 0; i < 256; i++) lut[i] = fg_e5m2_to_f32((uint8_t)i);
        const uint8_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = lut[s[i]];
        break;
    }
    case FG_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, (const char *)src + i * 8, 8);
            dst[i] = (float)v;
        }
        break;
    case FG_I32:
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, (const char *)src + i * 4, 4);
            dst[i] = (float)v;
        }
        break;
    case FG_U8:
    case FG_BOOL: {
        const uint8_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    default: break;
    }
}

static int64_t float_to_int_saturating(float f, int64_t lo, int64_t hi) {
    if (isnan(f)) return 0;
    if (f <= (float)lo) return lo;
    if (f >= (float)hi) return hi;
    return (int64_t)f;
}

void fg_convert_from_f32(void *dst, fg_dtype dt, const float *src, size_t n) {
    switch (dt) {
    case FG_F32: memmove(dst, src, n * 4); break;
    case FG_BF16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = fg_f32_to_bf16(src[i]);
        break;
    }
    case FG_F16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = fg_f32_to_f16(src[i]);
        break;
    }
    case FG_F8_E4M3: {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = fg_f32_to_e4m3(src[i]);
        break;
    }
    case FG_F8_E5M2: {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = fg_f32_to_e5m2(src[i]);
        break;
    }
    case FG_I64: {
        int64_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = float_to_int_saturating(src[i], INT64_MIN, INT64_MAX);
        break;
    }
    case FG_I32: {
        int32_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = (int32_t)float_to_int_saturating(src[i], INT32_MIN, INT32_MAX);
        break;
    }
    case FG_U8: {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = (uint8_t)float_to_int_saturating(src[i], 0, 255);
        break;
    }
    case FG_BOOL: {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = src[i] != 0.0f;
        break;
    }
    default: break;
    }
}
