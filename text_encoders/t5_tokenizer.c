/* T5 v1.1 SentencePiece unigram tokenizer as the Hugging Face tokenizers library runs it for
 * ComfyUI (docs/models.md 5.2; rules per compatibility mode: docs/tokenizers.md).
 *
 * The text is first split at special tokens (<pad>, </s>, <unk>, <extra_id_N>; leftmost,
 * longest, case-sensitive), which become their ids. Every other stretch gets the precompiled
 * charsmap (per grapheme cluster, sentencepiece_normalizer.c), then the mode's whitespace
 * handling and "▁" prefixes, is split into words at each "▁" (Metaspace) and each word is
 * segmented by Viterbi over a trie of the pieces.
 *
 * The search follows SentencePiece / tokenizers' Unigram: float sums of piece scores,
 * candidates offered in the same order with the same strict "better" test (so ties resolve
 * alike), an unknown character scoring 10 below the lowest piece, and runs of <unk> merged into
 * one within a word. tokenizers sums scores in double precision, which could only matter for
 * two segmentations within float rounding of each other. */
#include "text_encoders/t5_tokenizer.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_encoders/sentencepiece_model.h"
#include "text_encoders/sentencepiece_normalizer.h"
#include "text_encoders/sentencepiece_trie.h"
#include "text_encoders/tokenizer_compat.h"
#include "text_encoders/vocab_data.h"

/* SentencePiece's penalty below the lowest piece score for an unknown character. */
#define UNK_PENALTY 10.0f
/* HF's T5Tokenizer appends this many sentinels to a spiece.model vocabulary. */
#define T5_EXTRA_IDS 100
#define MAX_FILE_BYTES (256u << 20)

struct fg_t5_tokenizer {
    fg_sp_model model;
    fg_sp_normalizer nz;
    fg_sp_trie pieces;   /* normal, user-defined and unused pieces */
    fg_sp_trie specials; /* matched verbatim before normalisation */
    int32_t unk_id;
    float unk_score, max_score;
    fg_tokenizer_compat compat;
};

typedef struct id_list {
    int32_t *ids;
    size_t n, cap;
} id_list;

static fg_error *push_id(id_list *l, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *p = realloc(l->ids, cap * sizeof *p);
        if (!p) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%zu token ids", cap);
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return NULL;
}

/* ---- building ------------------------------------------------------------------------- */

static fg_error *add_t5_sentinels(fg_sp_model *m) {
    for (int k = T5_EXTRA_IDS - 1; k >= 0; k--) {
        char name[32];
        int len = snprintf(name, sizeof name, "<extra_id_%d>", k);
        FG_TRY(fg_sp_model_add(m, name, (size_t)len, 0.0f, FG_SP_CONTROL, true));
    }
    return NULL;
}

static fg_error *build_tries(fg_t5_tokenizer *tok) {
    const fg_sp_model *m = &tok->model;
    FG_TRY(fg_sp_trie_init(&tok->pieces, m->text_len));
    FG_TRY(fg_sp_trie_init(&tok->specials, 0));
    for (size_t i = 0; i < m->n; i++) {
        const unsigned char *p = (const unsigned char *)fg_sp_model_piece(m, i);
        size_t len = strlen((const char *)p);
        if (m->special[i]) FG_TRY(fg_sp_trie_insert(&tok->specials, p, len, (int32_t)i));
        if (m->type[i] == FG_SP_NORMAL || m->type[i] == FG_SP_USER_DEFINED || m->type[i] == FG_SP_UNUSED)
            FG_TRY(fg_sp_trie_insert(&tok->pieces, p, len, (int32_t)i));
    }
    return NULL;
}

static fg_error *finish_build(fg_t5_tokenizer *tok) {
    fg_sp_model *m = &tok->model;
    tok->unk_id = -1;
    float min_score = FLT_MAX, max_score = -FLT_MAX;
    for (size_t i = 0; i < m->n; i++) {
        if (m->type[i] == FG_SP_UNKNOWN && tok->unk_id < 0) tok->unk_id = (int32_t)i;
        if (m->type[i] != FG_SP_NORMAL) continue;
        if (m->score[i] < min_score) min_score = m->score[i];
        if (m->score[i] > max_score) max_score = m->score[i];
    }
    if (tok->unk_id < 0) return fg_errorf(FG_ERR_FORMAT, "the vocabulary has no unknown piece");
    if (min_score > max_score) return fg_errorf(FG_ERR_FORMAT, "the vocabulary has no normal pieces");
    tok->unk_score = min_score - UNK_PENALTY;
    tok->max_score = max_score;
    /* The model's add_dummy_prefix / remove_extra_whitespaces flags are not used: the whitespace
     * rules are those of ComfyUI's tokenizer in the chosen mode (t5_tokenizer.c, encode). */
    FG_TRY(fg_sp_normalizer_init(&tok->nz, m->charsmap, m->charsmap_size));
    return build_tries(tok);
}

