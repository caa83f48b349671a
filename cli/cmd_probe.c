/* fluxgraph probe COMPONENT --golden FILE --out FILE [--model FILE]
 * Reads the inputs a golden file records, runs one component, and writes the results under the
 * golden tensors' names (with the golden metadata copied through). The output file appears only
 * when every tensor was produced: the writer renames a finished temporary file into place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/probe.h"
#include "kernels/ops.h"

typedef struct probe_component {
    const char *name;
    probe_component_fn run;
    const char *summary;
} probe_component;

/* A new component is a cli/probe_NAME.c file plus one row here. */
static const probe_component components[] = {
    {"rng", probe_rng, "torch.manual_seed + torch.randn (CPU, AVX2 kernel) for each seed/shape"},
    {"tokenize", probe_tokenize, "prompt -> CLIP-L and T5 ids and weights (ComfyUI FluxTokenizer)"},
    {"clip", probe_clip, "CLIP-L text encoder: hidden states and pooled output (--model FILE)"},
    {"t5", probe_t5, "T5-XXL encoder output, with and without the padding mask (--model FILE)"},
    {"flux", probe_flux, "FLUX DiT forward and its intermediates (--model FILE)"},
    {"ae", probe_ae, "FLUX autoencoder decode and encode (--model FILE)"},
    {"lora", probe_lora, "LoRA-patched weights, not-loaded keys and c0_out_lora (--lora --model --clip-l --t5 "
                         "--strength-model --strength-clip)"},
    {"sigmas", probe_sigmas, "ModelSamplingFlux sigma tables and scheduler outputs (simple, beta, ...)"},
};

enum { PROBE_MAX_OPTIONS = 16, PROBE_MAX_META = 8 };

typedef struct probe_option_kv {
    const char *name, *value;
    bool read;
} probe_option_kv;

struct probe_ctx {
    const fg_safetensors *golden;
    const char *model_path;
    probe_option_kv *options;
    size_t n_options;
    const char *meta_keys[PROBE_MAX_META];
    size_t n_meta;
    fg_st_writer *writer;
    /* Outputs the writer reads from at write time; one allocation each so their addresses stay
     * put while the list grows. */
    fg_tensor **owned;
    size_t owned_count, owned_cap;
};

const fg_safetensors *probe_golden(const probe_ctx *ctx) { return ctx->golden; }
const char *probe_model_path(const probe_ctx *ctx) { return ctx->model_path; }

const char *probe_option(probe_ctx *ctx, const char *name) {
    for (size_t i = 0; i < ctx->n_options; i++)
        if (strcmp(ctx->options[i].name, name) == 0) {
            ctx->options[i].read = true;
            return ctx->options[i].value;
        }
    return NULL;
}

fg_error *probe_output_metadata(probe_ctx *ctx, const char *key, const char *value) {
    if (ctx->n_meta == PROBE_MAX_META) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "too many probe metadata keys");
    FG_TRY(fg_st_writer_set_metadata(ctx->writer, key, value));
    ctx->meta_keys[ctx->n_meta++] = key;
    return NULL;
}

fg_error *probe_output_add(probe_ctx *ctx, const char *name, fg_tensor *t) {
    if (ctx->owned_count == ctx->owned_cap) {
        size_t cap = ctx->owned_cap ? ctx->owned_cap * 2 : 16;
        fg_tensor **grown = realloc(ctx->owned, cap * sizeof *grown);
        if (!grown) {
            fg_tensor_free_host(t);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "probe output list");
        }
        ctx->owned = grown;
        ctx->owned_cap = cap;
    }
    fg_tensor *kept = malloc(sizeof *kept);
    if (!kept) {
        fg_tensor_free_host(t);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "probe output list");
    }
    *kept = *t;
    ctx->owned[ctx->owned_count++] = kept;
    memset(t, 0, sizeof *t);
    return fg_st_writer_add(ctx->writer, name, kept);
}

