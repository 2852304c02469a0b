/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The rtnetlink requests berth's networking needs, over libmnl: create
 * bridges, veth pairs and macvlan/ipvlan links, move them between network
 * namespaces, set masters, addresses and routes.  A Netlink talks to the
 * network namespace it was opened in.  Every call returns 0 or -errno (the
 * kernel's answer), and logs nothing: the caller knows what it was doing. */

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"

struct mnl_socket;

typedef struct Netlink {
        struct mnl_socket *sock;
        uint32_t seq;
        uint32_t portid;
} Netlink;

#define NETLINK_INIT ((Netlink) {})

/* Open in the calling thread's current network namespace. */
int netlink_open(Netlink *n);
/* Open in the network namespace NETNS_FD (an fd of /proc/PID/ns/net): the
 * socket stays bound to it, whatever namespace we are in later. */
int netlink_open_in(Netlink *n, int netns_fd);
void netlink_close(Netlink *n);

/* A bridge NAME with the fixed MAC address MAC. */
int netlink_bridge_create(Netlink *n, const char *name, const uint8_t mac[6]);
/* A veth pair HOST_NAME <-> PEER_NAME; the peer is created directly in the
 * namespace PEER_NETNS_FD with the MAC address PEER_MAC. */
int netlink_veth_create(Netlink *n, const char *host_name, const char *peer_name, const uint8_t peer_mac[6],
                        int peer_netns_fd);
/* A macvlan (bridge mode) or ipvlan (L2 mode) link NAME on PARENT, created
 * directly in NETNS_FD. */
int netlink_vlan_create(Netlink *n, const char *kind, const char *name, int parent_ifindex, int netns_fd);
int netlink_link_delete(Netlink *n, int ifindex);
/* Bring IFINDEX up, with MASTER (> 0) as its bridge. */
int netlink_link_up(Netlink *n, int ifindex, int master);
/* Add A/PREFIXLEN to IFINDEX; NODAD skips IPv6 duplicate detection (berth
 * hands the addresses out, so they are unique, and usable at once). */
int netlink_addr_add(Netlink *n, int ifindex, const IPAddr *a, unsigned prefixlen, bool nodad);
/* A route to DST through IFINDEX, via GATEWAY or (NULL) on the link. */
int netlink_route_add(Netlink *n, int ifindex, const IPNet *dst, const IPAddr *gateway);
int netlink_route_add_default(Netlink *n, int ifindex, const IPAddr *gateway);
/* The ifindex of NAME in the socket's namespace, or -ENODEV. */
int netlink_link_index(Netlink *n, const char *name);

/* Whether the main routing table has a route (not the default one) to a
 * network that overlaps NET, other than to one of the N_EXCEPT networks
 * EXCEPT: 1 with the first in *RET_ROUTE and its interface in
 * *RET_IFINDEX, 0 if not. */
int netlink_route_overlap(Netlink *n, const IPNet *net, const IPNet *except, size_t n_except, IPNet *ret_route,
                          int *ret_ifindex);
