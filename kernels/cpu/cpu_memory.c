/* Host memory for fg_tensor_alloc on the CPU, counted for fg_device_memory_stats.
 * Block sizes live in a small pointer-keyed table rather than a header in front of each
 * block: a block from fg_tensor_alloc_host freed through fg_tensor_free (or the reverse)
 * then stays a plain aligned_alloc block that free() accepts, instead of corrupting the heap.
 * Blocks the table does not know are freed uncounted. The CPU keeps no cache of freed
 * blocks (malloc has its own), so `cached` is always 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/cpu_ops.h"

typedef struct block_slot {
    uintptr_t key; /* 0: empty; TOMBSTONE: deleted */
    size_t size;
} block_slot;

#define TOMBSTONE ((uintptr_t)1)

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static block_slot *slots;
static size_t n_slots, n_taken; /* n_taken counts live entries and tombstones */
static size_t bytes_in_use, bytes_peak;

static size_t slot_of(uintptr_t key, size_t cap) {
    return (size_t)(((uint64_t)key >> 6) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

/* Rebuilds the table with room for twice the live entries (tombstones dropped). */
static int grow_table(void) {
    size_t cap = n_slots ? n_slots * 2 : 256;
    block_slot *fresh = calloc(cap, sizeof *fresh);
    if (!fresh) return -1;
    size_t live = 0;
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].key <= TOMBSTONE) continue;
        size_t s = slot_of(slots[i].key, cap);
        while (fresh[s].key) s = (s + 1) & (cap - 1);
        fresh[s] = slots[i];
        live++;
    }
    free(slots);
    slots = fresh;
    n_slots = cap;
    n_taken = live;
    return 0;
}

static int track(void *p, size_t size) {
    if ((n_taken + 1) * 2 > n_slots && grow_table() != 0) return -1;
    uintptr_t key = (uintptr_t)p;
    size_t s = slot_of(key, n_slots);
    while (slots[s].key > TOMBSTONE) s = (s + 1) & (n_slots - 1);
    if (slots[s].key == 0) n_taken++;
    slots[s].key = key;
    slots[s].size = size;
    bytes_in_use += size;
    if (bytes_in_use > bytes_peak) bytes_peak = bytes_in_use;
    return 0;
}

static void untrack(void *p) {
    if (!n_slots) return;
    uintptr_t key = (uintptr_t)p;
    for (size_t s = slot_of(key, n_slots), probes = 0; slots[s].key && probes < n_slots;
         s = (s + 1) & (n_slots - 1), probes++) {
        if (slots[s].key == key) {
            bytes_in_use -= slots[s].size;
            slots[s].key = TOMBSTONE;
            return;
        }
    }
}

fg_error *fg_cpu_alloc(void **ptr, size_t nbytes) {
    size_t rounded = (nbytes + 63) & ~(size_t)63;
    if (rounded < nbytes) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory", nbytes);
    if (!rounded) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory", nbytes);
    memset(p, 0, rounded);
    pthread_mutex_lock(&mem_lock);
    int rc = track(p, rounded);
    pthread_mutex_unlock(&mem_lock);
    if (rc != 0) {
        free(p);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "cannot grow the host allocation table");
    }
    *ptr = p;
    return NULL;
}

void fg_cpu_free(void *ptr) {
    if (!ptr) return;
    pthread_mutex_lock(&mem_lock);
    untrack(ptr);
    pthread_mutex_unlock(&mem_lock);
    free(ptr);
}

fg_error *fg_cpu_memory_stats(fg_memory_stats *out) {
    pthread_mutex_lock(&mem_lock);
    out->in_use = bytes_in_use;
    out->peak = bytes_peak;
    out->cached = 0;
    pthread_mutex_unlock(&mem_lock);
    return NULL;
}

void fg_cpu_reset_peak(void) {
    pthread_mutex_lock(&mem_lock);
    bytes_peak = bytes_in_use;
    pthread_mutex_unlock(&mem_lock);
}

void fg_cpu_release_cached(void) {}

/* MemAvailable from /proc/meminfo (what the kernel could hand out without swapping), or 0. */
static size_t meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* A cgroup v2 memory limit (a container's: CI, Docker) minus its usage, or 0 when there is
 * none: MemAvailable reports the host's memory, which the container cannot reach. */
static size_t cgroup_available(void) {
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (!f) return 0;
    unsigned long long max = 0, current = 0;
    int have_max = fscanf(f, "%llu", &max) == 1; /* "max" (no limit) does not parse */
    fclose(f);
    f = have_max ? fopen("/sys/fs/cgroup/memory.current", "r") : NULL;
    int have_current = f && fscanf(f, "%llu", &current) == 1;
    if (f) fclose(f);
    if (!have_max || !have_current) return 0;
    return current < max ? (size_t)(max - current) : 1;
}

fg_error *fg_cpu_memory_info(size_t *free_bytes, size_t *total_bytes) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return fg_errorf(FG_ERR_UNSUPPORTED, "cpu memory_info: sysconf cannot tell the physical memory");
    size_t total = (size_t)pages * (size_t)page, avail = meminfo_available();
    if (!avail) {
        long av = sysconf(_SC_AVPHYS_PAGES);
        avail = av > 0 ? (size_t)av * (size_t)page : 0;
    }
    size_t limited = cgroup_available();
    if (limited && limited < avail) avail = limited;
    *total_bytes = total;
    *free_bytes = avail < total ? avail : total;
    return NULL;
}
