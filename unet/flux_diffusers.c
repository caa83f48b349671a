/* Diffusers FLUX names -> BFL names (models.md 1.15). Renamed tensors become aliases of the
 * file's bytes (a borrowed view added to the weights view, so nothing is copied); q/k/v (and
 * the single block's MLP input) are fused along the output dimension into one tensor in the
 * stored dtype; the final modulation's two halves are swapped (diffusers stores scale, shift;
 * BFL shift, scale). fp8 scales follow their weights. After this the model loader sees a
 * BFL checkpoint. */
#include <stdio.h>
#include <string.h>

#include "unet/flux_config.h"
#include "unet/flux_loader.h"

typedef struct name_map {
    const char *from, *to;
    bool layer; /* a Linear: ".weight" (+ its fp8 scale) and ".bias"; else one tensor */
} name_map;

static const name_map global_renames[] = {
    {"x_embedder", "img_in", true},
    {"context_embedder", "txt_in", true},
    {"time_text_embed.timestep_embedder.linear_1", "time_in.in_layer", true},
    {"time_text_embed.timestep_embedder.linear_2", "time_in.out_layer", true},
    {"time_text_embed.text_embedder.linear_1", "vector_in.in_layer", true},
    {"time_text_embed.text_embedder.linear_2", "vector_in.out_layer", true},
    {"proj_out", "final_layer.linear", true},
};

static const name_map guidance_renames[] = {
    {"time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer", true},
    {"time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer", true},
};

static const name_map double_renames[] = {
    {"norm1.linear", "img_mod.lin", true},
    {"norm1_context.linear", "txt_mod.lin", true},
    {"attn.to_out.0", "img_attn.proj", true},
    {"attn.to_add_out", "txt_attn.proj", true},
    {"ff.net.0.proj", "img_mlp.0", true},
    {"ff.net.2", "img_mlp.2", true},
    {"ff_context.net.0.proj", "txt_mlp.0", true},
    {"ff_context.net.2", "txt_mlp.2", true},
    {"attn.norm_q.weight", "img_attn.norm.query_norm.scale", false},
    {"attn.norm_k.weight", "img_attn.norm.key_norm.scale", false},
    {"attn.norm_added_q.weight", "txt_attn.norm.query_norm.scale", false},
    {"attn.norm_added_k.weight", "txt_attn.norm.key_norm.scale", false},
};

static const name_map single_renames[] = {
    {"proj_out", "linear2", true},
    {"norm.linear", "modulation.lin", true},
    {"attn.norm_q.weight", "norm.query_norm.scale", false},
    {"attn.norm_k.weight", "norm.key_norm.scale", false},
};

static const char *const scale_suffixes[] = {".weight_scale", ".scale_weight"};

#define NAME_CAP 256

static fg_error *name2(char *buf, const char *a, const char *b) {
    if (snprintf(buf, NAME_CAP, "%s%s", a, b) >= NAME_CAP)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s", a, b);
    return NULL;
}

static fg_error *name3(char *buf, const char *a, const char *b, const char *c) {
    if (snprintf(buf, NAME_CAP, "%s%s%s", a, b, c) >= NAME_CAP)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s%s", a, b, c);
    return NULL;
}

/* Makes `to` an alias of the file tensor `from` (which must exist). */
static fg_error *alias(fg_weights *w, const char *from, const char *to) {
    fg_tensor t;
    FG_TRY(fg_weights_get(w, from, &t));
    t.owns_data = false;
    return fg_weights_add_owned(w, to, &t);
}

