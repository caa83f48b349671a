#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

struct fg_threadpool {
    int size; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    pthread_mutex_t submit_lock; /* one parallel_for at a time per pool */
    /* current job */
    uint64_t generation;
    fg_parallel_fn fn;
    void *ctx;
    int64_t n, chunk, next;
    int active; /* workers still inside the current job */
    int shutting_down;
};

static _Thread_local int inside_worker;

/* Claims the next chunk of the current job; returns 0 when none is left. */
static int claim_chunk(fg_threadpool *p, int64_t *begin, int64_t *end) {
    int64_t b = __atomic_fetch_add(&p->next, p->chunk, __ATOMIC_RELAXED);
    if (b >= p->n) return 0;
    *begin = b;
    *end = b + p->chunk < p->n ? b + p->chunk : p->n;
    return 1;
}

typedef struct {
    fg_threadpool *pool;
    int index;
} worker_arg;

static void *worker_main(void *arg_) {
    worker_arg *arg = arg_;
    fg_threadpool *p = arg->pool;
    int index = arg->index;
    free(arg);
    inside_worker = 1;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->shutting_down && p->generation == seen) pthread_cond_wait(&p->work_ready, &p->lock);
        if (p->shutting_down) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        int64_t b, e;
        while (claim_chunk(p, &b, &e)) p->fn(p->ctx, b, e, index);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) pthread_cond_signal(&p->work_done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

fg_error *fg_threadpool_create(int n_threads, fg_threadpool **out) {
    if (n_threads < 1) n_threads = 1;
    fg_threadpool *p = calloc(1, sizeof *p);
    if (!p) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "thread pool");
    p->size = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->submit_lock, NULL);
    pthread_cond_init(&p->work_ready, NULL);
    pthread_cond_init(&p->work_done, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof(pthread_t));
        if (!p->threads) {
            fg_threadpool_destroy(p);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "thread pool");
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *arg = malloc(sizeof *arg);
            if (arg) {
                arg->pool = p;
                arg->index = i;
            }
            if (!arg || pthread_create(&p->threads[i - 1], NULL, worker_main, arg) != 0) {
                free(arg);
                p->size = i; /* keep the threads that started */
                break;
            }
        }
    }
    *out = p;
    return NULL;
}

void fg_threadpool_destroy(fg_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->shutting_down = 1;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->size; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->submit_lock);
    pthread_cond_destroy(&p->work_ready);
    pthread_cond_destroy(&p->work_done);
    free(p);
}

int fg_threadpool_size(const fg_threadpool *p) { return p ? p->size : 1; }

void fg_parallel_for(fg_threadpool *p, int64_t n, int64_t min_chunk, fg_parallel_fn fn, void *ctx) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    if (!p || p->size == 1 || inside_worker || n <= min_chunk) {
        fn(ctx, 0, n, 0);
        return;
    }
    /* About 4 chunks per thread balances uneven rows without much claiming overhead. */
    int64_t chunk = (n + (int64_t)p->size * 4 - 1) / ((int64_t)p->size * 4);
    if (chunk < min_chunk) chunk = min_chunk;
    pthread_mutex_lock(&p->submit_lock);
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->next = 0;
    p->active = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->lock);

    inside_worker = 1;
    int64_t b, e;
    while (claim_chunk(p, &b, &e)) fn(ctx, b, e, 0);
    inside_worker = 0;

    pthread_mutex_lock(&p->lock);
    while (p->active > 0) pthread_cond_wait(&p->work_done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->submit_lock);
}

static fg_threadpool *global_pool;
static int global_requested;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static int available_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void create_global(void) {
    int n = global_requested;
    const char *env = getenv("FLUXGRAPH_THREADS");
    if (n <= 0 && env) n = atoi(env);
    if (n <= 0) n = available_cpus();
    if (n > 256) n = 256;
    fg_error *err = fg_threadpool_create(n, &global_pool);
    if (err) {
        fg_error_free(err);
        global_pool = NULL;
    }
}

fg_threadpool *fg_threadpool_global(void) {
    pthread_once(&global_once, create_global);
    return global_pool;
}

void fg_threadpool_global_set_size(int n_threads) { global_requested = n_threads; }
