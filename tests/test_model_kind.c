/* Model detection and layout generators: the tiny fixtures, the manifests of the real files,
 * full-size layouts (as sparse files: only the header is real), ComfyUI checkpoint prefixes,
 * diffusers names, damaged layouts and unknown files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/model_kind.h"
#include "models/model_layouts.h"
#include "core/safetensors.h"
#include "tests/testing.h"

static const char *tmp_path(const char *name) {
    static char buf[4200];
    snprintf(buf, sizeof buf, "%s/%s", test_tmpdir(), name);
    return buf;
}

static bool detect_file(const char *path, fg_model_kind *k) {
    fg_safetensors *st = NULL;
    if (!CHECK_OK(fg_safetensors_open(path, &st))) return false;
    bool ok = CHECK_OK(fg_model_kind_detect(st, k));
    fg_safetensors_close(st);
    return ok;
}

static void check_clean_layout(const fg_model_component *c) {
    CHECK(c->layout_checked, "%s: %s", c->kind, c->layout_problem);
    CHECK(c->layout_missing == 0 && c->layout_mismatched == 0 && c->layout_extra == 0, "%s: %zu/%zu/%zu (%s)",
          c->kind, c->layout_missing, c->layout_mismatched, c->layout_extra, c->layout_problem);
}

/* ---- writing test files ------------------------------------------------------------------- */

typedef struct part {
    const fg_layout *layout;
    const char *prefix;
    const char *skip; /* tensor left out, or NULL */
} part;

/* A valid safetensors file with the given layouts whose data section is a hole: the reader
 * validates only the header, so full-size models cost no disk space. */
