#include "core/mapped_files.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { MAX_MAPPED = 256, PATH_CAP = 512 };

/* A slot is live while start != 0; the writer fills size and path before publishing start, and
 * clears start before the slot is reused, so a signal handler never reads a half-written one
 * as live. */
typedef struct mapped_slot {
    _Atomic uintptr_t start;
    size_t size;
    char path[PATH_CAP];
} mapped_slot;

static mapped_slot slots[MAX_MAPPED];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

int fg_mapped_files_add(const void *start, size_t size, const char *path) {
    if (!start || !path) return -1;
    int found = -1;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < MAX_MAPPED && found < 0; i++) {
        if (atomic_load(&slots[i].start) != 0) continue;
        slots[i].size = size;
        size_t n = 0;
        for (; path[n] && n + 1 < PATH_CAP; n++) slots[i].path[n] = path[n];
        slots[i].path[n] = '\0';
        atomic_store(&slots[i].start, (uintptr_t)start);
        found = i;
    }
    pthread_mutex_unlock(&slots_lock);
    return found;
}

void fg_mapped_files_remove(int slot) {
    if (slot < 0 || slot >= MAX_MAPPED) return;
    atomic_store(&slots[slot].start, 0);
}

bool fg_mapped_files_find(const void *addr, char *out, size_t cap) {
    const uintptr_t a = (uintptr_t)addr;
    for (int i = 0; i < MAX_MAPPED; i++) {
        uintptr_t start = atomic_load(&slots[i].start);
        if (!start || a < start || a - start >= slots[i].size) continue;
        size_t n = 0;
        for (; cap && n + 1 < cap && slots[i].path[n]; n++) out[n] = slots[i].path[n];
        if (cap) out[n] = '\0';
        return true;
    }
    return false;
}
