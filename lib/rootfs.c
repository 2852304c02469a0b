/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "newidmap.h"
#include "rootfs.h"
#include "util.h"

/* Directories the machine needs as mount points. */
static const char *const api_dirs[] = { "proc", "sys", "dev", "run" };

int rootfs_check(const char *rootfs, const char *init, char **ret_init_name) {
        _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(errno, "Cannot open the machine's rootfs %s: %m", rootfs);

        for (size_t i = 0; i < ELEMENTSOF(api_dirs); i++) {
                struct stat st;
                if (fstatat(rootfd, api_dirs[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* created at start */
                        return log_error_errno(errno, "Cannot inspect %s/%s: %m", rootfs, api_dirs[i]);
                }
                if (!S_ISDIR(st.st_mode))
                        return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR),
                                               "Refusing to boot: /%s in the rootfs is %s, not a directory. "
                                               "Replace it with an empty directory (%s/%s).",
                                               api_dirs[i], S_ISLNK(st.st_mode) ? "a symlink" : "not a directory",
                                               rootfs, api_dirs[i]);
        }

        /* No init to check: the machine runs berth's stub init. */
        if (!init) {
                *ret_init_name = xstrdup("berth-stub");
                return 0;
        }
        if (isempty(init) || init[0] != '/')
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Init '%s' is not an absolute path.", init);

        /* Resolve exactly as the kernel will after pivot_root: inside the tree. */
        _cleanup_close_ int fd = chase_in_root(rootfd, init, 0, O_PATH, 0);
        if (fd < 0)
                return log_error_errno(fd,
                                       "Init %s not found inside the rootfs (%m). Install an init in the machine, "
                                       "or set [Machine] Init= in its machine.conf.",
                                       init);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot inspect init %s: %m", init);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(EACCES), "Init %s is not a regular file.", init);
        if (!(st.st_mode & 0111))
                return log_error_errno(SYNTHETIC_ERRNO(EACCES), "Init %s is not executable (mode %04o).", init,
                                       st.st_mode & 07777);

        /* The name the path resolves to: the fd's path ends in it. */
        _cleanup_free_ char *target = NULL;
        int r = fd_get_path(fd, &target);
        if (r < 0)
                return log_error_errno(r, "Cannot find the path of init %s: %m", init);
        const char *base = strrchr(target, '/');
        *ret_init_name = xstrdup(base ? base + 1 : target);
        return 0;
}

int rootfs_write_hostname(const char *rootfs, const char *hostname) {
        _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(errno, "Cannot open the machine's rootfs %s: %m", rootfs);
        _cleanup_close_ int etc = chase_in_root(rootfd, "etc", 0, O_RDONLY | O_DIRECTORY | O_NOCTTY, 0);
        if (etc == -ENOENT || etc == -ENOTDIR)
                return 0; /* no etc/: an application image, nothing reads a hostname file */
        if (etc < 0)
                return log_error_errno(etc, "Cannot open /etc in %s: %m", rootfs);

        _cleanup_free_ char *text = xasprintf("%s\n", hostname);
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        if (fstatat(etc, "hostname", &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "Cannot inspect /etc/hostname in %s: %m", rootfs);
        } else if (S_ISREG(st.st_mode)) {
                /* Checked before opening, and again after: never open a device or FIFO. */
                fd = openat(etc, "hostname", O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return log_error_errno(errno, "Cannot open /etc/hostname in %s: %m", rootfs);
                if (!S_ISREG(st.st_mode) || ftruncate(fd, 0) < 0)
                        return log_error_errno(S_ISREG(st.st_mode) ? errno : EBADFD,
                                               "Cannot rewrite /etc/hostname in %s: %m", rootfs);
        } else if (S_ISLNK(st.st_mode)) {
                /* Removing the link, never writing where it points. */
                if (unlinkat(etc, "hostname", 0) < 0)
                        return log_error_errno(errno, "Cannot replace the symlink /etc/hostname in %s: %m", rootfs);
        } else {
                log_warning("/etc/hostname in %s is not a regular file; left as it is. The machine's init may "
                            "not use the hostname %s.",
                            rootfs, hostname);
                return 0;
        }
        if (fd < 0) {
                struct stat est;
                if (fstat(etc, &est) < 0)
                        return log_error_errno(errno, "Cannot inspect /etc in %s: %m", rootfs);
                fd = openat(etc, "hostname", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                /* fchmod: whatever our umask, every user in the machine reads it. */
                if (fd < 0 || fchown(fd, est.st_uid, est.st_gid) < 0 || fchmod(fd, 0644) < 0)
                        return log_error_errno(errno, "Cannot create /etc/hostname in %s: %m", rootfs);
        }
        int r = write_all(fd, text, strlen(text));
        if (r < 0)
                return log_error_errno(r, "Cannot write /etc/hostname in %s: %m", rootfs);
        return 0;
}

int rootfs_write_hostname_call(void *userdata) {
        const HostnameArgs *h = userdata;
        return rootfs_write_hostname(h->rootfs, h->hostname);
}

int rootfs_write_hostname_as_machine(int machine_dir_fd, const char *rootfs, const char *hostname) {
        return userns_call(machine_dir_fd, rootfs_write_hostname_call, &(HostnameArgs) { rootfs, hostname });
}
