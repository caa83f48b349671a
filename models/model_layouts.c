/* Layout generators: one function per model family walks the module tree in the order PyTorch
 * lists its state dict, so the output matches the manifests of the real files line by line. */
#include "models/model_layouts.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/threadpool.h"
#include "models/layout_ae.h"
#include "models/layout_flux.h"
#include "models/layout_text.h"

/* Bound on every configured size, so that products of up to four dims never overflow. */
#define FG_LAYOUT_MAX_DIM (INT64_C(1) << 24)

/* Accumulates tensors; the first error sticks and turns later calls into no-ops, which keeps
 * the generators free of error plumbing on every line. */
typedef struct builder {
    fg_layout *out;
    fg_dtype dtype;
    fg_error *err;
} builder;

static void add_tensor(builder *b, fg_init_kind init, int64_t fan_in, int ndim, const int64_t *shape,
                       const char *fmt, ...) FG_PRINTF(6, 7);

fg_error *fg_layout_add(fg_layout *l, const char *name, fg_dtype dtype, int ndim, const int64_t *shape,
                        fg_init_kind init, int64_t fan_in) {
    if (strlen(name) >= FG_LAYOUT_NAME_MAX) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "layout: tensor name too long");
    if (!FG_ARRAY_RESERVE(l->tensors, l->cap, l->count, 256))
        return fg_errorf(FG_ERR_OUT_OF_MEMORY, "layout: out of memory");
    fg_layout_tensor *t = &l->tensors[l->count];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, strlen(name) + 1);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->init = init;
    t->fan_in = fan_in;
    l->count++;
    return NULL;
}

static void add_tensor(builder *b, fg_init_kind init, int64_t fan_in, int ndim, const int64_t *shape,
                       const char *fmt, ...) {
    if (b->err) return;
    char name[FG_LAYOUT_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name) {
        b->err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "layout: tensor name too long");
        return;
    }
    b->err = fg_layout_add(b->out, name, b->dtype, ndim, shape, init, fan_in);
}

static void conv(builder *b, const char *prefix, int64_t out, int64_t in, int64_t k) {
    add_tensor(b, FG_INIT_WEIGHT, in * k * k, FG_SHAPE(out, in, k, k), "%s.weight", prefix);
    add_tensor(b, FG_INIT_BIAS, 0, FG_SHAPE(out), "%s.bias", prefix);
}

/* Affine norm: weight (ones) and bias (zeros). */
static void norm(builder *b, const char *prefix, int64_t n) {
    add_tensor(b, FG_INIT_ONES, 0, FG_SHAPE(n), "%s.weight", prefix);
    add_tensor(b, FG_INIT_ZEROS, 0, FG_SHAPE(n), "%s.bias", prefix);
}

fg_error *fg_layout_check_dims(const char *what, int n, const int64_t *dims, const char *const *names) {
    for (int i = 0; i < n; i++)
        if (dims[i] <= 0 || dims[i] > FG_LAYOUT_MAX_DIM)
            return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s config: %s = %lld is out of range", what, names[i],
                             (long long)dims[i]);
    return NULL;
}

static fg_error *finish(builder *b, size_t start) {
    if (!b->err) return NULL;
    b->out->count = start; /* drop the half-built part */
    return b->err;
}

/* ---- CLIP-L and T5 (their tables: layout_text.c) --------------------------------------- */

fg_error *fg_layout_clip(const fg_clip_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_clip: NULL argument");
    const int64_t dims[] = {c->hidden, c->layers, c->heads, c->intermediate, c->vocab, c->positions};
    static const char *const names[] = {"hidden", "layers", "heads", "intermediate", "vocab", "positions"};
    FG_TRY(fg_layout_check_dims("clip", 6, dims, names));
    fg_table_config t;
    fg_clip_config_to_table(c, &t);
    return fg_table_layout(&fg_clip_table, &t, out);
}

fg_error *fg_layout_t5(const fg_t5_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_t5: NULL argument");
    const int64_t dims[] = {c->d_model, c->layers, c->heads, c->d_kv, c->d_ff, c->vocab, c->buckets};
    static const char *const names[] = {"d_model", "layers", "heads", "d_kv", "d_ff", "vocab", "buckets"};
    FG_TRY(fg_layout_check_dims("t5", 7, dims, names));
    FG_CHECK_ARG(c->heads * c->d_kv <= FG_LAYOUT_MAX_DIM, "t5 config: heads x d_kv = %lld is out of range",
                 (long long)(c->heads * c->d_kv));
    fg_table_config t;
    fg_t5_config_to_table(c, &t);
    return fg_table_layout(&fg_t5_table, &t, out);
}

