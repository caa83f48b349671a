/* ComfyUI FluxTokenizer (see flux_tokenizer.h). */
#include "text_encoders/flux_tokenizer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/log.h"
#include "text_encoders/prompt_weights.h"

/* SDTokenizer.max_word_length: groups at least this long may straddle chunks. */
enum { MAX_WORD_LENGTH = 8 };
/* T5XXLTokenizer's max_length: no chunking in practice. */
#define T5_MAX_LENGTH 99999999

static const char EMBEDDING_PREFIX[] = "embedding:";
enum { EMBEDDING_PREFIX_LEN = sizeof EMBEDDING_PREFIX - 1 };

/* ---- growable (id, weight) list and groups ---------------------------------------------- */

typedef struct tok_list {
    int32_t *ids;
    float *w;
    size_t n, cap;
} tok_list;

static fg_error *tok_push(tok_list *l, int32_t id, float w) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 128;
        int32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (ids) l->ids = ids;
        float *ws = ids ? realloc(l->w, cap * sizeof *ws) : NULL;
        if (!ws) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "token list of %zu", cap);
        l->w = ws;
        l->cap = cap;
    }
    l->ids[l->n] = id;
    l->w[l->n++] = w;
    return NULL;
}

typedef struct group { size_t start, count; } group;

typedef struct group_list {
    tok_list toks;
    group *g;
    size_t n, cap;
} group_list;

static void group_list_free(group_list *gl) {
    free(gl->toks.ids);
    free(gl->toks.w);
    free(gl->g);
}

static fg_error *add_group(group_list *gl, const int32_t *ids, size_t count, float w) {
    if (gl->n == gl->cap) {
        size_t cap = gl->cap ? gl->cap * 2 : 32;
        group *g = realloc(gl->g, cap * sizeof *g);
        if (!g) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "token groups");
        gl->g = g;
        gl->cap = cap;
    }
    gl->g[gl->n++] = (group){gl->toks.n, count};
    for (size_t i = 0; i < count; i++) FG_TRY(tok_push(&gl->toks, ids[i], w));
    return NULL;
}

/* ---- one stream: how a word becomes ids, and its chunk layout ---------------------------- */

typedef struct stream {
    fg_error *(*encode)(const struct stream *s, const char *word, size_t len, int32_t **ids, size_t *count);
    fg_clip_tokenizer *clip;
    const fg_t5_tokenizer *t5;
    int64_t max_length, min_length;
    bool has_start, pad_to_max;
    int32_t start, end, pad;
} stream;

/* Upstream ComfyUI hands every piece to the tokenizer: there is no "piece + </w> is a
 * vocabulary key" or EOS-string shortcut (the tokenizers cut special tokens out themselves). */
static fg_error *encode_clip_word(const stream *s, const char *word, size_t len, int32_t **ids, size_t *count) {
    return fg_clip_tokenize(s->clip, word, len, ids, count);
}

static fg_error *encode_t5_word(const stream *s, const char *word, size_t len, int32_t **ids, size_t *count) {
    return fg_t5_tokenize(s->t5, word, len, ids, count);
}

static fg_error *add_word(const stream *s, group_list *gl, const char *word, size_t len, double weight) {
    int32_t *ids = NULL;
    size_t count = 0;
    FG_TRY(s->encode(s, word, len, &ids, &count));
    fg_error *err = add_group(gl, ids, count, (float)weight);
    free(ids);
    return err;
}

/* ---- embedding: pieces (SDTokenizer._try_get_embedding with no embedding found) ---------- */

/* Python str.isspace(). */
static bool py_isspace(int32_t c) {
    if (c < 128) return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
    utf8proc_category_t k = utf8proc_category(c);
    return c == 0x85 || k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int32_t next_cp(const char *s, size_t len, size_t i, size_t *n) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
    *n = k > 0 ? (size_t)k : 1;
    return c;
}

/* Appends s[b..e) to buf. */
static void append(char *buf, size_t *k, const char *s, size_t b, size_t e) {
    memcpy(buf + *k, s + b, e - b);
    *k += e - b;
}

/* The text ComfyUI goes on to tokenize after failing to load "embedding:NAME rest": the name is
 * the first whitespace-separated word (cut at the first '<' or '['), the rest is re-joined with
 * single spaces; commas stripped off the end of the name come back in front of the rest.
 * *out (malloc'd) may be empty: nothing left to tokenize. */
