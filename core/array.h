/* Growing malloc'd arrays: the one place that doubles a capacity, so the many small lists
 * (layouts, LoRA key maps and patches, model listings) do not each repeat the realloc dance. */
#ifndef FG_CORE_ARRAY_H
#define FG_CORE_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* Makes room for at least one more item in *items, an array of `item_size`-byte items of
 * which `count` are used and *cap allocated: when full, the capacity doubles (the first
 * allocation holds `first` items). false on overflow or out of memory, the array unchanged. */
bool fg_array_reserve(void **items, size_t *cap, size_t count, size_t item_size, size_t first);

/* The same for typed pointers: FG_ARRAY_RESERVE(list->items, list->cap, list->n, 64). */
#define FG_ARRAY_RESERVE(items, cap, count, first) \
    fg_array_reserve((void **)&(items), &(cap), (count), sizeof *(items), (first))

#endif