/* ---- FLUX autoencoder (BFL ae.safetensors, docs/models.md 2.5) ------------------------------ */

static void resnet_block(builder *b, const char *prefix, int64_t in, int64_t out) {
    char p[FG_LAYOUT_NAME_MAX + 32]; /* add_tensor refuses what is too long */
    snprintf(p, sizeof p, "%s.norm1", prefix);
    norm(b, p, in);
    snprintf(p, sizeof p, "%s.conv1", prefix);
    conv(b, p, out, in, 3);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    norm(b, p, out);
    snprintf(p, sizeof p, "%s.conv2", prefix);
    conv(b, p, out, out, 3);
    if (in != out) {
        snprintf(p, sizeof p, "%s.nin_shortcut", prefix);
        conv(b, p, out, in, 1);
    }
}

static void ae_mid(builder *b, const char *prefix, int64_t C) {
    char p[FG_LAYOUT_NAME_MAX + 32]; /* add_tensor refuses what is too long */
    snprintf(p, sizeof p, "%s.block_1", prefix);
    resnet_block(b, p, C, C);
    snprintf(p, sizeof p, "%s.attn_1.norm", prefix);
    norm(b, p, C);
    static const char *const proj[] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.attn_1.%s", prefix, proj[i]);
        conv(b, p, C, C, 1);
    }
    snprintf(p, sizeof p, "%s.block_2", prefix);
    resnet_block(b, p, C, C);
}

/* The tensors of one module of the tree layout_ae.c walks. */
static fg_error *ae_module(void *ctx, const fg_ae_module *m) {
    builder *b = ctx;
    switch (m->slot) {
    case FG_AE_CONV_IN:
    case FG_AE_CONV_OUT:
    case FG_AE_RESAMPLE: conv(b, m->name, m->out, m->in, 3); break;
    case FG_AE_BLOCK: resnet_block(b, m->name, m->in, m->out); break;
    case FG_AE_MID: ae_mid(b, m->name, m->out); break;
    case FG_AE_NORM_OUT: norm(b, m->name, m->out); break;
    }
    return b->err;
}

fg_error *fg_layout_ae(const fg_ae_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_ae: NULL argument");
    FG_CHECK_ARG(c->levels >= 1 && c->levels <= FG_AE_MAX_LEVELS, "ae config: %lld levels (1..%d allowed)",
                 (long long)c->levels, FG_AE_MAX_LEVELS);
    const int64_t dims[] = {c->ch, c->num_res_blocks, c->z_channels, c->in_channels, c->out_ch};
    static const char *const names[] = {"ch", "num_res_blocks", "z_channels", "in_channels", "out_ch"};
    FG_TRY(fg_layout_check_dims("ae", 5, dims, names));
    for (int64_t i = 0; i < c->levels; i++)
        FG_CHECK_ARG(c->ch_mult[i] > 0 && c->ch_mult[i] <= 64 && c->ch * c->ch_mult[i] <= FG_LAYOUT_MAX_DIM,
                     "ae config: ch_mult[%lld] = %lld is out of range", (long long)i, (long long)c->ch_mult[i]);
    builder b = {out, c->dtype, NULL};
    size_t start = out->count;
    fg_error *err = fg_ae_walk(c, ae_module, &b);
    if (!b.err) b.err = err; /* else err is b.err */
    return finish(&b, start);
}

/* ---- common ---------------------------------------------------------------------------- */

fg_error *fg_layout_from_config(const fg_model_config *c, fg_layout *out) {
    FG_CHECK_ARG(c && out, "fg_layout_from_config: NULL argument");
    switch (c->family) {
    case FG_FAMILY_FLUX: return fg_layout_flux(&c->u.flux, out);
    case FG_FAMILY_CLIP: return fg_layout_clip(&c->u.clip, out);
    case FG_FAMILY_T5: return fg_layout_t5(&c->u.t5, out);
    case FG_FAMILY_AE: return fg_layout_ae(&c->u.ae, out);
    default: return fg_errorf(FG_ERR_INVALID_ARGUMENT, "no layout for an unknown model family");
    }
}

void fg_layout_free(fg_layout *l) {
    if (!l) return;
    free(l->tensors);
    memset(l, 0, sizeof *l);
}

