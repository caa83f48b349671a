/* Progress reporting for long loops (sampling steps, model loading). On a terminal it redraws
 * one line with a bar, count, rate and ETA; elsewhere (logs, CI) it prints a plain line at
 * most every ~10% so logs stay short. */
#ifndef FG_CORE_PROGRESS_H
#define FG_CORE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fg_progress {
    FILE *stream;
    char label[64];
    int64_t total;
    int64_t done;
    double start_time;
    double last_draw;
    int last_decile;
    bool is_tty;
    bool active;
} fg_progress;

/* stream NULL means stderr. force_tty: -1 detect, 0 plain lines, 1 redraw. */
void fg_progress_begin(fg_progress *p, FILE *stream, const char *label, int64_t total, int force_tty);
void fg_progress_update(fg_progress *p, int64_t done);
/* Final line with the total time ("done, N/N" or "stopped at k/N" when ended early). */
void fg_progress_end(fg_progress *p);
/* Monotonic seconds. */
double fg_time_now(void);
/* "1m05s", "3.2s" into buf. */
char *fg_format_duration(double seconds, char *buf, size_t cap);

#endif
