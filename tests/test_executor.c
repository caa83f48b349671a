/* The executor: planning (unreachable nodes never run), order, cycles, the signature cache
 * across runs, runtime failures, cancellation; node semantics live in tests/executor/.
 * `test_executor --make-png PATH W H CHANNELS` writes a test image for test_cli_run.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "graph/plan.h"
#include "tests/executor/exec_helpers.h"
#include "tests/testing.h"

/* LoadImage -> ImageScale -> SaveImage, plus an unconnected node 4 and a dangling chain 5. */
static const char *chain_prompt(int width, const char *ids[4]) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"%s\": {\"class_type\": \"LoadImage\", \"inputs\": {\"image\": \"a.png\"}},"
             " \"%s\": {\"class_type\": \"ImageScale\", \"inputs\": {\"image\": [\"%s\", 0], \"upscale_method\": "
             "\"bilinear\", \"width\": %d, \"height\": 0, \"crop\": \"disabled\"}},"
             " \"%s\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"%s\", 0], \"filename_prefix\": "
             "\"c\"}},"
             " \"%s\": {\"class_type\": \"ImageScaleBy\", \"inputs\": {\"image\": [\"%s\", 0], \"upscale_method\": "
             "\"area\", \"scale_by\": 2.0}}}",
             ids[0], ids[1], ids[0], width, ids[2], ids[1], ids[3], ids[0]);
    return buf;
}

static const char *default_ids[4] = {"1", "2", "3", "4"};

static fg_executor *chain_executor(const char *tag, fg_run_settings *s) {
    *s = test_settings(tag);
    char path[1024];
    snprintf(path, sizeof path, "%s/a.png", s->input_dir);
    CHECK(write_test_png(path, 6, 4, 4));
    fg_executor *ex = NULL;
    CHECK_OK(fg_executor_create(s, &ex));
    return ex;
}

