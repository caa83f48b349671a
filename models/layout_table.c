/* The engine over the per-family parameter tables (layout_table.h): names, the layout of a
 * config, and the config read back from a file's shapes. */
#include "models/layout_table.h"

#include <stdio.h>
#include <string.h>

/* Dims past these are hostile, not models: 1 << 30 where a loader will allocate from them,
 * 1 << 32 for `info`, which only reports them. */
#define STRICT_MAX_DIM (INT64_C(1) << 30)
#define LENIENT_MAX_DIM (INT64_C(1) << 32)
/* A block index beyond this is a hostile or broken file. */
#define MAX_BLOCKS 4096

int64_t fg_size_eval(fg_size_expr e, const fg_table_config *c) {
    int64_t a = c->sym[e.s1];
    if (!a) return 0;
    if (!e.c2) return e.c1 * a;
    int64_t b = c->sym[e.s2];
    return b ? e.c1 * a + e.c2 * b : 0;
}

bool fg_table_has_param(const fg_param_desc *p, const fg_table_config *c, int64_t block) {
    if (p->present_if && !(c->flags & (1u << (p->present_if - 1)))) return false;
    return p->only_block < 0 || p->only_block == block;
}

bool fg_table_has_bias(const fg_param_desc *p, const fg_table_config *c) {
    if (p->form != FG_PARAM_LINEAR || p->bias_if == FG_BIAS_NEVER) return false;
    return p->bias_if == FG_BIAS_ALWAYS || (c->flags & (1u << (p->bias_if - 1)));
}

static fg_error *format_name(char *buf, size_t cap, const char *stem, int64_t block, const char *name,
                             const char *suffix) {
    int n = stem[0] ? snprintf(buf, cap, "%s%lld.%s%s", stem, (long long)block, name, suffix)
                    : snprintf(buf, cap, "%s%s", name, suffix);
    if (n < 0 || (size_t)n >= cap)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "tensor name too long: %s%s%s", stem, name, suffix);
    return NULL;
}

fg_error *fg_table_name(const fg_param_table *t, const fg_param_desc *p, int64_t block, const char *suffix, char *buf,
                        size_t cap) {
    return format_name(buf, cap, t->groups[p->group].stem, block, p->name, suffix);
}

fg_error *fg_table_alias_name(const fg_param_table *t, const fg_param_alias *a, int64_t block, const char *suffix,
                              char *buf, size_t cap) {
    const char *stem = t->groups[a->group].diffusers_stem;
    return format_name(buf, cap, stem ? stem : "", block, a->name, suffix);
}

static bool one_tensor(const fg_param_desc *p) { return p->form == FG_PARAM_SCALE || p->form == FG_PARAM_EMBEDDING; }

fg_error *fg_table_weight_name(const fg_param_table *t, const fg_param_desc *p, int64_t block, char *buf, size_t cap) {
    return fg_table_name(t, p, block, one_tensor(p) ? "" : ".weight", buf, cap);
}

fg_error *fg_table_each(const fg_param_table *t, const fg_table_config *c, fg_table_visit_fn fn, void *ctx) {
    size_t i = 0;
    while (i < t->nparams) {
        size_t end = i;
        while (end < t->nparams && t->params[end].group == t->params[i].group) end++;
        const fg_param_group *g = &t->groups[t->params[i].group];
        int64_t blocks = g->count_sym < 0 ? 1 : c->sym[g->count_sym];
        for (int64_t n = 0; n < blocks; n++)
            for (size_t k = i; k < end; k++)
                if (fg_table_has_param(&t->params[k], c, n)) FG_TRY(fn(ctx, &t->params[k], n));
        i = end;
    }
    return NULL;
}

/* ---- layouts ------------------------------------------------------------------------------ */

typedef struct layout_ctx {
    const fg_param_table *t;
    const fg_table_config *c;
    fg_layout *out;
} layout_ctx;

static fg_error *add(layout_ctx *x, const fg_param_desc *p, int64_t block, const char *suffix, fg_init_kind init,
                     int ndim, const int64_t *shape, int64_t fan_in) {
    char name[FG_LAYOUT_NAME_MAX];
    fg_error *err = fg_table_name(x->t, p, block, suffix, name, sizeof name);
    if (err) {
        fg_error_free(err);
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "layout: tensor name too long");
    }
    return fg_layout_add(x->out, name, x->c->dtype, ndim, shape, init, fan_in);
}

