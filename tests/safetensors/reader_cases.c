/* Reader tests: the real fixtures, the hostile corpus, in-memory buffers, bad paths. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "tests/safetensors/st_cases.h"
#include "tests/testing.h"

uint8_t *st_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    fclose(f);
    *size = n;
    return buf;
}

uint8_t *st_frame(const char *header, const void *data, size_t data_len, size_t *size) {
    size_t n = strlen(header);
    uint8_t *buf = malloc(8 + n + data_len + 1);
    if (!buf) return NULL;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    if (data_len) memcpy(buf + 8 + n, data, data_len);
    *size = 8 + n + data_len;
    return buf;
}

/* ---- fixtures ------------------------------------------------------------------------ */

/* Structural checks that hold for any valid file, against bytes the test reads itself. */
static void check_consistent(const fg_safetensors *st, const uint8_t *file, size_t file_size) {
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | file[i];
    const uint8_t *data = file + 8 + hlen;
    uint64_t cursor = 0;
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        CHECK(e->begin == cursor, "entry %zu '%s' begins at %llu, expected %llu", i, e->name,
              (unsigned long long)e->begin, (unsigned long long)cursor);
        cursor = e->end;
        CHECK(fg_safetensors_find(st, e->name) == e, "find('%s') does not return its entry", e->name);
        fg_tensor t;
        if (!CHECK_OK(fg_safetensors_entry_tensor(st, e, &t))) continue;
        size_t nbytes = fg_tensor_nbytes(&t);
        CHECK(nbytes == e->end - e->begin, "'%s' nbytes", e->name);
        if (nbytes) CHECK(memcmp(t.data, data + e->begin, nbytes) == 0, "'%s' bytes differ from the file", e->name);
    }
    CHECK(cursor == file_size - 8 - hlen, "tensors cover %llu of %llu data bytes", (unsigned long long)cursor,
          (unsigned long long)(file_size - 8 - hlen));
    CHECK(fg_safetensors_entry(st, fg_safetensors_count(st)) == NULL);
}

static void check_entry(const fg_safetensors *st, const char *name, fg_dtype dt, int ndim, const int64_t *shape) {
    const fg_st_entry *e = fg_safetensors_find(st, name);
    CHECK(e != NULL, "tensor '%s' missing", name);
    if (!e) return;
    CHECK(e->dtype == dt, "'%s' dtype %s", name, fg_dtype_name(e->dtype));
    CHECK(e->ndim == ndim, "'%s' ndim %d", name, e->ndim);
    for (int i = 0; i < ndim && i < e->ndim; i++) CHECK(e->shape[i] == shape[i], "'%s' dim %d", name, i);
    fg_tensor t;
    if (CHECK_OK(fg_safetensors_tensor(st, name, &t))) {
        CHECK(t.dtype == dt && t.ndim == ndim && t.device == FG_DEVICE_CPU && !t.owns_data);
    }
}

static fg_safetensors *open_checked(const char *rel, size_t expected_count) {
    const char *path = test_fixture(rel);
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(path, &st))) return NULL;
    CHECK(fg_safetensors_count(st) == expected_count, "%s: %zu tensors, expected %zu", rel, fg_safetensors_count(st),
          expected_count);
    CHECK(strcmp(fg_safetensors_path(st), path) == 0);
    size_t size = 0;
    uint8_t *file = st_read_file(path, &size);
    CHECK(file != NULL && size >= 8);
    if (file && size >= 8) check_consistent(st, file, size);
    free(file);
    return st;
}

static void check_tiny_config(const fg_safetensors *st) {
    const char *cfg = fg_safetensors_metadata(st, "tiny_config");
    CHECK(cfg != NULL && cfg[0] == '{', "%s: metadata tiny_config", fg_safetensors_path(st));
    CHECK(fg_safetensors_metadata(st, "no_such_key") == NULL);
}

