/* The golden tokenizer file (fixtures README stage 2): every prompt's CLIP-L and T5 ids and
 * weights and the raw tokenizer ids, exact; and the same check on a `fluxgraph probe tokenize`
 * output file. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "tests/testing.h"
#include "tests/tokenizers/tok_test_util.h"

/* A golden tensor as a flat array; false (and a recorded failure) when absent or mistyped. */
static bool golden_array(const fg_safetensors *st, const char *name, fg_dtype dt, int ndim, const void **data,
                         int64_t *rows, int64_t *cols) {
    const fg_st_entry *e = fg_safetensors_find(st, name);
    fg_tensor t;
    if (!e || e->dtype != dt || e->ndim != ndim || !CHECK_OK(fg_safetensors_entry_tensor(st, e, &t))) {
        CHECK(false, "%s missing or not %s with %d dims", name, fg_dtype_name(dt), ndim);
        return false;
    }
    *data = t.data;
    *rows = ndim == 2 ? e->shape[0] : 1;
    *cols = e->shape[ndim - 1];
    return true;
}

/* Compares rows x cols values bitwise; describes the first difference in msg. */
static bool same_values(const char *what, const void *want, int64_t wr, int64_t wc, const void *have, int64_t hr,
                        int64_t hc, char *msg, size_t cap) {
    if (wr != hr || wc != hc) {
        snprintf(msg, cap, "%s: shape [%lld,%lld], golden [%lld,%lld]", what, (long long)hr, (long long)hc,
                 (long long)wr, (long long)wc);
        return false;
    }
    const uint32_t *a = want, *b = have;
    for (int64_t i = 0; i < wr * wc; i++) {
        if (a[i] != b[i]) {
            snprintf(msg, cap, "%s: first difference at [%lld,%lld]: 0x%08x, golden 0x%08x (as int %d vs %d)", what,
                     (long long)(i / wc), (long long)(i % wc), b[i], a[i], (int32_t)b[i], (int32_t)a[i]);
            return false;
        }
    }
    return true;
}

static bool check_chunks(const fg_safetensors *st, int idx, const char *stream, const fg_token_chunks *c, char *msg,
                         size_t cap) {
    char name[64];
    const void *data;
    int64_t r, k;
    snprintf(name, sizeof name, "p%d_%s_ids", idx, stream);
    if (!golden_array(st, name, FG_I32, 2, &data, &r, &k)) return false;
    if (!same_values(name, data, r, k, c->ids, c->rows, c->cols, msg, cap)) return false;
    snprintf(name, sizeof name, "p%d_%s_w", idx, stream);
    if (!golden_array(st, name, FG_F32, 2, &data, &r, &k)) return false;
    return same_values(name, data, r, k, c->weights, c->rows, c->cols, msg, cap);
}

/* Raw ids: the tokenizers' own output with bos/eos (CLIP) or eos (T5). */
static bool check_raw(const fg_safetensors *st, int idx, const char *text, size_t len, char *msg, size_t cap) {
    int32_t *ids = NULL, buf[1 << 12];
    size_t n = 0;
    char name[64];
    const void *data;
    int64_t r, k;
    bool ok = CHECK_OK(fg_clip_tokenize(tt_clip, text, len, &ids, &n)) && n + 2 <= sizeof buf / sizeof buf[0];
    if (ok) {
        buf[0] = FG_CLIP_BOS_ID;
        if (n) memcpy(buf + 1, ids, n * sizeof *ids);
        buf[n + 1] = FG_CLIP_EOS_ID;
        snprintf(name, sizeof name, "p%d_clip_raw", idx);
        ok = golden_array(st, name, FG_I32, 1, &data, &r, &k) && same_values(name, data, 1, k, buf, 1, (int64_t)n + 2, msg, cap);
    }
    free(ids);
    ids = NULL;
    if (ok) ok = CHECK_OK(fg_t5_tokenize(tt_t5, text, len, &ids, &n)) && n + 1 <= sizeof buf / sizeof buf[0];
    if (ok) {
        if (n) memcpy(buf, ids, n * sizeof *ids);
        buf[n] = FG_T5_EOS_ID;
        snprintf(name, sizeof name, "p%d_t5_raw", idx);
        ok = golden_array(st, name, FG_I32, 1, &data, &r, &k) && same_values(name, data, 1, k, buf, 1, (int64_t)n + 1, msg, cap);
    }
    free(ids);
    return ok;
}

