/* Shared pieces of test_tokenizers: the tokenizers loaded once, and the test groups kept in
 * tests/tokenizers/ files. */
#ifndef FG_TESTS_TOKENIZERS_TOK_TEST_UTIL_H
#define FG_TESTS_TOKENIZERS_TOK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "text_encoders/clip_tokenizer.h"
#include "text_encoders/flux_tokenizer.h"
#include "text_encoders/t5_tokenizer.h"

extern fg_clip_tokenizer *tt_clip;
extern fg_t5_tokenizer *tt_t5;

double tt_now(void);
/* Index of the first difference of two id arrays (min length when one is a prefix; SIZE_MAX
 * when equal). */
size_t tt_first_diff_i32(const int32_t *a, size_t na, const int32_t *b, size_t nb);
/* Checks fg_clip_tokenize(text) == want (without bos/eos), printing both on a mismatch. */
void tt_expect_clip(const char *text, size_t len, const int32_t *want, size_t n);

/* golden_tests.c */
void test_golden_prompts(void);
/* Compares a probe output with golden_path (NULL: golden/tokenizers.safetensors). */
void test_probe_output(const char *path, const char *golden_path);

/* compat_tests.c: the transformers 4 / 5 differences, one vector each */
void test_compat_parse(void);
void test_compat_clip_vectors(void);
void test_compat_t5_vectors(void);
void test_compat_hostile(void);

/* weight_tests.c */
void test_py_float(void);
void test_weights_basic(void);
void test_weights_escapes_and_unbalanced(void);
void test_weights_hostile(void);

#endif