static fg_error *layout_param(void *ctx, const fg_param_desc *p, int64_t block) {
    layout_ctx *x = ctx;
    int64_t out = fg_size_eval(p->out, x->c), in = fg_size_eval(p->in, x->c);
    switch ((fg_param_form)p->form) {
    case FG_PARAM_LINEAR:
        FG_TRY(add(x, p, block, ".weight", FG_INIT_WEIGHT, FG_SHAPE(out, in), in));
        if (fg_table_has_bias(p, x->c)) FG_TRY(add(x, p, block, ".bias", FG_INIT_BIAS, FG_SHAPE(out), 0));
        return NULL;
    case FG_PARAM_SCALE: return add(x, p, block, "", FG_INIT_ONES, FG_SHAPE(out), 0);
    case FG_PARAM_NORM:
        FG_TRY(add(x, p, block, ".weight", FG_INIT_ONES, FG_SHAPE(out), 0));
        return add(x, p, block, ".bias", FG_INIT_ZEROS, FG_SHAPE(out), 0);
    case FG_PARAM_EMBEDDING: return add(x, p, block, "", FG_INIT_EMBEDDING, FG_SHAPE(out, in), 0);
    }
    return NULL;
}

fg_error *fg_table_layout(const fg_param_table *t, const fg_table_config *c, fg_layout *out) {
    layout_ctx x = {t, c, out};
    size_t start = out->count;
    fg_error *err = fg_table_each(t, c, layout_param, &x);
    if (err) out->count = start; /* drop the half-built part */
    return err;
}

/* ---- inference ---------------------------------------------------------------------------- */

/* One tensor a parameter's shape can be read from, in the naming of the lookup. */
typedef struct source {
    char name[256];
    int ndim;
    fg_size_expr dims[2];
    char bias[256]; /* "<layer>.bias": tells a bias flag */
} source;

typedef struct infer_state {
    const fg_param_table *t;
    const fg_table_lookup *look;
    fg_table_config *c;
    char from[FG_TABLE_MAX_SYMS][256]; /* which tensor set each symbol, for messages */
    unsigned decided;                  /* flags settled by presence */
    bool have_dtype;
} infer_state;

static int param_ndim(const fg_param_desc *p) {
    return p->form == FG_PARAM_LINEAR || p->form == FG_PARAM_EMBEDDING ? 2 : 1;
}

/* The sources of p in block 0: its own name, or (diffusers) each alias part. */
static fg_error *sources_of(const infer_state *s, size_t pi, source *out, size_t cap, size_t *n) {
    const fg_param_desc *p = &s->t->params[pi];
    *n = 0;
    if (!s->look->diffusers) {
        source *src = &out[(*n)++];
        FG_TRY(fg_table_weight_name(s->t, p, 0, src->name, sizeof src->name));
        src->ndim = param_ndim(p);
        src->dims[0] = p->out, src->dims[1] = p->in;
        FG_TRY(fg_table_name(s->t, p, 0, ".bias", src->bias, sizeof src->bias));
        if (p->alt_name && *n < cap) {
            out[*n] = *src;
            FG_TRY(format_name(out[*n].name, sizeof out[*n].name, s->t->groups[p->group].stem, 0, p->alt_name, ""));
            (*n)++;
        }
        return NULL;
    }
    for (size_t i = 0; i < s->t->naliases && *n < cap; i++) {
        const fg_param_alias *a = &s->t->aliases[i];
        if (a->param != pi || a->lora_only) continue;
        source *src = &out[(*n)++];
        FG_TRY(fg_table_alias_name(s->t, a, 0, ".weight", src->name, sizeof src->name));
        FG_TRY(fg_table_alias_name(s->t, a, 0, ".bias", src->bias, sizeof src->bias));
        src->ndim = param_ndim(p);
        src->dims[0] = a->how == FG_ALIAS_ROWS ? a->len : p->out;
        src->dims[1] = p->in;
    }
    return NULL;
}

