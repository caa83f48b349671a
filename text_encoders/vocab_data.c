/* Embeds the vocabulary files (core/embed.h). */
#include "text_encoders/vocab_data.h"

FG_EMBED(fg_vocab_clip_vocab_json, "text_encoders/vocab/clip_l/vocab.json")
FG_EMBED(fg_vocab_clip_merges_txt, "text_encoders/vocab/clip_l/merges.txt")
FG_EMBED(fg_vocab_t5_tokenizer_json, "text_encoders/vocab/t5xxl/tokenizer.json")
FG_EMBED(fg_vocab_t5_spiece_model, "text_encoders/vocab/t5xxl/spiece.model")
