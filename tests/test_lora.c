/* LoRA key mapping (models/lora.h) and patched weights against ComfyUI's own results
 * (tests/fixtures/lora/expected/, strengths 0.8 model / 0.6 clip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/lora.h"
#include "models/lora_info.h"
#include "nodes/model_objects.h"
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

/* max |a - b| over an expected F32 tensor and a patched weight of any float dtype. */
static double max_abs_diff(const fg_tensor *want, const fg_tensor *got) {
    fg_tensor g32 = {0};
    if (!CHECK_OK(fg_tensor_alloc_host(&g32, FG_F32, got->ndim, got->shape))) return INFINITY;
    double worst = INFINITY;
    if (CHECK_OK(fg_cast(&g32, got)) && fg_tensor_same_shape(want, got) && want->dtype == FG_F32) {
        worst = 0;
        for (int64_t i = 0; i < fg_tensor_numel(want); i++) {
            double d = fabs((double)((const float *)want->data)[i] - ((const float *)g32.data)[i]);
            if (!(d <= worst)) worst = d; /* NaN propagates */
        }
    }
    fg_tensor_free_host(&g32);
    return worst;
}

/* Builds the patched views of all three models and compares every expected tensor. */
static void check_patched_values(const char *name, const lora_test_models *tm, const fg_lora_match *m,
                                 const fg_safetensors *exp) {
    fg_weights *patched[FG_LORA_MODEL_COUNT] = {0};
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++)
        if (!CHECK_OK(fg_lora_build_patched(tm->models.model[k], (fg_lora_model)k, m->patches, m->n_patches, true,
                                            &patched[k])))
            goto done;
    for (size_t i = 0; i < fg_safetensors_count(exp); i++) {
        const fg_st_entry *e = fg_safetensors_entry(exp, i);
        if (!strncmp(e->name, "c0_", 3)) continue;
        fg_tensor want, got;
        if (!CHECK_OK(fg_safetensors_entry_tensor(exp, e, &want))) continue;
        int k = fg_weights_has(tm->models.model[FG_LORA_MODEL_DIT], e->name)      ? FG_LORA_MODEL_DIT
                : fg_weights_has(tm->models.model[FG_LORA_MODEL_CLIP_L], e->name) ? FG_LORA_MODEL_CLIP_L
                                                                                   : FG_LORA_MODEL_T5;
        if (!CHECK_OK(fg_weights_get(patched[k], e->name, &got))) continue;
        CHECK(got.dtype == FG_F32, "%s: %s kept in F32", name, e->name);
        double d = max_abs_diff(&want, &got);
        CHECK(d <= 1e-6, "%s: %s differs from ComfyUI by %g", name, e->name, d);
    }
done:
    for (int k = 0; k < FG_LORA_MODEL_COUNT; k++) fg_weights_close(patched[k]);
}

static void test_patched_weights_match_comfyui(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    for (size_t i = 0; i < N_FILES; i++) {
        fg_lora_file *f = NULL;
        fg_safetensors *exp = NULL;
        fg_lora_match m = {0};
        if (CHECK_OK(lora_test_open(k_files[i], &f, &exp)) && CHECK_OK(fg_lora_match_models(f, &tm.models, 0.8, 0.6, &m)))
            check_patched_values(k_files[i], &tm, &m, exp);
        fg_lora_match_free(&m);
        fg_safetensors_close(exp);
        fg_lora_close(f);
    }
    lora_test_models_close(&tm);
}

/* Both LoRAs' patches in one list (kohya then diffusers, each with its own strength) give the
 * same weight as applying the first list, then the second, by hand; the base view is
 * unchanged afterwards. */
