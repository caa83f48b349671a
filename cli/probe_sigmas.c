/* probe sigmas: the ModelSamplingFlux tables (ms_WxH_sigmas) and every schedule kN of the
 * golden sigmas file, from the parameters in each tensor's metadata, e.g.
 * "k2": {"width": 64, "height": 64, "max_shift": 1.15, "base_shift": 0.5, "scheduler":
 * "simple", "steps": 4, "denoise": 1.0}. Schedules use BasicScheduler's denoise rule. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/probe.h"
#include "sampling/model_sampling.h"
#include "sampling/schedulers.h"

static fg_error *number(json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_number(v)) return fg_errorf(FG_ERR_FORMAT, "metadata: '%s' must be a number", key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return fg_errorf(FG_ERR_FORMAT, "metadata: '%s' is not finite", key);
    return NULL;
}

static fg_error *size_shift(json_t *obj, bool table, fg_model_sampling *ms) {
    double w, h, max_shift = 1.15, base_shift = 0.5;
    FG_TRY(number(obj, "width", &w));
    FG_TRY(number(obj, "height", &h));
    if (!table) {
        FG_TRY(number(obj, "max_shift", &max_shift));
        FG_TRY(number(obj, "base_shift", &base_shift));
    }
    if (w < 16 || h < 16 || w > 1e6 || h > 1e6) return fg_errorf(FG_ERR_FORMAT, "metadata: bad size %gx%g", w, h);
    return fg_model_sampling_init_flux(ms, fg_flux_shift_for_size(max_shift, base_shift, w, h));
}

static fg_error *schedule_from(json_t *obj, const fg_model_sampling *ms, fg_sigma_array *out) {
    double steps, denoise;
    FG_TRY(number(obj, "steps", &steps));
    FG_TRY(number(obj, "denoise", &denoise));
    json_t *name = json_object_get(obj, "scheduler");
    if (!json_is_string(name)) return fg_errorf(FG_ERR_FORMAT, "metadata: 'scheduler' must be a string");
    if (steps < 1 || steps > 10000 || steps != floor(steps)) return fg_errorf(FG_ERR_FORMAT, "metadata: bad steps");
    fg_scheduler sched;
    FG_TRY(fg_scheduler_from_name(json_string_value(name), &sched));
    return fg_schedule_denoise(ms, sched, (int)steps, denoise, FG_DENOISE_BASIC_SCHEDULER, false, out);
}

static fg_error *produce_one(probe_ctx *ctx, const fg_st_entry *e, fg_model_sampling *ms) {
    const char *meta = fg_safetensors_metadata(probe_golden(ctx), e->name);
    if (!meta) return fg_errorf(FG_ERR_FORMAT, "no metadata entry with its parameters");
    json_error_t jerr;
    json_t *obj = json_loads(meta, 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        return fg_errorf(FG_ERR_FORMAT, "metadata is not a JSON object");
    }
    const bool table = strncmp(e->name, "ms_", 3) == 0;
    fg_sigma_array s = {0};
    fg_error *err = size_shift(obj, table, ms);
    if (!err && table) err = fg_sigmas_from(&s, ms->sigmas, ms->count);
    else if (!err) err = schedule_from(obj, ms, &s);
    json_decref(obj);
    fg_tensor t = {0};
    if (!err) err = fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(s.n));
    if (!err) {
        memcpy(t.data, s.v, (size_t)s.n * sizeof(float));
        err = probe_output_add(ctx, e->name, &t);
    }
    fg_sigma_array_free(&s);
    return err;
}

fg_error *probe_sigmas(probe_ctx *ctx) {
    const fg_safetensors *golden = probe_golden(ctx);
    const size_t count = fg_safetensors_count(golden);
    if (count == 0) return fg_errorf(FG_ERR_FORMAT, "no tensors to reproduce");
    fg_model_sampling *ms = malloc(sizeof *ms);
    if (!ms) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "probe sigmas");
    fg_error *err = NULL;
    for (size_t i = 0; i < count && !err; i++) {
        const fg_st_entry *e = fg_safetensors_entry(golden, i);
        err = fg_error_wrapf(produce_one(ctx, e, ms), "tensor '%s'", e->name);
    }
    free(ms);
    return err;
}
