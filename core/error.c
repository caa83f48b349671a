#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fg_error {
    fg_error_code code;
    int is_static;
    char *message;
};

static char oom_message[] = "out of memory while reporting an error";
static fg_error oom_error = {FG_ERR_OUT_OF_MEMORY, 1, oom_message};

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

fg_error *fg_verrorf(fg_error_code code, const char *fmt, va_list ap) {
    fg_error *e = malloc(sizeof *e);
    if (!e) return &oom_error;
    e->code = code;
    e->is_static = 0;
    e->message = vformat(fmt, ap);
    if (!e->message) {
        free(e);
        return &oom_error;
    }
    return e;
}

fg_error *fg_errorf(fg_error_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fg_error *e = fg_verrorf(code, fmt, ap);
    va_end(ap);
    return e;
}

fg_error *fg_error_wrapf(fg_error *err, const char *fmt, ...) {
    if (!err || err->is_static) return err;
    va_list ap;
    va_start(ap, fmt);
    char *ctx = vformat(fmt, ap);
    va_end(ap);
    if (!ctx) return err;
    size_t n = strlen(ctx) + 2 + strlen(err->message) + 1;
    char *joined = malloc(n);
    if (joined) {
        snprintf(joined, n, "%s: %s", ctx, err->message);
        free(err->message);
        err->message = joined;
    }
    free(ctx);
    return err;
}

fg_error_code fg_error_code_of(const fg_error *err) { return err ? err->code : 0; }

const char *fg_error_message(const fg_error *err) { return err ? err->message : "success"; }

const char *fg_error_code_name(fg_error_code code) {
    switch (code) {
    case FG_ERR_INVALID_ARGUMENT: return "invalid argument";
    case FG_ERR_IO: return "i/o error";
    case FG_ERR_FORMAT: return "format error";
    case FG_ERR_OUT_OF_MEMORY: return "out of memory";
    case FG_ERR_UNSUPPORTED: return "unsupported";
    case FG_ERR_NOT_FOUND: return "not found";
    case FG_ERR_DEVICE: return "device error";
    case FG_ERR_CANCELLED: return "cancelled";
    case FG_ERR_EXISTS: return "already exists";
    }
    return "error";
}

void fg_error_free(fg_error *err) {
    if (!err || err->is_static) return;
    free(err->message);
    free(err);
}
