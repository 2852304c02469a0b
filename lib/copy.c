/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "copy.h"
#include "fs.h"
#include "log.h"
#include "util.h"

typedef struct CopyContext {
        const IdShift *shift;
        CopyFlags flags;
        dev_t dev; /* the source's filesystem: nothing below it on another one is entered */
        CopyStats *stats;
} CopyContext;

uid_t id_shift(const IdShift *s, uid_t id) {
        if (s && s->collapse)
                return s->to;
        if (!s || s->size == 0)
                return id;
        if (id >= s->from && id - s->from < s->size)
                return s->to + (id - s->from);
        return s->to + ID_SHIFT_OVERFLOW;
}

/* Names come from the tree being copied, maybe a machine's: no control
 * characters of theirs reach the terminal (C1 controls in their UTF-8 form
 * included, some terminals act on them). */
static char *escape_name(const char *s) {
        char *buf = xmalloc(strlen(s) * 4 + 1), *p = buf;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                bool c1 = c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f;
                if (*c < 0x20 || *c == 0x7f || *c == '\\' || c1) {
                        p += sprintf(p, "\\x%02x", *c);
                        if (c1) {
                                c++;
                                p += sprintf(p, "\\x%02x", *c);
                        }
                } else
                        *p++ = (char) *c;
        }
        *p = 0;
        return buf;
}

static char *child_display(const char *parent, const char *name) {
        _cleanup_free_ char *e = escape_name(name);
        size_t l = strlen(parent);
        return xasprintf("%s%s%s", parent, l > 0 && parent[l - 1] == '/' ? "" : "/", e);
}

/* Entries are created under a name nobody else picks and renamed into place
 * once complete. */
static void temp_name(char buf[static 32]) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd) {
                struct timespec ts;
                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                rnd = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec ^ (uint64_t) getpid();
        }
        snprintf(buf, 32, ".#berth-cp.%016" PRIx64, rnd);
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static const char *special_type(mode_t m) {
        switch (m & S_IFMT) {
        case S_IFCHR:
                return "a character device";
        case S_IFBLK:
                return "a block device";
        case S_IFIFO:
                return "a FIFO";
        case S_IFSOCK:
                return "a socket";
        default:
                return "of an unknown type";
        }
}

static mode_t dest_mode(const CopyContext *c, const struct stat *st, const char *display) {
        mode_t mode = st->st_mode & 07777;
        /* Directories keep S_ISGID: on a directory it only passes the group on
         * to new entries and grants nothing. */
        if ((c->flags & COPY_STRIP_SUID) && !S_ISDIR(st->st_mode) && (mode & (S_ISUID | S_ISGID))) {
                log_warning("%s: %s bit removed.", display,
                            (mode & S_ISUID) && (mode & S_ISGID) ? "setuid and setgid"
                            : (mode & S_ISUID)                   ? "setuid"
                                                                 : "setgid");
                mode &= ~(mode_t) (S_ISUID | S_ISGID);
                if (c->stats)
                        c->stats->stripped++;
        }
        return mode;
}

/* Owner first: a chown clears S_ISUID/S_ISGID, the chmod after it sets them. */
static int apply_metadata_fd(const CopyContext *c, int fd, const struct stat *st, const char *display) {
        if (fchown(fd, id_shift(c->shift, st->st_uid), id_shift(c->shift, st->st_gid)) < 0)
                return log_error_errno(errno, "%s: cannot set the owner of the copy: %m", display);
        if (fchmod(fd, dest_mode(c, st, display)) < 0)
                return log_error_errno(errno, "%s: cannot set the mode of the copy: %m", display);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (futimens(fd, ts) < 0)
                return log_error_errno(errno, "%s: cannot set the timestamps of the copy: %m", display);
        return 0;
}


/* Copy SIZE bytes (the size the file had when opened: a file that grows
 * meanwhile is cut there), or for SIZE 0 whatever can be read, bounded. */