static fg_error *alias_layer(fg_weights *w, const char *from, const char *to, bool layer) {
    if (!layer) return alias(w, from, to);
    char a[NAME_CAP], b[NAME_CAP];
    static const char *const parts[] = {".weight", ".bias"};
    for (int i = 0; i < 2; i++) {
        FG_TRY(name2(a, from, parts[i]));
        FG_TRY(name2(b, to, parts[i]));
        FG_TRY(alias(w, a, b));
    }
    for (int i = 0; i < 2; i++) {
        FG_TRY(name2(a, from, scale_suffixes[i]));
        if (!fg_weights_has(w, a)) continue;
        FG_TRY(name2(b, to, scale_suffixes[i]));
        FG_TRY(alias(w, a, b));
    }
    return NULL;
}

static fg_error *apply_renames(fg_weights *w, const char *from_stem, const char *to_stem, const name_map *r, size_t n) {
    char from[NAME_CAP], to[NAME_CAP];
    for (size_t i = 0; i < n; i++) {
        FG_TRY(name2(from, from_stem, r[i].from));
        FG_TRY(name2(to, to_stem, r[i].to));
        FG_TRY(alias_layer(w, from, to, r[i].layer));
    }
    return NULL;
}

/* ---- fusing along the output dimension ---------------------------------------------------- */

#define MAX_PARTS 4

typedef struct fuse_part {
    char name[NAME_CAP];
    fg_tensor t;
    float scale;
} fuse_part;

/* Loads part names[i] with ndim dims, rows[i] rows (0 = any) and `cols` columns
 * (ignored for 1-dim tensors). */
static fg_error *load_parts(const fg_weights *w, fuse_part *p, int n, int ndim, const int64_t *rows, int64_t cols) {
    for (int i = 0; i < n; i++) {
        FG_TRY(fg_weights_get(w, p[i].name, &p[i].t));
        const fg_tensor *t = &p[i].t;
        bool ok = t->ndim == ndim && fg_dtype_is_float(t->dtype) && (rows[i] == 0 || t->shape[0] == rows[i]) &&
                  t->shape[0] > 0 && (ndim == 1 || t->shape[1] == cols);
        if (!ok) {
            char have[96], want[96];
            int64_t shape[2] = {rows[i], cols};
            return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' is %s %s but the model needs %s", fg_weights_path(w),
                             fg_weights_prefix(w), p[i].name, fg_dtype_name(t->dtype),
                             fg_tensor_shape_str(t, have, sizeof have), fg_shape_str(ndim, shape, want, sizeof want));
        }
        FG_TRY(fg_weights_scale(w, p[i].name, &p[i].scale));
    }
    return NULL;
}

static fg_error *add_scale(fg_weights *w, const char *to_weight, float scale) {
    fg_tensor s;
    FG_TRY(fg_tensor_alloc_host(&s, FG_F32, FG_SHAPE(1)));
    *(float *)s.data = scale;
    char stem[NAME_CAP], name[NAME_CAP];
    size_t n = strlen(to_weight) - strlen(".weight");
    snprintf(stem, sizeof stem, "%.*s", (int)n, to_weight);
    fg_error *err = name2(name, stem, ".weight_scale");
    if (err) {
        fg_tensor_free_host(&s);
        return err;
    }
    return fg_weights_add_owned(w, name, &s);
}

/* Concatenates the parts' rows into `to`. Same dtype and scale: the stored bytes, one scale.
 * Otherwise (mixed dtypes, or fp8 parts with different scales) each part is dequantised into
 * an F32 tensor, which is exact for every input dtype. */
