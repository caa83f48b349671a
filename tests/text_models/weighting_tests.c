/* ComfyUI's prompt-weight application (docs/models.md 5.4) and the FLUX conditioning glue. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testing.h"
#include "tests/text_models/tm.h"
#include "text_encoders/flux_text_encode.h"

static bool cpu_tensor(fg_tensor *t, int ndim, const int64_t *shape, const float *values) {
    if (!CHECK_OK(fg_tensor_alloc(t, FG_DEVICE_CPU, FG_F32, ndim, shape))) return false;
    memcpy(t->data, values, fg_tensor_nbytes(t));
    return true;
}

void test_apply_token_weights_by_hand(void) {
    const float z_in[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* Row 0 (weight 1) must stay exactly z: (1 - 1e10) * 1 + 1e10 would give 0 in f32. */
    const float e_in[] = {1e10f, 1e10f, 1, 1, 2, 2, 0, 0, 4, 4, 8, 8, 99, 99};
    /* Rows 1 and 3 both weigh 2 but are separate runs; rows 4-5 are one run of 0 (-> empty). */
    const float weights[] = {1, 2, 0.5f, 2, 0, 0};
    /* (z - e) * w + e by hand: row 1 (3-1)*2+1 = 5, (4-1)*2+1 = 7; row 2 (5-2)/2+2 = 3.5,
     * (6-2)/2+2 = 4; row 3 (7-0)*2 = 14, 16; rows 4-5 the empty rows 4, 4, 8, 8. */
    const float expected[] = {1, 2, 5, 7, 3.5f, 4, 14, 16, 4, 4, 8, 8};
    fg_tensor z, e;
    if (cpu_tensor(&z, FG_SHAPE(1, 6, 2), z_in) && cpu_tensor(&e, FG_SHAPE(1, 7, 2), e_in)) {
        if (CHECK_OK(fg_apply_token_weights(&z, &e, weights)))
            for (int i = 0; i < 12; i++)
                CHECK(((float *)z.data)[i] == expected[i], "element %d: %g, expected %g", i,
                      (double)((float *)z.data)[i], (double)expected[i]);
        fg_tensor_free(&e);
    }
    fg_tensor_free(&z);

    /* All weights 1: untouched, bit for bit (no (z - e) * 1 + e rounding). */
    const float odd[] = {0.1f, 1e-30f, 3.3f, 7.7f};
    const float e2[] = {1e10f, 1e10f, 1e10f, 1e10f};
    const float ones[] = {1, 1};
    if (cpu_tensor(&z, FG_SHAPE(2, 2), odd) && cpu_tensor(&e, FG_SHAPE(2, 2), e2)) {
        CHECK_OK(fg_apply_token_weights(&z, &e, ones));
        CHECK(memcmp(z.data, odd, sizeof odd) == 0, "weight-1 rows changed");
        fg_tensor_free(&e);
    }
    fg_tensor_free(&z);
}

void test_apply_token_weights_rejects_bad_input(void) {
    const float v[] = {1, 2, 3, 4};
    fg_tensor z, e;
    if (!cpu_tensor(&z, FG_SHAPE(1, 2, 2), v)) return;
    if (cpu_tensor(&e, FG_SHAPE(1, 1, 2), v)) {
        CHECK_ERR(fg_apply_token_weights(&z, &e, (const float[]){2, 2}), "z_empty [1, 1, 2]");
        fg_tensor_free(&e);
    }
    if (cpu_tensor(&e, FG_SHAPE(1, 2, 2), v)) {
        CHECK_ERR(fg_apply_token_weights(&z, &e, (const float[]){1, NAN}), "weight of token 1");
        CHECK_ERR(fg_apply_token_weights(&z, &e, (const float[]){INFINITY, 1}), "weight of token 0");
        fg_tensor_free(&e);
    }
    if (cpu_tensor(&e, FG_SHAPE(2, 2, 2), (const float[]){1, 2, 3, 4, 5, 6, 7, 8}))
        CHECK_ERR(fg_apply_token_weights(&z, &e, (const float[]){2, 2}), "expected [1.., L, D]");
    fg_tensor_free(&e);
    CHECK(memcmp(z.data, v, sizeof v) == 0, "z changed by a rejected call");
    fg_tensor_free(&z);
}

/* Prompt p19 of the tokenizer golden file: "a ((very)) detailed (photo:0.8) of [something]",
 * weights 1.21 and 0.8; p30: four CLIP chunks. */
typedef struct prompt_tokens {
    int32_t *clip_ids, *t5_ids;
    float *clip_w, *t5_w;
    int64_t chunks, clip_len, t5_len;
} prompt_tokens;

static float *copy_f32(const fg_safetensors *st, const char *name, int64_t want) {
    int64_t n = 0;
    const float *v = golden_f32(st, name, &n);
    if (!v || n != want) return NULL;
    float *out = malloc((size_t)n * sizeof *out);
    if (out) memcpy(out, v, (size_t)n * sizeof *out);
    return out;
}

