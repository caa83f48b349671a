/* SaveImage / PreviewImage: ComfyUI's names and counter, subfolders, tokens, refusal of
 * prefixes that leave the output folder (checked on the filesystem), metadata chunks, JPEG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/workflow.h"
#include "tests/executor/exec_helpers.h"
#include "nodes/node_args.h"
#include "tests/testing.h"
#include "core/image.h"

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void touch(const char *path) {
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
}

/* Saves a pattern batch with prefix; returns the UI JSON (caller frees) or NULL on error. */
static char *save(const fg_run_settings *s, const char *cls, int64_t batch, const char *prefix, fg_error **err) {
    fg_image_obj *im = pattern_image(batch, 4, 6);
    fg_value in[2] = {fg_value_object(&im->base), fg_value_string(prefix)}, out[1] = {0};
    char *ui = NULL;
    *err = call_node(cls, s, in, out, &ui);
    fg_value_clear(&in[0]);
    fg_value_clear(&in[1]);
    fg_value_clear(&out[0]); /* SaveImage passes its images on (ComfyUI 0.30) */
    return ui;
}

static void test_counter_and_batch(void) {
    fg_run_settings s = test_settings("counter");
    touch(test_path("counter", "output/ComfyUI_00007_.png"));
    touch(test_path("counter", "output/ComfyUI_abc_.png"));
    touch(test_path("counter", "output/ComfyUIx_00099_.png"));
    fg_error *err;
    char *ui = save(&s, "SaveImage", 2, "ComfyUI", &err);
    if (CHECK_OK(err)) {
        CHECK(exists(test_path("counter", "output/ComfyUI_00008_.png")));
        CHECK(exists(test_path("counter", "output/ComfyUI_00009_.png")));
        CHECK(ui && strcmp(ui, "{\"images\":[{\"filename\":\"ComfyUI_00008_.png\",\"subfolder\":\"\",\"type\":\"output\"},"
                               "{\"filename\":\"ComfyUI_00009_.png\",\"subfolder\":\"\",\"type\":\"output\"}]}") == 0,
              "ui %s", ui ? ui : "(null)");
    }
    free(ui);
    ui = save(&s, "SaveImage", 2, "b_%batch_num%", &err);
    if (CHECK_OK(err)) {
        CHECK(exists(test_path("counter", "output/b_0_00001_.png")));
        CHECK(exists(test_path("counter", "output/b_1_00002_.png")));
    }
    free(ui);
    /* ComfyUI 0.30 reads the number up to the first '.' or '_': a file named without the
     * trailing '_' (another tool's "x_00012.png") counts too. */
    touch(test_path("counter", "output/x_00012.png"));
    ui = save(&s, "SaveImage", 1, "x", &err);
    if (CHECK_OK(err)) CHECK(exists(test_path("counter", "output/x_00013_.png")), "x_00012.png counts as 12");
    free(ui);
}

static void test_subfolders_and_tokens(void) {
    fg_run_settings s = test_settings("tokens");
    fg_error *err;
    char *ui = save(&s, "SaveImage", 1, "a/./b/../c/img_%width%x%height%", &err);
    if (CHECK_OK(err)) {
        CHECK(exists(test_path("tokens", "output/a/c/img_6x4_00001_.png")));
        CHECK(ui && strstr(ui, "\"subfolder\":\"a/c\""), "ui %s", ui ? ui : "(null)");
    }
    free(ui);
    ui = save(&s, "SaveImage", 1, "d/%year%-%month%", &err);
    if (CHECK_OK(err)) CHECK(count_files(test_path("tokens", "output/d")) == 1 && ui && !strstr(ui, "%"));
    free(ui);
}

static void test_escaping_prefixes(void) {
    fg_run_settings s = test_settings("escape");
    mkdir(test_path("escape", "outside"), 0755);
    CHECK(symlink("../outside", test_path("escape", "output/link")) == 0);
    const char *bad[] = {"../x", "/tmp/abs", "a/../../x", "link/x", "link/new/x", "..", "", "./"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fg_error *err;
        char *ui = save(&s, "SaveImage", 1, bad[i], &err);
        CHECK(err != NULL, "prefix '%s' accepted", bad[i]);
        fg_error_free(err);
        free(ui);
    }
    CHECK(count_files(test_path("escape", "outside")) == 0, "something was written outside");
    CHECK(count_files(test_path("escape", "output")) == 1, "only the symlink itself");
    CHECK(!exists(test_path("escape", "x")) && !exists("/tmp/abs_00001_.png"));
}

