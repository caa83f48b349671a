/* One table per model family (layout_flux.c; layout_text.c for CLIP and T5) declares its
 * parameters once: name, shape in terms of the config, how mkmodel initialises it, when it is
 * present, and the diffusers names it can be built from (with the rows each supplies).
 * Everything that knows a model's tensors is derived from that table (the idea of llm.c's
 * fill_in_parameter_sizes driving both allocation and loading):
 *   - the layout (mkmodel, random weights, `info`'s check): fg_table_layout;
 *   - the config read back from a file's shapes (loaders and `info`): fg_table_infer;
 *   - the loaders' lookups, into their weight structs by offset: fg_table_load(_all);
 *   - tensor names in either naming for the diffusers conversion and the LoRA key maps:
 *     fg_table_name, fg_table_alias_name.
 * A config is held as an array of symbols (hidden, head_dim, depth, ...) plus flag bits
 * (guidance, qkv bias), so the engine needs no family-specific code. The autoencoder, whose
 * channels change per level, is a module walk instead (layout_ae.h). */
#ifndef FG_MODELS_LAYOUT_TABLE_H
#define FG_MODELS_LAYOUT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/model_layouts.h"
#include "models/weights.h"

#define FG_TABLE_MAX_SYMS 16

/* A size in config terms: c1 * sym[s1] + c2 * sym[s2] (c2 = 0: one term). */
typedef struct fg_size_expr {
    int8_t c1, s1, c2, s2;
} fg_size_expr;

typedef enum fg_param_form {
    FG_PARAM_LINEAR,    /* "<name>.weight" [out, in] (+ "<name>.bias" [out]) */
    FG_PARAM_SCALE,     /* "<name>" [out], ones (RMSNorm scales) */
    FG_PARAM_NORM,      /* "<name>.weight" ones + "<name>.bias" zeros, both [out] */
    FG_PARAM_EMBEDDING, /* "<name>" [out, in], unit normal rows */
} fg_param_form;

/* A repeated block ("double_blocks.N.") or the model itself (group 0, no prefix). */
typedef struct fg_param_group {
    const char *stem;           /* "double_blocks." ("" for group 0) */
    const char *diffusers_stem; /* "transformer_blocks." (NULL: no diffusers names) */
    int8_t count_sym;           /* the symbol holding the number of blocks (-1 for group 0) */
} fg_param_group;

#define FG_BIAS_ALWAYS 0
#define FG_BIAS_NEVER (-1)

typedef struct fg_param_desc {
    uint8_t group;
    uint8_t form;      /* fg_param_form */
    const char *name;  /* after the group's "<stem>N." */
    fg_size_expr out, in;
    int8_t present_if; /* flag number n (bit 1 << (n - 1) of the flags) it needs; 0: always there */
    int8_t bias_if;    /* LINEAR: FG_BIAS_ALWAYS, FG_BIAS_NEVER, or the flag number that gives it one */
    uint8_t infer;     /* bit a: the config is read from dim a of this tensor in block 0 */
    int8_t only_block; /* -1, or the one block index that has it (T5's position bias) */
    const char *alt_name; /* the same tensor as some exports name it ("encoder.embed_tokens.weight") */
} fg_param_desc;

typedef enum fg_alias_how {
    FG_ALIAS_RENAME,  /* the same tensor(s) under another name */
    FG_ALIAS_ROWS,    /* rows [start, start + len) of the parameter: fused at load */
    FG_ALIAS_SWAPPED, /* the two row halves in the other order (diffusers' scale, shift) */
} fg_alias_how;

/* A diffusers name of a parameter, in ComfyUI's flux_to_diffusers order (the LoRA key map's). */
typedef struct fg_param_alias {
    uint8_t group;
    uint8_t how;       /* fg_alias_how */
    bool lora_only;    /* a name LoRA trainers use that no checkpoint has */
    const char *name;  /* after the group's diffusers "<stem>N."; no ".weight" */
    uint16_t param;
    fg_size_expr start, len; /* FG_ALIAS_ROWS */
} fg_param_alias;

typedef struct fg_param_table {
    const char *family; /* "flux", for messages */
    const fg_param_group *groups;
    size_t ngroups;
    const fg_param_desc *params; /* in state-dict order */
    size_t nparams;
    const fg_param_alias *aliases;
    size_t naliases;
    const char *const *sym_names; /* for messages: "hidden", "MLP width", ... */
    size_t nsyms;
} fg_param_table;

/* A table over static arrays: groups, params (in state-dict order) and symbol names. */
#define FG_PARAM_TABLE(family_, groups_, params_, sym_names_)                                               \
    .family = family_, .groups = groups_, .ngroups = sizeof groups_ / sizeof groups_[0], .params = params_, \
    .nparams = sizeof params_ / sizeof params_[0], .sym_names = sym_names_,                                 \
    .nsyms = sizeof sym_names_ / sizeof sym_names_[0]

/* A config as the engine sees it; a symbol of 0 is unknown. */
typedef struct fg_table_config {
    int64_t sym[FG_TABLE_MAX_SYMS];
    unsigned flags;
    fg_dtype dtype;
} fg_table_config;

/* The value of e, or 0 when a symbol it needs is unknown. */
int64_t fg_size_eval(fg_size_expr e, const fg_table_config *c);
/* Whether parameter p exists in a model of config c (flags only; counts are the caller's). */
bool fg_table_has_param(const fg_param_desc *p, const fg_table_config *c, int64_t block);
bool fg_table_has_bias(const fg_param_desc *p, const fg_table_config *c);

