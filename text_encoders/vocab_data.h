/* The tokenizer vocabularies, compiled into the binary (text_encoders/vocab/, see its README
 * for origin and licence), so fluxgraph needs no data files beside it. */
#ifndef FG_TEXT_ENCODERS_VOCAB_DATA_H
#define FG_TEXT_ENCODERS_VOCAB_DATA_H

#include "core/embed.h"

fg_blob fg_vocab_clip_vocab_json(void);   /* clip_l/vocab.json: token -> id */
fg_blob fg_vocab_clip_merges_txt(void);   /* clip_l/merges.txt: "#version" line + ranked merges */
fg_blob fg_vocab_t5_tokenizer_json(void); /* t5xxl/tokenizer.json: unigram pieces + nmt_nfkc charsmap */
fg_blob fg_vocab_t5_spiece_model(void);   /* t5xxl/spiece.model: the SentencePiece protobuf */

#endif