static void test_stacking_composes_in_order(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    const fg_weights *dit = tm.models.model[FG_LORA_MODEL_DIT];
    const char *target = "double_blocks.0.img_attn.qkv.weight"; /* patched by both files */
    fg_lora_file *fa = NULL, *fb = NULL;
    fg_safetensors *ea = NULL, *eb = NULL;
    fg_lora_match a = {0}, b = {0};
    fg_tensor base, before = {0}, manual = {0}, got;
    fg_weights *patched = NULL;
    fg_lora_weight_patch *both = NULL;
    if (!CHECK_OK(lora_test_open("kohya_r8", &fa, &ea)) || !CHECK_OK(lora_test_open("diffusers_r4", &fb, &eb))) goto done;
    if (!CHECK_OK(fg_lora_match_models(fa, &tm.models, 0.5, 1, &a)) ||
        !CHECK_OK(fg_lora_match_models(fb, &tm.models, -1.25, 1, &b)))
        goto done;
    both = malloc((a.n_patches + b.n_patches) * sizeof *both);
    if (!both) goto done;
    memcpy(both, a.patches, a.n_patches * sizeof *both);
    memcpy(both + a.n_patches, b.patches, b.n_patches * sizeof *both);
    if (!CHECK_OK(fg_weights_get(dit, target, &base)) ||
        !CHECK_OK(fg_tensor_alloc_host(&before, base.dtype, base.ndim, base.shape)) ||
        !CHECK_OK(fg_tensor_alloc_host(&manual, FG_F32, base.ndim, base.shape)))
        goto done;
    memcpy(before.data, base.data, fg_tensor_nbytes(&base));
    if (!CHECK_OK(fg_cast(&manual, &base))) goto done;
    for (size_t i = 0; i < a.n_patches + b.n_patches; i++)
        if (!strcmp(both[i].weight, target) && both[i].model == FG_LORA_MODEL_DIT)
            if (!CHECK_OK(fg_lora_apply_patches(&manual, &both[i].patch, 1, target))) goto done;
    if (!CHECK_OK(fg_lora_build_patched(dit, FG_LORA_MODEL_DIT, both, a.n_patches + b.n_patches, true, &patched)))
        goto done;
    if (CHECK_OK(fg_weights_get(patched, target, &got))) {
        CHECK(max_abs_diff(&manual, &got) == 0, "stacked patches differ from applying them in order");
        CHECK(max_abs_diff(&manual, &base) > 1e-3, "the patches change the weight");
    }
    fg_weights_close(patched);
    patched = NULL;
    CHECK(!memcmp(before.data, base.data, fg_tensor_nbytes(&base)), "the base weight is unchanged");
    CHECK(fg_weights_count(dit) > 0 && fg_weights_has(dit, target), "the base view is intact");
done:
    fg_weights_close(patched);
    free(both);
    fg_tensor_free_host(&before);
    fg_tensor_free_host(&manual);
    fg_lora_match_free(&a);
    fg_lora_match_free(&b);
    fg_safetensors_close(ea);
    fg_safetensors_close(eb);
    fg_lora_close(fa);
    fg_lora_close(fb);
    lora_test_models_close(&tm);
}

/* Strength 0 leaves LoRA weights as they were (widened exactly), and a patched view lists every
 * name once, storing in the base dtype unless asked for F32. */
static void test_strength_zero_and_dtype(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    const fg_weights *dit = tm.models.model[FG_LORA_MODEL_DIT];
    fg_lora_file *f = NULL;
    fg_safetensors *exp = NULL;
    fg_lora_match m = {0};
    fg_weights *zero = NULL, *stored = NULL;
    if (!CHECK_OK(lora_test_open("kohya_r8", &f, &exp)) || !CHECK_OK(fg_lora_match_models(f, &tm.models, 0, 0, &m)))
        goto done;
    if (!CHECK_OK(fg_lora_build_patched(dit, FG_LORA_MODEL_DIT, m.patches, m.n_patches, true, &zero))) goto done;
    fg_tensor base, got;
    if (CHECK_OK(fg_weights_get(dit, "img_in.weight", &base)) && CHECK_OK(fg_weights_get(zero, "img_in.weight", &got)))
        CHECK(max_abs_diff(&got, &base) == 0, "strength 0 changes nothing");
    CHECK(fg_weights_count(zero) == fg_weights_count(dit), "%zu names, base has %zu", fg_weights_count(zero),
          fg_weights_count(dit));
    fg_lora_match_free(&m);
    if (!CHECK_OK(fg_lora_match_models(f, &tm.models, 1, 1, &m))) goto done;
    if (!CHECK_OK(fg_lora_build_patched(dit, FG_LORA_MODEL_DIT, m.patches, m.n_patches, false, &stored))) goto done;
    if (CHECK_OK(fg_weights_get(stored, "img_in.weight", &got))) CHECK(got.dtype == base.dtype, "stored in the base dtype");
done:
    fg_weights_close(zero);
    fg_weights_close(stored);
    fg_lora_match_free(&m);
    fg_safetensors_close(exp);
    fg_lora_close(f);
    lora_test_models_close(&tm);
}

