#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fg_log_level current_level = FG_LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void fg_log_set_level(fg_log_level level) { current_level = level; }

void fg_log_init_from_env(void) {
    const char *v = getenv("FLUXGRAPH_LOG");
    if (!v || !*v) return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, names[i]) == 0) {
            current_level = (fg_log_level)i;
            return;
        }
    }
    fg_log(FG_LOG_WARN, "FLUXGRAPH_LOG=%s is not one of error|warn|info|debug; ignored", v);
}

void fg_log(fg_log_level level, const char *fmt, ...) {
    if (level > current_level) return;
    static const char *tags[] = {"error", "warning", "info", "debug"};
    va_list ap;
    va_start(ap, fmt);
    /* One lock so lines from worker threads never interleave mid-line. */
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "fluxgraph: %s: ", tags[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
}
