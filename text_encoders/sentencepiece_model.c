/* The in-memory SentencePiece model both file readers fill (see sentencepiece_model.h). */
#include "text_encoders/sentencepiece_model.h"

#include <stdlib.h>
#include <string.h>

void fg_sp_model_init(fg_sp_model *m) {
    memset(m, 0, sizeof *m);
    m->add_dummy_prefix = true;
    m->remove_extra_whitespaces = true;
    m->escape_whitespaces = true;
}

void fg_sp_model_free(fg_sp_model *m) {
    if (!m) return;
    free(m->text_at);
    free(m->score);
    free(m->type);
    free(m->special);
    free(m->text);
    free(m->charsmap);
    fg_sp_model_init(m);
}

static fg_error *grow_arrays(fg_sp_model *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint32_t *at = realloc(m->text_at, cap * sizeof *at);
    if (at) m->text_at = at;
    float *sc = realloc(m->score, cap * sizeof *sc);
    if (sc) m->score = sc;
    uint8_t *ty = realloc(m->type, cap * sizeof *ty);
    if (ty) m->type = ty;
    bool *sp = realloc(m->special, cap * sizeof *sp);
    if (sp) m->special = sp;
    if (!at || !sc || !ty || !sp) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "vocabulary of %zu pieces", cap);
    m->cap = cap;
    return NULL;
}

static fg_error *append_text(fg_sp_model *m, const char *piece, size_t len) {
    if (m->text_len + len + 1 > FG_SP_MAX_TEXT_BYTES)
        return fg_errorf(FG_ERR_FORMAT, "pieces hold more than %u bytes in all", FG_SP_MAX_TEXT_BYTES);
    if (m->text_len + len + 1 > m->text_cap) {
        size_t cap = m->text_cap ? m->text_cap : 1 << 16;
        while (cap < m->text_len + len + 1) cap *= 2;
        char *t = realloc(m->text, cap);
        if (!t) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "piece text of %zu bytes", cap);
        m->text = t;
        m->text_cap = cap;
    }
    memcpy(m->text + m->text_len, piece, len);
    m->text[m->text_len + len] = '\0';
    m->text_len += len + 1;
    return NULL;
}

fg_error *fg_sp_model_add(fg_sp_model *m, const char *piece, size_t len, float score, fg_sp_type type,
                          bool special) {
    if (m->n >= FG_SP_MAX_PIECES) return fg_errorf(FG_ERR_FORMAT, "more than %u pieces", FG_SP_MAX_PIECES);
    if (len == 0) return fg_errorf(FG_ERR_FORMAT, "piece %zu is empty", m->n);
    if (len > FG_SP_MAX_PIECE_BYTES)
        return fg_errorf(FG_ERR_FORMAT, "piece %zu is %zu bytes long (limit %u)", m->n, len, FG_SP_MAX_PIECE_BYTES);
    if (memchr(piece, '\0', len)) return fg_errorf(FG_ERR_FORMAT, "piece %zu contains a NUL byte", m->n);
    if (score != score) return fg_errorf(FG_ERR_FORMAT, "piece %zu has a NaN score", m->n);
    if (type < FG_SP_NORMAL || type > FG_SP_BYTE)
        return fg_errorf(FG_ERR_FORMAT, "piece %zu has unknown type %d", m->n, (int)type);
    if (m->n == m->cap) FG_TRY(grow_arrays(m));
    size_t at = m->text_len;
    FG_TRY(append_text(m, piece, len));
    m->text_at[m->n] = (uint32_t)at;
    m->score[m->n] = score;
    m->type[m->n] = (uint8_t)type;
    m->special[m->n] = special;
    m->n++;
    return NULL;
}

const char *fg_sp_model_piece(const fg_sp_model *m, size_t i) {
    return i < m->n ? m->text + m->text_at[i] : NULL;
}
