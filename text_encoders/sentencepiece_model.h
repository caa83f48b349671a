/* Internal to the T5 tokenizer: a SentencePiece unigram model as read from either file format
 * (spiece.model protobuf or HF tokenizer.json), before the tokenizer builds its tries. Both
 * readers treat the input as hostile and fill the same structure, so the tokenizer cannot tell
 * which format it came from. */
#ifndef FG_TEXT_ENCODERS_SENTENCEPIECE_MODEL_H
#define FG_TEXT_ENCODERS_SENTENCEPIECE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* SentencePiece's piece types (the protobuf enum values). */
typedef enum fg_sp_type {
    FG_SP_NORMAL = 1,
    FG_SP_UNKNOWN = 2,
    FG_SP_CONTROL = 3,
    FG_SP_USER_DEFINED = 4,
    FG_SP_UNUSED = 5,
    FG_SP_BYTE = 6,
} fg_sp_type;

/* Limits that keep hostile files from exhausting memory or overflowing 32-bit ids. */
#define FG_SP_MAX_PIECES (1u << 20)
#define FG_SP_MAX_PIECE_BYTES 1024u
#define FG_SP_MAX_TEXT_BYTES (1u << 24)

typedef struct fg_sp_model {
    size_t n;             /* pieces */
    uint32_t *text_at;    /* piece i is the NUL-terminated string at text + text_at[i] */
    float *score;
    uint8_t *type;        /* fg_sp_type */
    bool *special;        /* matched verbatim in raw text before normalisation (HF added tokens) */
    char *text;
    size_t text_len, text_cap, cap;
    unsigned char *charsmap; /* precompiled normaliser blob; NULL = identity */
    size_t charsmap_size;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} fg_sp_model;

void fg_sp_model_init(fg_sp_model *m);
void fg_sp_model_free(fg_sp_model *m);
/* Appends a piece (len bytes, no NUL inside, 1..FG_SP_MAX_PIECE_BYTES). */
fg_error *fg_sp_model_add(fg_sp_model *m, const char *piece, size_t len, float score, fg_sp_type type,
                          bool special) FG_MUST_CHECK;
const char *fg_sp_model_piece(const fg_sp_model *m, size_t i);

/* spiece.model (ModelProto). The 100 T5 sentinels are NOT added here. */
fg_error *fg_sp_read_proto(const unsigned char *data, size_t size, fg_sp_model *m) FG_MUST_CHECK;
/* tokenizer.json with a Unigram model (size bytes; no NUL terminator needed). */
fg_error *fg_sp_read_json(const char *data, size_t size, fg_sp_model *m) FG_MUST_CHECK;

#endif
