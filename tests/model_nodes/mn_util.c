/* Helpers of the model node tests (see model_nodes.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "kernels/ops.h"
#include "model_nodes.h"
#include "nodes/node_args.h"
#include "tests/testing.h"

static fg_run_settings settings;
static char models_dir[1024];
static bool built, build_failed;

static bool copy_file(const char *src, const char *dst) {
    if (link(src, dst) == 0) return true;
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    bool ok = in && out;
    char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = false;
    return ok;
}

typedef struct part {
    const char *fixture, *prefix;
    const char *skip; /* tensors whose name starts with this are left out (NULL: none) */
} part;

/* Writes the tensors of each fixture under its prefix into one file (a ComfyUI all-in-one
 * checkpoint). */
static bool write_checkpoint(const char *path, const part *parts, int n) {
    fg_safetensors *st[4] = {0};
    fg_st_writer *w = NULL;
    bool ok = test_check_ok(fg_st_writer_create(&w), __FILE__, __LINE__, "writer");
    for (int i = 0; ok && i < n; i++) {
        ok = test_check_ok(fg_safetensors_open(test_fixture(parts[i].fixture), &st[i]), __FILE__, __LINE__, "open");
        for (size_t k = 0; ok && k < fg_safetensors_count(st[i]); k++) {
            const fg_st_entry *e = fg_safetensors_entry(st[i], k);
            if (parts[i].skip && strncmp(e->name, parts[i].skip, strlen(parts[i].skip)) == 0) continue;
            fg_tensor t;
            char name[512];
            snprintf(name, sizeof name, "%s%s", parts[i].prefix, e->name);
            ok = test_check_ok(fg_safetensors_entry_tensor(st[i], e, &t), __FILE__, __LINE__, "tensor") &&
                 test_check_ok(fg_st_writer_add(w, name, &t), __FILE__, __LINE__, "add");
        }
    }
    if (ok) ok = test_check_ok(fg_st_writer_write(w, path), __FILE__, __LINE__, "write");
    fg_st_writer_free(w);
    for (int i = 0; i < n; i++) fg_safetensors_close(st[i]);
    return ok;
}

static bool build_models(void) {
    snprintf(models_dir, sizeof models_dir, "%s/models", test_tmpdir());
    const char *dirs[] = {"", "/diffusion_models", "/text_encoders", "/vae", "/checkpoints"};
    char path[1200];
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s%s", models_dir, dirs[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return false;
    }
    const char *files[] = {"diffusion_models/tiny-flux.safetensors", "text_encoders/tiny-clip-l.safetensors",
                           "text_encoders/tiny-t5xxl.safetensors", "vae/tiny-ae.safetensors"};
    for (size_t i = 0; i < 4; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s", files[i]);
        snprintf(path, sizeof path, "%s/%s", models_dir, files[i]);
        if (!copy_file(test_fixture(rel), path)) return false;
    }
    const part aio[] = {{"models/diffusion_models/tiny-flux.safetensors", "model.diffusion_model.", NULL},
                        {"models/text_encoders/tiny-clip-l.safetensors", "text_encoders.clip_l.transformer.", NULL},
                        {"models/text_encoders/tiny-t5xxl.safetensors", "text_encoders.t5xxl.transformer.", NULL},
                        {"models/vae/tiny-ae.safetensors", "vae.", NULL}};
    snprintf(path, sizeof path, "%s/checkpoints/tiny-aio.safetensors", models_dir);
    if (!write_checkpoint(path, aio, 4)) return false;
    snprintf(path, sizeof path, "%s/checkpoints/tiny-dit-only.safetensors", models_dir);
    if (!write_checkpoint(path, aio, 1)) return false;
    /* schnell-type: the same DiT without the guidance embedder */
    const part schnell[] = {{"models/diffusion_models/tiny-flux.safetensors", "", "guidance_in."}};
    snprintf(path, sizeof path, "%s/diffusion_models/tiny-schnell.safetensors", models_dir);
    return write_checkpoint(path, schnell, 1);
}

const fg_run_settings *mn_settings(void) {
    if (!built && !build_failed) {
        build_failed = !build_models();
        built = !build_failed;
        settings.models_dir = models_dir;
        settings.output_dir = settings.temp_dir = settings.input_dir = test_tmpdir();
        settings.device = FG_DEVICE_CPU;
    }
    return built ? &settings : NULL;
}

