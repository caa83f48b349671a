/* `fluxgraph info FILE.safetensors [--json | --tensors]`: what a weights file holds (tensors, dtypes,
 * parameters, metadata keys) and which model it is, with the hyper-parameters its shapes
 * imply. Any file the strict reader rejects gives one error line and exit status 1. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "models/lora_info.h"
#include "models/model_kind.h"
#include "core/safetensors.h"

typedef struct dtype_stats {
    uint64_t count[FG_DTYPE_COUNT], bytes[FG_DTYPE_COUNT];
    uint64_t tensors, params;
} dtype_stats;

static void gather(const fg_safetensors *st, dtype_stats *s) {
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        uint64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (uint64_t)e->shape[d];
        if ((unsigned)e->dtype < FG_DTYPE_COUNT) {
            s->count[e->dtype]++;
            s->bytes[e->dtype] += e->end - e->begin;
        }
        s->tensors++;
        s->params += numel;
    }
}

/* Names and metadata come from the file: print them without control characters. */
static void put_text(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
}

static void put_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* ---- text output ------------------------------------------------------------------------ */

static void text_layout(const fg_model_component *c) {
    printf("    layout:     ");
    if (!c->layout_checked) put_text(stdout, c->layout_problem);
    else if (!c->layout_missing && !c->layout_mismatched)
        printf("matches the %s layout of this config (%zu extra tensors)", fg_model_family_name(c->family),
               c->layout_extra);
    else {
        printf("%zu missing, %zu with unexpected shape, %zu extra (first: ", c->layout_missing,
               c->layout_mismatched, c->layout_extra);
        put_text(stdout, c->layout_problem);
        printf(")");
    }
    printf("\n");
}

static void print_text(const char *path, long long size, const fg_safetensors *st, const dtype_stats *s,
                       const fg_model_kind *k) {
    printf("file:         ");
    put_text(stdout, path);
    printf("\nsize:         %lld bytes (%.2f GB)\n", size, (double)size / 1e9);
    printf("tensors:      %" PRIu64 "\nparameters:   %" PRIu64 " (%.3f B)\ndtypes:\n", s->tensors, s->params,
           (double)s->params / 1e9);
    for (int d = 0; d < FG_DTYPE_COUNT; d++)
        if (s->count[d])
            printf("  %-8s %8" PRIu64 " tensors %16" PRIu64 " bytes\n", fg_dtype_name((fg_dtype)d), s->count[d],
                   s->bytes[d]);
    printf("kind:         ");
    put_text(stdout, k->kind);
    printf("\n");
    for (size_t i = 0; i < k->ncomponents; i++) {
        const fg_model_component *c = &k->components[i];
        char hp[512];
        printf("  component:  ");
        put_text(stdout, c->kind);
        printf("\n    prefix:     ");
        if (c->prefix[0]) put_text(stdout, c->prefix);
        else printf("(none)");
        printf("\n    names:      %s\n", c->diffusers ? "diffusers" : "native");
        printf("    tensors:    %zu (%" PRIu64 " parameters)\n", c->tensors, c->params);
        printf("    hparams:    %s\n", fg_model_component_hparams(c, hp, sizeof hp));
        text_layout(c);
    }
    if (k->other_tensors) printf("other tensors: %zu (no known component)\n", k->other_tensors);
    size_t nmeta = fg_safetensors_metadata_count(st);
    printf("metadata:     %zu keys", nmeta);
    for (size_t i = 0; i < nmeta; i++) {
        const char *key = NULL, *value = NULL;
        fg_safetensors_metadata_at(st, i, &key, &value);
        printf(i ? ", " : ": ");
        put_text(stdout, key ? key : "");
    }
    printf("\n");
}

/* ---- JSON output ------------------------------------------------------------------------ */

