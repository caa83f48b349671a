/* Growing arrays (core/array.h). */
#include "core/array.h"

#include <stdint.h>
#include <stdlib.h>

bool fg_array_reserve(void **items, size_t *cap, size_t count, size_t item_size, size_t first) {
    if (count < *cap) return true;
    size_t grown = *cap ? *cap * 2 : (first ? first : 1);
    if (grown < *cap || item_size == 0 || grown > SIZE_MAX / item_size) return false;
    void *p = realloc(*items, grown * item_size);
    if (!p) return false;
    *items = p;
    *cap = grown;
    return true;
}
