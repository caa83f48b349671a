/* Conditioning nodes: CLIPTextEncode against the golden tiny-model encodings, and the
 * semantics of CLIPTextEncodeFlux, FluxGuidance, ConditioningZeroOut, ConditioningCombine and
 * ConditioningSetTimestepRange (docs/comfyui.md 3.3). */
#include <string.h>

#include "model_nodes.h"
#include "tests/testing.h"

#define PROMPT "a photo of a cat wearing a tiny hat"

static fg_clip_obj *clip;

static void test_clip_text_encode_matches_golden(void) {
    fg_conditioning *c = mn_encode(clip, PROMPT);
    fg_tensor cond = {0}, pooled = {0};
    if (c && mn_golden("golden/sampler.safetensors", "cond", &cond, false) &&
        mn_golden("golden/sampler.safetensors", "pooled", &pooled, false)) {
        CHECK(c->count == 1);
        const fg_cond_entry *e = &c->entries[0];
        CHECK(e->cond.ndim == 3 && e->cond.shape[1] == 256 && e->cond.shape[2] == 64);
        float dc = mn_max_abs_diff(&e->cond, &cond), dp = mn_max_abs_diff(&e->pooled, &pooled);
        CHECK(dc <= 3e-4f, "cond max abs diff %g", dc);
        CHECK(dp <= 1e-4f, "pooled max abs diff %g", dp);
        CHECK(!e->has_guidance && e->start_percent == 0.0 && e->end_percent == 1.0);
    }
    fg_tensor_free_host(&cond);
    fg_tensor_free_host(&pooled);
    if (c) fg_object_unref(&c->base);
}

static void test_prompt_weights_change_the_encoding(void) {
    fg_conditioning *a = mn_encode(clip, "a cat"), *b = mn_encode(clip, "a (cat:1.5)");
    if (a && b) {
        CHECK(mn_max_abs_diff(&a->entries[0].cond, &b->entries[0].cond) > 1e-3f, "weights change T5's output");
        CHECK(mn_max_abs_diff(&a->entries[0].pooled, &b->entries[0].pooled) == 0.0f, "pooled is unweighted");
    }
    if (a) fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
}

