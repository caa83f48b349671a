/* safetensors reader and writer: round trips, fixtures, the hostile corpus, failure paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "tests/safetensors/st_cases.h"
#include "tests/testing.h"

static const char *tmp_path(const char *name) {
    static char buf[4200];
    snprintf(buf, sizeof buf, "%s/%s", test_tmpdir(), name);
    return buf;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Byte i of the tensor with the given seed; every dtype round-trips raw bytes. */
static uint8_t pattern(unsigned seed, size_t i) { return (uint8_t)(seed * 31u + i * 7u + (i >> 8)); }

typedef struct rt_case {
    const char *name;
    fg_dtype dtype;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    bool lazy;
} rt_case;

/* Insertion order is also the expected offset order (zero-size tensors sorted by name at ties). */
static const rt_case round_trip_cases[] = {
    {"f32", FG_F32, 2, {2, 3}, false},
    {"bf16", FG_BF16, 1, {4}, false},
    {"f16", FG_F16, 2, {2, 2}, true},
    {"e4m3", FG_F8_E4M3, 1, {3}, false},
    {"e5m2", FG_F8_E5M2, 5, {1, 1, 1, 1, 5}, true},
    {"i64.scalar", FG_I64, 0, {0}, false},
    {"i32", FG_I32, 1, {3}, true},
    {"u8", FG_U8, 1, {7}, false},
    {"bool.empty", FG_BOOL, 2, {2, 0}, false},
    {"f32.empty", FG_F32, 1, {0}, true},
    {"lazy.bf16", FG_BF16, 2, {16, 16}, true},
    {"bool", FG_BOOL, 1, {5}, false},
    {"tail.empty", FG_I64, 3, {0, 2, 2}, true},
};
#define N_RT (sizeof round_trip_cases / sizeof round_trip_cases[0])

static fg_error *fill_pattern(void *ctx, const char *name, void *buf, size_t nbytes) {
    unsigned seed = (unsigned)(size_t)ctx;
    for (size_t i = 0; i < nbytes; i++) ((uint8_t *)buf)[i] = pattern(seed, i);
    return NULL;
}

static void add_round_trip_tensors(fg_st_writer *w, fg_tensor *owned) {
    for (size_t k = 0; k < N_RT; k++) {
        const rt_case *c = &round_trip_cases[k];
        if (c->lazy) {
            CHECK_OK(fg_st_writer_add_lazy(w, c->name, c->dtype, c->ndim, c->shape, fill_pattern, (void *)k));
            continue;
        }
        if (!CHECK_OK(fg_tensor_alloc_host(&owned[k], c->dtype, c->ndim, c->shape))) continue;
        fill_pattern((void *)k, c->name, owned[k].data, fg_tensor_nbytes(&owned[k]));
        CHECK_OK(fg_st_writer_add(w, c->name, &owned[k]));
    }
}

static void check_round_trip_entry(const fg_safetensors *st, size_t k) {
    const rt_case *c = &round_trip_cases[k];
    const fg_st_entry *e = fg_safetensors_entry(st, k);
    if (!e || strcmp(e->name, c->name) != 0) {
        CHECK(false, "entry %zu is '%s', expected '%s'", k, e ? e->name : "(none)", c->name);
        return;
    }
    CHECK(e->dtype == c->dtype && e->ndim == c->ndim, "'%s' dtype/ndim", c->name);
    for (int d = 0; d < c->ndim; d++) CHECK(e->shape[d] == c->shape[d], "'%s' dim %d", c->name, d);
    fg_tensor t;
    if (!CHECK_OK(fg_safetensors_tensor(st, c->name, &t))) return;
    size_t n = fg_tensor_nbytes(&t);
    CHECK(n == e->end - e->begin);
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)t.data)[i] != pattern((unsigned)k, i)) {
            CHECK(false, "'%s' byte %zu differs", c->name, i);
            break;
        }
}

