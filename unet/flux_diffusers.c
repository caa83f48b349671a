/* Diffusers FLUX names -> BFL names (docs/models.md 1.15). Renamed tensors become aliases of the
 * file's bytes (a borrowed view added to the weights view, so nothing is copied); q/k/v (and
 * the single block's MLP input) are fused along the output dimension into one tensor in the
 * stored dtype; the final modulation's two halves are swapped (diffusers stores scale, shift;
 * BFL shift, scale). fp8 scales follow their weights. After this the model loader sees a
 * BFL checkpoint. Which diffusers names make which BFL tensor, and their rows, is declared in
 * models/layout_flux.c (the LoRA key map reads the same list). */
#include <stdio.h>
#include <string.h>

#include "unet/flux_config.h"
#include "unet/flux_loader.h"

static const char *const scale_suffixes[] = {".weight_scale", ".scale_weight"};

#define NAME_CAP 256

static fg_error *name2(char *buf, const char *a, const char *b) {
    if (snprintf(buf, NAME_CAP, "%s%s", a, b) >= NAME_CAP)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s", a, b);
    return NULL;
}

/* Makes `to` an alias of the file tensor `from` (which must exist). */
static fg_error *alias(fg_weights *w, const char *from, const char *to) {
    fg_tensor t;
    FG_TRY(fg_weights_get(w, from, &t));
    t.owns_data = false;
    return fg_weights_add_owned(w, to, &t);
}

/* A renamed Linear: weight, bias and the weight's fp8 scale when there is one. */
static fg_error *alias_layer(fg_weights *w, const char *from, const char *to) {
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

/* Fuses stems[i] + ".weight" (rows[i] x cols each, 0 rows: any) into to + ".weight", and the
 * biases likewise: all present, or (when bias_optional) all absent. */
static fg_error *fuse_layer(fg_weights *w, char stems[][NAME_CAP], int n, const int64_t *rows, int64_t cols,
                            const char *to, bool bias_optional) {
    fuse_part p[MAX_PARTS];
    char to_name[NAME_CAP];
    for (int i = 0; i < n; i++) {
        FG_TRY(name2(p[i].name, stems[i], ".weight"));
    }
    FG_TRY(load_parts(w, p, n, 2, rows, cols));
    FG_TRY(name2(to_name, to, ".weight"));
    FG_TRY(fuse(w, p, n, to_name, true));

    int present = 0, first_missing = -1;
    for (int i = 0; i < n; i++) {
        FG_TRY(name2(p[i].name, stems[i], ".bias"));
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

static fg_error *convert_swapped(fg_weights *w, const char *from, const char *to, int64_t rows, int64_t cols) {
    char a[NAME_CAP], b[NAME_CAP];
    FG_TRY(name2(a, from, ".weight"));
    FG_TRY(name2(b, to, ".weight"));
    FG_TRY(swap_halves(w, a, b, 2, rows / 2, cols));
    for (int i = 0; i < 2; i++) { /* one per-tensor scale: unaffected by the row order */
        FG_TRY(name2(a, from, scale_suffixes[i]));
        if (!fg_weights_has(w, a)) continue;
        FG_TRY(name2(b, to, scale_suffixes[i]));
        FG_TRY(alias(w, a, b));
    }
    FG_TRY(name2(a, from, ".bias"));
    FG_TRY(name2(b, to, ".bias"));
    return swap_halves(w, a, b, 1, rows / 2, 0);
}

/* ---- one parameter from its diffusers names (models/layout_flux.c) ------------------------ */

typedef struct convert_ctx {
    fg_weights *w;
    fg_table_config config; /* hidden and the block counts: what rows and columns need */
} convert_ctx;

static fg_error *convert_param(void *ctx, const fg_param_desc *p, int64_t block) {
    convert_ctx *x = ctx;
    const fg_param_table *t = &fg_flux_table;
    size_t index = (size_t)(p - t->params);
    char from[MAX_PARTS][NAME_CAP], to[NAME_CAP], weight[NAME_CAP];
    int64_t rows[MAX_PARTS];
    const fg_param_alias *first = NULL;
    int n = 0;
    for (size_t i = 0; i < t->naliases && n < MAX_PARTS; i++) {
        const fg_param_alias *a = &t->aliases[i];
        if (a->param != index || a->lora_only) continue;
        if (!first) first = a;
        FG_TRY(fg_table_alias_name(t, a, block, "", from[n], NAME_CAP));
        rows[n++] = fg_size_eval(a->len, &x->config); /* 0 (any) where it needs the MLP width */
    }
    if (!first) return NULL;
    FG_TRY(name2(weight, from[0], ".weight"));
    if (p->present_if && !fg_weights_has(x->w, weight)) return NULL; /* e.g. no guidance embedder */
    bool layer = p->form == FG_PARAM_LINEAR;
    FG_TRY(fg_table_name(t, p, block, "", to, sizeof to));
    switch ((fg_alias_how)first->how) {
    case FG_ALIAS_RENAME: return layer ? alias_layer(x->w, from[0], to) : alias(x->w, weight, to);
    case FG_ALIAS_ROWS:
        return fuse_layer(x->w, from, n, rows, fg_size_eval(p->in, &x->config), to, p->bias_if != FG_BIAS_ALWAYS);
    case FG_ALIAS_SWAPPED:
        return convert_swapped(x->w, from[0], to, fg_size_eval(p->out, &x->config), fg_size_eval(p->in, &x->config));
    }
    return NULL;
}

fg_error *fg_flux_convert_diffusers(fg_weights *w) {
    FG_CHECK_ARG(w, "fg_flux_convert_diffusers: NULL argument");
    fg_tensor x;
    FG_TRY(fg_weights_get(w, FG_FLUX_DIFFUSERS_ANCHOR, &x));
    if (x.ndim != 2 || x.shape[0] <= 0 || x.shape[0] > (INT64_C(1) << 30))
        return fg_errorf(FG_ERR_FORMAT,
                         "%s: tensor '%s" FG_FLUX_DIFFUSERS_ANCHOR "' must be a matrix [hidden, in] of a plausible size",
                         fg_weights_path(w), fg_weights_prefix(w));
    convert_ctx ctx = {.w = w, .config = {.flags = ~0u}}; /* optional parameters: converted when present */
    ctx.config.sym[FG_FLUX_SYM_HIDDEN] = x.shape[0];
    for (size_t g = 0; g < fg_flux_table.ngroups; g++) {
        const fg_param_group *grp = &fg_flux_table.groups[g];
        int64_t *count = grp->count_sym >= 0 ? &ctx.config.sym[grp->count_sym] : NULL;
        if (count) FG_TRY(fg_weights_count_indexed(w, grp->diffusers_stem, FG_FLUX_MAX_BLOCKS, count));
    }
    return fg_table_each(&fg_flux_table, &ctx.config, convert_param, &ctx);
}
