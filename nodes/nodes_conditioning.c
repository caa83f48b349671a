/* Conditioning nodes (comfyui.md 3.3): text encoding, FLUX guidance, combining. The spec
 * table comes first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

#define OUT_COND .outputs = {FG_TYPE_CONDITIONING}, .output_names = {"CONDITIONING"}, .n_outputs = 1

static fg_error *clip_text_encode(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *clip_text_encode_flux(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *flux_guidance(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *conditioning_zero_out(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *conditioning_combine(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);
static fg_error *conditioning_set_timestep_range(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out);

const fg_node_spec fg_nodes_conditioning[] = {
    {.class_type = "CLIPTextEncode", .execute = clip_text_encode, .display_name = "CLIP Text Encode (Prompt)", .category = "conditioning",
     .description = "Encodes a text prompt with every encoder of the CLIP object.",
     .inputs = {IN_TEXT("text"), IN_SOCKET("clip", FG_TYPE_CLIP)}, .n_inputs = 2, OUT_COND},
    {.class_type = "CLIPTextEncodeFlux", .execute = clip_text_encode_flux, .display_name = "CLIPTextEncodeFlux", .category = "advanced/conditioning/flux",
     .description = "Encodes separate CLIP-L and T5-XXL texts and sets the FLUX guidance.",
     .inputs = {IN_SOCKET("clip", FG_TYPE_CLIP), IN_TEXT("clip_l"), IN_TEXT("t5xxl"),
                IN_FLOAT("guidance", 3.5, 0.0, 100.0, 0.1)},
     .n_inputs = 4, OUT_COND},
    {.class_type = "FluxGuidance", .execute = flux_guidance, .display_name = "FluxGuidance", .category = "advanced/conditioning/flux",
     .description = "Sets the guidance strength the FLUX-dev model receives.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING), IN_FLOAT("guidance", 3.5, 0.0, 100.0, 0.1)},
     .n_inputs = 2, OUT_COND},
    {.class_type = "ConditioningZeroOut", .execute = conditioning_zero_out, .display_name = "ConditioningZeroOut", .category = "advanced/conditioning",
     .description = "Replaces the conditioning tensors by zeros, keeping the other extras.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING)}, .n_inputs = 1, OUT_COND},
    {.class_type = "ConditioningCombine", .execute = conditioning_combine, .display_name = "Conditioning (Combine)", .category = "conditioning",
     .description = "Concatenates two conditioning lists.",
     .inputs = {IN_SOCKET("conditioning_1", FG_TYPE_CONDITIONING), IN_SOCKET("conditioning_2", FG_TYPE_CONDITIONING)},
     .n_inputs = 2, OUT_COND},
    {.class_type = "ConditioningSetTimestepRange", .execute = conditioning_set_timestep_range, .display_name = "ConditioningSetTimestepRange",
     .category = "advanced/conditioning",
     .description = "Restricts conditioning to a part of the sampling schedule.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING), IN_FLOAT("start", 0.0, 0.0, 1.0, 0.001),
                IN_FLOAT("end", 1.0, 0.0, 1.0, 0.001)},
     .n_inputs = 3, OUT_COND},
};
const size_t fg_nodes_conditioning_count = sizeof fg_nodes_conditioning / sizeof fg_nodes_conditioning[0];

/* ---- execute functions ---------------------------------------------------------------- */

#include <stdlib.h>
#include <string.h>

#include "nodes/model_objects.h"
#include "nodes/node_ctx.h"
#include "nodes/objects.h"
#include "text_encoders/flux_tokenizer.h"

typedef struct tokenizer_pair {
    fg_clip_tokenizer *clip;
    fg_t5_tokenizer *t5;
} tokenizer_pair;

static void tokenizers_free(void *p) {
    tokenizer_pair *t = p;
    if (!t) return;
    fg_clip_tokenizer_free(t->clip);
    fg_t5_tokenizer_free(t->t5);
    free(t);
}

