/* Node context helpers: progress, cancellation and model lookup in a ComfyUI-style models
 * folder. A model name is hostile input: it must stay a relative path inside its folder, so
 * absolute names and ".." components are refused. Symlinks the user placed inside the folder
 * are followed wherever they lead, as ComfyUI follows them (folder_paths.recursive_search
 * walks with followlinks=True): sharing one checkpoint between installs is a symlink. */
#include "nodes/node_ctx.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/array.h"

#define MAX_LIST_DEPTH 16
#define MAX_LISTED 100000

void fg_node_progress(fg_node_ctx *ctx, int64_t value, int64_t max) {
    if (ctx && ctx->progress) ctx->progress(ctx->progress_user, ctx->node_id, value, max);
}

bool fg_node_cancelled(const fg_node_ctx *ctx) {
    return ctx && ctx->settings && ctx->settings->cancel_flag && *ctx->settings->cancel_flag;
}

fg_error *fg_node_cancel_error(const fg_node_ctx *ctx) {
    return fg_errorf(FG_ERR_CANCELLED, "node %s (%s): cancelled", ctx && ctx->node_id ? ctx->node_id : "?",
                     ctx && ctx->spec ? ctx->spec->class_type : "?");
}

void fg_string_list_free(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}

/* The folders of a source, relative to the models folder (or "" = the input folder). */
static int source_folders(fg_combo_source source, const char *folders[2]) {
    switch (source) {
    case FG_COMBO_CHECKPOINTS: folders[0] = "checkpoints"; return 1;
    case FG_COMBO_DIFFUSION_MODELS: folders[0] = "diffusion_models"; folders[1] = "unet"; return 2;
    case FG_COMBO_TEXT_ENCODERS: folders[0] = "text_encoders"; folders[1] = "clip"; return 2;
    case FG_COMBO_VAE: folders[0] = "vae"; return 1;
    case FG_COMBO_LORAS: folders[0] = "loras"; return 1;
    case FG_COMBO_INPUT_IMAGES: folders[0] = ""; return 1;
    default: return 0;
    }
}

static bool has_extension(const char *name, fg_combo_source source) {
    static const char *const model_ext[] = {".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", NULL};
    static const char *const image_ext[] = {".png", ".jpg", ".jpeg", ".webp", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    for (const char *const *e = source == FG_COMBO_INPUT_IMAGES ? image_ext : model_ext; *e; e++)
        if (strcasecmp(dot, *e) == 0) return true;
    return false;
}

static fg_error *root_of(const fg_run_settings *s, fg_combo_source source, const char *folder, char *out,
                         size_t cap) {
    const char *base = source == FG_COMBO_INPUT_IMAGES ? (s ? s->input_dir : NULL) : (s ? s->models_dir : NULL);
    if (!base || !*base)
        return fg_errorf(FG_ERR_NOT_FOUND, "no %s folder configured (use --%s DIR)",
                         source == FG_COMBO_INPUT_IMAGES ? "input" : "models",
                         source == FG_COMBO_INPUT_IMAGES ? "input" : "models");
    int n = *folder ? snprintf(out, cap, "%s/%s", base, folder) : snprintf(out, cap, "%s", base);
    if (n < 0 || (size_t)n >= cap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "folder path too long: %s", base);
    return NULL;
}

typedef struct name_list {
    char **items;
    size_t count, cap;
} name_list;

static fg_error *list_push(name_list *l, const char *name) {
    if (l->count >= MAX_LISTED) return NULL;
    /* room for the name and the NULL after it */
    if (!FG_ARRAY_RESERVE(l->items, l->cap, l->count + 1, 16)) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "listing models");
    if (!(l->items[l->count] = strdup(name))) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "listing models");
    l->count++;
    l->items[l->count] = NULL;
    return NULL;
}

/* The folders being walked, outermost first: a symlink back to one of them is not entered
 * again (ComfyUI would loop). */
typedef struct walk_stack {
    dev_t dev[MAX_LIST_DEPTH + 2];
    ino_t ino[MAX_LIST_DEPTH + 2];
    int n;
    long folders; /* folders entered so far, against MAX_LIST_FOLDERS */
} walk_stack;

/* Symlinks can fan out without ever closing a loop (each folder linking twice to the next):
 * 16 levels of that are 3^16 paths. No real models folder has this many subfolders. */
#define MAX_LIST_FOLDERS 4096

static bool on_stack(const walk_stack *w, const struct stat *st) {
    for (int i = 0; i < w->n; i++)
        if (w->dev[i] == st->st_dev && w->ino[i] == st->st_ino) return true;
    return false;
}

