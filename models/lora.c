/* Opening a LoRA file: ComfyUI's convert_lora (the USO rule for XLabs-style processor keys; the
 * BFL control-LoRA converter is refused clearly), key lookups, what model a file was made for,
 * and the "not loaded" report. */
#include "models/lora_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static const fg_lora_file *g_sort_file; /* qsort has no context argument in C11 */

static int cmp_key_index(const void *a, const void *b) {
    return strcmp(g_sort_file->keys[*(const size_t *)a], g_sort_file->keys[*(const size_t *)b]);
}

long fg_lora_find_key(const fg_lora_file *f, const char *key) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->keys[f->sorted[mid]], key);
        if (c == 0) return (long)f->sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Python str.replace: every non-overlapping occurrence, left to right. */
static char *replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), count = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + fl, from)) count++;
    if (!count) return s;
    char *out = malloc(strlen(s) + count * tl + 1);
    if (!out) {
        free(s);
        return NULL;
    }
    char *w = out;
    const char *r = s;
    for (const char *p = strstr(r, from); p; p = strstr(r, from)) {
        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, to, tl);
        w += tl;
        r = p + fl;
    }
    strcpy(w, r);
    free(s);
    return out;
}

/* comfy/lora_convert.py convert_uso_lora. */
static char *uso_name(const char *key) {
    static const char *const rules[][2] = {
        {".down.weight", ".lora_down.weight"}, {".up.weight", ".lora_up.weight"},
        {".qkv_lora2.", ".txt_attn.qkv."},     {".qkv_lora1.", ".img_attn.qkv."},
        {".proj_lora1.", ".img_attn.proj."},   {".proj_lora2.", ".txt_attn.proj."},
        {".qkv_lora.", ".linear1_qkv."},       {".proj_lora.", ".linear2."},
        {".processor.", "."},
    };
    size_t len = strlen(key) + sizeof "diffusion_model.";
    char *s = malloc(len);
    if (!s) return NULL;
    snprintf(s, len, "diffusion_model.%s", key);
    for (size_t i = 0; s && i < sizeof rules / sizeof rules[0]; i++) s = replace_all(s, rules[i][0], rules[i][1]);
    return s;
}

static fg_error *convert_keys(fg_lora_file *f) {
    bool bfl_control = fg_safetensors_find(f->st, "img_in.lora_A.weight") &&
                       fg_safetensors_find(f->st, "single_blocks.0.norm.key_norm.scale");
    if (bfl_control)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "%s: a BFL control LoRA (FLUX Canny/Depth: img_in.lora_A.weight + norm scales); "
                         "this format is not supported yet",
                         fg_safetensors_path(f->st));
    f->converted = fg_safetensors_find(f->st, "single_blocks.37.processor.qkv_lora.up.weight") &&
                   fg_safetensors_find(f->st, "double_blocks.18.processor.qkv_lora2.up.weight");
    for (size_t i = 0; i < f->n; i++) {
        const char *name = fg_safetensors_entry(f->st, i)->name;
        f->keys[i] = f->converted ? uso_name(name) : strdup(name);
        if (!f->keys[i]) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", fg_safetensors_path(f->st));
    }
    return NULL;
}

fg_error *fg_lora_open(const char *path, fg_lora_file **out) {
    FG_CHECK_ARG(path && out, "fg_lora_open: NULL argument");
    fg_lora_file *f = calloc(1, sizeof *f);
    if (!f) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    fg_error *err = fg_safetensors_open(path, &f->st);
    if (!err) {
        f->n = fg_safetensors_count(f->st);
        f->keys = calloc(f->n ? f->n : 1, sizeof *f->keys);
        f->sorted = malloc((f->n ? f->n : 1) * sizeof *f->sorted);
        if (!f->keys || !f->sorted) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "%s", path);
    }
    if (!err) err = convert_keys(f);
    if (!err) {
        for (size_t i = 0; i < f->n; i++) f->sorted[i] = i;
        g_sort_file = f;
        qsort(f->sorted, f->n, sizeof *f->sorted, cmp_key_index);
        for (size_t i = 1; i < f->n && !err; i++)
            if (!strcmp(f->keys[f->sorted[i]], f->keys[f->sorted[i - 1]]))
                err = fg_errorf(FG_ERR_FORMAT, "%s: two keys convert to '%s'", path, f->keys[f->sorted[i]]);
    }
    if (err) {
        fg_lora_close(f);
        return fg_error_wrapf(err, "LoRA %s", path);
    }
    *out = f;
    return NULL;
}

