/* Internal: a byte trie over the vocabulary pieces for the Viterbi search, with the edges
 * (parent node, byte) -> child in one open-addressing hash table, so walking the text costs one
 * probe per byte whatever the vocabulary size. Node 0 is the root. */
#ifndef FG_TEXT_ENCODERS_SENTENCEPIECE_TRIE_H
#define FG_TEXT_ENCODERS_SENTENCEPIECE_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct fg_sp_trie {
    uint64_t *slots; /* 0 = empty, else (edge key + 1) << 32 | child */
    size_t mask;     /* slot count - 1 (a power of two minus one) */
    size_t edges;
    int32_t *value;  /* per node: the piece ending there, or -1 */
    uint32_t nodes, node_cap;
} fg_sp_trie;

/* key_bytes: the expected total length of the keys (sizes the table once; 0 is fine). */
fg_error *fg_sp_trie_init(fg_sp_trie *t, size_t key_bytes) FG_MUST_CHECK;
void fg_sp_trie_free(fg_sp_trie *t);
/* Adds key -> value; a key already present keeps its first value. */
fg_error *fg_sp_trie_insert(fg_sp_trie *t, const unsigned char *key, size_t len, int32_t value) FG_MUST_CHECK;

static inline uint64_t fg_sp_trie_hash(uint64_t key, size_t mask) {
    return (key * 0x9E3779B97F4A7C15ull >> 29) & mask;
}

/* The child of node along byte c, 0 when there is none. */
static inline uint32_t fg_sp_trie_child(const fg_sp_trie *t, uint32_t node, unsigned char c) {
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    for (uint64_t i = fg_sp_trie_hash(key, t->mask);; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (s == 0) return 0;
        if (s >> 32 == key) return (uint32_t)s;
    }
}

#endif
