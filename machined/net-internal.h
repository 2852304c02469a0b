/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of a machine's bridge network share (see network.h for
 * the state files and the whole design).  Only machined/net-*.c, bridge.c,
 * dnsmasq.c and network.c include this:
 *   net-entries.c  the namespace's state dir and its per-machine entries
 *   net-addr.c     MAC addresses and the machine's host index in a subnet
 *   net-sysctl.c   sysctls: forwarding, saved and restored
 *   net-rules.c    the nftables table "inet berth" (NAT, port forwards)
 *   dnsmasq.c      a bridge's DHCP/DNS server
 *   bridge.c       creating, checking and removing a bridge
 *   net-spill.c    which bridge (and slice of the network) a machine joins
 *   network.c      the supervisor's calls and network_sync(), which
 *                  recomputes all of the above from the entries */

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "netaddr.h"
#include "netlink.h"
#include "network.h"
#include "store.h"

#define NETWORK_RUN_DIR "/run/berth-network"
/* A Linux bridge numbers its ports 1..1023 (BR_MAX_PORTS less port 0). */
#define BRIDGE_PORTS_MAX CONFIG_BRIDGE_PORTS_MAX

/* One running machine on a bridge: BRIDGE/machines/ID */
typedef struct Entry {
        char id[128];
        char name[128];
        pid_t pid;                    /* the supervisor (for people reading the file) */
        IPAddr addr, addr6;
        uint8_t mac[6];
        char veth[IFNAMSIZ];          /* the host side of its veth pair */
        PortForward ports[CONFIG_PORTS_MAX];
        size_t n_ports;
        bool filter;                  /* AddressFilter= (net-filter.h) */
} Entry;

/* A bridge with machines, as network_sync() found it. */
typedef struct BridgeView {
        char name[IFNAMSIZ];
        IPNet subnet, subnet6;
        IPNet pool, pool6;            /* the network it is a slice of (net-spill.c); else its subnets */
        Entry *entries;
        size_t n;
} BridgeView;

/* net-entries.c */
char *entry_format(const Entry *e);
int entries_load(int brfd, Entry **ret, size_t *ret_n);
int netns_cookie(uint64_t *ret);
int ns_dir_lock(char **ret_path, bool create);

/* net-addr.c */
void mac_from_name(const char *s, uint8_t mac[6]);
int address_allocate(Network *net, Store *store, const char *name, const Entry *live, size_t n_live,
                     uint32_t *ret);

/* net-sysctl.c */
int sysctl_write(const char *key, const char *value);
int forwarding_enable(int nsfd);
void forwarding_owned(int nsfd, bool *ret4, bool *ret6);
void forwarding_restore(int nsfd);

/* net-rules.c */
/* Bring the tables in line with BRIDGES: per machine where only machines
 * changed (NSFD's state file says what is in), else whole. */
int nft_apply(int nsfd, const BridgeView *bridges, size_t n, bool own4, bool own6);

/* dnsmasq.c */
char *dnsmasq_dir_path(const char *ns_path, const char *bridge);
int dnsmasq_dir_open(const char *path, bool create);
void dnsmasq_stop(int dfd);
int dnsmasq_update(const char *dir, const BridgeView *b);

/* bridge.c */
int bridge_subnets_read(int brfd, IPNet *ret, IPNet *ret6);
int bridge_pool_read(int brfd, IPNet *ret, IPNet *ret6);
void bridge_teardown(Netlink *nl, int nsfd, const char *ns_path, const char *name);
int bridge_ensure(int nsfd, Network *net);

/* net-spill.c */
/* How many more prefix bits a network's slices have: 2^that bridges. */
unsigned spill_extra_bits(const IPNet *pool, const IPNet *pool6, unsigned per_bridge);
int spill_bridge_name(const char *base, uint32_t i, char ret[static IFNAMSIZ]);
/* Under the namespace lock: choose the bridge and its slice of net->pool
 * for this machine (sets net->bridge, subnets, gateways), or -EXFULL. */
int bridge_pick(int nsfd, Network *net, Store *store, const char *name, unsigned per_bridge);
