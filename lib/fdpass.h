/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Passing fds between berth's own processes over a unix socket
 * (SCM_RIGHTS), one message of 1 byte carrying up to FDPASS_MAX fds. */

#include <stddef.h>

#define FDPASS_MAX 2

/* Send N (1..FDPASS_MAX) fds.  0 or -errno. */
int send_fds(int sock, const int *fds, size_t n);

/* Receive exactly N fds (CLOEXEC) into FDS.  -EPIPE if the peer closed
 * without sending, -EBADMSG if the message carried anything else. */
int recv_fds(int sock, int *fds, size_t n);
