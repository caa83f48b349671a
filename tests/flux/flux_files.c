#include "tests/flux/flux_files.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"

/* ---- the in-memory set -------------------------------------------------------------------- */

fg_error *tf_add(tf_set *s, const char *name, fg_tensor *t) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 128;
        tf_entry *grown = realloc(s->e, cap * sizeof *grown);
        if (!grown) {
            fg_tensor_free_host(t);
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "tf_add");
        }
        s->e = grown;
        s->cap = cap;
    }
    tf_entry *e = &s->e[s->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->t = *t;
    memset(t, 0, sizeof *t);
    return NULL;
}

fg_error *tf_add_copy(tf_set *s, const char *name, const fg_tensor *src) {
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, src->dtype, src->ndim, src->shape));
    memcpy(t.data, src->data, fg_tensor_nbytes(src));
    return tf_add(s, name, &t);
}

/* Rows [begin, begin + count) of a 1- or 2-dim tensor, any dtype. */
static fg_error *add_rows(tf_set *s, const char *name, const fg_tensor *src, int64_t begin, int64_t count) {
    int64_t shape[2] = {count, src->ndim == 2 ? src->shape[1] : 1};
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, src->dtype, src->ndim, shape));
    size_t row = fg_tensor_nbytes(src) / (size_t)src->shape[0];
    memcpy(t.data, (const char *)src->data + (size_t)begin * row, (size_t)count * row);
    return tf_add(s, name, &t);
}

tf_entry *tf_find(const tf_set *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0) return &s->e[i];
    return NULL;
}

int tf_remove(tf_set *s, const char *name) {
    tf_entry *e = tf_find(s, name);
    if (!e) return 0;
    fg_tensor_free_host(&e->t);
    size_t i = (size_t)(e - s->e);
    memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof *s->e);
    s->n--;
    return 1;
}

void tf_free(tf_set *s) {
    for (size_t i = 0; i < s->n; i++) fg_tensor_free_host(&s->e[i].t);
    free(s->e);
    memset(s, 0, sizeof *s);
}

fg_error *tf_read(const char *path, tf_set *out) {
    fg_safetensors *st = NULL;
    FG_TRY(fg_safetensors_open(path, &st));
    fg_error *err = NULL;
    for (size_t i = 0; i < fg_safetensors_count(st) && !err; i++) {
        const fg_st_entry *e = fg_safetensors_entry(st, i);
        fg_tensor view;
        err = fg_safetensors_entry_tensor(st, e, &view);
        if (!err) err = tf_add_copy(out, e->name, &view);
    }
    fg_safetensors_close(st);
    return err;
}

fg_error *tf_write_range(const tf_set *s, size_t begin, size_t end, const char *path) {
    fg_st_writer *w = NULL;
    FG_TRY(fg_st_writer_create(&w));
    fg_error *err = NULL;
    for (size_t i = begin; i < end && !err; i++) err = fg_st_writer_add(w, s->e[i].name, &s->e[i].t);
    if (!err) err = fg_st_writer_write(w, path);
    fg_st_writer_free(w);
    return err;
}

fg_error *tf_write(const tf_set *s, const char *path) { return tf_write_range(s, 0, s->n, path); }

fg_error *tf_prefixed(const tf_set *bfl, const char *prefix, tf_set *out) {
    for (size_t i = 0; i < bfl->n; i++) {
        char name[192];
        snprintf(name, sizeof name, "%s%s", prefix, bfl->e[i].name);
        FG_TRY(tf_add_copy(out, name, &bfl->e[i].t));
    }
    return NULL;
}

/* ---- BFL -> diffusers (docs/models.md 1.15, read backwards) ---------------------------------------- */

typedef struct plain_map {
    const char *bfl, *diffusers; /* suffixes after the block prefix (or whole names) */
} plain_map;

