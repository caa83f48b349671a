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

/* One golden output: the model run with or without the key mask. */
static fg_error *produce(probe_ctx *ctx, const fg_t5_model *m, const fg_st_entry *e, const int32_t *ids,
                         int64_t batch, int64_t len) {
    const float *mask = NULL;
    if (strcmp(e->name, "encoder_output_masked") == 0) FG_TRY(read_mask(probe_golden(ctx), batch, len, &mask));
    fg_tensor out;
    FG_TRY(fg_t5_encode(m, g_cli.device, ids, batch, len, mask, &out));
    fg_error *err = probe_output_result(ctx, e, &out);
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
    FG_TRY(probe_read_ids(golden, "input_ids", &ids, &batch, &len));
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
