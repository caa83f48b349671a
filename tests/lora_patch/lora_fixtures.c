/* Rebuilds ComfyUI's patch lists for the LoRA fixtures: the expected file's `patched` metadata
 * names, per weight, the LoRA prefixes, adapter, strength, row offset and function; the tensors
 * come from the LoRA file under that prefix + the adapter's suffixes (README suffix list, first
 * match wins). Only the math is under test here: the key mapping has its own tests. */
#include "tests/lora_patch/lora_fixtures.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "models/lora_patch.h"
#include "tests/testing.h"

/* The LoRA file, with its keys renamed the way ComfyUI's convert_lora does when the file
 * triggers the USO rule. */
typedef struct lora_source {
    fg_safetensors *st;
    bool uso;
} lora_source;

static int replace_once(char *s, size_t cap, const char *from, const char *to) {
    char *at = strstr(s, from);
    if (!at) return 0;
    size_t lf = strlen(from), lt = strlen(to), ls = strlen(s);
    if (ls - lf + lt + 1 > cap) return -1;
    memmove(at + lt, at + lf, ls - (size_t)(at - s) - lf + 1);
    memcpy(at, to, lt);
    return 1;
}

int lora_uso_convert_key(const char *key, char *buf, size_t cap) {
    static const char *const renames[][2] = {
        {".processor.", "."},           {"qkv_lora1", "img_attn.qkv"}, {"qkv_lora2", "txt_attn.qkv"},
        {"proj_lora1", "img_attn.proj"}, {"proj_lora2", "txt_attn.proj"}, {"qkv_lora", "linear1_qkv"},
        {"proj_lora", "linear2"},        {".down.weight", ".lora_down.weight"}, {".up.weight", ".lora_up.weight"},
    };
    char tmp[512];
    if ((size_t)snprintf(tmp, sizeof tmp, "diffusion_model.%s", key) >= sizeof tmp) return 0;
    /* in this order the numbered forms go before their unnumbered prefixes */
    for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++)
        if (replace_once(tmp, sizeof tmp, renames[i][0], renames[i][1]) < 0) return 0;
    if (strlen(tmp) + 1 > cap) return 0;
    memcpy(buf, tmp, strlen(tmp) + 1);
    return 1;
}

static bool lora_has(const fg_safetensors *st, const char *key) { return fg_safetensors_find(st, key) != NULL; }

/* The tensor named `name` (after conversion), or t->data == NULL when absent. */
static fg_error *lora_tensor(const lora_source *src, const char *name, fg_tensor *t) {
    memset(t, 0, sizeof *t);
    if (!src->uso) {
        if (!fg_safetensors_find(src->st, name)) return NULL;
        return fg_safetensors_tensor(src->st, name, t);
    }
    for (size_t i = 0; i < fg_safetensors_count(src->st); i++) {
        const fg_st_entry *e = fg_safetensors_entry(src->st, i);
        char conv[512];
        if (lora_uso_convert_key(e->name, conv, sizeof conv) && strcmp(conv, name) == 0)
            return fg_safetensors_entry_tensor(src->st, e, t);
    }
    return NULL;
}

static fg_error *lora_tensor_suffix(const lora_source *src, const char *prefix, const char *suffix, fg_tensor *t) {
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, suffix) >= sizeof name)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "LoRA key '%s%s' too long", prefix, suffix);
    return lora_tensor(src, name, t);
}

static fg_error *lora_required(const lora_source *src, const char *prefix, const char *suffix, fg_tensor *t) {
    FG_TRY(lora_tensor_suffix(src, prefix, suffix, t));
    if (!t->data) return fg_errorf(FG_ERR_NOT_FOUND, "LoRA file has no '%s%s'", prefix, suffix);
    return NULL;
}

