#include "tests/executor/exec_helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes/node_args.h"
#include "tests/testing.h"
#include "core/image.h"

void event_log_init(event_log *log) {
    memset(log, 0, sizeof *log);
    log->outputs = json_object();
}

void event_log_clear(event_log *log) {
    json_decref(log->cached);
    json_decref(log->outputs);
    memset(log, 0, sizeof *log);
}

void record_event(void *user, const fg_event *ev) {
    event_log *log = user;
    switch (ev->kind) {
    case FG_EVENT_EXECUTION_START: log->started = true; break;
    case FG_EVENT_EXECUTION_CACHED:
        json_decref(log->cached);
        log->cached = json_deep_copy(ev->node_ids);
        break;
    case FG_EVENT_EXECUTING:
        if (ev->node_id && log->n_executing < 64)
            snprintf(log->executing[log->n_executing++], sizeof log->executing[0], "%s", ev->node_id);
        break;
    case FG_EVENT_EXECUTED:
        if (ev->output) json_object_set_new(log->outputs, ev->node_id, json_deep_copy(ev->output));
        log->executed++;
        if (log->cancel_after && log->executed == log->cancel_after && log->cancel_flag) *log->cancel_flag = 1;
        break;
    case FG_EVENT_EXECUTION_ERROR:
        snprintf(log->error_node, sizeof log->error_node, "%s", ev->node_id ? ev->node_id : "");
        snprintf(log->error_class, sizeof log->error_class, "%s", ev->class_type ? ev->class_type : "");
        snprintf(log->error_message, sizeof log->error_message, "%s", ev->message ? ev->message : "");
        break;
    case FG_EVENT_EXECUTION_SUCCESS: log->success = true; break;
    default: break;
    }
}

int times_executed(const event_log *log, const char *id) {
    int n = 0;
    for (int i = 0; i < log->n_executing; i++) n += strcmp(log->executing[i], id) == 0;
    return n;
}

fg_workflow *workflow_from_text(const char *json_text) {
    fg_workflow *wf = NULL;
    if (!CHECK_OK(fg_workflow_load_buffer(json_text, strlen(json_text), "test", &wf))) return NULL;
    return wf;
}

fg_error *run_logged(fg_executor *ex, const fg_workflow *wf, event_log *log) {
    int cancel_after = log->cancel_after;
    volatile int *flag = log->cancel_flag;
    event_log_clear(log);
    event_log_init(log);
    log->cancel_after = cancel_after;
    log->cancel_flag = flag;
    return fg_executor_run(ex, wf, "test-prompt", record_event, log);
}

bool write_test_png(const char *path, int width, int height, int channels) {
    fg_image r;
    if (!CHECK_OK(fg_image_alloc(width, height, channels, &r))) return false;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < channels; c++)
                r.data[((size_t)y * width + x) * channels + c] =
                    (uint8_t)(c == 3 ? 255 - 10 * x : (x * 37 + y * 11 + c * 50) % 256);
    bool ok = CHECK_OK(fg_png_write(path, &r, NULL, 0, 1));
    fg_image_free(&r);
    return ok;
}

const char *test_path(const char *tag, const char *rel) {
    static char buf[4][1024];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s%s%s", test_tmpdir(), tag, rel && *rel ? "/" : "", rel ? rel : "");
    return buf[slot];
}

fg_run_settings test_settings(const char *tag) {
    static char dirs[16][4][1024];
    static int slot;
    slot = (slot + 1) % 16;
    const char *names[4] = {"output", "temp", "input", ""};
    mkdir(test_path(tag, ""), 0755);
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[slot][i], sizeof dirs[slot][i], "%s/%s/%s", test_tmpdir(), tag, names[i]);
        mkdir(dirs[slot][i], 0755);
    }
    return (fg_run_settings){.output_dir = dirs[slot][0], .temp_dir = dirs[slot][1], .input_dir = dirs[slot][2],
                             .embed_metadata = true, .jpeg_quality = 90};
}

fg_error *call_node(const char *class_type, const fg_run_settings *s, const fg_value *inputs, fg_value *outputs,
                    char **ui_json) {
    const fg_node_spec *spec = fg_node_find(class_type);
    FG_CHECK_ARG(spec && spec->execute, "%s has no execute", class_type);
    fg_node_ctx ctx = {.node_id = "1", .spec = spec, .settings = s, .prompt_json = "{\"1\": {}}"};
    fg_error *err = spec->execute(&ctx, &(fg_node_args){.spec = spec, .values = inputs}, outputs);
    if (ui_json) *ui_json = ctx.ui_result_json;
    else free(ctx.ui_result_json);
    return err;
}

fg_latent *pattern_latent(int64_t b, int64_t c, int64_t h, int64_t w) {
    fg_tensor t;
    fg_latent *l = NULL;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(b, c, h, w)))) return NULL;
    float *p = t.data;
    for (int64_t i0 = 0; i0 < b; i0++)
        for (int64_t i1 = 0; i1 < c; i1++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) *p++ = (float)(i0 * 1000 + i1 * 100 + y * 10 + x);
    if (!CHECK_OK(fg_latent_new(&t, &l))) fg_tensor_free_host(&t);
    return l;
}

fg_image_obj *pattern_image(int64_t b, int64_t h, int64_t w) {
    fg_tensor t;
    fg_image_obj *im = NULL;
    if (!CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(b, h, w, 3)))) return NULL;
    float *p = t.data;
    for (int64_t i = 0; i < b * h * w * 3; i++) {
        int64_t ch = i % 3, x = (i / 3) % w, y = (i / 3 / w) % h;
        float v = (float)(x + y * w + ch) / 64.0f;
        p[i] = v > 1.0f ? 1.0f : v;
    }
    if (!CHECK_OK(fg_image_obj_new(FG_TYPE_IMAGE, &t, &im))) fg_tensor_free_host(&t);
    return im;
}

int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}