/* ---- --compare-probe EXPECTED OUT: a `fluxgraph probe lora` output against ComfyUI's ---- */

static const char *probe_expected_path, *probe_out_path;

static void test_probe_output_matches_expected(void) {
    fg_safetensors *exp = NULL, *out = NULL;
    if (!CHECK_OK(fg_safetensors_open(probe_expected_path, &exp)) || !CHECK_OK(fg_safetensors_open(probe_out_path, &out)))
        goto done;
    for (size_t i = 0; i < fg_safetensors_count(exp); i++) {
        const fg_st_entry *e = fg_safetensors_entry(exp, i);
        bool is_out = !strcmp(e->name, "c0_out_lora");
        if (!strncmp(e->name, "c0_", 3) && !is_out) continue;
        fg_tensor want, view, got = {0};
        if (!CHECK_OK(fg_safetensors_entry_tensor(exp, e, &want)) || !CHECK_OK(fg_safetensors_tensor(out, e->name, &view)))
            continue;
        bool fits = view.dtype == FG_F32 && fg_tensor_same_shape(&want, &view);
        CHECK(fits, "%s: F32 of the expected shape", e->name);
        if (!fits) continue;
        if (!CHECK_OK(fg_tensor_alloc_host(&got, FG_F32, view.ndim, view.shape))) continue;
        memcpy(got.data, view.data, fg_tensor_nbytes(&view)); /* the mapping need not be aligned */
        double d = max_abs_diff(&want, &got), tol = is_out ? 1e-4 : 1e-6;
        printf("  %-60s max abs %.3g\n", e->name, d);
        CHECK(d <= tol, "%s: max abs %g > %g", e->name, d, tol);
        fg_tensor_free_host(&got);
    }
    const char *want_nl = fg_safetensors_metadata(exp, "not_loaded"), *got_nl = fg_safetensors_metadata(out, "not_loaded");
    CHECK(want_nl && got_nl && !strcmp(want_nl, got_nl), "not_loaded %s, expected %s", got_nl ? got_nl : "-",
          want_nl ? want_nl : "-");
done:
    fg_safetensors_close(exp);
    fg_safetensors_close(out);
}