static bool looks_like_json(const unsigned char *data, size_t size) {
    size_t i = 0;
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
    return i < size && (data[i] == '{' || data[i] == '[');
}

static fg_error *load_blob(const unsigned char *data, size_t size, fg_t5_tokenizer **out) {
    *out = NULL;
    fg_t5_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tokenizer");
    fg_sp_model_init(&tok->model);
    tok->compat = fg_tokenizer_compat_default();
    fg_error *err;
    if (looks_like_json(data, size)) {
        err = fg_error_wrapf(fg_sp_read_json((const char *)data, size, &tok->model), "tokenizer.json");
    } else {
        err = fg_error_wrapf(fg_sp_read_proto(data, size, &tok->model), "SentencePiece model");
        if (!err) err = add_t5_sentinels(&tok->model);
    }
    if (!err) err = finish_build(tok);
    if (err) {
        fg_t5_tokenizer_free(tok);
        return err;
    }
    *out = tok;
    return NULL;
}

/* The embedded spiece.model: loading it (protobuf, charsmap, tries) takes about 5 ms here,
 * against about 40 ms for tokenizer.json's 2.4 MB of JSON; both give the same tokenizer
 * (tests/test_t5_tokenizer.c prints the timings and compares the two). */
fg_error *fg_t5_tokenizer_load_default(fg_t5_tokenizer **out) {
    FG_CHECK_ARG(out, "fg_t5_tokenizer_load_default: out is NULL");
    fg_blob b = fg_vocab_t5_spiece_model();
    return fg_error_wrapf(load_blob(b.data, b.size, out), "built-in T5 vocabulary");
}

static fg_error *read_whole_file(const char *path, unsigned char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return fg_errorf(FG_ERR_IO, "cannot open");
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    fg_error *err = NULL;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                err = fg_errorf(FG_ERR_FORMAT, "larger than %u bytes", MAX_FILE_BYTES);
                break;
            }
            cap = cap ? cap * 2 : 1 << 20;
            unsigned char *p = realloc(buf, cap + 1);
            if (!p) {
                err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "reading %zu bytes", cap);
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) err = fg_errorf(FG_ERR_IO, "read error");
            break;
        }
    }
    fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    if (!buf) buf = malloc(1);
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "reading");
    buf[n] = 0;
    *data = buf;
    *size = n;
    return NULL;
}

fg_error *fg_t5_tokenizer_load_file(const char *path, fg_t5_tokenizer **out) {
    FG_CHECK_ARG(path && out, "fg_t5_tokenizer_load_file: NULL argument");
    *out = NULL;
    unsigned char *data = NULL;
    size_t size = 0;
    FG_TRY_CTX(read_whole_file(path, &data, &size), "T5 vocabulary %s", path);
    fg_error *err = load_blob(data, size, out);
    free(data);
    return fg_error_wrapf(err, "T5 vocabulary %s", path);
}

void fg_t5_tokenizer_free(fg_t5_tokenizer *tok) {
    if (!tok) return;
    fg_sp_model_free(&tok->model);
    fg_sp_normalizer_free(&tok->nz);
    fg_sp_trie_free(&tok->pieces);
    fg_sp_trie_free(&tok->specials);
    free(tok);
}

size_t fg_t5_vocab_size(const fg_t5_tokenizer *tok) { return tok ? tok->model.n : 0; }

const char *fg_t5_piece(const fg_t5_tokenizer *tok, int32_t id) {
    if (!tok || id < 0) return NULL;
    return fg_sp_model_piece(&tok->model, (size_t)id);
}

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct best_path {
    float score;
    int32_t start; /* -1: not reached yet */
    int32_t id;
} best_path;

/* SentencePiece steps through the text by the length its lead byte announces. */
static size_t lead_byte_len(unsigned char c) {
    static const unsigned char len_by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len_by_high_nibble[c >> 4];
}

static void relax(best_path *end, float score, int32_t start, int32_t id) {
    if (end->start < 0 || score > end->score) {
        end->score = score;
        end->start = start;
        end->id = id;
    }
}

/* Offers every piece that starts at pos, then <unk> for one character if no single-character
 * piece matched. Candidates are relaxed in SentencePiece's order, so ties resolve alike. */