/* The bytes on disk: 8-byte aligned header padded with spaces, metadata first, compact JSON. */
static void check_file_layout(const char *path, uint64_t data_size) {
    size_t size = 0;
    uint8_t *file = st_read_file(path, &size);
    CHECK(file && size >= 8);
    if (!file || size < 8) {
        free(file);
        return;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
    bool aligned = (n & 7) == 0;
    CHECK(aligned, "header length %llu is not a multiple of 8", (unsigned long long)n);
    CHECK(8 + n + data_size == size, "file has %zu bytes", size);
    const char *head = "{\"__metadata__\":{\"format\":\"pt\"";
    CHECK(n >= strlen(head) && memcmp(file + 8, head, strlen(head)) == 0, "header starts %.40s", file + 8);
    CHECK(n > 0 && (file[8 + n - 1] == '}' || file[8 + n - 1] == ' '));
    free(file);
}

static void test_round_trip_all_dtypes(void) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    fg_tensor owned[N_RT] = {0};
    add_round_trip_tensors(w, owned);
    CHECK_OK(fg_st_writer_set_metadata(w, "format", "pt"));
    CHECK_OK(fg_st_writer_set_metadata(w, "config", "{\"a\": [1, 2], \"s\": \"\\u00e9\"}"));
    CHECK_OK(fg_st_writer_set_metadata(w, "format", "pt")); /* overwrite keeps the position */
    CHECK_OK(fg_st_writer_set_metadata(w, "unicode", "gr\xc3\xb6\xc3\x9f" "e"));
    char path[4200];
    snprintf(path, sizeof path, "%s", tmp_path("round_trip.safetensors"));
    CHECK_OK(fg_st_writer_write(w, path));
    fg_st_writer_free(w);
    for (size_t k = 0; k < N_RT; k++) fg_tensor_free_host(&owned[k]);
    CHECK(!file_exists(tmp_path("round_trip.safetensors.tmp")));

    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(path, &st))) return;
    CHECK(fg_safetensors_count(st) == N_RT, "%zu tensors", fg_safetensors_count(st));
    uint64_t data_size = 0;
    for (size_t k = 0; k < N_RT && k < fg_safetensors_count(st); k++) {
        check_round_trip_entry(st, k);
        data_size = fg_safetensors_entry(st, k)->end;
    }
    CHECK(fg_safetensors_metadata_count(st) == 3);
    const char *key = NULL, *value = NULL;
    fg_safetensors_metadata_at(st, 0, &key, &value);
    CHECK(key && strcmp(key, "format") == 0 && strcmp(value, "pt") == 0, "metadata keeps insertion order");
    fg_safetensors_metadata_at(st, 2, &key, &value);
    CHECK(key && strcmp(key, "unicode") == 0 && strcmp(value, "gr\xc3\xb6\xc3\x9f" "e") == 0);
    const char *cfg = fg_safetensors_metadata(st, "config");
    CHECK(cfg && strcmp(cfg, "{\"a\": [1, 2], \"s\": \"\\u00e9\"}") == 0);
    fg_safetensors_close(st);
    check_file_layout(path, data_size);
}

static void test_empty_writer(void) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    const char *path = tmp_path("empty.safetensors");
    CHECK_OK(fg_st_writer_write(w, path));
    fg_st_writer_free(w);
    size_t size = 0;
    uint8_t *file = st_read_file(path, &size);
    CHECK(file && size == 16 && memcmp(file + 8, "{}      ", 8) == 0, "an empty writer writes {} padded to 8");
    free(file);
    fg_safetensors *st = NULL;
    if (CHECK_OK(fg_safetensors_open(path, &st))) CHECK(fg_safetensors_count(st) == 0);
    fg_safetensors_close(st);
}

/* Many tensors: each one found by name, in the order written. */
static fg_error *fill_index(void *ctx, const char *name, void *buf, size_t nbytes) {
    if (nbytes != 4) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "unexpected size %zu", nbytes);
    int32_t v = (int32_t)atoi(name + 2);
    memcpy(buf, &v, 4);
    return NULL;
}

static void test_many_tensors_lookup(void) {
    enum { N = 1000 };
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    char name[32];
    static int position[N]; /* where tensor t.i was written */
    for (int i = 0; i < N; i++) {
        int id = (i * 7919) % N; /* not in sorted order */
        position[id] = i;
        snprintf(name, sizeof name, "t.%d", id);
        CHECK_OK(fg_st_writer_add_lazy(w, name, FG_I32, FG_SHAPE(1), fill_index, NULL));
    }
    const char *path = tmp_path("many.safetensors");
    CHECK_OK(fg_st_writer_write(w, path));
    fg_st_writer_free(w);
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(path, &st))) return;
    CHECK(fg_safetensors_count(st) == N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t.%d", i);
        fg_tensor t;
        if (!CHECK_OK(fg_safetensors_tensor(st, name, &t))) break;
        int32_t v;
        memcpy(&v, t.data, 4);
        CHECK(v == i, "%s holds %d", name, (int)v);
        const fg_st_entry *e = fg_safetensors_find(st, name);
        CHECK(e && e->begin == 4 * (uint64_t)position[i], "%s is not where it was written", name);
    }
    const fg_st_entry *first = fg_safetensors_entry(st, 1);
    CHECK(first && strcmp(first->name, "t.919") == 0, "entries follow the written order");
    CHECK(fg_safetensors_find(st, "t.1000") == NULL && fg_safetensors_find(st, "t.") == NULL);
    CHECK(fg_safetensors_find(st, "t.0 ") == NULL && fg_safetensors_find(st, "") == NULL);
    fg_safetensors_close(st);
}