static void test_info_names_format_rank_alpha(void) {
    static const struct {
        const char *file, *format, *model;
        size_t layers;
        int64_t rank_min, rank_max;
    } cases[] = {
        {"kohya_r8", "kohya", "FLUX", 13, 8, 8},      {"diffusers_r4", "diffusers/PEFT", "FLUX", 17, 4, 4},
        {"comfy_native", "ComfyUI/BFL", "FLUX", 7, 4, 8}, {"xlabs", "XLabs-AI", "XLabs", 8, 4, 4},
        {"xlabs_uso", "XLabs/USO", "FLUX", 4, 8, 8},  {"lokr", "LoKr", "FLUX", 4, 4, 4},
        {"loha", "LoHa", "FLUX", 3, 4, 8},            {"dora", "DoRA", "FLUX", 3, 8, 8},
        {"diff", "full diffs", "FLUX", 6, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "lora/%s.safetensors", cases[i].file);
        fg_lora_info info;
        if (!CHECK_OK(fg_lora_info_read(test_fixture(rel), &info))) continue;
        CHECK(info.is_lora && strstr(info.format, cases[i].format) && !strncmp(info.model, cases[i].model, strlen(cases[i].model)),
              "%s: format '%s', model '%s'", cases[i].file, info.format, info.model);
        CHECK(info.n_layers == cases[i].layers && info.rank_min == cases[i].rank_min && info.rank_max == cases[i].rank_max,
              "%s: %zu layers, rank %lld..%lld", cases[i].file, info.n_layers, (long long)info.rank_min,
              (long long)info.rank_max);
        fg_lora_info_free(&info);
    }
    fg_lora_info info;
    if (CHECK_OK(fg_lora_info_read(test_fixture("lora/diffusers_r4.safetensors"), &info))) {
        for (size_t i = 0; i < info.n_layers; i++) {
            const fg_lora_layer_info *l = &info.layers[i];
            if (!strcmp(l->prefix, "transformer.transformer_blocks.0.attn.to_q")) CHECK(l->has_alpha && l->alpha == 8);
            if (!strcmp(l->prefix, "transformer.transformer_blocks.0.attn.to_k")) CHECK(!l->has_alpha);
        }
        fg_lora_info_free(&info);
    }
    CHECK_ERR(fg_lora_info_read(test_fixture("lora/nope.safetensors"), &info), "nope");
}

/* A hostile LoRA: a LoRA up without its down, and one whose product does not fit the weight. */
static fg_error *write_lora(const char *path, const char *up_name, int64_t up_rows, const char *down_name) {
    fg_st_writer *w = NULL;
    fg_tensor up = {0}, down = {0};
    FG_TRY(fg_st_writer_create(&w));
    fg_error *err = fg_tensor_alloc_host(&up, FG_F32, 2, (int64_t[]){up_rows, 2});
    if (!err) err = fg_tensor_alloc_host(&down, FG_F32, 2, (int64_t[]){2, 64});
    if (!err) err = fg_st_writer_add(w, up_name, &up);
    if (!err && down_name) err = fg_st_writer_add(w, down_name, &down);
    if (!err) err = fg_st_writer_write(w, path);
    fg_st_writer_free(w);
    fg_tensor_free_host(&up);
    fg_tensor_free_host(&down);
    return err;
}

static void test_hostile_lora_files(void) {
    lora_test_models tm;
    if (!CHECK_OK(lora_test_models_open(&tm))) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    fg_lora_file *f = NULL;
    fg_lora_match m = {0};
    fg_weights *patched = NULL;
    if (CHECK_OK(write_lora(path, "lora_unet_img_in.lora_up.weight", 256, NULL)) && CHECK_OK(fg_lora_open(path, &f)))
        CHECK_ERR(fg_lora_match_models(f, &tm.models, 1, 1, &m), "lora_unet_img_in.lora_down.weight");
    fg_lora_close(f);
    f = NULL;
    if (CHECK_OK(write_lora(path, "lora_unet_img_in.lora_up.weight", 7, "lora_unet_img_in.lora_down.weight")) &&
        CHECK_OK(fg_lora_open(path, &f)) && CHECK_OK(fg_lora_match_models(f, &tm.models, 1, 1, &m)))
        CHECK_ERR(fg_lora_build_patched(tm.models.model[FG_LORA_MODEL_DIT], FG_LORA_MODEL_DIT, m.patches, m.n_patches,
                                        true, &patched),
                  "img_in.weight");
    CHECK(!patched, "no view on failure");
    fg_lora_match_free(&m);
    fg_lora_close(f);
    f = NULL;
    fg_st_writer *w = NULL;
    if (CHECK_OK(fg_st_writer_create(&w)) && CHECK_OK(fg_st_writer_write(w, path)) && CHECK_OK(fg_lora_open(path, &f)) &&
        CHECK_OK(fg_lora_match_models(f, &tm.models, 1, 1, &m)))
        CHECK_ERR(fg_lora_check_match(f, &m, false), "holds no tensors");
    fg_st_writer_free(w);
    fg_lora_match_free(&m);
    fg_lora_close(f);
    lora_test_models_close(&tm);
}

