/* Shared helpers of tests/test_lora.c: the tiny base models and the fixture files. */
#ifndef FG_TESTS_LORA_TESTLIB_H
#define FG_TESTS_LORA_TESTLIB_H

#include "core/safetensors.h"
#include "models/lora.h"

typedef struct lora_test_models {
    fg_weights *files[FG_LORA_MODEL_COUNT];
    fg_lora_models models;
} lora_test_models;

fg_error *lora_test_models_open(lora_test_models *tm) FG_MUST_CHECK;
void lora_test_models_close(lora_test_models *tm);
/* tests/fixtures/lora/<name>.safetensors and expected/<name>.safetensors. */
fg_error *lora_test_open(const char *name, fg_lora_file **f, fg_safetensors **expected) FG_MUST_CHECK;

#endif
