/* Shared by model_objects.c (the model cache, placement, the FLUX / text-encoder / VAE objects
 * and checkpoints) and model_objects_lora.c (LoRA-patched models built from those objects);
 * not a public interface. A LoRA'd MODEL or CLIP is an ordinary object over a cache slot whose
 * model was patched from its base's file, so the LoRA side needs the slot's key, the FLUX holder
 * layout and the same placement and object plumbing the plain loaders use. */
#ifndef FG_NODES_MODEL_OBJECTS_INTERNAL_H
#define FG_NODES_MODEL_OBJECTS_INTERNAL_H

#include "models/weights.h"
#include "nodes/model_objects.h"

/* The tensors that locate a text encoder in any file, whatever its prefix: a stand-alone
 * encoder, a checkpoint's text_encoders.*.transformer., a LoRA's base. */
#define FG_CLIP_L_ANCHOR "text_model.embeddings.token_embedding.weight"
#define FG_T5_ANCHOR "encoder.final_layer_norm.weight"

/* The slot's cache key (kind|real path|options): a LoRA'd model's key extends its base's, so
 * one base with one LoRA chain is patched once. */
const char *fg_loaded_key(const fg_loaded *slot);

/* What a FLUX slot holds. A DiT whose Linear weights were narrowed to fp8 at load owns those
 * copies here; the model's linears point at them instead of the file's tensors. A LoRA'd DiT's
 * holder starts with one of these, so fg_model_obj_wrap reads either kind. */
typedef struct fg_flux_holder {
    fg_flux_model *model; /* on the placement's device */
    fg_flux_model *host;  /* the file model LoRAs patch, when model is an uploaded copy */
    fg_tensor *narrowed;
    size_t n_narrowed;
} fg_flux_holder;

/* The host-side model of a holder: what LoRAs patch (the placed model may be an upload). */
const fg_flux_model *fg_flux_holder_host(const fg_flux_holder *h);

/* The DiT where p says: host itself on the CPU with F32 activations, else a model over an
 * uploaded copy of its weights (a diffusers DiT uploads only its converted names). host stays
 * the caller's. */
fg_error *fg_flux_place(fg_flux_model *host, fg_model_placement p, const char *what,
                        fg_flux_model **placed) FG_MUST_CHECK;

/* *view replaced by its BF16 copy where p says (the host view closed); nothing to do for the
 * CPU with F32 activations. On failure *view is closed and NULL. */
fg_error *fg_model_place_view(fg_weights **view, fg_model_placement p, const char *what) FG_MUST_CHECK;

/* A MODEL object over a FLUX slot (its reference moves to the object, also on failure), with
 * the model's default sampling; the caller fills in placement and LoRAs. */
fg_error *fg_model_obj_wrap(fg_loaded *slot, fg_model_obj **out) FG_MUST_CHECK;

/* The CLIP object's destructor: also frees a half-built object (NULL slots and paths are fine). */
void fg_clip_obj_destroy(fg_object *obj);

/* The LoRA lists objects carry: a copy of src[0..n) plus `extra` (when not NULL) at the end,
 * and its release. */
fg_error *fg_lora_uses_copy(const fg_lora_use *src, size_t n, const fg_lora_use *extra, fg_lora_use **out,
                            size_t *out_n) FG_MUST_CHECK;
void fg_lora_uses_free(fg_lora_use *l, size_t n);

#endif
