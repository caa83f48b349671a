/* ComfyUI's load_lora + ModelPatcher.add_patches: for every prefix of the key map (in order)
 * the adapter found under it (first suffix form wins; a later adapter kind replaces an earlier
 * one, as ComfyUI's loop does), then alpha / dora_scale / diff / diff_b / set_weight; a target
 * met twice keeps its first position and the last patch. Every file key nothing used is "not
 * loaded", in file order. */
#include "models/lora_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"

typedef struct matcher {
    const fg_lora_file *f;
    bool *used;
    fg_lora_match *out;
    size_t cap;
} matcher;

/* The tensor "<prefix><suffix>" when present (marks it used when `use`). */
static fg_error *lookup(matcher *mt, const char *prefix, const char *suffix, bool use, fg_tensor *t, bool *found) {
    char key[1200];
    *found = false;
    if (snprintf(key, sizeof key, "%s%s", prefix, suffix) >= (int)sizeof key) return NULL;
    long i = fg_lora_find_key(mt->f, key);
    if (i < 0) return NULL;
    *found = true;
    if (use) mt->used[i] = true;
    return fg_lora_tensor(mt->f, key, t);
}

static fg_error *need(matcher *mt, const char *prefix, const char *suffix, fg_tensor *t) {
    bool found;
    FG_TRY(lookup(mt, prefix, suffix, true, t, &found));
    if (!found) return fg_errorf(FG_ERR_FORMAT, "LoRA %s: '%s%s' is missing (its partner key is present)",
                                 fg_lora_path(mt->f), prefix, suffix);
    return NULL;
}

static fg_error *opt(matcher *mt, const char *prefix, const char *suffix, fg_tensor *t) {
    bool found;
    *t = (fg_tensor){0};
    return lookup(mt, prefix, suffix, true, t, &found);
}

static fg_error *scalar_value(const fg_lora_file *f, const char *key, const fg_tensor *t, double *v) {
    if (fg_tensor_numel(t) != 1) return fg_errorf(FG_ERR_FORMAT, "LoRA %s: '%s' is not a scalar", fg_lora_path(f), key);
    switch (t->dtype) {
    case FG_F32: *v = *(const float *)t->data; return NULL;
    case FG_BF16: *v = fg_bf16_to_f32(*(const uint16_t *)t->data); return NULL;
    case FG_F16: *v = fg_f16_to_f32(*(const uint16_t *)t->data); return NULL;
    case FG_I64: *v = (double)*(const int64_t *)t->data; return NULL;
    case FG_I32: *v = *(const int32_t *)t->data; return NULL;
    default: return fg_errorf(FG_ERR_FORMAT, "LoRA %s: '%s' has dtype %s", fg_lora_path(f), key, fg_dtype_name(t->dtype));
    }
}