static void expand_position(const fg_t5_tokenizer *tok, const unsigned char *s, size_t n, size_t pos,
                            best_path *best) {
    size_t char_len = lead_byte_len(s[pos]);
    if (char_len > n - pos) char_len = n - pos;
    float base = best[pos].score;
    bool has_single = false;
    uint32_t node = 0;
    for (size_t end = pos; end < n; end++) {
        node = fg_sp_trie_child(&tok->pieces, node, s[end]);
        if (node == 0) break;
        int32_t id = tok->pieces.value[node];
        if (id < 0 || tok->model.type[id] == FG_SP_UNUSED) continue;
        size_t len = end + 1 - pos;
        /* User-defined pieces outscore any split, computed in SentencePiece's precision. */
        float score = tok->model.type[id] == FG_SP_USER_DEFINED
                          ? (float)((double)((float)len * tok->max_score) - 0.1)
                          : tok->model.score[id];
        relax(&best[end + 1], base + score, (int32_t)pos, id);
        if (len == char_len) has_single = true;
    }
    if (!has_single) relax(&best[pos + char_len], base + tok->unk_score, (int32_t)pos, tok->unk_id);
}

/* Viterbi over s[0..n) (normalised); appends the ids, consecutive <unk>s merged into one. */
static fg_error *segment(const fg_t5_tokenizer *tok, const unsigned char *s, size_t n, id_list *out) {
    if (n == 0) return NULL;
    if (n >= INT32_MAX) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "text of %zu bytes is too long", n);
    best_path *best = malloc((n + 1) * sizeof *best);
    if (!best) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "lattice for %zu bytes", n);
    for (size_t i = 0; i <= n; i++) best[i].start = -1;
    best[0].score = 0.0f;
    best[0].start = 0;
    best[0].id = -1;
    for (size_t pos = 0; pos < n;) {
        if (best[pos].start >= 0) expand_position(tok, s, n, pos, best);
        size_t step = lead_byte_len(s[pos]);
        pos += step < n - pos ? step : n - pos;
    }
    /* Walk back collecting ids in reverse, then flip them into place. */
    size_t first = out->n;
    fg_error *err = NULL;
    bool prev_unk = false;
    for (size_t end = n; end > 0 && !err; end = (size_t)best[end].start) {
        int32_t id = best[end].id;
        if (id == tok->unk_id && prev_unk) continue;
        prev_unk = id == tok->unk_id;
        err = push_id(out, id);
    }
    free(best);
    for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
        int32_t t = out->ids[i];
        out->ids[i] = out->ids[j - 1];
        out->ids[j - 1] = t;
    }
    return err;
}

/* Length of the longest special token at text[0..len), 0 if none; its id in *id. */
static size_t match_special(const fg_t5_tokenizer *tok, const unsigned char *s, size_t len, int32_t *id) {
    size_t best = 0;
    uint32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        node = fg_sp_trie_child(&tok->specials, node, s[i]);
        if (node == 0) break;
        if (tok->specials.value[node] >= 0) {
            best = i + 1;
            *id = tok->specials.value[node];
        }
    }
    return best;
}

static const char META[] = "\xE2\x96\x81"; /* U+2581, Metaspace's replacement */
enum { META_LEN = 3 };

/* Metaspace's split: a new word starts at every "▁"; each word is segmented on its own (so
 * runs of <unk> are merged within a word only). */
static fg_error *segment_words(const fg_t5_tokenizer *tok, const char *s, size_t n, id_list *out) {
    size_t start = 0;
    for (size_t i = 1; i + META_LEN <= n; i++) {
        if (memcmp(s + i, META, META_LEN) != 0) continue;
        FG_TRY(segment(tok, (const unsigned char *)s + start, i - start, out));
        start = i;
    }
    return segment(tok, (const unsigned char *)s + start, n - start, out);
}

/* The code point at s[0..n) and its length (an invalid byte: one U+FFFD; the charsmap output
 * is valid UTF-8 unless the charsmap itself is hostile). */
static size_t char_at(const char *s, size_t n, int32_t *cp) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c);
    if (k <= 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return (size_t)k;
}

/* transformers 4.x (tokenizer.json as written): Strip(right) removes trailing White_Space,
 * Replace turns runs of two or more spaces into one "▁", Metaspace turns the other spaces into
 * "▁" and, for the piece that starts the text only ("first"), prepends "▁" if the result does
 * not start with one. */
