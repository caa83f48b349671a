/* probe flux: for every case cK of the golden file (inputs cK_x, cK_timestep, cK_context, cK_y
 * and optionally cK_guidance) runs the DiT of --model and writes cK_out, plus the traced
 * intermediates the golden file holds for that case (cK_img_tokens, cK_img_ids, cK_txt_ids,
 * cK_vec, cK_double0_img, cK_double0_txt). Any other golden tensor is an error.
 *
 * cK_double0_*: the fixture generator hooked the output of double_blocks.0, but ComfyUI's
 * double block updates img/txt in place (`img += ...`), so the captured tensors went on to
 * receive the later double blocks' updates: the golden values are the streams after the
 * LAST double block (measured on the tiny model: 1e-5 from our last-block streams, 0.85 from
 * our block-0 outputs). The probe writes what the golden file actually holds. */
#include <stdio.h>
#include <string.h>

#include "cli/probe.h"
#include "core/log.h"
#include "kernels/ops.h"
#include "unet/flux_loader.h"

static const char *const input_names[] = {"x", "timestep", "context", "y", "guidance"};
enum { INPUTS = 5, NAME_CAP = 128 };

/* "c12_out" -> case "c12", rest "out"; false when the name has no such shape. */
static bool split_name(const char *name, char *case_id, const char **rest) {
    if (name[0] != 'c' || name[1] < '0' || name[1] > '9') return false;
    const char *us = strchr(name, '_');
    if (!us || us - name >= 16) return false;
    for (const char *p = name + 1; p < us; p++)
        if (*p < '0' || *p > '9') return false;
    memcpy(case_id, name, (size_t)(us - name));
    case_id[us - name] = '\0';
    *rest = us + 1;
    return true;
}

static bool is_input(const char *rest) {
    for (int i = 0; i < INPUTS; i++)
        if (strcmp(rest, input_names[i]) == 0) return true;
    return false;
}

/* An aligned F32 copy of a golden tensor (the mapping need not be aligned). */
static fg_error *read_input(const fg_safetensors *golden, const char *case_id, const char *what, bool optional,
                            fg_tensor *out) {
    char name[NAME_CAP];
    snprintf(name, sizeof name, "%s_%s", case_id, what);
    memset(out, 0, sizeof *out);
    if (optional && !fg_safetensors_find(golden, name)) return NULL;
    fg_tensor view;
    FG_TRY(fg_safetensors_tensor(golden, name, &view));
    if (view.dtype != FG_F32)
        return fg_errorf(FG_ERR_FORMAT, "golden tensor '%s' is %s, expected F32", name, fg_dtype_name(view.dtype));
    FG_TRY(fg_tensor_alloc_host(out, FG_F32, view.ndim, view.shape));
    memcpy(out->data, view.data, fg_tensor_nbytes(&view));
    return NULL;
}

/* Queues `t` (taken) under case_id + "_" + rest if the golden file holds that name with the
 * same shape; frees it otherwise. */
static fg_error *emit(probe_ctx *ctx, const char *case_id, const char *rest, fg_tensor *t) {
    char name[NAME_CAP];
    snprintf(name, sizeof name, "%s_%s", case_id, rest);
    const fg_st_entry *e = fg_safetensors_find(probe_golden(ctx), name);
    if (!e) {
        fg_tensor_free(t);
        return NULL;
    }
    if (!t->data) return fg_errorf(FG_ERR_UNSUPPORTED, "'%s': this model does not produce it (no double blocks?)", name);
    char a[96], b[96];
    bool same = e->ndim == t->ndim && memcmp(e->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]) == 0;
    if (!same) {
        fg_error *err = fg_errorf(FG_ERR_FORMAT, "'%s': computed %s but the golden tensor is %s", name,
                                  fg_tensor_shape_str(t, a, sizeof a), fg_shape_str(e->ndim, e->shape, b, sizeof b));
        fg_tensor_free(t);
        return err;
    }
    if (t->device != FG_DEVICE_CPU) { /* the writer reads host memory */
        fg_tensor host;
        fg_error *err = fg_tensor_alloc_host(&host, t->dtype, t->ndim, t->shape);
        if (!err) err = fg_tensor_copy(&host, t);
        fg_tensor_free(t);
        if (err) {
            fg_tensor_free_host(&host);
            return err;
        }
        *t = host;
    }
    return probe_output_add(ctx, name, t);
}

