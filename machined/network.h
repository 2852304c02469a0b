/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A machine's network, set up and torn down by its supervisor.
 *
 * Mode=bridge: a veth pair per machine, its host side (vb-…) on a bridge
 * (berth0 by default, then berth1... as they fill: net-spill.c) that berth creates on demand with the gateway
 * addresses of the configured subnets.  The machine's side (host0) gets an
 * address, stable across restarts and unique among machines, a default
 * route and DNS (/etc/resolv.conf), configured from outside before its init
 * runs, so no network manager is needed inside; a guest that asks for DHCP
 * gets the same address from a dnsmasq bound to the bridge.  Egress NAT,
 * port forwards and forwarding live in the nftables table "inet berth",
 * the ports' anti-spoofing filter in "bridge berth" (net-filter.h).
 *
 * Shared state of one network namespace is in
 * /run/berth-network/COOKIE/ (COOKIE: the namespace's never-reused cookie;
 * root only: dirs 0700, files 0600):
 *   (the dir itself)  flock'ed: serializes every change below; removed
 *                     when the last machine is gone
 *   sysctl            forwarding settings berth changed, to restore them
 *   BRIDGE/created    berth made this bridge (and removes it when unused)
 *   BRIDGE/subnets    the bridge's subnets, fixed while it has machines
 *   BRIDGE/pool       the network it is a slice of (net-spill.c)
 *   BRIDGE/machines/ID  one file per running machine (address, MAC, port
 *                     forwards, AddressFilter=), locked by its supervisor
 *                     while it lives
 *   @claims/KEY       who holds an address, a host port, a veth name:
 *                     a symlink to "BRIDGE/ID" (net-claims.c)
 *   nft-state, @nft/ID  the shape of the nftables tables, and each
 *                     machine's elements in them (net-rules.c)
 * and, for the bridge's DHCP/DNS server, which reads its hosts files as an
 * unprivileged user, /run/berth-network/dnsmasq/COOKIE-BRIDGE/ (root's,
 * 0750 for dnsmasq's group): pid, hosts.d/ID-HASH (one per machine),
 * leases, log.
 * A start or stop changes only its own machine's part and reads nothing
 * of the others' (what it costs stays flat however many machines run): a
 * start looks up the claims of what it wants, writes its entry, claims,
 * hosts file and map and set elements; a stop takes them out.  A claim
 * whose holder's supervisor is gone (killed, crashed) gives way: that
 * machine's part is taken out then (network.c, claim_check()).
 * network_sync() brings everything in line with the entries (drops
 * machines whose supervisor is gone, rewrites the claims, the nftables
 * tables, dnsmasq, tears down bridges without machines): at gc, when a
 * bridge comes or may go (a first machine, a stop that leaves none or only
 * a few of which one is dead), and whenever a start or stop finds the
 * state not as recorded.
 *
 * Mode=macvlan/ipvlan: a link on the host interface Link=, moved into the
 * machine; addresses come from that network (the guest's own DHCP).
 *
 * Mode=cni: the plugins of a CNI network list do it all (net-cni.h).
 *
 * The code: network.c (these calls, network_sync()) and one file per part
 * (entries, addresses, sysctls, nftables, dnsmasq, bridges), listed in
 * net-internal.h. */

#include <stdbool.h>
#include <errno.h>
#include <stdint.h>

#include "config.h"
#include "net-cni.h"
#include "netaddr.h"
#include "store.h"

typedef struct Network {
        NetworkMode mode;
        char *id;                /* unique among all state roots (store_cgroup_name) */
        char *bridge;
        bool external;           /* the bridge is not berth's: attach only */
        char *guest_ifname;
        char host_ifname[16];
        char *link;              /* macvlan/ipvlan parent */
        IPNet pool, pool6;       /* Subnet=, IPv6Subnet=; once a bridge is picked,
                                  * pool6 covers all the network's IPv6 slices */
        unsigned per_bridge;     /* MachinesPerBridge= */
        IPNet subnet, subnet6;   /* this machine's bridge's slice of it (net-spill.c) */
        IPAddr addr, addr6, gateway, gateway6;
        uint8_t mac[6];
        PortForward *ports;
        size_t n_ports;
        bool address_filter;     /* AddressFilter=: only its own MAC and addresses (net-filter.h) */
        char *ns_dir;            /* /run/berth-network/COOKIE */
        bool registered;         /* our machines/ID entry exists … */
        int entry_lock_fd;       /* … and we hold its lock */
        int host_ifindex;        /* of the last attach, for machined */
        bool unit;               /* the supervisor runs as a systemd unit */
        CniAttachment cni;       /* Mode=cni */
} Network;

#define NETWORK_INIT ((Network) { .entry_lock_fd = -EBADF, .cni = CNI_ATTACHMENT_INIT })

/* Reserve what the machine needs (address, bridge, DHCP, NAT) before its
 * first boot.  Mode=none/host: nothing to do. */
int network_prepare(Network *net, Store *store, const char *name, const MachineConfig *cfg, bool unit);
/* Give the machine whose network namespace is NETNS_FD its interface, fully
 * configured.  Called for every boot (a reboot makes a new namespace).
 * *RET_RESOLV_CONF: the guest's resolv.conf where it is only known now
 * (Mode=cni), else NULL. */
int network_attach(Network *net, int netns_fd, char **ret_resolv_conf);
/* The guest's /etc/resolv.conf text (malloc'ed), or NULL when berth does
 * not configure the machine's DNS. */
char *network_resolv_conf(const Network *net);
/* "10.77.0.2 fd62:6572:7468::2" or NULL (Mode=cni: after an attach). */
char *network_addresses(const Network *net);
/* Undo network_prepare() (and the last attach); never fails. */
void network_release(Network *net);
void network_done(Network *net);

/* Clean up after machines whose supervisor died, in the calling process's
 * network namespace.  Returns 0 or -errno. */
int network_gc(void);
