#include "core/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double fg_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *fg_format_duration(double s, char *buf, size_t cap) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, cap, "%.1fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
    return buf;
}

void fg_progress_begin(fg_progress *p, FILE *stream, const char *label, int64_t total, int force_tty) {
    memset(p, 0, sizeof *p);
    p->stream = stream ? stream : stderr;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total > 0 ? total : 0;
    p->start_time = fg_time_now();
    p->last_decile = -1;
    p->is_tty = force_tty < 0 ? isatty(fileno(p->stream)) : force_tty == 1;
    p->active = true;
    fg_progress_update(p, 0);
}

static void draw(fg_progress *p, double now) {
    double elapsed = now - p->start_time;
    double frac = p->total ? (double)p->done / (double)p->total : 0.0;
    char eta[32] = "?", el[32];
    if (p->done > 0 && p->total) fg_format_duration(elapsed / frac - elapsed, eta, sizeof eta);
    fg_format_duration(elapsed, el, sizeof el);
    if (p->is_tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        int filled = (int)(frac * WIDTH + 0.5);
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '-';
        bar[WIDTH] = 0;
        fprintf(p->stream, "\r\033[K%s [%s] %lld/%lld %3d%% %s elapsed, ETA %s", p->label, bar,
                (long long)p->done, (long long)p->total, (int)(frac * 100), el, eta);
    } else {
        fprintf(p->stream, "%s: %lld/%lld (%d%%) %s elapsed, ETA %s\n", p->label, (long long)p->done,
                (long long)p->total, (int)(frac * 100), el, eta);
    }
    fflush(p->stream);
}

void fg_progress_update(fg_progress *p, int64_t done) {
    if (!p->active) return;
    p->done = done < 0 ? 0 : (done > p->total ? p->total : done);
    double now = fg_time_now();
    if (p->is_tty) {
        /* ~10 redraws a second is smooth without flooding a slow terminal. */
        if (now - p->last_draw < 0.1 && p->done != p->total && p->done != 0) return;
    } else {
        int decile = p->total ? (int)(p->done * 10 / p->total) : 0;
        if (decile == p->last_decile) return;
        p->last_decile = decile;
    }
    p->last_draw = now;
    draw(p, now);
}

void fg_progress_end(fg_progress *p) {
    if (!p->active) return;
    char el[32];
    fg_format_duration(fg_time_now() - p->start_time, el, sizeof el);
    if (p->is_tty) fprintf(p->stream, "\r\033[K");
    /* A loop that ended early (cancelled, failed) must not claim to be done. */
    if (p->done < p->total)
        fprintf(p->stream, "%s: stopped at %lld/%lld after %s\n", p->label, (long long)p->done,
                (long long)p->total, el);
    else
        fprintf(p->stream, "%s: done, %lld/%lld in %s\n", p->label, (long long)p->done, (long long)p->total, el);
    fflush(p->stream);
    p->active = false;
}