static int copy_data(int in, int out, off_t size) {
        bool sized = size > 0;
        uint64_t left = sized ? (uint64_t) size : 0, done = 0;

        /* In-kernel copy (reflinks, no round trip through us) where the two
         * filesystems allow it.  It reads 0 bytes from files that claim a
         * size they do not have (pseudo files): then read() decides. */
        while (sized && left > 0) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, left < (1U << 30) ? left : (1U << 30), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (done == 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                                          errno == EOPNOTSUPP || errno == EPERM))
                                break;
                        return -errno;
                }
                if (n == 0) {
                        if (done > 0)
                                return 0; /* the file shrank */
                        break;
                }
                done += (uint64_t) n;
                left -= (uint64_t) n;
        }
        if (sized && left == 0)
                return 0;

        const size_t bufsize = 128 * 1024;
        _cleanup_free_ char *buf = xmalloc(bufsize);
        for (;;) {
                size_t want = sized && left < bufsize ? (size_t) left : bufsize;
                if (sized && want == 0)
                        return 0;
                ssize_t n = read(in, buf, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                if (!sized && done + (uint64_t) n > COPY_UNSIZED_MAX)
                        return -EFBIG;
                int r = write_all(out, buf, (size_t) n);
                if (r < 0)
                        return r;
                done += (uint64_t) n;
                if (sized)
                        left -= (uint64_t) n;
        }
}

static int copy_regular(const CopyContext *c, int src_dirfd, const char *name, const struct stat *st,
                        int dst_dirfd, const char *dst_name, const char *display) {
        /* O_NONBLOCK: should the entry have become a FIFO since we looked (or
         * a running machine have mounted one of its own devices over it), the
         * open must not hang; the fstat() below then refuses it. */
        _cleanup_close_ int in =
                openat(src_dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (in < 0)
                return log_error_errno(errno, "%s: cannot open: %m", display);
        struct stat now;
        if (fstat(in, &now) < 0)
                return log_error_errno(errno, "%s: cannot stat: %m", display);
        if (!S_ISREG(now.st_mode) || !same_inode(st, &now))
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "%s: changed while being copied, not copied.",
                                       display);

        char tmp[32];
        _cleanup_close_ int out = -EBADF;
        for (unsigned i = 0; out < 0; i++) {
                temp_name(tmp);
                out = openat(dst_dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                             0600);
                if (out < 0 && (errno != EEXIST || i >= 16))
                        return log_error_errno(errno, "%s: cannot create the copy: %m", display);
        }

        int r = copy_data(in, out, now.st_size);
        if (r < 0)
                log_error_errno(r, "%s: cannot copy the contents: %m", display);
        if (r >= 0)
                r = apply_metadata_fd(c, out, &now, display);
        if (r >= 0 && renameat(dst_dirfd, tmp, dst_dirfd, dst_name) < 0)
                r = log_error_errno(errno, "%s: cannot put the copy in place: %m", display);
        if (r < 0) {
                (void) unlinkat(dst_dirfd, tmp, 0);
                return r;
        }
        if (c->stats)
                c->stats->regular++;
        return 0;
}

