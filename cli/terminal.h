/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The caller's terminal while berth shows what a machine wrote: raw mode on
 * entry, the original settings back on every exit path; guest output made
 * harmless for display; and the terminal's answers to queries in guest
 * output kept from the host shell. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

/* True if BUF, written to a terminal, may make it answer: it holds ESC, ENQ,
 * or a byte that is (or is the second byte of the UTF-8 form of) a C1
 * control.  Cheap enough to call on every chunk of relayed output. */
bool term_may_answer(const void *buf, size_t n);

/* Whatever the controlling terminal answered to queries in guest output
 * (device attributes, cursor position, DECRQSS, colours, answerback...)
 * and nobody read must not become input to the host's shell.  Asks the
 * terminal for its status, throws away input until that answer is in (so
 * answers still on their way are caught, in order), at most a fraction of a
 * second, then flushes the terminal's input queue.  Call once, when the
 * relay of guest output is over, if term_may_answer() was true for some of
 * it.  Does nothing when we are not the terminal's foreground process
 * group: the input is not ours to drop then. */
void term_discard_answers(void);

/* Guest output shown on a terminal: control characters and bytes that are
 * not UTF-8 become "\xNN" text, so nothing the guest wrote is interpreted by
 * the terminal; "\n", "\t" and "\r" before "\n" stay, as does valid UTF-8
 * other than the C1 controls (U+0080..U+009F).  Stateful, since a UTF-8
 * sequence or a "\r\n" may be split between two chunks. */
typedef struct TermEscaper {
        unsigned char pending[4]; /* the start of a UTF-8 sequence */
        size_t n_pending;
        size_t n_cr; /* carriage returns not yet followed by anything */
} TermEscaper;

/* Write the escaped form of BUF to OUT, keeping an unfinished sequence at
 * its end for the next call. */
void term_escape(TermEscaper *e, const void *buf, size_t n, FILE *out);
/* The end of the output: escape what is still held. */
void term_escape_finish(TermEscaper *e, FILE *out);
