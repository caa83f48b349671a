#include "tests/lora/lora_testlib.h"

#include <stdio.h>
#include <string.h>

#include "tests/testing.h"

fg_error *lora_test_models_open(lora_test_models *tm) {
    static const char *const paths[FG_LORA_MODEL_COUNT] = {
        "models/diffusion_models/tiny-flux.safetensors", "models/text_encoders/tiny-clip-l.safetensors",
        "models/text_encoders/tiny-t5xxl.safetensors"};
    memset(tm, 0, sizeof *tm);
    for (int i = 0; i < FG_LORA_MODEL_COUNT; i++) {
        fg_error *err = fg_weights_open(test_fixture(paths[i]), &tm->files[i]);
        if (err) {
            lora_test_models_close(tm);
            return err;
        }
        tm->models.model[i] = tm->files[i];
    }
    return NULL;
}

void lora_test_models_close(lora_test_models *tm) {
    for (int i = 0; i < FG_LORA_MODEL_COUNT; i++) fg_weights_close(tm->files[i]);
    memset(tm, 0, sizeof *tm);
}

fg_error *lora_test_open(const char *name, fg_lora_file **f, fg_safetensors **expected) {
    char rel[256];
    *f = NULL;
    *expected = NULL;
    snprintf(rel, sizeof rel, "lora/%s.safetensors", name);
    FG_TRY(fg_lora_open(test_fixture(rel), f));
    snprintf(rel, sizeof rel, "lora/expected/%s.safetensors", name);
    fg_error *err = fg_safetensors_open(test_fixture(rel), expected);
    if (err) {
        fg_lora_close(*f);
        *f = NULL;
    }
    return err;
}