static fg_error *pieces4(const fg_t5_tokenizer *tok, const char *m, size_t n, bool first, fg_sp_buf *buf,
                         id_list *out) {
    size_t end = 0;
    for (size_t i = 0; i < n;) { /* end of the last non-White_Space character */
        int32_t cp;
        i += char_at(m + i, n - i, &cp);
        if (!fg_unicode_white_space(cp)) end = i;
    }
    buf->len = 0;
    if (first) FG_TRY(fg_sp_buf_append(buf, META, META_LEN)); /* dropped below if the text has its own */
    size_t body = buf->len;
    for (size_t i = 0; i < end; i++) {
        if (m[i] != ' ') {
            FG_TRY(fg_sp_buf_append(buf, m + i, 1));
            continue;
        }
        while (i + 1 < end && m[i + 1] == ' ') i++;
        FG_TRY(fg_sp_buf_append(buf, META, META_LEN));
    }
    if (buf->len == body) return NULL; /* nothing left after Strip */
    const char *text = buf->data;
    size_t text_len = buf->len;
    if (body && text_len - body >= META_LEN && memcmp(text + body, META, META_LEN) == 0)
        text += body, text_len -= body;
    return segment_words(tok, text, text_len, out);
}

/* transformers 5.x (T5Tokenizer keeps only the charsmap of tokenizer.json's normaliser):
 * WhitespaceSplit at White_Space, then Metaspace prepends "▁" to every word lacking one. */
static fg_error *pieces5(const fg_t5_tokenizer *tok, const char *m, size_t n, fg_sp_buf *buf, id_list *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = char_at(m + i, n - i, &cp);
        if (fg_unicode_white_space(cp)) { i += k; continue; }
        size_t w = i;
        while (i < n && (k = char_at(m + i, n - i, &cp), !fg_unicode_white_space(cp))) i += k;
        buf->len = 0;
        if (!(i - w >= META_LEN && memcmp(m + w, META, META_LEN) == 0)) FG_TRY(fg_sp_buf_append(buf, META, META_LEN));
        FG_TRY(fg_sp_buf_append(buf, m + w, i - w));
        FG_TRY(segment_words(tok, buf->data, buf->len, out));
    }
    return NULL;
}

/* A stretch of text between special tokens; first: it starts the text. */
static fg_error *encode_plain(const fg_t5_tokenizer *tok, const char *text, size_t len, bool first,
                              fg_sp_buf bufs[2], id_list *out) {
    if (!len) return NULL;
    bufs[0].len = 0;
    FG_TRY(fg_sp_charsmap_apply(&tok->nz, text, len, &bufs[0]));
    if (tok->compat == FG_TOKENIZER_TRANSFORMERS4) return pieces4(tok, bufs[0].data, bufs[0].len, first, &bufs[1], out);
    return pieces5(tok, bufs[0].data, bufs[0].len, &bufs[1], out);
}

static fg_error *encode(const fg_t5_tokenizer *tok, const char *text, size_t len, id_list *out) {
    const unsigned char *s = (const unsigned char *)text;
    fg_sp_buf bufs[2] = {{0}, {0}};
    fg_error *err = NULL;
    size_t plain_start = 0;
    for (size_t pos = 0; pos < len && !err;) {
        int32_t id;
        size_t m = match_special(tok, s + pos, len - pos, &id);
        if (m == 0) {
            pos++;
            continue;
        }
        err = encode_plain(tok, text + plain_start, pos - plain_start, plain_start == 0, bufs, out);
        if (!err) err = push_id(out, id);
        pos += m;
        plain_start = pos;
    }
    if (!err) err = encode_plain(tok, text + plain_start, len - plain_start, plain_start == 0, bufs, out);
    free(bufs[0].data);
    free(bufs[1].data);
    return err;
}

void fg_t5_tokenizer_set_compat(fg_t5_tokenizer *tok, fg_tokenizer_compat mode) {
    if (tok) tok->compat = mode;
}

fg_tokenizer_compat fg_t5_tokenizer_compat(const fg_t5_tokenizer *tok) {
    return tok ? tok->compat : fg_tokenizer_compat_default();
}

fg_error *fg_t5_tokenize(const fg_t5_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                         size_t *count) {
    FG_CHECK_ARG(tok && ids && count, "fg_t5_tokenize: NULL argument");
    FG_CHECK_ARG(text || len == 0, "fg_t5_tokenize: NULL text with length %zu", len);
    *ids = NULL;
    *count = 0;
    id_list out = {0};
    fg_error *err = encode(tok, text ? text : "", len, &out);
    if (err) {
        free(out.ids);
        return fg_error_wrapf(err, "T5 tokenizer");
    }
    *ids = out.ids;
    *count = out.n;
    return NULL;
}