static fg_error *embedding_leftover(const char *w, size_t len, char **out, size_t *out_len) {
    size_t b = EMBEDDING_PREFIX_LEN, e = len, n;
    while (b < e && w[b] == '\n') b++; /* .strip('\n') */
    while (e > b && w[e - 1] == '\n') e--;
    char *rest = malloc(2 * len + 2), *res = malloc(2 * len + 2);
    if (!rest || !res) {
        free(rest), free(res);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "prompt piece");
    }
    size_t rest_len = 0, res_len = 0, name_b = e, name_e = e;
    bool have_name = false;
    for (size_t i = b; i < e;) { /* split(): name = first word, rest = ' '.join(others) */
        while (i < e && py_isspace(next_cp(w, e, i, &n))) i += n;
        if (i >= e) break;
        size_t ws = i;
        while (i < e && !py_isspace(next_cp(w, e, i, &n))) i += n;
        if (!have_name) {
            name_b = ws, name_e = i, have_name = true;
        } else {
            if (rest_len) rest[rest_len++] = ' ';
            append(rest, &rest_len, w, ws, i);
        }
    }
    if (!have_name) { /* split()[0] raises IndexError in ComfyUI: the prompt is rejected */
        free(rest), free(res);
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "prompt problem: 'embedding:' is not followed by an embedding name (ComfyUI rejects this "
                         "prompt too); write a name after it or remove it");
    }
    for (size_t i = name_b; i < name_e; i++) {
        if (w[i] != '<' && w[i] != '[') continue;
        append(res, &res_len, w, i, name_e); /* name[m:] + (" " + rest if rest else "") */
        if (rest_len) res[res_len++] = ' ';
        append(res, &res_len, rest, 0, rest_len);
        char *t = rest;
        rest = res, rest_len = res_len;
        res = t, res_len = 0;
        name_e = i;
        break;
    }
    size_t sb = name_b, se = name_e; /* name.strip(',') */
    while (sb < se && w[sb] == ',') sb++;
    while (se > sb && w[se - 1] == ',') se--;
    FG_LOG_W("embedding:%.*s does not exist, ignoring", (int)(name_e - name_b), w + name_b);
    if (se - sb < name_e - name_b) { /* "{} {}".format(name[len(stripped):], rest) */
        append(res, &res_len, w, name_b + (se - sb), name_e);
        res[res_len++] = ' ';
    }
    append(res, &res_len, rest, 0, rest_len);
    free(rest);
    *out = res;
    *out_len = res_len;
    return NULL;
}

static bool starts_embedding(const char *s, size_t len, size_t i) {
    return len - i >= EMBEDDING_PREFIX_LEN && memcmp(s + i, EMBEDDING_PREFIX, EMBEDDING_PREFIX_LEN) == 0;
}

static fg_error *add_piece(const stream *s, group_list *gl, const char *p, size_t len, double weight) {
    if (!len) return NULL;
    if (!starts_embedding(p, len, 0)) return add_word(s, gl, p, len, weight);
    char *buf = NULL;
    size_t n = 0;
    FG_TRY(embedding_leftover(p, len, &buf, &n));
    fg_error *err = n ? add_word(s, gl, buf, n, weight) : NULL;
    free(buf);
    return err;
}

/* re.split(r'(?<=\s)embedding:', segment): pieces start at each "embedding:" after whitespace. */
static fg_error *add_segment(const stream *s, group_list *gl, const fg_prompt_segment *seg) {
    const char *t = seg->text;
    size_t start = 0, n;
    bool prev_space = false;
    for (size_t i = 0; i < seg->len; i += n) {
        if (prev_space && starts_embedding(t, seg->len, i) && i > start) {
            FG_TRY(add_piece(s, gl, t + start, i - start, seg->weight));
            start = i;
        }
        prev_space = py_isspace(next_cp(t, seg->len, i, &n));
    }
    return add_piece(s, gl, t + start, seg->len - start, seg->weight);
}

/* ---- chunking (SDTokenizer.tokenize_with_weights, the "reshape" part) ----------------------- */

typedef struct rows { tok_list all; size_t *row_start; size_t n, cap; } rows;

static fg_error *new_row(const stream *s, rows *r) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        size_t *rs = realloc(r->row_start, cap * sizeof *rs);
        if (!rs) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "token chunks");
        r->row_start = rs;
        r->cap = cap;
    }
    r->row_start[r->n++] = r->all.n;
    return s->has_start ? tok_push(&r->all, s->start, 1.0f) : NULL;
}

static size_t row_len(const rows *r) { return r->all.n - r->row_start[r->n - 1]; }

static fg_error *pad(rows *r, int32_t id, int64_t count) {
    for (int64_t i = 0; i < count; i++) FG_TRY(tok_push(&r->all, id, 1.0f));
    return NULL;
}

static fg_error *pack_group(const stream *s, rows *r, const group_list *gl, const group *g) {
    const bool is_large = g->count >= MAX_WORD_LENGTH;
    size_t at = g->start, left = g->count;
    while (left > 0) {
        int64_t len = (int64_t)row_len(r);
        if ((int64_t)left + len > s->max_length - 1) {
            int64_t remaining = s->max_length - len - 1;
            if (is_large) {
                for (int64_t i = 0; i < remaining; i++) FG_TRY(tok_push(&r->all, gl->toks.ids[at + i], gl->toks.w[at + i]));
                at += (size_t)remaining;
                left -= (size_t)remaining;
                FG_TRY(tok_push(&r->all, s->end, 1.0f));
            } else {
                FG_TRY(tok_push(&r->all, s->end, 1.0f));
                if (s->pad_to_max) FG_TRY(pad(r, s->pad, remaining));
            }
            FG_TRY(new_row(s, r));
        } else {
            for (size_t i = 0; i < left; i++) FG_TRY(tok_push(&r->all, gl->toks.ids[at + i], gl->toks.w[at + i]));
            left = 0;
        }
    }
    return NULL;
}