/* Patched models are cached per (base, chain, strengths) and leave the cache with their last user. */
static void test_patched_models_are_cached(void) {
    size_t at_start = fg_model_cache_size();
    fg_model_obj *base = NULL, *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    fg_clip_obj *clip = NULL, *ca = NULL, *cb = NULL;
    const char *lora = test_fixture("lora/kohya_r8.safetensors");
    char lora_path[4096];
    snprintf(lora_path, sizeof lora_path, "%s", lora);
    if (!CHECK_OK(fg_model_obj_load(test_fixture("models/diffusion_models/tiny-flux.safetensors"), FG_WEIGHT_DEFAULT, NULL, &base)))
        return;
    char clip_l[4096];
    snprintf(clip_l, sizeof clip_l, "%s", test_fixture("models/text_encoders/tiny-clip-l.safetensors"));
    if (!CHECK_OK(fg_clip_obj_load(clip_l, test_fixture("models/text_encoders/tiny-t5xxl.safetensors"), NULL, &clip))) goto done;
    size_t before = fg_model_cache_size();
    if (!CHECK_OK(fg_lora_apply_objects(base, clip, lora_path, 0.8, 0.6, false, &a, &ca))) goto done;
    if (!CHECK_OK(fg_lora_apply_objects(base, clip, lora_path, 0.8, 0.6, false, &b, &cb))) goto done;
    CHECK(a->slot == b->slot && a->flux == b->flux && ca->clip_l == cb->clip_l, "one patched model per chain");
    CHECK(a->flux != base->flux && a->n_loras == 1 && a->base_slot == base->slot, "a patched DiT over the base");
    if (!CHECK_OK(fg_lora_apply_objects(base, NULL, lora_path, 0.5, 0, false, &c, NULL))) goto done;
    CHECK(c->slot != a->slot, "another strength, another model");
    if (!CHECK_OK(fg_lora_apply_objects(a, NULL, lora_path, 0.5, 0, false, &d, NULL))) goto done;
    CHECK(d->n_loras == 2 && d->base_slot == base->slot && d->slot != c->slot, "stacked on the chain, built from the base");
    CHECK(fg_model_cache_size() == before + 4, "%zu slots (before %zu)", fg_model_cache_size(), before);
    fg_model_obj *strict = NULL;
    CHECK_ERR(fg_lora_apply_objects(base, NULL, lora_path, 1, 0, true, &strict, NULL), "strict-lora");
    CHECK(!strict, "no object on failure");
done:
    fg_model_obj *models[] = {a, b, c, d, base};
    for (size_t i = 0; i < 5; i++)
        if (models[i]) fg_object_unref(&models[i]->base);
    fg_clip_obj *clips[] = {ca, cb, clip};
    for (size_t i = 0; i < 3; i++)
        if (clips[i]) fg_object_unref(&clips[i]->base);
    CHECK(fg_model_cache_size() == at_start, "%zu slots left, %zu at the start", fg_model_cache_size(), at_start);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--compare-probe")) {
        probe_expected_path = argv[2];
        probe_out_path = argv[3];
        RUN_TEST(test_probe_output_matches_expected);
        return test_summary();
    }
    RUN_TEST(test_info_names_format_rank_alpha);
    RUN_TEST(test_hostile_lora_files);
    RUN_TEST(test_patched_models_are_cached);
    RUN_TEST(test_stacking_composes_in_order);
    RUN_TEST(test_strength_zero_and_dtype);
    RUN_TEST(test_patched_weights_match_comfyui);
    RUN_TEST(test_key_mapping_matches_comfyui);
    RUN_TEST(test_diffusers_slices);
    RUN_TEST(test_model_only_reports_text_encoder_keys);
    RUN_TEST(test_nothing_maps_is_an_error);
    RUN_TEST(test_uso_conversion_names);
    return test_summary();
}
