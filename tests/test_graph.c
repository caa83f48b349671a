/* Workflow engine front half: node registry, JSON writer, UI->API conversion against the real
 * ComfyUI examples, validation errors, model folders and the hostile workflow corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/image.h"
#include "graph/validate.h"
#include "graph/workflow.h"
#include "nodes/node_ctx.h"
#include "tests/graph/graph_util.h"
#include "tests/testing.h"

#define EX "workflows/comfyui_examples/"

static const char *const all_examples[] = {
    "2_pass_txt2img__hiresfix_latent_workflow", "chroma__chroma_example", "flux2__flux2_example",
    "flux__flux_canny_model_example", "flux__flux_controlnet_example", "flux__flux_depth_lora_example",
    "flux__flux_dev_checkpoint_example", "flux__flux_dev_example", "flux__flux_fill_inpaint_example",
    "flux__flux_kontext_example", "flux__flux_redux_model_example", "flux__flux_schnell_checkpoint_example",
    "flux__flux_schnell_example", "flux__girl_in_field", "img2img__img2img_workflow", "inpaint__inpaint_example",
    "lora__lora", "lora__lora_multiple", "sd3__sd3.5_simple_example", "sdxl__sdxl_simple_example",
    "textual_inversion_embeddings__embedding_example", "upscale_models__esrgan_example"};

static fg_workflow *load_example(const char *name, const char *form) {
    char rel[256];
    snprintf(rel, sizeof rel, EX "%s.%s.json", name, form);
    fg_workflow *wf = NULL;
    CHECK_OK(fg_workflow_load_file(test_fixture(rel), &wf));
    return wf;
}

static void test_registry(void) {
    CHECK(fg_node_count() == 39, "count %zu", fg_node_count());
    for (size_t i = 1; i < fg_node_count(); i++)
        CHECK(strcmp(fg_node_at(i - 1)->class_type, fg_node_at(i)->class_type) < 0);
    const fg_node_spec *k = fg_node_find("KSampler");
    CHECK(k && k->n_inputs == 10 && k->outputs[0] == FG_TYPE_LATENT && k->execute);
    CHECK(fg_node_input_index(k, "denoise") == 9 && fg_node_input_index(k, "nope") == -1);
    CHECK(k->inputs[1].max_u64 && k->inputs[1].control_after_generate);
    CHECK(fg_node_find("SaveImage")->output_node && fg_node_find("PreviewImage")->output_node);
    CHECK(!fg_node_find("VAEDecode")->output_node && fg_node_find("LoraLoader") && !fg_node_find("LoraLoaderV2"));
    const char *s[3];
    CHECK(fg_node_suggest("KSamplr", s, 3) >= 1 && strcmp(s[0], "KSampler") == 0);
    CHECK(fg_node_suggest("ClipLoader", s, 1) == 1 && strcmp(s[0], "CLIPLoader") == 0);
    CHECK(fg_node_suggest("Zzzzzzzzzzzzzzzzzzzzzz", s, 3) == 0);
    CHECK(fg_type_from_name("CONDITIONING") == FG_TYPE_CONDITIONING && fg_type_from_name("X") == FG_TYPE_NONE);
    fg_value v = fg_value_string("hi"), c;
    CHECK_OK(fg_value_copy(&v, &c));
    CHECK(c.type == FG_TYPE_STRING && strcmp(c.u.s, "hi") == 0 && c.u.s != v.u.s);
    fg_value_clear(&v);
    fg_value_clear(&c);
}

static void check_float(double x, const char *want) {
    char buf[64];
    fg_format_python_float(x, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "%.17g -> %s, want %s", x, buf, want);
}

static void test_python_json(void) {
    check_float(0.1, "0.1");
    check_float(1.0, "1.0");
    check_float(3.5, "3.5");
    check_float(1e-05, "1e-05");
    check_float(0.0001, "0.0001");
    check_float(1e16, "1e+16");
    check_float(1e15, "1000000000000000.0");
    check_float(-0.5, "-0.5");
    check_float(0.8700000000000001, "0.8700000000000001");
    check_float(1.5e300, "1.5e+300");
    check_float(123456789012345678.0, "1.2345678901234568e+17");
    check_float(0.0, "0.0");
    json_t *j = json_pack("{s:s, s:[i, f, b, n], s:{}}", "t", "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\n\x7f", "a", 1, 2.0, 1,
                          "o");
    char *text = fg_workflow_dump_api(j);
    const char *want = "{\"t\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\n\\u007f\", \"a\": [1, 2.0, true, null], \"o\": {}}";
    CHECK(text && strcmp(text, want) == 0, "%s", text);
    free(text);
    json_decref(j);
    /* Seeds beyond int64 survive a round trip. */
    const char *big = "{\"1\": {\"class_type\": \"RandomNoise\", \"inputs\": {\"noise_seed\": 18446744073709551615}}}";
    fg_workflow *wf = NULL;
    CHECK_OK(fg_workflow_load_buffer(big, strlen(big), "big", &wf));
    if (wf) {
        text = fg_workflow_dump_api(wf->prompt);
        CHECK(text && strcmp(text, big) == 0, "%s", text);
        free(text);
        uint64_t u = 0;
        CHECK(fg_json_get_u64(json_object_get(json_object_get(json_object_get(wf->prompt, "1"), "inputs"), "noise_seed"), &u) &&
              u == UINT64_MAX);
        fg_workflow_free(wf);
    }
}

