/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sysvinit's control FIFO.  sysvinit ignores the signals other inits power
 * off on (Debian's inittab maps SIGPWR to a powerfail script it does not
 * ship); it changes runlevel when a request arrives on /run/initctl, which
 * is what "telinit 0" writes.  The supervisor writes the same request: '0'
 * powers the guest off, '6' reboots it.  The FIFO lives inside the guest, so
 * it is resolved in the guest's root and must be a FIFO that someone reads:
 * a guest can make the request fail, never make us block or write elsewhere. */

#include <sys/types.h>

#define INITCTL_PATH "/run/initctl"

/* The request, as sysvinit's initreq.h lays it out: 384 bytes in all. */
#define INITCTL_MAGIC 0x03091969
#define INITCTL_CMD_RUNLEVEL 1
#define INITCTL_REQUEST_SIZE 384

typedef struct InitctlRequest {
        int magic;
        int cmd;
        int runlevel;  /* the runlevel's character: '0', '6' */
        int sleeptime; /* seconds between SIGTERM and SIGKILL for inittab processes */
        char data[INITCTL_REQUEST_SIZE - 4 * sizeof(int)];
} InitctlRequest;

/* Write a request for RUNLEVEL to the FIFO INITCTL_PATH inside the tree
 * ROOTFD is the root of.  Never blocks.  Returns 0 when the request was
 * written; -ENOENT if there is no such FIFO (missing, or something else than
 * a FIFO there), -ENXIO if nobody reads it, -EAGAIN if it is full. */
int initctl_request_at(int rootfd, char runlevel);

/* The same for the machine whose PID 1 is INIT_PID (host view; our child,
 * so the PID cannot be reused while we ask), through its root directory. */
int initctl_request(pid_t init_pid, char runlevel);