void test_fixture_models(void) {
    fg_safetensors *st = open_checked("models/diffusion_models/tiny-flux.safetensors", 84);
    if (st) {
        check_tiny_config(st);
        check_entry(st, "img_in.weight", FG_BF16, FG_SHAPE(256, 64));
        check_entry(st, "final_layer.linear.weight", FG_BF16, FG_SHAPE(64, 256));
        check_entry(st, "double_blocks.1.img_attn.norm.query_norm.scale", FG_BF16, FG_SHAPE(128));
        CHECK(strcmp(fg_safetensors_entry(st, 0)->name, "img_in.weight") == 0);
        fg_safetensors_close(st);
    }
    st = open_checked("models/text_encoders/tiny-clip-l.safetensors", 37);
    if (st) {
        check_tiny_config(st);
        check_entry(st, "text_model.embeddings.token_embedding.weight", FG_F16, FG_SHAPE(49408, 128));
        check_entry(st, "text_model.embeddings.position_embedding.weight", FG_F16, FG_SHAPE(77, 128));
        fg_safetensors_close(st);
    }
    st = open_checked("models/text_encoders/tiny-t5xxl.safetensors", 21);
    if (st) {
        check_tiny_config(st);
        check_entry(st, "shared.weight", FG_F16, FG_SHAPE(32128, 64));
        check_entry(st, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", FG_F16,
                    FG_SHAPE(32, 2));
        CHECK(fg_safetensors_find(st, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight") == NULL);
        fg_safetensors_close(st);
    }
    st = open_checked("models/vae/tiny-ae.safetensors", 176);
    if (st) {
        check_tiny_config(st);
        check_entry(st, "encoder.conv_in.weight", FG_F32, FG_SHAPE(32, 3, 3, 3));
        check_entry(st, "decoder.conv_out.weight", FG_F32, FG_SHAPE(3, 32, 3, 3));
        fg_tensor t;
        CHECK_ERR(fg_safetensors_tensor(st, "decoder.quant_conv.weight", &t), "'decoder.quant_conv.weight' not found");
        fg_safetensors_close(st);
    }
}

void test_fixture_rng(void) {
    fg_safetensors *st = open_checked("golden/rng.safetensors", 32);
    if (!st) return;
    check_entry(st, "big", FG_F32, FG_SHAPE(1, 16, 128, 128));
    check_entry(st, "prepare_noise", FG_F32, FG_SHAPE(2, 16, 8, 8));
    check_entry(st, "s0_x0", FG_F32, FG_SHAPE(5));
    CHECK(fg_safetensors_metadata(st, "description") != NULL);
    CHECK(fg_safetensors_metadata_count(st) > 1);
    const char *k = NULL, *v = NULL;
    fg_safetensors_metadata_at(st, 0, &k, &v);
    CHECK(k && v && strcmp(v, fg_safetensors_metadata(st, k)) == 0);
    fg_safetensors_metadata_at(st, fg_safetensors_metadata_count(st), &k, &v);
    CHECK(k == NULL && v == NULL);
    fg_safetensors_close(st);
}

/* ---- hostile corpus ------------------------------------------------------------------ */

#define HOSTILE_DIR "tests/hostile"

static void check_rejected(const char *file, const char *needle, const fg_error *err, const char *label) {
    CHECK(err != NULL, "%s was accepted", file);
    if (!err) return;
    const char *msg = fg_error_message(err);
    CHECK(strncmp(msg, label, strlen(label)) == 0, "%s: message does not start with the path: %s", file, msg);
    CHECK(strstr(msg, file) != NULL, "%s: message lacks the file name: %s", file, msg);
    CHECK(strstr(msg, needle) != NULL, "%s: message lacks \"%s\": %s", file, needle, msg);
}

/* Every listed file must be rejected, by path and from memory, with the expected message. */
static int run_manifest(FILE *manifest, char listed[][256], int max_listed) {
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, manifest)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        CHECK(tab != NULL, "manifest line without a tab: %s", line);
        if (!tab) continue;
        *tab = 0;
        const char *file = line, *needle = tab + 1;
        if (n < max_listed) snprintf(listed[n], 256, "%.255s", file);
        n++;
        char path[600];
        snprintf(path, sizeof path, HOSTILE_DIR "/%s", file);
        fg_safetensors *st = NULL;
        fg_error *err = fg_safetensors_open(path, &st);
        check_rejected(file, needle, err, path);
        CHECK(st == NULL);
        fg_error_free(err);
        fg_safetensors_close(st);

        size_t size = 0;
        uint8_t *bytes = st_read_file(path, &size);
        CHECK(bytes != NULL, "cannot read %s", path);
        st = NULL;
        err = fg_safetensors_open_memory(bytes, size, path, &st);
        check_rejected(file, needle, err, path);
        fg_error_free(err);
        fg_safetensors_close(st);
        free(bytes);
    }
    return n;
}