static fg_error *fuse(fg_weights *w, fuse_part *p, int n, const char *to, bool is_weight) {
    bool uniform = true;
    int64_t rows = 0;
    for (int i = 0; i < n; i++) {
        uniform = uniform && p[i].t.dtype == p[0].t.dtype && p[i].scale == p[0].scale;
        rows += p[i].t.shape[0];
    }
    fg_dtype dt = uniform ? p[0].t.dtype : FG_F32;
    int64_t shape[2] = {rows, p[0].t.ndim == 2 ? p[0].t.shape[1] : 1};
    fg_tensor out;
    FG_TRY(fg_tensor_alloc_host(&out, dt, p[0].t.ndim, shape));
    char *dst = out.data;
    for (int i = 0; i < n; i++) {
        size_t count = (size_t)fg_tensor_numel(&p[i].t);
        if (uniform) {
            memcpy(dst, p[i].t.data, fg_tensor_nbytes(&p[i].t));
        } else {
            float *f = (float *)dst;
            fg_convert_to_f32(f, p[i].t.data, p[i].t.dtype, count);
            for (size_t k = 0; k < count && p[i].scale != 1.0f; k++) f[k] *= p[i].scale;
        }
        dst += count * fg_dtype_size(dt);
    }
    FG_TRY(fg_weights_add_owned(w, to, &out));
    if (is_weight && uniform && p[0].scale != 1.0f) FG_TRY(add_scale(w, to, p[0].scale));
    return NULL;
}

/* Fuses stems[i] + ".weight" (rows[i] x cols each) into to + ".weight", and the biases
 * likewise: all present, or (when bias_optional) all absent. */
static fg_error *fuse_layer(fg_weights *w, const char *block, const char *const *stems, int n, const int64_t *rows,
                            int64_t cols, const char *to, bool bias_optional) {
    fuse_part p[MAX_PARTS];
    char to_name[NAME_CAP];
    for (int i = 0; i < n; i++) {
        FG_TRY(name3(p[i].name, block, stems[i], ".weight"));
    }
    FG_TRY(load_parts(w, p, n, 2, rows, cols));
    FG_TRY(name2(to_name, to, ".weight"));
    FG_TRY(fuse(w, p, n, to_name, true));

    int present = 0, first_missing = -1;
    for (int i = 0; i < n; i++) {
        FG_TRY(name3(p[i].name, block, stems[i], ".bias"));
        if (fg_weights_has(w, p[i].name)) present++;
        else if (first_missing < 0) first_missing = i;
    }
    if (present == 0 && bias_optional) return NULL;
    if (present < n)
        return fg_errorf(FG_ERR_NOT_FOUND, "%s: missing tensor '%s%s'", fg_weights_path(w), fg_weights_prefix(w),
                         p[first_missing].name);
    FG_TRY(load_parts(w, p, n, 1, rows, 0));
    FG_TRY(name2(to_name, to, ".bias"));
    return fuse(w, p, n, to_name, false);
}

/* ---- the final modulation: halves swapped --------------------------------------------------- */

static fg_error *swap_halves(fg_weights *w, const char *from, const char *to, int ndim, int64_t hidden, int64_t cols) {
    fuse_part half[2];
    fg_tensor t;
    FG_TRY(fg_weights_get(w, from, &t));
    int64_t want[2] = {2 * hidden, cols};
    bool ok = t.ndim == ndim && fg_dtype_is_float(t.dtype) && t.shape[0] == 2 * hidden && (ndim == 1 || t.shape[1] == cols);
    if (!ok) {
        char have[96], need[96];
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has shape %s but the model needs %s", fg_weights_path(w),
                         fg_weights_prefix(w), from, fg_tensor_shape_str(&t, have, sizeof have),
                         fg_shape_str(ndim, want, need, sizeof need));
    }
    size_t half_bytes = fg_tensor_nbytes(&t) / 2;
    for (int i = 0; i < 2; i++) {
        half[i].t = t;
        half[i].t.shape[0] = hidden;
        half[i].scale = 1.0f;
        /* shift (diffusers' second half) first */
        half[i].t.data = (char *)t.data + (i == 0 ? half_bytes : 0);
    }
    return fuse(w, half, 2, to, false);
}

