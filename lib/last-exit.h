/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Why a machine's last boot ended, kept in its dir (machines/NAME/last-exit)
 * so that status can say it after the runtime dir is gone.  The supervisor
 * writes it when the init ends (or when a start fails before the init ran);
 * berth reads it.  A KEY=VALUE file (kv.h):
 *   REASON=poweroff|reboot|failed|killed|start-failed
 *   STATUS=N       the init's exit status, if it exited
 *   SIGNAL=SIGxxx  the signal that ended it, if one did
 *   USEC=N         CLOCK_REALTIME when it ended
 *   DETAIL=...     one line for people ("exited with status 3") */

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>

#define LAST_EXIT_FILE "last-exit"

typedef enum LastExitReason {
        LAST_EXIT_POWEROFF,     /* the init exited 0, or ended as asked (berth stop, poweroff in the guest) */
        LAST_EXIT_REBOOT,       /* the guest rebooted (the machine booted again) */
        LAST_EXIT_FAILED,       /* the init exited non-zero unasked */
        LAST_EXIT_KILLED,       /* a signal ended the init: SIGKILL (berth kill, stop --force, OOM) or unasked */
        LAST_EXIT_START_FAILED, /* the start failed before or while the init was started */
        _LAST_EXIT_REASON_MAX,
        _LAST_EXIT_REASON_INVALID = -22,
} LastExitReason;

const char *last_exit_reason_to_string(LastExitReason r);
LastExitReason last_exit_reason_from_string(const char *s);

typedef struct LastExit {
        LastExitReason reason;
        int status;       /* -1: it did not exit */
        int signal;       /* 0: no signal */
        uint64_t usec;
        char detail[256];
} LastExit;

/* The reason for an init that ended as SI says, STOP_REQUESTED if a
 * poweroff was asked of it; fills RET (usec now). */
void last_exit_from_siginfo(const siginfo_t *si, bool stop_requested, LastExit *ret);

/* Write E to DIR_FD/last-exit atomically.  0 or -errno. */
int last_exit_write(int dir_fd, const LastExit *e);
/* Read it: 0, -ENOENT (no boot ended yet), -EBADMSG. */
int last_exit_read(int dir_fd, LastExit *ret);
