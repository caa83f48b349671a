/* ComfyUI's prompt weighting syntax (sd1_clip.py escape_important / token_weights /
 * unescape_important; docs/models.md sections 5.3-5.4), reproduced step for step:
 *   - "\(" and "\)" are protected as "\0\2" / "\0\1" before parsing and restored in each segment
 *     afterwards (so, as in ComfyUI, a prompt that itself contains those byte pairs gets them
 *     turned into parentheses);
 *   - top-level items: a '(' at level 0 opens an item running to the ')' that brings the level
 *     back to 0; a ')' at level 0 sends the level negative and stays text, which makes the
 *     following '(' text too until the level is back at 0; an unclosed '(' item is plain text;
 *   - an item "(...)" gets weight x1.1 (nesting multiplies); if its inner text has a ':' after
 *     position 0, the text after the LAST ':' is parsed with Python's float() and, when that
 *     succeeds, becomes the weight exactly (not multiplied) and the text is cut at the ':';
 *     otherwise the ':' part stays text. float() accepts "nan", "inf", "-Infinity", "1e308",
 *     "1_000", surrounding Unicode whitespace and non-ASCII decimal digits; these weights are
 *     passed on unchanged, as ComfyUI does (1e309 parses to inf).
 * Differences, chosen: invalid UTF-8 is an error naming the byte offset (ComfyUI receives a
 * Python str, so it cannot see such input); parentheses nested deeper than
 * FG_PROMPT_MAX_NESTING are an error (ComfyUI's recursion would hit Python's recursion limit,
 * around depth 1000, and fail the same way). */
#ifndef FG_TEXT_ENCODERS_PROMPT_WEIGHTS_H
#define FG_TEXT_ENCODERS_PROMPT_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

enum { FG_PROMPT_MAX_NESTING = 900 };

typedef struct fg_prompt_segment {
    char *text;    /* unescaped, malloc'd, NUL-terminated (may also contain NUL bytes) */
    size_t len;
    double weight; /* a Python float: 1.0, 1.1, 1.2100000000000002, 1.3, nan, inf, ... */
} fg_prompt_segment;

typedef struct fg_prompt_segments {
    fg_prompt_segment *items;
    size_t count;
} fg_prompt_segments;

/* Splits len bytes of UTF-8 into weighted segments (token_weights(escape_important(text), 1.0)
 * then unescape_important on each). Never returns empty segments. */
fg_error *fg_prompt_parse_weights(const char *text, size_t len, fg_prompt_segments *out) FG_MUST_CHECK;
void fg_prompt_segments_free(fg_prompt_segments *segs);

/* Python's float(str) over len bytes of UTF-8: true and *out on success, false where Python
 * raises ValueError. */
bool fg_py_float_parse(const char *text, size_t len, double *out);

#endif