static fg_error *disagree(const infer_state *s, const source *src, int sym, int64_t implied) {
    return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' says %s %lld, but '%s%s' says %lld", s->look->where,
                     s->look->prefix, src->name, s->t->sym_names[sym], (long long)implied, s->look->prefix,
                     s->from[sym], (long long)s->c->sym[sym]);
}

/* Learns from one dim: sets the one unknown symbol of e, or checks e when all are known. */
static fg_error *solve(infer_state *s, const source *src, int axis, int64_t value) {
    fg_size_expr e = src->dims[axis];
    int64_t *sym = s->c->sym;
    if (value <= 0) return NULL; /* lenient lookups report absurd dims as 0 */
    int unknown = (sym[e.s1] == 0) + (e.c2 && sym[e.s2] == 0);
    if (unknown > 1) return NULL;
    /* the term to solve for: the unknown one, or the last one when all are known */
    bool second = e.c2 && (unknown == 0 || sym[e.s2] == 0);
    int target = second ? e.s2 : e.s1, coef = second ? e.c2 : e.c1;
    int64_t rest = value - (second ? e.c1 * sym[e.s1] : (e.c2 ? e.c2 * sym[e.s2] : 0));
    bool valid = rest > 0 && rest % coef == 0;
    int64_t implied = rest / coef;
    if (unknown == 0) {
        if (s->look->strict && (!valid || implied != sym[target])) return disagree(s, src, target, implied);
        return NULL;
    }
    if (!valid) {
        if (!s->look->strict) return NULL;
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has %lld in dim %d, which leaves no valid %s",
                         s->look->where, s->look->prefix, src->name, (long long)value, axis, s->t->sym_names[target]);
    }
    sym[target] = implied;
    memcpy(s->from[target], src->name, sizeof src->name);
    return NULL;
}

static fg_error *read_source(infer_state *s, const fg_param_desc *p, const source *src, bool first) {
    const fg_table_lookup *look = s->look;
    int64_t shape[FG_MAX_DIMS] = {0};
    fg_dtype dtype = FG_F32;
    bool found = false;
    if (p->infer || first) {
        bool required = p->infer != 0 && !p->alt_name; /* either name will do */
        FG_TRY(look->shape(look->ctx, src->name, src->ndim, required, shape, &dtype, &found));
        if (found && first && !s->have_dtype) s->c->dtype = dtype, s->have_dtype = true;
        for (int a = 0; found && a < src->ndim; a++)
            if (p->infer & (1u << a)) FG_TRY(solve(s, src, a, shape[a]));
    }
    return NULL;
}

/* Flags: the first parameter that depends on a flag settles it by the presence of its
 * tensor (present_if) or of its bias (bias_if). */
static fg_error *read_flags(infer_state *s, const fg_param_desc *p, const source *src) {
    const fg_table_lookup *look = s->look;
    int64_t shape[FG_MAX_DIMS];
    fg_dtype dtype;
    int flag = p->present_if ? p->present_if : (p->form == FG_PARAM_LINEAR && p->bias_if > 0 ? p->bias_if : 0);
    if (!flag || (s->decided & (1u << (flag - 1)))) return NULL;
    bool found = false;
    const char *name = p->present_if ? src->name : src->bias;
    FG_TRY(look->shape(look->ctx, name, 0, false, shape, &dtype, &found));
    s->decided |= 1u << (flag - 1);
    if (found) s->c->flags |= 1u << (flag - 1);
    return NULL;
}

fg_error *fg_table_infer(const fg_param_table *t, const fg_table_lookup *look, fg_table_config *out) {
    FG_CHECK_ARG(t && look && out, "fg_table_infer: NULL argument");
    memset(out, 0, sizeof *out);
    out->dtype = FG_F32;
    infer_state s = {.t = t, .look = look, .c = out};
    for (size_t g = 0; g < t->ngroups; g++) {
        const fg_param_group *grp = &t->groups[g];
        if (grp->count_sym < 0) continue;
        const char *stem = look->diffusers ? grp->diffusers_stem : grp->stem;
        if (stem) FG_TRY(look->count(look->ctx, stem, &out->sym[grp->count_sym]));
    }
    for (size_t i = 0; i < t->nparams; i++) {
        const fg_param_desc *p = &t->params[i];
        const fg_param_group *grp = &t->groups[p->group];
        if (grp->count_sym >= 0 && out->sym[grp->count_sym] == 0) continue;
        source src[4];
        size_t n;
        FG_TRY(sources_of(&s, i, src, 4, &n));
        if (n == 0) continue;
        FG_TRY(read_flags(&s, p, &src[0]));
        if (!fg_table_has_param(p, out, 0)) continue;
        for (size_t k = 0; k < n; k++) FG_TRY(read_source(&s, p, &src[k], i == 0 && k == 0));
    }
    return NULL;
}