static void json_hparams(const fg_model_component *comp) {
    const fg_model_config *mc = &comp->config;
    switch (comp->family) {
    case FG_FAMILY_FLUX: {
        const fg_flux_config *c = &mc->u.flux;
        printf("{\"hidden\": %lld, \"num_heads\": %lld, \"head_dim\": %lld, \"depth\": %lld, \"depth_single_blocks\": "
               "%lld, \"in_channels\": %lld, \"out_channels\": %lld, \"context_in_dim\": %lld, \"vec_in_dim\": %lld, "
               "\"mlp_hidden\": %lld, \"guidance_embed\": %s, \"qkv_bias\": %s}",
               (long long)c->hidden, (long long)c->num_heads, (long long)(c->num_heads ? c->hidden / c->num_heads : 0),
               (long long)c->depth, (long long)c->depth_single, (long long)c->in_channels, (long long)c->out_channels,
               (long long)c->context_in_dim, (long long)c->vec_in_dim, (long long)c->mlp_hidden,
               c->guidance_embed ? "true" : "false", c->qkv_bias ? "true" : "false");
        break;
    }
    case FG_FAMILY_CLIP: {
        const fg_clip_config *c = &mc->u.clip;
        printf("{\"hidden\": %lld, \"layers\": %lld, \"heads\": %lld, \"intermediate\": %lld, \"vocab\": %lld, "
               "\"positions\": %lld, \"text_projection\": %s}",
               (long long)c->hidden, (long long)c->layers, (long long)c->heads, (long long)c->intermediate,
               (long long)c->vocab, (long long)c->positions, c->text_projection ? "true" : "false");
        break;
    }
    case FG_FAMILY_T5: {
        const fg_t5_config *c = &mc->u.t5;
        printf("{\"d_model\": %lld, \"layers\": %lld, \"heads\": %lld, \"d_kv\": %lld, \"d_ff\": %lld, \"vocab\": %lld, "
               "\"buckets\": %lld}",
               (long long)c->d_model, (long long)c->layers, (long long)c->heads, (long long)c->d_kv, (long long)c->d_ff,
               (long long)c->vocab, (long long)c->buckets);
        break;
    }
    case FG_FAMILY_AE: {
        const fg_ae_config *c = &mc->u.ae;
        printf("{\"ch\": %lld, \"ch_mult\": [", (long long)c->ch);
        for (int64_t i = 0; i < c->levels; i++) printf(i ? ", %lld" : "%lld", (long long)c->ch_mult[i]);
        printf("], \"z_channels\": %lld, \"num_res_blocks\": %lld, \"in_channels\": %lld, \"out_ch\": %lld}",
               (long long)c->z_channels, (long long)c->num_res_blocks, (long long)c->in_channels, (long long)c->out_ch);
        break;
    }
    default: printf("{}"); break;
    }
}

static void json_component(const fg_model_component *c) {
    printf("{\"family\": \"%s\", \"kind\": ", fg_model_family_name(c->family));
    put_json_string(stdout, c->kind);
    printf(", \"prefix\": ");
    put_json_string(stdout, c->prefix);
    printf(", \"names\": \"%s\", \"tensors\": %zu, \"parameters\": %" PRIu64 ", \"hparams\": ",
           c->diffusers ? "diffusers" : "native", c->tensors, c->params);
    json_hparams(c);
    printf(", \"layout\": {\"checked\": %s, \"missing\": %zu, \"mismatched\": %zu, \"extra\": %zu, \"problem\": ",
           c->layout_checked ? "true" : "false", c->layout_missing, c->layout_mismatched, c->layout_extra);
    put_json_string(stdout, c->layout_problem);
    printf("}}");
}

static void print_json(const char *path, long long size, const fg_safetensors *st, const dtype_stats *s,
                       const fg_model_kind *k) {
    printf("{\"file\": ");
    put_json_string(stdout, path);
    printf(", \"size\": %lld, \"tensors\": %" PRIu64 ", \"parameters\": %" PRIu64 ", \"dtypes\": {", size, s->tensors,
           s->params);
    for (int d = 0, first = 1; d < FG_DTYPE_COUNT; d++) {
        if (!s->count[d]) continue;
        printf("%s\"%s\": {\"tensors\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", first ? "" : ", ",
               fg_dtype_name((fg_dtype)d), s->count[d], s->bytes[d]);
        first = 0;
    }
    printf("}, \"kind\": ");
    put_json_string(stdout, k->kind);
    printf(", \"components\": [");
    for (size_t i = 0; i < k->ncomponents; i++) {
        if (i) printf(", ");
        json_component(&k->components[i]);
    }
    printf("], \"other_tensors\": %zu, \"metadata_keys\": [", k->other_tensors);
    for (size_t i = 0; i < fg_safetensors_metadata_count(st); i++) {
        const char *key = NULL, *value = NULL;
        fg_safetensors_metadata_at(st, i, &key, &value);
        if (i) printf(", ");
        put_json_string(stdout, key ? key : "");
    }
    printf("]}\n");
}

/* The manifest format of `mkmodel --list` ("name DTYPE 3072x64", data-offset order), so a
 * file can be compared with a generated layout. */
static void print_tensors(const char *path, const fg_safetensors *st, const dtype_stats *s) {
    const char *base = strrchr(path, '/');
    printf("# manifest of ");
    put_text(stdout, base ? base + 1 : path);
    printf(": %" PRIu64 " tensors, %" PRIu64 " parameters; format: name dtype shape(dims joined by x)\n", s->tensors,
           s->params);
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        put_text(stdout, e->name);
        printf(" %s ", fg_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) printf(d ? "x%lld" : "%lld", (long long)e->shape[d]);
        printf("\n");
    }
}