static bool load_prompt(int index, prompt_tokens *p) {
    memset(p, 0, sizeof *p);
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/tokenizers.safetensors"), &st))) return false;
    char name[64];
    int64_t one;
    snprintf(name, sizeof name, "p%d_clip_ids", index);
    p->clip_ids = golden_ids(st, name, &p->chunks, &p->clip_len);
    snprintf(name, sizeof name, "p%d_t5_ids", index);
    p->t5_ids = golden_ids(st, name, &one, &p->t5_len);
    snprintf(name, sizeof name, "p%d_clip_w", index);
    p->clip_w = copy_f32(st, name, p->chunks * p->clip_len);
    snprintf(name, sizeof name, "p%d_t5_w", index);
    p->t5_w = copy_f32(st, name, p->t5_len);
    fg_safetensors_close(st);
    bool ok = p->clip_ids && p->t5_ids && p->clip_w && p->t5_w;
    CHECK(ok, "prompt %d tokens", index);
    return ok;
}

static void free_prompt(prompt_tokens *p) {
    free(p->clip_ids);
    free(p->t5_ids);
    free(p->clip_w);
    free(p->t5_w);
}

static fg_flux_token_arrays as_flux_tokens(const prompt_tokens *p) {
    return (fg_flux_token_arrays){.clip_ids = p->clip_ids, .clip_weights = p->clip_w, .clip_chunks = p->chunks,
                            .clip_len = p->clip_len, .t5_ids = p->t5_ids, .t5_weights = p->t5_w,
                            .t5_len = p->t5_len};
}

/* Row j of the weighted output vs (z[j] - e[j]) * w + e[j] computed here, one rounding per
 * step as torch does; weight-1 rows must be z itself. */
static void check_weighted_rows(const float *got, const float *both, const float *w, int64_t len, int64_t d) {
    int64_t bad = 0, weighted = 0;
    for (int64_t j = 0; j < len; j++) {
        for (int64_t i = 0; i < d; i++) {
            float z = both[j * d + i], e = both[(len + j) * d + i];
            volatile float t = z - e;
            t = t * w[j];
            volatile float want = w[j] == 1.0f ? z : t + e;
            if (got[j * d + i] != want) bad++;
        }
        weighted += w[j] != 1.0f;
    }
    CHECK(weighted > 0, "the prompt has no weighted tokens");
    CHECK(bad == 0, "%lld values differ from the host reference", (long long)bad);
}

void test_t5_weighted_matches_host_reference(void) {
    prompt_tokens p;
    fg_t5_model *m = NULL;
    if (!load_prompt(19, &p) || !CHECK_OK(fg_t5_open(test_fixture(TINY_T5), &m))) goto done;
    const int64_t len = p.t5_len, d = fg_t5_model_config(m)->d_model;
    int32_t *pair = malloc((size_t)(2 * len) * sizeof *pair);
    memcpy(pair, p.t5_ids, (size_t)len * sizeof *pair);
    for (int64_t i = 0; i < len; i++) pair[len + i] = i == 0 ? 1 : 0; /* ComfyUI's empty T5 sequence */
    fg_tensor both, weighted, plain, hb, hw, hp;
    if (CHECK_OK(fg_t5_encode(m, FG_DEVICE_CPU, pair, 2, len, NULL, &both)) &&
        CHECK_OK(fg_t5_encode_weighted(m, FG_DEVICE_CPU, p.t5_ids, p.t5_w, len, &weighted)) &&
        CHECK_OK(fg_t5_encode_weighted(m, FG_DEVICE_CPU, p.t5_ids, NULL, len, &plain)) && to_host(&both, &hb) &&
        to_host(&weighted, &hw) && to_host(&plain, &hp)) {
        CHECK(hw.ndim == 3 && hw.shape[0] == 1 && hw.shape[1] == len && hw.shape[2] == d);
        check_weighted_rows(hw.data, hb.data, p.t5_w, len, d);
        double moved = max_abs_diff(hw.data, hp.data, len * d);
        CHECK(moved > 1e-3, "weights changed the output by only %g", moved);
        fg_tensor_free_host(&hb);
        fg_tensor_free_host(&hw);
        fg_tensor_free_host(&hp);
    }
    fg_tensor_free(&both);
    fg_tensor_free(&weighted);
    fg_tensor_free(&plain);
    free(pair);
done:
    fg_t5_free(m);
    free_prompt(&p);
}

static bool same_values(const fg_tensor *a, const fg_tensor *b) {
    fg_tensor ha, hb;
    if (!to_host(a, &ha)) return false;
    if (!to_host(b, &hb)) {
        fg_tensor_free_host(&ha);
        return false;
    }
    bool same = fg_tensor_same_shape(&ha, &hb) && memcmp(ha.data, hb.data, fg_tensor_nbytes(&ha)) == 0;
    fg_tensor_free_host(&ha);
    fg_tensor_free_host(&hb);
    return same;
}

