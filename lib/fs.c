/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "fs.h"
#include "util.h"

/* Retries of openat2 on EAGAIN before chase_in_root() gives up with -EAGAIN. */
#define CHASE_EAGAIN_TRIES 64

int chase_in_root(int rootfd, const char *path, ChaseFlags flags, int open_flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (open_flags | O_CLOEXEC | ((flags & CHASE_NOFOLLOW) ? O_NOFOLLOW : 0)),
                .mode = (open_flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
                           ((flags & CHASE_NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0),
        };

        /* openat2 does not accept an empty path; "." names the root itself. */
        if (isempty(path))
                path = ".";

        /* EAGAIN: a rename or mount elsewhere raced the ".." check; try again,
         * but not forever: a guest renaming in a loop must not make a
         * supervisor spin. */
        long fd;
        unsigned tries = 0;
        do
                fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
        while (fd < 0 && errno == EAGAIN && ++tries < CHASE_EAGAIN_TRIES);
        return fd < 0 ? -errno : (int) fd;
}

int fd_get_path(int fd, char **ret) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        *ret = xstrdup(target);
        return 0;
}

int open_dir_nofollow(int dirfd, const char *path) {
        int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int opendir_dup(int dirfd, DIR **ret) {
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        rewinddir(d);
        *ret = d;
        return 0;
}

int mkdir_p_at(int dirfd, const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);

        for (char *s = p + (p[0] == '/'); ; s++) {
                bool end = *s == 0;
                if (*s == '/' || end) {
                        char saved = *s;
                        *s = 0;
                        if (mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *s = saved;
                }
                if (end)
                        break;
        }
        /* Trusted host paths: an admin may well symlink a dir elsewhere. */
        struct stat st;
        if (fstatat(dirfd, p, &st, 0) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int rm_rf_children(int fd, dev_t dev) {
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }

        int ret = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;

                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT && ret == 0)
                                ret = -errno;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (st.st_dev != dev) {
                                /* A mount point: never descend into another filesystem. */
                                if (ret == 0)
                                        ret = -EBUSY;
                                continue;
                        }
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
                        if (sub < 0 && errno == EPERM)
                                sub = openat(dirfd(d), de->d_name,
                                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                if (ret == 0)
                                        ret = -errno;
                                continue;
                        }
                        int r = rm_rf_children(sub, dev);
                        if (r < 0 && ret == 0)
                                ret = r;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && ret == 0)
                                ret = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && ret == 0)
                        ret = -errno;
        }
        if (errno != 0 && ret == 0)
                ret = -errno;
        return ret;
}

int rm_rf_at(int dirfd, const char *name) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlinkat(dirfd, name, 0));

        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = rm_rf_children(fd, st.st_dev);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int write_all(int fd, const void *data, size_t len) {
        const char *buf = data;
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                /* A non-blocking fd (a pty, a socket): wait until it takes more. */
                                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                                (void) poll(&pf, 1, -1);
                                continue;
                        }
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const char *content, size_t len, mode_t mode) {
        /* Hidden: whoever lists the directory never takes it for an entry. */
        _cleanup_free_ char *tmp = xasprintf(".%s.new", name);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, content, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len) {
        /* O_NONBLOCK: a FIFO in its place must not make us wait for a writer. */
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        return read_file_fd(fd, max, ret, ret_len);
}

int read_file_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_stream_fd(fd, max, ret, ret_len);
}

int read_stream_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG;
                        cap *= 2;
                        char *n = realloc(buf, cap + 1);
                        if (!n)
                                abort();
                        buf = n;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = 0;
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_string_at(int dirfd, const char *name, const char *s) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t l = strlen(s);
        ssize_t n = write(fd, s, l);
        if (n < 0)
                return -errno;
        return (size_t) n == l ? 0 : -EIO;
}

int lock_file_at(int dirfd, const char *name, bool exclusive, bool blocking) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        int op = (exclusive ? LOCK_EX : LOCK_SH) | (blocking ? 0 : LOCK_NB);
        while (flock(fd, op) < 0) {
                if (errno == EINTR)
                        continue;
                return -errno;
        }
        return TAKE_FD(fd);
}

int proc_starttime(pid_t pid, unsigned long long *ret) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(AT_FDCWD, path, 4096, &buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* The comm field may contain spaces and ')': skip to the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        /* P is at the space before field 3; starttime is field 22. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        unsigned long long v;
        if (sscanf(p + 1, "%llu", &v) != 1)
                return -EIO;
        *ret = v;
        return 0;
}

int pidfd_open_checked(pid_t pid, unsigned long long starttime) {
        if (pid <= 0)
                return -ESRCH;
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -errno;
        /* Check after opening: if the start time still matches now, the pidfd
         * refers to the right process even if it dies a moment later. */
        unsigned long long st;
        int r = proc_starttime(pid, &st);
        if (r < 0 || st != starttime) {
                close(fd);
                return r < 0 ? r : -ESRCH;
        }
        return fd;
}

