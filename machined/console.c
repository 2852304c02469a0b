/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "console.h"
#include "log.h"
#include "util.h"

static int console_log_open(Console *c) {
        closep(&c->log_fd);
        c->log_fd = openat(c->dir_fd, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (c->log_fd < 0)
                return -errno;
        struct stat st;
        c->log_size = fstat(c->log_fd, &st) == 0 ? (size_t) st.st_size : 0;
        return 0;
}

int console_open(Console *c, int run_dir_fd) {
        c->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (c->master < 0)
                return log_error_errno(errno, "Failed to allocate a console pty: %m");
        if (grantpt(c->master) < 0 || unlockpt(c->master) < 0)
                return log_error_errno(errno, "Failed to unlock the console pty: %m");
        char name[64];
        if (ptsname_r(c->master, name, sizeof name) != 0)
                return log_error_errno(errno, "Failed to name the console pty: %m");
        c->slave_path = xstrdup(name);
        c->slave_keep = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (c->slave_keep < 0)
                return log_error_errno(errno, "Failed to open %s: %m", name);

        /* A sane default size until someone attaches and sets theirs. */
        struct winsize ws = { .ws_row = 24, .ws_col = 80 };
        (void) ioctl(c->master, TIOCSWINSZ, &ws);

        c->dir_fd = fcntl(run_dir_fd, F_DUPFD_CLOEXEC, 3);
        if (c->dir_fd < 0)
                return log_error_errno(errno, "Failed to dup runtime dir fd: %m");
        int r = console_log_open(c);
        if (r < 0)
                return log_error_errno(r, "Failed to open console.log: %m");
        return 0;
}

void console_close(Console *c) {
        closep(&c->master);
        closep(&c->slave_keep);
        closep(&c->dir_fd);
        closep(&c->log_fd);
        free(c->slave_path);
        *c = (Console) CONSOLE_INIT;
}

int console_drain(Console *c) {
        char buf[16384];
        for (;;) {
                ssize_t n = read(c->master, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        /* EIO: no slave open right now (between boots). */
                        return errno == EIO ? 0 : -errno;
                }
                if (n == 0)
                        return 0;
                if (c->log_size + (size_t) n > CONSOLE_LOG_MAX) {
                        (void) renameat(c->dir_fd, "console.log", c->dir_fd, "console.log.1");
                        if (console_log_open(c) < 0)
                                continue; /* keep draining even if the log is gone */
                }
                if (c->log_fd >= 0) {
                        ssize_t w = write(c->log_fd, buf, (size_t) n);
                        if (w > 0)
                                c->log_size += (size_t) w;
                }
        }
}
