/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "terminal.h"
#include "util.h"

/* How long the terminal gets to answer our status query.  A local terminal
 * answers within milliseconds; this is for one across a slow ssh link. */
#define ANSWER_WAIT_USEC 500000

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

bool term_may_answer(const void *buf, size_t n) {
        const unsigned char *p = buf;
        for (size_t i = 0; i < n; i++)
                /* 0x90..0x9f: DCS, CSI, OSC, PM, APC raw, or in UTF-8 after 0xc2. */
                if (p[i] == 0x1b || p[i] == 0x05 || (p[i] >= 0x90 && p[i] <= 0x9f))
                        return true;
        return false;
}

/* Read and drop input on FD until the answer to our "\e[5n" (device status:
 * "\e[0n", or "\e[3n" for a terminal in trouble) is in, or time is up.
 * Terminals answer in order: whatever the guest's queries made the terminal
 * send came before. */
static void wait_for_status_answer(int fd) {
        static const char query[] = "\033[5n";
        if (write(fd, query, strlen(query)) != (ssize_t) strlen(query))
                return;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + ANSWER_WAIT_USEC;
        char tail[4] = {};
        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        return;
                if (r <= 0)
                        continue;
                char buf[256];
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return;
                for (ssize_t i = 0; i < n; i++) {
                        memmove(tail, tail + 1, sizeof tail - 1);
                        tail[sizeof tail - 1] = buf[i];
                        if (memcmp(tail, "\033[0n", 4) == 0 || memcmp(tail, "\033[3n", 4) == 0)
                                return;
                }
        }
}

void term_discard_answers(void) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        /* A background job must not touch the terminal (and would be stopped
         * by SIGTTOU if it tried): the typed input belongs to someone else. */
        if (fd < 0 || tcgetpgrp(fd) != getpgrp())
                return;
        struct termios orig;
        if (tcgetattr(fd, &orig) < 0)
                return;
        /* A dumb terminal answers no queries: nothing to wait for. */
        const char *term = getenv("TERM");
        if (!isempty(term) && !streq(term, "dumb")) {
                /* Answers must be readable before a newline and never echoed;
                 * a Ctrl-C typed meanwhile is dropped with them. */
                struct termios quiet = orig;
                quiet.c_lflag &= ~(tcflag_t) (ICANON | ECHO | ISIG | IEXTEN);
                quiet.c_cc[VMIN] = 0;
                quiet.c_cc[VTIME] = 0;
                if (tcsetattr(fd, TCSANOW, &quiet) >= 0)
                        wait_for_status_answer(fd);
        }
        /* TCSAFLUSH: the settings back, and the unread input dropped. */
        (void) tcsetattr(fd, TCSAFLUSH, &orig);
}

static void escape_byte(unsigned char c, FILE *out) {
        fprintf(out, "\\x%02x", c);
}

/* The length of the UTF-8 sequence at P (AVAIL bytes) if it is complete,
 * well-formed (no overlong form, surrogate or value past U+10FFFF) and not a
 * C1 control; 0 if it is well-formed so far but cut short; -1 otherwise. */
static int utf8_sequence(const unsigned char *p, size_t avail) {
        unsigned char lo = 0x80, hi = 0xbf;
        int len;
        if (p[0] == 0xc2) {
                len = 2;
                lo = 0xa0; /* U+0080..U+009F are the C1 controls */
        } else if (p[0] > 0xc2 && p[0] <= 0xdf)
                len = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                if (p[0] == 0xe0)
                        lo = 0xa0;
                else if (p[0] == 0xed)
                        hi = 0x9f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                if (p[0] == 0xf0)
                        lo = 0x90;
                else if (p[0] == 0xf4)
                        hi = 0x8f;
        } else
                return -1;
        for (int i = 1; i < len; i++) {
                if ((size_t) i >= avail)
                        return 0;
                if (p[i] < lo || p[i] > hi)
                        return -1;
                lo = 0x80;
                hi = 0xbf;
        }
        return len;
}

/* Escape what can be decided of P[0..N) onto OUT; returns how much that was.
 * Unless FINAL, a sequence cut short at the end is left for more input. */
static size_t escape_some(const unsigned char *p, size_t n, bool final, FILE *out) {
        size_t i = 0, start = 0;
        while (i < n) {
                unsigned char c = p[i];
                if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t') {
                        i++;
                        continue;
                }
                if (c == '\r') {
                        /* The guest's tty turns "\n" into "\r\n" (getty writes
                         * "\r\r\n"): carriage returns before a newline stay.
                         * One before text could hide what is on the line. */
                        size_t j = i;
                        while (j < n && p[j] == '\r')
                                j++;
                        if (j == n && !final)
                                break;
                        if (j < n && p[j] == '\n') {
                                i = j + 1;
                                continue;
                        }
                        (void) fwrite(p + start, 1, i - start, out);
                        for (; i < j; i++)
                                escape_byte('\r', out);
                        start = i;
                        continue;
                } else if (c >= 0x80) {
                        int len = utf8_sequence(p + i, n - i);
                        if (len > 0) {
                                i += (size_t) len;
                                continue;
                        }
                        if (len == 0 && !final)
                                break;
                }
                (void) fwrite(p + start, 1, i - start, out);
                escape_byte(c, out);
                start = ++i;
        }
        (void) fwrite(p + start, 1, i - start, out);
        return i;
}

/* Keep REST (LEN bytes) for the next call: a run of carriage returns (then
 * that is all it is) as a count, else a cut UTF-8 sequence (< 4 bytes). */
static void hold(TermEscaper *e, const unsigned char *rest, size_t len) {
        if (len > 0 && rest[0] == '\r') {
                e->n_cr = len;
                e->n_pending = 0;
                return;
        }
        memmove(e->pending, rest, len);
        e->n_pending = len;
}

void term_escape(TermEscaper *e, const void *buf, size_t n, FILE *out) {
        const unsigned char *p = buf;
        size_t i = 0;
        while (i < n) {
                if (e->n_cr > 0) {
                        /* Held carriage returns: what follows them decides. */
                        while (i < n && p[i] == '\r') {
                                e->n_cr++;
                                i++;
                        }
                        if (i == n)
                                return;
                        for (; e->n_cr > 0; e->n_cr--)
                                if (p[i] == '\n')
                                        (void) fputc('\r', out);
                                else
                                        escape_byte('\r', out);
                        continue;
                }
                if (e->n_pending > 0) {
                        /* A held UTF-8 sequence: completed a byte at a time. */
                        e->pending[e->n_pending++] = p[i++];
                        size_t used = escape_some(e->pending, e->n_pending, false, out);
                        hold(e, e->pending + used, e->n_pending - used);
                        continue;
                }
                size_t used = escape_some(p + i, n - i, false, out);
                hold(e, p + i + used, n - i - used);
                return;
        }
}

void term_escape_finish(TermEscaper *e, FILE *out) {
        for (; e->n_cr > 0; e->n_cr--)
                escape_byte('\r', out);
        (void) escape_some(e->pending, e->n_pending, true, out);
        e->n_pending = 0;
}
