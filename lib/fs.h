/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* File and path helpers.  Every lookup inside a machine's rootfs goes through
 * chase_in_root(): the kernel resolves the path as if ROOTFD were "/", so a
 * guest symlink (absolute or "..") can never lead a host-side operation out of
 * the tree. */

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef enum ChaseFlags {
        CHASE_NO_SYMLINKS = 1 << 0, /* refuse any symlink on the way (mount targets) */
        CHASE_NOFOLLOW = 1 << 1,    /* do not follow a symlink in the last component */
} ChaseFlags;

/* Open PATH relative to ROOTFD, resolved as if ROOTFD were the root directory
 * (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, plus RESOLVE_NO_SYMLINKS
 * with CHASE_NO_SYMLINKS; not RESOLVE_NO_XDEV, as a running machine's tree
 * has mounts inside).  OPEN_FLAGS get O_CLOEXEC added.  Returns an fd or
 * -errno (-ELOOP for a refused symlink or magic link; -EAGAIN if renames
 * kept racing the lookup). */
int chase_in_root(int rootfd, const char *path, ChaseFlags flags, int open_flags, mode_t mode);

/* Is process PID in the same NS namespace ("user", "net", "mnt", ...) as
 * we are?  False also when either cannot be looked at. */
bool same_namespace(pid_t pid, const char *ns);

/* The path the kernel knows FD by (readlink of /proc/self/fd/FD), malloc'ed
 * into *RET.  For a directory this is its canonical path. */
int fd_get_path(int fd, char **ret);

/* Open a trusted host directory path without following a symlink in its last
 * component; returns an O_DIRECTORY|O_CLOEXEC fd or -errno. */
int open_dir_nofollow(int dirfd, const char *path);

/* A DIR stream over the directory DIRFD, which stays open and ours: a
 * CLOEXEC duplicate, rewound (the duplicate shares DIRFD's offset). */
int opendir_dup(int dirfd, DIR **ret);

/* mkdir -p relative to DIRFD, mode for new dirs.  Trusted host paths only:
 * symlinks on the way are followed. */
int mkdir_p_at(int dirfd, const char *path, mode_t mode);

/* Remove NAME below DIRFD recursively.  Never follows symlinks, never crosses
 * into another filesystem (a mount point inside is left and reported as
 * -EBUSY).  A missing NAME is success. */
int rm_rf_at(int dirfd, const char *name);

/* Write all of BUF to FD, retrying on EINTR and waiting out EAGAIN. */
int write_all(int fd, const void *buf, size_t len);

/* Write CONTENT to NAME below DIRFD atomically: write .NAME.new, fsync, rename. */
int write_file_atomic_at(int dirfd, const char *name, const char *content, size_t len, mode_t mode);

/* Read a regular file (not following a final symlink) of at most MAX bytes into
 * a NUL-terminated malloc'ed buffer.  -EFBIG if larger, -ENOENT if missing,
 * -EBADFD if not a regular file (opened without blocking: a FIFO never hangs
 * the caller). */
int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len);
/* The same for an open FD, read from its current offset: -EBADFD unless it
 * is a regular file. */
int read_file_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* The same for any FD (a pipe, standard input) until EOF. */
int read_stream_fd(int fd, size_t max, char **ret, size_t *ret_len);

/* The disk space the tree PATH below DIRFD takes, as du(1) counts it:
 * allocated blocks, each hard-linked inode once, not crossing into other
 * filesystems, never following a symlink.  0 or -errno. */
int disk_usage_at(int dirfd, const char *path, uint64_t *ret);

/* Write a short string to a (sysfs/cgroupfs) file in one write(). */
int write_string_at(int dirfd, const char *name, const char *s);

/* Take a BSD lock on NAME below DIRFD (created 0600 if missing).  With
 * BLOCKING false returns -EWOULDBLOCK when someone else holds it.
 * Returns the fd holding the lock. */
int lock_file_at(int dirfd, const char *name, bool exclusive, bool blocking);

/* The start time of process PID (field 22 of /proc/PID/stat, in clock
 * ticks since boot), to tell it from a later process of the same pid. */
int proc_starttime(pid_t pid, unsigned long long *ret);

/* A pidfd for process PID if its start time is STARTTIME (-ESRCH if it is
 * gone or the pid was reused). */
int pidfd_open_checked(pid_t pid, unsigned long long starttime);

/* True if the file system holding FD is as good as full (less than 1 MiB or
 * no inode left for root): what a helper's failure most likely came from. */
bool fs_is_full(int fd);

/* Whether every directory from / down to PATH (PATH itself too, if it is
 * one) may be searched by "others": then any user of the host reaches
 * what lies there (as far as its own mode lets them).  Symlinks are
 * followed as a lookup would; false if PATH cannot be looked at. */
bool path_reachable_by_others(const char *path);

/* Close every fd >= 3 except those listed. */
int close_all_fds_except(const int *keep, size_t n_keep);
