/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The machine's /dev/console: a pty whose master the supervisor holds.  The
 * supervisor always drains it, so a guest never blocks on console output,
 * whether or not anyone is attached.  Output goes to RUN/NAME/console.log
 * (rotated at CONSOLE_LOG_MAX to console.log.1), to a history ring of the
 * last CONSOLE_HISTORY bytes, and to every attached viewer.
 *
 * Viewers ("berth console") connect to RUN/NAME/console.sock (0600, in a
 * 0700 dir: host root only) and speak the protocol of lib/console-frame.h.
 * A viewer that cannot keep up loses output, never slows the guest. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "console-frame.h"

#define CONSOLE_LOG_MAX (1024 * 1024)
#define CONSOLE_HISTORY (64 * 1024)
#define CONSOLE_VIEWERS_MAX 16

typedef struct ConsoleViewer {
        int fd;
        bool writer;
        bool greeted;    /* mode byte received */
        size_t in_len;
        uint8_t in[CONSOLE_FRAME_HEADER + CONSOLE_FRAME_MAX];
        /* Input for the guest its pty could not take yet (a paste bigger than
         * the tty's buffer): written when the master is writable again; until
         * then nothing more is read from this viewer, so its socket pushes back. */
        size_t pending_len;
        uint8_t pending[CONSOLE_FRAME_MAX];
} ConsoleViewer;

typedef struct Console {
        int master;        /* pty master, O_NONBLOCK */
        int slave_keep;    /* our own slave fd, so the master never sees a hangup between boots */
        char *slave_path;  /* host path of the slave (/dev/pts/N), bound to the guest's /dev/console */
        int dir_fd;        /* RUN/NAME */
        int log_fd;
        size_t log_size;
        int times_fd;      /* console.times: "OFFSET USEC" lines, when each chunk of console.log came */
        int listen_fd;
        ConsoleViewer *viewers[CONSOLE_VIEWERS_MAX]; /* allocated while attached: the supervisor stays small */
        size_t n_viewers;
        bool to_stdout;    /* unit mode: also to stdout, which is the journal */
        char *history;     /* ring of CONSOLE_HISTORY bytes */
        size_t history_start, history_len;
} Console;

#define CONSOLE_INIT { .master = -1, .slave_keep = -1, .dir_fd = -1, .log_fd = -1, .times_fd = -1, .listen_fd = -1 }

int console_open(Console *c, int run_dir_fd);
void console_close(Console *c);

/* Read what is available from the master and pass it on. Returns 0, or -errno. */
int console_drain(Console *c);

/* Add the console's fds (master, listening socket, viewers) to P (room for
 * CONSOLE_POLLFDS_MAX entries) and return how many were added. */
#define CONSOLE_POLLFDS_MAX (2 + CONSOLE_VIEWERS_MAX)
size_t console_fill_pollfds(Console *c, struct pollfd *p);
/* Handle the events of the entries console_fill_pollfds() added. */
void console_dispatch(Console *c, const struct pollfd *p, size_t n);