/* ---- LoRA files ---------------------------------------------------------------------------- */

static void print_lora_text(const fg_lora_info *l) {
    printf("LoRA format:  %s\nmade for:     %s\nlayers:       %zu", l->format, l->model, l->n_layers);
    if (l->rank_max) printf(l->rank_min == l->rank_max ? ", rank %lld" : ", rank %lld..%lld", (long long)l->rank_min,
                            (long long)l->rank_max);
    printf("\n");
    for (size_t i = 0; i < l->n_layers; i++) {
        const fg_lora_layer_info *y = &l->layers[i];
        printf("  ");
        put_text(stdout, y->prefix);
        printf("  %s", y->adapter ? y->adapter : "(no adapter)");
        if (y->rank) printf(" rank %lld", (long long)y->rank);
        if (y->has_alpha) printf(" alpha %g", y->alpha);
        else if (y->adapter && strcmp(y->adapter, "diff") && strcmp(y->adapter, "set")) printf(" no alpha (scale 1)");
        if (y->dora) printf(" + DoRA");
        printf("\n");
    }
}

static void print_lora_json(const fg_lora_info *l) {
    printf("{\"lora\": {\"format\": ");
    put_json_string(stdout, l->format);
    printf(", \"model\": ");
    put_json_string(stdout, l->model);
    printf(", \"rank_min\": %lld, \"rank_max\": %lld, \"layers\": [", (long long)l->rank_min, (long long)l->rank_max);
    for (size_t i = 0; i < l->n_layers; i++) {
        const fg_lora_layer_info *y = &l->layers[i];
        printf("%s{\"prefix\": ", i ? ", " : "");
        put_json_string(stdout, y->prefix);
        printf(", \"adapter\": ");
        put_json_string(stdout, y->adapter ? y->adapter : "");
        printf(", \"rank\": %lld, \"alpha\": ", (long long)y->rank);
        if (y->has_alpha) printf("%.9g", y->alpha);
        else printf("null");
        printf(", \"dora\": %s}", y->dora ? "true" : "false");
    }
    printf("]}}\n");
}

/* A file with no model component that reads as a LoRA: its summary replaces the model one. */
static bool try_lora(const char *path, int json) {
    fg_lora_info info;
    fg_error *err = fg_lora_info_read(path, &info);
    if (err) {
        fg_error_free(err);
        return false;
    }
    bool is = info.is_lora;
    if (is && json) print_lora_json(&info);
    else if (is) print_lora_text(&info);
    fg_lora_info_free(&info);
    return is;
}

/* ---- command ------------------------------------------------------------------------------ */

/* "fluxgraph: error: <file>: <reason>" on one line, whatever the reason contains. */
static int report_file_error(const char *path, fg_error *err) {
    const char *msg = fg_error_message(err);
    fprintf(stderr, "fluxgraph: error: ");
    if (strncmp(msg, path, strlen(path)) != 0) {
        put_text(stderr, path);
        fprintf(stderr, ": ");
    }
    put_text(stderr, msg);
    fprintf(stderr, "\n");
    fg_error_free(err);
    return 1;
}

#define INFO_USAGE                                                                         \
    "usage: fluxgraph info FILE.safetensors [--json | --tensors]\n"                        \
    "  --json     machine-readable summary\n"                                             \
    "  --tensors  every tensor as \"name DTYPE shape\" (the format of mkmodel --list)\n"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, tensors = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--tensors") == 0) tensors = 1;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "fluxgraph info: unexpected argument '%s'\n%s", argv[i], INFO_USAGE);
            return 2;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "%s", INFO_USAGE);
        return 2;
    }
    fg_safetensors *st = NULL;
    fg_error *err = fg_safetensors_open(path, &st);
    if (err) return report_file_error(path, err);
    struct stat sb;
    long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
    dtype_stats stats;
    gather(st, &stats);
    fg_model_kind kind;
    err = fg_model_kind_detect(st, &kind);
    if (!err) {
        if (tensors) print_tensors(path, st, &stats);
        else if (kind.ncomponents == 0 && json && try_lora(path, json)) {
        } else if (json) print_json(path, size, st, &stats, &kind);
        else {
            print_text(path, size, st, &stats, &kind);
            if (kind.ncomponents == 0) try_lora(path, json);
        }
    }
    fg_safetensors_close(st);
    if (err) return report_file_error(path, err);
    return fflush(stdout) == 0 ? 0 : 1;
}
