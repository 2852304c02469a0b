/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The guest's sd_notify socket.  The supervisor binds a datagram socket in
 * RUN/NAME/notify/ and the machine sees that directory, read-only, at
 * /run/host/ (as with systemd-nspawn), with NOTIFY_SOCKET=/run/host/notify
 * in its init's environment.  A guest systemd sends READY=1 when it has
 * booted; that is what "berth start --wait" and, in unit mode, the unit's
 * own readiness wait for. */

#include <stdbool.h>
#include <sys/types.h>

#define NOTIFY_GUEST_DIR "/run/host"
#define NOTIFY_GUEST_SOCKET "/run/host/notify"

typedef struct Notify {
        int fd;
        char *dir;   /* host path of the directory bound to /run/host */
} Notify;

#define NOTIFY_INIT { .fd = -1 }

int notify_open(Notify *n, int run_dir_fd, const char *run_dir_path);
void notify_close(Notify *n);

/* Read pending messages; true if one from the machine's init (host PID
 * INIT_PID) said READY=1.  Any other process in the guest is ignored: it
 * must not declare the machine booted. */
bool notify_read_ready(Notify *n, pid_t init_pid);