/* ---- lookups ------------------------------------------------------------------------------ */

static fg_error *weights_shape(void *ctx, const char *name, int ndim, bool required, int64_t shape[FG_MAX_DIMS],
                               fg_dtype *dtype, bool *found) {
    const fg_table_weights_ctx *x = ctx;
    const fg_weights *w = x->w;
    *found = false;
    if (ndim == 0) { /* presence only */
        *found = fg_weights_has(w, name);
        return NULL;
    }
    if ((!required || !x->strict) && !fg_weights_has(w, name)) return NULL;
    fg_tensor t;
    FG_TRY(fg_weights_get(w, name, &t));
    bool usable = t.ndim == ndim && fg_dtype_is_float(t.dtype);
    if (!usable && !x->strict) return NULL;
    if (!usable) {
        char s[96];
        return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' is %s %s, expected a %d-dim float tensor",
                         fg_weights_path(w), fg_weights_prefix(w), name, fg_dtype_name(t.dtype),
                         fg_tensor_shape_str(&t, s, sizeof s), ndim);
    }
    for (int a = 0; a < ndim; a++) {
        if ((t.shape[a] <= 0 || t.shape[a] > STRICT_MAX_DIM) && x->strict)
            return fg_errorf(FG_ERR_FORMAT, "%s: tensor '%s%s' has an empty or implausibly large dim",
                             fg_weights_path(w), fg_weights_prefix(w), name);
        shape[a] = t.shape[a];
    }
    *dtype = t.dtype;
    *found = true;
    return NULL;
}

static fg_error *weights_count(void *ctx, const char *stem, int64_t *n) {
    const fg_table_weights_ctx *x = ctx;
    return fg_weights_count_indexed(x->w, stem, MAX_BLOCKS, n);
}

fg_table_lookup fg_table_lookup_weights(fg_table_weights_ctx *ctx, bool diffusers) {
    return (fg_table_lookup){.shape = weights_shape, .count = weights_count, .ctx = ctx, .strict = ctx->strict,
                             .diffusers = diffusers, .where = fg_weights_path(ctx->w),
                             .prefix = fg_weights_prefix(ctx->w)};
}

static fg_error *st_shape(void *ctx, const char *name, int ndim, bool required, int64_t shape[FG_MAX_DIMS],
                          fg_dtype *dtype, bool *found) {
    (void)required;
    const fg_table_st_ctx *x = ctx;
    char full[FG_LAYOUT_NAME_MAX + 512];
    *found = false;
    int len = snprintf(full, sizeof full, "%s%s", x->prefix, name);
    if (len < 0 || (size_t)len >= sizeof full) return NULL;
    const fg_st_entry *e = fg_safetensors_find(x->st, full);
    if (!e) return NULL;
    for (int a = 0; a < ndim; a++) shape[a] = a < e->ndim && e->shape[a] <= LENIENT_MAX_DIM ? e->shape[a] : 0;
    *dtype = e->dtype;
    *found = true;
    return NULL;
}

int64_t fg_table_count_blocks(const fg_safetensors *st, const char *prefix, const char *stem) {
    unsigned char seen[MAX_BLOCKS] = {0};
    size_t plen = strlen(prefix), slen = strlen(stem);
    for (size_t i = 0; i < fg_safetensors_count(st); i++) {
        const char *name = fg_safetensors_entry(st, i)->name;
        if (strncmp(name, prefix, plen) != 0 || strncmp(name + plen, stem, slen) != 0) continue;
        const char *p = name + plen + slen;
        long idx = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++) idx = idx * 10 + (*p - '0');
        if (digits == 0 || *p != '.' || idx >= MAX_BLOCKS) continue;
        if (digits > 1 && name[plen + slen] == '0') continue;
        seen[idx] = 1;
    }
    int64_t n = 0;
    while (n < MAX_BLOCKS && seen[n]) n++;
    return n;
}

