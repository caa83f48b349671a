/* `fluxgraph mkmodel`: random-weight models in the exact layouts of the real files, written
 * into a ComfyUI-style models folder (or, with --list, just the layout in manifest format).
 * Lets the whole pipeline be exercised and benchmarked at full size without the 33 GB of
 * real weights. Tensors are generated while the file is written, one at a time. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/fs.h"
#include "models/model_layouts.h"
#include "core/log.h"
#include "core/safetensors.h"

static void mkmodel_usage(FILE *f) {
    fprintf(f,
            "usage: fluxgraph mkmodel --preset NAME [--seed N] DIR\n"
            "       fluxgraph mkmodel --list --preset NAME\n"
            "presets: %s\n"
            "Writes random weights in the real tensor layout under DIR/{diffusion_models,text_encoders,vae}/.\n",
            fg_preset_names());
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int print_layouts(const fg_preset_file *files, size_t nfiles) {
    for (size_t f = 0; f < nfiles; f++) {
        fg_layout layout = {0};
        fg_error *err = fg_layout_from_config(&files[f].config, &layout);
        if (err) return cli_report(err);
        printf("# manifest of %s: %zu tensors, %" PRIu64
               " parameters; format: name dtype shape(dims joined by x)\n",
               base_name(files[f].relpath), layout.count, fg_layout_params(&layout));
        char line[256];
        for (size_t i = 0; i < layout.count; i++) printf("%s\n", fg_layout_tensor_line(&layout.tensors[i], line, sizeof line));
        fg_layout_free(&layout);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* mkdir -p for the directory part of path (which lies below a caller-given root). */
static fg_error *make_parent_dirs(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    memcpy(buf, path, len + 1);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf) return NULL;
    *slash = '\0';
    return fg_make_dirs(buf);
}

typedef struct fill_ctx {
    const fg_layout_tensor *tensor;
    uint64_t seed;
} fill_ctx;

static fg_error *fill_tensor(void *ctx, const char *name, void *buf, size_t nbytes) {
    (void)name;
    const fill_ctx *c = ctx;
    return fg_layout_fill_random(c->tensor, c->seed, buf, nbytes);
}

static fg_error *add_all(fg_st_writer *w, const fg_layout *layout, fill_ctx *ctxs, uint64_t seed) {
    for (size_t i = 0; i < layout->count; i++) {
        const fg_layout_tensor *t = &layout->tensors[i];
        ctxs[i] = (fill_ctx){t, seed};
        FG_TRY(fg_st_writer_add_lazy(w, t->name, t->dtype, t->ndim, t->shape, fill_tensor, &ctxs[i]));
    }
    return NULL;
}

static fg_error *write_model(const char *path, const fg_layout *layout, const char *preset, uint64_t seed) {
    fill_ctx *ctxs = calloc(layout->count ? layout->count : 1, sizeof *ctxs);
    if (!ctxs) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    fg_st_writer *w = NULL;
    fg_error *err = fg_st_writer_create(&w);
    char seed_str[32];
    snprintf(seed_str, sizeof seed_str, "%" PRIu64, seed);
    if (!err) err = add_all(w, layout, ctxs, seed);
    if (!err) err = fg_st_writer_set_metadata(w, "fluxgraph_mkmodel", preset);
    if (!err) err = fg_st_writer_set_metadata(w, "seed", seed_str);
    if (!err) err = fg_st_writer_write(w, path);
    fg_st_writer_free(w);
    free(ctxs);
    return err;
}

static fg_error *write_preset(const char *dir, const char *preset, const fg_preset_file *files, size_t nfiles,
                              uint64_t seed) {
    for (size_t f = 0; f < nfiles; f++) {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, files[f].relpath);
        if (n < 0 || (size_t)n >= sizeof path) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s: path too long", dir);
        FG_TRY(make_parent_dirs(path));
        fg_layout layout = {0};
        FG_TRY(fg_layout_from_config(&files[f].config, &layout));
        FG_LOG_I("writing %s (%zu tensors, %.2f GB)", path, layout.count, (double)fg_layout_bytes(&layout) / 1e9);
        fg_error *err = write_model(path, &layout, preset, seed);
        if (!err) printf("wrote %s (%zu tensors, %.2f GB)\n", path, layout.count, (double)fg_layout_bytes(&layout) / 1e9);
        fg_layout_free(&layout);
        if (err) return err;
    }
    return NULL;
}

static int parse_seed(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cmd_mkmodel(int argc, char **argv) {
    const char *preset = NULL, *dir = NULL;
    uint64_t seed = 0;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--list") == 0) list = 1;
        else if (strcmp(a, "--preset") == 0 && i + 1 < argc) preset = argv[++i];
        else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            if (parse_seed(argv[++i], &seed) != 0) {
                fprintf(stderr, "fluxgraph mkmodel: --seed wants a non-negative integer, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            mkmodel_usage(stdout);
            return 0;
        } else if (a[0] == '-' || dir) {
            fprintf(stderr, "fluxgraph mkmodel: unexpected argument '%s'\n", a);
            mkmodel_usage(stderr);
            return 2;
        } else dir = a;
    }
    fg_preset_file files[FG_PRESET_MAX_FILES];
    size_t nfiles = fg_preset_files(preset, files);
    if (!preset || nfiles == 0) {
        if (preset) fprintf(stderr, "fluxgraph mkmodel: unknown preset '%s'\n", preset);
        else fprintf(stderr, "fluxgraph mkmodel: --preset is required\n");
        mkmodel_usage(stderr);
        return 2;
    }
    if (list) {
        if (dir) {
            fprintf(stderr, "fluxgraph mkmodel: --list writes nothing; drop '%s'\n", dir);
            return 2;
        }
        return print_layouts(files, nfiles);
    }
    if (!dir) {
        fprintf(stderr, "fluxgraph mkmodel: missing output DIR\n");
        mkmodel_usage(stderr);
        return 2;
    }
    return cli_report(write_preset(dir, preset, files, nfiles, seed));
}