static fg_error *convert_final(fg_weights *w, int64_t hidden) {
    const char *from = "norm_out.linear", *to = "final_layer.adaLN_modulation.1";
    char a[NAME_CAP], b[NAME_CAP];
    FG_TRY(name2(a, from, ".weight"));
    FG_TRY(name2(b, to, ".weight"));
    FG_TRY(swap_halves(w, a, b, 2, hidden, hidden));
    for (int i = 0; i < 2; i++) { /* one per-tensor scale: unaffected by the row order */
        FG_TRY(name2(a, from, scale_suffixes[i]));
        if (!fg_weights_has(w, a)) continue;
        FG_TRY(name2(b, to, scale_suffixes[i]));
        FG_TRY(alias(w, a, b));
    }
    FG_TRY(name2(a, from, ".bias"));
    FG_TRY(name2(b, to, ".bias"));
    return swap_halves(w, a, b, 1, hidden, 0);
}

/* ---- blocks ------------------------------------------------------------------------------- */

static fg_error *convert_double(fg_weights *w, int64_t n, int64_t h) {
    char from[NAME_CAP], to[NAME_CAP], qkv[NAME_CAP];
    snprintf(from, sizeof from, "transformer_blocks.%lld.", (long long)n);
    snprintf(to, sizeof to, "double_blocks.%lld.", (long long)n);
    FG_TRY(apply_renames(w, from, to, double_renames, sizeof double_renames / sizeof double_renames[0]));
    static const char *const img[] = {"attn.to_q", "attn.to_k", "attn.to_v"};
    static const char *const txt[] = {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"};
    const int64_t rows[3] = {h, h, h};
    FG_TRY(name2(qkv, to, "img_attn.qkv"));
    FG_TRY(fuse_layer(w, from, img, 3, rows, h, qkv, true));
    FG_TRY(name2(qkv, to, "txt_attn.qkv"));
    return fuse_layer(w, from, txt, 3, rows, h, qkv, true);
}

static fg_error *convert_single(fg_weights *w, int64_t n, int64_t h) {
    char from[NAME_CAP], to[NAME_CAP], linear1[NAME_CAP];
    snprintf(from, sizeof from, "single_transformer_blocks.%lld.", (long long)n);
    snprintf(to, sizeof to, "single_blocks.%lld.", (long long)n);
    FG_TRY(apply_renames(w, from, to, single_renames, sizeof single_renames / sizeof single_renames[0]));
    static const char *const parts[] = {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"};
    const int64_t rows[4] = {h, h, h, 0}; /* the MLP width is whatever proj_mlp says */
    FG_TRY(name2(linear1, to, "linear1"));
    return fuse_layer(w, from, parts, 4, rows, h, linear1, false);
}

fg_error *fg_flux_convert_diffusers(fg_weights *w) {
    FG_CHECK_ARG(w, "fg_flux_convert_diffusers: NULL argument");
    fg_tensor x;
    FG_TRY(fg_weights_get(w, "x_embedder.weight", &x));
    if (x.ndim != 2 || x.shape[0] <= 0 || x.shape[0] > (INT64_C(1) << 30))
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%sx_embedder.weight' must be a matrix [hidden, in] of a plausible size",
                         fg_weights_path(w), fg_weights_prefix(w));
    int64_t h = x.shape[0], depth = 0, depth_single = 0;
    FG_TRY(apply_renames(w, "", "", global_renames, sizeof global_renames / sizeof global_renames[0]));
    if (fg_weights_has(w, "time_text_embed.guidance_embedder.linear_1.weight"))
        FG_TRY(apply_renames(w, "", "", guidance_renames, 2));
    FG_TRY(convert_final(w, h));
    FG_TRY(fg_weights_count_indexed(w, "transformer_blocks.", FG_FLUX_MAX_BLOCKS, &depth));
    FG_TRY(fg_weights_count_indexed(w, "single_transformer_blocks.", FG_FLUX_MAX_BLOCKS, &depth_single));
    for (int64_t n = 0; n < depth; n++) FG_TRY(convert_double(w, n, h));
    for (int64_t n = 0; n < depth_single; n++) FG_TRY(convert_single(w, n, h));
    return NULL;
}
