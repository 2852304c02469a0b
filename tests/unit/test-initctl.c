/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* initctl_request_at() against trees a guest could have made: it writes
 * sysvinit's request to a FIFO that is read, and nothing anywhere else. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "initctl.h"
#include "tap.h"
#include "util.h"

/* A fresh ROOT/run with nothing in it; returns ROOT's fd. */
static int make_root(const char *base, const char *name) {
        _cleanup_close_ int bfd = open_dir_nofollow(AT_FDCWD, base);
        if (bfd < 0 || mkdirat(bfd, name, 0755) < 0)
                return -errno;
        _cleanup_close_ int rfd = open_dir_nofollow(bfd, name);
        if (rfd < 0 || mkdirat(rfd, "run", 0755) < 0)
                return -errno;
        return TAKE_FD(rfd);
}

/* A read end on FIFO NAME below DIRFD (O_NONBLOCK: opening it waits for nobody). */
static int fifo_reader(int dirfd, const char *name) {
        if (mkfifoat(dirfd, name, 0600) < 0)
                return -errno;
        int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int main(void) {
        char base[] = "/tmp/test-initctl.XXXXXX";
        if (!mkdtemp(base))
                return EXIT_FAILURE;
        _cleanup_close_ int bfd = open_dir_nofollow(AT_FDCWD, base);

        /* The FIFO sysvinit made, with sysvinit reading it. */
        _cleanup_close_ int root = make_root(base, "good");
        _cleanup_close_ int rd = fifo_reader(root, "run/initctl");
        TEST_ASSERT(initctl_request_at(root, '0') == 0, "a request goes to a FIFO that is read");
        InitctlRequest req = {};
        TEST_ASSERT(read(rd, &req, sizeof req) == INITCTL_REQUEST_SIZE, "the request is 384 bytes, as sysvinit wants");
        TEST_ASSERT(req.magic == INITCTL_MAGIC && req.cmd == INITCTL_CMD_RUNLEVEL && req.runlevel == '0',
                    "... with sysvinit's magic, the runlevel command and runlevel '0'");
        TEST_ASSERT(initctl_request_at(root, '6') == 0 && read(rd, &req, sizeof req) == INITCTL_REQUEST_SIZE &&
                            req.runlevel == '6',
                    "a reboot asks for runlevel '6'");

        /* A full FIFO (nobody drains it) fails at once instead of blocking. */
        int r = 0;
        for (int i = 0; i < 4096 && r == 0; i++)
                r = initctl_request_at(root, '0');
        TEST_ASSERT(r == -EAGAIN, "a full FIFO gives -EAGAIN, never blocks (got %d)", r);
        closep(&rd);

        /* A FIFO nobody reads: no waiting for a reader. */
        TEST_ASSERT(initctl_request_at(root, '0') == -ENXIO, "a FIFO without a reader gives -ENXIO at once");

        /* Nothing there, or something else than a FIFO. */
        _cleanup_close_ int empty = make_root(base, "empty");
        TEST_ASSERT(initctl_request_at(empty, '0') == -ENOENT, "no /run/initctl gives -ENOENT");
        _cleanup_close_ int file = make_root(base, "file");
        _cleanup_close_ int ffd = openat(file, "run/initctl", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        TEST_ASSERT(ffd >= 0 && write(ffd, "x", 1) == 1, "the guest made /run/initctl a regular file");
        TEST_ASSERT(initctl_request_at(file, '0') == -ENOENT, "a regular file is not written to");
        _cleanup_free_ char *content = NULL;
        TEST_ASSERT(read_file_at(file, "run/initctl", 100, &content, NULL) >= 0 && streq(content, "x"),
                    "... and stays as it was");
        _cleanup_close_ int dev = make_root(base, "dev");
        TEST_ASSERT(symlinkat("/dev/null", dev, "run/initctl") == 0 && initctl_request_at(dev, '0') == -ENOENT,
                    "a symlink to /dev/null is resolved in the guest's root, not the host's");
        _cleanup_close_ int runfile = make_root(base, "runfile");
        (void) unlinkat(runfile, "run", AT_REMOVEDIR);
        (void) write_file_atomic_at(runfile, "run", "x", 1, 0644); /* the guest's /run is a file */
        TEST_ASSERT(initctl_request_at(runfile, '0') == -ENOENT, "/run being a file gives -ENOENT");

        /* A guest symlink to a FIFO the host reads, by absolute path and by "..". */
        _cleanup_close_ int hostrd = fifo_reader(bfd, "hostfifo");
        _cleanup_close_ int evil = make_root(base, "evil");
        _cleanup_free_ char *target = xasprintf("%s/hostfifo", base);
        TEST_ASSERT(symlinkat(target, evil, "run/initctl") == 0, "the guest links /run/initctl to a host FIFO");
        TEST_ASSERT(initctl_request_at(evil, '0') == -ENOENT, "an absolute symlink stays inside the root");
        (void) unlinkat(evil, "run/initctl", 0);
        TEST_ASSERT(symlinkat("../../../../../../../../hostfifo", evil, "run/initctl") == 0 &&
                            initctl_request_at(evil, '0') == -ENOENT,
                    "so does a \"..\" symlink");
        char c;
        /* Never opened for writing: EOF, not data. */
        TEST_ASSERT(read(hostrd, &c, 1) == 0, "the host's FIFO got nothing");

        (void) rm_rf_at(AT_FDCWD, base);
        return tap_finish();
}