/* cond = weighted T5, pooled = CLIP pooled of chunk 0, whatever the CLIP weights. */
static void check_flux_encode(const prompt_tokens *p, const fg_clip_model *clip, const fg_t5_model *t5) {
    fg_flux_token_arrays tok = as_flux_tokens(p);
    fg_tensor cond, pooled, t5_ref, cond2, pooled2;
    fg_clip_outputs chunk0;
    if (!CHECK_OK(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled))) return;
    CHECK(cond.ndim == 3 && cond.shape[0] == 1 && cond.shape[1] == p->t5_len && cond.shape[2] == 64);
    CHECK(pooled.ndim == 2 && pooled.shape[0] == 1 && pooled.shape[1] == 128);
    if (CHECK_OK(fg_t5_encode_weighted(t5, FG_DEVICE_CPU, p->t5_ids, p->t5_w, p->t5_len, &t5_ref))) {
        CHECK(same_values(&cond, &t5_ref), "cond is not the weighted T5 output");
        fg_tensor_free(&t5_ref);
    }
    if (CHECK_OK(fg_clip_encode(clip, FG_DEVICE_CPU, p->clip_ids, 1, p->clip_len, FG_CLIP_POOLED, &chunk0))) {
        CHECK(same_values(&pooled, &chunk0.pooled), "pooled is not chunk 0's pooled output");
        fg_clip_outputs_free(&chunk0);
    }
    float *heavy = malloc((size_t)(p->chunks * p->clip_len) * sizeof *heavy);
    for (int64_t i = 0; heavy && i < p->chunks * p->clip_len; i++) heavy[i] = 2.5f;
    tok.clip_weights = heavy;
    if (CHECK_OK(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond2, &pooled2))) {
        CHECK(same_values(&pooled, &pooled2), "CLIP weights changed pooled");
        fg_tensor_free(&cond2);
        fg_tensor_free(&pooled2);
    }
    free(heavy);
    fg_tensor_free(&cond);
    fg_tensor_free(&pooled);
}

void test_flux_encode_weighted_prompt(void) {
    prompt_tokens p;
    fg_clip_model *clip = NULL;
    fg_t5_model *t5 = NULL;
    if (load_prompt(19, &p) && CHECK_OK(fg_clip_open(test_fixture(TINY_CLIP), &clip)) &&
        CHECK_OK(fg_t5_open(test_fixture(TINY_T5), &t5)))
        check_flux_encode(&p, clip, t5);
    fg_clip_free(clip);
    fg_t5_free(t5);
    free_prompt(&p);
}

void test_flux_encode_multi_chunk_prompt(void) {
    prompt_tokens p;
    fg_clip_model *clip = NULL;
    fg_t5_model *t5 = NULL;
    fg_clip_outputs chunk1;
    fg_tensor cond, pooled;
    if (!load_prompt(30, &p) || !CHECK_OK(fg_clip_open(test_fixture(TINY_CLIP), &clip)) ||
        !CHECK_OK(fg_t5_open(test_fixture(TINY_T5), &t5)))
        goto done;
    CHECK(p.chunks == 4, "%lld chunks", (long long)p.chunks);
    check_flux_encode(&p, clip, t5);
    fg_flux_token_arrays tok = as_flux_tokens(&p);
    if (CHECK_OK(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled))) {
        if (CHECK_OK(fg_clip_encode(clip, FG_DEVICE_CPU, p.clip_ids + p.clip_len, 1, p.clip_len, FG_CLIP_POOLED,
                                    &chunk1))) {
            CHECK(!same_values(&pooled, &chunk1.pooled), "chunk 1 gives the same pooled vector as chunk 0");
            fg_clip_outputs_free(&chunk1);
        }
        fg_tensor_free(&cond);
        fg_tensor_free(&pooled);
    }
done:
    fg_clip_free(clip);
    fg_t5_free(t5);
    free_prompt(&p);
}

void test_flux_encode_rejects_bad_input(void) {
    prompt_tokens p;
    fg_clip_model *clip = NULL;
    fg_t5_model *t5 = NULL;
    fg_tensor cond, pooled;
    if (!load_prompt(18, &p) || !CHECK_OK(fg_clip_open(test_fixture(TINY_CLIP), &clip)) ||
        !CHECK_OK(fg_t5_open(test_fixture(TINY_T5), &t5)))
        goto done;
    fg_flux_token_arrays tok = as_flux_tokens(&p);
    tok.t5_weights = NULL;
    p.t5_w[3] = NAN;
    tok.t5_weights = p.t5_w;
    CHECK_ERR(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled), "T5: the weight of token 3");
    CHECK(cond.data == NULL && pooled.data == NULL, "outputs left behind on failure");
    p.t5_w[3] = 1.0f;
    p.t5_ids[5] = 40000;
    CHECK_ERR(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled), "id 40000 at position 5");
    CHECK(cond.data == NULL && pooled.data == NULL, "outputs left behind on failure");
    tok.clip_chunks = 0;
    CHECK_ERR(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled), "0 chunks");
    tok.clip_chunks = 1;
    tok.clip_len = 78;
    CHECK_ERR(fg_flux_text_encode(clip, t5, FG_DEVICE_CPU, &tok, &cond, &pooled), "77 positions");
done:
    fg_clip_free(clip);
    fg_t5_free(t5);
    free_prompt(&p);
}
