/* CLIP-L text before BPE, per compatibility mode (see clip_pretokenize.h; the rules and where
 * each comes from: docs/tokenizers.md).
 *
 * transformers 4.x (the Python CLIPTokenizer without ftfy): <|startoftext|> / <|endoftext|> are
 * cut out of the raw text (case-sensitive); each remaining piece goes through BasicTokenizer
 * (drop U+0000, U+FFFD and category C* except \t \n \r; whitespace and Zs become spaces; spaces
 * around CJK ideographs; NFC; str.split(), str.lower() per word, no accent stripping, re-joined
 * with single spaces) and the case-insensitive CLIP regex; a pre-token that spells a special
 * token is that token (the BPE cache is seeded with both).
 *
 * transformers 5.x (the tokenizers-backed CLIPTokenizer): <|endoftext|> is cut out of the raw
 * text (case-sensitive, not normalised); each piece gets NFC, every run of White_Space becomes
 * one space, each character is lower-cased on its own (no final-sigma rule); <|startoftext|> is
 * then cut out of the normalised text; the CLIP regex (case-sensitive) splits the rest and the
 * ByteLevel pre-tokenizer's GPT-2 regex splits each of those pieces again (which only changes
 * the pieces the regex took for a special token: "<|", "endoftext", "|>"). Nothing is dropped. */
#include "text_encoders/clip_pretokenize.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_encoders/clip_tokenizer.h"

static const char SOT[] = "<|startoftext|>", EOT[] = "<|endoftext|>";
enum { SOT_LEN = sizeof SOT - 1, EOT_LEN = sizeof EOT - 1 };

/* ---- code point buffers ----------------------------------------------------------------- */

typedef struct cp_buf { int32_t *v; size_t n, cap; } cp_buf;

static bool cp_push(cp_buf *b, int32_t cp) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return false;
        b->v = v, b->cap = cap;
    }
    b->v[b->n++] = cp;
    return true;
}

size_t fg_utf8_first_invalid(const char *text, size_t len) {
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || cp < 0) return i;
        i += (size_t)n;
    }
    return len;
}

/* Decodes valid UTF-8 (checked by the caller) into code points. */
static fg_error *decode(const char *text, size_t len, cp_buf *out) {
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c = 0;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (n <= 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte offset %zu", i);
        if (!cp_push(out, c)) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "decoding %zu bytes", len);
        i += (size_t)n;
    }
    return NULL;
}

static fg_error *encode_utf8(const int32_t *cps, size_t n, char **out, size_t *out_len) {
    char *s = malloc(n * 4 + 1);
    if (!s) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "normalised text of %zu characters", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)s + k);
    s[k] = 0;
    *out = s;
    *out_len = k;
    return NULL;
}

/* NFC of cps (in place: cps is replaced by its composition). */
static fg_error *nfc(cp_buf *cps) {
    if (!cps->n) return NULL;
    char *utf8 = NULL;
    size_t utf8_len = 0;
    FG_TRY(encode_utf8(cps->v, cps->n, &utf8, &utf8_len));
    utf8proc_uint8_t *composed = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)utf8, (utf8proc_ssize_t)utf8_len, &composed,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(utf8);
    if (n < 0) return fg_errorf(FG_ERR_FORMAT, "NFC: %s", utf8proc_errmsg(n));
    cps->n = 0;
    fg_error *err = decode((const char *)composed, (size_t)n, cps);
    free(composed);
    return err;
}

/* ---- character classes ------------------------------------------------------------------ */

static bool is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_category_c(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN;
}

