/* What fg_weights_upload needs from the view's internals; not a public interface. */
#ifndef FG_MODELS_WEIGHTS_INTERNAL_H
#define FG_MODELS_WEIGHTS_INTERNAL_H

#include "models/weights.h"

/* Hands w the one storage block its added tensors view (an upload's device allocation): freed
 * with w, after the views. *block moves to w (cleared). A view adopts at most one block. */
fg_error *fg_weights_adopt_block(fg_weights *w, fg_tensor *block) FG_MUST_CHECK;

/* Another reference to w (a model keeping its weights alive): each fg_weights_close drops one,
 * the last frees the view. */
fg_weights *fg_weights_ref(const fg_weights *w);

/* A view (labelled like w) of only the tensors added to w, borrowed: what a diffusers DiT
 * needs after conversion, without the file's diffusers-named originals. w must outlive it. */
fg_error *fg_weights_added_only(const fg_weights *w, fg_weights **out) FG_MUST_CHECK;

/* fg_weights_upload with an info-level report: "<what>: 23.8 GB to cuda as BF16 in 3.9 s
 * (6.1 GB/s)". */
fg_error *fg_weights_upload_logged(const fg_weights *src, fg_device dev, fg_dtype float_dtype, const char *what,
                                   fg_weights **out) FG_MUST_CHECK;

/* dst (allocated: any device, any float dtype, src's element count) = src converted: the
 * models' act-dtype entry and exit casts. Across devices the cast runs on the accelerator's
 * side (the host never converts), through a staging tensor there. */
fg_error *fg_tensor_convert(fg_tensor *dst, const fg_tensor *src) FG_MUST_CHECK;

#endif
