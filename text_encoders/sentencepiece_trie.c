/* The hash-table byte trie of sentencepiece_trie.h. */
#include "text_encoders/sentencepiece_trie.h"

#include <stdlib.h>
#include <string.h>

/* Node ids must leave room for the byte in a 32-bit edge key. */
#define MAX_NODES ((1u << 24) - 1)

fg_error *fg_sp_trie_init(fg_sp_trie *t, size_t key_bytes) {
    memset(t, 0, sizeof *t);
    if (key_bytes > MAX_NODES) key_bytes = MAX_NODES;
    size_t slots = 1024;
    while (slots < 2 * key_bytes + 2) slots *= 2;
    t->mask = slots - 1;
    t->slots = calloc(slots, sizeof *t->slots);
    t->node_cap = (uint32_t)(key_bytes + 1 > 1024 ? key_bytes + 1 : 1024);
    t->value = malloc(t->node_cap * sizeof *t->value);
    if (!t->slots || !t->value) {
        fg_sp_trie_free(t);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "piece trie");
    }
    t->nodes = 1;
    t->value[0] = -1;
    return NULL;
}

void fg_sp_trie_free(fg_sp_trie *t) {
    free(t->slots);
    free(t->value);
    memset(t, 0, sizeof *t);
}

static void put_slot(uint64_t *slots, size_t mask, uint64_t slot) {
    uint64_t i = fg_sp_trie_hash(slot >> 32, mask);
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = slot;
}

/* Keeps the table at most half full so probes stay short. */
static fg_error *grow_slots(fg_sp_trie *t) {
    size_t mask = t->mask * 2 + 1;
    uint64_t *slots = calloc(mask + 1, sizeof *slots);
    if (!slots) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "piece trie of %zu slots", mask + 1);
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i]) put_slot(slots, mask, t->slots[i]);
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return NULL;
}

static fg_error *add_node(fg_sp_trie *t, uint32_t parent, unsigned char c, uint32_t *child) {
    if (t->nodes >= MAX_NODES) return fg_errorf(FG_ERR_FORMAT, "piece trie exceeds %u nodes", MAX_NODES);
    if (t->nodes == t->node_cap) {
        int32_t *v = realloc(t->value, (size_t)t->node_cap * 2 * sizeof *v);
        if (!v) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "piece trie nodes");
        t->value = v;
        t->node_cap *= 2;
    }
    if ((t->edges + 1) * 2 > t->mask + 1) FG_TRY(grow_slots(t));
    uint32_t id = t->nodes++;
    t->value[id] = -1;
    uint64_t key = ((uint64_t)parent << 8 | c) + 1;
    put_slot(t->slots, t->mask, key << 32 | id);
    t->edges++;
    *child = id;
    return NULL;
}

fg_error *fg_sp_trie_insert(fg_sp_trie *t, const unsigned char *key, size_t len, int32_t value) {
    uint32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t next = fg_sp_trie_child(t, node, key[i]);
        if (next == 0) FG_TRY(add_node(t, node, key[i], &next));
        node = next;
    }
    if (t->value[node] < 0) t->value[node] = value;
    return NULL;
}
