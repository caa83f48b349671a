/* Test helpers for test_flux: a checkpoint held in memory as a list of named host tensors, and
 * rewrites of the tiny BFL model into the other layouts the loader accepts (prefixed,
 * diffusers, diffusers sharded with an index, fp8 with and without scales). The diffusers
 * rewrite is written independently of unet/flux_diffusers.c, straight from docs/models.md 1.15, as
 * the inverse of the loader's conversion, so a round trip tests the conversion. */
#ifndef FG_TESTS_FLUX_FILES_H
#define FG_TESTS_FLUX_FILES_H

#include <stddef.h>

#include "core/error.h"
#include "core/tensor.h"

typedef struct tf_entry {
    char name[192];
    fg_tensor t; /* owned host tensor */
} tf_entry;

typedef struct tf_set {
    tf_entry *e;
    size_t n, cap;
} tf_set;

/* Reads every tensor of a safetensors file (copies). */
fg_error *tf_read(const char *path, tf_set *out) FG_MUST_CHECK;
void tf_free(tf_set *s);
/* Takes ownership of *t (cleared). */
fg_error *tf_add(tf_set *s, const char *name, fg_tensor *t) FG_MUST_CHECK;
fg_error *tf_add_copy(tf_set *s, const char *name, const fg_tensor *src) FG_MUST_CHECK;
/* NULL when absent. */
tf_entry *tf_find(const tf_set *s, const char *name);
/* Removes an entry (false when absent). */
int tf_remove(tf_set *s, const char *name);
/* Writes entries [begin, end) to path. */
fg_error *tf_write_range(const tf_set *s, size_t begin, size_t end, const char *path) FG_MUST_CHECK;
fg_error *tf_write(const tf_set *s, const char *path) FG_MUST_CHECK;

/* Every name with `prefix` in front. */
fg_error *tf_prefixed(const tf_set *bfl, const char *prefix, tf_set *out) FG_MUST_CHECK;
/* BFL names -> diffusers names (docs/models.md 1.15), splitting fused tensors and swapping the final
 * modulation's halves. hidden: H. */
fg_error *tf_to_diffusers(const tf_set *bfl, int64_t hidden, tf_set *out) FG_MUST_CHECK;
/* Writes dir/diffusion_pytorch_model-0000K-of-00002.safetensors (the first `split` entries,
 * then the rest) and dir/diffusion_pytorch_model.safetensors.index.json; the index path goes
 * to index_path (cap bytes). */
fg_error *tf_write_sharded(const tf_set *s, size_t split, const char *dir, char *index_path, size_t cap) FG_MUST_CHECK;

typedef enum tf_scale_mode { TF_NO_SCALE = 0, TF_WEIGHT_SCALE, TF_SCALE_WEIGHT } tf_scale_mode;
/* Every 2-dim ".weight" becomes F8_E4M3: plain (TF_NO_SCALE: the values saturate at 448) or
 * divided by a per-tensor scale max|w|/448 stored as "<layer>.weight_scale" (or the older
 * "<layer>.scale_weight" with a "scaled_fp8" marker). *deq gets the same names with F32
 * tensors holding exactly the dequantised values (fp8 x scale), the model the fp8 file
 * should be equivalent to. Other tensors are copied unchanged to both. */
fg_error *tf_quantize_fp8(const tf_set *in, tf_scale_mode mode, tf_set *q, tf_set *deq) FG_MUST_CHECK;
/* Each fp8 tensor dequantised with its own scale into F32 (names unchanged, scales dropped). */
fg_error *tf_dequantize(const tf_set *in, tf_set *out) FG_MUST_CHECK;

#endif
