/* T5 SentencePiece tokenizer: golden ids of every fixture prompt (both vocabulary formats),
 * the test vectors of docs/models.md 5.2a, the charsmap normaliser, tricky and hostile text, hostile vocabulary
 * files and the speed of a 1 MB prompt. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/safetensors.h"
#include "tests/t5_tokenizer/t5_test_util.h"
#include "tests/testing.h"
#include "text_encoders/sentencepiece_model.h"
#include "text_encoders/sentencepiece_normalizer.h"
#include "text_encoders/t5_tokenizer.h"
#include "text_encoders/vocab_data.h"

static fg_t5_tokenizer *tok_default, *tok_json, *tok_proto;

static void test_load_all(void) {
    double t0 = t5_now();
    CHECK_OK(fg_t5_tokenizer_load_default(&tok_default));
    double t1 = t5_now();
    CHECK_OK(fg_t5_tokenizer_load_file(t5_write_blob("tokenizer.json", fg_vocab_t5_tokenizer_json()), &tok_json));
    double t2 = t5_now();
    CHECK_OK(fg_t5_tokenizer_load_file(t5_write_blob("spiece.model", fg_vocab_t5_spiece_model()), &tok_proto));
    double t3 = t5_now();
    printf("  load: default %.1f ms, tokenizer.json file %.1f ms, spiece.model file %.1f ms\n", (t1 - t0) * 1e3,
           (t2 - t1) * 1e3, (t3 - t2) * 1e3);
    CHECK(tok_default && tok_json && tok_proto);
}

static void test_vocab(void) {
    if (!tok_json || !tok_proto) return;
    CHECK(fg_t5_vocab_size(tok_json) == 32100, "%zu", fg_t5_vocab_size(tok_json));
    CHECK(fg_t5_vocab_size(tok_proto) == 32100, "%zu", fg_t5_vocab_size(tok_proto));
    size_t differ = 0;
    for (int32_t i = 0; i < 32100; i++) {
        const char *a = fg_t5_piece(tok_json, i), *b = fg_t5_piece(tok_proto, i);
        if (!a || !b || strcmp(a, b) != 0) differ++;
    }
    CHECK(differ == 0, "%zu pieces differ between the formats", differ);
    CHECK(strcmp(fg_t5_piece(tok_json, 0), "<pad>") == 0 && strcmp(fg_t5_piece(tok_json, 1), "</s>") == 0);
    CHECK(strcmp(fg_t5_piece(tok_json, 2), "<unk>") == 0 && strcmp(fg_t5_piece(tok_json, 3), "\xE2\x96\x81") == 0);
    CHECK(strcmp(fg_t5_piece(tok_proto, 32000), "<extra_id_99>") == 0);
    CHECK(strcmp(fg_t5_piece(tok_proto, 32099), "<extra_id_0>") == 0);
    CHECK(fg_t5_piece(tok_json, 32100) == NULL && fg_t5_piece(tok_json, -1) == NULL);
    /* No piece holds "▁" after its start, so no piece spans a word boundary: HF's split into
     * words before the search gives sentencepiece's segmentation (t5_tokenizer.c relies on it). */
    size_t inner = 0;
    for (int32_t i = 0; i < 32100; i++) inner += strstr(fg_t5_piece(tok_json, i) + 1, "\xE2\x96\x81") != NULL;
    CHECK(inner == 0, "%zu pieces hold an inner \"\\u2581\"", inner);
}

static void test_hello_world(void) {
    if (!tok_default) return;
    const int32_t want[] = {8774, 296};
    t5_expect_ids(tok_default, "Hello world", want, 2);
    CHECK(strcmp(fg_t5_piece(tok_default, 8774), "\xE2\x96\x81Hello") == 0);
}

static void test_spec_vectors(void) {
    const int32_t cat[] = {3, 9, 1202, 13, 3, 9, 1712};
    const int32_t sign[] = {71, 1712, 3609, 3, 9, 1320, 24, 845, 21820, 296};
    fg_t5_tokenizer *toks[] = {tok_default, tok_json, tok_proto};
    for (int k = 0; k < 3; k++) {
        if (!toks[k]) continue;
        t5_expect_ids(toks[k], "a photo of a cat", cat, 7);
        t5_expect_ids(toks[k], "A cat holding a sign that says hello world", sign, 10);
    }
}

