/* A fixed pool of worker threads for the CPU loops (norms, attention rows, im2col, weight
 * widening). The caller of fg_parallel_for takes part in the work and returns when all of it
 * is done. A parallel_for issued from inside a worker runs serially, so nesting is safe. */
#ifndef FG_CORE_THREADPOOL_H
#define FG_CORE_THREADPOOL_H

#include <stdint.h>

#include "core/error.h"

typedef struct fg_threadpool fg_threadpool;

/* Body of a parallel loop over [begin, end); `worker` is 0..size-1 (stable per thread, for
 * per-worker scratch). */
typedef void (*fg_parallel_fn)(void *ctx, int64_t begin, int64_t end, int worker);

/* n_threads counts the calling thread; 1 means run everything inline. */
fg_error *fg_threadpool_create(int n_threads, fg_threadpool **out) FG_MUST_CHECK;
void fg_threadpool_destroy(fg_threadpool *pool);
int fg_threadpool_size(const fg_threadpool *pool);

/* Splits [0, n) into chunks of at least min_chunk items and runs fn on them. */
void fg_parallel_for(fg_threadpool *pool, int64_t n, int64_t min_chunk, fg_parallel_fn fn, void *ctx);

/* Process-wide pool, created on first use with FLUXGRAPH_THREADS threads (default: the CPUs
 * this process may use). NULL if it could not be created; every function here treats a NULL
 * pool as "run inline". */
fg_threadpool *fg_threadpool_global(void);
/* Sets the size of the global pool before its first use (the CLI's --threads). */
void fg_threadpool_global_set_size(int n_threads);

#endif