void test_hostile_corpus(void) {
    enum { MAX_LISTED = 512 };
    static char listed[MAX_LISTED][256];
    FILE *manifest = fopen(HOSTILE_DIR "/EXPECTED.txt", "r");
    CHECK(manifest != NULL, "cannot open " HOSTILE_DIR "/EXPECTED.txt");
    if (!manifest) return;
    int n = run_manifest(manifest, listed, MAX_LISTED);
    fclose(manifest);
    CHECK(n >= 35, "only %d hostile files", n);
    CHECK(n <= MAX_LISTED);

    /* Every corpus file is listed (none silently left out of the test). */
    DIR *dir = opendir(HOSTILE_DIR);
    CHECK(dir != NULL);
    if (!dir) return;
    int on_disk = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (len < 12 || strcmp(de->d_name + len - 12, ".safetensors") != 0) continue;
        on_disk++;
        int found = 0;
        for (int i = 0; i < n && i < MAX_LISTED; i++) found |= strcmp(listed[i], de->d_name) == 0;
        CHECK(found, "%s is not listed in EXPECTED.txt", de->d_name);
    }
    closedir(dir);
    CHECK(on_disk == n, "%d files on disk, %d listed", on_disk, n);
}

/* ---- in-memory buffers --------------------------------------------------------------- */

static fg_safetensors *open_mem(const uint8_t *buf, size_t size, const char *label) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open_memory(buf, size, label, &st))) return NULL;
    return st;
}

static void test_empty_headers(void) {
    size_t size;
    uint8_t *buf = st_frame("{}", NULL, 0, &size);
    CHECK(size == 10);
    fg_safetensors *st = open_mem(buf, size, "exact");
    if (st) {
        CHECK(fg_safetensors_count(st) == 0 && fg_safetensors_metadata_count(st) == 0);
        CHECK(fg_safetensors_find(st, "a") == NULL && fg_safetensors_entry(st, 0) == NULL);
        fg_safetensors_close(st);
    }
    free(buf);
    buf = st_frame("  {}    ", NULL, 0, &size);
    st = open_mem(buf, size, "padded");
    if (st) CHECK(fg_safetensors_count(st) == 0);
    fg_safetensors_close(st);
    free(buf);
    buf = st_frame("{\"__metadata__\":{\"k\":\"v\",\"e\":\"\"}}", NULL, 0, &size);
    st = open_mem(buf, size, "metadata only");
    if (st) {
        CHECK(fg_safetensors_count(st) == 0 && fg_safetensors_metadata_count(st) == 2);
        CHECK(strcmp(fg_safetensors_metadata(st, "k"), "v") == 0 && strcmp(fg_safetensors_metadata(st, "e"), "") == 0);
    }
    fg_safetensors_close(st);
    free(buf);
}

