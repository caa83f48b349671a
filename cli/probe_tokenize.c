/* probe tokenize: ComfyUI FluxTokenizer.tokenize_with_weights for every prompt of the golden
 * tokenizer file. Metadata: "count" (number of prompts) and "pI" (prompt I as a JSON string).
 * Output per prompt: pI_clip_ids I32 [chunks,77], pI_clip_w F32, pI_t5_ids I32 [1,L],
 * pI_t5_w F32, and the plain tokenizer output of the whole prompt without weight parsing:
 * pI_clip_raw I32 [n] (with bos/eos), pI_t5_raw I32 [n] (with eos). The tokenizers follow the
 * --tokenizer-compat mode (docs/tokenizers.md). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/probe.h"
#include "core/log.h"
#include "text_encoders/flux_tokenizer.h"

enum { MAX_PROMPTS = 100000 };

typedef struct tokenizers {
    fg_clip_tokenizer *clip;
    fg_t5_tokenizer *t5;
} tokenizers;

/* The prompt stored as a JSON string value; NUL bytes (\u0000) are allowed. */
static fg_error *read_prompt(const fg_safetensors *golden, const char *key, char **text, size_t *len) {
    const char *meta = fg_safetensors_metadata(golden, key);
    if (!meta) return fg_errorf(FG_ERR_NOT_FOUND, "no metadata entry '%s'", key);
    json_error_t jerr;
    json_t *v = json_loads(meta, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v || !json_is_string(v)) {
        json_decref(v);
        return fg_errorf(FG_ERR_FORMAT, "metadata '%s' is not a JSON string", key);
    }
    *len = json_string_length(v);
    *text = malloc(*len + 1);
    if (*text) memcpy(*text, json_string_value(v), *len + 1);
    json_decref(v);
    return *text ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "prompt '%s'", key);
}

static fg_error *add_array(probe_ctx *ctx, const char *name, fg_dtype dt, int ndim, int64_t d0, int64_t d1,
                           const void *data) {
    int64_t shape[2] = {d0, d1};
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, dt, ndim, ndim == 1 ? &shape[1] : shape));
    memcpy(t.data, data, (size_t)(d0 * d1) * 4);
    return probe_output_add(ctx, name, &t);
}

static fg_error *add_chunks(probe_ctx *ctx, int idx, const char *stream, const fg_token_chunks *c) {
    char name[64];
    snprintf(name, sizeof name, "p%d_%s_ids", idx, stream);
    FG_TRY(add_array(ctx, name, FG_I32, 2, c->rows, c->cols, c->ids));
    snprintf(name, sizeof name, "p%d_%s_w", idx, stream);
    return add_array(ctx, name, FG_F32, 2, c->rows, c->cols, c->weights);
}

/* The plain tokenizer output with its bos/eos, as HF's tokenizer(text)["input_ids"]. */
static fg_error *add_raw(probe_ctx *ctx, int idx, const tokenizers *tk, const char *text, size_t len) {
    int32_t *ids = NULL, *wrapped = NULL;
    size_t n = 0;
    char name[64];
    FG_TRY(fg_clip_tokenize(tk->clip, text, len, &ids, &n));
    wrapped = malloc((n + 2) * sizeof *wrapped);
    fg_error *err = wrapped ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "raw ids");
    if (!err) {
        wrapped[0] = FG_CLIP_BOS_ID;
        if (n) memcpy(wrapped + 1, ids, n * sizeof *ids);
        wrapped[n + 1] = FG_CLIP_EOS_ID;
        snprintf(name, sizeof name, "p%d_clip_raw", idx);
        err = add_array(ctx, name, FG_I32, 1, 1, (int64_t)n + 2, wrapped);
    }
    free(ids), free(wrapped);
    ids = wrapped = NULL;
    if (!err) err = fg_t5_tokenize(tk->t5, text, len, &ids, &n);
    if (!err && !(wrapped = malloc((n + 1) * sizeof *wrapped))) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "raw ids");
    if (!err) {
        if (n) memcpy(wrapped, ids, n * sizeof *ids);
        wrapped[n] = FG_T5_EOS_ID;
        snprintf(name, sizeof name, "p%d_t5_raw", idx);
        err = add_array(ctx, name, FG_I32, 1, 1, (int64_t)n + 1, wrapped);
    }
    free(ids), free(wrapped);
    return err;
}

static fg_error *produce_prompt(probe_ctx *ctx, const tokenizers *tk, int idx) {
    char key[32];
    snprintf(key, sizeof key, "p%d", idx);
    char *text = NULL;
    size_t len = 0;
    FG_TRY(read_prompt(probe_golden(ctx), key, &text, &len));
    fg_flux_tokens toks = {0};
    fg_error *err = fg_flux_tokenize(tk->clip, tk->t5, text, len, &toks);
    if (!err) err = add_chunks(ctx, idx, "clip", &toks.clip);
    if (!err) err = add_chunks(ctx, idx, "t5", &toks.t5);
    if (!err) err = add_raw(ctx, idx, tk, text, len);
    fg_flux_tokens_free(&toks);
    free(text);
    return err;
}

static fg_error *read_count(const fg_safetensors *golden, int *count) {
    const char *meta = fg_safetensors_metadata(golden, "count");
    if (!meta) return fg_errorf(FG_ERR_FORMAT, "no metadata entry 'count'");
    uint64_t n;
    FG_TRY_CTX(probe_parse_u64(meta, &n), "metadata 'count'");
    if (n == 0 || n > MAX_PROMPTS) return fg_errorf(FG_ERR_FORMAT, "metadata 'count' %s out of range", meta);
    *count = (int)n;
    return NULL;
}

/* Every golden tensor must be one this component writes. */
static fg_error *check_names(const fg_safetensors *golden, int count) {
    static const char *const kinds[] = {"clip_ids", "clip_w", "t5_ids", "t5_w", "clip_raw", "t5_raw"};
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        int idx, used = 0;
        bool known = false;
        char kind[16];
        if (sscanf(name, "p%d_%15s%n", &idx, kind, &used) == 2 && name[used] == 0 && idx >= 0 && idx < count)
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) known |= strcmp(kind, kinds[k]) == 0;
        if (!known) return fg_errorf(FG_ERR_UNSUPPORTED, "tensor '%s': not a tokenizer output this probe produces", name);
    }
    return NULL;
}

fg_error *probe_tokenize(probe_ctx *ctx) {
    const fg_safetensors *golden = probe_golden(ctx);
    int count = 0;
    FG_TRY(read_count(golden, &count));
    FG_TRY(check_names(golden, count));
    tokenizers tk = {0};
    fg_error *err = fg_clip_tokenizer_load_default(&tk.clip);
    if (!err) err = fg_t5_tokenizer_load_default(&tk.t5);
    if (!err) FG_LOG_I("probe tokenize: %s tokenizers", fg_tokenizer_compat_name(fg_clip_tokenizer_compat(tk.clip)));
    for (int i = 0; !err && i < count; i++) err = fg_error_wrapf(produce_prompt(ctx, &tk, i), "prompt p%d", i);
    fg_clip_tokenizer_free(tk.clip);
    fg_t5_tokenizer_free(tk.t5);
    return err;
}
