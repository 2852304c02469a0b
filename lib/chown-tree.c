/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "chown-tree.h"
#include "fs.h"
#include "util.h"

typedef struct Shift {
        uid_t from, to, size;
        dev_t dev;
} Shift;

static uid_t shift_id(const Shift *s, uid_t id) {
        if (id >= s->from && id - s->from < s->size)
                return s->to + (id - s->from);
        return id;
}

/* Change the owner of the inode FD (O_PATH or a directory) described by ST. */
static int shift_inode(const Shift *s, int fd, const struct stat *st) {
        uid_t u = shift_id(s, st->st_uid);
        gid_t g = (gid_t) shift_id(s, (uid_t) st->st_gid);
        if (u == st->st_uid && g == st->st_gid)
                return 0;
        if (fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        /* chown cleared setuid/setgid: put them back (never on a symlink,
         * which has no mode of its own).  The magic link names this inode. */
        if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))) {
                char proc[64];
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                if (chmod(proc, st->st_mode & 07777) < 0)
                        return -errno;
        }
        return 0;
}

static int shift_dir(const Shift *s, int dfd) {
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return -errno;
        int r = shift_inode(s, dfd, &st);
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = NULL;
        r = opendir_dup(dfd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_close_ int fd = openat(dfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                if (fstat(fd, &st) < 0)
                        return -errno;
                /* A mount point inside the tree: not ours to change. */
                if (st.st_dev != s->dev)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dfd, de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = shift_dir(s, sub);
                } else
                        r = shift_inode(s, fd, &st);
                if (r < 0)
                        return r;
        }
        return -errno;
}

int chown_tree_shift(int dir_fd, uid_t from, uid_t to, uid_t size) {
        struct stat st;
        if (fstat(dir_fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (from == to)
                return 0;
        Shift s = { .from = from, .to = to, .size = size, .dev = st.st_dev };
        return shift_dir(&s, dir_fd);
}
