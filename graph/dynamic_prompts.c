/* The frontend's dynamic prompts (extensions/core/dynamicPrompts.ts, processDynamicPrompt in
 * formatUtil.ts; docs/ui_workflow_conversion.md §1.13): on a text widget declared with
 * `dynamicPrompts` (CLIPTextEncode's text, ...), C-style comments are removed, `{a|b|c}`
 * becomes one of its options chosen at random (nested blocks too; `{a}` is just "a"), and a
 * backslash keeps itself and the next character, except that \{ \} \| finally lose it. What
 * the frontend does with the odd cases is kept: an unclosed `{` takes the rest of the text as its options, a stray `}` stays, and a
 * backslash at the very end becomes "\undefined". */
#include "graph/dynamic_prompts.h"
#include "graph/text_buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A JavaScript regex `.` stops at \n, \r, U+2028 and U+2029. */
static size_t line_terminator(const char *s) {
    if (*s == '\n' || *s == '\r') return 1;
    if ((unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 && ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9))
        return 3;
    return 0;
}

/* /\/\*[\s\S]*?\*\/|\/\/.*\/g */
static void strip_comments(const char *s, sbuf *out) {
    while (*s) {
        const char *end;
        if (s[0] == '/' && s[1] == '*' && (end = strstr(s + 2, "*/"))) {
            s = end + 2;
        } else if (s[0] == '/' && s[1] == '/') {
            while (*s && !line_terminator(s)) s++;
        } else {
            sbuf_put(out, s++, 1);
        }
    }
}

static uint64_t next_random(uint64_t *state) {
    if (!*state) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *state = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16) ^ 0x9E3779B97F4A7C15ull;
    }
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return *state;
}

static char *process(const char *s, size_t n, uint64_t *rng, int depth);

/* The option of the block that starts after `{` at *i, chosen at random, processed itself. */
static void choice_block(const char *s, size_t n, size_t *i, sbuf *out, uint64_t *rng, int depth) {
    size_t starts[256], ends[256], count = 0, start = *i;
    int nest = 0;
    while (*i < n) {
        char c = s[(*i)++];
        if (c == '\\') {
            if (*i < n) (*i)++;
        } else if (c == '{') {
            nest++;
        } else if (c == '}') {
            if (!nest) {
                if (count < 256) starts[count] = start, ends[count++] = *i - 1;
                start = SIZE_MAX;
                break;
            }
            nest--;
        } else if (c == '|' && !nest) {
            if (count < 256) starts[count] = start, ends[count++] = *i - 1;
            start = *i;
        }
    }
    if (start != SIZE_MAX && count < 256) starts[count] = start, ends[count++] = n; /* unclosed */
    size_t pick = count > 1 ? (size_t)(next_random(rng) % count) : 0;
    char *chosen = process(s + starts[pick], ends[pick] - starts[pick], rng, depth + 1);
    if (chosen) sbuf_put(out, chosen, strlen(chosen));
    else out->failed = true;
    free(chosen);
}

/* processDynamicPrompt: comments out, blocks chosen, escapes kept; then \{ \} \| lose their
 * backslash (at every level, as the recursion does it for each chosen option). */
static char *process(const char *s, size_t n, uint64_t *rng, int depth) {
    sbuf in = {0}, res = {0}, out = {0};
    sbuf_put(&in, "", 0), sbuf_put(&res, "", 0), sbuf_put(&out, "", 0);
    char *copy = strndup(s, n);
    bool have = copy != NULL;
    if (have) strip_comments(copy, &in);
    free(copy);
    for (size_t i = 0; have && !in.failed && i < in.len;) {
        char c = in.data[i++];
        if (c == '\\') {
            sbuf_put(&res, "\\", 1);
            if (i < in.len) sbuf_put(&res, in.data + i++, 1);
            else sbuf_put(&res, "undefined", 9);
        } else if (c == '{' && depth < 64) {
            choice_block(in.data, in.len, &i, &res, rng, depth);
        } else {
            sbuf_put(&res, &c, 1);
        }
    }
    for (size_t i = 0; !res.failed && i < res.len; i++) {
        if (res.data[i] == '\\' && i + 1 < res.len && strchr("{}|", res.data[i + 1]) && res.data[i + 1]) i++;
        sbuf_put(&out, res.data + i, 1);
    }
    bool oom = !have || in.failed || res.failed || out.failed;
    free(in.data), free(res.data);
    if (oom) return free(out.data), NULL;
    return out.data;
}

bool fg_dynamic_prompt_has_syntax(const char *s) {
    return strchr(s, '{') || strchr(s, '\\') || strstr(s, "//") || strstr(s, "/*");
}

char *fg_dynamic_prompt(const char *s, uint64_t *rng) { return process(s, strlen(s), rng, 0); }