static void test_plan_and_order(void) {
    fg_run_settings s;
    fg_executor *ex = chain_executor("plan", &s);
    fg_workflow *wf = workflow_from_text(chain_prompt(12, default_ids));
    event_log log;
    event_log_init(&log);
    if (ex && wf && CHECK_OK(run_logged(ex, wf, &log))) {
        CHECK(log.n_executing == 3, "ran %d nodes", log.n_executing);
        CHECK(times_executed(&log, "4") == 0, "the unreachable node ran");
        CHECK(strcmp(log.executing[0], "1") == 0 && strcmp(log.executing[1], "2") == 0 &&
              strcmp(log.executing[2], "3") == 0);
        CHECK(log.started && log.success && json_array_size(log.cached) == 0);
        const char *name = json_string_value(
            json_object_get(json_array_get(json_object_get(json_object_get(log.outputs, "3"), "images"), 0), "filename"));
        CHECK(name && strcmp(name, "c_00001_.png") == 0);
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

static void test_cycle(void) {
    const char *text = "{\"1\": {\"class_type\": \"ImageScaleBy\", \"inputs\": {\"image\": [\"2\", 0], "
                       "\"upscale_method\": \"area\", \"scale_by\": 1.0}},"
                       " \"2\": {\"class_type\": \"ImageScaleBy\", \"inputs\": {\"image\": [\"1\", 0], "
                       "\"upscale_method\": \"area\", \"scale_by\": 1.0}},"
                       " \"3\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"2\", 0], "
                       "\"filename_prefix\": \"x\"}}}";
    json_t *prompt = json_loads(text, 0, NULL), *outputs = json_pack("[s]", "3");
    fg_plan plan;
    CHECK_ERR(fg_plan_build(prompt, outputs, &plan), "cycle");
    fg_run_settings s = test_settings("cycle");
    fg_executor *ex = NULL;
    fg_workflow *wf = workflow_from_text(text);
    event_log log;
    event_log_init(&log);
    if (CHECK_OK(fg_executor_create(&s, &ex)) && wf) CHECK_ERR(run_logged(ex, wf, &log), NULL);
    CHECK(log.n_executing == 0 && count_files(s.output_dir) == 0);
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
    json_decref(prompt);
    json_decref(outputs);
}

static void test_cache(void) {
    fg_run_settings s;
    fg_executor *ex = chain_executor("cache", &s);
    fg_workflow *wf = workflow_from_text(chain_prompt(12, default_ids));
    event_log log;
    event_log_init(&log);
    if (!ex || !wf || !CHECK_OK(run_logged(ex, wf, &log))) goto done;
    /* the same prompt again: everything cached, the output node's UI result re-sent */
    if (CHECK_OK(run_logged(ex, wf, &log))) {
        CHECK(log.n_executing == 0 && json_array_size(log.cached) == 3);
        CHECK(json_object_get(log.outputs, "3") != NULL);
        CHECK(count_files(s.output_dir) == 1);
    }
    /* one constant changed: only ImageScale and SaveImage run again */
    fg_workflow *changed = workflow_from_text(chain_prompt(18, default_ids));
    if (changed && CHECK_OK(run_logged(ex, changed, &log))) {
        CHECK(log.n_executing == 2 && times_executed(&log, "1") == 0 && times_executed(&log, "2") == 1);
        CHECK(json_array_size(log.cached) == 1 && strcmp(json_string_value(json_array_get(log.cached, 0)), "1") == 0);
    }
    /* other node ids, same structure: still served from the cache */
    const char *ids[4] = {"70", "71", "72", "73"};
    fg_workflow *renumbered = workflow_from_text(chain_prompt(18, ids));
    if (renumbered && CHECK_OK(run_logged(ex, renumbered, &log))) CHECK(log.n_executing == 0);
    /* the width-12 results were dropped after the width-18 prompt: they run again */
    if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(log.n_executing == 2, "ran %d", log.n_executing);
    /* LoadImage's file changed on disk (its IS_CHANGED): the whole chain runs again */
    char path[1024];
    snprintf(path, sizeof path, "%s/a.png", s.input_dir);
    CHECK(write_test_png(path, 8, 4, 4));
    if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(log.n_executing == 3, "ran %d", log.n_executing);
    fg_workflow_free(changed);
    fg_workflow_free(renumbered);
done:
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

/* A constant written as text ComfyUI's int() reads ("12 ", "1_2") is converted once, by
 * validation: the job runs (it used to pass validation and then fail in the node) and keys the
 * cache like the number itself, and the saved image embeds the converted prompt, as ComfyUI's. */
static void test_constants_converted_once(void) {
    fg_run_settings s;
    fg_executor *ex = chain_executor("convert", &s);
    char text[2048];
    snprintf(text, sizeof text, "%s", chain_prompt(12, default_ids));
    char *w = strstr(text, "\"width\": 12");
    fg_workflow *wf = NULL, *spaced = NULL;
    event_log log;
    event_log_init(&log);
    if (!ex || !w) goto done;
    wf = workflow_from_text(text);
    char spaced_text[2100];
    snprintf(spaced_text, sizeof spaced_text, "%.*s\"width\": \" 1_2 \"%s", (int)(w - text), text,
             w + strlen("\"width\": 12"));
    spaced = workflow_from_text(spaced_text);
    if (!wf || !spaced || !CHECK_OK(run_logged(ex, spaced, &log))) goto done;
    CHECK(log.n_executing == 3, "the spaced width ran: %d", log.n_executing);
    if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(log.n_executing == 0, "12 and \" 1_2 \" share the cache");
    fg_validation v;
    if (CHECK_OK(fg_validate_prompt(spaced->prompt, &s, &v))) {
        json_t *width = json_object_get(json_object_get(json_object_get(v.prompt, "2"), "inputs"), "width");
        CHECK(json_is_integer(width) && json_integer_value(width) == 12, "converted width");
        CHECK(json_is_string(json_object_get(json_object_get(json_object_get(spaced->prompt, "2"), "inputs"), "width")),
              "the caller's prompt is left as written");
    }
    fg_validation_clear(&v);
done:
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_workflow_free(spaced);
    fg_executor_free(ex);
}

/* Every node in the catalogue runs (the executor's "not implemented yet" path is for a
 * declaration without an execute function: none is left). */
static void test_every_node_executes(void) {
    for (size_t i = 0; i < fg_node_count(); i++)
        CHECK(fg_node_at(i)->execute != NULL, "%s has no execute function", fg_node_at(i)->class_type);
}

/* A failure at run time (DualCLIPLoader given two T5-XXL files, which only loading can tell;
 * a sampler we do not run is refused earlier, by validation, tests/test_node_info.c): a clear
 * error naming the node, an execution_error event, no image. */
static void test_runtime_failure(void) {
    fg_workflow *wf = NULL;
    fg_run_settings s = test_settings("runtime_failure");
    s.models_dir = "tests/fixtures/models";
    fg_executor *ex = NULL;
    event_log log;
    event_log_init(&log);
    if (CHECK_OK(fg_workflow_load_file(test_fixture("workflows/tiny_txt2img.api.json"), &wf)) &&
        CHECK_OK(fg_executor_create(&s, &ex))) {
        json_t *clip = json_object_get(json_object_get(wf->prompt, "11"), "inputs");
        json_object_set_new(clip, "clip_name2", json_string("tiny-t5xxl.safetensors"));
        fg_error *err = run_logged(ex, wf, &log);
        CHECK(fg_error_code_of(err) == FG_ERR_INVALID_ARGUMENT);
        CHECK(strcmp(log.error_node, "11") == 0 && strcmp(log.error_class, "DualCLIPLoader") == 0);
        CHECK(strstr(log.error_message, "are both T5-XXL") != NULL, "message '%s'", log.error_message);
        CHECK_ERR(err, "node 11 (DualCLIPLoader)");
        CHECK(!log.success && count_files(s.output_dir) == 0);
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

static void test_cancel(void) {
    fg_run_settings s;
    fg_executor *ex = chain_executor("cancel", &s);
    volatile int flag = 1;
    fg_executor_free(ex);
    s.cancel_flag = &flag;
    ex = NULL;
    CHECK_OK(fg_executor_create(&s, &ex));
    fg_workflow *wf = workflow_from_text(chain_prompt(12, default_ids));
    event_log log;
    event_log_init(&log);
    if (ex && wf) {
        fg_error *err = run_logged(ex, wf, &log);
        CHECK(fg_error_code_of(err) == FG_ERR_CANCELLED && log.n_executing == 0);
        fg_error_free(err);
        /* cancelled after the first node: nothing downstream runs, no image */
        flag = 0;
        log.cancel_after = 1;
        log.cancel_flag = &flag;
        err = run_logged(ex, wf, &log);
        CHECK(fg_error_code_of(err) == FG_ERR_CANCELLED && log.n_executing == 1, "ran %d", log.n_executing);
        CHECK_ERR(err, "node 2 (ImageScale)");
        CHECK(count_files(s.output_dir) == 0);
        /* the finished node stays cached */
        flag = 0;
        log.cancel_after = 0;
        if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(log.n_executing == 2 && count_files(s.output_dir) == 1);
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

static void test_invalid_prompt(void) {
    fg_run_settings s = test_settings("invalid");
    fg_executor *ex = NULL;
    fg_workflow *wf = workflow_from_text("{\"1\": {\"class_type\": \"SaveImage\", \"inputs\": {\"filename_prefix\": \"x\"}}}");
    event_log log;
    event_log_init(&log);
    if (wf && CHECK_OK(fg_executor_create(&s, &ex))) {
        CHECK_ERR(run_logged(ex, wf, &log), "invalid workflow");
        CHECK(log.n_executing == 0);
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

/* The demo workflow on the fixture models: a second job with another batch size reuses the
 * loaded VAE (VAELoader served from the cache) and writes the next counter values. */
static void test_models_loaded_once(void) {
    fg_run_settings s = test_settings("demo");
    s.models_dir = "tests/fixtures/models";
    fg_executor *ex = NULL;
    fg_workflow *wf = NULL;
    event_log log;
    event_log_init(&log);
    if (CHECK_OK(fg_workflow_load_file("workflows/tiny_decode.api.json", &wf)) && CHECK_OK(fg_executor_create(&s, &ex)) &&
        CHECK_OK(run_logged(ex, wf, &log))) {
        CHECK(log.n_executing == 4 && count_files(s.output_dir) == 1);
        json_object_set_new(json_object_get(json_object_get(wf->prompt, "1"), "inputs"), "batch_size", json_integer(2));
        if (CHECK_OK(run_logged(ex, wf, &log))) {
            CHECK(times_executed(&log, "2") == 0 && times_executed(&log, "1") == 1 && log.n_executing == 3);
            CHECK(count_files(s.output_dir) == 3);
            json_t *images = json_object_get(json_object_get(log.outputs, "4"), "images");
            CHECK(json_array_size(images) == 2 &&
                  strcmp(json_string_value(json_object_get(json_array_get(images, 1), "filename")),
                         "tiny_decode_00003_.png") == 0);
        }
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

static bool copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    bool ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = false;
    return ok;
}

/* A model file rewritten in place between jobs (same name, new bytes): its loader runs again
 * instead of serving weights through the stale mapping of the old file; unchanged, it stays
 * cached. */
static void test_rewritten_model_reloads(void) {
    fg_run_settings s = test_settings("rewrite");
    s.models_dir = test_path("rewrite", "models");
    mkdir(s.models_dir, 0755);
    mkdir(test_path("rewrite", "models/vae"), 0755);
    const char *vae = test_path("rewrite", "models/vae/tiny-ae.safetensors");
    fg_executor *ex = NULL;
    fg_workflow *wf = NULL;
    event_log log;
    event_log_init(&log);
    bool copied = copy_file("tests/fixtures/models/vae/tiny-ae.safetensors", vae);
    CHECK(copied, "copying the VAE");
    if (copied && CHECK_OK(fg_workflow_load_file("workflows/tiny_decode.api.json", &wf)) && CHECK_OK(fg_executor_create(&s, &ex)) &&
        CHECK_OK(run_logged(ex, wf, &log))) {
        CHECK(times_executed(&log, "2") == 1);
        json_object_set_new(json_object_get(json_object_get(wf->prompt, "1"), "inputs"), "batch_size", json_integer(2));
        if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(times_executed(&log, "2") == 0, "unchanged file: cached");
        struct timespec later[2] = {{.tv_sec = 1, .tv_nsec = 0}, {.tv_sec = 1, .tv_nsec = 0}};
        CHECK(copy_file("tests/fixtures/models/vae/tiny-ae.safetensors", vae) && utimensat(AT_FDCWD, vae, later, 0) == 0);
        json_object_set_new(json_object_get(json_object_get(wf->prompt, "1"), "inputs"), "batch_size", json_integer(1));
        if (CHECK_OK(run_logged(ex, wf, &log))) CHECK(times_executed(&log, "2") == 1, "rewritten file: loaded again");
    }
    event_log_clear(&log);
    fg_workflow_free(wf);
    fg_executor_free(ex);
}

static int make_png_main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: test_executor --make-png PATH W H CHANNELS\n");
        return 2;
    }
    return write_test_png(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5])) ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--make-png") == 0) return make_png_main(argc, argv);
    RUN_TEST(test_plan_and_order);
    RUN_TEST(test_cycle);
    RUN_TEST(test_cache);
    RUN_TEST(test_constants_converted_once);
    RUN_TEST(test_every_node_executes);
    RUN_TEST(test_runtime_failure);
    RUN_TEST(test_cancel);
    RUN_TEST(test_invalid_prompt);
    RUN_TEST(test_models_loaded_once);
    RUN_TEST(test_rewritten_model_reloads);
    RUN_TEST(test_nodes_latent);
    RUN_TEST(test_nodes_image);
    RUN_TEST(test_save_image);
    return test_summary();
}
