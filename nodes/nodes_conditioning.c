/* Conditioning nodes (docs/comfyui.md 3.3): text encoding, FLUX guidance, combining. The execute
 * functions come first; their declarations (nodes/node_decl.h: ComfyUI's definitions give the
 * inputs) close the file, so no prototypes are needed. */
#include "nodes/node_families.h"

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

/* The clip input, with ComfyUI's message for a None clip (a checkpoint without text
 * encoders). */
static fg_error *get_clip(const fg_node_args *args, const fg_clip_obj **clip) {
    const fg_object *obj;
    FG_TRY(fg_arg_object_opt(args, "clip", FG_TYPE_CLIP, &obj));
    if (!obj)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                         "checkpoint does not contain a valid clip or text encoder model.");
    *clip = (const fg_clip_obj *)obj;
    return NULL;
}

static fg_error *get_cond(const fg_node_args *args, const char *name, const fg_conditioning **c) {
    const fg_object *obj;
    FG_TRY(fg_arg_object(args, name, FG_TYPE_CONDITIONING, &obj));
    *c = (const fg_conditioning *)obj;
    return NULL;
}

static fg_error *get_text(const fg_node_args *args, const char *name, const char **text, size_t *len) {
    FG_TRY(fg_arg_string(args, name, text));
    *len = strlen(*text);
    return NULL;
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
    (void)ctx;
    const fg_clip_obj *clip = NULL;
    FG_TRY(get_clip(args, &clip));
    size_t len;
    const char *text;
    FG_TRY(get_text(args, "text", &text, &len));
    fg_flux_tokens tokens = {0};
    FG_TRY(fg_flux_tokenize(fg_clip_obj_clip_tokenizer(clip), fg_clip_obj_t5_tokenizer(clip), text, len, &tokens));
    return encode_entry(clip, &tokens.clip, &tokens.t5, false, 0.0, out);
}

static fg_error *clip_text_encode_flux(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_clip_obj *clip = NULL;
    FG_TRY(get_clip(args, &clip));
    size_t len_l, len_t5;
    const char *text_l, *text_t5;
    double guidance;
    FG_TRY(get_text(args, "clip_l", &text_l, &len_l));
    FG_TRY(get_text(args, "t5xxl", &text_t5, &len_t5));
    FG_TRY(fg_arg_float(args, "guidance", &guidance));
    fg_token_chunks ct = {0}, tt = {0};
    FG_TRY(fg_flux_tokenize_clip(fg_clip_obj_clip_tokenizer(clip), text_l, len_l, &ct));
    fg_error *err = fg_flux_tokenize_t5(fg_clip_obj_t5_tokenizer(clip), text_t5, len_t5, FG_FLUX_T5_MIN_LENGTH, &tt);
    if (err) {
        fg_token_chunks_free(&ct);
        return err;
    }
    return encode_entry(clip, &ct, &tt, true, guidance, out);
}

typedef enum cond_edit { EDIT_GUIDANCE, EDIT_ZERO, EDIT_RANGE } cond_edit;

/* A copy of the conditioning input with every entry edited (ComfyUI's nodes copy, never
 * mutate). */
static fg_error *edit_conditioning(const fg_node_args *args, cond_edit edit, double a, double b, fg_value *out) {
    const fg_conditioning *src = NULL;
    FG_TRY(get_cond(args, "conditioning", &src));
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
    (void)ctx;
    double guidance;
    FG_TRY(fg_arg_float(args, "guidance", &guidance));
    return edit_conditioning(args, EDIT_GUIDANCE, guidance, 0.0, out);
}

static fg_error *conditioning_zero_out(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    return edit_conditioning(args, EDIT_ZERO, 0.0, 0.0, out);
}

static fg_error *conditioning_set_timestep_range(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    double start, end;
    FG_TRY(fg_arg_float(args, "start", &start));
    FG_TRY(fg_arg_float(args, "end", &end));
    return edit_conditioning(args, EDIT_RANGE, start, end, out);
}

/* conditioning_1 + conditioning_2 as one list (copies of both). */
static fg_error *conditioning_combine(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx;
    const fg_conditioning *c1 = NULL, *c2 = NULL;
    FG_TRY(get_cond(args, "conditioning_1", &c1));
    FG_TRY(get_cond(args, "conditioning_2", &c2));
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

/* ---- the declarations (nodes/node_decl.h: ComfyUI's definitions give the inputs) ---- */

const fg_node_decl fg_nodes_conditioning[] = {
    {NODE("CLIPTextEncode", clip_text_encode)},
    {NODE("CLIPTextEncodeFlux", clip_text_encode_flux)},
    {NODE("FluxGuidance", flux_guidance)},
    {NODE("ConditioningZeroOut", conditioning_zero_out)},
    {NODE("ConditioningCombine", conditioning_combine)},
    {NODE("ConditioningSetTimestepRange", conditioning_set_timestep_range)},
};
const size_t fg_nodes_conditioning_count = sizeof fg_nodes_conditioning / sizeof fg_nodes_conditioning[0];
