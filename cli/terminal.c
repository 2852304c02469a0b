/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "terminal.h"

int term_make_raw(int fd, TermState *st) {
        if (!isatty(fd))
                return 0;
        if (tcgetattr(fd, &st->orig) < 0)
                return -errno;
        struct termios raw = st->orig;
        cfmakeraw(&raw);
        /* Keep output post-processing off too: the guest's pty does its own. */
        if (tcsetattr(fd, TCSANOW, &raw) < 0)
                return -errno;
        st->fd = fd;
        st->saved = true;
        return 0;
}

void term_restore(TermState *st) {
        if (!st->saved)
                return;
        (void) tcsetattr(st->fd, TCSANOW, &st->orig);
        st->saved = false;
}

int write_all_fd(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                                (void) poll(&pf, 1, -1);
                                continue;
                        }
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}
