/* What fg_weights_upload needs from the view's internals; not a public interface. */
#ifndef FG_MODELS_WEIGHTS_INTERNAL_H
#define FG_MODELS_WEIGHTS_INTERNAL_H

#include "models/weights.h"

/* Hands w the one storage block its added tensors view (an upload's device allocation): freed
 * with w, after the views. *block moves to w (cleared). A view adopts at most one block. */
fg_error *fg_weights_adopt_block(fg_weights *w, fg_tensor *block) FG_MUST_CHECK;

#endif
