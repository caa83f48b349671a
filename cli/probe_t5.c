/* probe t5: runs the T5 encoder (--model FILE) on the golden file's `input_ids` (I64 or I32
 * [B, L]) and writes `encoder_output` (no mask: ComfyUI's FLUX path) and, when the golden file
 * has it, `encoder_output_masked` using its `attention_mask` [B, L] as the key padding mask
 * (fixtures README stage 4). */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/probe.h"
#include "kernels/ops.h"
#include "text_encoders/t5_model.h"

static fg_error *read_ids(const fg_safetensors *golden, int32_t **ids, int64_t *batch, int64_t *len) {
    fg_tensor t;
    FG_TRY(fg_safetensors_tensor(golden, "input_ids", &t));
    if ((t.dtype != FG_I64 && t.dtype != FG_I32) || t.ndim != 2 || t.shape[0] < 1 || t.shape[1] < 1)
        return fg_errorf(FG_ERR_FORMAT, "tensor 'input_ids' must be I64 or I32 [batch, tokens], not %s with %d dims",
                         fg_dtype_name(t.dtype), t.ndim);
    int64_t n = fg_tensor_numel(&t);
    int32_t *out = malloc((size_t)n * sizeof *out);
    if (!out) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "input_ids");
    for (int64_t i = 0; i < n; i++) {
        int64_t v = t.dtype == FG_I64 ? ((const int64_t *)t.data)[i] : ((const int32_t *)t.data)[i];
        if (v < INT32_MIN || v > INT32_MAX) {
            free(out);
            return fg_errorf(FG_ERR_FORMAT, "tensor 'input_ids': id %lld at %lld is out of range", (long long)v,
                             (long long)i);
        }
        out[i] = (int32_t)v;
    }
    *ids = out;
    *batch = t.shape[0];
    *len = t.shape[1];
    return NULL;
}

/* The golden's F32 attention_mask, which must match the ids' shape. */
static fg_error *read_mask(const fg_safetensors *golden, int64_t batch, int64_t len, const float **mask) {
    fg_tensor t;
    FG_TRY(fg_safetensors_tensor(golden, "attention_mask", &t));
    if (t.dtype != FG_F32 || t.ndim != 2 || t.shape[0] != batch || t.shape[1] != len)
        return fg_errorf(FG_ERR_FORMAT, "tensor 'attention_mask' must be F32 [%lld, %lld] like input_ids",
                         (long long)batch, (long long)len);
    *mask = t.data;
    return NULL;
}

static fg_error *emit(probe_ctx *ctx, const fg_st_entry *e, const fg_tensor *result) {
    char want[96], have[96];
    if (e->dtype != FG_F32 || e->ndim != result->ndim ||
        memcmp(e->shape, result->shape, (size_t)e->ndim * sizeof e->shape[0]) != 0)
        return fg_errorf(FG_ERR_FORMAT, "golden is %s %s but the model produces F32 %s", fg_dtype_name(e->dtype),
                         fg_shape_str(e->ndim, e->shape, want, sizeof want),
                         fg_tensor_shape_str(result, have, sizeof have));
    fg_tensor host;
    FG_TRY(fg_tensor_alloc_host(&host, FG_F32, result->ndim, result->shape));
    fg_error *err = fg_tensor_copy(&host, result);
    if (err) {
        fg_tensor_free_host(&host);
        return err;
    }
    return probe_output_add(ctx, e->name, &host);
}

/* One golden output: the model run with or without the key mask. */
static fg_error *produce(probe_ctx *ctx, const fg_t5_model *m, const fg_st_entry *e, const int32_t *ids,
                         int64_t batch, int64_t len) {
    const float *mask = NULL;
    if (strcmp(e->name, "encoder_output_masked") == 0) FG_TRY(read_mask(probe_golden(ctx), batch, len, &mask));
    fg_tensor out;
    FG_TRY(fg_t5_encode(m, g_cli.device, ids, batch, len, mask, &out));
    fg_error *err = emit(ctx, e, &out);
    fg_tensor_free(&out);
    return err;
}

static bool is_input(const char *name) { return strcmp(name, "input_ids") == 0 || strcmp(name, "attention_mask") == 0; }

static fg_error *check_names(const fg_safetensors *golden) {
    size_t outputs = 0;
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        if (is_input(name)) continue;
        if (strcmp(name, "encoder_output") != 0 && strcmp(name, "encoder_output_masked") != 0)
            return fg_errorf(FG_ERR_UNSUPPORTED, "tensor '%s': not a T5 output this probe knows", name);
        outputs++;
    }
    if (!outputs) return fg_errorf(FG_ERR_FORMAT, "no output tensors to produce");
    return NULL;
}

fg_error *probe_t5(probe_ctx *ctx) {
    const fg_safetensors *golden = probe_golden(ctx);
    const char *model_path = probe_model_path(ctx);
    if (!model_path) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "probe t5 needs --model FILE (a T5 encoder)");
    FG_TRY(check_names(golden));
    int32_t *ids = NULL;
    int64_t batch = 0, len = 0;
    FG_TRY(read_ids(golden, &ids, &batch, &len));
    fg_t5_model *m = NULL;
    fg_error *err = fg_t5_open(model_path, &m);
    for (size_t i = 0; !err && i < fg_safetensors_count(golden); i++) {
        const fg_st_entry *e = fg_safetensors_entry(golden, i);
        if (!is_input(e->name))
            err = fg_error_wrapf(produce(ctx, m, e, ids, batch, len), "tensor '%s'", e->name);
    }
    fg_t5_free(m);
    free(ids);
    return err;
}
