/* Activation scopes (scope.h): a list of tensor slots, the first FG_SCOPE_INLINE inside the
 * scope value and the rest in heap chunks, each slot freed at the end unless released. */
#include "kernels/scope.h"

#include <stdlib.h>

#include "kernels/ops.h"

struct fg_scope_chunk {
    fg_scope_chunk *next; /* older chunk */
    fg_tensor tensors[FG_SCOPE_INLINE];
};

fg_scope fg_scope_open(fg_scope *parent) { return (fg_scope){.parent = parent}; }

/* Adds bytes to (or takes them from) the counts of s and every ancestor. */
static void count(fg_scope *s, size_t bytes, bool add) {
    for (fg_scope *p = s; p; p = p->parent) {
        p->bytes = add ? p->bytes + bytes : p->bytes - bytes;
        if (p->bytes > p->peak_bytes) p->peak_bytes = p->bytes;
    }
}

/* The next free slot, with a new chunk when the newest is full. */
static fg_error *next_slot(fg_scope *s, fg_tensor **slot) {
    if (s->used == FG_SCOPE_INLINE) {
        fg_scope_chunk *c = calloc(1, sizeof *c);
        if (!c) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "activation scope: no memory for tensor slots");
        c->next = s->chunks;
        s->chunks = c;
        s->used = 0;
    }
    *slot = s->chunks ? &s->chunks->tensors[s->used] : &s->inline_tensors[s->used];
    return NULL;
}

fg_error *fg_scope_alloc(fg_scope *s, fg_device dev, fg_dtype dt, int ndim, const int64_t *shape, fg_tensor **out) {
    *out = NULL;
    FG_CHECK_ARG(s, "activation scope: NULL scope");
    fg_tensor *slot = NULL;
    FG_TRY(next_slot(s, &slot));
    FG_TRY(fg_tensor_alloc(slot, dev, dt, ndim, shape));
    s->used++;
    count(s, fg_tensor_nbytes(slot), true);
    *out = slot;
    return NULL;
}

/* Frees the slots of one container newest first; returns the bytes freed. */
static size_t free_slots(fg_tensor *slots, int n) {
    size_t freed = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (slots[i].data) freed += fg_tensor_nbytes(&slots[i]);
        fg_tensor_free(&slots[i]);
    }
    return freed;
}

void fg_scope_end(fg_scope *s) {
    if (!s) return;
    size_t freed = 0;
    int n = s->used;
    while (s->chunks) {
        fg_scope_chunk *c = s->chunks;
        freed += free_slots(c->tensors, n);
        s->chunks = c->next;
        free(c);
        n = FG_SCOPE_INLINE; /* every older container is full */
    }
    freed += free_slots(s->inline_tensors, n);
    s->used = 0;
    count(s, freed, false);
}

/* Whether t is one of s's own slots. */
static bool holds(const fg_scope *s, const fg_tensor *t) {
    int n = s->used;
    for (const fg_scope_chunk *c = s->chunks; c; c = c->next, n = FG_SCOPE_INLINE)
        if (t >= c->tensors && t < c->tensors + n) return true;
    return t >= s->inline_tensors && t < s->inline_tensors + n;
}

/* The scope among s and its ancestors that handed out t, or NULL. */
static fg_scope *owner_of(fg_scope *s, const fg_tensor *t) {
    for (fg_scope *p = s; p; p = p->parent)
        if (holds(p, t)) return p;
    return NULL;
}

void fg_scope_release(fg_scope *s, fg_tensor *t) {
    fg_scope *owner = s && t ? owner_of(s, t) : NULL;
    if (!owner || !t->data) return;
    count(owner, fg_tensor_nbytes(t), false);
    fg_tensor_free(t);
}

void fg_scope_move_out(fg_scope *s, fg_tensor *t, fg_tensor *dst) {
    fg_scope *owner = s && t ? owner_of(s, t) : NULL;
    *dst = (fg_tensor){0};
    if (!owner || !t->data) return;
    count(owner, fg_tensor_nbytes(t), false);
    *dst = *t;
    *t = (fg_tensor){0}; /* the slot no longer owns the storage */
}

size_t fg_scope_bytes(const fg_scope *s) { return s ? s->bytes : 0; }
size_t fg_scope_peak_bytes(const fg_scope *s) { return s ? s->peak_bytes : 0; }