fg_error *probe_output_result(probe_ctx *ctx, const fg_st_entry *e, const fg_tensor *result) {
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

fg_error *probe_read_ids(const fg_safetensors *golden, const char *name, int32_t **ids, int64_t *batch,
                         int64_t *len) {
    fg_tensor t;
    FG_TRY(fg_safetensors_tensor(golden, name, &t));
    if ((t.dtype != FG_I64 && t.dtype != FG_I32) || t.ndim != 2 || t.shape[0] < 1 || t.shape[1] < 1)
        return fg_errorf(FG_ERR_FORMAT, "tensor '%s' must be I64 or I32 [batch, tokens], not %s with %d dims", name,
                         fg_dtype_name(t.dtype), t.ndim);
    int64_t n = fg_tensor_numel(&t);
    int32_t *out = malloc((size_t)n * sizeof *out);
    if (!out) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", name);
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        if (t.dtype == FG_I64) memcpy(&v, (const char *)t.data + i * 8, 8);
        else {
            int32_t v32;
            memcpy(&v32, (const char *)t.data + i * 4, 4);
            v = v32;
        }
        if (v < INT32_MIN || v > INT32_MAX) {
            free(out);
            return fg_errorf(FG_ERR_FORMAT, "tensor '%s': id %lld at %lld is out of range", name, (long long)v,
                             (long long)i);
        }
        out[i] = (int32_t)v;
    }
    *ids = out;
    *batch = t.shape[0];
    *len = t.shape[1];
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f, "usage: fluxgraph probe COMPONENT --golden FILE --out FILE [--model FILE] [--OPTION VALUE ...]\n\ncomponents:\n");
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
        fprintf(f, "  %-9s %s\n", components[i].name, components[i].summary);
}

static const probe_component *find_component(const char *name) {
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
        if (strcmp(components[i].name, name) == 0) return &components[i];
    return NULL;
}

static bool set_by_component(const probe_ctx *ctx, const char *key) {
    for (size_t i = 0; i < ctx->n_meta; i++)
        if (strcmp(ctx->meta_keys[i], key) == 0) return true;
    return false;
}

static fg_error *copy_metadata(const probe_ctx *ctx, fg_st_writer *w) {
    for (size_t i = 0; i < fg_safetensors_metadata_count(ctx->golden); i++) {
        const char *key, *value;
        fg_safetensors_metadata_at(ctx->golden, i, &key, &value);
        if (set_by_component(ctx, key)) continue;
        FG_TRY(fg_st_writer_set_metadata(w, key, value));
    }
    return NULL;
}

static fg_error *unread_option(const probe_ctx *ctx, const char *component) {
    for (size_t i = 0; i < ctx->n_options; i++)
        if (!ctx->options[i].read)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "probe %s does not take --%s", component, ctx->options[i].name);
    return NULL;
}

static fg_error *run_probe(const probe_component *c, const char *golden_path, const char *model_path,
                           probe_option_kv *options, size_t n_options, const char *out_path) {
    fg_safetensors *golden = NULL;
    FG_TRY_CTX(fg_safetensors_open(golden_path, &golden), "golden file");
    probe_ctx ctx = {.golden = golden, .model_path = model_path, .options = options, .n_options = n_options};
    fg_error *err = fg_st_writer_create(&ctx.writer);
    if (!err) err = fg_error_wrapf(c->run(&ctx), "probe %s on %s", c->name, golden_path);
    if (!err) err = unread_option(&ctx, c->name);
    if (!err) err = copy_metadata(&ctx, ctx.writer);
    if (!err) err = fg_error_wrapf(fg_st_writer_write(ctx.writer, out_path), "writing %s", out_path);
    fg_st_writer_free(ctx.writer);
    for (size_t i = 0; i < ctx.owned_count; i++) {
        fg_tensor_free_host(ctx.owned[i]);
        free(ctx.owned[i]);
    }
    free(ctx.owned);
    fg_safetensors_close(golden);
    return err;
}

int cmd_probe(int argc, char **argv) {
    const char *component = NULL, *golden = NULL, *out = NULL, *model = NULL;
    probe_option_kv options[PROBE_MAX_OPTIONS];
    size_t n_options = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--golden") == 0 ? &golden
                            : strcmp(a, "--out") == 0  ? &out
                            : strcmp(a, "--model") == 0 ? &model
                                                        : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fluxgraph: probe: %s needs a value\n", a);
                return 2;
            }
            *slot = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1] == '-' && a[2] && i + 1 < argc && n_options < PROBE_MAX_OPTIONS) {
            for (size_t k = 0; k < n_options; k++)
                if (strcmp(options[k].name, a + 2) == 0) {
                    fprintf(stderr, "fluxgraph: probe: %s given twice\n", a);
                    return 2;
                }
            options[n_options++] = (probe_option_kv){.name = a + 2, .value = argv[++i]};
        } else if (a[0] == '-' || component) {
            fprintf(stderr, "fluxgraph: probe: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            component = a;
        }
    }
    if (!component || !golden || !out) {
        usage(stderr);
        return 2;
    }
    const probe_component *c = find_component(component);
    if (!c) {
        fprintf(stderr, "fluxgraph: error: probe: unknown component '%s'\n", component);
        usage(stderr);
        return 1;
    }
    int rc = cli_report(run_probe(c, golden, model, options, n_options, out));
    if (rc == 0) printf("probe %s: wrote %s\n", c->name, out);
    return rc;
}