static const plain_map global_map[] = {
    {"img_in.", "x_embedder."},
    {"txt_in.", "context_embedder."},
    {"time_in.in_layer.", "time_text_embed.timestep_embedder.linear_1."},
    {"time_in.out_layer.", "time_text_embed.timestep_embedder.linear_2."},
    {"guidance_in.in_layer.", "time_text_embed.guidance_embedder.linear_1."},
    {"guidance_in.out_layer.", "time_text_embed.guidance_embedder.linear_2."},
    {"vector_in.in_layer.", "time_text_embed.text_embedder.linear_1."},
    {"vector_in.out_layer.", "time_text_embed.text_embedder.linear_2."},
    {"final_layer.linear.", "proj_out."},
};

static const plain_map double_map[] = {
    {"img_mod.lin.", "norm1.linear."},
    {"txt_mod.lin.", "norm1_context.linear."},
    {"img_attn.proj.", "attn.to_out.0."},
    {"txt_attn.proj.", "attn.to_add_out."},
    {"img_mlp.0.", "ff.net.0.proj."},
    {"img_mlp.2.", "ff.net.2."},
    {"txt_mlp.0.", "ff_context.net.0.proj."},
    {"txt_mlp.2.", "ff_context.net.2."},
    {"img_attn.norm.query_norm.scale", "attn.norm_q.weight"},
    {"img_attn.norm.key_norm.scale", "attn.norm_k.weight"},
    {"txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"},
    {"txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"},
};

static const plain_map single_map[] = {
    {"linear2.", "proj_out."},
    {"modulation.lin.", "norm.linear."},
    {"norm.query_norm.scale", "attn.norm_q.weight"},
    {"norm.key_norm.scale", "attn.norm_k.weight"},
};

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* rest = what follows the matched BFL stem (".weight"/".bias" part or ""). */
static const char *map_plain(const plain_map *map, size_t n, const char *name, const char **rest) {
    for (size_t i = 0; i < n; i++)
        if (starts(name, map[i].bfl)) {
            *rest = name + strlen(map[i].bfl);
            return map[i].diffusers;
        }
    return NULL;
}

/* A fused tensor split row-wise into parts named stems[i] + suffix. */
static fg_error *split_rows(tf_set *out, const char *block, const char *const *stems, const int64_t *rows, int n,
                            const char *suffix, const fg_tensor *t) {
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        char name[192];
        snprintf(name, sizeof name, "%s%s%s", block, stems[i], suffix);
        FG_TRY(add_rows(out, name, t, at, rows[i]));
        at += rows[i];
    }
    return at == t->shape[0] ? NULL : fg_errorf(FG_ERR_FORMAT, "%s%s: rows do not add up", block, suffix);
}

