/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of a machine's bridge network share (see network.h for
 * the state files and the whole design).  Only machined/net-*.c, bridge.c,
 * dnsmasq.c and network.c include this:
 *   net-entries.c  the namespace's state dir and its per-machine entries
 *   net-claims.c   who holds a veth name, a host port, an address
 *   net-addr.c     MAC addresses and the machine's host index in a subnet
 *   net-sysctl.c   sysctls: forwarding, saved and restored
 *   net-rules.c    the nftables table "inet berth" (NAT, port forwards)
 *   dnsmasq.c      a bridge's DHCP/DNS server
 *   bridge.c       creating, checking and removing a bridge
 *   net-spill.c    which bridge (and slice of the network) a machine joins
 *   network.c      the supervisor's calls: a start or stop changes only
 *                  its own machine's part; network_sync() recomputes all
 *                  of the above from the entries (gc, a bridge more or
 *                  less, state found inconsistent) */

#include <dirent.h>
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
#define ENTRY_ID_MAX 128
typedef struct Entry {
        char id[ENTRY_ID_MAX];
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
/* The live entries of a bridge dir; stale ones (supervisor gone) are
 * removed, and *RET_DROPPED (if not NULL) says whether there were any. */
int entries_load(int brfd, Entry **ret, size_t *ret_n, bool *ret_dropped);
/* Entry ID of bridge dir BRFD, live or not. */
int entry_read(int brfd, const char *id, Entry *ret);
/* Is the supervisor of entry ID alive (it holds the entry's lock)? */
bool entry_alive(int brfd, const char *id);
/* How many entries bridge dir BRFD has, live or not, other than SKIP_ID's
 * (NULL: all), counted up to MAX: names only, no file read. */
size_t entries_count(int brfd, const char *skip_id, size_t max);
int netns_cookie(uint64_t *ret);
int ns_dir_lock(char **ret_path, bool create);

/* net-claims.c */
#define CLAIM_KEY_MAX 64
#define CLAIMS_MAX (CONFIG_PORTS_MAX + 2)
/* The claim keys of E: "veth:NAME", "ip:ADDRESS", "PROTO:PORT" for each forward. */
size_t claim_keys(const Entry *e, char ret[static CLAIMS_MAX][CLAIM_KEY_MAX]);
void claim_key_addr(const IPAddr *a, char ret[static CLAIM_KEY_MAX]);
/* Whether the claims exist (written by this berth or rebuilt by a sync). */
bool claims_present(int nsfd);
/* 1 and the holder's bridge and entry ID, 0 when nobody claims KEY. */
int claim_holder(int nsfd, const char *key, char ret_bridge[static IFNAMSIZ], char ret_id[static ENTRY_ID_MAX]);
int claims_take(int nsfd, const char *bridge, const Entry *e);
/* Drop the claims of E that are still E's. */
void claims_drop(int nsfd, const char *bridge, const Entry *e);
void claim_drop_key(int nsfd, const char *key);
/* network_sync()'s rewrite of the claims from each bridge's live entries:
 * begin, add each bridge's, then finish (which removes every claim not
 * added); done frees, also after a failure. */
typedef struct ClaimsSync {
        int cfd;
        char **keys; /* the keys added, sorted by finish */
        size_t n, cap;
} ClaimsSync;
int claims_sync_begin(int nsfd, ClaimsSync *ret);
int claims_sync_add(ClaimsSync *s, const char *bridge, const Entry *entries, size_t n);
int claims_sync_finish(ClaimsSync *s);
void claims_sync_done(ClaimsSync *s);
void claims_remove(int nsfd);

/* net-addr.c */
void mac_from_name(const char *s, uint8_t mac[6]);
/* Whether host index K of the machine's subnet is held by a running
 * machine (TAKEN's answer; it may reclaim a dead machine's on the way). */
typedef bool (*AddressTaken)(uint32_t k, void *userdata);
int address_allocate(Network *net, Store *store, const char *name, AddressTaken taken, void *userdata,
                     uint32_t *ret);

/* net-sysctl.c */
int sysctl_write(const char *key, const char *value);
int forwarding_enable(int nsfd);
void forwarding_owned(int nsfd, bool *ret4, bool *ret6);
void forwarding_restore(int nsfd);

/* net-rules.c */
/* Bring the tables in line with BRIDGES: per machine where only machines
 * changed (NSFD's state files say what is in), else whole. */
int nft_apply(int nsfd, const BridgeView *bridges, size_t n, bool own4, bool own6);
/* A start's part only: add E's elements (on bridge B; BRIDGES without
 * their entries) where the tables' shape is what the state says and
 * nftables takes them; -ESTALE: it is not, or refused (sync whole). */
int nft_machine_add(int nsfd, const BridgeView *bridges, size_t n, bool own4, bool own6, const BridgeView *b,
                    const Entry *e);
/* Take entry ID's elements out again, as recorded; -EIO when refused. */
int nft_machine_remove(int nsfd, const char *id);

/* dnsmasq.c */
char *dnsmasq_dir_path(const char *ns_path, const char *bridge);
int dnsmasq_dir_open(const char *path, bool create);
void dnsmasq_stop(int dfd);
int dnsmasq_update(const char *dir, const BridgeView *b);
/* One machine's hosts file: written (and dnsmasq started where none runs), or removed. */
int dnsmasq_host_add(const char *dir, const BridgeView *b, const Entry *e);
void dnsmasq_host_remove(const char *dir, const Entry *e);

/* bridge.c */
/* The bridge dirs of the namespace dir NSFD, one at a time: every entry
 * named like an interface (not "@claims", "@nft", an atomic write's
 * ".NAME.new") that opens as a directory without following a symlink (not
 * "sysctl", "nft-state"):
 *
 *         _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
 *         r = bridge_iter_open(nsfd, &it);      0, or -errno: cannot list NSFD
 *         while (bridge_iter_next(&it))
 *                 use it.name and it.fd, both good until the next call
 */
typedef struct BridgeIter {
        const char *name;
        int fd;
        DIR *d;
        int nsfd;
} BridgeIter;
#define BRIDGE_ITER_INIT ((BridgeIter) { .fd = -EBADF })
int bridge_iter_open(int nsfd, BridgeIter *ret);
bool bridge_iter_next(BridgeIter *it);
void bridge_iter_done(BridgeIter *it);
int bridge_subnets_read(int brfd, IPNet *ret, IPNet *ret6);
int bridge_pool_read(int brfd, IPNet *ret, IPNet *ret6);
void bridge_teardown(Netlink *nl, int nsfd, const char *ns_path, const char *name);
int bridge_ensure(int nsfd, Network *net);

/* net-spill.c */
/* How many more prefix bits a network's slices have: 2^that bridges. */
unsigned spill_extra_bits(const IPNet *pool, const IPNet *pool6, unsigned per_bridge);
int spill_bridge_name(const char *base, uint32_t i, char ret[static IFNAMSIZ]);
/* Under the namespace lock: choose the bridge and its slice of net->pool
 * for this machine (sets net->bridge, subnets, gateways), or -EXFULL.
 * *RET_DROPPED: stale entries were dropped on the way (sync whole). */
int bridge_pick(int nsfd, Network *net, Store *store, const char *name, unsigned per_bridge, bool *ret_dropped);
