/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* User-mode networking for a user's machines: pasta (package passt) joins
 * the machine's user and network namespaces, makes a tap interface there
 * with the host's addresses and routes (--config-net), and relays the
 * machine's traffic through ordinary sockets of the user; Port= forwards are
 * its -t/-u.  Chosen over slirp4netns: no helper process copying each packet
 * through a tap and a userspace TCP/IP stack of its own (pasta splices TCP
 * between sockets), and port forwards are built in rather than bolted on
 * through an API socket.
 *
 * What the machine gets: IPv4 (and IPv6 where the host has it) egress, DNS
 * through pasta's forwarder at PASTA_DNS, and the Port= forwards on the
 * host's addresses.  Not the host's loopback services (--no-map-gw, no -T/-U)
 * and no automatic forwards.  Two machines of one user reach each other only
 * through their forwarded ports on the host's address. */

#include <sys/types.h>

#include "netaddr.h"

#define PASTA_PATH "/usr/bin/pasta"
#define PASTA_DNS "169.254.1.1"

typedef struct Pasta {
        int pidfd; /* the running pasta, or -EBADF */
} Pasta;
#define PASTA_INIT { .pidfd = -EBADF }

/* Run pasta for the namespace NETNS_FD (its user namespace is the one that
 * owns it) with the forwards PORTS, writing its pid to RUN_FD/pasta.pid;
 * returns once pasta has configured the namespace (it has written that
 * file).  pasta stays in the foreground as our child, with
 * PR_SET_PDEATHSIG: it ends with us, SIGKILL included.  A pasta of an
 * earlier boot, or one a killed older supervisor left, is stopped first.
 * *RET_RESOLV_CONF: the resolv.conf that uses it.  Logs its errors. */
int pasta_start(Pasta *p, int run_fd, int netns_fd, const PortForward *ports, size_t n_ports,
                char **ret_resolv_conf);
/* Stop pasta if it runs, and reap it. */
void pasta_stop(Pasta *p);