static int copy_symlink(const CopyContext *c, int src_dirfd, const char *name, const struct stat *st,
                        int dst_dirfd, const char *dst_name, const char *display) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(src_dirfd, name, target, sizeof target);
        if (n < 0)
                return log_error_errno(errno, "%s: cannot read the symlink: %m", display);
        if ((size_t) n >= sizeof target)
                return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG), "%s: symlink target too long.",
                                       display);
        target[n] = 0;

        char tmp[32];
        for (unsigned i = 0;; i++) {
                temp_name(tmp);
                if (symlinkat(target, dst_dirfd, tmp) >= 0)
                        break;
                if (errno != EEXIST || i >= 16)
                        return log_error_errno(errno, "%s: cannot create the copy: %m", display);
        }
        /* Owner and times on an O_PATH fd of the link, checked to be one: in a
         * running machine, something mounted over the name meanwhile would
         * otherwise get them (a bind of one of its devices, host inodes). */
        int r = 0;
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        struct stat lst;
        _cleanup_close_ int lfd = openat(dst_dirfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0)
                r = log_error_errno(errno, "%s: cannot open the copy: %m", display);
        else if (fstat(lfd, &lst) < 0 || !S_ISLNK(lst.st_mode))
                r = log_error_errno(SYNTHETIC_ERRNO(EBUSY), "%s: the copy changed while being made.",
                                    display);
        else if (fchownat(lfd, "", id_shift(c->shift, st->st_uid), id_shift(c->shift, st->st_gid),
                          AT_EMPTY_PATH) < 0)
                r = log_error_errno(errno, "%s: cannot set the owner of the copy: %m", display);
        else if (utimensat(lfd, "", ts, AT_EMPTY_PATH) < 0 &&
                 /* Older kernels take no AT_EMPTY_PATH here: then by name. */
                 (errno != EINVAL || utimensat(dst_dirfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0))
                r = log_error_errno(errno, "%s: cannot set the timestamps of the copy: %m", display);
        else if (renameat(dst_dirfd, tmp, dst_dirfd, dst_name) < 0)
                r = log_error_errno(errno, "%s: cannot put the copy in place: %m", display);
        if (r < 0) {
                (void) unlinkat(dst_dirfd, tmp, 0);
                return r;
        }
        if (c->stats)
                c->stats->symlinks++;
        return 0;
}

static int copy_entry(const CopyContext *c, int src_dirfd, const char *name, int dst_dirfd,
                      const char *dst_name, const char *display, unsigned depth);

static int copy_children(const CopyContext *c, DIR *d, int dst_fd, const char *display, unsigned depth) {
        int ret = 0;
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0 && ret == 0)
                                ret = log_error_errno(errno, "%s: cannot read the directory: %m", display);
                        return ret;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *child = child_display(display, de->d_name);
                int r = copy_entry(c, dirfd(d), de->d_name, dst_fd, de->d_name, child, depth + 1);
                if (r < 0 && ret == 0)
                        ret = r;
        }
}