bool fs_is_full(int fd) {
        struct statvfs sv;
        if (fstatvfs(fd, &sv) < 0)
                return false;
        /* f_bfree/f_ffree: what root, which berth runs as, can still use. */
        return (uint64_t) sv.f_bfree * sv.f_frsize < UINT64_C(1) << 20 || (sv.f_files > 0 && sv.f_ffree == 0);
}

int close_all_fds_except(const int *keep, size_t n_keep) {
        /* close_range() over the gaps between the fds to keep, lowest first:
         * no /proc needed (a machine's child calls this after pivot_root). */
        unsigned from = 3;
        for (;;) {
                int next = -1;
                for (size_t i = 0; i < n_keep; i++)
                        if (keep[i] >= (int) from && (next < 0 || keep[i] < next))
                                next = keep[i];
                if (next < 0)
                        return RET_NERRNO(syscall(SYS_close_range, from, ~0U, 0U));
                if ((unsigned) next > from && syscall(SYS_close_range, from, (unsigned) next - 1, 0U) < 0)
                        return -errno;
                from = (unsigned) next + 1;
        }
}

bool same_namespace(pid_t pid, const char *ns) {
        char a[64], b[64];
        snprintf(a, sizeof a, "/proc/self/ns/%s", ns);
        snprintf(b, sizeof b, "/proc/%d/ns/%s", (int) pid, ns);
        struct stat sa, sb;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* du's figure for a tree: allocated blocks, each hard-linked inode once,
 * within one filesystem. */
typedef struct LinkedInode {
        ino_t ino;
        uint64_t size;
} LinkedInode;

typedef struct DiskUsage {
        dev_t dev;
        uint64_t bytes;
        LinkedInode *linked; /* inodes with more than one link, counted at the end */
        size_t n, cap;
} DiskUsage;

/* Adds the tree at DFD (which this takes) to DU, depth-first. */
static int disk_usage_dir(DiskUsage *du, int dfd, unsigned depth) {
        _cleanup_close_ int fd = dfd;
        /* A tree deeper than this is not a rootfs berth made: stop there
         * rather than run out of file descriptors. */
        if (depth > 256)
                return -ELOOP;
        DIR *d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd);
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != du->dev)
                        continue; /* gone meanwhile, or a mount point: not this tree's */
                uint64_t size = (uint64_t) st.st_blocks * 512;
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                        if (du->n == du->cap) {
                                du->cap = du->cap ? du->cap * 2 : 64;
                                du->linked = realloc(du->linked, du->cap * sizeof *du->linked);
                                if (!du->linked)
                                        abort();
                        }
                        du->linked[du->n++] = (LinkedInode) { st.st_ino, size };
                        continue;
                }
                du->bytes += size;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0 && (r = disk_usage_dir(du, sub, depth + 1)) < 0)
                                break;
                }
        }
        closedir(d);
        return r;
}

static int cmp_linked(const void *a, const void *b) {
        ino_t x = ((const LinkedInode *) a)->ino, y = ((const LinkedInode *) b)->ino;
        return x < y ? -1 : x > y;
}

int disk_usage_at(int dirfd, const char *path, uint64_t *ret) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        DiskUsage du = { .dev = st.st_dev, .bytes = (uint64_t) st.st_blocks * 512 };
        int r = disk_usage_dir(&du, TAKE_FD(fd), 0);
        if (r >= 0) {
                if (du.n > 0)
                        qsort(du.linked, du.n, sizeof *du.linked, cmp_linked);
                for (size_t i = 0; i < du.n; i++)
                        if (i == 0 || du.linked[i].ino != du.linked[i - 1].ino)
                                du.bytes += du.linked[i].size;
                *ret = du.bytes;
        }
        free(du.linked);
        return r;
}

bool path_reachable_by_others(const char *path) {
        _cleanup_free_ char *p = xstrdup(path);
        for (char *slash = p;; slash = strchr(slash + 1, '/')) {
                char saved = slash ? *slash : 0;
                if (slash)
                        *slash = 0;
                struct stat st;
                if (stat(isempty(p) ? "/" : p, &st) < 0)
                        return false;
                if (S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH))
                        return false;
                if (!slash)
                        return true;
                *slash = saved;
        }
}