static fg_error *convert_double(tf_set *out, const char *rest_name, int n, int64_t h, const fg_tensor *t) {
    char block[64];
    snprintf(block, sizeof block, "transformer_blocks.%d.", n);
    static const char *const img[] = {"attn.to_q", "attn.to_k", "attn.to_v"};
    static const char *const txt[] = {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"};
    const int64_t rows[3] = {h, h, h};
    if (starts(rest_name, "img_attn.qkv."))
        return split_rows(out, block, img, rows, 3, rest_name + strlen("img_attn.qkv"), t);
    if (starts(rest_name, "txt_attn.qkv."))
        return split_rows(out, block, txt, rows, 3, rest_name + strlen("txt_attn.qkv"), t);
    const char *rest, *d = map_plain(double_map, sizeof double_map / sizeof double_map[0], rest_name, &rest);
    if (!d) return fg_errorf(FG_ERR_FORMAT, "double block tensor %s has no diffusers name", rest_name);
    char name[192];
    snprintf(name, sizeof name, "%s%s%s", block, d, rest);
    return tf_add_copy(out, name, t);
}

static fg_error *convert_single(tf_set *out, const char *rest_name, int n, int64_t h, const fg_tensor *t) {
    char block[64];
    snprintf(block, sizeof block, "single_transformer_blocks.%d.", n);
    if (starts(rest_name, "linear1.")) {
        static const char *const parts[] = {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"};
        const int64_t rows[4] = {h, h, h, t->shape[0] - 3 * h};
        return split_rows(out, block, parts, rows, 4, rest_name + strlen("linear1"), t);
    }
    const char *rest, *d = map_plain(single_map, sizeof single_map / sizeof single_map[0], rest_name, &rest);
    if (!d) return fg_errorf(FG_ERR_FORMAT, "single block tensor %s has no diffusers name", rest_name);
    char name[192];
    snprintf(name, sizeof name, "%s%s%s", block, d, rest);
    return tf_add_copy(out, name, t);
}

/* BFL shift, scale -> diffusers scale, shift. */
static fg_error *convert_final_mod(tf_set *out, const char *suffix, int64_t h, const fg_tensor *t) {
    fg_tensor swapped;
    FG_TRY(fg_tensor_alloc_host(&swapped, t->dtype, t->ndim, t->shape));
    size_t half = fg_tensor_nbytes(t) / 2;
    if (t->shape[0] != 2 * h) {
        fg_tensor_free_host(&swapped);
        return fg_errorf(FG_ERR_FORMAT, "final modulation has %lld rows", (long long)t->shape[0]);
    }
    memcpy(swapped.data, (const char *)t->data + half, half);
    memcpy((char *)swapped.data + half, t->data, half);
    char name[192];
    snprintf(name, sizeof name, "norm_out.linear%s", suffix);
    return tf_add(out, name, &swapped);
}

static fg_error *convert_one(tf_set *out, const char *name, int64_t h, const fg_tensor *t) {
    int n = 0, used = 0;
    if (sscanf(name, "double_blocks.%d.%n", &n, &used) == 1 && used > 0)
        return convert_double(out, name + used, n, h, t);
    if (sscanf(name, "single_blocks.%d.%n", &n, &used) == 1 && used > 0)
        return convert_single(out, name + used, n, h, t);
    if (starts(name, "final_layer.adaLN_modulation.1."))
        return convert_final_mod(out, name + strlen("final_layer.adaLN_modulation.1"), h, t);
    const char *rest, *d = map_plain(global_map, sizeof global_map / sizeof global_map[0], name, &rest);
    if (!d) return fg_errorf(FG_ERR_FORMAT, "tensor %s has no diffusers name", name);
    char dname[192];
    snprintf(dname, sizeof dname, "%s%s", d, rest);
    return tf_add_copy(out, dname, t);
}

fg_error *tf_to_diffusers(const tf_set *bfl, int64_t hidden, tf_set *out) {
    for (size_t i = 0; i < bfl->n; i++) FG_TRY(convert_one(out, bfl->e[i].name, hidden, &bfl->e[i].t));
    return NULL;
}

/* ---- shards ----------------------------------------------------------------------------------- */

fg_error *tf_write_sharded(const tf_set *s, size_t split, const char *dir, char *index_path, size_t cap) {
    const char *shards[2] = {"diffusion_pytorch_model-00001-of-00002.safetensors",
                             "diffusion_pytorch_model-00002-of-00002.safetensors"};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, shards[0]);
    FG_TRY(tf_write_range(s, 0, split, path));
    snprintf(path, sizeof path, "%s/%s", dir, shards[1]);
    FG_TRY(tf_write_range(s, split, s->n, path));
    json_t *root = json_object(), *map = json_object(), *meta = json_object();
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        json_object_set_new(map, s->e[i].name, json_string(shards[i < split ? 0 : 1]));
        total += fg_tensor_nbytes(&s->e[i].t);
    }
    json_object_set_new(meta, "total_size", json_integer((json_int_t)total));
    json_object_set_new(root, "metadata", meta);
    json_object_set_new(root, "weight_map", map);
    snprintf(index_path, cap, "%s/diffusion_pytorch_model.safetensors.index.json", dir);
    int rc = json_dump_file(root, index_path, JSON_INDENT(2));
    json_decref(root);
    return rc == 0 ? NULL : fg_errorf(FG_ERR_IO, "cannot write %s", index_path);
}

/* ---- fp8 -------------------------------------------------------------------------------------- */

static bool is_matrix_weight(const tf_entry *e) {
    size_t n = strlen(e->name);
    return e->t.ndim == 2 && n > 7 && strcmp(e->name + n - 7, ".weight") == 0;
}

static fg_error *add_scalar(tf_set *s, const char *name, float v) {
    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, FG_F32, 0, (const int64_t[]){1}));
    *(float *)t.data = v;
    return tf_add(s, name, &t);
}

