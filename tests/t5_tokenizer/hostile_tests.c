/* Hostile vocabulary files: clean errors, never a crash (run under ASan by `make asan`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/t5_tokenizer/t5_test_util.h"
#include "tests/testing.h"

static fg_error *load_bytes(const char *name, const void *data, size_t size, fg_t5_tokenizer **tok) {
    return fg_t5_tokenizer_load_file(t5_write_blob(name, (fg_blob){data, size}), tok);
}

static void expect_load_error(const char *name, const void *data, size_t size, const char *needle) {
    fg_t5_tokenizer *tok = NULL;
    CHECK_ERR(load_bytes(name, data, size, &tok), needle);
    CHECK(tok == NULL, "%s", name);
}

static void test_missing_and_empty(void) {
    fg_t5_tokenizer *tok = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/does-not-exist.json", test_tmpdir());
    CHECK_ERR(fg_t5_tokenizer_load_file(path, &tok), "does-not-exist.json");
    CHECK_ERR(fg_t5_tokenizer_load_file(NULL, &tok), NULL);
    expect_load_error("empty.model", "", 0, "no pieces");
    expect_load_error("spaces.json", "  \n", 3, NULL);
}

static void test_truncated_json(void) {
    fg_blob b = fg_vocab_t5_tokenizer_json();
    size_t cuts[] = {1, 100, b.size / 2, b.size - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) expect_load_error("cut.json", b.data, cuts[i], "JSON");
}

static void test_wrong_json(void) {
    static const char *const docs[][2] = {
        {"[]", "not a JSON object"},
        {"{}", "model"},
        {"{\"model\": {\"type\": \"BPE\"}}", "Unigram"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", \"x\"]]}}", "pair"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]], \"unk_id\": 5}}", "unk_id"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "empty"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"\", -1.0]], \"unk_id\": 0}}", "empty"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"<unk>\", 0], [\"a\", -1]], \"unk_id\": 0},"
         " \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"!!!!\"}}", "base64"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"<unk>\", 0], [\"a\", -1]], \"unk_id\": 0},"
         " \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"AAAA\"}}", "charsmap"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"<unk>\", 0], [\"a\", -1]], \"unk_id\": 0},"
         " \"added_tokens\": [{\"id\": 9, \"content\": \"x\"}]}", "added_tokens"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"<unk>\", 0], [\"a\", -1]], \"unk_id\": 0,"
         " \"byte_fallback\": true}}", "byte_fallback"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        expect_load_error("wrong.json", docs[i][0], strlen(docs[i][0]), docs[i][1]);
}

/* A minimal valid tokenizer.json loads and tokenizes (identity normaliser). */
static void test_minimal_json(void) {
    static const char doc[] = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": "
                              "[[\"<unk>\", 0], [\"\\u2581\", -1], [\"a\", -2], [\"ab\", -2.5], [\"b\", -2]]}}";
    fg_t5_tokenizer *tok = NULL;
    if (!CHECK_OK(load_bytes("minimal.json", doc, sizeof doc - 1, &tok))) return;
    size_t c;
    int32_t *ids = t5_ids(tok, "ab  zz b", 8, &c);
    const int32_t want[] = {1, 3, 1, 0, 1, 4};
    CHECK(ids && c == 6 && memcmp(ids, want, sizeof want) == 0, "%zu ids", c);
    free(ids);
    fg_t5_tokenizer_free(tok);
}

/* <unk> scores 10 below the lowest piece: with "ab" at -30 (so <unk> at -40) and "b" at +5,
 * "▁" + "ab" (-31) beats "▁" + <unk> + "b" (-36); a smaller penalty would flip it. */
static void test_unk_penalty(void) {
    static const char doc[] = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": "
                              "[[\"<unk>\", 0], [\"\\u2581\", -1], [\"ab\", -30], [\"b\", 5], [\"c\", -29]]}}";
    fg_t5_tokenizer *tok = NULL;
    if (!CHECK_OK(load_bytes("unk.json", doc, sizeof doc - 1, &tok))) return;
    size_t c;
    int32_t *ids = t5_ids(tok, "ab", 2, &c);
    CHECK(ids && c == 2 && ids[0] == 1 && ids[1] == 2, "%zu ids", c);
    free(ids);
    /* Unknown characters in a row become one <unk>. */
    ids = t5_ids(tok, "xyzb", 4, &c);
    CHECK(ids && c == 3 && ids[0] == 1 && ids[1] == 0 && ids[2] == 3, "%zu ids", c);
    free(ids);
    fg_t5_tokenizer_free(tok);
}