static bool is_letter(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static bool is_number(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* ---- transformers 4.x: BasicTokenizer ----------------------------------------------------- */

/* BasicTokenizer._clean_text and _tokenize_chinese_chars. */
static fg_error *clean_text4(const cp_buf *in, cp_buf *out) {
    for (size_t i = 0; i < in->n; i++) {
        int32_t c = in->v[i];
        bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
        if (c == 0 || c == 0xFFFD || (!ws && is_category_c(c))) continue;
        bool ok = ws ? cp_push(out, ' ')
                     : is_cjk(c) ? cp_push(out, ' ') && cp_push(out, c) && cp_push(out, ' ') : cp_push(out, c);
        if (!ok) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "normalising %zu characters", in->n);
    }
    return NULL;
}

/* What str.split() separates on, among the characters clean_text4 leaves. */
static bool is_split_space(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return c == ' ' || k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static bool is_cased(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

static bool is_case_ignorable(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK || c == '\'' || c == '.' || c == ':' ||
           c == 0xB7 || c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0x2027;
}

/* Python's Final_Sigma: a capital sigma preceded by a cased letter (skipping case-ignorables)
 * and not followed by one lower-cases to final sigma. w[0..n) is one whitespace-split word. */
static bool final_sigma(const int32_t *w, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && is_case_ignorable(w[j - 1])) j--;
    if (j == 0 || !is_cased(w[j - 1])) return false;
    j = i + 1;
    while (j < n && is_case_ignorable(w[j])) j++;
    return j == n || !is_cased(w[j]);
}

/* One character's full lower case (SpecialCasing's only unconditional expansion: U+0130). */
static bool lower_char(int32_t c, cp_buf *out) {
    if (c == 0x130) return cp_push(out, 'i') && cp_push(out, 0x307);
    return cp_push(out, utf8proc_tolower(c));
}

static bool lower_word4(const int32_t *w, size_t n, cp_buf *out) {
    for (size_t i = 0; i < n; i++) {
        bool ok = w[i] == 0x3A3 ? cp_push(out, final_sigma(w, n, i) ? 0x3C2 : 0x3C3) : lower_char(w[i], out);
        if (!ok) return false;
    }
    return true;
}

/* After NFC: split on whitespace, lower-case each word, join with one space. */
static fg_error *split_lower_join4(const cp_buf *cps, cp_buf *out) {
    size_t i = 0, len = cps->n;
    bool first = true;
    while (i < len) {
        while (i < len && is_split_space(cps->v[i])) i++;
        size_t s = i;
        while (i < len && !is_split_space(cps->v[i])) i++;
        if (i == s) break;
        if ((!first && !cp_push(out, ' ')) || !lower_word4(cps->v + s, i - s, out))
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "lower-casing");
        first = false;
    }
    return NULL;
}

static fg_error *normalize4(const cp_buf *in, cp_buf *out) {
    cp_buf clean = {0};
    fg_error *err = clean_text4(in, &clean);
    if (!err) err = nfc(&clean);
    if (!err) err = split_lower_join4(&clean, out);
    free(clean.v);
    return err;
}

/* ---- transformers 5.x: NFC, Replace(\s+, " "), Lowercase ------------------------------------ */

static fg_error *normalize5(const cp_buf *in, cp_buf *out) {
    cp_buf composed = {0};
    fg_error *err = NULL;
    for (size_t i = 0; !err && i < in->n; i++)
        if (!cp_push(&composed, in->v[i])) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "NFC");
    if (!err) err = nfc(&composed);
    for (size_t i = 0; !err && i < composed.n;) {
        bool ok;
        if (fg_unicode_white_space(composed.v[i])) {
            while (i < composed.n && fg_unicode_white_space(composed.v[i])) i++;
            ok = cp_push(out, ' ');
        } else ok = lower_char(composed.v[i++], out);
        if (!ok) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "lower-casing");
    }
    free(composed.v);
    return err;
}

fg_error *fg_clip_normalize(fg_tokenizer_compat mode, const char *text, size_t len, char **out, size_t *out_len) {
    FG_CHECK_ARG((text || !len) && out && out_len, "fg_clip_normalize: NULL argument");
    size_t bad = fg_utf8_first_invalid(text, len);
    if (bad < len)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                         (unsigned char)text[bad]);
    cp_buf raw = {0}, norm = {0};
    fg_error *err = decode(text, len, &raw);
    if (!err) err = mode == FG_TOKENIZER_TRANSFORMERS4 ? normalize4(&raw, &norm) : normalize5(&raw, &norm);
    if (!err) err = encode_utf8(norm.v, norm.n, out, out_len);
    free(raw.v);
    free(norm.v);
    return err;
}

/* ---- pre-tokenizer regexes ---------------------------------------------------------------- */

static bool starts_with(const int32_t *v, size_t n, const char *lit) {
    size_t m = strlen(lit);
    if (m > n) return false;
    for (size_t i = 0; i < m; i++)
        if (v[i] != (unsigned char)lit[i]) return false;
    return true;
}

/* Length of the contraction 's 't 're 've 'm 'll 'd at v, 0 if none. In 4.x the pattern is
 * case-insensitive; on lower-cased text only the long s (U+017F, folds to s) adds a case. */
static size_t contraction_len(const int32_t *v, size_t n, bool long_s) {
    if (n < 2 || v[0] != '\'') return 0;
    if (v[1] == 's' || (long_s && v[1] == 0x17F) || v[1] == 't' || v[1] == 'm' || v[1] == 'd') return 2;
    if (starts_with(v, n, "'re") || starts_with(v, n, "'ve") || starts_with(v, n, "'ll")) return 3;
    return 0;
}

/* Length of the CLIP pre-token at v[0] (never whitespace):
 * <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+ */
static size_t clip_piece_len(const int32_t *v, size_t n, fg_tokenizer_compat mode) {
    if (starts_with(v, n, SOT)) return SOT_LEN;
    if (starts_with(v, n, EOT)) return EOT_LEN;
    size_t k = contraction_len(v, n, mode == FG_TOKENIZER_TRANSFORMERS4);
    if (k) return k;
    if (is_letter(v[0])) {
        while (k < n && is_letter(v[k])) k++;
        return k;
    }
    if (is_number(v[0])) return 1;
    while (k < n && v[k] != ' ' && !is_letter(v[k]) && !is_number(v[k])) k++;
    return k;
}

