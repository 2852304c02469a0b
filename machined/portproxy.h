/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Port forwards on the host's IPv6 loopback.  nftables forwards a port on
 * every host address, 127.0.0.1 included (route_localnet), but Linux never
 * routes a packet from ::1 off the host, so no NAT can take [::1]:PORT to a
 * machine.  The supervisor relays those TCP connections itself: it listens
 * on [::1]:HOSTPORT and splices each accepted connection to the machine's
 * IPv6 address and port.  (UDP on ::1 is not relayed.) */

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

#define PORTPROXY_LISTENERS_MAX 64
#define PORTPROXY_CONNECTIONS_MAX 64
#define PORTPROXY_POLLFDS_MAX (PORTPROXY_LISTENERS_MAX + 2 * PORTPROXY_CONNECTIONS_MAX)

typedef struct ProxyConnection ProxyConnection;

typedef struct PortProxy {
        int listen_fd[PORTPROXY_LISTENERS_MAX];
        IPAddr target[PORTPROXY_LISTENERS_MAX]; /* the machine's address … */
        unsigned short target_port[PORTPROXY_LISTENERS_MAX]; /* … and port */
        size_t n_listeners;
        ProxyConnection *conns[PORTPROXY_CONNECTIONS_MAX];
} PortProxy;

#define PORTPROXY_INIT ((PortProxy) {})

/* Listen on [::1] for every TCP forward in PORTS to TARGET (the machine's
 * IPv6 address).  A port taken on ::1 already (portproxy_check_host_ports()
 * refused that before; only a socket bound since gets here) is skipped
 * with a warning: the forward still works on every other address. */
void portproxy_open(PortProxy *p, const PortForward *ports, size_t n_ports, const IPAddr *target);
void portproxy_close(PortProxy *p);

/* Refuse (-EADDRINUSE, logged with the listener's address and, when it
 * can be found, its process) a forward whose host port a socket of the
 * calling thread's network namespace serves already: a TCP listener or a
 * bound UDP socket on any address, ::1 included.  The forward's NAT would
 * silently take that service's connections over. */
int portproxy_check_host_ports(const PortForward *ports, size_t n_ports);

/* Add the fds to poll (at most PORTPROXY_POLLFDS_MAX) and return how many. */
size_t portproxy_fill_pollfds(PortProxy *p, struct pollfd *fds);
/* Handle the events of the entries portproxy_fill_pollfds() added. */
void portproxy_dispatch(PortProxy *p, const struct pollfd *fds, size_t n);