static void test_zero_size_tensors(void) {
    size_t size;
    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* Listed out of order on purpose: the reader orders by offset, zero-size first at a tie. */
    uint8_t *buf = st_frame("{\"z2\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,8]},"
                            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            "\"z1\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[8,8]},"
                            "\"z0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                            data, sizeof data, &size);
    fg_safetensors *st = open_mem(buf, size, "zeros");
    if (st) {
        const char *order[] = {"z0", "a", "z1", "z2"};
        CHECK(fg_safetensors_count(st) == 4);
        for (size_t i = 0; i < 4 && i < fg_safetensors_count(st); i++)
            CHECK(strcmp(fg_safetensors_entry(st, i)->name, order[i]) == 0, "entry %zu is %s", i,
                  fg_safetensors_entry(st, i)->name);
        fg_tensor t;
        if (CHECK_OK(fg_safetensors_tensor(st, "a", &t))) {
            size_t hlen = size - 8 - sizeof data;
            const uint8_t *in_file = buf + 8 + hlen;
            if ((uintptr_t)in_file % fg_dtype_size(t.dtype) == 0)
                CHECK(t.data == in_file, "an aligned view must point into the caller's buffer (no copy)");
            else
                CHECK((uintptr_t)t.data % fg_dtype_size(t.dtype) == 0 && memcmp(t.data, in_file, 4) == 0,
                      "a misaligned tensor is an aligned copy");
        }
        if (CHECK_OK(fg_safetensors_tensor(st, "z1", &t))) CHECK(fg_tensor_numel(&t) == 0 && t.ndim == 2);
    }
    fg_safetensors_close(st);
    free(buf);
    buf = st_frame("{\"e\":{\"dtype\":\"I64\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
                   "\"s\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[0,1]}}", "\x01", 1, &size);
    st = open_mem(buf, size, "scalar");
    if (st) {
        const fg_st_entry *s = fg_safetensors_find(st, "s");
        CHECK(s && s->ndim == 0 && s->dtype == FG_BOOL && s->end == 1);
    }
    fg_safetensors_close(st);
    free(buf);
}

static void test_unicode_and_lookup(void) {
    size_t size;
    const uint8_t data[6] = {0};
    uint8_t *buf = st_frame("{\"gr\xc3\xb6\xc3\x9f" "e\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
                            "\"\\u00e9t\\u00e9\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[2,6]}}",
                            data, sizeof data, &size);
    fg_safetensors *st = open_mem(buf, size, NULL);
    if (st) {
        CHECK(fg_safetensors_find(st, "gr\xc3\xb6\xc3\x9f" "e") != NULL);
        CHECK(fg_safetensors_find(st, "\xc3\xa9t\xc3\xa9") != NULL, "escaped names are decoded");
        CHECK(fg_safetensors_find(st, "gr") == NULL && fg_safetensors_find(st, "") == NULL);
        fg_tensor t;
        CHECK_ERR(fg_safetensors_tensor(st, "missing.weight", &t), "<memory>: tensor 'missing.weight' not found");
    }
    fg_safetensors_close(st);
    free(buf);
}

/* Tensors the file leaves unaligned for their dtype (an odd header length, a U8 before an F32):
 * views are aligned copies with the same bytes, so kernels never read misaligned data (UB that
 * UBSan reports and vectorised loads may trip on). Aligned tensors stay views of the file. */
static void test_misaligned_tensors_are_aligned(void) {
    const char *header = "{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                         "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]},"
                         "\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[11,13]},"
                         "\"g\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[13,17]}}";
    uint8_t data[17] = {1, 2, 3};
    const float f[2] = {1.5f, -2.25f}, g = 7.0f;
    const uint16_t h = 0x3f80;
    memcpy(data + 3, f, sizeof f);
    memcpy(data + 11, &h, 2);
    memcpy(data + 13, &g, 4);
    for (int pad = 0; pad < 4; pad++) { /* header lengths moving the data section by 0..3 */
        char padded[512];
        snprintf(padded, sizeof padded, "%s%*s", header, pad, "");
        size_t size;
        uint8_t *buf = st_frame(padded, data, sizeof data, &size);
        fg_safetensors *st = open_mem(buf, size, NULL);
        fg_tensor t;
        if (st && CHECK_OK(fg_safetensors_tensor(st, "f", &t))) {
            CHECK((uintptr_t)t.data % 4 == 0, "pad %d: F32 view at %p", pad, t.data);
            CHECK(memcmp(t.data, f, sizeof f) == 0, "pad %d: F32 bytes", pad);
            fg_tensor again;
            CHECK(CHECK_OK(fg_safetensors_tensor(st, "f", &again)) && again.data == t.data, "one copy per tensor");
        }
        if (st && CHECK_OK(fg_safetensors_tensor(st, "h", &t)))
            CHECK((uintptr_t)t.data % 2 == 0 && memcmp(t.data, &h, 2) == 0, "pad %d: BF16", pad);
        if (st && CHECK_OK(fg_safetensors_tensor(st, "g", &t)))
            CHECK((uintptr_t)t.data % 4 == 0 && memcmp(t.data, &g, 4) == 0, "pad %d: F32 g", pad);
        if (st && CHECK_OK(fg_safetensors_tensor(st, "b", &t)))
            CHECK(t.data == (void *)(buf + size - sizeof data), "pad %d: U8 stays a view of the file", pad);
        fg_safetensors_close(st);
        free(buf);
    }
}

void test_open_memory_valid(void) {
    test_empty_headers();
    test_zero_size_tensors();
    test_unicode_and_lookup();
    test_misaligned_tensors_are_aligned();
}

static void expect_mem_error(const char *header, size_t data_len, const char *needle) {
    size_t size;
    uint8_t *data = calloc(1, data_len + 1);
    uint8_t *buf = st_frame(header, data, data_len, &size);
    fg_safetensors *st = NULL;
    fg_error *err = fg_safetensors_open_memory(buf, size, "mem.st", &st);
    CHECK(st == NULL);
    if (err) CHECK(strncmp(fg_error_message(err), "mem.st: ", 8) == 0, "%s", fg_error_message(err));
    CHECK_ERR(err, needle);
    free(buf);
    free(data);
}

