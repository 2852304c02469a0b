/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* berth's exit codes, in one place (berth(1), EXIT STATUS).  They follow
 * systemctl and the LSB init-script conventions where those have a word for
 * it (3: "program is not running", 4 for "no such machine" as systemctl's
 * "no such unit"), and podman/env(1) for the verbs that run a command
 * (exec, shell, run), whose own status is berth's: 125 when berth failed,
 * 126 when the command cannot be executed, 127 when it was not found.
 *
 * Verbs do not return these: they return 0, -errno (a failure, already
 * logged), one of the typed errors below, or for the verbs that run a
 * command, the command's status (0-255).  exit_code_of() alone turns that
 * into the exit code. */

#include <stdbool.h>

enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,          /* the operation failed */
        EXIT_USAGE = 2,         /* bad arguments, name or configuration: nothing was changed */
        EXIT_NOT_RUNNING = 3,   /* the machine exists but is not running */
        EXIT_NO_MACHINE = 4,    /* no machine (or source) by that name */
        EXIT_EXEC_FAIL = 125,   /* exec, shell, run: berth itself failed */
        EXIT_CANNOT_EXEC = 126, /* ... the command exists but cannot be executed */
        EXIT_NOT_FOUND = 127,   /* ... the command was not found */
};

/* Typed errors a verb returns, below every -errno value so that none can be
 * mistaken for one.  ERR_FAILED is a failure without an errno to tell (the
 * message was logged). */
enum {
        ERR_FAILED = -10001,
        ERR_USAGE = -10002,
        ERR_NOT_RUNNING = -10003,
        ERR_NO_MACHINE = -10004,
        ERR_HELP_SHOWN = -10005, /* --help was asked and printed: success */
};

/* The exit code for verb result R.  RUNS_COMMAND: the verb's status is its
 * command's (0-255 passed on), and its generic failures are 125. */
int exit_code_of(int r, bool runs_command);
