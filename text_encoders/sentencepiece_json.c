/* Reads an HF `tokenizers` tokenizer.json whose model is Unigram (T5's): the [piece, score]
 * vocabulary, unk_id, the added (special) tokens and the base64 precompiled charsmap of the
 * Precompiled normaliser. The Strip(right) and Replace(" {2,}" -> "▁") normalisers and the
 * Metaspace pre-tokenizer that follow are SentencePiece's remove_extra_whitespaces and
 * add_dummy_prefix in HF's terms, so they become those two flags. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "text_encoders/sentencepiece_model.h"

static int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static fg_error *base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len) {
    while (len > 0 && s[len - 1] == '=') len--;
    if (len % 4 == 1) return fg_errorf(FG_ERR_FORMAT, "base64 text has an impossible length");
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (!buf) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "base64 buffer");
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = base64_value((unsigned char)s[i]);
        if (v < 0) {
            free(buf);
            return fg_errorf(FG_ERR_FORMAT, "invalid base64 character at %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
        }
    }
    *out = buf;
    *out_len = n;
    return NULL;
}

static bool type_is(const json_t *obj, const char *type) {
    const char *t = json_string_value(json_object_get(obj, "type"));
    return t && strcmp(t, type) == 0;
}

/* The object of the given type: obj itself, or a member of its "normalizers"/"pretokenizers". */
static const json_t *find_component(const json_t *obj, const char *list_key, const char *type) {
    if (!json_is_object(obj)) return NULL;
    if (type_is(obj, type)) return obj;
    const json_t *list = json_object_get(obj, list_key);
    if (!type_is(obj, "Sequence") || !json_is_array(list)) return NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *c = json_array_get(list, i);
        if (json_is_object(c) && type_is(c, type)) return c;
    }
    return NULL;
}

static fg_error *read_charsmap(const json_t *root, fg_sp_model *m) {
    const json_t *pre = find_component(json_object_get(root, "normalizer"), "normalizers", "Precompiled");
    if (!pre) return NULL; /* no charsmap: identity normalisation */
    const json_t *b64 = json_object_get(pre, "precompiled_charsmap");
    if (json_is_null(b64)) return NULL;
    if (!json_is_string(b64)) return fg_errorf(FG_ERR_FORMAT, "precompiled_charsmap is not a string");
    return base64_decode(json_string_value(b64), json_string_length(b64), &m->charsmap, &m->charsmap_size);
}

static void read_metaspace(const json_t *root, fg_sp_model *m) {
    const json_t *ms = find_component(json_object_get(root, "pre_tokenizer"), "pretokenizers", "Metaspace");
    if (!ms) return;
    const json_t *add = json_object_get(ms, "add_prefix_space");
    const char *scheme = json_string_value(json_object_get(ms, "prepend_scheme"));
    if (json_is_false(add) || (scheme && strcmp(scheme, "never") == 0)) m->add_dummy_prefix = false;
}

static fg_error *read_vocab(const json_t *vocab, fg_sp_model *m) {
    if (!json_is_array(vocab)) return fg_errorf(FG_ERR_FORMAT, "model.vocab is not an array");
    for (size_t i = 0; i < json_array_size(vocab); i++) {
        const json_t *e = json_array_get(vocab, i);
        const json_t *piece = json_array_get(e, 0), *score = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(piece) || !json_is_number(score))
            return fg_errorf(FG_ERR_FORMAT, "model.vocab[%zu] is not a [piece, score] pair", i);
        FG_TRY(fg_sp_model_add(m, json_string_value(piece), json_string_length(piece),
                               (float)json_number_value(score), FG_SP_NORMAL, false));
    }
    if (m->n == 0) return fg_errorf(FG_ERR_FORMAT, "model.vocab is empty");
    return NULL;
}

/* Added tokens with "special": true become control pieces matched verbatim in raw text. */
static fg_error *read_added_tokens(const json_t *added, fg_sp_model *m) {
    if (!added || json_is_null(added)) return NULL;
    if (!json_is_array(added)) return fg_errorf(FG_ERR_FORMAT, "added_tokens is not an array");
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *t = json_array_get(added, i);
        const json_t *id = json_object_get(t, "id"), *content = json_object_get(t, "content");
        if (!json_is_integer(id) || !json_is_string(content))
            return fg_errorf(FG_ERR_FORMAT, "added_tokens[%zu] lacks an integer id or a content string", i);
        json_int_t k = json_integer_value(id);
        if (k < 0 || (size_t)k >= m->n || strcmp(fg_sp_model_piece(m, (size_t)k), json_string_value(content)) != 0)
            return fg_errorf(FG_ERR_FORMAT, "added_tokens[%zu] (id %lld) does not match the vocabulary", i,
                             (long long)k);
        if (m->type[k] == FG_SP_NORMAL) m->type[k] = FG_SP_CONTROL;
        m->special[k] = true;
    }
    return NULL;
}

static fg_error *read_root(const json_t *root, fg_sp_model *m) {
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return fg_errorf(FG_ERR_FORMAT, "no \"model\" object");
    if (!type_is(model, "Unigram")) return fg_errorf(FG_ERR_UNSUPPORTED, "model type is not Unigram");
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return fg_errorf(FG_ERR_UNSUPPORTED, "byte_fallback unigram models are not supported");
    FG_TRY(read_vocab(json_object_get(model, "vocab"), m));
    const json_t *unk = json_object_get(model, "unk_id");
    if (!json_is_integer(unk) || json_integer_value(unk) < 0 || (size_t)json_integer_value(unk) >= m->n)
        return fg_errorf(FG_ERR_FORMAT, "model.unk_id is missing or out of range");
    m->type[json_integer_value(unk)] = FG_SP_UNKNOWN;
    m->special[json_integer_value(unk)] = true;
    FG_TRY(read_added_tokens(json_object_get(root, "added_tokens"), m));
    FG_TRY(read_charsmap(root, m));
    read_metaspace(root, m);
    return NULL;
}

fg_error *fg_sp_read_json(const char *data, size_t size, fg_sp_model *m) {
    json_error_t jerr;
    json_t *root = json_loadb(data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fg_errorf(FG_ERR_FORMAT, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    fg_error *err = json_is_object(root) ? read_root(root, m) : fg_errorf(FG_ERR_FORMAT, "not a JSON object");
    json_decref(root);
    return err;
}
