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
        if (out) err = fg_error_wrapf(probe_output_result(ctx, e, result_of(&o, out->flag)), "tensor '%s'", e->name);
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
    FG_TRY(probe_read_ids(probe_golden(ctx), "input_ids", &ids, &batch, &len));
    fg_clip_model *m = NULL;
    fg_error *err = fg_clip_open(model_path, &m);
    if (!err) err = run(ctx, m, ids, batch, len, want);
    fg_clip_free(m);
    free(ids);
    return err;
}
