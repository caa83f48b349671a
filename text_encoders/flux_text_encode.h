/* ComfyUI's CLIPTextEncode for FLUX (FluxClipModel.encode_token_weights): token ids and
 * per-token weights of the two streams in, the conditioning out (docs/models.md 5.4 and 6.1).
 *
 *   cond   = T5 output [1, L, d_model] with the prompt weights applied;
 *   pooled = CLIP-L pooled output (unprojected) of the FIRST chunk [1, hidden].
 *
 * Weights follow ComfyUI's ClipTokenWeightEncoder: when any weight of a stream differs from 1,
 * an "empty" sequence of the same length (T5: eos then pads, [1, 0, 0, ...]; CLIP: bos, eos,
 * eos...) is encoded too, and each token j with weight w != 1 becomes
 * (z[j] - z_empty[j]) * w + z_empty[j]; tokens of weight 1 stay bit-identical. Only sequence
 * outputs are weighted: the pooled vector is that of the unweighted first chunk, and FLUX
 * discards CLIP's sequence output, so CLIP weights (and chunks after the first) cannot change
 * either result and CLIP runs on chunk 0 alone. */
#ifndef FG_TEXT_ENCODERS_FLUX_TEXT_ENCODE_H
#define FG_TEXT_ENCODERS_FLUX_TEXT_ENCODE_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/t5_model.h"

enum { FG_T5_EMPTY_EOS = 1, FG_T5_EMPTY_PAD = 0 };

/* The tokenizer's output as plain host arrays (weights may be NULL: all 1). */
typedef struct fg_flux_token_arrays {
    const int32_t *clip_ids;     /* [clip_chunks, clip_len], clip_len is 77 with ComfyUI */
    const float *clip_weights;   /* [clip_chunks, clip_len] */
    int64_t clip_chunks, clip_len;
    const int32_t *t5_ids;       /* [1, t5_len] */
    const float *t5_weights;     /* [1, t5_len] */
    int64_t t5_len;
} fg_flux_token_arrays;

/* Allocates *cond [1, t5_len, d_model] and *pooled [1, hidden] (f32) on dev. */
fg_error *fg_flux_text_encode(const fg_clip_model *clip, const fg_t5_model *t5, fg_device dev,
                              const fg_flux_token_arrays *tokens, fg_tensor *cond, fg_tensor *pooled) FG_MUST_CHECK;

/* The T5 half alone: ids [len] with weights [len] (NULL: all 1) -> *out [1, len, d_model]. */
fg_error *fg_t5_encode_weighted(const fg_t5_model *t5, fg_device dev, const int32_t *ids, const float *weights,
                                int64_t len, fg_tensor *out) FG_MUST_CHECK;

/* In place on z [..., L, D] (the last two dims; leading dims must be 1): for each j with
 * weights[j] != 1, z[j] = (z[j] - z_empty[j]) * weights[j] + z_empty[j], where z_empty is
 * [..., Le, D] with Le >= L. Runs of equal weight are updated with one op each. */
fg_error *fg_apply_token_weights(fg_tensor *z, const fg_tensor *z_empty, const float *weights) FG_MUST_CHECK;

#endif
