/* Shared helpers of the executor tests: prompts from JSON text, an event recorder, PNG
 * inputs written with core/image, and direct calls of one node's execute function. */
#ifndef FG_TESTS_EXEC_HELPERS_H
#define FG_TESTS_EXEC_HELPERS_H

#include <jansson.h>
#include <stdbool.h>

#include "graph/executor.h"
#include "nodes/objects.h"

typedef struct event_log {
    char executing[64][16]; /* node ids, in order */
    int n_executing;
    json_t *cached;         /* last execution_cached list (new reference) */
    json_t *outputs;        /* node id -> UI output of executed events */
    char error_node[16], error_class[64], error_message[512];
    bool success, started;
    int cancel_after;       /* set *cancel_flag after this many executed nodes (0: never) */
    int executed;
    volatile int *cancel_flag;
} event_log;

void event_log_init(event_log *log);
void event_log_clear(event_log *log);
void record_event(void *user, const fg_event *ev);
/* How many executing events named this node. */
int times_executed(const event_log *log, const char *id);

/* A workflow from API JSON text (NULL on a parse failure, reported as a test failure). */
fg_workflow *workflow_from_text(const char *json_text);
/* Runs wf once on ex, recording into a fresh log. */
fg_error *run_logged(fg_executor *ex, const fg_workflow *wf, event_log *log) FG_MUST_CHECK;

/* An 8-bit PNG (channels 3 or 4) with a deterministic pattern; alpha = 255 - 10 * x. */
bool write_test_png(const char *path, int width, int height, int channels);
/* Settings with every folder under the test's temp dir (sub named by tag), created. */
fg_run_settings test_settings(const char *tag);
const char *test_path(const char *tag, const char *rel);

/* Runs class_type's execute directly on the given inputs (values borrowed). */
fg_error *call_node(const char *class_type, const fg_run_settings *s, const fg_value *inputs, fg_value *outputs,
                    char **ui_json) FG_MUST_CHECK;
/* A LATENT of zeros-with-index-pattern: samples[b, c, y, x] = b * 1000 + c * 100 + y * 10 + x. */
fg_latent *pattern_latent(int64_t b, int64_t c, int64_t h, int64_t w);
/* An IMAGE [b, h, w, 3] with pixels (x + y * w + ch) / 64 clipped. */
fg_image_obj *pattern_image(int64_t b, int64_t h, int64_t w);
int count_files(const char *dir);

void test_nodes_latent(void);
void test_nodes_image(void);
void test_save_image(void);

#endif