void test_open_memory_errors(void) {
    fg_safetensors *st = NULL;
    CHECK_ERR(fg_safetensors_open_memory(NULL, 0, "nothing", &st), "nothing: file is 0 bytes");
    CHECK_ERR(fg_safetensors_open_memory("\x01\x00\x00", 3, NULL, &st), "<memory>: file is 3 bytes");
    CHECK(st == NULL);
    /* A header just over the limit, in a buffer large enough to hold it: the limit fires. */
    size_t big = (size_t)FG_SAFETENSORS_MAX_HEADER + 16;
    uint8_t *buf = calloc(1, big);
    CHECK(buf != NULL);
    if (buf) {
        uint64_t n = (uint64_t)FG_SAFETENSORS_MAX_HEADER + 1;
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
        CHECK_ERR(fg_safetensors_open_memory(buf, big, "huge", &st), "huge: header length 104857601 exceeds the limit");
        free(buf);
    }
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                     "tensor 'a': data_offsets [0, 8] end past the data section (4 bytes)");
    expect_mem_error("{\"a\":{\"dtype\":\"BF16\",\"shape\":[3,4],\"data_offsets\":[0,10]}}", 10,
                     "mem.st: tensor 'a': data_offsets [0, 10] span 10 bytes but BF16 [3, 4] needs 24");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}} trailing", 8, "not valid JSON");
    expect_mem_error("{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ value of 'k' is null");
    expect_mem_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7],\"data_offsets\":[0,0]}}", 0,
                     "tensor 'a': shape has 7 dims");
    expect_mem_error("{\"a\":{\"dtype\":\"I32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
                     "tensor 'a': shape [4611686018427387904] of I32 overflows");
}

void test_open_path_errors(void) {
    fg_safetensors *st = NULL;
    CHECK_ERR(fg_safetensors_open("tests/no/such/file.safetensors", &st),
              "tests/no/such/file.safetensors: cannot open");
    CHECK(st == NULL);
    CHECK_ERR(fg_safetensors_open(test_tmpdir(), &st), "is a directory");
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo.safetensors", test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_ERR(fg_safetensors_open(fifo, &st), "fifo.safetensors: not a regular file");
    unlink(fifo);
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.safetensors", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_ERR(fg_safetensors_open(path, &st), "empty.safetensors: file is 0 bytes");
    unlink(path);
    CHECK(st == NULL);
}

/* ---- mutation fuzzing ---------------------------------------------------------------- */

/* Random byte edits and truncations of a valid file: every result is either a clean error that
 * names the buffer, or a file whose entries tile the data section (ASan catches any stray read). */
/* Size of the data section: the entries tile it exactly, so it ends where the last one does. */
static uint64_t cursor_total(const fg_safetensors *st) {
    size_t n = fg_safetensors_count(st);
    return n ? fg_safetensors_entry(st, n - 1)->end : 0;
}

void test_mutation_fuzz(void) {
    size_t size;
    const uint8_t data[26] = {0};
    uint8_t *seed = st_frame("{\"__metadata__\":{\"k\":\"v\"},"
                             "\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
                             "\"z\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[8,8]},"
                             "\"b\":{\"dtype\":\"U8\",\"shape\":[18],\"data_offsets\":[8,26]}}",
                             data, sizeof data, &size);
    uint8_t *buf = malloc(size);
    CHECK(seed && buf);
    if (!seed || !buf) {
        free(seed);
        free(buf);
        return;
    }
    static const char alphabet[] = "{}[]\",:0123456789-.e \\uFBI_a\xff";
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, seed, size);
        size_t len = size;
        int edits = 1 + (int)(rng % 3);
        for (int k = 0; k < edits; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % len;
            buf[pos] = (uint8_t)alphabet[(rng >> 17) % (sizeof alphabet - 1)];
        }
        if ((rng >> 60) == 0) len = (size_t)(rng >> 20) % size;
        fg_safetensors *st = NULL;
        fg_error *err = fg_safetensors_open_memory(buf, len, "fuzz", &st);
        if (err) {
            CHECK(strncmp(fg_error_message(err), "fuzz: ", 6) == 0, "%s", fg_error_message(err));
            fg_error_free(err);
            continue;
        }
        accepted++;
        uint64_t cursor = 0;
        for (size_t i = 0; i < fg_safetensors_count(st); i++) {
            const fg_st_entry *e = fg_safetensors_entry(st, i);
            CHECK(e->begin == cursor && e->end >= e->begin);
            cursor = e->end;
            fg_tensor t;
            if (CHECK_OK(fg_safetensors_entry_tensor(st, e, &t)) && fg_tensor_nbytes(&t)) {
                /* A view into the buffer, or (misaligned in it) an aligned copy of the same bytes. */
                const uint8_t *p = t.data, *section = buf + len - cursor_total(st);
                bool view = p >= buf && p + fg_tensor_nbytes(&t) <= buf + len;
                bool copy = (uintptr_t)p % fg_dtype_size(t.dtype) == 0 &&
                            memcmp(p, section + e->begin, fg_tensor_nbytes(&t)) == 0;
                CHECK(view || copy);
            }
        }
        fg_safetensors_close(st);
    }
    CHECK(accepted > 0, "no mutant was accepted: the seed file itself may be broken");
    free(seed);
    free(buf);
}