static bool write_sparse(const char *path, const part *parts, size_t nparts) {
    size_t cap = 1 << 20, len = 0;
    char *h = malloc(cap);
    if (!h) return false;
    uint64_t offset = 0;
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (size_t p = 0; p < nparts; p++)
        for (size_t i = 0; i < parts[p].layout->count; i++) {
            const fg_layout_tensor *t = &parts[p].layout->tensors[i];
            if (parts[p].skip && strcmp(parts[p].skip, t->name) == 0) continue;
            uint64_t nbytes = (uint64_t)fg_layout_tensor_numel(t) * fg_dtype_size(t->dtype);
            len += (size_t)snprintf(h + len, cap - len, "%s\"%s%s\":{\"dtype\":\"%s\",\"shape\":[", len > 1 ? "," : "",
                                    parts[p].prefix, t->name, fg_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++)
                len += (size_t)snprintf(h + len, cap - len, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                                    (unsigned long long)(offset + nbytes));
            offset += nbytes;
        }
    len += (size_t)snprintf(h + len, cap - len, "}");
    bool ok = len < cap;
    CHECK(ok, "header buffer too small");
    uint64_t hlen = len;
    FILE *f = ok ? fopen(path, "wb") : NULL;
    ok = f && fwrite(&hlen, 8, 1, f) == 1 && fwrite(h, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    ok = ok && truncate(path, (off_t)(8 + hlen + offset)) == 0;
    CHECK(ok, "writing %s", path);
    free(h);
    return ok;
}

static fg_error *fill_zeros(void *ctx, const char *name, void *buf, size_t nbytes) {
    memset(buf, 0, nbytes);
    return NULL;
}

/* Copies every tensor of the fixture `rel` into w under `prefix`. */
static void add_fixture(fg_st_writer *w, const char *rel, const char *prefix, fg_safetensors **keep) {
    if (!CHECK_OK(fg_safetensors_open(test_fixture(rel), keep))) return;
    for (size_t i = 0; i < fg_safetensors_count(*keep); i++) {
        const fg_st_entry *e = fg_safetensors_entry(*keep, i);
        fg_tensor t;
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        if (!CHECK_OK(fg_safetensors_entry_tensor(*keep, e, &t))) return;
        if (!CHECK_OK(fg_st_writer_add(w, name, &t))) return;
    }
}

/* ---- tests -------------------------------------------------------------------------------- */

static const char *const fixture_files[] = {"models/diffusion_models/tiny-flux.safetensors",
                                            "models/text_encoders/tiny-clip-l.safetensors",
                                            "models/text_encoders/tiny-t5xxl.safetensors",
                                            "models/vae/tiny-ae.safetensors"};

static void test_fixture_models_detected(void) {
    const fg_model_family families[] = {FG_FAMILY_FLUX, FG_FAMILY_CLIP, FG_FAMILY_T5, FG_FAMILY_AE};
    const char *kinds[] = {"flux (custom size: hidden 256, 2 double + 2 single blocks, 2 heads, context 64, vec 128, "
                           "guidance)",
                           "clip-l (custom size: hidden 128, 2 layers)", "t5-xxl (custom size: d_model 64, 2 layers)",
                           "flux autoencoder (custom size: ch 32, ch_mult 1,2,2,2, 1 res blocks)"};
    const size_t counts[] = {84, 37, 21, 176};
    for (int i = 0; i < 4; i++) {
        fg_model_kind k;
        if (!detect_file(test_fixture(fixture_files[i]), &k)) continue;
        CHECK(k.ncomponents == 1, "%s: %zu components", fixture_files[i], k.ncomponents);
        const fg_model_component *c = &k.components[0];
        CHECK(c->family == families[i]);
        CHECK(strcmp(k.kind, kinds[i]) == 0, "'%s'", k.kind);
        CHECK(c->prefix[0] == '\0' && !c->diffusers);
        CHECK(c->tensors == counts[i] && k.other_tensors == 0, "%zu tensors", c->tensors);
        check_clean_layout(c);
    }
}

static void test_fixture_hparams(void) {
    fg_model_kind k;
    if (detect_file(test_fixture(fixture_files[0]), &k)) {
        const fg_flux_config *c = &k.components[0].config.u.flux;
        CHECK(c->hidden == 256 && c->num_heads == 2 && c->depth == 2 && c->depth_single == 2);
        CHECK(c->in_channels == 64 && c->out_channels == 64 && c->context_in_dim == 64 && c->vec_in_dim == 128);
        CHECK(c->mlp_hidden == 1024 && c->time_dim == 256 && c->guidance_embed && c->qkv_bias && c->dtype == FG_BF16);
    }
    if (detect_file(test_fixture(fixture_files[1]), &k)) {
        const fg_clip_config *c = &k.components[0].config.u.clip;
        CHECK(c->hidden == 128 && c->layers == 2 && c->heads == 2 && c->intermediate == 512);
        CHECK(c->vocab == 49408 && c->positions == 77 && c->text_projection && c->dtype == FG_F16);
    }
    if (detect_file(test_fixture(fixture_files[2]), &k)) {
        const fg_t5_config *c = &k.components[0].config.u.t5;
        CHECK(c->d_model == 64 && c->layers == 2 && c->heads == 2 && c->d_kv == 32 && c->d_ff == 128);
        CHECK(c->vocab == 32128 && c->buckets == 32);
    }
    if (detect_file(test_fixture(fixture_files[3]), &k)) {
        const fg_ae_config *c = &k.components[0].config.u.ae;
        CHECK(c->ch == 32 && c->levels == 4 && c->num_res_blocks == 1 && c->z_channels == 16);
        CHECK(c->ch_mult[0] == 1 && c->ch_mult[1] == 2 && c->ch_mult[2] == 2 && c->ch_mult[3] == 2);
        CHECK(c->in_channels == 3 && c->out_ch == 3 && c->dtype == FG_F32);
    }
}

/* The generator reproduces the manifests of the real files line by line. */
static void check_manifest(const char *preset, const char *manifest, const char *drop_prefix) {
    fg_preset_file files[FG_PRESET_MAX_FILES];
    fg_layout l = {0};
    size_t nfiles = fg_preset_files(preset, files);
    CHECK(nfiles == 1, "%s", preset);
    if (nfiles != 1 || !CHECK_OK(fg_layout_from_config(&files[0].config, &l))) return;
    FILE *f = fopen(test_fixture(manifest), "r");
    CHECK(f != NULL, "%s", manifest);
    char line[512], mine[512];
    size_t i = 0, mismatches = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#') continue;
        if (drop_prefix && strncmp(line, drop_prefix, strlen(drop_prefix)) == 0) continue;
        if (i >= l.count || strcmp(line, fg_layout_tensor_line(&l.tensors[i], mine, sizeof mine)) != 0) mismatches++;
        i++;
    }
    if (f) fclose(f);
    CHECK(mismatches == 0 && i == l.count, "%s: %zu mismatches, %zu lines vs %zu tensors", preset, mismatches, i,
          l.count);
    fg_layout_free(&l);
}