static fg_error *layout(const stream *s, const group_list *gl, fg_token_chunks *out) {
    rows r = {0};
    fg_error *err = new_row(s, &r);
    for (size_t i = 0; !err && i < gl->n; i++) err = pack_group(s, &r, gl, &gl->g[i]);
    if (!err) err = tok_push(&r.all, s->end, 1.0f);
    if (!err && s->pad_to_max && (int64_t)row_len(&r) < s->max_length) err = pad(&r, s->pad, s->max_length - (int64_t)row_len(&r));
    if (!err && (int64_t)row_len(&r) < s->min_length) err = pad(&r, s->pad, s->min_length - (int64_t)row_len(&r));
    size_t cols = err ? 0 : r.n > 1 ? r.row_start[1] : r.all.n;
    for (size_t i = 0; !err && i < r.n; i++) {
        size_t end = i + 1 < r.n ? r.row_start[i + 1] : r.all.n;
        if (end - r.row_start[i] != cols)
            err = fg_errorf(FG_ERR_UNSUPPORTED, "token chunk %zu has %zu tokens, chunk 0 has %zu", i, end - r.row_start[i], cols);
    }
    if (!err) {
        *out = (fg_token_chunks){r.all.ids, r.all.w, (int64_t)r.n, (int64_t)cols};
        r.all.ids = NULL, r.all.w = NULL;
    }
    free(r.all.ids);
    free(r.all.w);
    free(r.row_start);
    return err;
}

static fg_error *tokenize_stream(const stream *s, const char *text, size_t len, fg_token_chunks *out) {
    *out = (fg_token_chunks){0};
    if (len > FG_MAX_PROMPT_BYTES)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "the prompt is %zu bytes, more than the %zu a prompt may have",
                         len, FG_MAX_PROMPT_BYTES);
    fg_prompt_segments segs;
    FG_TRY(fg_prompt_parse_weights(text, len, &segs));
    group_list gl = {0};
    fg_error *err = NULL;
    for (size_t i = 0; !err && i < segs.count; i++) err = add_segment(s, &gl, &segs.items[i]);
    if (!err) err = layout(s, &gl, out);
    group_list_free(&gl);
    fg_prompt_segments_free(&segs);
    return err;
}

fg_error *fg_flux_tokenize_clip(fg_clip_tokenizer *clip, const char *text, size_t len, fg_token_chunks *out) {
    FG_CHECK_ARG(clip && (text || !len) && out, "fg_flux_tokenize_clip: NULL argument");
    stream s = {.encode = encode_clip_word, .clip = clip, .max_length = FG_CLIP_CHUNK_LENGTH, .min_length = 0,
                .has_start = true, .pad_to_max = true, .start = FG_CLIP_BOS_ID, .end = FG_CLIP_EOS_ID,
                .pad = FG_CLIP_PAD_ID};
    return fg_error_wrapf(tokenize_stream(&s, text, len, out), "CLIP-L tokens");
}

fg_error *fg_flux_tokenize_t5(const fg_t5_tokenizer *t5, const char *text, size_t len, int64_t min_length,
                              fg_token_chunks *out) {
    FG_CHECK_ARG(t5 && (text || !len) && out, "fg_flux_tokenize_t5: NULL argument");
    FG_CHECK_ARG(min_length >= 0 && min_length <= T5_MAX_LENGTH, "T5 min_length %lld out of range", (long long)min_length);
    stream s = {.encode = encode_t5_word, .t5 = t5, .max_length = T5_MAX_LENGTH, .min_length = min_length,
                .has_start = false, .pad_to_max = false, .end = FG_T5_EOS_ID, .pad = FG_T5_PAD_ID};
    return fg_error_wrapf(tokenize_stream(&s, text, len, out), "T5 tokens");
}

fg_error *fg_flux_tokenize(fg_clip_tokenizer *clip, const fg_t5_tokenizer *t5, const char *text, size_t len,
                           fg_flux_tokens *out) {
    FG_CHECK_ARG(out, "fg_flux_tokenize: NULL output");
    *out = (fg_flux_tokens){0};
    FG_TRY(fg_flux_tokenize_clip(clip, text, len, &out->clip));
    fg_error *err = fg_flux_tokenize_t5(t5, text, len, FG_FLUX_T5_MIN_LENGTH, &out->t5);
    if (err) fg_flux_tokens_free(out);
    return err;
}

void fg_token_chunks_free(fg_token_chunks *c) {
    if (!c) return;
    free(c->ids);
    free(c->weights);
    *c = (fg_token_chunks){0};
}

void fg_flux_tokens_free(fg_flux_tokens *t) {
    if (!t) return;
    fg_token_chunks_free(&t->clip);
    fg_token_chunks_free(&t->t5);
}
