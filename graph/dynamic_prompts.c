/* The frontend's dynamic prompts (extensions/core/dynamicPrompts.ts, processDynamicPrompt in
 * formatUtil.ts; docs/ui_workflow_conversion.md §1.13): on a text widget declared with
 * `dynamicPrompts` (CLIPTextEncode's text, ...), C-style comments are removed, `{a|b|c}`
 * becomes one of its options chosen at random (nested blocks too; `{a}` is just "a"), and a
 * backslash keeps itself and the next character, except that \{ \} \| finally lose it. What
 * the frontend does with the odd cases is kept: an unclosed `{` takes the rest of the text as its options, a stray `}` stays, and a
 * backslash at the very end becomes "\undefined". */
#include "graph/dynamic_prompts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct text {
    char *p;
    size_t n, cap;
    bool oom;
} text;

static void put(text *t, const char *s, size_t n) {
    if (t->oom) return;
    if (t->n + n + 1 > t->cap) {
        size_t c = (t->n + n + 1) * 2;
        char *q = realloc(t->p, c);
        if (!q) {
            t->oom = true;
            return;
        }
        t->p = q, t->cap = c;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

/* A JavaScript regex `.` stops at \n, \r, U+2028 and U+2029. */
static size_t line_terminator(const char *s) {
    if (*s == '\n' || *s == '\r') return 1;
    if ((unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 && ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9))
        return 3;
    return 0;
}

/* /\/\*[\s\S]*?\*\/|\/\/.*\/g */
static void strip_comments(const char *s, text *out) {
    while (*s) {
        const char *end;
        if (s[0] == '/' && s[1] == '*' && (end = strstr(s + 2, "*/"))) {
            s = end + 2;
        } else if (s[0] == '/' && s[1] == '/') {
            while (*s && !line_terminator(s)) s++;
        } else {
            put(out, s++, 1);
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
static void choice_block(const char *s, size_t n, size_t *i, text *out, uint64_t *rng, int depth) {
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
    if (chosen) put(out, chosen, strlen(chosen));
    else out->oom = true;
    free(chosen);
}

/* processDynamicPrompt: comments out, blocks chosen, escapes kept; then \{ \} \| lose their
 * backslash (at every level, as the recursion does it for each chosen option). */
static char *process(const char *s, size_t n, uint64_t *rng, int depth) {
    text in = {0}, res = {0}, out = {0};
    put(&in, "", 0), put(&res, "", 0), put(&out, "", 0);
    char *copy = strndup(s, n);
    bool have = copy != NULL;
    if (have) strip_comments(copy, &in);
    free(copy);
    for (size_t i = 0; have && !in.oom && i < in.n;) {
        char c = in.p[i++];
        if (c == '\\') {
            put(&res, "\\", 1);
            if (i < in.n) put(&res, in.p + i++, 1);
            else put(&res, "undefined", 9);
        } else if (c == '{' && depth < 64) {
            choice_block(in.p, in.n, &i, &res, rng, depth);
        } else {
            put(&res, &c, 1);
        }
    }
    for (size_t i = 0; !res.oom && i < res.n; i++) {
        if (res.p[i] == '\\' && i + 1 < res.n && strchr("{}|", res.p[i + 1]) && res.p[i + 1]) i++;
        put(&out, res.p + i, 1);
    }
    bool oom = !have || in.oom || res.oom || out.oom;
    free(in.p), free(res.p);
    if (oom) return free(out.p), NULL;
    return out.p;
}

bool fg_dynamic_prompt_has_syntax(const char *s) {
    return strchr(s, '{') || strchr(s, '\\') || strstr(s, "//") || strstr(s, "/*");
}

char *fg_dynamic_prompt(const char *s, uint64_t *rng) { return process(s, strlen(s), rng, 0); }
