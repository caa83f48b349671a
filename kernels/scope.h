/* Activation scopes: where a forward's temporaries come from and go back to at once.
 *
 * A scope hands out tensors (fg_scope_alloc, through fg_tensor_alloc, so the backends' caching
 * allocators and memory statistics see every byte) and remembers each one; fg_scope_end frees
 * them all, newest first. A function that needs temporaries opens a scope, allocates from it,
 * and ends it on its single way out, so an error anywhere leaks nothing and no code frees
 * tensors one by one. Scopes nest: a block opens a child of the forward's scope for what dies
 * with the block, and allocates what the block returns from the parent. A tensor that must
 * outlive every scope (a model's output) is allocated by the caller, or taken out with
 * fg_scope_move_out.
 *
 * Each scope counts the bytes it and its children hold now and the most they held at once (the
 * tensors' sizes, not the allocator's rounding), so a forward's peak activation memory is a
 * number it can report. The scope itself is a small value (on the stack, or in a struct that
 * does not move); the tensors it hands out stay at fixed addresses until it ends.
 * Not thread-safe: one scope belongs to one thread (a forward runs its ops from one thread). */
#ifndef FG_KERNELS_SCOPE_H
#define FG_KERNELS_SCOPE_H

#include <stddef.h>

#include "core/error.h"
#include "core/tensor.h"

/* Tensors kept inside the scope value itself; more go to heap chunks of the same size. */
#define FG_SCOPE_INLINE 8

typedef struct fg_scope_chunk fg_scope_chunk;

typedef struct fg_scope {
    struct fg_scope *parent;   /* NULL for a root scope */
    fg_scope_chunk *chunks;    /* heap chunks beyond the inline ones, newest first */
    int used;                  /* tensors handed out in the newest chunk (or inline) */
    size_t bytes, peak_bytes;  /* held now by this scope and its open children; the most at once */
    fg_tensor inline_tensors[FG_SCOPE_INLINE];
} fg_scope;

/* A fresh scope, child of parent (NULL: a root). Opening cannot fail: memory is taken only
 * when tensors are handed out. Every opened scope must be ended. */
fg_scope fg_scope_open(fg_scope *parent);
/* Frees every tensor the scope still holds, newest first, and returns its bytes to the
 * ancestors' counts. Its children must have ended first. The counts stay readable (bytes 0,
 * the peak kept); ending twice is harmless. */
void fg_scope_end(fg_scope *s);

/* A zeroed tensor on dev owned by the scope; *out stays valid until fg_scope_end. On error
 * nothing is held and *out is NULL. */
fg_error *fg_scope_alloc(fg_scope *s, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape,
                         fg_tensor **out) FG_MUST_CHECK;
/* Frees one tensor before its scope ends (dead early: keeps a stage's peak down); its slot
 * stays empty. t comes from s or one of its ancestors (a caller's tensor this stage consumes);
 * anything else is left alone. */
void fg_scope_release(fg_scope *s, fg_tensor *t);
/* Moves t (from s or an ancestor, as fg_scope_release) out into *dst, which the caller then
 * owns (fg_tensor_free); the counts drop as if t were released. */
void fg_scope_move_out(fg_scope *s, fg_tensor *t, fg_tensor *dst);

/* Runs one stage with a scope for its temporaries: opens `tmp` as a child of `parent`,
 * evaluates `call` (an fg_error * expression that may use &tmp), ends tmp whatever happened,
 * then returns the error if there was one (as FG_TRY). What the stage returns it allocates from
 * parent; the temporaries are gone when the stage is. */
#define FG_SCOPED(parent, tmp, call)                                                       \
    do {                                                                                   \
        fg_scope tmp = fg_scope_open(parent);                                              \
        fg_error *fg_scoped_err_ = (call);                                                 \
        fg_scope_end(&tmp);                                                                \
        if (fg_scoped_err_) return fg_scoped_err_;                                         \
    } while (0)

/* Bytes the scope (with its open children) holds now, and the most it held at once. */
size_t fg_scope_bytes(const fg_scope *s);
size_t fg_scope_peak_bytes(const fg_scope *s);

#endif