static void test_examples_parse(void) {
    for (size_t i = 0; i < sizeof all_examples / sizeof all_examples[0]; i++) {
        fg_workflow *api = load_example(all_examples[i], "api"), *ui = load_example(all_examples[i], "ui");
        CHECK(api && !api->ui && json_object_size(api->prompt) > 0, "%s", all_examples[i]);
        CHECK(ui && ui->ui && json_object_size(ui->prompt) > 0, "%s", all_examples[i]);
        fg_workflow_free(api);
        fg_workflow_free(ui);
    }
}

/* The converted UI equals the embedded API prompt, except for what old frontends did
 * differently: upload pseudo-inputs they sent, and widgets added later (filled with defaults). */
static void compare_conversion(const char *name) {
    fg_workflow *api = load_example(name, "api"), *ui = load_example(name, "ui");
    if (!api || !ui) goto done;
    CHECK(json_object_size(api->prompt) == json_object_size(ui->prompt), "%s: node count", name);
    const char *id;
    json_t *a;
    json_object_foreach(api->prompt, id, a) {
        json_t *c = json_object_get(ui->prompt, id);
        CHECK(c != NULL, "%s: node %s missing", name, id);
        if (!c) continue;
        const char *cls = json_string_value(json_object_get(a, "class_type"));
        CHECK(strcmp(cls, json_string_value(json_object_get(c, "class_type"))) == 0, "%s: %s class", name, id);
        json_t *ai = json_object_get(a, "inputs"), *ci = json_object_get(c, "inputs");
        const char *k;
        json_t *v;
        json_object_foreach(ai, k, v) {
            if (strcmp(k, "upload") == 0 || strcmp(k, "choose file to upload") == 0) continue;
            CHECK(graph_json_same(v, json_object_get(ci, k)), "%s: node %s input %s differs", name, id, k);
        }
        json_object_foreach(ci, k, v) {
            if (json_object_get(ai, k)) continue;
            const fg_node_spec *spec = fg_node_find(cls);
            int idx = spec ? fg_node_input_index(spec, k) : -1;
            /* an optional widget the frontend fills with its default (a combo's first option) */
            const char *def = idx < 0 ? NULL
                              : spec->inputs[idx].def_string ? spec->inputs[idx].def_string
                              : spec->inputs[idx].options    ? spec->inputs[idx].options[0]
                                                             : NULL;
            CHECK(idx >= 0 && spec->inputs[idx].optional && json_is_string(v) && def &&
                      strcmp(json_string_value(v), def) == 0,
                  "%s: node %s has extra input %s", name, id, k);
        }
    }
done:
    fg_workflow_free(api);
    fg_workflow_free(ui);
}

static void test_convert_reproduces_api(void) {
    compare_conversion("flux__flux_dev_example");
    compare_conversion("flux__flux_schnell_example");
    compare_conversion("flux__flux_dev_checkpoint_example");
    compare_conversion("flux__flux_schnell_checkpoint_example");
    compare_conversion("img2img__img2img_workflow");
    compare_conversion("2_pass_txt2img__hiresfix_latent_workflow");
    compare_conversion("flux__flux_kontext_example"); /* a bypassed ImageScaleBy */
    compare_conversion("flux__girl_in_field");
}

static void test_examples_validate(void) {
    static const char *const valid[] = {"flux__flux_dev_example", "flux__flux_schnell_example",
                                        "flux__flux_dev_checkpoint_example", "flux__flux_schnell_checkpoint_example"};
    for (size_t i = 0; i < 4; i++)
        for (int form = 0; form < 2; form++) {
            fg_workflow *wf = load_example(valid[i], form ? "ui" : "api");
            bool ok = false;
            char *text = wf ? graph_validate_text(wf->prompt, NULL, &ok) : NULL;
            CHECK(ok, "%s: %s", valid[i], text);
            free(text);
            fg_workflow_free(wf);
        }
}

static void expect_unsupported(const char *name, const char *want) {
    for (int form = 0; form < 2; form++) {
        fg_workflow *wf = load_example(name, form ? "ui" : "api");
        if (!wf) continue;
        fg_validation v;
        CHECK_OK(fg_validate_prompt(wf->prompt, NULL, &v));
        json_t *all = json_object_get(json_object_get(v.error, "extra_info"), "unsupported_class_types");
        char got[512] = "";
        /* sorted, comma-joined */
        const char *names[32];
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(all) && n < 32; i++) names[n++] = json_string_value(json_array_get(all, i));
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
                const char *t = names[j];
                names[j] = names[j - 1];
                names[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", names[i]);
        CHECK(!v.ok && strcmp(got, want) == 0, "%s (%s): got '%s', want '%s'", name, form ? "ui" : "api", got, want);
        fg_validation_clear(&v);
        fg_workflow_free(wf);
    }
}

static void test_examples_unsupported(void) {
    expect_unsupported("chroma__chroma_example", "T5TokenizerOptions");
    expect_unsupported("flux2__flux2_example", "EmptyFlux2LatentImage,Flux2Scheduler,ImageScaleToTotalPixels");
    expect_unsupported("flux__flux_canny_model_example", "Canny,InstructPixToPixConditioning");
    expect_unsupported("flux__flux_controlnet_example", "Canny,ControlNetApplySD3,ControlNetLoader");
    expect_unsupported("flux__flux_depth_lora_example", "InstructPixToPixConditioning");
    expect_unsupported("flux__flux_fill_inpaint_example", "DifferentialDiffusion,InpaintModelConditioning");
    expect_unsupported("flux__flux_kontext_example", "FluxKontextImageScale,ReferenceLatent");
    expect_unsupported("flux__flux_redux_model_example",
                       "CLIPVisionEncode,CLIPVisionLoader,StyleModelApply,StyleModelLoader");
    expect_unsupported("inpaint__inpaint_example", "VAEEncodeForInpaint");
    expect_unsupported("upscale_models__esrgan_example", "ImageUpscaleWithModel,UpscaleModelLoader");
}