void mn_clear(fg_value *v, int n) {
    for (int i = 0; i < n; i++) fg_value_clear(&v[i]);
}

fg_error *mn_run(const char *class_type, const fg_value *inputs, fg_value *outputs) {
    const fg_node_spec *spec = fg_node_find(class_type);
    if (!spec || !spec->execute) return fg_errorf(FG_ERR_NOT_FOUND, "no executable node %s", class_type);
    const fg_run_settings *s = mn_settings();
    if (!s) return fg_errorf(FG_ERR_IO, "test models folder could not be built");
    fg_node_ctx ctx = {.node_id = "7", .spec = spec, .settings = s};
    memset(outputs, 0, sizeof(fg_value) * (size_t)spec->n_outputs);
    fg_error *err = spec->execute(&ctx, &(fg_node_args){.spec = spec, .values = inputs}, outputs);
    if (err) mn_clear(outputs, spec->n_outputs);
    free(ctx.ui_result_json);
    return err;
}

bool mn_golden(const char *file, const char *name, fg_tensor *out, bool scale_u8) {
    fg_safetensors *st;
    if (!CHECK_OK(fg_safetensors_open(test_fixture(file), &st))) return false;
    fg_tensor t;
    bool ok = CHECK_OK(fg_safetensors_tensor(st, name, &t)) && (t.dtype == FG_F32 || t.dtype == FG_U8) &&
              CHECK_OK(fg_tensor_alloc_host(out, FG_F32, t.ndim, t.shape));
    if (ok) {
        float *d = out->data;
        for (int64_t i = 0, n = fg_tensor_numel(&t); i < n; i++)
            d[i] = t.dtype == FG_F32 ? ((const float *)t.data)[i]
                                     : (float)((const uint8_t *)t.data)[i] / (scale_u8 ? 255.0f : 1.0f);
    }
    fg_safetensors_close(st);
    return ok;
}

float mn_max_abs_diff(const fg_tensor *a, const fg_tensor *b) {
    if (!fg_tensor_same_shape(a, b) || a->dtype != FG_F32 || b->dtype != FG_F32) return INFINITY;
    const float *x = a->data, *y = b->data;
    float m = 0;
    for (int64_t i = 0, n = fg_tensor_numel(a); i < n; i++) {
        float d = fabsf(x[i] - y[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

fg_model_obj *mn_unet(const char *name, const char *dtype) {
    fg_value in[2] = {fg_value_string(name), fg_value_string(dtype)}, out[1];
    fg_model_obj *m = NULL;
    if (CHECK_OK(mn_run("UNETLoader", in, out))) {
        CHECK(out[0].type == FG_TYPE_MODEL);
        m = (fg_model_obj *)fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    mn_clear(in, 2);
    return m;
}

fg_clip_obj *mn_dual_clip(const char *a, const char *b) {
    fg_value in[4] = {fg_value_string(a), fg_value_string(b), fg_value_string("flux"), fg_value_string("default")}, out[1];
    fg_clip_obj *c = NULL;
    if (CHECK_OK(mn_run("DualCLIPLoader", in, out))) {
        CHECK(out[0].type == FG_TYPE_CLIP);
        c = (fg_clip_obj *)fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    mn_clear(in, 4);
    return c;
}

fg_vae_obj *mn_vae(const char *name) {
    fg_value in[1] = {fg_value_string(name)}, out[1];
    fg_vae_obj *v = NULL;
    if (CHECK_OK(mn_run("VAELoader", in, out))) {
        CHECK(out[0].type == FG_TYPE_VAE);
        v = (fg_vae_obj *)fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    mn_clear(in, 1);
    return v;
}

fg_conditioning *mn_encode(fg_clip_obj *clip, const char *text) {
    if (!clip) return NULL;
    fg_value in[2] = {fg_value_string(text), fg_value_object(fg_object_ref(&clip->base))}, out[1];
    fg_conditioning *c = NULL;
    if (CHECK_OK(mn_run("CLIPTextEncode", in, out))) {
        CHECK(out[0].type == FG_TYPE_CONDITIONING);
        c = (fg_conditioning *)fg_object_ref(out[0].u.obj);
        mn_clear(out, 1);
    }
    mn_clear(in, 2);
    return c;
}