static int copy_dir(const CopyContext *c, int src_dirfd, const char *name, const struct stat *st,
                    int dst_dirfd, const char *dst_name, const char *display, unsigned depth) {
        if (depth >= COPY_DEPTH_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(ELOOP),
                                       "%s: nested more than %u levels deep, not copied.", display,
                                       COPY_DEPTH_MAX);

        int sfd = openat(src_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (sfd < 0)
                return log_error_errno(errno, "%s: cannot open the directory: %m", display);
        _cleanup_closedir_ DIR *d = fdopendir(sfd);
        if (!d) {
                int r = -errno;
                close(sfd);
                return log_error_errno(r, "%s: cannot open the directory: %m", display);
        }
        struct stat now;
        if (fstat(sfd, &now) < 0)
                return log_error_errno(errno, "%s: cannot stat: %m", display);
        if (!same_inode(st, &now))
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "%s: changed while being copied, not copied.",
                                       display);

        /* An existing directory is merged into (cp -a); a new one is built
         * under a temporary name at the top, so a failed copy leaves nothing. */
        char tmp[32] = "";
        _cleanup_close_ int dfd = -EBADF;
        struct stat dst_st;
        bool created = false;
        if (fstatat(dst_dirfd, dst_name, &dst_st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (!S_ISDIR(dst_st.st_mode))
                        return log_error_errno(
                                SYNTHETIC_ERRNO(ENOTDIR),
                                "%s: the destination exists and is not a directory, not copied.", display);
                dfd = openat(dst_dirfd, dst_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        } else if (errno != ENOENT)
                return log_error_errno(errno, "%s: cannot look at the destination: %m", display);
        else {
                if (depth == 0)
                        for (unsigned i = 0;; i++) {
                                temp_name(tmp);
                                if (mkdirat(dst_dirfd, tmp, 0700) >= 0)
                                        break;
                                if (errno != EEXIST || i >= 16)
                                        return log_error_errno(errno, "%s: cannot create the copy: %m",
                                                               display);
                        }
                else if (mkdirat(dst_dirfd, dst_name, 0700) < 0)
                        return log_error_errno(errno, "%s: cannot create the copy: %m", display);
                created = true;
                dfd = openat(dst_dirfd, depth == 0 ? tmp : dst_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                /* What we opened must be the directory we made: in a running
                 * machine, something could be mounted over it meanwhile. */
                struct stat parent_st;
                if (dfd >= 0 && (fstat(dst_dirfd, &parent_st) < 0 || fstat(dfd, &dst_st) < 0 ||
                                 dst_st.st_dev != parent_st.st_dev)) {
                        closep(&dfd);
                        dfd = -EBADF;
                        errno = EBUSY;
                }
        }
        int ret;
        if (dfd < 0)
                ret = log_error_errno(errno, "%s: cannot open the copy: %m", display);
        else
                ret = copy_children(c, d, dfd, display, depth);

        /* Metadata last: the children's creation changed the mtime.  Only on a
         * directory we made: an existing one (maybe a mount point in a running
         * machine, maybe a host directory on the way out) keeps its owner and
         * mode. */
        if (dfd >= 0 && created && (ret >= 0 || !*tmp)) {
                int r = apply_metadata_fd(c, dfd, &now, display);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (*tmp) {
                if (ret >= 0 && renameat2(dst_dirfd, tmp, dst_dirfd, dst_name, RENAME_NOREPLACE) < 0)
                        ret = log_error_errno(errno, "%s: cannot put the copy in place: %m", display);
                if (ret < 0)
                        (void) rm_rf_at(dst_dirfd, tmp);
        }
        if (ret >= 0 && c->stats)
                c->stats->directories++;
        return ret;
}

static int copy_entry(const CopyContext *c, int src_dirfd, const char *name, int dst_dirfd,
                      const char *dst_name, const char *display, unsigned depth) {
        struct stat st;
        if (fstatat(src_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "%s: cannot stat: %m", display);
        if (depth > 0 && st.st_dev != c->dev) {
                log_warning("%s: another filesystem is mounted here, not copied.", display);
                if (c->stats)
                        c->stats->skipped++;
                return 0;
        }

        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                return copy_regular(c, src_dirfd, name, &st, dst_dirfd, dst_name, display);
        case S_IFDIR:
                return copy_dir(c, src_dirfd, name, &st, dst_dirfd, dst_name, display, depth);
        case S_IFLNK:
                return copy_symlink(c, src_dirfd, name, &st, dst_dirfd, dst_name, display);
        default:
                /* Never create device nodes; FIFOs and sockets carry nothing to copy. */
                if (depth == 0)
                        return log_error_errno(
                                SYNTHETIC_ERRNO(EOPNOTSUPP),
                                "%s is %s; only regular files, directories and symlinks are copied.",
                                display, special_type(st.st_mode));
                log_warning("%s: %s, not copied.", display, special_type(st.st_mode));
                if (c->stats)
                        c->stats->skipped++;
                return 0;
        }
}

int copy_tree_at(int src_dirfd, const char *src_name, const char *src_display, int dst_dirfd,
                 const char *dst_name, const IdShift *shift, CopyFlags flags, CopyStats *stats) {
        /* First: the counts are read on every return, the early failures' too. */
        if (stats)
                *stats = (CopyStats) {};
        /* One component each: whatever resolution there is, the caller did it. */
        if (isempty(src_name) || strchr(src_name, '/') || streq(src_name, ".") || streq(src_name, "..") ||
            isempty(dst_name) || strchr(dst_name, '/') || streq(dst_name, ".") || streq(dst_name, ".."))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: invalid name for a copy.", src_display);

        struct stat st;
        if (fstatat(src_dirfd, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "%s: %m", src_display);
        CopyContext c = {
                .shift = shift,
                .flags = flags,
                .dev = st.st_dev,
                .stats = stats,
        };
        return copy_entry(&c, src_dirfd, src_name, dst_dirfd, dst_name, src_display, 0);
}