static void test_layouts_match_manifests(void) {
    check_manifest("flux-dev", "manifests/flux1-dev.txt", NULL);
    check_manifest("flux-schnell", "manifests/flux1-dev.txt", "guidance_in.");
    check_manifest("clip-l", "manifests/clip_l.txt", NULL);
    check_manifest("t5xxl", "manifests/t5xxl_fp16.txt", NULL);
    check_manifest("ae", "manifests/ae.txt", NULL);
}

static void test_layout_totals(void) {
    struct { fg_model_config c; size_t count; uint64_t params; } cases[] = {
        {{FG_FAMILY_FLUX, {.flux = fg_flux_config_dev()}}, 780, 11901408320ull},
        {{FG_FAMILY_FLUX, {.flux = fg_flux_config_schnell()}}, 776, 11901408320ull - 2 * 3072ull - 3072ull * 256 -
                                                                        3072ull * 3072},
        {{FG_FAMILY_CLIP, {.clip = fg_clip_config_l()}}, 197, 123650304ull},
        {{FG_FAMILY_T5, {.t5 = fg_t5_config_xxl()}}, 219, 4762310656ull},
        {{FG_FAMILY_AE, {.ae = fg_ae_config_flux()}}, 244, 83819683ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_layout l = {0};
        if (!CHECK_OK(fg_layout_from_config(&cases[i].c, &l))) continue;
        CHECK(l.count == cases[i].count && fg_layout_params(&l) == cases[i].params, "case %zu: %zu tensors", i, l.count);
        fg_layout_free(&l);
    }
    fg_flux_config bad = fg_flux_config_tiny();
    bad.num_heads = 3; /* 256 is not a multiple of 3 */
    fg_layout l = {0};
    CHECK_ERR(fg_layout_flux(&bad, &l), "multiple");
    CHECK(l.count == 0);
    fg_ae_config bad_ae = fg_ae_config_tiny();
    bad_ae.levels = 0;
    CHECK_ERR(fg_layout_ae(&bad_ae, &l), "levels");
}

/* Full-size models as sparse files: exact kind names and clean layouts. */
static void test_full_size_detected(void) {
    const char *preset[] = {"flux-dev", "flux-schnell", "clip-l", "t5xxl", "ae"};
    const char *kind[] = {"flux-dev", "flux-schnell", "clip-l", "t5-xxl", "flux autoencoder"};
    for (int i = 0; i < 5; i++) {
        fg_preset_file files[FG_PRESET_MAX_FILES];
        fg_layout l = {0};
        size_t nfiles = fg_preset_files(preset[i], files);
        CHECK(nfiles == 1, "%s", preset[i]);
        if (nfiles != 1 || !CHECK_OK(fg_layout_from_config(&files[0].config, &l))) continue;
        part p = {&l, "", NULL};
        fg_model_kind k;
        if (write_sparse(tmp_path("full.safetensors"), &p, 1) && detect_file(tmp_path("full.safetensors"), &k)) {
            CHECK(strcmp(k.kind, kind[i]) == 0, "%s: '%s'", preset[i], k.kind);
            CHECK(k.ncomponents == 1 && k.components[0].tensors == l.count);
            if (k.ncomponents == 1) check_clean_layout(&k.components[0]);
        }
        fg_layout_free(&l);
    }
}

/* FLUX.1 Fill's shapes (img_in takes 64 latent + 320 mask and masked-image channels, the output
 * stays 64): only a config for the layout, the inference and the layout check. */
static void test_fill_shaped_dit(void) {
    fg_flux_config fill = fg_flux_config_dev();
    fill.in_channels = 384;
    fg_layout l = {0};
    if (!CHECK_OK(fg_layout_flux(&fill, &l))) return;
    CHECK(l.count == 780 && strcmp(l.tensors[0].name, "img_in.weight") == 0 && l.tensors[0].shape[1] == 384);
    part p = {&l, "", NULL};
    fg_model_kind k;
    bool found = write_sparse(tmp_path("fill.safetensors"), &p, 1) && detect_file(tmp_path("fill.safetensors"), &k);
    CHECK(found && k.ncomponents == 1);
    if (found && k.ncomponents == 1) {
        const fg_flux_config *c = &k.components[0].config.u.flux;
        CHECK(c->in_channels == 384 && c->out_channels == 64 && c->hidden == 3072 && c->guidance_embed, "%lld %lld",
              (long long)c->in_channels, (long long)c->out_channels);
        check_clean_layout(&k.components[0]);
    }
    fg_layout_free(&l);
}

/* A ComfyUI all-in-one checkpoint at full size: each component under its prefix. */
static void test_full_checkpoint_prefixes(void) {
    fg_layout flux = {0}, ae = {0}, clip = {0}, t5 = {0};
    fg_flux_config fc = fg_flux_config_dev();
    fg_ae_config ac = fg_ae_config_flux();
    fg_clip_config cc = fg_clip_config_l();
    fg_t5_config tc = fg_t5_config_xxl();
    if (!CHECK_OK(fg_layout_flux(&fc, &flux)) || !CHECK_OK(fg_layout_ae(&ac, &ae)) || !CHECK_OK(fg_layout_clip(&cc, &clip)) ||
        !CHECK_OK(fg_layout_t5(&tc, &t5)))
        goto out;
    part parts[] = {{&flux, "model.diffusion_model.", NULL},
                    {&ae, "vae.", NULL},
                    {&clip, "text_encoders.clip_l.transformer.", NULL},
                    {&t5, "text_encoders.t5xxl.transformer.", NULL}};
    fg_model_kind k;
    if (!write_sparse(tmp_path("aio.safetensors"), parts, 4) || !detect_file(tmp_path("aio.safetensors"), &k)) goto out;
    CHECK(k.ncomponents == 4, "%zu components", k.ncomponents);
    CHECK(strcmp(k.kind, "checkpoint: flux-dev + clip-l + t5-xxl + flux autoencoder") == 0, "'%s'", k.kind);
    const char *prefixes[] = {"model.diffusion_model.", "text_encoders.clip_l.transformer.",
                              "text_encoders.t5xxl.transformer.", "vae."};
    const size_t counts[] = {780, 197, 219, 244};
    for (size_t i = 0; i < 4 && i < k.ncomponents; i++) {
        CHECK(strcmp(k.components[i].prefix, prefixes[i]) == 0, "'%s'", k.components[i].prefix);
        CHECK(k.components[i].tensors == counts[i], "%zu", k.components[i].tensors);
        check_clean_layout(&k.components[i]);
    }
    CHECK(k.other_tensors == 0);
out:
    fg_layout_free(&flux);
    fg_layout_free(&ae);
    fg_layout_free(&clip);
    fg_layout_free(&t5);
}

/* The tiny fixtures rewritten with real bytes under checkpoint prefixes. */
static void test_tiny_checkpoint_written(void) {
    fg_st_writer *w = NULL;
    fg_safetensors *src[4] = {NULL};
    const char *prefixes[] = {"model.diffusion_model.", "text_encoders.clip_l.transformer.",
                              "text_encoders.t5xxl.transformer.", "vae."};
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    for (int i = 0; i < 4; i++) add_fixture(w, fixture_files[i], prefixes[i], &src[i]);
    CHECK_OK(fg_st_writer_write(w, tmp_path("tiny-aio.safetensors")));
    fg_st_writer_free(w);
    for (int i = 0; i < 4; i++) fg_safetensors_close(src[i]);
    fg_model_kind k;
    if (!detect_file(tmp_path("tiny-aio.safetensors"), &k)) return;
    CHECK(k.ncomponents == 4, "%zu", k.ncomponents);
    const size_t counts[] = {84, 37, 21, 176};
    for (size_t i = 0; i < 4 && i < k.ncomponents; i++) {
        CHECK(strcmp(k.components[i].prefix, prefixes[i]) == 0, "'%s'", k.components[i].prefix);
        CHECK(k.components[i].tensors == counts[i]);
        check_clean_layout(&k.components[i]);
    }

    /* The DiT alone under its prefix. */
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    add_fixture(w, fixture_files[0], "model.diffusion_model.", &src[0]);
    CHECK_OK(fg_st_writer_write(w, tmp_path("tiny-dit.safetensors")));
    fg_st_writer_free(w);
    fg_safetensors_close(src[0]);
    if (!detect_file(tmp_path("tiny-dit.safetensors"), &k)) return;
    CHECK(k.ncomponents == 1 && strcmp(k.components[0].prefix, "model.diffusion_model.") == 0);
    CHECK(k.components[0].family == FG_FAMILY_FLUX && k.components[0].config.u.flux.hidden == 256);
    CHECK(strncmp(k.kind, "checkpoint: flux (custom size", 29) == 0, "'%s'", k.kind);
}

/* Diffusers names for a tiny DiT (docs/models.md 1.15): hidden 256, head_dim 128, 2 + 1 blocks. */
static void test_diffusers_layout(void) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    struct { const char *name; int64_t d0, d1; } t[] = {
        {"x_embedder.weight", 256, 64}, {"x_embedder.bias", 256, 0}, {"context_embedder.weight", 256, 64},
        {"time_text_embed.timestep_embedder.linear_1.weight", 256, 256},
        {"time_text_embed.guidance_embedder.linear_1.weight", 256, 256},
        {"time_text_embed.text_embedder.linear_1.weight", 256, 128},
        {"transformer_blocks.0.attn.to_q.weight", 256, 256}, {"transformer_blocks.0.attn.to_q.bias", 256, 0},
        {"transformer_blocks.0.attn.norm_q.weight", 128, 0}, {"transformer_blocks.0.ff.net.0.proj.weight", 1024, 256},
        {"transformer_blocks.1.attn.to_q.weight", 256, 256}, {"single_transformer_blocks.0.proj_mlp.weight", 1024, 256},
        {"single_transformer_blocks.0.attn.norm_q.weight", 128, 0}, {"norm_out.linear.weight", 512, 256},
        {"proj_out.weight", 64, 256},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t shape[2] = {t[i].d0, t[i].d1};
        CHECK_OK(fg_st_writer_add_lazy(w, t[i].name, FG_BF16, t[i].d1 ? 2 : 1, shape, fill_zeros, NULL));
    }
    CHECK_OK(fg_st_writer_write(w, tmp_path("diffusers.safetensors")));
    fg_st_writer_free(w);
    fg_model_kind k;
    if (!detect_file(tmp_path("diffusers.safetensors"), &k)) return;
    CHECK(k.ncomponents == 1);
    const fg_model_component *c = &k.components[0];
    CHECK(c->family == FG_FAMILY_FLUX && c->diffusers);
    CHECK(strstr(k.kind, "diffusers") != NULL, "'%s'", k.kind);
    const fg_flux_config *f = &c->config.u.flux;
    CHECK(f->hidden == 256 && f->num_heads == 2 && f->depth == 2 && f->depth_single == 1, "%lld %lld %lld %lld",
          (long long)f->hidden, (long long)f->num_heads, (long long)f->depth, (long long)f->depth_single);
    CHECK(f->in_channels == 64 && f->out_channels == 64 && f->context_in_dim == 64 && f->vec_in_dim == 128);
    CHECK(f->mlp_hidden == 1024 && f->guidance_embed && f->qkv_bias);
    CHECK(c->tensors == sizeof t / sizeof t[0] && k.other_tensors == 0);
}