/* GPT-2's regex (ByteLevel pre-tokenizer) on a piece without whitespace:
 * 's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+ */
static size_t gpt2_piece_len(const int32_t *v, size_t n) {
    size_t k = contraction_len(v, n, false);
    if (k) return k;
    bool (*cls)(int32_t) = is_letter(v[0]) ? is_letter : is_number(v[0]) ? is_number : NULL;
    if (cls) {
        while (k < n && cls(v[k])) k++;
        return k;
    }
    while (k < n && !is_letter(v[k]) && !is_number(v[k])) k++;
    return k;
}

typedef struct emitter {
    fg_tokenizer_compat mode;
    fg_clip_emit_fn emit;
    void *ctx;
    char *word; /* scratch, 4 bytes per code point of the longest piece */
} emitter;

static fg_error *emit_cps(emitter *e, const int32_t *v, size_t n) {
    size_t len = 0;
    for (size_t j = 0; j < n; j++) len += (size_t)utf8proc_encode_char(v[j], (utf8proc_uint8_t *)e->word + len);
    return e->emit(e->ctx, e->word, len, -1);
}

/* The regex pre-tokens of normalised code points (no special tokens left to cut, except those
 * 4.x recognises through its regex). */
static fg_error *split_normalized(emitter *e, const int32_t *v, size_t n) {
    for (size_t i = 0; i < n;) {
        if (v[i] == ' ') { i++; continue; }
        size_t k = clip_piece_len(v + i, n - i, e->mode);
        if (e->mode == FG_TOKENIZER_TRANSFORMERS4) {
            FG_TRY(emit_cps(e, v + i, k));
        } else {
            for (size_t j = 0; j < k;) {
                size_t m = gpt2_piece_len(v + i + j, k - j);
                FG_TRY(emit_cps(e, v + i + j, m));
                j += m;
            }
        }
        i += k;
    }
    return NULL;
}

/* 5.x: <|startoftext|> is an added token matched in the normalised text. */
static fg_error *split_normalized_sot(emitter *e, const int32_t *v, size_t n) {
    if (e->mode == FG_TOKENIZER_TRANSFORMERS4) return split_normalized(e, v, n);
    size_t start = 0;
    for (size_t i = 0; i + SOT_LEN <= n;) {
        if (!starts_with(v + i, n - i, SOT)) { i++; continue; }
        FG_TRY(split_normalized(e, v + start, i - start));
        FG_TRY(e->emit(e->ctx, NULL, 0, FG_CLIP_BOS_ID));
        i += SOT_LEN;
        start = i;
    }
    return split_normalized(e, v + start, n - start);
}

static fg_error *plain_piece(emitter *e, const char *text, size_t len) {
    if (!len) return NULL;
    cp_buf raw = {0}, norm = {0};
    fg_error *err = decode(text, len, &raw);
    if (!err) err = e->mode == FG_TOKENIZER_TRANSFORMERS4 ? normalize4(&raw, &norm) : normalize5(&raw, &norm);
    free(e->word);
    e->word = NULL;
    if (!err && norm.n && !(e->word = malloc(norm.n * 4 + 1))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "pre-token");
    if (!err) err = split_normalized_sot(e, norm.v, norm.n);
    free(raw.v);
    free(norm.v);
    return err;
}

/* The raw-text special tokens of the mode at text[0..len): its id and length, or 0. */
static size_t raw_special(fg_tokenizer_compat mode, const char *s, size_t len, int32_t *id) {
    if (len >= EOT_LEN && memcmp(s, EOT, EOT_LEN) == 0) return *id = FG_CLIP_EOS_ID, EOT_LEN;
    if (mode == FG_TOKENIZER_TRANSFORMERS4 && len >= SOT_LEN && memcmp(s, SOT, SOT_LEN) == 0)
        return *id = FG_CLIP_BOS_ID, SOT_LEN;
    return 0;
}

fg_error *fg_clip_pretokenize(fg_tokenizer_compat mode, const char *text, size_t len, fg_clip_emit_fn emit,
                              void *ctx) {
    FG_CHECK_ARG((text || !len) && emit, "fg_clip_pretokenize: NULL argument");
    size_t bad = fg_utf8_first_invalid(text, len);
    if (bad < len)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                         (unsigned char)text[bad]);
    emitter e = {mode, emit, ctx, NULL};
    fg_error *err = NULL;
    size_t start = 0;
    for (size_t i = 0; !err && i < len;) {
        int32_t id;
        size_t m = raw_special(mode, text + i, len - i, &id);
        if (!m) { i++; continue; }
        err = plain_piece(&e, text + start, i - start);
        if (!err) err = emit(ctx, NULL, 0, id);
        i += m;
        start = i;
    }
    if (!err) err = plain_piece(&e, text + start, len - start);
    free(e.word);
    return err;
}
