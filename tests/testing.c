#include "tests/testing.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;
static bool current_failed;
static const char *current_name = "?";

void test_fail_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: [%s] ", file, line, current_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    current_failed = true;
}

void test_fail_check(const char *file, int line, const char *cond, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    test_fail_at(file, line, "CHECK(%s)%s", cond, detail);
}

bool test_check_ok(fg_error *err, const char *file, int line, const char *expr) {
    if (!err) return true;
    test_fail_at(file, line, "%s failed: %s", expr, fg_error_message(err));
    fg_error_free(err);
    return false;
}

bool test_check_err(fg_error *err, const char *needle, const char *file, int line, const char *expr) {
    if (!err) {
        test_fail_at(file, line, "%s succeeded but an error%s%s was expected", expr, needle ? " containing " : "",
                     needle ? needle : "");
        return false;
    }
    bool ok = !needle || strstr(fg_error_message(err), needle) != NULL;
    if (!ok) test_fail_at(file, line, "%s: error \"%s\" lacks \"%s\"", expr, fg_error_message(err), needle);
    fg_error_free(err);
    return ok;
}

void test_run(const char *name, test_fn fn) {
    current_name = name;
    current_failed = false;
    fn();
    if (current_failed) {
        failed++;
        printf("FAIL %s\n", name);
    } else {
        passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

bool test_current_failed(void) { return current_failed; }

int test_summary(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

const char *test_fixture(const char *rel) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "tests/fixtures/%s", rel);
    return buf;
}

static char tmpdir_path[4096];

static void remove_tmpdir(void) {
    if (!tmpdir_path[0]) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir_path);
}

double test_time_limit(double seconds) {
    const char *s = getenv("FG_TEST_TIME_SCALE");
    double scale = s ? strtod(s, NULL) : 1.0;
    return seconds * (scale > 0 ? scale : 1.0);
}

const char *test_tmpdir(void) {
    if (tmpdir_path[0]) return tmpdir_path;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir_path, sizeof tmpdir_path, "%s/fluxgraph-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir_path)) {
        tmpdir_path[0] = 0;
        return "/tmp";
    }
    atexit(remove_tmpdir);
    return tmpdir_path;
}

fg_device test_device(void) {
    const char *d = getenv("FG_TEST_DEVICE");
    return d && strcmp(d, "cuda") == 0 ? FG_DEVICE_CUDA : FG_DEVICE_CPU;
}

const char *test_tmp_file(const char *name) {
    static char buf[4][1024];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", test_tmpdir(), name);
    return buf[slot];
}
