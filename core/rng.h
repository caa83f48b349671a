/* PyTorch's CPU generator, reproduced bit for bit: torch.manual_seed(seed) followed by
 * torch.randn(shape) in float32 gives the same numbers here (spec: comfyui.md section 5.2,
 * fixtures README stage 1). ComfyUI's initial noise and the CPU noise of ancestral samplers
 * come from this stream, so "same seed, same image" rests on it. */
#ifndef FG_CORE_RNG_H
#define FG_CORE_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fg_torch_generator {
    uint32_t state[624];
    int left, next;
    bool has_cached_normal; /* the scalar path caches the second Box-Muller value */
    double cached_normal;
} fg_torch_generator;

/* Which build of PyTorch to imitate for numel >= 16: x86-64 builds use the AVX2 kernel
 * (Cephes log/sincos with specific FMA fusions; what the golden fixtures hold), other
 * builds use scalar libm logf/sinf/cosf. numel < 16 is the same double path in both. */
typedef enum fg_randn_variant { FG_RANDN_AVX2 = 0, FG_RANDN_SCALAR = 1 } fg_randn_variant;

/* torch.manual_seed: only the low 32 bits of seed matter; clears the cached normal. */
void fg_torch_manual_seed(fg_torch_generator *g, uint64_t seed);
uint32_t fg_torch_random(fg_torch_generator *g);
/* (first draw << 32) | second draw */
uint64_t fg_torch_random64(fg_torch_generator *g);
/* torch.randn(n) float32 continuing g's stream. */
void fg_torch_randn(fg_torch_generator *g, float *out, int64_t n, fg_randn_variant variant);

#endif
