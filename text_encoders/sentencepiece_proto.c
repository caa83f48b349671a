/* Reads SentencePiece's ModelProto (spiece.model) from the protobuf wire format by hand: only
 * the fields the encoder needs. ModelProto: 1 = repeated SentencePiece {1 piece, 2 score (float),
 * 3 type}, 3 = NormalizerSpec {1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
 * 4 remove_extra_whitespaces, 5 escape_whitespaces}; everything else is skipped. Every length
 * and varint is bounds-checked: the file is hostile. */
#include <stdlib.h>
#include <string.h>

#include "text_encoders/sentencepiece_model.h"

typedef struct pb_reader {
    const unsigned char *p, *end;
} pb_reader;

typedef struct pb_field {
    uint32_t number;
    uint32_t wire;
    uint64_t varint;                 /* wire 0 */
    uint32_t fixed32;                /* wire 5 */
    const unsigned char *bytes;      /* wire 2 */
    size_t len;
} pb_field;

static fg_error *read_varint(pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return fg_errorf(FG_ERR_FORMAT, "truncated varint");
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return NULL;
        }
    }
    return fg_errorf(FG_ERR_FORMAT, "varint longer than 10 bytes");
}

/* Reads the next field; returns it with its payload located (and bounds-checked). */
static fg_error *next_field(pb_reader *r, pb_field *f) {
    uint64_t key;
    FG_TRY(read_varint(r, &key));
    memset(f, 0, sizeof *f);
    f->wire = (uint32_t)(key & 7);
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) return fg_errorf(FG_ERR_FORMAT, "invalid field number");
    f->number = (uint32_t)(key >> 3);
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case 0: return read_varint(r, &f->varint);
    case 1:
        if (left < 8) return fg_errorf(FG_ERR_FORMAT, "truncated fixed64 field %u", f->number);
        r->p += 8;
        return NULL;
    case 5:
        if (left < 4) return fg_errorf(FG_ERR_FORMAT, "truncated fixed32 field %u", f->number);
        f->fixed32 = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
        r->p += 4;
        return NULL;
    case 2: {
        uint64_t len;
        FG_TRY(read_varint(r, &len));
        left = (size_t)(r->end - r->p);
        if (len > left)
            return fg_errorf(FG_ERR_FORMAT, "field %u claims %llu bytes, only %zu left", f->number,
                             (unsigned long long)len, left);
        f->bytes = r->p;
        f->len = (size_t)len;
        r->p += len;
        return NULL;
    }
    default: return fg_errorf(FG_ERR_FORMAT, "unsupported wire type %u (field %u)", f->wire, f->number);
    }
}

static fg_error *expect_wire(const pb_field *f, uint32_t wire, const char *what) {
    if (f->wire != wire) return fg_errorf(FG_ERR_FORMAT, "%s has wire type %u, expected %u", what, f->wire, wire);
    return NULL;
}

static fg_error *read_piece(const unsigned char *data, size_t size, fg_sp_model *m) {
    pb_reader r = {data, data + size};
    const unsigned char *text = NULL;
    size_t len = 0;
    float score = 0.0f;
    uint64_t type = FG_SP_NORMAL;
    while (r.p < r.end) {
        pb_field f;
        FG_TRY(next_field(&r, &f));
        if (f.number == 1) {
            FG_TRY(expect_wire(&f, 2, "piece text"));
            text = f.bytes;
            len = f.len;
        } else if (f.number == 2) {
            FG_TRY(expect_wire(&f, 5, "piece score"));
            memcpy(&score, &f.fixed32, sizeof score);
        } else if (f.number == 3) {
            FG_TRY(expect_wire(&f, 0, "piece type"));
            type = f.varint;
        }
    }
    if (!text) return fg_errorf(FG_ERR_FORMAT, "piece %zu has no text", m->n);
    if (type < FG_SP_NORMAL || type > FG_SP_BYTE)
        return fg_errorf(FG_ERR_FORMAT, "piece %zu has unknown type %llu", m->n, (unsigned long long)type);
    bool special = type == FG_SP_CONTROL || type == FG_SP_UNKNOWN;
    return fg_sp_model_add(m, (const char *)text, len, score, (fg_sp_type)type, special);
}

static fg_error *read_normalizer(const unsigned char *data, size_t size, fg_sp_model *m) {
    pb_reader r = {data, data + size};
    while (r.p < r.end) {
        pb_field f;
        FG_TRY(next_field(&r, &f));
        if (f.number == 2) {
            FG_TRY(expect_wire(&f, 2, "precompiled_charsmap"));
            free(m->charsmap);
            m->charsmap = NULL;
            m->charsmap_size = 0;
            if (f.len == 0) continue;
            m->charsmap = malloc(f.len);
            if (!m->charsmap) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "charsmap of %zu bytes", f.len);
            memcpy(m->charsmap, f.bytes, f.len);
            m->charsmap_size = f.len;
        } else if (f.number >= 3 && f.number <= 5) {
            FG_TRY(expect_wire(&f, 0, "normalizer flag"));
            bool on = f.varint != 0;
            if (f.number == 3) m->add_dummy_prefix = on;
            else if (f.number == 4) m->remove_extra_whitespaces = on;
            else m->escape_whitespaces = on;
        }
    }
    return NULL;
}

fg_error *fg_sp_read_proto(const unsigned char *data, size_t size, fg_sp_model *m) {
    pb_reader r = {data, data + size};
    while (r.p < r.end) {
        pb_field f;
        FG_TRY(next_field(&r, &f));
        if (f.number == 1) {
            FG_TRY(expect_wire(&f, 2, "piece"));
            FG_TRY(read_piece(f.bytes, f.len, m));
        } else if (f.number == 3) {
            FG_TRY(expect_wire(&f, 2, "normalizer_spec"));
            FG_TRY_CTX(read_normalizer(f.bytes, f.len, m), "normalizer_spec");
        }
    }
    if (m->n == 0) return fg_errorf(FG_ERR_FORMAT, "no pieces (not a SentencePiece model?)");
    return NULL;
}