static fg_error *tokenizers_load(const void *unused, void **model, void (**free_model)(void *)) {
    (void)unused;
    tokenizer_pair *t = calloc(1, sizeof *t);
    if (!t) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tokenizers");
    fg_error *err = fg_clip_tokenizer_load_default(&t->clip);
    if (!err) err = fg_t5_tokenizer_load_default(&t->t5);
    if (err) {
        tokenizers_free(t);
        return err;
    }
    *model = t;
    *free_model = tokenizers_free;
    return NULL;
}

fg_error *fg_flux_tokenizers_acquire(fg_loaded **slot) {
    return fg_model_cache_get("tokenizers|builtin|", tokenizers_load, NULL, slot);
}

fg_clip_tokenizer *fg_clip_obj_clip_tokenizer(const fg_clip_obj *c) {
    return c ? ((tokenizer_pair *)fg_loaded_model(c->tokenizers_slot))->clip : NULL;
}

const fg_t5_tokenizer *fg_clip_obj_t5_tokenizer(const fg_clip_obj *c) {
    return c ? ((tokenizer_pair *)fg_loaded_model(c->tokenizers_slot))->t5 : NULL;
}

/* ComfyUI's message for a None clip (a checkpoint without text encoders). */
static fg_error *get_clip(const fg_value *v, const fg_clip_obj **clip) {
    if (v->type != FG_TYPE_CLIP || !v->u.obj)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                         "checkpoint does not contain a valid clip or text encoder model.");
    *clip = (const fg_clip_obj *)v->u.obj;
    return NULL;
}

static fg_error *get_cond(const fg_value *v, const char *name, const fg_conditioning **c) {
    if (v->type != FG_TYPE_CONDITIONING || !v->u.obj)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is invalid: None", name);
    *c = (const fg_conditioning *)v->u.obj;
    return NULL;
}

/* A FLOAT input (an INT where validation left one). */
static double number_of(const fg_value *v) {
    return v->type == FG_TYPE_INT ? (double)v->u.i : v->type == FG_TYPE_FLOAT ? v->u.f : 0.0;
}

static const char *text_of(const fg_value *v, size_t *len) {
    const char *s = v->type == FG_TYPE_STRING && v->u.s ? v->u.s : "";
    *len = strlen(s);
    return s;
}

/* One entry [cond, {pooled_output, guidance?}] from token streams; the tokens are freed. */
static fg_error *encode_entry(const fg_clip_obj *clip, fg_token_chunks *ct, fg_token_chunks *tt, bool has_guidance,
                              double guidance, fg_value *out) {
    fg_cond_entry e = {.has_guidance = has_guidance, .guidance = guidance, .start_percent = 0.0, .end_percent = 1.0};
    fg_error *err = NULL;
    if (tt->rows != 1) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "T5 tokens: expected one row, got %lld", (long long)tt->rows);
    if (!err)
        err = fg_clip_obj_encode(clip, ct->ids, ct->weights, ct->rows, ct->cols, tt->ids, tt->weights, tt->cols, &e.cond,
                                 &e.pooled);
    fg_token_chunks_free(ct);
    fg_token_chunks_free(tt);
    fg_conditioning *c = NULL;
    if (!err) err = fg_conditioning_new(&e, 1, &c);
    if (err) {
        fg_tensor_free_host(&e.cond);
        fg_tensor_free_host(&e.pooled);
        return err;
    }
    out[0] = fg_value_object(&c->base);
    return NULL;
}

static fg_error *clip_text_encode(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_clip_obj *clip = NULL;
    FG_TRY(get_clip(&in[1], &clip));
    size_t len;
    const char *text = text_of(&in[0], &len);
    fg_flux_tokens tokens = {0};
    FG_TRY(fg_flux_tokenize(fg_clip_obj_clip_tokenizer(clip), fg_clip_obj_t5_tokenizer(clip), text, len, &tokens));
    return encode_entry(clip, &tokens.clip, &tokens.t5, false, 0.0, out);
}