static fg_error *quantize_one(const tf_entry *e, tf_scale_mode mode, tf_set *q, tf_set *deq) {
    const int64_t n = fg_tensor_numel(&e->t);
    fg_tensor wf, w8, wd;
    FG_TRY(fg_tensor_alloc_host(&wf, FG_F32, e->t.ndim, e->t.shape));
    fg_convert_to_f32(wf.data, e->t.data, e->t.dtype, (size_t)n);
    float amax = 0.0f, *f = wf.data;
    for (int64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(f[i]));
    float scale = mode == TF_NO_SCALE || amax == 0.0f ? 1.0f : amax / 448.0f;
    fg_error *err = fg_tensor_alloc_host(&w8, FG_F8_E4M3, e->t.ndim, e->t.shape);
    if (!err) err = fg_tensor_alloc_host(&wd, FG_F32, e->t.ndim, e->t.shape);
    if (!err) {
        for (int64_t i = 0; i < n; i++) {
            uint8_t b = fg_f32_to_e4m3(f[i] / scale);
            ((uint8_t *)w8.data)[i] = b;
            ((float *)wd.data)[i] = fg_e4m3_to_f32(b) * scale;
        }
        err = tf_add(q, e->name, &w8);
        if (!err) err = tf_add(deq, e->name, &wd);
    }
    fg_tensor_free_host(&wf);
    fg_tensor_free_host(&w8);
    fg_tensor_free_host(&wd);
    if (err || mode == TF_NO_SCALE) return err;
    char name[192];
    snprintf(name, sizeof name, "%.*s%s", (int)(strlen(e->name) - 7), e->name,
             mode == TF_WEIGHT_SCALE ? ".weight_scale" : ".scale_weight");
    return add_scalar(q, name, scale);
}

fg_error *tf_quantize_fp8(const tf_set *in, tf_scale_mode mode, tf_set *q, tf_set *deq) {
    if (mode == TF_SCALE_WEIGHT) {
        fg_tensor marker;
        FG_TRY(fg_tensor_alloc_host(&marker, FG_F8_E4M3, 1, (const int64_t[]){0}));
        FG_TRY(tf_add(q, "scaled_fp8", &marker));
    }
    for (size_t i = 0; i < in->n; i++) {
        const tf_entry *e = &in->e[i];
        if (is_matrix_weight(e)) FG_TRY(quantize_one(e, mode, q, deq));
        else {
            FG_TRY(tf_add_copy(q, e->name, &e->t));
            FG_TRY(tf_add_copy(deq, e->name, &e->t));
        }
    }
    return NULL;
}

static bool is_scale_name(const char *name) {
    size_t n = strlen(name);
    return (n > 13 && strcmp(name + n - 13, ".weight_scale") == 0) ||
           (n > 13 && strcmp(name + n - 13, ".scale_weight") == 0) || strcmp(name, "scaled_fp8") == 0;
}

fg_error *tf_dequantize(const tf_set *in, tf_set *out) {
    for (size_t i = 0; i < in->n; i++) {
        const tf_entry *e = &in->e[i];
        if (is_scale_name(e->name)) continue;
        if (e->t.dtype != FG_F8_E4M3) {
            FG_TRY(tf_add_copy(out, e->name, &e->t));
            continue;
        }
        float scale = 1.0f;
        size_t n = strlen(e->name);
        for (int k = 0; k < 2 && n > 7; k++) {
            char sname[192];
            snprintf(sname, sizeof sname, "%.*s%s", (int)(n - 7), e->name, k ? ".scale_weight" : ".weight_scale");
            const tf_entry *s = tf_find(in, sname);
            if (s) scale = *(const float *)s->t.data;
        }
        fg_tensor f;
        FG_TRY(fg_tensor_alloc_host(&f, FG_F32, e->t.ndim, e->t.shape));
        for (int64_t j = 0; j < fg_tensor_numel(&e->t); j++)
            ((float *)f.data)[j] = fg_e4m3_to_f32(((const uint8_t *)e->t.data)[j]) * scale;
        FG_TRY(tf_add(out, e->name, &f));
    }
    return NULL;
}
