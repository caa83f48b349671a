/* LoRA key mapping (models/lora.h) and patched weights against ComfyUI's own results
 * (tests/fixtures/lora/expected/, strengths 0.8 model / 0.6 clip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/lora.h"
#include "tests/lora/lora_testlib.h"
#include "tests/testing.h"

static const char *const k_files[] = {"kohya_r8", "diffusers_r4", "comfy_native", "xlabs", "xlabs_uso",
                                      "lokr",     "loha",         "diff",         "dora"};
#define N_FILES (sizeof k_files / sizeof k_files[0])

/* Every weight the expected file lists is patched, and nothing else. */
static void check_patched_set(const char *name, const fg_lora_match *m, const fg_safetensors *exp) {
    size_t n_expected = 0;
    for (size_t i = 0; i < fg_safetensors_count(exp); i++) {
        const char *w = fg_safetensors_entry(exp, i)->name;
        if (!strncmp(w, "c0_", 3)) continue;
        n_expected++;
        bool found = false;
        for (size_t k = 0; k < m->n_patches && !found; k++) found = !strcmp(m->patches[k].weight, w);
        CHECK(found, "%s: weight %s is not patched", name, w);
    }
    size_t n_distinct = 0;
    for (size_t k = 0; k < m->n_patches; k++) {
        bool first = true;
        for (size_t j = 0; j < k && first; j++)
            first = strcmp(m->patches[j].weight, m->patches[k].weight) || m->patches[j].model != m->patches[k].model;
        n_distinct += first;
    }
    CHECK(n_distinct == n_expected, "%s: %zu weights patched, expected %zu", name, n_distinct, n_expected);
}

static void test_key_mapping_matches_comfyui(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    for (size_t i = 0; i < N_FILES; i++) {
        fg_lora_file *f = NULL;
        fg_safetensors *exp = NULL;
        fg_lora_match m = {0};
        if (!CHECK_OK(lora_test_open(k_files[i], &f, &exp))) continue;
        if (CHECK_OK(fg_lora_match_models(f, &tm.models, 0.8, 0.6, &m))) {
            char *json = fg_lora_not_loaded_json(&m);
            const char *want = fg_safetensors_metadata(exp, "not_loaded");
            CHECK(json && want && !strcmp(json, want), "%s: not loaded %s, ComfyUI logs %s", k_files[i],
                  json ? json : "?", want ? want : "?");
            free(json);
            check_patched_set(k_files[i], &m, exp);
            for (size_t k = 0; k < m.n_patches; k++) {
                double want_s = m.patches[k].model == FG_LORA_MODEL_DIT ? 0.8 : 0.6;
                CHECK(m.patches[k].patch.strength == want_s, "%s: strength of %s", k_files[i], m.patches[k].weight);
            }
        }
        fg_lora_match_free(&m);
        fg_safetensors_close(exp);
        fg_lora_close(f);
    }
    lora_test_models_close(&tm);
}

static void test_diffusers_slices(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    fg_lora_file *f = NULL;
    fg_safetensors *exp = NULL;
    fg_lora_match m = {0};
    if (CHECK_OK(lora_test_open("diffusers_r4", &f, &exp)) && CHECK_OK(fg_lora_match_models(f, &tm.models, 1, 1, &m))) {
        int slices = 0, swaps = 0;
        for (size_t k = 0; k < m.n_patches; k++) {
            const fg_lora_patch *p = &m.patches[k].patch;
            if (!strcmp(m.patches[k].prefix, "transformer.single_transformer_blocks.0.proj_mlp"))
                CHECK(p->has_slice && p->slice_start == 768 && p->slice_len == 1024, "proj_mlp rows [768,1792)");
            if (!strcmp(m.patches[k].prefix, "transformer.transformer_blocks.0.attn.to_k"))
                CHECK(p->has_slice && p->slice_start == 256 && p->slice_len == 256 && !p->has_alpha, "to_k rows");
            slices += p->has_slice;
            swaps += p->swap_scale_shift;
        }
        CHECK(slices == 7 && swaps == 1, "%d slices, %d swaps", slices, swaps);
    }
    fg_lora_match_free(&m);
    fg_safetensors_close(exp);
    fg_lora_close(f);
    lora_test_models_close(&tm);
}

/* LoraLoaderModelOnly: no text encoders, so their keys are "not loaded". */
static void test_model_only_reports_text_encoder_keys(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    fg_lora_models dit_only = {.model = {tm.models.model[FG_LORA_MODEL_DIT], NULL, NULL}};
    fg_lora_file *f = NULL;
    fg_safetensors *exp = NULL;
    fg_lora_match m = {0};
    if (CHECK_OK(lora_test_open("kohya_r8", &f, &exp)) && CHECK_OK(fg_lora_match_models(f, &dit_only, 1, 1, &m))) {
        CHECK(m.n_not_loaded == 3 + 7 * 3, "%zu keys not loaded", m.n_not_loaded);
        for (size_t k = 0; k < m.n_patches; k++) CHECK(m.patches[k].model == FG_LORA_MODEL_DIT, "DiT only");
        CHECK_OK(fg_lora_check_match(f, &m, false));
        CHECK_ERR(fg_lora_check_match(f, &m, true), "lora_unet_double_blocks_2_img_attn_qkv.alpha");
    }
    fg_lora_match_free(&m);
    fg_safetensors_close(exp);
    fg_lora_close(f);
    lora_test_models_close(&tm);
}

static void test_nothing_maps_is_an_error(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    fg_lora_file *f = NULL;
    fg_safetensors *exp = NULL;
    fg_lora_match m = {0};
    if (CHECK_OK(lora_test_open("xlabs", &f, &exp)) && CHECK_OK(fg_lora_match_models(f, &tm.models, 1, 1, &m))) {
        CHECK(m.n_patches == 0 && m.n_not_loaded == 16, "xlabs applies nothing");
        CHECK_ERR(fg_lora_check_match(f, &m, false), "XLabs");
    }
    fg_lora_match_free(&m);
    fg_safetensors_close(exp);
    fg_lora_close(f);
    lora_test_models_close(&tm);
}

static void test_uso_conversion_names(void) {
    fg_lora_file *f = NULL;
    fg_safetensors *exp = NULL;
    if (!CHECK_OK(lora_test_open("xlabs_uso", &f, &exp))) return;
    bool found = false;
    for (size_t i = 0; i < fg_lora_key_count(f); i++)
        found |= !strcmp(fg_lora_key(f, i), "diffusion_model.single_blocks.37.linear1_qkv.lora_up.weight");
    CHECK(found, "USO rule renames qkv_lora -> linear1_qkv");
    CHECK(!strcmp(fg_lora_intended_model(f), "FLUX"), "intended model %s", fg_lora_intended_model(f));
    fg_safetensors_close(exp);
    fg_lora_close(f);
}

int main(void) {
    RUN_TEST(test_key_mapping_matches_comfyui);
    RUN_TEST(test_diffusers_slices);
    RUN_TEST(test_model_only_reports_text_encoder_keys);
    RUN_TEST(test_nothing_maps_is_an_error);
    RUN_TEST(test_uso_conversion_names);
    return test_summary();
}
