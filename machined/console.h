/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The machine's /dev/console: a pty whose master the supervisor holds.  The
 * supervisor always drains it (so a guest never blocks on console output)
 * into RUN/NAME/console.log, rotated at CONSOLE_LOG_MAX to console.log.1. */

#include <stddef.h>
#include <sys/types.h>

#define CONSOLE_LOG_MAX (1024 * 1024)

typedef struct Console {
        int master;        /* pty master, O_NONBLOCK */
        int slave_keep;    /* our own slave fd, so the master never sees a hangup between boots */
        char *slave_path;  /* host path of the slave (/dev/pts/N), bound to the guest's /dev/console */
        int dir_fd;        /* RUN/NAME */
        int log_fd;
        size_t log_size;
} Console;

#define CONSOLE_INIT { .master = -1, .slave_keep = -1, .dir_fd = -1, .log_fd = -1 }

int console_open(Console *c, int run_dir_fd);
void console_close(Console *c);

/* Read what is available from the master and log it. Returns 0, or -errno. */
int console_drain(Console *c);
