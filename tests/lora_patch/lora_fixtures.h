/* The LoRA golden fixtures (tests/fixtures/lora): patch lists rebuilt from each LoRA file per
 * the `patched` metadata of its expected file, applied to the tiny base weights, compared with
 * ComfyUI's results. */
#ifndef FG_TESTS_LORA_FIXTURES_H
#define FG_TESTS_LORA_FIXTURES_H

#include <stddef.h>

#include "core/error.h"

typedef struct lora_fixture_result {
    size_t weights;      /* patched weights compared */
    size_t patches;      /* patches applied over all of them */
    double max_abs;      /* largest |ours - ComfyUI| */
    char worst[256];     /* the weight where it occurred */
} lora_fixture_result;

/* Runs one fixture (name without extension, e.g. "kohya_r8"). Errors name the weight. */
fg_error *lora_fixture_check(const char *name, lora_fixture_result *res) FG_MUST_CHECK;

/* ComfyUI's convert_uso_lora renaming of one XLabs/USO key into buf; 0 if the key is not of
 * that style (then buf is untouched). */
int lora_uso_convert_key(const char *key, char *buf, size_t cap);

#endif
