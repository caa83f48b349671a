/* Element types and conversions with PyTorch's semantics: f32 -> bf16/f16 round to nearest
 * even with NaN kept; fp8 decodes exactly; fp8 encodes saturating (e4m3fn: to +-448, NaN
 * stays NaN; e5m2: to +-57344, inf and NaN kept) like torch's .to(float8) with saturation. */
#ifndef FG_CORE_DTYPE_H
#define FG_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum fg_dtype {
    FG_F32 = 0,
    FG_BF16,
    FG_F16,
    FG_F8_E4M3,
    FG_F8_E5M2,
    FG_I64,
    FG_I32,
    FG_U8,
    FG_BOOL,
    FG_DTYPE_COUNT
} fg_dtype;

size_t fg_dtype_size(fg_dtype dt);
/* safetensors spelling: "F32", "BF16", "F16", "F8_E4M3", "F8_E5M2", "I64", "I32", "U8", "BOOL". */
const char *fg_dtype_name(fg_dtype dt);
/* Returns 0 and sets *out when name is a known safetensors dtype, -1 otherwise. */
int fg_dtype_from_name(const char *name, fg_dtype *out);
int fg_dtype_is_float(fg_dtype dt);

float fg_bf16_to_f32(uint16_t h);
uint16_t fg_f32_to_bf16(float f);
float fg_f16_to_f32(uint16_t h);
uint16_t fg_f32_to_f16(float f);
float fg_e4m3_to_f32(uint8_t v);
uint8_t fg_f32_to_e4m3(float f);
float fg_e5m2_to_f32(uint8_t v);
uint8_t fg_f32_to_e5m2(float f);

/* Widen n elements of any float dtype (and the integer types, by value) to f32. */
void fg_convert_to_f32(float *dst, const void *src, fg_dtype src_dtype, size_t n);
/* Narrow n f32 values into dst of dtype dt (floats round/saturate as above; integers
 * truncate toward zero like torch's .to(int); BOOL is x != 0). */
void fg_convert_from_f32(void *dst, fg_dtype dt, const float *src, size_t n);

#endif
