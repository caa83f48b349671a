/* Test cases of test_safetensors, split by subject, and the small helpers they share. */
#ifndef FG_TESTS_SAFETENSORS_ST_CASES_H
#define FG_TESTS_SAFETENSORS_ST_CASES_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a malloc'd buffer (NULL on failure; *size set). */
uint8_t *st_read_file(const char *path, size_t *size);
/* "<8-byte LE length of header><header><data>" in a malloc'd buffer. */
uint8_t *st_frame(const char *header, const void *data, size_t data_len, size_t *size);

/* reader_cases.c */
void test_fixture_models(void);
void test_fixture_rng(void);
void test_hostile_corpus(void);
void test_open_memory_valid(void);
void test_open_memory_errors(void);
void test_open_path_errors(void);
void test_mutation_fuzz(void);

#endif
