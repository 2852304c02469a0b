/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The caller's terminal while berth relays a machine's pty or console:
 * raw mode on entry, the original settings back on every exit path. */

#include <stdbool.h>
#include <sys/ioctl.h>
#include <termios.h>

typedef struct TermState {
        int fd;
        bool saved;
        struct termios orig;
} TermState;

#define TERM_STATE_INIT { .fd = -1 }

/* Put FD in raw mode if it is a terminal (a no-op returning 0 otherwise). */
int term_make_raw(int fd, TermState *st);
/* Restore what term_make_raw changed; safe to call twice. */
void term_restore(TermState *st);
/* Usable as a cleanup attribute. */
static inline void term_restorep(TermState *st) {
        term_restore(st);
}