int64_t fg_layout_tensor_numel(const fg_layout_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

uint64_t fg_layout_params(const fg_layout *l) {
    uint64_t n = 0;
    for (size_t i = 0; i < l->count; i++) n += (uint64_t)fg_layout_tensor_numel(&l->tensors[i]);
    return n;
}

uint64_t fg_layout_bytes(const fg_layout *l) {
    uint64_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += (uint64_t)fg_layout_tensor_numel(&l->tensors[i]) * fg_dtype_size(l->tensors[i].dtype);
    return n;
}

char *fg_layout_tensor_line(const fg_layout_tensor *t, char *buf, size_t cap) {
    if (!cap) return buf;
    size_t len = (size_t)snprintf(buf, cap, "%s %s ", t->name, fg_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    return buf;
}

/* ---- reference configs and presets ----------------------------------------------------- */

fg_clip_config fg_clip_config_l(void) {
    return (fg_clip_config){.hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072, .vocab = 49408,
                            .positions = 77, .text_projection = true, .dtype = FG_F16};
}

fg_clip_config fg_clip_config_tiny(void) {
    return (fg_clip_config){.hidden = 128, .layers = 2, .heads = 2, .intermediate = 512, .vocab = 49408,
                            .positions = 77, .text_projection = true, .dtype = FG_F16};
}

fg_t5_config fg_t5_config_xxl(void) {
    return (fg_t5_config){.d_model = 4096, .layers = 24, .heads = 64, .d_kv = 64, .d_ff = 10240, .vocab = 32128,
                          .buckets = 32, .dtype = FG_F16};
}

fg_t5_config fg_t5_config_tiny(void) {
    return (fg_t5_config){.d_model = 64, .layers = 2, .heads = 2, .d_kv = 32, .d_ff = 128, .vocab = 32128,
                          .buckets = 32, .dtype = FG_F16};
}

fg_ae_config fg_ae_config_flux(void) {
    return (fg_ae_config){.ch = 128, .levels = 4, .ch_mult = {1, 2, 4, 4}, .num_res_blocks = 2, .z_channels = 16,
                          .in_channels = 3, .out_ch = 3, .dtype = FG_F32};
}

fg_ae_config fg_ae_config_tiny(void) {
    return (fg_ae_config){.ch = 32, .levels = 4, .ch_mult = {1, 2, 2, 2}, .num_res_blocks = 1, .z_channels = 16,
                          .in_channels = 3, .out_ch = 3, .dtype = FG_F32};
}

static fg_preset_file flux_file(const char *relpath, fg_flux_config c) {
    return (fg_preset_file){relpath, {FG_FAMILY_FLUX, {.flux = c}}};
}

/* "tiny", the FLUX variants of layout_flux.c, then the encoders and the AE: built once, so a
 * variant added to that list is a preset without a second edit here. */
static char preset_names[512];
static pthread_once_t preset_names_once = PTHREAD_ONCE_INIT;

static void build_preset_names(void) {
    size_t n = 0, used = (size_t)snprintf(preset_names, sizeof preset_names, "tiny");
    const fg_flux_variant *v = fg_flux_variants(&n);
    for (size_t i = 0; i < n && used < sizeof preset_names; i++)
        used += (size_t)snprintf(preset_names + used, sizeof preset_names - used, " %s", v[i].name);
    if (used < sizeof preset_names) snprintf(preset_names + used, sizeof preset_names - used, " clip-l t5xxl ae");
}

const char *fg_preset_names(void) {
    pthread_once(&preset_names_once, build_preset_names);
    return preset_names;
}

size_t fg_preset_files(const char *preset, fg_preset_file files[FG_PRESET_MAX_FILES]) {
    if (!preset) return 0;
    if (strcmp(preset, "tiny") == 0) {
        files[0] = flux_file("diffusion_models/tiny-flux.safetensors", fg_flux_config_tiny());
        files[1] = (fg_preset_file){"text_encoders/tiny-clip-l.safetensors",
                                    {FG_FAMILY_CLIP, {.clip = fg_clip_config_tiny()}}};
        files[2] = (fg_preset_file){"text_encoders/tiny-t5xxl.safetensors",
                                    {FG_FAMILY_T5, {.t5 = fg_t5_config_tiny()}}};
        files[3] = (fg_preset_file){"vae/tiny-ae.safetensors", {FG_FAMILY_AE, {.ae = fg_ae_config_tiny()}}};
        return 4;
    }
    size_t nvariants; /* one preset per named FLUX variant (layout_flux.c) */
    const fg_flux_variant *variants = fg_flux_variants(&nvariants);
    for (size_t i = 0; i < nvariants; i++) {
        if (strcmp(preset, variants[i].name) == 0) {
            files[0] = flux_file(variants[i].relpath, variants[i].config);
            return 1;
        }
    }
    if (strcmp(preset, "clip-l") == 0) {
        files[0] = (fg_preset_file){"text_encoders/clip_l.safetensors", {FG_FAMILY_CLIP, {.clip = fg_clip_config_l()}}};
        return 1;
    }
    if (strcmp(preset, "t5xxl") == 0) {
        files[0] = (fg_preset_file){"text_encoders/t5xxl_fp16.safetensors", {FG_FAMILY_T5, {.t5 = fg_t5_config_xxl()}}};
        return 1;
    }
    if (strcmp(preset, "ae") == 0) {
        files[0] = (fg_preset_file){"vae/ae.safetensors", {FG_FAMILY_AE, {.ae = fg_ae_config_flux()}}};
        return 1;
    }
    return 0;
}

/* ---- random contents ------------------------------------------------------------------- */

/* Elements per independently seeded stretch: the unit of parallel work and of the f32 scratch
 * buffer (on the stack, so kept small). */
#define FILL_CHUNK 4096

static uint64_t splitmix64(uint64_t x) {
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

typedef struct fill_job {
    const fg_layout_tensor *t;
    uint64_t key; /* mixes seed and name */
    float scale, offset;
    char *dst;
    int64_t numel;
    size_t elem_size;
} fill_job;

/* Sum of four 16-bit uniforms (Irwin-Hall): mean 0, variance 1 after scaling, tails bounded
 * at +-3.47, which keeps fp16/bf16 weights far from overflow. One 64-bit draw per value. */
static void fill_chunks(void *ctx, int64_t begin, int64_t end, int worker) {
    const fill_job *job = ctx;
    float scratch[FILL_CHUNK];
    const float inv_std = 1.0f / 37837.23f; /* 65536 * sqrt(4/12) */
    for (int64_t c = begin; c < end; c++) {
        int64_t first = c * FILL_CHUNK;
        int64_t n = job->numel - first < FILL_CHUNK ? job->numel - first : FILL_CHUNK;
        uint64_t state = splitmix64(job->key ^ ((uint64_t)c * UINT64_C(0xD1B54A32D192ED03)));
        for (int64_t i = 0; i < n; i++) {
            state += UINT64_C(0x9E3779B97F4A7C15);
            uint64_t r = splitmix64(state);
            uint32_t sum = (uint32_t)(r & 0xFFFF) + (uint32_t)((r >> 16) & 0xFFFF) + (uint32_t)((r >> 32) & 0xFFFF) +
                           (uint32_t)(r >> 48);
            float normal = ((float)sum - 131070.0f) * inv_std;
            scratch[i] = job->offset + job->scale * normal;
        }
        fg_convert_from_f32(job->dst + (size_t)first * job->elem_size, job->t->dtype, scratch, (size_t)n);
    }
}

fg_error *fg_layout_fill_random(const fg_layout_tensor *t, uint64_t seed, void *buf, size_t nbytes) {
    FG_CHECK_ARG(t && (buf || nbytes == 0), "fg_layout_fill_random: NULL argument");
    int64_t numel = fg_layout_tensor_numel(t);
    size_t elem = fg_dtype_size(t->dtype);
    FG_CHECK_ARG((uint64_t)numel * elem == nbytes, "tensor '%s': asked to fill %zu bytes, it has %llu", t->name,
                 nbytes, (unsigned long long)((uint64_t)numel * elem));
    uint64_t key = splitmix64(seed);
    for (const char *p = t->name; *p; p++) key = (key ^ (unsigned char)*p) * UINT64_C(0x100000001B3);
    fill_job job = {t, splitmix64(key), 0.0f, 0.0f, buf, numel, elem};
    switch (t->init) {
    case FG_INIT_WEIGHT: job.scale = t->fan_in > 0 ? 1.0f / sqrtf((float)t->fan_in) : 1.0f; break;
    case FG_INIT_BIAS: job.scale = 0.02f; break;
    case FG_INIT_ONES: job.offset = 1.0f; break;
    case FG_INIT_ZEROS: break;
    case FG_INIT_EMBEDDING: job.scale = 1.0f; break;
    }
    int64_t chunks = (numel + FILL_CHUNK - 1) / FILL_CHUNK;
    fg_parallel_for(fg_threadpool_global(), chunks, 16, fill_chunks, &job);
    return NULL;
}