static fg_error *run_case(probe_ctx *ctx, const fg_flux_model *m, const char *case_id) {
    const fg_safetensors *golden = probe_golden(ctx);
    fg_tensor in[INPUTS], out = {0};
    fg_flux_trace trace = {.enabled = true};
    fg_error *err = NULL;
    memset(in, 0, sizeof in);
    for (int i = 0; i < INPUTS && !err; i++) err = read_input(golden, case_id, input_names[i], i == 4, &in[i]);
    if (!err) err = fg_tensor_alloc(&out, m->device, FG_F32, in[0].ndim, in[0].shape);
    if (!err) {
        fg_flux_inputs inputs = {&in[0], &in[1], &in[2], &in[3], in[4].data ? &in[4] : NULL};
        err = fg_flux_forward(m, &inputs, &out, &trace);
        if (!err)
            FG_LOG_I("probe flux: case %s: activations peaked at %zu bytes (%.2f MiB)", case_id,
                     trace.activation_peak_bytes, (double)trace.activation_peak_bytes / (1 << 20));
    }
    struct {
        const char *rest;
        fg_tensor *t;
    } results[] = {{"out", &out},           {"img_tokens", &trace.img_tokens},   {"img_ids", &trace.img_ids},
                   {"txt_ids", &trace.txt_ids}, {"vec", &trace.vec},             {"double0_img", &trace.doubles_img},
                   {"double0_txt", &trace.doubles_txt}};
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        if (!err) err = emit(ctx, case_id, results[i].rest, results[i].t);
        else fg_tensor_free(results[i].t);
    }
    fg_flux_trace_free(&trace); /* what emit did not take */
    for (int i = 0; i < INPUTS; i++) fg_tensor_free_host(&in[i]);
    return fg_error_wrapf(err, "case %s", case_id);
}

/* Every golden tensor is an input or something the forward produces. */
static fg_error *check_names(const fg_safetensors *golden) {
    static const char *const outputs[] = {"out", "img_tokens", "img_ids", "txt_ids", "vec", "double0_img", "double0_txt"};
    for (size_t i = 0; i < fg_safetensors_count(golden); i++) {
        const char *name = fg_safetensors_entry(golden, i)->name, *rest = "";
        char case_id[16];
        bool known = split_name(name, case_id, &rest) && is_input(rest);
        for (size_t k = 0; !known && k < sizeof outputs / sizeof outputs[0]; k++) known = strcmp(rest, outputs[k]) == 0;
        if (!known) return fg_errorf(FG_ERR_UNSUPPORTED, "golden tensor '%s': not something the FLUX forward produces", name);
        char x_name[NAME_CAP];
        snprintf(x_name, sizeof x_name, "%s_x", case_id);
        if (!fg_safetensors_find(golden, x_name))
            return fg_errorf(FG_ERR_FORMAT, "golden tensor '%s': case %s has no input %s", name, case_id, x_name);
    }
    return NULL;
}

fg_error *probe_flux(probe_ctx *ctx) {
    const fg_safetensors *golden = probe_golden(ctx);
    if (!probe_model_path(ctx)) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "probe flux needs --model FILE");
    FG_TRY(check_names(golden));
    fg_flux_model *m = NULL;
    FG_TRY(fg_flux_load(probe_model_path(ctx), &m));
    fg_error *err = NULL;
    size_t cases = 0;
    for (size_t i = 0; i < fg_safetensors_count(golden) && !err; i++) {
        const char *name = fg_safetensors_entry(golden, i)->name, *rest = "";
        char case_id[16];
        if (!split_name(name, case_id, &rest) || strcmp(rest, "x") != 0) continue;
        err = run_case(ctx, m, case_id);
        cases++;
    }
    fg_flux_free(m);
    if (!err && cases == 0) err = fg_errorf(FG_ERR_FORMAT, "no cases (tensors named cK_x)");
    return err;
}
