#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/t5_tokenizer/t5_test_util.h"
#include "tests/testing.h"

double t5_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *t5_write_blob(const char *name, fg_blob b) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "%s", path);
    if (f) {
        CHECK(fwrite(b.data, 1, b.size, f) == b.size, "%s", path);
        fclose(f);
    }
    return path;
}

int32_t *t5_ids(const fg_t5_tokenizer *tok, const char *text, size_t len, size_t *count) {
    int32_t *ids = NULL;
    *count = 0;
    if (!CHECK_OK(fg_t5_tokenize(tok, text, len, &ids, count))) return NULL;
    CHECK(ids != NULL || *count == 0);
    return ids;
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    printf("    %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf(n > 40 ? " ...\n" : "\n");
}

bool t5_compare_prompt(const fg_t5_tokenizer *tok, const char *text, size_t len, const int32_t *want, size_t n,
                       int index, const char *label) {
    size_t count;
    int32_t *ids = t5_ids(tok, text, len, &count);
    size_t i = 0;
    while (ids && i < count && i < n && ids[i] == want[i]) i++;
    bool same = (ids || count == 0) && count == n && i == n;
    if (!same) {
        test_fail_at(__FILE__, __LINE__, "%s: prompt %d \"%.60s\": first difference at position %zu", label, index,
                     text, i);
        print_ids("want", want, n);
        if (ids) print_ids("got ", ids, count);
    }
    free(ids);
    return same;
}

void t5_expect_ids(const fg_t5_tokenizer *tok, const char *text, const int32_t *want, size_t n) {
    t5_compare_prompt(tok, text, strlen(text), want, n, -1, "expected ids");
}
