/* Small filesystem helpers shared by the CLI and the nodes. */
#ifndef FG_CORE_FS_H
#define FG_CORE_FS_H

#include "core/error.h"

/* mkdir -p: creates every missing folder of path (mode 0777 less the umask); a level that
 * exists but is not a folder is an error naming it. */
fg_error *fg_make_dirs(const char *path) FG_MUST_CHECK;

/* Whether fg_make_dirs(path) can succeed, without creating anything: path is a writable folder,
 * or its nearest existing ancestor is. Names the level at fault. */
fg_error *fg_check_dirs_creatable(const char *path) FG_MUST_CHECK;

#endif
