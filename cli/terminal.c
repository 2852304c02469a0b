/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
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