static void base64_encode(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        size_t chunk = n - i < 3 ? n - i : 3; /* a chunk of c bytes gives c + 1 digits */
        for (size_t k = 0; k < 4; k++) out[o++] = k <= chunk ? digits[v >> (18 - 6 * k) & 63] : '=';
    }
    out[o] = '\0';
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

/* A hand-built Darts-clone charsmap mapping "A" to "b" (root offset 1; the unit for 'A' at
 * 1 ^ 0x41 = 64 with has_leaf and offset 1; the value unit at 65 points at pool offset 0), and
 * one whose root offset points far outside the trie. */
static void build_charsmap(unsigned char *blob, size_t *size, bool broken) {
    const uint32_t units = 66;
    memset(blob, 0, 4 + units * 4 + 2);
    put_u32(blob, units * 4);
    put_u32(blob + 4, broken ? 0xFFFFFC00u : 1u << 10);
    put_u32(blob + 4 + 64 * 4, 0x41u | 0x100u | 1u << 10);
    put_u32(blob + 4 + 65 * 4, 0x80000000u | 0u);
    memcpy(blob + 4 + units * 4, "b", 2);
    *size = 4 + units * 4 + 2;
}

static void test_crafted_charsmap(void) {
    for (int broken = 0; broken < 2; broken++) {
        unsigned char blob[512];
        size_t size;
        build_charsmap(blob, &size, broken);
        char b64[1024], doc[2048];
        base64_encode(blob, size, b64);
        snprintf(doc, sizeof doc,
                 "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0], [\"\\u2581\", -1],"
                 " [\"x\", -2], [\"b\", -2], [\"A\", -2]]}, \"normalizer\": {\"type\": \"Sequence\", \"normalizers\":"
                 " [{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"%s\"}]}}",
                 b64);
        fg_t5_tokenizer *tok = NULL;
        if (!CHECK_OK(load_bytes("crafted.json", doc, strlen(doc), &tok))) continue;
        size_t c;
        int32_t *ids = t5_ids(tok, "xAAx", 4, &c);
        const int32_t mapped[] = {1, 2, 3, 3, 2}, kept[] = {1, 2, 4, 4, 2};
        CHECK(ids && c == 5 && memcmp(ids, broken ? kept : mapped, sizeof mapped) == 0, "broken=%d: %zu ids", broken,
              c);
        free(ids);
        fg_t5_tokenizer_free(tok);
    }
}

static void test_garbage_proto(void) {
    unsigned char junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    junk[0] = 0x0A; /* do not look like JSON */
    expect_load_error("garbage.model", junk, sizeof junk, NULL);
    fg_blob b = fg_vocab_t5_spiece_model();
    expect_load_error("cut.model", b.data, b.size / 3, NULL);
    expect_load_error("cut2.model", b.data, 7, NULL);
}

/* Flipped bytes in a real spiece.model: either a clean error, or a tokenizer that survives
 * text (covers hostile charsmaps whose trie points outside itself). */
static void test_corrupted_proto(void) {
    fg_blob b = fg_vocab_t5_spiece_model();
    unsigned char *copy = malloc(b.size);
    CHECK(copy != NULL);
    if (!copy) return;
    uint32_t x = 777;
    int loaded = 0;
    for (int round = 0; round < 24; round++) {
        memcpy(copy, b.data, b.size);
        for (int k = 0; k < 64; k++) {
            x = x * 1103515245u + 12345u;
            size_t at = round < 12 ? b.size - 240000 + x % 240000 : x % b.size; /* charsmap is at the end */
            copy[at] ^= (unsigned char)(1u << (x >> 28 & 7));
        }
        fg_t5_tokenizer *tok = NULL;
        fg_error *err = load_bytes("flipped.model", copy, b.size, &tok);
        if (err) {
            fg_error_free(err);
            continue;
        }
        loaded++;
        static const char text[] = "Ünïcödé \xEF\xBC\xA1 \xEF\xAC\x81 e\xCC\x81 \xFF\0 a photo  of a cat </s>";
        size_t c;
        int32_t *ids = t5_ids(tok, text, sizeof text - 1, &c);
        free(ids);
        fg_t5_tokenizer_free(tok);
    }
    printf("  %d of 24 corrupted models still loaded and tokenized\n", loaded);
    free(copy);
}

void t5_run_hostile_tests(void) {
    RUN_TEST(test_missing_and_empty);
    RUN_TEST(test_truncated_json);
    RUN_TEST(test_wrong_json);
    RUN_TEST(test_minimal_json);
    RUN_TEST(test_crafted_charsmap);
    RUN_TEST(test_unk_penalty);
    RUN_TEST(test_garbage_proto);
    RUN_TEST(test_corrupted_proto);
}
