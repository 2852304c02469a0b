/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "initctl.h"
#include "util.h"

_Static_assert(sizeof(InitctlRequest) == INITCTL_REQUEST_SIZE, "sysvinit reads exactly 384 bytes");

int initctl_request_at(int rootfd, char runlevel) {
        /* O_PATH first: nothing happens on open, so a device node or socket the
         * guest put there is looked at, never opened.  Symlinks are followed
         * inside the guest's root only. */
        _cleanup_close_ int pfd = chase_in_root(rootfd, INITCTL_PATH, 0, O_PATH, 0);
        if (pfd < 0)
                return pfd == -ENOTDIR || pfd == -ELOOP ? -ENOENT : pfd;
        struct stat st;
        if (fstat(pfd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -ENOENT;

        /* Reopen that very inode for writing.  O_NONBLOCK: without a reader the
         * open fails with ENXIO instead of waiting for one, and a full FIFO
         * fails the write with EAGAIN. */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", pfd);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        InitctlRequest req = {
                .magic = INITCTL_MAGIC,
                .cmd = INITCTL_CMD_RUNLEVEL,
                .runlevel = runlevel,
                .sleeptime = 3, /* telinit's default */
        };
        /* At most PIPE_BUF bytes: written whole or not at all, never in part. */
        ssize_t n = write(fd, &req, sizeof req);
        if (n < 0)
                return -errno;
        return n == (ssize_t) sizeof req ? 0 : -EIO;
}

int initctl_request(pid_t init_pid, char runlevel) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/root", (int) init_pid);
        /* The init's root directory, as its mounts show it: the guest's /run. */
        _cleanup_close_ int rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        return initctl_request_at(rootfd, runlevel);
}