/* Non-FLUX examples made only of declared nodes validate; their sampler names are in the list.
 * The hires-fix example's first KSampler uses dpmpp_sde, which we do not offer (it would not
 * run): exactly that input fails, as ComfyUI reports a value not in its list. */
static void test_examples_other_valid(void) {
    fg_workflow *hires = load_example("2_pass_txt2img__hiresfix_latent_workflow", "ui");
    bool hires_ok = true;
    char *hires_text = hires ? graph_validate_text(hires->prompt, NULL, &hires_ok) : NULL;
    CHECK(!hires_ok && hires_text &&
              strcmp(hires_text, "node 3 (KSampler) input 'sampler_name': Value not in list: sampler_name: "
                                 "'dpmpp_sde' not in ['euler', 'euler_ancestral', 'heun', 'dpm_2', "
                                 "'dpm_2_ancestral', 'lms', 'dpmpp_2m', 'lcm', 'ipndm', 'deis', 'ddim', 'uni_pc', "
                                 "'uni_pc_bh2']\nPrompt outputs failed validation\n") == 0,
          "hires fix: %s", hires_text);
    free(hires_text);
    fg_workflow_free(hires);
    static const char *const names[] = {"img2img__img2img_workflow",
                                        "sd3__sd3.5_simple_example", "sdxl__sdxl_simple_example",
                                        "textual_inversion_embeddings__embedding_example", "flux__girl_in_field",
                                        "lora__lora", "lora__lora_multiple"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        fg_workflow *wf = load_example(names[i], "ui");
        bool ok = false;
        char *text = wf ? graph_validate_text(wf->prompt, NULL, &ok) : NULL;
        CHECK(ok, "%s: %s", names[i], text);
        free(text);
        fg_workflow_free(wf);
    }
}

static void test_hostile_corpus(void) {
    FILE *f = fopen("tests/hostile_workflows/EXPECTED.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        const char *needle = tab + 1;
        char path[600];
        snprintf(path, sizeof path, "tests/hostile_workflows/%s", line);
        fg_workflow *wf = NULL;
        fg_error *err = fg_workflow_load_file(path, &wf);
        char *text = NULL;
        bool ok = false;
        if (err) {
            text = strdup(fg_error_message(err));
            fg_error_free(err);
        } else {
            text = graph_validate_text(wf->prompt, NULL, &ok);
            fg_workflow_free(wf);
        }
        if (strcmp(needle, "VALID") == 0)
            CHECK(ok, "%s: expected valid, got %s", line, text);
        else
            CHECK(!ok && strstr(text, needle), "%s: '%s' not in: %s", line, needle, text);
        free(text);
        count++;
    }
    fclose(f);
    CHECK(count >= 50, "only %d hostile workflows", count);
}

static void write_file(const char *path) {
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}

