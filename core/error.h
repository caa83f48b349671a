/* Errors as values: every fallible function returns an fg_error * (NULL on success).
 * The caller either handles it, frees it, or returns it upward after adding context, so a
 * message reads outermost-first: "loading flux1-dev.safetensors: tensor 'img_in.weight': ...".
 * Nothing below the CLI ever exits or aborts. */
#ifndef FG_CORE_ERROR_H
#define FG_CORE_ERROR_H

#include <stdarg.h>

typedef enum fg_error_code {
    FG_ERR_INVALID_ARGUMENT = 1, /* caller passed something inconsistent (shapes, dtypes) */
    FG_ERR_IO,                   /* open/read/write/mmap failed */
    FG_ERR_FORMAT,               /* a file or JSON document is malformed or hostile */
    FG_ERR_OUT_OF_MEMORY,
    FG_ERR_UNSUPPORTED,          /* valid request we do not implement (yet) */
    FG_ERR_NOT_FOUND,
    FG_ERR_DEVICE,               /* CUDA or other accelerator failure */
    FG_ERR_CANCELLED,
    FG_ERR_EXISTS,               /* a file that must not be replaced is already there */
} fg_error_code;

typedef struct fg_error fg_error;

#if defined(__GNUC__)
#define FG_MUST_CHECK __attribute__((warn_unused_result))
#define FG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FG_MUST_CHECK
#define FG_PRINTF(a, b)
#endif

/* New error with a printf-style message. Never returns NULL (falls back to a static
 * out-of-memory error when allocation fails). */
fg_error *fg_errorf(fg_error_code code, const char *fmt, ...) FG_PRINTF(2, 3) FG_MUST_CHECK;
fg_error *fg_verrorf(fg_error_code code, const char *fmt, va_list ap) FG_MUST_CHECK;

/* Prepends "context: " to err and returns it (code unchanged). NULL passes through, so
 * `return fg_error_wrapf(f(), "loading %s", path);` is correct whether f() failed or not. */
fg_error *fg_error_wrapf(fg_error *err, const char *fmt, ...) FG_PRINTF(2, 3) FG_MUST_CHECK;

fg_error_code fg_error_code_of(const fg_error *err);
const char *fg_error_message(const fg_error *err);
const char *fg_error_code_name(fg_error_code code);
void fg_error_free(fg_error *err);

/* Return early with the error of a fallible call. */
#define FG_TRY(expr)                                                                       \
    do {                                                                                   \
        fg_error *fg_try_err_ = (expr);                                                    \
        if (fg_try_err_) return fg_try_err_;                                               \
    } while (0)

/* Same, adding context on failure. */
#define FG_TRY_CTX(expr, ...)                                                              \
    do {                                                                                   \
        fg_error *fg_try_err_ = (expr);                                                    \
        if (fg_try_err_) return fg_error_wrapf(fg_try_err_, __VA_ARGS__);                  \
    } while (0)

/* Precondition check that yields an FG_ERR_INVALID_ARGUMENT error instead of asserting. */
#define FG_CHECK_ARG(cond, ...)                                                            \
    do {                                                                                   \
        if (!(cond)) return fg_errorf(FG_ERR_INVALID_ARGUMENT, __VA_ARGS__);               \
    } while (0)

#endif