/* Every golden prompt: pI_t5_raw is the tokenizer output plus the eos. */
static void check_golden(fg_t5_tokenizer *tok, const char *label, bool verbose) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(test_fixture("golden/tokenizers.safetensors"), &st))) return;
    const char *count_s = fg_safetensors_metadata(st, "count");
    int count = count_s ? atoi(count_s) : 0;
    CHECK(count == 31, "count %d", count);
    int ok = 0;
    for (int i = 0; i < count; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%d", i);
        json_error_t jerr;
        const char *meta = fg_safetensors_metadata(st, key);
        json_t *prompt = meta ? json_loads(meta, JSON_DECODE_ANY, &jerr) : NULL;
        snprintf(key, sizeof key, "p%d_t5_raw", i);
        fg_tensor want;
        CHECK(json_is_string(prompt), "prompt %d", i);
        if (!json_is_string(prompt) || !CHECK_OK(fg_safetensors_tensor(st, key, &want))) {
            json_decref(prompt);
            continue;
        }
        int64_t n = fg_tensor_numel(&want);
        const int32_t *w = want.data;
        CHECK(want.dtype == FG_I32 && n >= 1 && w[n - 1] == FG_T5_EOS_ID, "prompt %d tensor", i);
        bool same =
            t5_compare_prompt(tok, json_string_value(prompt), json_string_length(prompt), w, (size_t)n - 1, i, label);
        ok += same;
        if (verbose) {
            char shown[64];
            snprintf(shown, sizeof shown, "%s", json_string_value(prompt));
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20) *c = ' '; /* keep one line per prompt */
            printf("  p%-2d %s (%lld ids) %s\n", i, same ? "ok  " : "FAIL", (long long)n, shown);
        }
        json_decref(prompt);
    }
    printf("  %s: %d/%d golden prompts exact\n", label, ok, count);
    CHECK(ok == count);
    fg_safetensors_close(st);
}

static void test_golden_default(void) { if (tok_default) check_golden(tok_default, "default", true); }
static void test_golden_json(void) { if (tok_json) check_golden(tok_json, "tokenizer.json", false); }
static void test_golden_proto(void) { if (tok_proto) check_golden(tok_proto, "spiece.model", false); }

/* The charsmap mappings observed in this blob (docs/models.md 5.2). */
static void test_charsmap(void) {
    fg_sp_model m;
    fg_sp_model_init(&m);
    fg_blob b = fg_vocab_t5_spiece_model();
    if (!CHECK_OK(fg_sp_read_proto(b.data, b.size, &m))) return;
    CHECK(m.charsmap_size == 237539, "%zu", m.charsmap_size);
    fg_sp_normalizer nz;
    if (CHECK_OK(fg_sp_normalizer_init(&nz, m.charsmap, m.charsmap_size))) {
        static const char *const cases[][2] = {
            {"\xEF\xBC\xA1", "A"},          {"\xE3\x80\x80", " "}, {"\xC2\xA0", " "},
            {"\t", " "},                    {"\x0B", ""},          {"\xEF\xAC\x81", "fi"},
            {"\xE2\x91\xA0", "1"},          {"\xE2\x80\xA6", "..."}, {"\xE2\x84\xA2", "TM"},
            {"e\xCC\x81", "\xC3\xA9"},      {"a", "a"},            {"\xC3\xA9", "\xC3\xA9"},
       {"\xFF", "\xEF\xBF\xBD"},   {"\xEF\xBF\xBD", " "},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            fg_sp_buf buf = {0};
            size_t in_len = strlen(cases[i][0]);
            if (CHECK_OK(fg_sp_charsmap_apply(&nz, cases[i][0], in_len, &buf)))
                CHECK(buf.len == strlen(cases[i][1]) && memcmp(buf.data, cases[i][1], buf.len) == 0,
                      "case %zu: got '%.*s'", i, (int)buf.len, buf.data ? buf.data : "");
            free(buf.data);
        }
        /* Per grapheme cluster (tokenizers' rule): a cluster under 6 bytes with a key as prefix
         * becomes the shortest key's mapping, the rest of the cluster dropped; a longer cluster
         * is mapped character by character. */
        static const char *const clusters[][2] = {
            {"a\xCC\x88\xCC\x81", "\xC3\xA4"},                       /* a + U+0308 + U+0301 -> ä */
            {"e\xCC\x81\xCC\x81", "\xC3\xA9"},                       /* é, second acute dropped */
            {"x\xCC\x80\xCC\x81\xCC\x82", "x\xCC\x80\xCC\x81\xCC\x82"}, /* 7 bytes, no keys: kept */
            {"\xEF\xBC\xA1\xEF\xBC\xA2", "AB"},
        };
        for (size_t i = 0; i < sizeof clusters / sizeof clusters[0]; i++) {
            fg_sp_buf buf = {0};
            if (CHECK_OK(fg_sp_charsmap_apply(&nz, clusters[i][0], strlen(clusters[i][0]), &buf)))
                CHECK(buf.len == strlen(clusters[i][1]) && memcmp(buf.data, clusters[i][1], buf.len) == 0,
                      "cluster %zu: got '%.*s'", i, (int)buf.len, buf.data ? buf.data : "");
            free(buf.data);
        }
        fg_sp_normalizer_free(&nz);
    }
    fg_sp_model_free(&m);
}

int main(void) {
    RUN_TEST(test_load_all);
    RUN_TEST(test_vocab);
    RUN_TEST(test_hello_world);
    RUN_TEST(test_spec_vectors);
    RUN_TEST(test_golden_default);
    RUN_TEST(test_golden_json);
    RUN_TEST(test_golden_proto);
    RUN_TEST(test_charsmap);
    t5_run_text_tests(tok_default, tok_json, tok_proto);
    t5_run_hostile_tests();
    fg_t5_tokenizer_free(tok_default);
    fg_t5_tokenizer_free(tok_json);
    fg_t5_tokenizer_free(tok_proto);
    return test_summary();
}