static char *prompt_text(const fg_safetensors *st, int idx, size_t *len) {
    char key[32];
    snprintf(key, sizeof key, "p%d", idx);
    const char *meta = fg_safetensors_metadata(st, key);
    json_t *v = meta ? json_loads(meta, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    char *text = NULL;
    if (v && json_is_string(v) && (text = malloc(json_string_length(v) + 1))) {
        *len = json_string_length(v);
        memcpy(text, json_string_value(v), *len + 1);
    }
    json_decref(v);
    return text;
}

static int prompt_count(const fg_safetensors *st) {
    const char *c = fg_safetensors_metadata(st, "count");
    return c ? atoi(c) : 0;
}

void test_golden_prompts(void) {
    fg_safetensors *st = NULL;
    if (!tt_clip || !tt_t5 || !CHECK_OK(fg_safetensors_open(test_fixture("golden/tokenizers.safetensors"), &st))) return;
    int count = prompt_count(st), passed = 0;
    CHECK(count == 31, "%d prompts", count);
    /* Made long ago with OpenAI's simple_tokenizer and sentencepiece, these ids agree with the
     * real transformers 4.x libraries (and with 5.x except for the two CJK prompts p15/p16,
     * which tests/fixtures/tokenizers/comfyui_transformers5 covers). */
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS4);
    fg_t5_tokenizer_set_compat(tt_t5, FG_TOKENIZER_TRANSFORMERS4);
    for (int i = 0; i < count; i++) {
        size_t len = 0;
        char *text = prompt_text(st, i, &len), msg[256] = "";
        fg_flux_tokens toks = {0};
        bool ok = text && CHECK_OK(fg_flux_tokenize(tt_clip, tt_t5, text, len, &toks));
        ok = ok && check_chunks(st, i, "clip", &toks.clip, msg, sizeof msg);
        ok = ok && check_chunks(st, i, "t5", &toks.t5, msg, sizeof msg);
        ok = ok && check_raw(st, i, text, len, msg, sizeof msg);
        char shown[48] = "";
        for (size_t k = 0; text && k < len && k + 1 < sizeof shown; k++) shown[k] = (unsigned char)text[k] < 32 ? ' ' : text[k];
        printf("  p%-2d %s  clip %lldx77, t5 %lld  %s\n", i, ok ? "pass" : "FAIL", (long long)toks.clip.rows,
               (long long)toks.t5.cols, shown);
        if (!ok) printf("       %s\n", msg);
        CHECK(ok, "prompt p%d", i);
        passed += ok;
        fg_flux_tokens_free(&toks);
        free(text);
    }
    printf("  %d / %d golden prompts exact (transformers4 mode)\n", passed, count);
    fg_clip_tokenizer_set_compat(tt_clip, FG_TOKENIZER_TRANSFORMERS5);
    fg_t5_tokenizer_set_compat(tt_t5, FG_TOKENIZER_TRANSFORMERS5);
    fg_safetensors_close(st);
}

void test_probe_output(const char *path, const char *golden_path) {
    fg_safetensors *golden = NULL, *out = NULL;
    if (!golden_path) golden_path = test_fixture("golden/tokenizers.safetensors");
    if (!CHECK_OK(fg_safetensors_open(golden_path, &golden))) return;
    if (CHECK_OK(fg_safetensors_open(path, &out))) {
        size_t n = fg_safetensors_count(golden), exact = 0;
        CHECK(fg_safetensors_count(out) == n, "%zu tensors in the probe output, %zu in golden", fg_safetensors_count(out), n);
        for (size_t i = 0; i < n; i++) {
            const fg_st_entry *g = fg_safetensors_entry(golden, i), *e = fg_safetensors_find(out, g->name);
            fg_tensor gt, et;
            bool ok = e && e->dtype == g->dtype && e->ndim == g->ndim &&
                      memcmp(e->shape, g->shape, (size_t)g->ndim * sizeof g->shape[0]) == 0 &&
                      CHECK_OK(fg_safetensors_entry_tensor(golden, g, &gt)) &&
                      CHECK_OK(fg_safetensors_entry_tensor(out, e, &et)) &&
                      memcmp(gt.data, et.data, g->end - g->begin) == 0;
            if (!ok) printf("  probe %s differs from golden (or is missing)\n", g->name);
            CHECK(ok, "%s", g->name);
            exact += ok;
        }
        printf("  probe: %zu / %zu tensors exact\n", exact, n);
        fg_safetensors_close(out);
    }
    fg_safetensors_close(golden);
}
