/* The files the process has mapped (model weights are used straight from their mapping), so a
 * SIGBUS (the file was truncated or rewritten in place while in use) can be reported naming the
 * file instead of killing the process without a word. */
#ifndef FG_CORE_MAPPED_FILES_H
#define FG_CORE_MAPPED_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* Records [start, start + size) as a mapping of path; returns a slot for fg_mapped_files_remove,
 * or -1 when the table is full (the mapping then simply goes unnamed in a report). */
int fg_mapped_files_add(const void *start, size_t size, const char *path);
void fg_mapped_files_remove(int slot);
/* The path of the mapping holding addr, copied into out (cut to cap); false if none holds it.
 * Async-signal-safe: no locks, no allocation, only atomic loads and a byte copy. */
bool fg_mapped_files_find(const void *addr, char *out, size_t cap);

#endif