static fg_error *walk(const char *root, const char *rel, int depth, bool recursive, fg_combo_source source,
                      name_list *out, walk_stack *stack) {
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel) >= (int)sizeof dir) return NULL;
    DIR *d = opendir(dir);
    if (!d) return NULL; /* a missing folder simply holds nothing */
    fg_error *err = NULL;
    struct dirent *e;
    while (!err && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char child_rel[PATH_MAX], full[PATH_MAX];
        if (snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= (int)sizeof child_rel ||
            snprintf(full, sizeof full, "%s/%s", root, child_rel) >= (int)sizeof full)
            continue;
        struct stat st;
        if (stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (!recursive || depth >= MAX_LIST_DEPTH || on_stack(stack, &st)) continue;
            if (++stack->folders > MAX_LIST_FOLDERS) {
                err = fg_errorf(FG_ERR_INVALID_ARGUMENT,
                                "%s holds more than %d folders through its subfolders and symlinks (symlinks that "
                                "lead into each other?)",
                                root, MAX_LIST_FOLDERS);
                break;
            }
            stack->dev[stack->n] = st.st_dev, stack->ino[stack->n++] = st.st_ino;
            err = walk(root, child_rel, depth + 1, recursive, source, out, stack);
            stack->n--;
        } else if (S_ISREG(st.st_mode) && has_extension(e->d_name, source)) {
            err = list_push(out, child_rel);
        }
    }
    closedir(d);
    return err;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

fg_error *fg_node_list_models(const fg_run_settings *settings, fg_combo_source source, char ***names,
                              size_t *count) {
    FG_CHECK_ARG(names && count, "fg_node_list_models: NULL output");
    *names = NULL;
    *count = 0;
    const char *folders[2] = {"", ""};
    int nf = source_folders(source, folders);
    FG_CHECK_ARG(nf > 0, "fg_node_list_models: not a folder-backed option list");
    name_list l = {0};
    fg_error *err = NULL;
    for (int i = 0; i < nf && !err; i++) {
        char root[PATH_MAX];
        err = root_of(settings, source, folders[i], root, sizeof root);
        struct stat st;
        walk_stack stack = {.n = 0};
        if (!err && stat(root, &st) == 0) stack.dev[0] = st.st_dev, stack.ino[0] = st.st_ino, stack.n = 1;
        if (!err) err = walk(root, "", 0, source != FG_COMBO_INPUT_IMAGES, source, &l, &stack);
    }
    if (err) {
        fg_string_list_free(l.items);
        return err;
    }
    if (!l.items && !(l.items = calloc(1, sizeof *l.items)))
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "listing models");
    qsort(l.items, l.count, sizeof l.items[0], cmp_str);
    size_t w = 0; /* the same name in both alias folders is one option */
    for (size_t i = 0; i < l.count; i++) {
        if (w > 0 && strcmp(l.items[w - 1], l.items[i]) == 0)
            free(l.items[i]);
        else
            l.items[w++] = l.items[i];
    }
    l.items[w] = NULL;
    *names = l.items;
    *count = w;
    return NULL;
}

/* Relative, '/'-separated, no empty / "." / ".." components, no backslashes or controls. */
static bool safe_name(const char *name) {
    if (!name || !*name || name[0] == '/' || strlen(name) >= PATH_MAX / 2) return false;
    for (const char *p = name; *p; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20) return false;
    const char *c = name;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return false;
        c += n;
        if (*c == '/') c++;
        else break;
    }
    return name[strlen(name) - 1] != '/';
}

static fg_error *not_found(const fg_run_settings *settings, fg_combo_source source, const char *name,
                           const char *why) {
    const char *folders[2] = {"", ""};
    int nf = source_folders(source, folders);
    char **names = NULL;
    size_t count = 0;
    fg_error *lerr = fg_node_list_models(settings, source, &names, &count);
    fg_error_free(lerr);
    char avail[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof avail - 64; i++)
        used += (size_t)snprintf(avail + used, sizeof avail - used, "%s%s", i ? ", " : "", names[i]);
    if (count > 0 && used >= sizeof avail - 64) snprintf(avail + used, sizeof avail - used, ", ...");
    fg_string_list_free(names);
    const char *base = source == FG_COMBO_INPUT_IMAGES ? settings->input_dir : settings->models_dir;
    return fg_errorf(FG_ERR_NOT_FOUND, "%s '%s' %s in %s/%s%s%s: %s%s", source == FG_COMBO_INPUT_IMAGES ? "image" : "model",
                     name, why, base, folders[0], nf > 1 ? " or " : "", nf > 1 ? folders[1] : "",
                     count ? "the folder holds " : "the folder holds no ", count ? avail : "model files");
}

fg_error *fg_node_resolve_model(const fg_run_settings *settings, fg_combo_source source, const char *name,
                                char *path, size_t cap) {
    FG_CHECK_ARG(path && cap > 0, "fg_node_resolve_model: no output buffer");
    path[0] = 0;
    const char *folders[2] = {"", ""};
    int nf = source_folders(source, folders);
    FG_CHECK_ARG(nf > 0, "fg_node_resolve_model: not a folder-backed option list");
    if (!safe_name(name) || !has_extension(name, source))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT,
                         "invalid %s name '%s': names are relative paths inside the folder (no absolute "
                         "paths, no '..') with a known extension",
                         source == FG_COMBO_INPUT_IMAGES ? "image" : "model", name ? name : "(null)");
    for (int i = 0; i < nf; i++) {
        char root[PATH_MAX], full[PATH_MAX];
        FG_TRY(root_of(settings, source, folders[i], root, sizeof root));
        if (snprintf(full, sizeof full, "%s/%s", root, name) >= (int)sizeof full) continue;
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (strlen(full) >= cap) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "model path too long: %s", full);
        memcpy(path, full, strlen(full) + 1);
        return NULL;
    }
    return not_found(settings, source, name, "not found");
}
