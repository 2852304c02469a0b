/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>

#include "fs.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* ----- One network over several bridges ----- *
 *
 * A Linux bridge takes 1023 ports, and one bridge's dnsmasq, neighbour
 * table and flooding grow with its machines.  So a network (Subnet=,
 * IPv6Subnet=: its pool) is cut into equal slices, each big enough for
 * MachinesPerBridge= machines, a gateway, network and broadcast address;
 * slice I is bridge I (Bridge= itself, then its name counted up: berth0,
 * berth1, ...), made when the ones before it are full.  IPv6 is not cut
 * below IPv6Subnet='s prefix (a /64 stays one, as SLAAC and RAs want):
 * bridge I has the I-th network of that size from IPv6Subnet= on
 * (fd62:6572:7468::/64, fd62:6572:7468:1::/64, ...).  Every bridge is
 * one subnet with its own gateway on the host, so the host reaches all
 * machines through its connected routes, and machines on different bridges
 * reach each other through the host (routed, not masqueraded: net-rules.c
 * lets a pool's bridges forward to each other).  No per-machine route,
 * proxy ARP or rule: what one bridge costs stays what it costs. */

unsigned spill_extra_bits(const IPNet *pool, const IPNet *pool6, unsigned per_bridge) {
        /* Host bits for PER_BRIDGE machines, the gateway, network and broadcast. */
        unsigned bits = 2;
        while ((UINT64_C(1) << bits) < (uint64_t) per_bridge + 3)
                bits++;
        unsigned width = pool->addr.family == AF_INET ? 32 : 128;
        if (pool->prefixlen + bits >= width)
                return 0;
        unsigned extra = width - bits - pool->prefixlen;
        /* 2^16 bridges are far past any host's means; keeps the loops short. */
        if (extra > 16)
                extra = 16;
        return extra > pool6->prefixlen ? pool6->prefixlen : extra;
}

/* Name of bridge I of a network whose first bridge is BASE: BASE itself,
 * then its trailing number counted up ("berth0": berth1, berth2, ...; "lan":
 * lan1, lan2, ...).  -ENAMETOOLONG past 15 bytes. */
int spill_bridge_name(const char *base, uint32_t i, char ret[static IFNAMSIZ]) {
        if (i == 0) {
                if (strlen(base) >= IFNAMSIZ)
                        return -ENAMETOOLONG;
                memcpy(ret, base, strlen(base) + 1);
                return 0;
        }
        size_t stem = strlen(base);
        while (stem > 0 && base[stem - 1] >= '0' && base[stem - 1] <= '9')
                stem--;
        uint64_t first = 0;
        if (base[stem] && (strlen(base + stem) > 9 || safe_atou64(base + stem, &first) < 0))
                return -ENAMETOOLONG;
        int n = snprintf(ret, IFNAMSIZ, "%.*s%" PRIu64, (int) stem, base, first + i);
        return n < 0 || n >= IFNAMSIZ ? -ENAMETOOLONG : 0;
}

/* The slice this machine had (its reserved address), so a restart keeps
 * its address when that bridge has room; else -1. */
static int64_t reserved_slice(Store *store, const char *name, const IPNet *pool, unsigned extra) {
        _cleanup_close_ int mfd = open_dir_nofollow(store->machines_fd, name);
        _cleanup_free_ char *text = NULL;
        IPAddr a;
        if (mfd < 0 || read_file_at(mfd, "address", 256, &text, NULL) < 0)
                return -1;
        text[strcspn(text, "\n")] = 0;
        if (ipaddr_parse(text, &a) < 0)
                return -1;
        return ipnet_split_index(pool, extra, &a);
}

/* Can bridge NAME with slices SN/SN6 take this machine?  1 yes, 0 no. */
static int bridge_has_room(int nsfd, Netlink *nl, const Network *net, const char *name, const IPNet *sn,
                           const IPNet *sn6, unsigned per_bridge, bool *ret_dropped) {
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, name);
        bool ours = brfd >= 0 && faccessat(brfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        /* Somebody else's interface of that name: not a bridge of ours to fill. */
        if (!ours && netlink_link_index(nl, name) > 0)
                return 0;
        if (brfd < 0)
                return 1;
        IPNet have, have6;
        if (bridge_subnets_read(brfd, &have, &have6) >= 0 &&
            (have.prefixlen != sn->prefixlen || !ipaddr_equal(&have.addr, &sn->addr) ||
             have6.prefixlen != sn6->prefixlen || !ipaddr_equal(&have6.addr, &sn6->addr)))
                return 0; /* another network's bridge (or this one cut otherwise) */
        /* The names only, dead machines' entries counted too: only a
         * bridge that looks full has its entries read (and dead ones
         * dropped). */
        if (entries_count(brfd, net->id, per_bridge) < per_bridge)
                return 1;
        _cleanup_free_ Entry *live = NULL;
        size_t n = 0, others = 0;
        if (entries_load(brfd, &live, &n, ret_dropped) < 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                others += !streq(live[i].id, net->id);
        return others < per_bridge;
}

int bridge_pick(int nsfd, Network *net, Store *store, const char *name, unsigned per_bridge, bool *ret_dropped) {
        unsigned extra = spill_extra_bits(&net->pool, &net->pool6, per_bridge);
        _cleanup_(netlink_close) Netlink nl = NETLINK_INIT;
        int r = netlink_open(&nl);
        if (r < 0)
                return log_error_errno(r, "Cannot open a netlink socket: %m");

        /* A bridge that is not berth's (Bridge= names a LAN bridge): attach
         * to it with the whole pool, as before; nothing of it is ours to cut. */
        _cleanup_close_ int basefd = open_dir_nofollow(nsfd, net->bridge);
        if (netlink_link_index(&nl, net->bridge) > 0 &&
            (basefd < 0 || faccessat(basefd, "created", F_OK, AT_SYMLINK_NOFOLLOW) < 0)) {
                net->external = true; /* bridge_ensure() records it */
                return 0;
        }

        uint64_t n_slices = UINT64_C(1) << extra;
        int64_t mine = reserved_slice(store, name, &net->pool, extra);
        /* Its old bridge first, then the lowest with room: machines fill
         * berth0 before berth1 is made. */
        for (uint64_t t = 0; t <= n_slices; t++) {
                uint64_t i;
                if (t == 0) {
                        if (mine < 0)
                                continue;
                        i = (uint64_t) mine;
                } else {
                        i = t - 1;
                        if ((int64_t) i == mine)
                                continue;
                }
                char br[IFNAMSIZ];
                if (spill_bridge_name(net->bridge, (uint32_t) i, br) < 0)
                        break; /* no more names: as full as it gets */
                IPNet sn = ipnet_split(&net->pool, extra, (uint32_t) i), sn6 = ipnet_next(&net->pool6, (uint32_t) i);
                bool dropped = false;
                r = bridge_has_room(nsfd, &nl, net, br, &sn, &sn6, per_bridge, &dropped);
                *ret_dropped = *ret_dropped || dropped;
                if (r <= 0)
                        continue;
                free(net->bridge);
                net->bridge = xstrdup(br);
                net->subnet = sn;
                net->subnet6 = sn6;
                net->gateway = ipnet_host(&sn, 1);
                net->gateway6 = ipnet_host(&sn6, 1);
                /* What all the network's IPv6 slices lie in (net-rules.c). */
                IPNet last6 = ipnet_next(&net->pool6, (uint32_t) (n_slices - 1));
                net->pool6 = ipnet_cover(&net->pool6, &last6);
                return 0;
        }
        char p[IPNET_STRLEN];
        return log_error_errno(SYNTHETIC_ERRNO(EXFULL),
                               "All %" PRIu64 " bridges of Subnet=%s (from %s on) have MachinesPerBridge=%u "
                               "machines: raise MachinesPerBridge= (at most 1023) or give Subnet= a shorter "
                               "prefix in [Network] of /etc/berth/berth.conf.",
                               n_slices, ipnet_format(&net->pool, p), net->bridge, per_bridge);
}
