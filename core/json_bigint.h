/* Jansson cannot hold integers outside int64, yet ComfyUI seeds go up to 2^64-1 (and its
 * /object_info declares that maximum). Such a literal is read as the marker object
 * {FG_BIGINT_KEY: "<digits>"}, which validation range-checks exactly and the workflow writer
 * prints back as the bare number. */
#ifndef FG_CORE_JSON_BIGINT_H
#define FG_CORE_JSON_BIGINT_H

#include <jansson.h>
#include <stddef.h>

#define FG_BIGINT_KEY "__fg_bigint__"

/* json_loadb, except that integer literals beyond int64 become big-int markers. On failure
 * err describes the first attempt's error (the position in the caller's text). */
json_t *fg_json_loadb_bigint(const void *data, size_t len, size_t flags, json_error_t *err);

#endif
