/* The named weights of one model as the model code reads them: a view over one checkpoint
 * file, or over the shards listed by a diffusers index (`*.safetensors.index.json`), with an
 * optional key prefix (ComfyUI all-in-one checkpoints keep the DiT under
 * "model.diffusion_model.", the VAE under "vae.", ...). Tensors are zero-copy views into the
 * mapped files; tensors computed at load (a diffusers q/k/v fused into one qkv, say) can be
 * added and are owned by the view. Every error names the file and the full tensor name. */
#ifndef FG_MODELS_WEIGHTS_H
#define FG_MODELS_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor.h"

typedef struct fg_weights fg_weights;

/* Opens a .safetensors file or a diffusers shard index JSON ({"weight_map": {name: shard}};
 * shards are opened from the index's folder and may not name paths outside it). */
fg_error *fg_weights_open(const char *path, fg_weights **out) FG_MUST_CHECK;
/* Opens path and returns the view at the prefix of the one model holding "<prefix><anchor>"
 * (a stand-alone file or an all-in-one checkpoint); see fg_weights_find_prefix. */
fg_error *fg_weights_open_at_anchor(const char *path, const char *anchor, const char *what,
                                    fg_weights **out) FG_MUST_CHECK;
/* A second view on the same open files, seeing only names under `prefix` (stripped). */
fg_error *fg_weights_view(const fg_weights *base, const char *prefix, fg_weights **out) FG_MUST_CHECK;
/* An empty view with no files, labelled `label` in messages ("random FLUX.1-dev"): tensors
 * built in memory (on any device) are added with fg_weights_add_owned and the model loaders
 * read them as if from a checkpoint. */
fg_error *fg_weights_new(const char *label, fg_weights **out) FG_MUST_CHECK;
/* What an upload moved, for reports ("loaded 23.8 GB at 6.1 GB/s"). */
typedef struct fg_upload_stats {
    size_t bytes_read;   /* bytes of the source tensors (file dtype) */
    size_t bytes_device; /* size of the one device allocation */
    double seconds;      /* wall time, including the final synchronisation */
} fg_upload_stats;
/* A view with the same names as src whose float tensors live on dev as float_dtype (BF16 for
 * the GPU), all in one device allocation owned by the new view; non-float tensors are copied
 * in their own dtype. FP8 tensors with a scale (fg_weights_scale) are multiplied by it and the
 * scale tensors dropped, so loaders reading the new view see scale 1. The source is read once,
 * streamed through pinned staging buffers; src may be closed afterwards. stats may be NULL. */
fg_error *fg_weights_upload(const fg_weights *src, fg_device dev, fg_dtype float_dtype, fg_weights **out,
                            fg_upload_stats *stats) FG_MUST_CHECK;
/* The device holding w's tensors (CPU for file views). */
fg_device fg_weights_device(const fg_weights *w);
/* Closes the view; the files close with the last view. */
void fg_weights_close(fg_weights *w);

/* "flux1-dev.safetensors" (or the index path), for messages. */
const char *fg_weights_path(const fg_weights *w);
const char *fg_weights_prefix(const fg_weights *w);

/* Names visible through the view (prefix stripped), file tensors first, then added ones. */
size_t fg_weights_count(const fg_weights *w);
const char *fg_weights_name(const fg_weights *w, size_t i);

bool fg_weights_has(const fg_weights *w, const char *name);
/* 1 + the largest N of any "<stem>N." name (0 when there is none), so a gap in the numbering
 * surfaces later as a missing tensor rather than a silently shorter model. An index >= max is
 * an error naming the tensor. */
fg_error *fg_weights_count_indexed(const fg_weights *w, const char *stem, int64_t max, int64_t *count) FG_MUST_CHECK;
/* The key prefix of the one model in w that has a tensor "<prefix><anchor>" (e.g. anchor
 * "encoder.final_layer_norm.weight" finds "text_encoders.t5xxl.transformer."). `what` names the
 * model in errors: none found is FG_ERR_NOT_FOUND, several are FG_ERR_FORMAT (ambiguous). */
fg_error *fg_weights_find_prefix(const fg_weights *w, const char *anchor, const char *what, char *prefix,
                                 size_t cap) FG_MUST_CHECK;
/* A view of the tensor; FG_ERR_NOT_FOUND names the file and the full (prefixed) name. */
fg_error *fg_weights_get(const fg_weights *w, const char *name, fg_tensor *out) FG_MUST_CHECK;
/* fg_weights_get plus: a float dtype and exactly the expected shape (the model's config
 * inferred from other tensors); a mismatch names the tensor and both shapes. */
fg_error *fg_weights_get_shaped(const fg_weights *w, const char *name, int ndim, const int64_t *shape,
                                fg_tensor *out) FG_MUST_CHECK;
/* Dequantisation scale of an fp8 weight "<layer>.weight": the scalar "<layer>.weight_scale"
 * or "<layer>.scale_weight" when present (docs/models.md 1.16), else 1. */
fg_error *fg_weights_scale(const fg_weights *w, const char *weight_name, float *scale) FG_MUST_CHECK;
/* Adds a host tensor under `name` (visible through this view only, no prefix): an owned
 * tensor (freed with the view), or a borrowed view such as an alias of a file tensor under a
 * converted name. It moves to w even on failure (*t is cleared). Duplicates fail. */
fg_error *fg_weights_add_owned(fg_weights *w, const char *name, fg_tensor *t) FG_MUST_CHECK;
/* A view seeing exactly what `base` sees (same files and prefix; base's added tensors are
 * borrowed, so base must outlive the clone). A LoRA-patched model is a clone with overrides. */
fg_error *fg_weights_clone(const fg_weights *base, fg_weights **out) FG_MUST_CHECK;
/* Shadows the existing tensor `name` (a file tensor or an added one) with *t in this view
 * only; *t moves to w as in fg_weights_add_owned. The name keeps its single entry in the
 * listing. An unknown name is FG_ERR_NOT_FOUND. */
fg_error *fg_weights_override(fg_weights *w, const char *name, fg_tensor *t) FG_MUST_CHECK;

#endif
