/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cp-stream.h"
#include "fs.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* $TMPDIR, else /var/tmp rather than /tmp: a tree may not fit a tmpfs. */
static const char *stream_tmp_dir(void) {
        const char *tmp = secure_getenv("TMPDIR");
        return isempty(tmp) ? "/var/tmp" : tmp;
}

int stream_dir_make(StreamDir *ret) {
        _cleanup_free_ char *path = xasprintf("%s/" STREAM_DIR_PREFIX "XXXXXX", stream_tmp_dir());
        if (!mkdtemp(path))
                return log_error_errno(errno, "Failed to make a staging directory %s: %m", path);
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash == path ? xstrdup("/") : strndup(path, (size_t) (slash - path));
        if (!parent)
                abort();
        ret->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ret->parent_fd < 0) {
                int r = log_error_errno(errno, "Failed to open %s: %m", parent);
                (void) rmdir(path);
                return r;
        }
        ret->name = xstrdup(slash + 1);
        ret->top_path = TAKE_PTR(path);
        ret->top_fd = openat(ret->parent_fd, ret->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* Held until stream_dir_done(): a free lock tells berth gc that
         * whoever made it was killed. */
        if (ret->top_fd < 0 || flock(ret->top_fd, LOCK_EX) < 0)
                return log_error_errno(errno, "Failed to open the staging directory %s: %m", ret->top_path);
        /* tar, as root, gives the directory it extracts into the owner and
         * mode of the archive's "./" member: that must be this subdirectory,
         * which no one but root can reach through the 0700 one above. */
        if (mkdirat(ret->top_fd, "tree", 0700) < 0)
                return log_error_errno(errno, "Failed to make a directory in %s: %m", ret->top_path);
        ret->fd = openat(ret->top_fd, "tree", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ret->path = xasprintf("%s/tree", ret->top_path);
        if (ret->fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", ret->path);
        return 0;
}

void stream_dir_done(StreamDir *d) {
        closep(&d->fd);
        if (d->parent_fd >= 0 && d->name) {
                int r = rm_rf_at(d->parent_fd, d->name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the staging directory %s, ignoring: %m",
                                          d->top_path);
        }
        closep(&d->top_fd);
        closep(&d->parent_fd);
        free(d->name);
        free(d->path);
        free(d->top_path);
        d->name = d->path = d->top_path = NULL;
}

int stream_dir_gc(bool verbose) {
        const char *tmp = stream_tmp_dir();
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_closedir_ DIR *d = NULL;
        int r = opendir_dup(dfd, &d);
        if (r < 0)
                return r;
        int removed = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!startswith(de->d_name, STREAM_DIR_PREFIX))
                        continue;
                /* Only the caller's own (root's, or a user's for that user's
                 * gc): in a shared /var/tmp anyone can make one. */
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid())
                        continue;
                _cleanup_close_ int fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                /* Its maker locks it before making "tree": without one, it may
                 * be about to, unless it is old. */
                struct stat tst;
                if (fstatat(fd, "tree", &tst, AT_SYMLINK_NOFOLLOW) < 0 && st.st_mtime > time(NULL) - 60)
                        continue;
                r = rm_rf_at(dfd, de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s/%s, ignoring: %m", tmp, de->d_name);
                else {
                        removed++;
                        if (verbose)
                                log_info("Removed %s/%s, left by an interrupted cp.", tmp, de->d_name);
                }
        }
        return removed;
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
         * are the machine's or the other host's, whose names ours are not.
         * The directory DIR itself keeps its own (see stream_dir_make()). */
        char *argv[] = { (char *) "tar", (char *) "--extract", (char *) "--file=-", (char *) "--numeric-owner",
                         (char *) "--same-owner", (char *) "--same-permissions", (char *) "--no-overwrite-dir",
                         (char *) "--directory",
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