static void test_model_folders(void) {
    char root[512], p[600];
    snprintf(root, sizeof root, "%s/models", test_tmpdir());
    const char *dirs[] = {"", "/diffusion_models", "/diffusion_models/sub", "/unet", "/vae", "/text_encoders"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/diffusion_models/flux.safetensors", root), write_file(p);
    snprintf(p, sizeof p, "%s/diffusion_models/sub/b.sft", root), write_file(p);
    snprintf(p, sizeof p, "%s/diffusion_models/readme.txt", root), write_file(p);
    snprintf(p, sizeof p, "%s/unet/a.gguf.pth", root), write_file(p);
    /* Links the user placed: a checkpoint shared with another install, a folder elsewhere and
     * a link back to the folder itself (followed as ComfyUI follows them; the loop once). */
    char shared[600];
    snprintf(shared, sizeof shared, "%s/elsewhere", test_tmpdir());
    mkdir(shared, 0755);
    char target[700];
    snprintf(target, sizeof target, "%s/shared_ae.safetensors", shared), write_file(target);
    snprintf(p, sizeof p, "%s/vae/linked.safetensors", root);
    unlink(p);
    snprintf(shared, sizeof shared, "%s/elsewhere/shared_ae.safetensors", test_tmpdir());
    CHECK(symlink(shared, p) == 0);
    snprintf(p, sizeof p, "%s/vae/more", root);
    unlink(p);
    snprintf(shared, sizeof shared, "%s/elsewhere", test_tmpdir());
    CHECK(symlink(shared, p) == 0);
    snprintf(p, sizeof p, "%s/vae/loop", root);
    unlink(p);
    CHECK(symlink(".", p) == 0);
    fg_run_settings s = {.models_dir = root};
    char **names = NULL;
    size_t n = 0;
    CHECK_OK(fg_node_list_models(&s, FG_COMBO_DIFFUSION_MODELS, &names, &n));
    CHECK(n == 3 && strcmp(names[0], "a.gguf.pth") == 0 && strcmp(names[1], "flux.safetensors") == 0 &&
          strcmp(names[2], "sub/b.sft") == 0);
    fg_string_list_free(names);
    CHECK_OK(fg_node_list_models(&s, FG_COMBO_VAE, &names, &n));
    CHECK(n == 2 && strcmp(names[0], "linked.safetensors") == 0 && strcmp(names[1], "more/shared_ae.safetensors") == 0,
          "links are followed, the loop is entered once: %zu names", n);
    fg_string_list_free(names);
    char path[1024];
    CHECK_OK(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "sub/b.sft", path, sizeof path));
    CHECK(strstr(path, "diffusion_models/sub/b.sft") != NULL);
    CHECK_OK(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "a.gguf.pth", path, sizeof path));
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "../vae/x", path, sizeof path), "no '..'");
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "/etc/passwd", path, sizeof path), "no absolute");
    CHECK_OK(fg_node_resolve_model(&s, FG_COMBO_VAE, "linked.safetensors", path, sizeof path));
    CHECK_OK(fg_node_resolve_model(&s, FG_COMBO_VAE, "more/shared_ae.safetensors", path, sizeof path));
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_VAE, "../elsewhere/shared_ae.safetensors", path, sizeof path), "no '..'");
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "readme.txt", path, sizeof path), "known extension");
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "sub//b.sft", path, sizeof path), "no '..'");
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_DIFFUSION_MODELS, "nope.safetensors", path, sizeof path),
              "holds a.gguf.pth, flux.safetensors, sub/b.sft");
    CHECK_ERR(fg_node_resolve_model(&s, FG_COMBO_TEXT_ENCODERS, "t5.safetensors", path, sizeof path), "holds no");
    /* Validation against the folder. */
    const char *text = "{\"1\": {\"class_type\": \"VAELoader\", \"inputs\": {\"vae_name\": \"ae.safetensors\"}},"
                       " \"2\": {\"class_type\": \"EmptySD3LatentImage\", \"inputs\": {\"width\": 64, \"height\": 64, "
                       "\"batch_size\": 1}}, \"3\": {\"class_type\": \"VAEDecode\", \"inputs\": {\"samples\": [\"2\", 0], "
                       "\"vae\": [\"1\", 0]}}, \"4\": {\"class_type\": \"PreviewImage\", \"inputs\": {\"images\": [\"3\", 0]}}}";
    json_t *prompt = json_loads(text, 0, NULL);
    fg_validation v;
    CHECK_OK(fg_validate_prompt(prompt, &s, &v));
    json_t *errs = json_object_get(json_object_get(v.node_errors, "1"), "errors");
    CHECK(!v.ok && json_array_size(errs) == 1 &&
          strcmp(json_string_value(json_object_get(json_array_get(errs, 0), "type")), "value_not_in_list") == 0);
    fg_validation_clear(&v);
    CHECK_OK(fg_validate_prompt(prompt, NULL, &v));
    CHECK(v.ok, "without a models folder names are not checked");
    fg_validation_clear(&v);
    snprintf(p, sizeof p, "%s/vae/ae.safetensors", root), write_file(p);
    CHECK_OK(fg_validate_prompt(prompt, &s, &v));
    CHECK(v.ok && json_object_size(v.node_errors) == 0);
    fg_validation_clear(&v);
    json_decref(prompt);
}

/* node_errors shape, dependent_outputs, several errors at once, a valid output next to an invalid one. */
static void test_validation_shape(void) {
    const char *text =
        "{\"1\": {\"class_type\": \"EmptySD3LatentImage\", \"inputs\": {\"width\": 8, \"height\": 99999}},"
        " \"2\": {\"class_type\": \"VAELoader\", \"inputs\": {\"vae_name\": \"ae.safetensors\"}},"
        " \"3\": {\"class_type\": \"VAEDecode\", \"inputs\": {\"samples\": [\"1\", 0], \"vae\": [\"2\", 0]}},"
        " \"4\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"3\", 0], \"filename_prefix\": \"a\"}},"
        " \"5\": {\"class_type\": \"LoadImage\", \"inputs\": {\"image\": \"x.png\"}},"
        " \"6\": {\"class_type\": \"PreviewImage\", \"inputs\": {\"images\": [\"5\", 0]}}}";
    json_t *prompt = json_loads(text, 0, NULL);
    fg_validation v;
    CHECK_OK(fg_validate_prompt(prompt, NULL, &v));
    CHECK(v.ok && !v.error, "output 6 is valid");
    CHECK(json_array_size(v.outputs) == 1 && strcmp(json_string_value(json_array_get(v.outputs, 0)), "6") == 0);
    json_t *n1 = json_object_get(v.node_errors, "1");
    CHECK(json_object_size(v.node_errors) == 1 && n1);
    json_t *errs = json_object_get(n1, "errors");
    CHECK(json_array_size(errs) == 3, "width small, height big, batch_size missing: %zu", json_array_size(errs));
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(errs, 0), "message")),
                 "Value 8 smaller than min of 16") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(errs, 1), "type")), "value_bigger_than_max") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(errs, 2), "type")), "required_input_missing") == 0);
    json_t *dep = json_object_get(n1, "dependent_outputs");
    CHECK(json_array_size(dep) == 1 && strcmp(json_string_value(json_array_get(dep, 0)), "4") == 0);
    CHECK(strcmp(json_string_value(json_object_get(n1, "class_type")), "EmptySD3LatentImage") == 0);
    json_t *j = fg_validation_to_json(&v);
    CHECK(json_is_null(json_object_get(j, "error")) && json_object_get(j, "node_errors"));
    json_decref(j);
    fg_validation_clear(&v);
    json_object_del(prompt, "6");
    CHECK_OK(fg_validate_prompt(prompt, NULL, &v));
    CHECK(!v.ok && strcmp(json_string_value(json_object_get(v.error, "type")), "prompt_outputs_failed_validation") == 0);
    CHECK(strstr(json_string_value(json_object_get(v.error, "details")), "Value 8 smaller than min of 16: width"));
    fg_validation_clear(&v);
    json_decref(prompt);
}

