/* CLIP byte-level BPE (see clip_tokenizer.h for the pipeline and the Unicode caveats). */
#include "text_encoders/clip_tokenizer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_encoders/clip_pretokenize.h"
#include "text_encoders/vocab_data.h"

/* The reference reads exactly this many merge lines after the header (49152 - 256 - 2). */
enum { CLIP_MERGE_COUNT = 48894 };
/* Cached words beyond this many clear the cache (a 1 MB prompt of unique words stays bounded). */
enum { CLIP_CACHE_MAX = 1 << 16 };

/* ---- small open-addressing hash maps --------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ? h : 1;
}

typedef struct str_slot {
    uint64_t hash;   /* 0 = empty */
    char *key;       /* owned */
    size_t len;
    int32_t value;   /* vocab: id; cache: index into the cache's id store */
    int32_t count;   /* cache: number of ids */
} str_slot;

typedef struct str_map {
    str_slot *slots;
    size_t cap, used; /* cap is a power of two */
} str_map;

static void str_map_clear(str_map *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    *m = (str_map){0};
}

static str_slot *str_map_find(const str_map *m, const char *key, size_t len, uint64_t h) {
    if (!m->cap) return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        str_slot *s = &m->slots[i];
        if (!s->hash) return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static bool str_map_grow(str_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    str_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < m->cap; i++) {
        str_slot *s = &m->slots[i];
        if (!s->hash) continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].hash) j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

/* Inserts a copy of key (the caller checked it is absent). */
static str_slot *str_map_insert(str_map *m, const char *key, size_t len, uint64_t h) {
    if ((m->used + 1) * 2 > m->cap && !str_map_grow(m)) return NULL;
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, key, len);
    copy[len] = 0;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].hash) i = (i + 1) & (m->cap - 1);
    m->slots[i] = (str_slot){.hash = h, .key = copy, .len = len};
    m->used++;
    return &m->slots[i];
}

/* (left id, right id) -> (rank, merged id) */
typedef struct merge_slot {
    uint64_t key; /* (left + 1) << 32 | (right + 1); 0 = empty */
    int32_t rank, merged;
} merge_slot;

struct fg_clip_tokenizer {
    str_map vocab;
    char **id_text;         /* id -> key (borrowed from vocab slots) */
    int32_t n_ids;
    merge_slot *merges;
    size_t merge_cap;
    int32_t byte_id[256];   /* byte symbol */
    int32_t byte_end_id[256]; /* byte symbol + "</w>" */
    fg_tokenizer_compat compat;
    pthread_mutex_t cache_lock;
    str_map cache;
    int32_t *cache_ids;
    size_t cache_ids_len, cache_ids_cap;
};

static uint64_t merge_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1); }

static const merge_slot *merge_find(const fg_clip_tokenizer *t, int32_t a, int32_t b) {
    uint64_t k = merge_key(a, b);
    for (size_t i = (k * 0x9E3779B97F4A7C15ull) >> 40 & (t->merge_cap - 1);; i = (i + 1) & (t->merge_cap - 1)) {
        if (t->merges[i].key == k) return &t->merges[i];
        if (!t->merges[i].key) return NULL;
    }
}

/* ---- bytes_to_unicode ------------------------------------------------------------------ */

/* Printable bytes keep their code point; the other 68 map to 256, 257, ... in byte order. */
static int32_t byte_symbol(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

/* ---- loading --------------------------------------------------------------------------- */

int32_t fg_clip_token_id(const fg_clip_tokenizer *tok, const char *key, size_t len) {
    const str_slot *s = str_map_find(&tok->vocab, key, len, hash_bytes(key, len));
    return s ? s->value : -1;
}

const char *fg_clip_token_text(const fg_clip_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->n_ids ? tok->id_text[id] : NULL;
}

static fg_error *load_vocab(fg_clip_tokenizer *t, const char *data, size_t len) {
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fg_errorf(FG_ERR_FORMAT, "vocab.json line %d: %s", jerr.line, jerr.text);
    fg_error *err = NULL;
    if (!json_is_object(root) || json_object_size(root) == 0 || json_object_size(root) > (1u << 24)) {
        err = fg_errorf(FG_ERR_FORMAT, "vocab.json: expected a non-empty object of token ids");
        goto done;
    }
    t->n_ids = (int32_t)json_object_size(root);
    t->id_text = calloc((size_t)t->n_ids, sizeof *t->id_text);
    if (!t->id_text) { err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "vocab.json: id table"); goto done; }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id >= t->n_ids || t->id_text[id]) {
            err = fg_errorf(FG_ERR_FORMAT, "vocab.json: token '%s' has an invalid or repeated id", key);
            goto done;
        }
        size_t klen = strlen(key);
        str_slot *s = str_map_insert(&t->vocab, key, klen, hash_bytes(key, klen));
        if (!s) { err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "vocab.json"); goto done; }
        s->value = (int32_t)id;
        t->id_text[id] = s->key;
    }
