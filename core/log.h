/* Leveled logging to stderr. The level comes from fg_log_set_level or FLUXGRAPH_LOG
 * (error|warn|info|debug); the CLI maps --verbose/--quiet onto it. */
#ifndef FG_CORE_LOG_H
#define FG_CORE_LOG_H

#include "core/error.h"

typedef enum fg_log_level { FG_LOG_ERROR = 0, FG_LOG_WARN, FG_LOG_INFO, FG_LOG_DEBUG } fg_log_level;

void fg_log_set_level(fg_log_level level);
/* Reads FLUXGRAPH_LOG; unknown values are ignored with a warning. */
void fg_log_init_from_env(void);
void fg_log(fg_log_level level, const char *fmt, ...) FG_PRINTF(2, 3);

#define FG_LOG_E(...) fg_log(FG_LOG_ERROR, __VA_ARGS__)
#define FG_LOG_W(...) fg_log(FG_LOG_WARN, __VA_ARGS__)
#define FG_LOG_I(...) fg_log(FG_LOG_INFO, __VA_ARGS__)
#define FG_LOG_D(...) fg_log(FG_LOG_DEBUG, __VA_ARGS__)

#endif