static fg_error *read_lora_pair(const lora_source *src, const char *prefix, fg_lora_patch *p) {
    static const char *const pairs[][2] = {
        {".lora_up.weight", ".lora_down.weight"},
        {"_lora.up.weight", "_lora.down.weight"},
        {".lora_B.weight", ".lora_A.weight"},
        {".lora.up.weight", ".lora.down.weight"},
        {".lora_B", ".lora_A"},
        {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"},
        {".lora_B.default.weight", ".lora_A.default.weight"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        FG_TRY(lora_tensor_suffix(src, prefix, pairs[i][0], &p->up));
        if (!p->up.data) continue;
        FG_TRY(lora_required(src, prefix, pairs[i][1], &p->down));
        if (i == 0) FG_TRY(lora_tensor_suffix(src, prefix, ".lora_mid.weight", &p->mid));
        return NULL;
    }
    return fg_errorf(FG_ERR_NOT_FOUND, "LoRA file has no up/down pair under '%s'", prefix);
}

static fg_error *read_adapter_tensors(const lora_source *src, const char *prefix, fg_lora_patch *p) {
    switch (p->adapter) {
    case FG_LORA_ADAPTER_LORA: FG_TRY(read_lora_pair(src, prefix, p)); break;
    case FG_LORA_ADAPTER_LOHA:
        FG_TRY(lora_required(src, prefix, ".hada_w1_a", &p->hada_w1_a));
        FG_TRY(lora_required(src, prefix, ".hada_w1_b", &p->hada_w1_b));
        FG_TRY(lora_required(src, prefix, ".hada_w2_a", &p->hada_w2_a));
        FG_TRY(lora_required(src, prefix, ".hada_w2_b", &p->hada_w2_b));
        break;
    case FG_LORA_ADAPTER_LOKR:
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w1", &p->lokr_w1));
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w1_a", &p->lokr_w1_a));
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w1_b", &p->lokr_w1_b));
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w2", &p->lokr_w2));
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w2_a", &p->lokr_w2_a));
        FG_TRY(lora_tensor_suffix(src, prefix, ".lokr_w2_b", &p->lokr_w2_b));
        break;
    default: return NULL;
    }
    fg_tensor alpha;
    FG_TRY(lora_tensor_suffix(src, prefix, ".alpha", &alpha));
    if (alpha.data) {
        if (fg_tensor_numel(&alpha) != 1 || !fg_dtype_is_float(alpha.dtype))
            return fg_errorf(FG_ERR_FORMAT, "'%s.alpha' is not a float scalar", prefix);
        float a;
        fg_convert_to_f32(&a, alpha.data, alpha.dtype, 1);
        p->has_alpha = true;
        p->alpha = a;
    }
    return lora_tensor_suffix(src, prefix, ".dora_scale", &p->dora_scale);
}

/* diff_b patches carry no prefix in the metadata: the layer's ComfyUI name is the prefix
 * (diffusion_model.<key> for the DiT, text_encoders.<clip key> for the text encoders). */
static fg_error *bias_prefix(const char *comfy_key, char *buf, size_t cap) {
    size_t n = strlen(comfy_key);
    if (n < 5 || strcmp(comfy_key + n - 5, ".bias") != 0)
        return fg_errorf(FG_ERR_FORMAT, "patch without a LoRA prefix on '%s', which is not a bias", comfy_key);
    const char *head = strncmp(comfy_key, "diffusion_model.", 16) == 0 ? "" : "text_encoders.";
    if ((size_t)snprintf(buf, cap, "%s%.*s", head, (int)(n - 5), comfy_key) >= cap)
        return fg_errorf(FG_ERR_FORMAT, "key '%s' too long", comfy_key);
    return NULL;
}

static fg_error *parse_adapter(const char *s, fg_lora_adapter *out) {
    static const struct { const char *name; fg_lora_adapter a; } names[] = {
        {"lora", FG_LORA_ADAPTER_LORA}, {"loha", FG_LORA_ADAPTER_LOHA}, {"lokr", FG_LORA_ADAPTER_LOKR},
        {"diff", FG_LORA_ADAPTER_DIFF}, {"set", FG_LORA_ADAPTER_SET},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].a;
            return NULL;
        }
    return fg_errorf(FG_ERR_FORMAT, "unknown adapter '%s'", s ? s : "(none)");
}

static fg_error *parse_offset_function(const json_t *jp, fg_lora_patch *p) {
    const json_t *off = json_object_get(jp, "offset");
    if (off && !json_is_null(off)) {
        if (!json_is_array(off) || json_array_size(off) != 3)
            return fg_errorf(FG_ERR_FORMAT, "offset is not [dim, start, length]");
        p->has_slice = true;
        p->slice_dim = (int)json_integer_value(json_array_get(off, 0));
        p->slice_start = json_integer_value(json_array_get(off, 1));
        p->slice_len = json_integer_value(json_array_get(off, 2));
    }
    const json_t *fn = json_object_get(jp, "function");
    if (fn && !json_is_null(fn)) {
        if (!json_is_string(fn) || strcmp(json_string_value(fn), "swap_scale_shift") != 0)
            return fg_errorf(FG_ERR_FORMAT, "unknown function");
        p->swap_scale_shift = true;
    }
    return NULL;
}

static fg_error *build_patch(const lora_source *src, const json_t *jp, const char *comfy_key, fg_lora_patch *p) {
    memset(p, 0, sizeof *p);
    FG_TRY(parse_adapter(json_string_value(json_object_get(jp, "adapter")), &p->adapter));
    const json_t *strength = json_object_get(jp, "strength");
    if (!json_is_number(strength)) return fg_errorf(FG_ERR_FORMAT, "patch without a strength");
    p->strength = json_number_value(strength);
    FG_TRY(parse_offset_function(jp, p));
    const json_t *prefixes = json_object_get(jp, "lora_prefix");
    char prefix[512];
    bool is_bias = false;
    if (json_is_array(prefixes) && json_array_size(prefixes) > 0) {
        const char *s = json_string_value(json_array_get(prefixes, 0));
        if (!s || strlen(s) >= sizeof prefix) return fg_errorf(FG_ERR_FORMAT, "bad lora_prefix");
        strcpy(prefix, s);
    } else {
        FG_TRY(bias_prefix(comfy_key, prefix, sizeof prefix));
        is_bias = true;
    }
    if (p->adapter == FG_LORA_ADAPTER_DIFF)
        return lora_required(src, prefix, is_bias ? ".diff_b" : ".diff", &p->value);
    if (p->adapter == FG_LORA_ADAPTER_SET) return lora_required(src, prefix, ".set_weight", &p->value);
    return read_adapter_tensors(src, prefix, p);
}

/* The base weight from tests/fixtures/models/<folder>/<model>, widened to f32. */
static fg_error *load_base(const char *model, const char *key, fg_tensor *out) {
    static const char *const folders[] = {"diffusion_models", "text_encoders"};
    for (size_t i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s/%s", folders[i], model);
        const char *path = test_fixture(rel);
        if (access(path, R_OK) != 0) continue;
        fg_safetensors *st = NULL;
        FG_TRY(fg_safetensors_open(path, &st));
        fg_tensor t;
        fg_error *err = fg_safetensors_tensor(st, key, &t);
        if (!err) err = fg_tensor_alloc_host(out, FG_F32, t.ndim, t.shape);
        if (!err) fg_convert_to_f32(out->data, t.data, t.dtype, (size_t)fg_tensor_numel(&t));
        fg_safetensors_close(st);
        return err;
    }
    return fg_errorf(FG_ERR_NOT_FOUND, "no base model '%s' under tests/fixtures/models", model);
}

static double max_abs_diff(const fg_tensor *a, const fg_tensor *expected_f32) {
    const float *x = a->data, *y = expected_f32->data;
    double m = 0.0;
    for (int64_t i = 0; i < fg_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

/* Applies the weight's patches and compares with the expected tensor. */
static fg_error *check_weight(const lora_source *src, const fg_safetensors *expected, const char *key,
                              const json_t *info, lora_fixture_result *res) {
    const char *model = json_string_value(json_object_get(info, "model"));
    const char *comfy_key = json_string_value(json_object_get(info, "comfy_key"));
    const json_t *jpatches = json_object_get(info, "patches");
    if (!model || !comfy_key || !json_is_array(jpatches) || json_array_size(jpatches) == 0)
        return fg_errorf(FG_ERR_FORMAT, "incomplete metadata");
    size_t n = json_array_size(jpatches);
    fg_lora_patch *patches = calloc(n, sizeof *patches);
    fg_tensor w = {0}, want;
    fg_error *err = patches ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "patch list");
    for (size_t i = 0; !err && i < n; i++) err = build_patch(src, json_array_get(jpatches, i), comfy_key, &patches[i]);
    if (!err) err = load_base(model, key, &w);
    if (!err) err = fg_safetensors_tensor(expected, key, &want);
    if (!err && (want.dtype != FG_F32 || !fg_tensor_same_shape(&w, &want)))
        err = fg_errorf(FG_ERR_FORMAT, "expected tensor is not F32 of the base weight's shape");
    if (!err) err = fg_lora_apply_patches(&w, patches, n, key);
    if (!err) {
        double d = max_abs_diff(&w, &want);
        res->weights++;
        res->patches += n;
        if (!(d <= res->max_abs)) {
            res->max_abs = d;
            snprintf(res->worst, sizeof res->worst, "%s", key);
        }
    }
    fg_tensor_free_host(&w);
    free(patches);
    return err;
}

/* Every expected tensor but the c0_* forward data must be a patched weight, and vice versa. */
static fg_error *check_coverage(const fg_safetensors *expected, const json_t *patched) {
    size_t tensors = 0;
    for (size_t i = 0; i < fg_safetensors_count(expected); i++) {
        const char *name = fg_safetensors_entry(expected, i)->name;
        if (strncmp(name, "c0_", 3) == 0) continue;
        tensors++;
        if (!json_object_get(patched, name))
            return fg_errorf(FG_ERR_FORMAT, "expected tensor '%s' is not in the patched metadata", name);
    }
    if (tensors != json_object_size(patched))
        return fg_errorf(FG_ERR_FORMAT, "%zu expected tensors but %zu patched weights", tensors,
                         json_object_size(patched));
    return NULL;
}

static fg_error *check_all(const lora_source *src, const fg_safetensors *expected, lora_fixture_result *res) {
    const char *text = fg_safetensors_metadata(expected, "patched");
    if (!text) return fg_errorf(FG_ERR_FORMAT, "no 'patched' metadata");
    json_error_t jerr;
    json_t *patched = json_loads(text, 0, &jerr);
    if (!json_is_object(patched)) {
        json_decref(patched);
        return fg_errorf(FG_ERR_FORMAT, "'patched' metadata: %s", jerr.text);
    }
    fg_error *err = check_coverage(expected, patched);
    const char *key;
    json_t *info;
    json_object_foreach(patched, key, info) {
        if (err) break;
        err = fg_error_wrapf(check_weight(src, expected, key, info, res), "weight '%s'", key);
    }
    json_decref(patched);
    return err;
}

fg_error *lora_fixture_check(const char *name, lora_fixture_result *res) {
    memset(res, 0, sizeof *res);
    char rel[256];
    lora_source src = {0};
    fg_safetensors *expected = NULL;
    snprintf(rel, sizeof rel, "lora/%s.safetensors", name);
    FG_TRY(fg_safetensors_open(test_fixture(rel), &src.st));
    src.uso = lora_has(src.st, "single_blocks.37.processor.qkv_lora.up.weight") &&
              lora_has(src.st, "double_blocks.18.processor.qkv_lora2.up.weight");
    snprintf(rel, sizeof rel, "lora/expected/%s.safetensors", name);
    fg_error *err = fg_safetensors_open(test_fixture(rel), &expected);
    if (!err) err = check_all(&src, expected, res);
    fg_safetensors_close(expected);
    fg_safetensors_close(src.st);
    return fg_error_wrapf(err, "LoRA fixture '%s'", name);
}