static fg_error *clip_text_encode_flux(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_clip_obj *clip = NULL;
    FG_TRY(get_clip(&in[0], &clip));
    size_t len_l, len_t5;
    const char *text_l = text_of(&in[1], &len_l), *text_t5 = text_of(&in[2], &len_t5);
    fg_token_chunks ct = {0}, tt = {0};
    FG_TRY(fg_flux_tokenize_clip(fg_clip_obj_clip_tokenizer(clip), text_l, len_l, &ct));
    fg_error *err = fg_flux_tokenize_t5(fg_clip_obj_t5_tokenizer(clip), text_t5, len_t5, FG_FLUX_T5_MIN_LENGTH, &tt);
    if (err) {
        fg_token_chunks_free(&ct);
        return err;
    }
    return encode_entry(clip, &ct, &tt, true, number_of(&in[3]), out);
}

typedef enum cond_edit { EDIT_GUIDANCE, EDIT_ZERO, EDIT_RANGE } cond_edit;

/* A copy of the input with every entry edited (ComfyUI's nodes copy, never mutate). */
static fg_error *edit_conditioning(const fg_value *in, cond_edit edit, double a, double b, fg_value *out) {
    const fg_conditioning *src = NULL;
    FG_TRY(get_cond(&in[0], "conditioning", &src));
    fg_conditioning *c;
    FG_TRY(fg_conditioning_copy(src, &c));
    for (size_t i = 0; i < c->count; i++) {
        fg_cond_entry *e = &c->entries[i];
        if (edit == EDIT_GUIDANCE) {
            e->has_guidance = true;
            e->guidance = a;
        } else if (edit == EDIT_ZERO) {
            if (e->cond.data) memset(e->cond.data, 0, fg_tensor_nbytes(&e->cond));
            if (e->pooled.data) memset(e->pooled.data, 0, fg_tensor_nbytes(&e->pooled));
        } else {
            e->start_percent = a;
            e->end_percent = b;
        }
    }
    out[0] = fg_value_object(&c->base);
    return NULL;
}

static fg_error *flux_guidance(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    return edit_conditioning(in, EDIT_GUIDANCE, number_of(&in[1]), 0.0, out);
}

static fg_error *conditioning_zero_out(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    return edit_conditioning(in, EDIT_ZERO, 0.0, 0.0, out);
}

static fg_error *conditioning_set_timestep_range(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    return edit_conditioning(in, EDIT_RANGE, number_of(&in[1]), number_of(&in[2]), out);
}

/* conditioning_1 + conditioning_2 as one list (copies of both). */
static fg_error *conditioning_combine(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    const fg_value *in = args->values; /* TODO(issue 16): read by name */
    (void)ctx;
    const fg_conditioning *c1 = NULL, *c2 = NULL;
    FG_TRY(get_cond(&in[0], "conditioning_1", &c1));
    FG_TRY(get_cond(&in[1], "conditioning_2", &c2));
    fg_conditioning *a, *b = NULL, *joined = NULL;
    FG_TRY(fg_conditioning_copy(c1, &a));
    fg_error *err = fg_conditioning_copy(c2, &b);
    size_t n = a->count + (b ? b->count : 0);
    fg_cond_entry *e = NULL;
    if (!err && n > 0 && !(e = calloc(n, sizeof *e))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "ConditioningCombine");
    if (!err) {
        if (a->count) memcpy(e, a->entries, a->count * sizeof *e);
        if (b->count) memcpy(e + a->count, b->entries, b->count * sizeof *e);
        err = fg_conditioning_new(e, n, &joined);
        if (!err) a->count = b->count = 0; /* the tensors moved into `joined` */
    }
    free(e);
    fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
    if (err) return err;
    out[0] = fg_value_object(&joined->base);
    return NULL;
}