done:
    json_decref(root);
    return err;
}

/* The id of a byte symbol, optionally with "</w>". */
static int32_t symbol_id(const fg_clip_tokenizer *t, int b, bool word_end) {
    char buf[16];
    size_t n = (size_t)utf8proc_encode_char(byte_symbol(b), (utf8proc_uint8_t *)buf);
    if (word_end) { memcpy(buf + n, "</w>", 4); n += 4; }
    return fg_clip_token_id(t, buf, n);
}

static fg_error *load_merges(fg_clip_tokenizer *t, const char *data, size_t len) {
    t->merge_cap = 1;
    while (t->merge_cap < 2 * CLIP_MERGE_COUNT) t->merge_cap *= 2;
    t->merges = calloc(t->merge_cap, sizeof *t->merges);
    if (!t->merges) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "merges.txt");
    const char *p = memchr(data, '\n', len), *end = data + len;
    if (!p || len < 8 || memcmp(data, "#version", 8) != 0) return fg_errorf(FG_ERR_FORMAT, "merges.txt: no #version header");
    p++;
    char merged[512];
    for (int32_t rank = 0; rank < CLIP_MERGE_COUNT; rank++) {
        if (p >= end) return fg_errorf(FG_ERR_FORMAT, "merges.txt: %d merges, expected %d", rank, CLIP_MERGE_COUNT);
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *sp = memchr(p, ' ', (size_t)(eol - p));
        size_t line_len = (size_t)(eol - p);
        if (!sp || sp == p || sp + 1 >= eol || line_len >= sizeof merged)
            return fg_errorf(FG_ERR_FORMAT, "merges.txt: merge %d is not 'left right'", rank);
        int32_t a = fg_clip_token_id(t, p, (size_t)(sp - p));
        int32_t b = fg_clip_token_id(t, sp + 1, (size_t)(eol - sp - 1));
        memcpy(merged, p, (size_t)(sp - p));
        memcpy(merged + (sp - p), sp + 1, (size_t)(eol - sp - 1));
        int32_t m = fg_clip_token_id(t, merged, line_len - 1);
        if (a < 0 || b < 0 || m < 0)
            return fg_errorf(FG_ERR_FORMAT, "merges.txt: merge %d uses a token missing from vocab.json", rank);
        uint64_t k = merge_key(a, b);
        size_t i = (k * 0x9E3779B97F4A7C15ull) >> 40 & (t->merge_cap - 1);
        while (t->merges[i].key && t->merges[i].key != k) i = (i + 1) & (t->merge_cap - 1);
        if (!t->merges[i].key) t->merges[i] = (merge_slot){k, rank, m}; /* first (best) rank wins */
        p = eol + 1;
    }
    return NULL;
}

fg_error *fg_clip_tokenizer_load(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                 size_t merges_len, fg_clip_tokenizer **out) {
    FG_CHECK_ARG(vocab_json && merges_txt && out, "fg_clip_tokenizer_load: NULL argument");
    *out = NULL;
    fg_clip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "CLIP tokenizer");
    pthread_mutex_init(&t->cache_lock, NULL);
    t->compat = fg_tokenizer_compat_default();
    fg_error *err = load_vocab(t, vocab_json, vocab_len);
    if (!err) err = load_merges(t, merges_txt, merges_len);
    for (int b = 0; !err && b < 256; b++) {
        t->byte_id[b] = symbol_id(t, b, false);
        t->byte_end_id[b] = symbol_id(t, b, true);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0)
            err = fg_errorf(FG_ERR_FORMAT, "vocab.json: byte symbol %d missing", b);
    }
    if (!err && (fg_clip_token_id(t, "<|startoftext|>", 15) != FG_CLIP_BOS_ID ||
                 fg_clip_token_id(t, "<|endoftext|>", 13) != FG_CLIP_EOS_ID))
        err = fg_errorf(FG_ERR_FORMAT, "vocab.json: <|startoftext|>/<|endoftext|> are not ids %d/%d",
                        FG_CLIP_BOS_ID, FG_CLIP_EOS_ID);
    if (err) {
        fg_clip_tokenizer_free(t);
        return fg_error_wrapf(err, "loading the CLIP tokenizer");
    }
    *out = t;
    return NULL;
}

