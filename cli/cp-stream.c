/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp-stream.h"
#include "fs.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

int stream_dir_make(StreamDir *ret) {
        const char *tmp = secure_getenv("TMPDIR");
        /* /var/tmp rather than /tmp: a tree may not fit a tmpfs. */
        _cleanup_free_ char *path = xasprintf("%s/berth-cp-XXXXXX", isempty(tmp) ? "/var/tmp" : tmp);
        if (!mkdtemp(path))
                return log_error_errno(errno, "Failed to make a staging directory %s: %m", path);
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash == path ? xstrdup("/") : strndup(path, (size_t) (slash - path));
        if (!parent)
                abort();
        ret->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ret->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ret->name = xstrdup(slash + 1);
        ret->path = TAKE_PTR(path);
        if (ret->parent_fd < 0 || ret->fd < 0)
                return log_error_errno(errno, "Failed to open the staging directory %s: %m", ret->path);
        return 0;
}

void stream_dir_done(StreamDir *d) {
        closep(&d->fd);
        if (d->parent_fd >= 0 && d->name) {
                int r = rm_rf_at(d->parent_fd, d->name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the staging directory %s, ignoring: %m", d->path);
        }
        closep(&d->parent_fd);
        free(d->name);
        free(d->path);
        d->name = d->path = NULL;
}

int stream_dir_single_entry(const StreamDir *d, char **ret_name) {
        int fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return log_error_errno(errno, "Failed to read %s: %m", d->path);
        DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return log_error_errno(errno, "Failed to read %s: %m", d->path);
        }
        rewinddir(dir);
        _cleanup_free_ char *name = NULL;
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(dir)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        n++;
                        if (!name)
                                name = xstrdup(de->d_name);
                }
        closedir(dir);
        if (n != 1)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "The archive received holds %u top-level entries, not one: nothing copied.",
                                       n);
        *ret_name = TAKE_PTR(name);
        return 0;
}

int stream_tar_pack(const char *dir, const char *name, int out_fd, pid_t *ret_pid) {
        /* "./NAME": a name starting with '-' is no option. */
        _cleanup_free_ char *member = xasprintf("./%s", name);
        char *argv[] = { (char *) "tar", (char *) "--create", (char *) "--file=-", (char *) "--numeric-owner",
                         (char *) "--directory", (char *) dir, member, NULL };
        return spawn_piped(argv, -1, out_fd, ret_pid);
}

int stream_tar_unpack(const char *dir, int in_fd, pid_t *ret_pid) {
        /* As root tar keeps owners and modes; numbers, not names: the IDs
         * are the machine's or the other host's, whose names ours are not. */
        char *argv[] = { (char *) "tar", (char *) "--extract", (char *) "--file=-", (char *) "--numeric-owner",
                         (char *) "--same-owner", (char *) "--same-permissions", (char *) "--directory",
                         (char *) dir, NULL };
        return spawn_piped(argv, in_fd, -1, ret_pid);
}

int stream_tar_wait(pid_t pid) {
        int r = wait_child(pid);
        if (r < 0)
                return log_error_errno(r, "Failed to wait for tar: %m");
        if (r != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "tar failed (status %d), see its message above.", r);
        return 0;
}
