/* probe clip: runs the CLIP text model (--model FILE) on the golden file's `input_ids`
 * (I64 or I32 [B, L]) and writes every output the golden file holds: last_hidden_state,
 * penultimate_hidden_state, pooled, pooled_projected (fixtures README stage 3). */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/probe.h"
#include "kernels/ops.h"
#include "text_encoders/clip_model.h"

typedef struct clip_output_name {
    const char *name;
    unsigned flag;
} clip_output_name;

static const clip_output_name outputs[] = {
    {"last_hidden_state", FG_CLIP_LAST},
    {"penultimate_hidden_state", FG_CLIP_PENULTIMATE},
    {"pooled", FG_CLIP_POOLED},
    {"pooled_projected", FG_CLIP_PROJECTED},
};

/* The golden's [B, L] integer ids as a malloc'd int32 array (values outside int32 rejected). */
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

/* Copies a device result into an owned host tensor for the writer, checking the golden shape. */
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

static const clip_output_name *find_output(const char *name) {
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        if (strcmp(outputs[i].name, name) == 0) return &outputs[i];
    return NULL;
}

static const fg_tensor *result_of(const fg_clip_outputs *o, unsigned flag) {
    return flag == FG_CLIP_LAST          ? &o->last_hidden
           : flag == FG_CLIP_PENULTIMATE ? &o->penultimate
           : flag == FG_CLIP_POOLED      ? &o->pooled
                                         : &o->pooled_projected;
}

/* Every golden tensor other than input_ids must be one of the outputs. */
static fg_error *wanted_outputs(const fg_safetensors *golden, unsigned *want) {
    *want = 0;
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name;
        if (strcmp(name, "input_ids") == 0) continue;
        const clip_output_name *o = find_output(name);
        if (!o) return fg_errorf(FG_ERR_UNSUPPORTED, "tensor '%s': not a CLIP output this probe knows", name);
        *want |= o->flag;
    }
    if (!*want) return fg_errorf(FG_ERR_FORMAT, "no output tensors to produce");
    return NULL;
}

static fg_error *run(probe_ctx *ctx, const fg_clip_model *m, const int32_t *ids, int64_t batch, int64_t len,
                     unsigned want) {
    const fg_safetensors *golden = probe_golden(ctx);
    fg_clip_outputs o;
    FG_TRY(fg_clip_encode(m, g_cli.device, ids, batch, len, want, &o));
    fg_error *err = NULL;
    for (size_t i = 0; !err && i < fg_safetensors_count(golden); i++) {
        const fg_st_entry *e = fg_safetensors_entry(golden, i);
        const clip_output_name *out = find_output(e->name);
        if (out) err = fg_error_wrapf(emit(ctx, e, result_of(&o, out->flag)), "tensor '%s'", e->name);
    }
    fg_clip_outputs_free(&o);
    return err;
}

fg_error *probe_clip(probe_ctx *ctx) {
    const char *model_path = probe_model_path(ctx);
    if (!model_path) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "probe clip needs --model FILE (a CLIP-L text model)");
    unsigned want;
    FG_TRY(wanted_outputs(probe_golden(ctx), &want));
    int32_t *ids = NULL;
    int64_t batch = 0, len = 0;
    FG_TRY(read_ids(probe_golden(ctx), &ids, &batch, &len));
    fg_clip_model *m = NULL;
    fg_error *err = fg_clip_open(model_path, &m);
    if (!err) err = run(ctx, m, ids, batch, len, want);
    fg_clip_free(m);
    free(ids);
    return err;
}