void fg_lora_close(fg_lora_file *f) {
    if (!f) return;
    for (size_t i = 0; f->keys && i < f->n; i++) free(f->keys[i]);
    free(f->keys);
    free(f->sorted);
    fg_safetensors_close(f->st);
    free(f);
}

const char *fg_lora_path(const fg_lora_file *f) { return fg_safetensors_path(f->st); }
size_t fg_lora_key_count(const fg_lora_file *f) { return f->n; }
bool fg_lora_converted(const fg_lora_file *f) { return f->converted; }
const char *fg_lora_key(const fg_lora_file *f, size_t i) { return i < f->n ? f->keys[i] : NULL; }

fg_error *fg_lora_tensor(const fg_lora_file *f, const char *key, fg_tensor *out) {
    long i = fg_lora_find_key(f, key);
    if (i < 0) return fg_errorf(FG_ERR_NOT_FOUND, "%s: no tensor '%s'", fg_lora_path(f), key);
    return fg_safetensors_entry_tensor(f->st, fg_safetensors_entry(f->st, (size_t)i), out);
}

static bool any_key(const fg_lora_file *f, const char *needle) {
    for (size_t i = 0; i < f->n; i++)
        if (strstr(f->keys[i], needle)) return true;
    return false;
}

const char *fg_lora_intended_model(const fg_lora_file *f) {
    if (any_key(f, ".processor.qkv_lora") || any_key(f, ".processor.proj_lora"))
        return "XLabs-AI FLUX (processor keys; ComfyUI loads these only in the USO variant)";
    if (any_key(f, "double_blocks") || any_key(f, "single_blocks") || any_key(f, "single_transformer_blocks") ||
        any_key(f, "transformer_blocks.0.attn.add_q_proj") || any_key(f, "x_embedder"))
        return "FLUX";
    if (any_key(f, "joint_blocks")) return "SD3";
    if (any_key(f, "lora_te2_") || any_key(f, "add_embedding") || any_key(f, "label_emb")) return "SDXL";
    if (any_key(f, "down_blocks") || any_key(f, "input_blocks") || any_key(f, "lora_unet_down") ||
        any_key(f, "lora_unet_up") || any_key(f, "lora_unet_mid"))
        return "SD1.x/SD2.x";
    if (any_key(f, "base_model.model.")) return "a PEFT model (raw base_model.model. keys)";
    return "an unknown model";
}

static char *join_keys(const fg_lora_match *m, const char *open, const char *sep, const char *close) {
    size_t len = strlen(open) + strlen(close) + 1;
    for (size_t i = 0; i < m->n_not_loaded; i++) len += strlen(m->not_loaded[i]) + strlen(sep) + 2;
    char *s = malloc(len);
    if (!s) return NULL;
    char *w = s;
    w += sprintf(w, "%s", open);
    for (size_t i = 0; i < m->n_not_loaded; i++) w += sprintf(w, "%s\"%s\"", i ? sep : "", m->not_loaded[i]);
    sprintf(w, "%s", close);
    return s;
}

char *fg_lora_not_loaded_json(const fg_lora_match *m) { return join_keys(m, "[", ", ", "]"); }

fg_error *fg_lora_check_match(const fg_lora_file *f, const fg_lora_match *m, bool strict) {
    if (f->n == 0) return fg_errorf(FG_ERR_FORMAT, "LoRA %s holds no tensors", fg_lora_path(f));
    if (f->n > 0 && m->n_not_loaded == f->n)
        return fg_errorf(FG_ERR_UNSUPPORTED,
                         "LoRA %s: none of its %zu keys maps to a weight of the loaded models; "
                         "its keys look like a LoRA for %s",
                         fg_lora_path(f), f->n, fg_lora_intended_model(f));
    if (!m->n_not_loaded) return NULL;
    char *list = join_keys(m, "", ", ", "");
    fg_error *err = NULL;
    if (strict)
        err = fg_errorf(FG_ERR_FORMAT, "LoRA %s: %zu keys not loaded (--strict-lora): %s", fg_lora_path(f),
                        m->n_not_loaded, list ? list : "(out of memory)");
    else
        FG_LOG_W("LoRA %s: %zu keys not loaded: %s", fg_lora_path(f), m->n_not_loaded, list ? list : "(out of memory)");
    free(list);
    return err;
}