/* ComfyUI's int()/float() coercions of constants. */
static void expect_steps(const char *json_value, const char *want_type) {
    char text[600];
    snprintf(text, sizeof text,
             "{\"1\": {\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 64, \"height\": 64, "
             "\"batch_size\": %s}}, \"2\": {\"class_type\": \"VAELoader\", \"inputs\": {\"vae_name\": \"ae.sft\"}},"
             " \"3\": {\"class_type\": \"VAEDecode\", \"inputs\": {\"samples\": [\"1\", 0], \"vae\": [\"2\", 0]}},"
             " \"4\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"3\", 0], \"filename_prefix\": 7}}}",
             json_value);
    fg_workflow *wf = NULL;
    CHECK_OK(fg_workflow_load_buffer(text, strlen(text), "coercion", &wf));
    if (!wf) return;
    fg_validation v;
    CHECK_OK(fg_validate_prompt(wf->prompt, NULL, &v));
    json_t *e = json_array_get(json_object_get(json_object_get(v.node_errors, "1"), "errors"), 0);
    if (!want_type)
        CHECK(v.ok && !e, "batch_size %s should be valid", json_value);
    else
        CHECK(!v.ok && e && strcmp(json_string_value(json_object_get(e, "type")), want_type) == 0, "batch_size %s", json_value);
    if (want_type && strcmp(want_type, "invalid_input_type") == 0 && e) {
        /* extra_info in ComfyUI's order, ending with the conversion's exception message */
        const char *keys[] = {"input_name", "input_config", "received_value", "exception_message"};
        json_t *extra = json_object_get(e, "extra_info");
        void *it = json_object_iter(extra);
        for (size_t k = 0; k < 4; k++, it = it ? json_object_iter_next(extra, it) : NULL)
            CHECK(it && strcmp(json_object_iter_key(it), keys[k]) == 0, "extra_info key %zu is %s", k, keys[k]);
        CHECK(strstr(json_string_value(json_object_get(e, "details")),
                     json_string_value(json_object_get(extra, "exception_message"))), "details end with the reason");
    }
    fg_validation_clear(&v);
    fg_workflow_free(wf);
}

static void test_value_coercion(void) {
    expect_steps("2", NULL);
    expect_steps("2.7", NULL);     /* int(2.7) */
    expect_steps("\"3\"", NULL);   /* int("3") */
    expect_steps("true", NULL);    /* int(True) */
    expect_steps("\"3.5\"", "invalid_input_type");
    expect_steps("\"abc\"", "invalid_input_type");
    expect_steps("[1]", "bad_linked_input");
    expect_steps("0.5", "value_smaller_than_min");
    expect_steps("4097", "value_bigger_than_max");
    expect_steps("1e300", "value_bigger_than_max");
    expect_steps("18446744073709551615", "value_bigger_than_max"); /* only seeds go that far */
}

/* fg_convert_constant: Python's int(), float(), str(), bool() of a JSON constant. want: the
 * converted value as JSON text, or the error type. */
static void expect_converted(fg_type type, const char *json_value, const char *want) {
    fg_input_spec in = {.name = "x", .type = type};
    json_t *v = json_loads(json_value, JSON_DECODE_ANY, NULL), *converted = NULL;
    json_t *err = v ? fg_convert_constant(&in, v, &converted) : NULL;
    char *got = converted ? json_dumps(converted, JSON_ENCODE_ANY) : NULL;
    const char *shown = err ? json_string_value(json_object_get(err, "type")) : got ? got : "?";
    CHECK(v && strcmp(shown, want) == 0, "%s %s: got %s, want %s", fg_type_name(type), json_value, shown, want);
    if (converted && !err) { /* idempotent: converting the converted value changes nothing */
        json_t *again = NULL, *err2 = fg_convert_constant(&in, converted, &again);
        CHECK(!err2 && json_equal(again, converted), "%s %s converts again to itself", fg_type_name(type), json_value);
        json_decref(err2);
        json_decref(again);
    }
    free(got);
    json_decref(err);
    json_decref(converted);
    json_decref(v);
}

