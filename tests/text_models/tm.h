/* Shared pieces of test_text_models: modified copies of the tiny fixture models, golden-file
 * access, host read-back and comparisons, and the test functions of the other files. */
#ifndef FG_TESTS_TEXT_MODELS_TM_H
#define FG_TESTS_TEXT_MODELS_TM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "core/tensor.h"

#define TINY_CLIP "models/text_encoders/tiny-clip-l.safetensors"
#define TINY_T5 "models/text_encoders/tiny-t5xxl.safetensors"

/* How linear weights (2-D "*.weight" tensors that are not embeddings) are rewritten. */
typedef enum fp8_mode {
    FP8_NONE,         /* unchanged */
    FP8_PLAIN,        /* F8_E4M3 of the value itself, no scale */
    FP8_SCALE_WEIGHT, /* F8_E4M3 of value / s, plus "<layer>.scale_weight" = s = max|w| / 448 */
    FP8_WEIGHT_SCALE, /* same, scale stored as "<layer>.weight_scale" */
    FP8_DEQUANT_F32,  /* F32 holding exactly what FP8_SCALE_WEIGHT dequantises to */
} fp8_mode;

typedef struct model_copy {
    const char *prefix;                 /* prepended to every name */
    const char *drop;                   /* this tensor is left out */
    const char *rename_from, *rename_to;
    const char *cut_row;                /* this tensor loses its last row (a wrong shape) */
    fp8_mode fp8;
    const char *embedding;              /* with fp8 != NONE: also store this table as plain e4m3 */
    int64_t poke_index;                 /* >= 0: byte of the fp8 embedding set to poke_byte */
    uint8_t poke_byte;
    const char *also_src, *also_prefix; /* a second fixture copied unchanged under also_prefix */
} model_copy;

/* A default copy (no change): every field zero except poke_index = -1. */
model_copy copy_defaults(void);
/* Writes a modified copy of tests/fixtures/<src_rel> to dst. Returns false (after recording a
 * check failure) on error. */
bool write_model_copy(const char *src_rel, const char *dst, const model_copy *c);

/* A host F32 copy of any-device tensor t (caller frees with fg_tensor_free_host). */
bool to_host(const fg_tensor *t, fg_tensor *host);
double max_abs_diff(const float *a, const float *b, int64_t n);
/* ||a - b|| / ||b||. */
double rel_l2_error(const float *a, const float *b, int64_t n);
bool all_finite(const float *a, int64_t n);
/* Golden tensor `name` of an open file as int32 ids (I64/I32) or F32 values; malloc'd. */
int32_t *golden_ids(const fg_safetensors *st, const char *name, int64_t *rows, int64_t *cols);
const float *golden_f32(const fg_safetensors *st, const char *name, int64_t *numel);

/* weighting_tests.c */
void test_apply_token_weights_by_hand(void);
void test_apply_token_weights_rejects_bad_input(void);
void test_t5_weighted_matches_host_reference(void);
void test_flux_encode_weighted_prompt(void);
void test_flux_encode_multi_chunk_prompt(void);
void test_flux_encode_rejects_bad_input(void);

/* fp8_tests.c */
void test_t5_fp8_agrees_with_f16(void);
void test_t5_fp8_scaled_equals_dequantised(void);
void test_t5_fp8_nan_embedding_reads_as_zero(void);
void test_t5_fp8_nan_embedding_upload(void);
void test_clip_fp8_scaled_equals_dequantised(void);

#endif