fg_error *fg_clip_tokenizer_load_default(fg_clip_tokenizer **out) {
    fg_blob v = fg_vocab_clip_vocab_json(), m = fg_vocab_clip_merges_txt();
    return fg_clip_tokenizer_load((const char *)v.data, v.size, (const char *)m.data, m.size, out);
}

void fg_clip_tokenizer_free(fg_clip_tokenizer *t) {
    if (!t) return;
    str_map_clear(&t->vocab);
    str_map_clear(&t->cache);
    free(t->cache_ids);
    free(t->id_text);
    free(t->merges);
    pthread_mutex_destroy(&t->cache_lock);
    free(t);
}

/* ---- BPE ------------------------------------------------------------------------------- */

/* Min-heap of candidate merges ordered by (rank, left position): merging the lowest-ranked pair
 * at its leftmost occurrence first gives the reference's "merge every occurrence of the best
 * pair, left to right" result, since a pair containing a freshly merged symbol always has a
 * higher rank than the merge that created it. O(n log n), so a 1 MB letter run is fine. */
typedef struct bpe_cand { int32_t rank, left, right, merged; } bpe_cand;

static bool cand_less(const bpe_cand *a, const bpe_cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

typedef struct bpe_work {
    int32_t *sym, *prev, *next;
    bpe_cand *heap;
    size_t heap_len;
} bpe_work;

static void heap_push(bpe_work *w, bpe_cand c) {
    size_t i = w->heap_len++;
    while (i > 0 && cand_less(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
}

static bpe_cand heap_pop(bpe_work *w) {
    bpe_cand top = w->heap[0], last = w->heap[--w->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->heap_len) break;
        if (c + 1 < w->heap_len && cand_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!cand_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_len) w->heap[i] = last;
    return top;
}

static void push_pair(const fg_clip_tokenizer *t, bpe_work *w, int32_t left) {
    if (left < 0) return;
    int32_t right = w->next[left];
    if (right < 0) return;
    const merge_slot *m = merge_find(t, w->sym[left], w->sym[right]);
    if (m) heap_push(w, (bpe_cand){m->rank, left, right, m->merged});
}

/* Byte-encodes one pre-token and runs BPE; appends the ids to out (capacity >= n). */
static fg_error *bpe_word(const fg_clip_tokenizer *t, const unsigned char *bytes, size_t n, int32_t *out,
                          size_t *out_n) {
    bpe_work w = {0};
    w.sym = malloc(n * sizeof *w.sym);
    w.prev = malloc(n * sizeof *w.prev);
    w.next = malloc(n * sizeof *w.next);
    w.heap = malloc(n * sizeof *w.heap); /* at most one live candidate per left symbol... */
    if (!w.sym || !w.prev || !w.next || !w.heap) goto oom;
    for (size_t i = 0; i < n; i++) {
        w.sym[i] = i + 1 == n ? t->byte_end_id[bytes[i]] : t->byte_id[bytes[i]];
        w.prev[i] = (int32_t)i - 1;
        w.next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t heap_cap = n;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, &w, (int32_t)i);
    while (w.heap_len) {
        bpe_cand c = heap_pop(&w);
        /* Stale if either side was merged away or changed since the candidate was pushed. */
        if (w.sym[c.left] < 0 || w.next[c.left] != c.right || w.sym[c.right] < 0) continue;
        const merge_slot *m = merge_find(t, w.sym[c.left], w.sym[c.right]);
        if (!m || m->rank != c.rank) continue;
        w.sym[c.left] = c.merged;
        w.sym[c.right] = -1;
        w.next[c.left] = w.next[c.right];
        if (w.next[c.right] >= 0) w.prev[w.next[c.right]] = c.left;
        /* ...plus up to two new ones per merge, each merge removing a symbol. */
        if (w.heap_len + 2 > heap_cap) {
            bpe_cand *h = realloc(w.heap, (heap_cap * 2 + 2) * sizeof *h);
            if (!h) goto oom;
            w.heap = h;
            heap_cap = heap_cap * 2 + 2;
        }
        push_pair(t, &w, w.prev[c.left]);
        push_pair(t, &w, c.left);
    }
    for (int32_t i = 0; i >= 0 && (size_t)i < n; i = w.next[i]) out[(*out_n)++] = w.sym[i];
    free(w.sym), free(w.prev), free(w.next), free(w.heap);
    return NULL;
oom:
    free(w.sym), free(w.prev), free(w.next), free(w.heap);
    return fg_errorf(FG_ERR_OUT_OF_MEMORY, "BPE of a %zu-byte word", n);
}

/* Words up to this length go through the cache (longer ones are rare and would bloat it). */
enum { CACHE_WORD_MAX = 64 };

/* transformers 4.x seeds its BPE cache with the two special tokens, so a pre-token spelling one
 * (its regex lets "<|endoftext|>" through, e.g. from a lower-cased "<|ENDOFTEXT|>") is that
 * token; 5.x has no such cache and never sees these as one pre-token. */
static fg_error *encode_word(fg_clip_tokenizer *t, const char *word, size_t n, int32_t *out, size_t *out_n) {
    bool special = (n == 15 && memcmp(word, "<|startoftext|>", 15) == 0) ||
                   (n == 13 && memcmp(word, "<|endoftext|>", 13) == 0);
    if (special && t->compat == FG_TOKENIZER_TRANSFORMERS4) {
        out[(*out_n)++] = fg_clip_token_id(t, word, n);
        return NULL;
    }
    if (n > CACHE_WORD_MAX) return bpe_word(t, (const unsigned char *)word, n, out, out_n);
    uint64_t h = hash_bytes(word, n);
    pthread_mutex_lock(&t->cache_lock);
    const str_slot *s = str_map_find(&t->cache, word, n, h);
    if (s) {
        memcpy(out + *out_n, t->cache_ids + s->value, (size_t)s->count * sizeof *out);
        *out_n += (size_t)s->count;
        pthread_mutex_unlock(&t->cache_lock);
        return NULL;
    }
    pthread_mutex_unlock(&t->cache_lock);
    size_t start = *out_n;
    FG_TRY(bpe_word(t, (const unsigned char *)word, n, out, out_n));
    size_t count = *out_n - start;
    pthread_mutex_lock(&t->cache_lock);
    if (t->cache.used >= CLIP_CACHE_MAX) {
        str_map_clear(&t->cache);
        t->cache_ids_len = 0;
    }
    if (t->cache_ids_len + count > t->cache_ids_cap) {
        size_t cap = (t->cache_ids_len + count) * 2 + 1024;
        int32_t *ids = realloc(t->cache_ids, cap * sizeof *ids);
        if (ids) t->cache_ids = ids, t->cache_ids_cap = cap;
    }
    /* Another thread may have cached the word meanwhile; a failed insert only costs speed. */
    if (t->cache_ids_len + count <= t->cache_ids_cap && !str_map_find(&t->cache, word, n, h)) {
        str_slot *ns = str_map_insert(&t->cache, word, n, h);
        if (ns) {
            ns->value = (int32_t)t->cache_ids_len;
            ns->count = (int32_t)count;
            memcpy(t->cache_ids + t->cache_ids_len, out + start, count * sizeof *out);
            t->cache_ids_len += count;
        }
    }
    pthread_mutex_unlock(&t->cache_lock);
    return NULL;
}

/* ---- encoding --------------------------------------------------------------------------- */

void fg_clip_tokenizer_set_compat(fg_clip_tokenizer *tok, fg_tokenizer_compat mode) {
    if (tok) tok->compat = mode;
}

fg_tokenizer_compat fg_clip_tokenizer_compat(const fg_clip_tokenizer *tok) {
    return tok ? tok->compat : fg_tokenizer_compat_default();
}

typedef struct id_sink {
    fg_clip_tokenizer *tok;
    int32_t *ids;
    size_t n, cap;
} id_sink;

/* Every id comes from at least one UTF-8 byte of a pre-token (or is a special token). */
static fg_error *sink_word(void *ctx, const char *word, size_t len, int32_t special_id) {
    id_sink *s = ctx;
    size_t need = s->n + (special_id >= 0 ? 1 : len);
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < need) cap *= 2;
        int32_t *ids = realloc(s->ids, cap * sizeof *ids);
        if (!ids) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%zu token ids", cap);
        s->ids = ids, s->cap = cap;
    }
    if (special_id >= 0) {
        s->ids[s->n++] = special_id;
        return NULL;
    }
    return encode_word(s->tok, word, len, s->ids, &s->n);
}

fg_error *fg_clip_tokenize(fg_clip_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *count) {
    FG_CHECK_ARG(tok && (text || !len) && ids && count, "fg_clip_tokenize: NULL argument");
    *ids = NULL;
    *count = 0;
    id_sink sink = {.tok = tok};
    fg_error *err = fg_clip_pretokenize(tok->compat, text, len, sink_word, &sink);
    if (err || !sink.n) {
        free(sink.ids);
        return err;
    }
    *ids = sink.ids;
    *count = sink.n;
    return NULL;
}