static fg_error *st_count(void *ctx, const char *stem, int64_t *count) {
    const fg_table_st_ctx *x = ctx;
    *count = fg_table_count_blocks(x->st, x->prefix, stem);
    return NULL;
}

fg_table_lookup fg_table_lookup_safetensors(fg_table_st_ctx *ctx, bool diffusers) {
    return (fg_table_lookup){.shape = st_shape, .count = st_count, .ctx = ctx, .strict = false,
                             .diffusers = diffusers, .where = "", .prefix = ctx->prefix};
}

/* ---- loading ------------------------------------------------------------------------------ */

fg_error *fg_table_load(const fg_weights *w, const fg_param_table *t, const fg_param_desc *p, int64_t block,
                        const fg_table_config *c, const fg_param_fields *fields, void *base) {
    if (fields->weight == FG_NO_FIELD) return NULL;
    char name[256];
    char *at = base;
    int64_t out = fg_size_eval(p->out, c), in = fg_size_eval(p->in, c);
    FG_TRY(fg_table_weight_name(t, p, block, name, sizeof name));
    fg_tensor *weight = (fg_tensor *)(at + fields->weight);
    if (param_ndim(p) == 2) FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(out, in), weight));
    else FG_TRY(fg_weights_get_shaped(w, name, FG_SHAPE(out), weight));
    if (fields->scale != FG_NO_FIELD) FG_TRY(fg_weights_scale(w, name, (float *)(at + fields->scale)));
    if (fields->bias == FG_NO_FIELD || !(fg_table_has_bias(p, c) || p->form == FG_PARAM_NORM)) return NULL;
    FG_TRY(fg_table_name(t, p, block, ".bias", name, sizeof name));
    return fg_weights_get_shaped(w, name, FG_SHAPE(out), (fg_tensor *)(at + fields->bias));
}

typedef struct load_all_ctx {
    const fg_weights *w;
    const fg_param_table *t;
    const fg_table_config *c;
    const fg_table_target *target;
} load_all_ctx;

static fg_error *load_one(void *ctx, const fg_param_desc *p, int64_t block) {
    const load_all_ctx *x = ctx;
    char *base = (char *)x->target->base[p->group] + (size_t)block * x->target->stride[p->group];
    return fg_table_load(x->w, x->t, p, block, x->c, &x->target->fields[p - x->t->params], base);
}

fg_error *fg_table_load_all(const fg_weights *w, const fg_param_table *t, const fg_table_config *c,
                            const fg_table_target *target) {
    FG_CHECK_ARG(t->ngroups <= FG_TABLE_MAX_GROUPS, "%s: too many parameter groups", t->family);
    load_all_ctx x = {w, t, c, target};
    return fg_table_each(t, c, load_one, &x);
}

/* ---- names a family owns ------------------------------------------------------------------ */

/* name starts with the first dotted part of `own` (the whole of it when `whole`), then '.'. */
static bool same_head(const char *name, const char *own, bool whole) {
    const char *dot = strchr(own, '.');
    size_t n = dot ? (size_t)(dot - own) : strlen(own);
    if (strncmp(name, own, n) != 0) return false;
    return name[n] == '.' || (whole && !dot && name[n] == '\0');
}

bool fg_table_owns_name(const fg_param_table *t, const char *name, bool diffusers) {
    for (size_t g = 0; g < t->ngroups; g++) {
        const char *stem = diffusers ? t->groups[g].diffusers_stem : t->groups[g].stem;
        if (stem && stem[0] && strncmp(name, stem, strlen(stem)) == 0) return true;
    }
    if (diffusers) {
        for (size_t i = 0; i < t->naliases; i++)
            if (t->aliases[i].group == 0 && !t->aliases[i].lora_only && same_head(name, t->aliases[i].name, false))
                return true;
        return false;
    }
    for (size_t i = 0; i < t->nparams; i++)
        if (t->params[i].group == 0 && same_head(name, t->params[i].name, one_tensor(&t->params[i]))) return true;
    return false;
}