static fg_error *fill_fails(void *ctx, const char *name, void *buf, size_t nbytes) {
    (void)buf;
    (void)nbytes;
    if (strcmp(name, "bad") == 0) return fg_errorf(FG_ERR_IO, "source exhausted");
    return NULL;
}

static void test_fill_failure_leaves_nothing(void) {
    const char *path = tmp_path("fails.safetensors");
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    CHECK_OK(fg_st_writer_add_lazy(w, "good", FG_F32, FG_SHAPE(64, 64), fill_fails, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "bad", FG_F32, FG_SHAPE(8), fill_fails, NULL));
    fg_error *err = fg_st_writer_write(w, path);
    CHECK(fg_error_code_of(err) == FG_ERR_IO);
    CHECK_ERR(err, "fails.safetensors: tensor 'bad': source exhausted");
    CHECK(!file_exists(path), "the target must not exist after a failed write");
    CHECK(!file_exists(tmp), "the .tmp file must be removed after a failed write");

    /* An existing file survives a failed overwrite untouched. */
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("previous", f);
        fclose(f);
    }
    CHECK_ERR(fg_st_writer_write(w, path), "source exhausted");
    size_t size = 0;
    uint8_t *old = st_read_file(path, &size);
    CHECK(old && size == 8 && memcmp(old, "previous", 8) == 0);
    free(old);
    CHECK(!file_exists(tmp));
    fg_st_writer_free(w);

    /* A target in a missing folder fails cleanly too. */
    CHECK_OK(fg_st_writer_create(&w));
    if (w) CHECK_ERR(fg_st_writer_write(w, tmp_path("no/such/dir/x.safetensors")), "cannot create");
    fg_st_writer_free(w);
}

static void test_writer_rejects(void) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    float v[2] = {1, 2};
    fg_tensor t;
    CHECK_OK(fg_tensor_view(&t, FG_F32, FG_DEVICE_CPU, FG_SHAPE(2), v));
    CHECK_OK(fg_st_writer_add(w, "a", &t));
    CHECK_ERR(fg_st_writer_add(w, "a", &t), "duplicate tensor name 'a'");
    CHECK_ERR(fg_st_writer_add(w, "", &t), "empty tensor name");
    CHECK_ERR(fg_st_writer_add(w, NULL, &t), "NULL tensor name");
    CHECK_ERR(fg_st_writer_add(w, "__metadata__", &t), "not a tensor name");
    CHECK_ERR(fg_st_writer_add(w, "bad\xff", &t), "not valid UTF-8");
    CHECK_ERR(fg_st_writer_add_lazy(w, "neg", FG_F32, FG_SHAPE(2, -1), fill_pattern, NULL), "tensor 'neg'");
    CHECK_ERR(fg_st_writer_add_lazy(w, "six", FG_F32, FG_SHAPE(1, 1, 1, 1, 1, 1), fill_pattern, NULL), "6 dims");
    CHECK_ERR(fg_st_writer_add_lazy(w, "nofill", FG_F32, FG_SHAPE(2), NULL, NULL), "NULL argument");
    CHECK_OK(fg_st_writer_add_lazy(w, "huge", FG_U8, FG_SHAPE(INT64_MAX / 2), fill_pattern, NULL));
    CHECK_ERR(fg_st_writer_add_lazy(w, "huge2", FG_U8, FG_SHAPE(INT64_MAX / 2), fill_pattern, NULL),
              "exceed 2^63 bytes");
    fg_tensor dev = t;
    dev.device = FG_DEVICE_CUDA;
    CHECK_ERR(fg_st_writer_add(w, "dev", &dev), "is on cuda");
    CHECK_ERR(fg_st_writer_set_metadata(w, "k", "bad\xc3"), "not valid UTF-8");
    CHECK_ERR(fg_st_writer_set_metadata(w, "bad\xc3", "v"), "not valid UTF-8");
    fg_st_writer_free(w);
}

int main(void) {
    RUN_TEST(test_round_trip_all_dtypes);
    RUN_TEST(test_empty_writer);
    RUN_TEST(test_many_tensors_lookup);
    RUN_TEST(test_fill_failure_leaves_nothing);
    RUN_TEST(test_writer_rejects);
    RUN_TEST(test_fixture_models);
    RUN_TEST(test_fixture_rng);
    RUN_TEST(test_hostile_corpus);
    RUN_TEST(test_open_memory_valid);
    RUN_TEST(test_open_memory_errors);
    RUN_TEST(test_open_path_errors);
    RUN_TEST(test_mutation_fuzz);
    return test_summary();
}
