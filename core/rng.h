/* PyTorch's CPU generator, reproduced bit for bit: torch.manual_seed(seed) followed by
 * torch.randn(shape) in float32 gives the same numbers here (docs/comfyui.md section 5.2,
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

/* Which of PyTorch's CPU normal kernels to imitate for numel >= 16 (docs/noise.md):
 *   FG_RANDN_AVX2     x86-64 builds on CPUs with AVX2+FMA (also AVX-512 CPUs: torch does not
 *                     dispatch normal_ to its AVX-512 kernel): Cephes log/sincos with specific
 *                     FMA fusions; what the golden fixtures hold.
 *   FG_RANDN_DEFAULT  torch's generic kernel: every aarch64 build (DGX Spark, Grace, Graviton),
 *                     x86-64 without AVX2 or with ATEN_CPU_CAPABILITY=default; libm
 *                     logf/cosf/sinf with theta rounded from double.
 * numel < 16 takes the same double path in both. */
typedef enum fg_randn_variant { FG_RANDN_AVX2 = 0, FG_RANDN_DEFAULT = 1 } fg_randn_variant;

/* The kernel torch picks on this machine: AVX2 on an x86-64 CPU with AVX2 and FMA, DEFAULT
 * anywhere else. */
fg_randn_variant fg_randn_native_variant(void);
/* "auto" (the native variant), "avx2" or "default"; false for anything else. */
bool fg_randn_variant_parse(const char *name, fg_randn_variant *out);
const char *fg_randn_variant_name(fg_randn_variant v);

/* torch.manual_seed: only the low 32 bits of seed matter; clears the cached normal. */
void fg_torch_manual_seed(fg_torch_generator *g, uint64_t seed);
uint32_t fg_torch_random(fg_torch_generator *g);
/* (first draw << 32) | second draw */
uint64_t fg_torch_random64(fg_torch_generator *g);
/* torch.randn(n) float32 continuing g's stream. */
void fg_torch_randn(fg_torch_generator *g, float *out, int64_t n, fg_randn_variant variant);

#endif