/* The name of parameter p in block `block` (ignored for group 0) plus suffix (".weight" or
 * ""), BFL/native naming, into buf. Fails only when the name does not fit. */
fg_error *fg_table_name(const fg_param_table *t, const fg_param_desc *p, int64_t block, const char *suffix, char *buf,
                        size_t cap) FG_MUST_CHECK;
/* The same for a diffusers alias. */
fg_error *fg_table_alias_name(const fg_param_table *t, const fg_param_alias *a, int64_t block, const char *suffix,
                              char *buf, size_t cap) FG_MUST_CHECK;
/* The name of the tensor a LoRA or a loader addresses for p: "<name>.weight" or, for
 * one-tensor forms, "<name>". */
fg_error *fg_table_weight_name(const fg_param_table *t, const fg_param_desc *p, int64_t block, char *buf,
                               size_t cap) FG_MUST_CHECK;

/* Visits every parameter of a config in state-dict order: runs of parameters of one group are
 * repeated for each block of that group. Stops at the first error. */
typedef fg_error *(*fg_table_visit_fn)(void *ctx, const fg_param_desc *p, int64_t block);
fg_error *fg_table_each(const fg_param_table *t, const fg_table_config *c, fg_table_visit_fn fn,
                        void *ctx) FG_MUST_CHECK;

/* Appends the layout of config c (dtype c->dtype) to *out. */
fg_error *fg_table_layout(const fg_param_table *t, const fg_table_config *c, fg_layout *out) FG_MUST_CHECK;

/* How inference reads a file: the shape of `name`, found = false when absent. A strict lookup
 * returns errors for tensors of the wrong rank or dtype; a lenient one reports them absent. */
typedef struct fg_table_lookup {
    /* required: in strict mode a missing tensor is the lookup's error; ndim 0: presence only */
    fg_error *(*shape)(void *ctx, const char *name, int ndim, bool required, int64_t shape[FG_MAX_DIMS],
                       fg_dtype *dtype, bool *found);
    /* 1 + the largest N of "<stem>N." names (0: none). */
    fg_error *(*count)(void *ctx, const char *stem, int64_t *n);
    void *ctx;
    bool strict;    /* required tensors missing, or disagreeing, are errors */
    bool diffusers;     /* read the diffusers names */
    const char *where;  /* the file, for messages */
    const char *prefix; /* the key prefix, for messages */
} fg_table_lookup;

/* Reads the config from the shapes of the tensors marked `infer` (block 0 of each group
 * present, in table order): a dim with one unknown symbol sets it; in strict mode a dim whose
 * symbols are known already must agree. Flags: set when the first tensor depending on them is
 * there. Unknown stays 0 in lenient mode. dtype: that of the first parameter's tensor. */
fg_error *fg_table_infer(const fg_param_table *t, const fg_table_lookup *look, fg_table_config *out) FG_MUST_CHECK;

/* Lookups over a weights view (strict: errors name the tensor and the file) and over a
 * safetensors file under a key prefix (lenient). */
typedef struct fg_table_weights_ctx {
    const fg_weights *w;
    bool strict;
} fg_table_weights_ctx;
fg_table_lookup fg_table_lookup_weights(fg_table_weights_ctx *ctx, bool diffusers);
typedef struct fg_table_st_ctx {
    const fg_safetensors *st;
    const char *prefix;
} fg_table_st_ctx;
fg_table_lookup fg_table_lookup_safetensors(fg_table_st_ctx *ctx, bool diffusers);
/* Consecutive indices N = 0, 1, ... for which some "<prefix><stem>N." exists ("01" is not 1;
 * indices from 4096 on are not counted). */
int64_t fg_table_count_blocks(const fg_safetensors *st, const char *prefix, const char *stem);

/* Where a loader keeps a parameter's tensors: byte offsets into its weight struct of the
 * weight (fg_tensor), the bias (fg_tensor) and the fp8 scale (float); FG_NO_FIELD where there
 * is none, or (weight) where the loader reads the parameter by other means. */
#define FG_NO_FIELD SIZE_MAX
typedef struct fg_param_fields {
    size_t weight, bias, scale;
} fg_param_fields;

/* Reads p's tensors in block `block` from w, shape-checked against config c (fg_weights_get_shaped
 * errors name the tensor and both shapes), into the fields of the struct at base. */
fg_error *fg_table_load(const fg_weights *w, const fg_param_table *t, const fg_param_desc *p, int64_t block,
                        const fg_table_config *c, const fg_param_fields *fields, void *base) FG_MUST_CHECK;

/* Where a loader keeps all of a model's parameters: their fields (indexed like the table's
 * params) in the struct of their group: group 0's is the model's own, a block group's is
 * base + block * stride (an array of block structs). */
#define FG_TABLE_MAX_GROUPS 4
typedef struct fg_table_target {
    const fg_param_fields *fields;
    void *base[FG_TABLE_MAX_GROUPS];
    size_t stride[FG_TABLE_MAX_GROUPS];
} fg_table_target;

/* fg_table_load of every parameter of config c, in state-dict order. */
fg_error *fg_table_load_all(const fg_weights *w, const fg_param_table *t, const fg_table_config *c,
                            const fg_table_target *target) FG_MUST_CHECK;

/* Whether `name` (after the model's prefix) belongs to the family: its first dotted part is
 * that of a parameter's name or a group stem, in the naming asked for. */
bool fg_table_owns_name(const fg_param_table *t, const char *name, bool diffusers);

#endif
