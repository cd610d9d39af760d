#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static rv_err sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_msg(LOG_ERROR, "open for fsync failed: %s", strerror(errno));
        return RV_E_INTERNAL;
    }
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) {
        log_msg(LOG_ERROR, "fsync failed: %s", strerror(err));
        return RV_E_INTERNAL;
    }
    return RV_OK;
}

rv_err durable_sync_file(const char *path)
{
    return sync_path(path, 0);
}

rv_err durable_sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sync_path(".", O_DIRECTORY);
    char dir[PATH_MAX];
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) {
        log_msg(LOG_ERROR, "fsync of a folder failed: path too long");
        return RV_E_INTERNAL;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return sync_path(dir, O_DIRECTORY);
}

rv_err durable_rename(const char *tmp, const char *path)
{
    rv_err er = durable_sync_file(tmp);
    if (er != RV_OK)
        return er;
    if (rename(tmp, path) != 0) {
        log_msg(LOG_ERROR, "rename failed: %s", strerror(errno));
        return RV_E_INTERNAL;
    }
    return durable_sync_parent(path);
}

rv_err durable_mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        int err = errno;
        rv_err er = r == 0 ? durable_sync_parent(path) : RV_OK;
        *p = '/';
        if (r != 0 && err != EEXIST) {
            log_msg(LOG_ERROR, "mkdir failed: %s", strerror(err));
            return RV_E_INTERNAL;
        }
        if (er != RV_OK)
            return er;
    }
    return RV_OK;
}
