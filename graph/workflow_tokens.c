/* filename_prefix text replacements that ComfyUI's frontend performs before queueing:
 * "%KSampler.seed%" becomes that node's widget value (characters illegal in file names
 * replaced by '_'), "%date:yyyy-MM-dd%" the current local time. Unknown references stay as
 * written, as in the frontend. The backend tokens (%width%, %batch_num%, ...) are left to
 * SaveImage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/workflow_internal.h"

#define MAX_TEXT 4096

typedef struct text_buf {
    char data[MAX_TEXT];
    size_t len;
} text_buf;

static void append(text_buf *b, const char *s, size_t n) {
    if (b->len + n >= MAX_TEXT) n = MAX_TEXT - 1 - b->len;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* yyyy, yy, MM, M, dd, d, hh, h, mm, m, ss, s as the frontend's formatDate knows them. */
static void format_date(const char *fmt, size_t n, text_buf *b) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    static const struct { const char *tok; int which, pad; } toks[] = {
        {"yyyy", 0, 4}, {"yy", 1, 2}, {"MM", 2, 2}, {"M", 2, 0}, {"dd", 3, 2}, {"d", 3, 0},
        {"hh", 4, 2}, {"h", 4, 0}, {"mm", 5, 2}, {"m", 5, 0}, {"ss", 6, 2}, {"s", 6, 0}};
    int values[7] = {tm.tm_year + 1900, (tm.tm_year + 1900) % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    for (size_t i = 0; i < n;) {
        bool matched = false;
        for (size_t t = 0; t < sizeof toks / sizeof toks[0] && !matched; t++) {
            size_t tl = strlen(toks[t].tok);
            if (i + tl <= n && strncmp(fmt + i, toks[t].tok, tl) == 0) {
                char num[16];
                int k = snprintf(num, sizeof num, "%0*d", toks[t].pad, values[toks[t].which]);
                append(b, num, (size_t)k);
                i += tl;
                matched = true;
            }
        }
        if (!matched) append(b, fmt + i++, 1);
    }
}

static const json_t *find_ui_node(const json_t *ui, const char *name, size_t n) {
    const json_t *nodes = json_object_get(ui, "nodes");
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            const json_t *node = json_array_get(nodes, i);
            const char *s = pass == 0 ? json_string_value(json_object_get(json_object_get(node, "properties"), "Node name for S&R"))
                                      : json_string_value(json_object_get(node, "title"));
            if (s && strlen(s) == n && strncmp(s, name, n) == 0) return node;
        }
    return NULL;
}

/* The node's widget value as the frontend's String(value) would print it. */
static bool widget_text(const json_t *prompt, const json_t *node, const char *widget, char *out, size_t cap) {
    char id[32];
    const json_t *jid = json_object_get(node, "id");
    if (json_is_integer(jid)) snprintf(id, sizeof id, "%lld", (long long)json_integer_value(jid));
    else if (json_is_string(jid)) snprintf(id, sizeof id, "%s", json_string_value(jid));
    else return false;
    const json_t *v = json_object_get(json_object_get(json_object_get(prompt, id), "inputs"), widget);
    if (json_is_string(v)) snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) {
        fg_format_python_float(json_real_value(v), out, cap);
        size_t n = strlen(out);
        if (n > 2 && strcmp(out + n - 2, ".0") == 0) out[n - 2] = 0;
    } else if (json_is_boolean(v)) snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (fg_json_is_bigint(v)) snprintf(out, cap, "%s", json_string_value(json_object_get(v, FG_BIGINT_KEY)));
    else return false;
    for (char *p = out; *p; p++)
        if (strchr("/?<>\\:*|\"", *p) || (unsigned char)*p < 0x20 || *p == 0x7f) *p = '_';
    return true;
}

static void replace_token(const json_t *ui, const json_t *prompt, const char *tok, size_t n, text_buf *b) {
    const char *dot = memchr(tok, '.', n);
    bool one_dot = dot && !memchr(dot + 1, '.', n - (size_t)(dot - tok) - 1);
    if (!one_dot) {
        if (n > 5 && strncmp(tok, "date:", 5) == 0) return format_date(tok + 5, n - 5, b);
    } else {
        const json_t *node = find_ui_node(ui, tok, (size_t)(dot - tok));
        char widget[256], value[1024];
        snprintf(widget, sizeof widget, "%.*s", (int)(n - (size_t)(dot - tok) - 1), dot + 1);
        if (node && widget_text(prompt, node, widget, value, sizeof value)) return append(b, value, strlen(value));
    }
    append(b, "%", 1);
    append(b, tok, n);
    append(b, "%", 1);
}

fg_error *fg_workflow_ui_text_tokens(const json_t *ui, json_t *prompt) {
    const char *id;
    json_t *node;
    json_object_foreach(prompt, id, node) {
        json_t *inputs = json_object_get(node, "inputs");
        const char *text = json_string_value(json_object_get(inputs, "filename_prefix"));
        if (!text || !strchr(text, '%')) continue;
        text_buf b = {.len = 0};
        b.data[0] = 0;
        for (const char *p = text; *p;) {
            const char *end = p[0] == '%' ? strchr(p + 1, '%') : NULL;
            if (end && end > p + 1) {
                replace_token(ui, prompt, p + 1, (size_t)(end - p - 1), &b);
                p = end + 1;
            } else {
                append(&b, p, 1);
                p++;
            }
        }
        if (json_object_set_new(inputs, "filename_prefix", json_string(b.data)) != 0)
            return fg_errorf(FG_ERR_OUT_OF_MEMORY, "filename_prefix of node %s", id);
    }
    return NULL;
}
