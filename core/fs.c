#include "core/fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static fg_error *make_one(const char *path) {
    /* EEXIST also covers a parallel process creating the same folder a moment earlier. */
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return fg_errorf(FG_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return fg_errorf(FG_ERR_IO, "%s exists and is not a folder", path);
    return NULL;
}

fg_error *fg_make_dirs(const char *path) {
    FG_CHECK_ARG(path && path[0], "fg_make_dirs: empty path");
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%.64s...: path too long", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        FG_TRY(make_one(buf));
        *p = '/';
    }
    return make_one(buf);
}

fg_error *fg_check_dirs_creatable(const char *path) {
    FG_CHECK_ARG(path && path[0], "fg_check_dirs_creatable: empty path");
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%.64s...: path too long", path);
    memcpy(buf, path, len + 1);
    for (;;) {
        struct stat st;
        if (stat(buf, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) return fg_errorf(FG_ERR_IO, "%s exists and is not a folder", buf);
            if (access(buf, W_OK | X_OK) != 0)
                return fg_errorf(FG_ERR_IO, "%s: cannot write there: %s", buf, strerror(errno));
            return NULL;
        }
        if (errno != ENOENT && errno != ENOTDIR) return fg_errorf(FG_ERR_IO, "%s: %s", buf, strerror(errno));
        char *slash = strrchr(buf, '/');
        while (slash && slash > buf && slash[1] == '\0') { /* trailing slashes */
            *slash = '\0';
            slash = strrchr(buf, '/');
        }
        if (!slash) {
            strcpy(buf, ".");
        } else if (slash == buf) {
            buf[1] = '\0';
        } else {
            *slash = '\0';
        }
    }
}