static fg_conditioning *run_cond_node(const char *cls, fg_value *in) {
    fg_value out[1];
    fg_conditioning *c = NULL;
    if (CHECK_OK(mn_run(cls, in, out))) {
        CHECK(out[0].type == FG_TYPE_CONDITIONING);
        c = (fg_conditioning *)fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    return c;
}

static fg_value cond_value(fg_conditioning *c) {
    return fg_value_object(fg_object_ref(&c->base));
}

static void test_clip_text_encode_flux(void) {
    fg_conditioning *ref = mn_encode(clip, PROMPT);
    fg_value in[4] = {fg_value_object(fg_object_ref(&clip->base)), fg_value_string(PROMPT), fg_value_string(PROMPT),
                      fg_value_float(2.5)};
    fg_conditioning *c = run_cond_node("CLIPTextEncodeFlux", in);
    if (c && ref) {
        CHECK(c->count == 1 && c->entries[0].has_guidance && c->entries[0].guidance == 2.5);
        CHECK(mn_max_abs_diff(&c->entries[0].cond, &ref->entries[0].cond) == 0.0f);
        CHECK(mn_max_abs_diff(&c->entries[0].pooled, &ref->entries[0].pooled) == 0.0f);
    }
    mn_clear(in, 4);
    if (c) fg_object_unref(&c->base);
    /* each encoder gets its own text: a different CLIP text changes pooled only */
    fg_value in2[4] = {fg_value_object(fg_object_ref(&clip->base)), fg_value_string("a dog"), fg_value_string(PROMPT),
                       fg_value_float(3.5)};
    c = run_cond_node("CLIPTextEncodeFlux", in2);
    if (c && ref) {
        CHECK(mn_max_abs_diff(&c->entries[0].cond, &ref->entries[0].cond) == 0.0f);
        CHECK(mn_max_abs_diff(&c->entries[0].pooled, &ref->entries[0].pooled) > 0.0f);
    }
    mn_clear(in2, 4);
    if (c) fg_object_unref(&c->base);
    if (ref) fg_object_unref(&ref->base);
}

static void test_flux_guidance(void) {
    fg_conditioning *src = mn_encode(clip, "a cat");
    if (!src) return;
    fg_value in[2] = {cond_value(src), fg_value_float(4.0)};
    fg_conditioning *c = run_cond_node("FluxGuidance", in);
    if (c) {
        CHECK(c != src && c->count == 1 && c->entries[0].has_guidance && c->entries[0].guidance == 4.0);
        CHECK(!src->entries[0].has_guidance, "the input is never changed");
        CHECK(mn_max_abs_diff(&c->entries[0].cond, &src->entries[0].cond) == 0.0f);
        CHECK(c->entries[0].cond.data != src->entries[0].cond.data);
        fg_object_unref(&c->base);
    }
    mn_clear(in, 2);
    fg_object_unref(&src->base);
}

static bool all_zero(const fg_tensor *t) {
    const float *p = t->data;
    for (int64_t i = 0; i < fg_tensor_numel(t); i++)
        if (p[i] != 0.0f) return false;
    return true;
}

static void test_conditioning_zero_out(void) {
    fg_conditioning *src = mn_encode(clip, "a cat");
    if (!src) return;
    fg_value g_in[2] = {cond_value(src), fg_value_float(3.0)};
    fg_conditioning *guided = run_cond_node("FluxGuidance", g_in);
    mn_clear(g_in, 2);
    if (guided) {
        fg_value in[1] = {cond_value(guided)};
        fg_conditioning *z = run_cond_node("ConditioningZeroOut", in);
        if (z) {
            CHECK(fg_tensor_same_shape(&z->entries[0].cond, &src->entries[0].cond));
            CHECK(all_zero(&z->entries[0].cond) && all_zero(&z->entries[0].pooled));
            CHECK(z->entries[0].has_guidance && z->entries[0].guidance == 3.0, "other extras kept");
            CHECK(!all_zero(&guided->entries[0].cond), "the input is never changed");
            fg_object_unref(&z->base);
        }
        mn_clear(in, 1);
        fg_object_unref(&guided->base);
    }
    fg_object_unref(&src->base);
}

static void test_conditioning_combine_and_range(void) {
    fg_conditioning *a = mn_encode(clip, "a cat"), *b = mn_encode(clip, "a dog");
    if (!a || !b) goto done;
    fg_value r_in[3] = {cond_value(b), fg_value_float(0.25), fg_value_float(0.75)};
    fg_conditioning *ranged = run_cond_node("ConditioningSetTimestepRange", r_in);
    mn_clear(r_in, 3);
    if (!ranged) goto done;
    CHECK(ranged->entries[0].start_percent == 0.25 && ranged->entries[0].end_percent == 0.75);
    CHECK(b->entries[0].start_percent == 0.0 && b->entries[0].end_percent == 1.0);
    fg_value in[2] = {cond_value(a), cond_value(ranged)};
    fg_conditioning *ab = run_cond_node("ConditioningCombine", in);
    mn_clear(in, 2);
    if (ab) {
        fg_value in2[2] = {cond_value(ab), cond_value(a)};
        fg_conditioning *aba = run_cond_node("ConditioningCombine", in2);
        mn_clear(in2, 2);
        CHECK(ab->count == 2);
        CHECK(mn_max_abs_diff(&ab->entries[0].cond, &a->entries[0].cond) == 0.0f);
        CHECK(mn_max_abs_diff(&ab->entries[1].cond, &b->entries[0].cond) == 0.0f);
        CHECK(ab->entries[1].start_percent == 0.25 && ab->entries[0].start_percent == 0.0);
        if (aba) {
            CHECK(aba->count == 3 && aba->entries[1].end_percent == 0.75);
            CHECK(mn_max_abs_diff(&aba->entries[2].pooled, &a->entries[0].pooled) == 0.0f);
            fg_object_unref(&aba->base);
        }
        fg_object_unref(&ab->base);
    }
    fg_object_unref(&ranged->base);
done:
    if (a) fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
}

static void test_conditioning_none_inputs(void) {
    fg_value in[2] = {{.type = FG_TYPE_NONE}, fg_value_float(1.0)}, out[1];
    CHECK_ERR(mn_run("FluxGuidance", in, out), "conditioning input is invalid");
    fg_value in2[4] = {{.type = FG_TYPE_NONE}, fg_value_string("a"), fg_value_string("b"), fg_value_float(1.0)};
    CHECK_ERR(mn_run("CLIPTextEncodeFlux", in2, out), "clip input is invalid: None");
    mn_clear(in2, 4);
    /* invalid UTF-8 in the prompt is a clean error */
    if (clip) {
        fg_value in3[2] = {fg_value_string("caf\xc3"), fg_value_object(fg_object_ref(&clip->base))};
        CHECK_ERR(mn_run("CLIPTextEncode", in3, out), NULL);
        mn_clear(in3, 2);
    }
}

void conditioning_tests(void) {
    clip = mn_dual_clip("tiny-t5xxl.safetensors", "tiny-clip-l.safetensors");
    RUN_TEST(test_clip_text_encode_matches_golden);
    RUN_TEST(test_prompt_weights_change_the_encoding);
    RUN_TEST(test_clip_text_encode_flux);
    RUN_TEST(test_flux_guidance);
    RUN_TEST(test_conditioning_zero_out);
    RUN_TEST(test_conditioning_combine_and_range);
    RUN_TEST(test_conditioning_none_inputs);
    if (clip) fg_object_unref(&clip->base);
    clip = NULL;
}