static void test_constant_conversion(void) {
    const char *bad = "invalid_input_type";
    expect_converted(FG_TYPE_INT, "\"42 \"", "42"); /* int("42 "): the seed that used to fail in KSampler */
    expect_converted(FG_TYPE_INT, "\"\\t-7\\n\"", "-7");
    expect_converted(FG_TYPE_INT, "\"+4_2\"", "42");
    expect_converted(FG_TYPE_INT, "\"\\u00a042\\u3000\"", "42"); /* Unicode spaces are stripped too */
    expect_converted(FG_TYPE_INT, "\"4__2\"", bad);
    expect_converted(FG_TYPE_INT, "\"_42\"", bad);
    expect_converted(FG_TYPE_INT, "\"4 2\"", bad);
    expect_converted(FG_TYPE_INT, "\"\"", bad);
    expect_converted(FG_TYPE_INT, "\"0x10\"", bad);
    expect_converted(FG_TYPE_INT, "\"2.5\"", bad);
    expect_converted(FG_TYPE_INT, "-2.7", "-2");
    expect_converted(FG_TYPE_INT, "false", "0");
    expect_converted(FG_TYPE_INT, "null", bad);
    expect_converted(FG_TYPE_INT, "{\"__value__\": 5}", "5");
    expect_converted(FG_TYPE_FLOAT, "\" 1_000.5e-1 \"", "100.05");
    expect_converted(FG_TYPE_FLOAT, "8", "8.0");
    expect_converted(FG_TYPE_FLOAT, "\".5\"", "0.5");
    expect_converted(FG_TYPE_FLOAT, "\"5.\"", "5.0");
    expect_converted(FG_TYPE_FLOAT, "\"0x1p3\"", bad); /* strtod would take hex; Python does not */
    expect_converted(FG_TYPE_FLOAT, "\"nan\"", bad);   /* float() takes it; we refuse non-finite values */
    expect_converted(FG_TYPE_FLOAT, "\"-Infinity\"", bad);
    expect_converted(FG_TYPE_FLOAT, "\"1e\"", bad);
    expect_converted(FG_TYPE_STRING, "5", "\"5\"");
    expect_converted(FG_TYPE_STRING, "8.0", "\"8.0\"");
    expect_converted(FG_TYPE_STRING, "1e20", "\"1e+20\"");
    expect_converted(FG_TYPE_STRING, "true", "\"True\"");
    expect_converted(FG_TYPE_STRING, "null", "\"None\"");
    expect_converted(FG_TYPE_STRING, "{\"a\": 1}", bad);
    expect_converted(FG_TYPE_BOOLEAN, "\"false\"", "true"); /* bool("false") is True in Python */
    expect_converted(FG_TYPE_BOOLEAN, "\"\"", "false");
    expect_converted(FG_TYPE_BOOLEAN, "0.0", "false");
    expect_converted(FG_TYPE_BOOLEAN, "null", "false");
    expect_converted(FG_TYPE_COMBO, "7", "7"); /* never converted: fails as not in the list later */
    expect_converted(FG_TYPE_MODEL, "7", bad);
}

/* Muted, bypassed, Reroute and PrimitiveNode handling on a hand-made UI graph. */
static void test_ui_virtual_nodes(void) {
    const char *ui =
        "{\"version\": 0.4, \"nodes\": ["
        "{\"id\": 1, \"type\": \"EmptySD3LatentImage\", \"widgets_values\": [512, 512, 1],"
        "  \"inputs\": [{\"name\": \"width\", \"type\": \"INT\", \"widget\": {\"name\": \"width\"}, \"link\": 4}]},"
        "{\"id\": 2, \"type\": \"LatentUpscaleBy\", \"mode\": 4, \"widgets_values\": [\"bicubic\", 2],"
        "  \"inputs\": [{\"name\": \"samples\", \"type\": \"LATENT\", \"link\": 1}],"
        "  \"outputs\": [{\"name\": \"LATENT\", \"type\": \"LATENT\", \"links\": [2]}]},"
        "{\"id\": 3, \"type\": \"Reroute\", \"inputs\": [{\"name\": \"\", \"type\": \"*\", \"link\": 2}],"
        "  \"outputs\": [{\"name\": \"\", \"type\": \"LATENT\", \"links\": [3]}]},"
        "{\"id\": 4, \"type\": \"RepeatLatentBatch\", \"widgets_values\": [3],"
        "  \"inputs\": [{\"name\": \"samples\", \"type\": \"LATENT\", \"link\": 3}]},"
        "{\"id\": 5, \"type\": \"PrimitiveNode\", \"widgets_values\": [768, \"fixed\"],"
        "  \"outputs\": [{\"name\": \"INT\", \"type\": \"INT\", \"links\": [4]}]},"
        "{\"id\": 6, \"type\": \"Note\", \"widgets_values\": [\"hello\"]},"
        "{\"id\": 7, \"type\": \"RandomNoise\", \"mode\": 2, \"widgets_values\": [5, \"randomize\"]},"
        "{\"id\": 8, \"type\": \"KSamplerSelect\", \"title\": \"My sampler\"},"
        "{\"id\": 9, \"type\": \"MysteryNode\", \"widgets_values\": [1],"
        "  \"inputs\": [{\"name\": \"latent\", \"type\": \"LATENT\", \"link\": 3}]}],"
        " \"links\": [[1, 1, 0, 2, 0, \"LATENT\"], {\"id\": 2, \"origin_id\": 2, \"origin_slot\": 0, \"target_id\": 3,"
        "  \"target_slot\": 0, \"type\": \"LATENT\"}, [3, 3, 0, 4, 0, \"LATENT\"], [4, 5, 0, 1, 0, \"INT\"]]}";
    fg_workflow *wf = NULL;
    CHECK_OK(fg_workflow_load_buffer(ui, strlen(ui), "virtual", &wf));
    if (!wf) return;
    char *text = fg_workflow_dump_api(wf->prompt);
    const char *want =
        "{\"1\": {\"inputs\": {\"width\": 768, \"height\": 512, \"batch_size\": 1}, \"class_type\": "
        "\"EmptySD3LatentImage\", \"_meta\": {\"title\": \"EmptySD3LatentImage\"}}, \"4\": {\"inputs\": {\"amount\": 3, "
        "\"samples\": [\"1\", 0]}, \"class_type\": \"RepeatLatentBatch\", \"_meta\": {\"title\": \"Repeat Latent Batch\"}}, "
        "\"8\": {\"inputs\": {\"sampler_name\": \"euler\"}, \"class_type\": \"KSamplerSelect\", \"_meta\": {\"title\": "
        "\"My sampler\"}}, \"9\": {\"inputs\": {\"latent\": [\"1\", 0]}, \"class_type\": \"MysteryNode\", \"_meta\": "
        "{\"title\": \"MysteryNode\"}}}";
    CHECK(text && strcmp(text, want) == 0, "\n got: %s\nwant: %s", text, want);
    free(text);
    fg_workflow_free(wf);
}

