/* Helpers shared by the T5 tokenizer tests. */
#ifndef FG_TESTS_T5_TEST_UTIL_H
#define FG_TESTS_T5_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text_encoders/t5_tokenizer.h"
#include "text_encoders/vocab_data.h"

double t5_now(void);
/* Writes the blob to test_tmpdir()/name; returns the path (static buffer). */
const char *t5_write_blob(const char *name, fg_blob b);
/* Tokenizes a C string and checks the ids (printing both sequences on mismatch). */
void t5_expect_ids(const fg_t5_tokenizer *tok, const char *text, const int32_t *want, size_t n);
/* Tokenizes text; on mismatch prints the prompt and the first differing position. */
bool t5_compare_prompt(const fg_t5_tokenizer *tok, const char *text, size_t len, const int32_t *want, size_t n,
                       int index, const char *label);
/* Tokenizes text[0..len); NULL (after recording a failure) on error. */
int32_t *t5_ids(const fg_t5_tokenizer *tok, const char *text, size_t len, size_t *count);

void t5_run_text_tests(fg_t5_tokenizer *def, fg_t5_tokenizer *json, fg_t5_tokenizer *proto);
void t5_run_hostile_tests(void);

#endif