static const char *const lora_forms[][2] = {
    {".lora_up.weight", ".lora_down.weight"}, {"_lora.up.weight", "_lora.down.weight"},
    {".lora_B.weight", ".lora_A.weight"},     {".lora.up.weight", ".lora.down.weight"},
    {".lora_B", ".lora_A"},                   {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"},
    {".lora_B.default.weight", ".lora_A.default.weight"},
};

/* The adapter under prefix x (LoRA, then LoHa, then LoKr; the last found wins). */
static fg_error *find_adapter(matcher *mt, const char *x, fg_lora_patch *p, bool *found) {
    fg_tensor t;
    bool has;
    *found = false;
    for (size_t k = 0; k < sizeof lora_forms / sizeof lora_forms[0]; k++) {
        FG_TRY(lookup(mt, x, lora_forms[k][0], false, &t, &has));
        if (!has) continue;
        FG_TRY(need(mt, x, lora_forms[k][0], &p->up));
        FG_TRY(need(mt, x, lora_forms[k][1], &p->down));
        FG_TRY(opt(mt, x, ".lora_mid.weight", &p->mid));
        p->adapter = FG_LORA_ADAPTER_LORA;
        *found = true;
        break;
    }
    FG_TRY(lookup(mt, x, ".hada_w1_a", false, &t, &has));
    if (has) {
        FG_TRY(need(mt, x, ".hada_w1_a", &p->hada_w1_a));
        FG_TRY(need(mt, x, ".hada_w1_b", &p->hada_w1_b));
        FG_TRY(need(mt, x, ".hada_w2_a", &p->hada_w2_a));
        FG_TRY(need(mt, x, ".hada_w2_b", &p->hada_w2_b));
        p->adapter = FG_LORA_ADAPTER_LOHA;
        *found = true;
    }
    fg_tensor w1, w2, w1a, w2a, w1b, w2b;
    FG_TRY(opt(mt, x, ".lokr_w1", &w1));
    FG_TRY(opt(mt, x, ".lokr_w2", &w2));
    FG_TRY(opt(mt, x, ".lokr_w1_a", &w1a));
    FG_TRY(opt(mt, x, ".lokr_w1_b", &w1b));
    FG_TRY(opt(mt, x, ".lokr_w2_a", &w2a));
    FG_TRY(opt(mt, x, ".lokr_w2_b", &w2b));
    if (w1.data || w2.data || w1a.data || w2a.data) {
        p->lokr_w1 = w1, p->lokr_w2 = w2, p->lokr_w1_a = w1a, p->lokr_w1_b = w1b;
        p->lokr_w2_a = w2a, p->lokr_w2_b = w2b;
        p->adapter = FG_LORA_ADAPTER_LOKR;
        *found = true;
    }
    return NULL;
}

/* patch_dict[target] = patch: replaces a patch of the same target in place, else appends. */
static fg_error *put_patch(matcher *mt, const fg_lora_map_entry *e, const char *weight, const fg_lora_patch *p) {
    fg_lora_match *o = mt->out;
    for (size_t i = 0; i < o->n_patches; i++) {
        fg_lora_weight_patch *q = &o->patches[i];
        if (q->model == e->model && !strcmp(q->weight, weight) && q->patch.has_slice == p->has_slice &&
            q->patch.slice_start == p->slice_start && q->patch.slice_len == p->slice_len &&
            q->patch.swap_scale_shift == p->swap_scale_shift) {
            char *prefix = strdup(e->prefix);
            if (!prefix) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA patches");
            free(q->prefix);
            q->prefix = prefix;
            q->patch = *p;
            return NULL;
        }
    }
    if (!FG_ARRAY_RESERVE(o->patches, mt->cap, o->n_patches, 64)) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA patches");
    fg_lora_weight_patch *q = &o->patches[o->n_patches];
    *q = (fg_lora_weight_patch){.model = e->model, .weight = strdup(weight), .prefix = strdup(e->prefix), .patch = *p};
    if (!q->weight || !q->prefix) {
        free(q->weight);
        free(q->prefix);
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA patches");
    }
    o->n_patches++;
    return NULL;
}

static fg_error *put_diff(matcher *mt, const fg_lora_map_entry *e, const fg_weights *w, const char *suffix,
                          fg_lora_adapter kind, bool bias, double strength) {
    fg_tensor v;
    FG_TRY(opt(mt, e->prefix, suffix, &v));
    if (!v.data) return NULL;
    fg_lora_patch p = {.adapter = kind, .strength = strength, .value = v};
    if (!bias) {
        p.has_slice = e->has_slice, p.slice_dim = 0, p.slice_start = e->slice_start, p.slice_len = e->slice_len;
        p.swap_scale_shift = e->swap_scale_shift;
        return put_patch(mt, e, e->weight, &p);
    }
    /* "<layer>.bias" of a plain weight target; ComfyUI drops it for sliced targets. */
    size_t len = strlen(e->weight);
    if (e->has_slice || e->swap_scale_shift || len < 7 || strcmp(e->weight + len - 7, ".weight")) return NULL;
    char bias_name[1024];
    snprintf(bias_name, sizeof bias_name, "%.*s.bias", (int)(len - 7), e->weight);
    if (!fg_weights_has(w, bias_name)) return NULL;
    return put_patch(mt, e, bias_name, &p);
}

static fg_error *match_entry(matcher *mt, const fg_lora_map_entry *e, const fg_weights *w, double strength) {
    fg_lora_patch p = {.strength = strength};
    fg_tensor alpha;
    FG_TRY(opt(mt, e->prefix, ".alpha", &alpha));
    if (alpha.data) {
        FG_TRY(scalar_value(mt->f, e->prefix, &alpha, &p.alpha));
        p.has_alpha = true;
    }
    FG_TRY(opt(mt, e->prefix, ".dora_scale", &p.dora_scale));
    bool found;
    FG_TRY(find_adapter(mt, e->prefix, &p, &found));
    if (found) {
        p.has_slice = e->has_slice, p.slice_dim = 0, p.slice_start = e->slice_start, p.slice_len = e->slice_len;
        p.swap_scale_shift = e->swap_scale_shift;
        FG_TRY(put_patch(mt, e, e->weight, &p));
    }
    FG_TRY(put_diff(mt, e, w, ".w_norm", FG_LORA_ADAPTER_DIFF, false, strength));
    FG_TRY(put_diff(mt, e, w, ".b_norm", FG_LORA_ADAPTER_DIFF, true, strength));
    FG_TRY(put_diff(mt, e, w, ".diff", FG_LORA_ADAPTER_DIFF, false, strength));
    FG_TRY(put_diff(mt, e, w, ".diff_b", FG_LORA_ADAPTER_DIFF, true, strength));
    return put_diff(mt, e, w, ".set_weight", FG_LORA_ADAPTER_SET, false, strength);
}

static fg_error *collect_not_loaded(matcher *mt) {
    fg_lora_match *o = mt->out;
    size_t n = 0;
    for (size_t i = 0; i < mt->f->n; i++) n += !mt->used[i];
    o->not_loaded = calloc(n ? n : 1, sizeof *o->not_loaded);
    if (!o->not_loaded) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA");
    for (size_t i = 0; i < mt->f->n; i++) {
        if (mt->used[i]) continue;
        o->not_loaded[o->n_not_loaded] = strdup(mt->f->keys[i]);
        if (!o->not_loaded[o->n_not_loaded]) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA");
        o->n_not_loaded++;
    }
    return NULL;
}

fg_error *fg_lora_match_models(const fg_lora_file *f, const fg_lora_models *models, double strength_model,
                               double strength_clip, fg_lora_match *out) {
    FG_CHECK_ARG(f && models && out, "fg_lora_match_models: NULL argument");
    *out = (fg_lora_match){0};
    fg_lora_map map;
    FG_TRY(fg_lora_map_build(models, &map));
    matcher mt = {.f = f, .used = calloc(f->n ? f->n : 1, sizeof(bool)), .out = out};
    fg_error *err = mt.used ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "LoRA");
    for (size_t i = 0; i < map.n && !err; i++) {
        const fg_lora_map_entry *e = &map.e[i];
        double s = e->model == FG_LORA_MODEL_DIT ? strength_model : strength_clip;
        err = match_entry(&mt, e, models->model[e->model], s);
    }
    if (!err) err = collect_not_loaded(&mt);
    free(mt.used);
    fg_lora_map_free(&map);
    if (err) {
        fg_lora_match_free(out);
        return fg_error_wrapf(err, "LoRA %s", fg_lora_path(f));
    }
    return NULL;
}

void fg_lora_match_free(fg_lora_match *m) {
    for (size_t i = 0; i < m->n_patches; i++) {
        free(m->patches[i].weight);
        free(m->patches[i].prefix);
    }
    free(m->patches);
    for (size_t i = 0; i < m->n_not_loaded; i++) free(m->not_loaded[i]);
    free(m->not_loaded);
    *m = (fg_lora_match){0};
}