static void test_metadata(void) {
    fg_run_settings s = test_settings("meta");
    const char *prompt_text = "{\"1\": {\"class_type\": \"X\"}}", *workflow_text = "{\"nodes\": []}";
    const fg_node_spec *spec = fg_node_find("SaveImage");
    fg_image_obj *im = pattern_image(1, 2, 3);
    fg_value in[2] = {fg_value_object(&im->base), fg_value_string("m")}, out[1] = {0};
    for (int embed = 0; embed < 2; embed++) {
        s.embed_metadata = embed;
        fg_node_ctx ctx = {.node_id = "9", .spec = spec, .settings = &s, .prompt_json = prompt_text,
                           .workflow_json = workflow_text};
        if (!CHECK_OK(spec->execute(&ctx, &(fg_node_args){.spec = spec, .values = in}, out))) continue;
        fg_value_clear(&out[0]);
        free(ctx.ui_result_json);
        fg_text_list texts = {0};
        const char *file = test_path("meta", embed ? "output/m_00002_.png" : "output/m_00001_.png");
        if (CHECK_OK(fg_png_read_text_file(file, &texts))) {
            const fg_text_entry *p = fg_text_list_find(&texts, "prompt"), *w = fg_text_list_find(&texts, "workflow");
            if (embed) {
                CHECK(p && strcmp(p->value, prompt_text) == 0);
                CHECK(w && strcmp(w->value, workflow_text) == 0);
                CHECK(texts.count >= 2 && strcmp(texts.items[0].key, "prompt") == 0);
            } else CHECK(!p && !w);
        }
        fg_text_list_free(&texts);
        fg_decoded_image d;
        if (CHECK_OK(fg_image_read_file(file, &d))) {
            /* pixel (x=1, y=1) channel 0: (1 + 3) / 64 -> 255 * 0.0625 = 15.9375 -> 15 (truncated) */
            CHECK(d.rgb.width == 3 && d.rgb.height == 2 && d.rgb.data[(1 * 3 + 1) * 3] == 15);
            fg_decoded_image_free(&d);
        }
    }
    fg_value_clear(&in[0]);
    fg_value_clear(&in[1]);
}

static void test_jpeg_and_preview(void) {
    fg_run_settings s = test_settings("jpeg");
    s.image_format = 1;
    fg_error *err;
    char *ui = save(&s, "SaveImage", 1, "j", &err);
    if (CHECK_OK(err)) {
        uint8_t *data = NULL;
        size_t size = 0;
        if (CHECK_OK(fg_image_load_file(test_path("jpeg", "output/j_00001_.jpg"), &data, &size)))
            CHECK(fg_image_sniff(data, size) == FG_IMAGE_JPEG);
        free(data);
    }
    free(ui);
    s.image_format = 0;
    fg_image_obj *im = pattern_image(1, 2, 2);
    fg_value in[1] = {fg_value_object(&im->base)}, out[1] = {0};
    ui = NULL;
    if (CHECK_OK(call_node("PreviewImage", &s, in, out, &ui))) {
        CHECK(ui && strstr(ui, "\"type\":\"temp\"") && strstr(ui, "ComfyUI_temp_"));
        CHECK(count_files(s.temp_dir) == 1 && count_files(test_path("jpeg", "output")) == 1);
        /* ComfyUI 0.30: the images are passed on as the node's IMAGE output */
        CHECK(out[0].type == FG_TYPE_IMAGE && out[0].u.obj == in[0].u.obj, "PreviewImage passes its images on");
    }
    free(ui);
    fg_value_clear(&out[0]);
    fg_value_clear(&in[0]);
}

void test_save_image(void) {
    test_counter_and_batch();
    test_subfolders_and_tokens();
    test_escaping_prefixes();
    test_metadata();
    test_jpeg_and_preview();
}