static void test_unknown_files(void) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    int64_t shape[2] = {4, 4};
    CHECK_OK(fg_st_writer_add_lazy(w, "foo.weight", FG_F32, 2, shape, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "ximg_in.weight", FG_F32, 2, shape, fill_zeros, NULL)); /* not an anchor */
    CHECK_OK(fg_st_writer_write(w, tmp_path("unknown.safetensors")));
    fg_st_writer_free(w);
    fg_model_kind k;
    if (detect_file(tmp_path("unknown.safetensors"), &k)) {
        CHECK(k.ncomponents == 0 && strcmp(k.kind, "unknown") == 0 && k.other_tensors == 2, "'%s'", k.kind);
    }
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    CHECK_OK(fg_st_writer_write(w, tmp_path("empty.safetensors")));
    fg_st_writer_free(w);
    if (detect_file(tmp_path("empty.safetensors"), &k)) CHECK(k.ncomponents == 0 && strcmp(k.kind, "unknown") == 0);
    /* An anchor with a nonsense shape: detected family, partial config, no crash. */
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    CHECK_OK(fg_st_writer_add_lazy(w, "img_in.weight", FG_F32, 0, shape, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_write(w, tmp_path("scalar.safetensors")));
    fg_st_writer_free(w);
    if (detect_file(tmp_path("scalar.safetensors"), &k)) {
        CHECK(k.ncomponents == 1 && k.components[0].config.u.flux.hidden == 0);
        CHECK(!k.components[0].layout_checked && strstr(k.components[0].layout_problem, "not checked"));
    }
    /* Empty tensors may carry huge dims (1-byte dtypes allow even INT64_MAX before the 0):
     * inference must not overflow (UBSan watches). */
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    int64_t huge[2] = {INT64_C(1) << 62, 0}, huger[2] = {INT64_MAX, 0}, three[1] = {3};
    CHECK_OK(fg_st_writer_add_lazy(w, "img_in.weight", FG_U8, 2, huge, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "single_blocks.0.linear1.weight", FG_U8, 2, huger, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "single_blocks.0.norm.query_norm.scale", FG_BF16, 1, three, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "encoder.conv_in.weight", FG_BOOL, 2, huger, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_add_lazy(w, "encoder.down.0.block.0.conv1.weight", FG_U8, 2, huge, fill_zeros, NULL));
    CHECK_OK(fg_st_writer_write(w, tmp_path("huge.safetensors")));
    fg_st_writer_free(w);
    if (detect_file(tmp_path("huge.safetensors"), &k)) {
        CHECK(k.ncomponents == 2, "%zu", k.ncomponents);
        CHECK(k.components[0].config.u.flux.hidden == 0 && k.components[0].config.u.flux.depth_single == 1);
        CHECK(!k.components[0].layout_checked && !k.components[1].layout_checked);
    }
    CHECK_ERR(fg_model_kind_detect(NULL, &k), NULL);
}

/* A damaged tiny DiT: one tensor missing, one with the wrong shape. */
static void test_damaged_layout_reported(void) {
    fg_flux_config fc = fg_flux_config_tiny();
    fg_layout l = {0};
    if (!CHECK_OK(fg_layout_flux(&fc, &l))) return;
    for (size_t i = 0; i < l.count; i++)
        if (strcmp(l.tensors[i].name, "final_layer.linear.bias") == 0) l.tensors[i].shape[0] = 63;
    part p = {&l, "", "double_blocks.1.txt_mlp.2.bias"};
    fg_model_kind k;
    if (write_sparse(tmp_path("damaged.safetensors"), &p, 1) && detect_file(tmp_path("damaged.safetensors"), &k)) {
        const fg_model_component *c = &k.components[0];
        CHECK(k.ncomponents == 1 && c->layout_checked);
        CHECK(c->layout_missing == 1 && c->layout_mismatched == 1 && c->layout_extra == 0, "%zu %zu %zu",
              c->layout_missing, c->layout_mismatched, c->layout_extra);
        CHECK(strstr(c->layout_problem, "final_layer.linear.bias") || strstr(c->layout_problem, "txt_mlp.2.bias"), "%s",
              c->layout_problem);
    }
    fg_layout_free(&l);
}

/* Random contents: deterministic, seed-dependent, scaled as documented. */
static void test_fill_random(void) {
    fg_layout_tensor t = {.name = "w", .dtype = FG_F32, .ndim = 2, .shape = {64, 300}, .init = FG_INIT_WEIGHT,
                          .fan_in = 300};
    size_t n = 64 * 300;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK_OK(fg_layout_fill_random(&t, 5, a, n * sizeof *a));
    CHECK_OK(fg_layout_fill_random(&t, 5, b, n * sizeof *b));
    CHECK(memcmp(a, b, n * sizeof *a) == 0);
    CHECK_OK(fg_layout_fill_random(&t, 6, b, n * sizeof *b));
    CHECK(memcmp(a, b, n * sizeof *a) != 0);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) sum += a[i], sq += (double)a[i] * a[i];
    double mean = sum / n, std = sqrt(sq / n - mean * mean);
    CHECK(fabs(mean) < 0.005 && fabs(std - 1 / sqrt(300.0)) < 0.003, "mean %g std %g", mean, std);
    t.init = FG_INIT_ONES;
    CHECK_OK(fg_layout_fill_random(&t, 5, a, n * sizeof *a));
    CHECK(a[0] == 1.0f && a[n - 1] == 1.0f);
    CHECK_ERR(fg_layout_fill_random(&t, 5, a, 12), "fill");
out:
    free(a);
    free(b);
}

int main(void) {
    RUN_TEST(test_fixture_models_detected);
    RUN_TEST(test_fixture_hparams);
    RUN_TEST(test_layouts_match_manifests);
    RUN_TEST(test_layout_totals);
    RUN_TEST(test_full_size_detected);
    RUN_TEST(test_fill_shaped_dit);
    RUN_TEST(test_full_checkpoint_prefixes);
    RUN_TEST(test_tiny_checkpoint_written);
    RUN_TEST(test_diffusers_layout);
    RUN_TEST(test_unknown_files);
    RUN_TEST(test_damaged_layout_reported);
    RUN_TEST(test_fill_random);
    return test_summary();
}
