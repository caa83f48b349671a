/* Minimal test framework shared by every test program: named tests, checks that record a
 * failure without stopping the test, and the "N passed, N failed" closing line the runner
 * sums up. Tests run from the repository root; fixtures live in tests/fixtures/. */
#ifndef FG_TESTS_TESTING_H
#define FG_TESTS_TESTING_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "core/tensor.h"

void test_fail_at(const char *file, int line, const char *fmt, ...) FG_PRINTF(3, 4);

/* CHECK(cond) or CHECK(cond, "fmt", args...): the condition's text goes through %s, so a
 * '%' inside the condition cannot garble the message. */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) test_fail_check(__FILE__, __LINE__, #cond, " " __VA_ARGS__);          \
    } while (0)
void test_fail_check(const char *file, int line, const char *cond, const char *fmt, ...) FG_PRINTF(4, 5);

/* Expects a NULL error; on failure prints and frees it. Evaluates to true on success. */
#define CHECK_OK(expr) test_check_ok((expr), __FILE__, __LINE__, #expr)
bool test_check_ok(fg_error *err, const char *file, int line, const char *expr);

/* Expects an error whose message contains `needle` (NULL: any error). Frees it. */
#define CHECK_ERR(expr, needle) test_check_err((expr), (needle), __FILE__, __LINE__, #expr)
bool test_check_err(fg_error *err, const char *needle, const char *file, int line, const char *expr);

typedef void (*test_fn)(void);
/* Runs one named test and prints "ok NAME" or "FAIL NAME". */
void test_run(const char *name, test_fn fn);
#define RUN_TEST(fn) test_run(#fn, fn)
/* Prints "N passed, N failed" and returns the process exit code. */
int test_summary(void);
/* True if the current test has recorded a failure. */
bool test_current_failed(void);

/* "tests/fixtures/<rel>" (static buffer, overwritten by the next call). */
const char *test_fixture(const char *rel);
/* Where the tests of the GPU's numerics (BF16 uploads, BF16 activations) place their models:
 * FG_TEST_DEVICE=cuda runs them on the GPU (`make test-gpu`); the CPU otherwise. */
fg_device test_device(void);
/* A wall-clock limit for a speed check: SECONDS times FG_TEST_TIME_SCALE (a positive number,
 * default 1), which `make test-aarch64` raises because qemu-user emulates the CPU. */
double test_time_limit(double seconds);
/* A fresh private directory under $TMPDIR for the calling test program (created once). */
const char *test_tmpdir(void);
/* test_tmpdir()/name; the last four results stay valid (rotating buffers). */
const char *test_tmp_file(const char *name);

#endif