static char *slurp(const char *path);

/* fg_workflow_dump_api against Python's json.dumps of the same documents (generated by
 * tools/gen_hostile_workflows.py). */
static void test_dump_matches_python(void) {
    char rel[300];
    for (size_t i = 0; i <= sizeof all_examples / sizeof all_examples[0]; i++) {
        bool edge = i == sizeof all_examples / sizeof all_examples[0];
        const char *name = edge ? "edge_cases" : all_examples[i];
        snprintf(rel, sizeof rel, edge ? EX "json_dumps/%s.json" : EX "%s.api.json", name);
        fg_workflow *wf = NULL;
        CHECK_OK(fg_workflow_load_file(test_fixture(rel), &wf));
        snprintf(rel, sizeof rel, EX "json_dumps/%s%s.txt", name, edge ? "" : ".api");
        char *want = slurp(test_fixture(rel));
        char *got = wf ? fg_workflow_dump_api(wf->prompt) : NULL;
        CHECK(want && got && strcmp(got, want) == 0, "%s differs from json.dumps", name);
        free(want);
        free(got);
        fg_workflow_free(wf);
    }
}

/* The frontend's filename_prefix replacements. */
static void test_ui_filename_tokens(void) {
    const char *ui =
        "{\"version\": 0.4, \"links\": [], \"nodes\": ["
        "{\"id\": 3, \"type\": \"KSamplerSelect\", \"title\": \"Pick\", \"widgets_values\": [\"euler\"],"
        "  \"properties\": {\"Node name for S&R\": \"KSamplerSelect\"}},"
        "{\"id\": 4, \"type\": \"RandomNoise\", \"widgets_values\": [42, \"fixed\"]},"
        "{\"id\": 5, \"type\": \"SaveImage\", \"title\": \"a/b\", \"widgets_values\": "
        "[\"x/%KSamplerSelect.sampler_name%_%Pick.sampler_name%_%nope.x%_%width%_%a/b.filename_prefix%_%date:yyyy%\"]}]}";
    fg_workflow *wf = NULL;
    CHECK_OK(fg_workflow_load_buffer(ui, strlen(ui), "tokens", &wf));
    if (!wf) return;
    const char *got = json_string_value(json_object_get(json_object_get(json_object_get(wf->prompt, "5"), "inputs"), "filename_prefix"));
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    /* Node 5's own prefix, read before replacement, comes back with '/', ':' and '%'-free
     * characters sanitised ('/' and ':' become '_'). */
    char want[512];
    snprintf(want, sizeof want,
             "x/euler_euler_%%nope.x%%_%%width%%_x_%%KSamplerSelect.sampler_name%%_%%Pick.sampler_name%%_%%nope.x%%_"
             "%%width%%_%%a_b.filename_prefix%%_%%date_yyyy%%_%d",
             tm.tm_year + 1900);
    CHECK(got && strcmp(got, want) == 0, "\n got %s\nwant %s", got ? got : "(null)", want);
    fg_workflow_free(wf);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* Every node of b is in a, with every input of b's node equal in a's. */
static bool prompt_contains(const json_t *a, const json_t *b) {
    const char *id, *name;
    json_t *node, *v;
    json_object_foreach((json_t *)b, id, node) {
        const json_t *other = json_object_get(json_object_get(a, id), "inputs");
        json_object_foreach(json_object_get(node, "inputs"), name, v) {
            if (!json_equal(v, json_object_get(other, name))) return false;
        }
    }
    return true;
}

/* A PNG as SaveImage writes it: the "prompt" chunk (what ran; a run with --set or --seed
 * changes it but not the UI copy) wins, the "workflow" chunk is kept beside it; a broken
 * prompt falls back to the UI; "prompt" alone works. */
static void test_png_workflows(void) {
    char *ui_text = slurp(test_fixture(EX "flux__flux_dev_example.ui.json"));
    char *api_text = slurp(test_fixture(EX "flux__flux_schnell_example.api.json"));
    fg_image img;
    CHECK_OK(fg_image_alloc(2, 2, 3, &img));
    memset(img.data, 128, 12);
    char both[600], only_prompt[600], broken[600];
    snprintf(both, sizeof both, "%s/both.png", test_tmpdir());
    snprintf(only_prompt, sizeof only_prompt, "%s/prompt.png", test_tmpdir());
    snprintf(broken, sizeof broken, "%s/broken_prompt.png", test_tmpdir());
    fg_png_text texts[2] = {fg_png_text_str("prompt", api_text), fg_png_text_str("workflow", ui_text)};
    fg_png_text bad[2] = {fg_png_text_str("prompt", "{\"1\": "), fg_png_text_str("workflow", ui_text)};
    CHECK_OK(fg_png_write(both, &img, texts, 2, FG_PNG_LEVEL_SAVE));
    CHECK_OK(fg_png_write(only_prompt, &img, texts, 1, FG_PNG_LEVEL_SAVE));
    CHECK_OK(fg_png_write(broken, &img, bad, 2, FG_PNG_LEVEL_SAVE));
    fg_image_free(&img);
    fg_workflow *wf = NULL, *ran = load_example("flux__flux_schnell_example", "api");
    fg_workflow *ui = load_example("flux__flux_dev_example", "ui");
    CHECK_OK(fg_workflow_load_file(both, &wf));
    CHECK(wf && ran && prompt_contains(wf->prompt, ran->prompt) && json_object_size(wf->prompt) == json_object_size(ran->prompt),
          "the prompt that ran is preferred (inputs it lacks may be filled)");
    CHECK(wf && wf->ui && ui && json_equal(wf->ui, ui->ui), "the UI workflow is kept beside it");
    fg_workflow_free(wf);
    wf = NULL;
    /* A prompt from an older ComfyUI without an input its node has today: the UI copy fills it,
     * the values the prompt has are kept. */
    char old_png[600];
    snprintf(old_png, sizeof old_png, "%s/old_prompt.png", test_tmpdir());
    fg_workflow *dev_api = load_example("flux__flux_dev_example", "api");
    char *old_text = NULL;
    if (dev_api) {
        json_t *n26 = json_object_get(json_object_get(dev_api->prompt, "26"), "inputs");
        json_object_del(n26, "guidance");
        json_object_set_new(json_object_get(json_object_get(dev_api->prompt, "25"), "inputs"), "noise_seed",
                            json_integer(777));
        old_text = fg_workflow_dump_api(dev_api->prompt);
    }
    fg_png_text old_texts[2] = {fg_png_text_str("prompt", old_text ? old_text : "{}"), fg_png_text_str("workflow", ui_text)};
    fg_image img2;
    CHECK_OK(fg_image_alloc(2, 2, 3, &img2));
    memset(img2.data, 128, 12);
    CHECK_OK(fg_png_write(old_png, &img2, old_texts, 2, FG_PNG_LEVEL_SAVE));
    fg_image_free(&img2);
    CHECK_OK(fg_workflow_load_file(old_png, &wf));
    const json_t *guidance = json_object_get(json_object_get(json_object_get(wf ? wf->prompt : NULL, "26"), "inputs"), "guidance");
    const json_t *seed = json_object_get(json_object_get(json_object_get(wf ? wf->prompt : NULL, "25"), "inputs"), "noise_seed");
    CHECK(json_number_value(guidance) == 3.5 && json_integer_value(seed) == 777, "missing input filled, values kept");
    free(old_text);
    fg_workflow_free(dev_api);
    fg_workflow_free(wf);
    wf = NULL;
    CHECK_OK(fg_workflow_load_file(broken, &wf));
    CHECK(wf && wf->ui && ui && json_equal(wf->prompt, ui->prompt), "a broken prompt chunk falls back to the UI");
    fg_workflow_free(wf);
    wf = NULL;
    CHECK_OK(fg_workflow_load_file(only_prompt, &wf));
    CHECK(wf && !wf->ui && ran && json_equal(wf->prompt, ran->prompt));
    fg_workflow_free(wf);
    fg_workflow_free(ran);
    fg_workflow_free(ui);
    free(ui_text);
    free(api_text);
}

/* LoadImage's own validator: with an input folder, the file must be there. */
static void test_load_image_validation(void) {
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/input", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/cat.png", dir);
    write_file(p);
    const char *text = "{\"1\": {\"class_type\": \"LoadImage\", \"inputs\": {\"image\": \"dog.png\"}},"
                       " \"2\": {\"class_type\": \"PreviewImage\", \"inputs\": {\"images\": [\"1\", 0]}}}";
    json_t *prompt = json_loads(text, 0, NULL);
    fg_run_settings s = {.input_dir = dir};
    fg_validation v;
    CHECK_OK(fg_validate_prompt(prompt, &s, &v));
    json_t *e = json_array_get(json_object_get(json_object_get(v.node_errors, "1"), "errors"), 0);
    CHECK(!v.ok && e && strcmp(json_string_value(json_object_get(e, "type")), "custom_validation_failed") == 0);
    CHECK(e && strstr(json_string_value(json_object_get(e, "details")), "Invalid image file: dog.png"));
    fg_validation_clear(&v);
    json_object_set_new(json_object_get(json_object_get(prompt, "1"), "inputs"), "image", json_string("cat.png"));
    CHECK_OK(fg_validate_prompt(prompt, &s, &v));
    CHECK(v.ok);
    fg_validation_clear(&v);
    json_object_set_new(json_object_get(json_object_get(prompt, "1"), "inputs"), "image", json_string("../input/cat.png"));
    CHECK_OK(fg_validate_prompt(prompt, &s, &v));
    CHECK(!v.ok, "no '..' even when it leads back inside");
    fg_validation_clear(&v);
    json_decref(prompt);
}

int main(void) {
    RUN_TEST(test_registry);
    RUN_TEST(test_python_json);
    RUN_TEST(test_examples_parse);
    RUN_TEST(test_convert_reproduces_api);
    RUN_TEST(test_examples_validate);
    RUN_TEST(test_examples_unsupported);
    RUN_TEST(test_examples_other_valid);
    RUN_TEST(test_validation_shape);
    RUN_TEST(test_value_coercion);
    RUN_TEST(test_constant_conversion);
    RUN_TEST(test_ui_virtual_nodes);
    RUN_TEST(test_model_folders);
    RUN_TEST(test_dump_matches_python);
    RUN_TEST(test_ui_filename_tokens);
    RUN_TEST(test_png_workflows);
    RUN_TEST(test_load_image_validation);
    RUN_TEST(test_hostile_corpus);
    return test_summary();
}
