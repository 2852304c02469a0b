/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fs.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* ----- Bridges ----- */

static int subnet_pair_read(int brfd, const char *file, IPNet *ret, IPNet *ret6) {
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(brfd, file, 256, &text, NULL);
        if (r < 0)
                return r;
        char *sp = strchr(text, ' ');
        const char *reason;
        if (!sp)
                return -EBADMSG;
        *sp = 0;
        sp[1 + strcspn(sp + 1, "\n")] = 0;
        if (ipnet_parse(text, AF_INET, ret, &reason) < 0 || ipnet_parse(sp + 1, AF_INET6, ret6, &reason) < 0)
                return -EBADMSG;
        return 0;
}

int bridge_subnets_read(int brfd, IPNet *ret, IPNet *ret6) {
        return subnet_pair_read(brfd, "subnets", ret, ret6);
}

int bridge_pool_read(int brfd, IPNet *ret, IPNet *ret6) {
        return subnet_pair_read(brfd, "pool", ret, ret6);
}

int bridge_iter_open(int nsfd, BridgeIter *ret) {
        DIR *d = NULL;
        int r = opendir_dup(nsfd, &d);
        if (r < 0)
                return r;
        *ret = (BridgeIter) { .fd = -EBADF, .d = d, .nsfd = nsfd };
        return 0;
}

bool bridge_iter_next(BridgeIter *it) {
        closep(&it->fd);
        it->name = NULL;
        struct dirent *de;
        while (it->d && (de = readdir(it->d))) {
                if (de->d_name[0] == '.' || !ifname_is_valid(de->d_name))
                        continue;
                it->fd = open_dir_nofollow(it->nsfd, de->d_name);
                if (it->fd < 0)
                        continue; /* a file: sysctl, nft-state */
                it->name = de->d_name;
                return true;
        }
        return false;
}

void bridge_iter_done(BridgeIter *it) {
        closep(&it->fd);
        closedirp(&it->d);
        *it = BRIDGE_ITER_INIT;
}

/* Remove what berth made for bridge NAME, and its state. */
void bridge_teardown(Netlink *nl, int nsfd, const char *ns_path, const char *name) {
        _cleanup_free_ char *ddir = dnsmasq_dir_path(ns_path, name);
        _cleanup_close_ int dfd = dnsmasq_dir_open(ddir, false);
        if (dfd >= 0) {
                dnsmasq_stop(dfd);
                (void) rm_rf_at(AT_FDCWD, ddir);
        }
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, name);
        if (brfd >= 0) {
                if (faccessat(brfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                        int ifindex = netlink_link_index(nl, name);
                        if (ifindex > 0) {
                                int r = netlink_link_delete(nl, ifindex);
                                if (r < 0)
                                        log_warning_errno(r, "Cannot remove bridge %s: %m", name);
                        }
                }
        }
        (void) rm_rf_at(nsfd, name);
}

/* The subnets of the bridges in NSFD that are slices of NET's network
 * (net-spill.c): their routes are ours, not the host's. */
static IPNet *sibling_subnets(int nsfd, const Network *net, size_t *ret_n) {
        IPNet *list = NULL;
        size_t n = 0;
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        *ret_n = 0;
        if (bridge_iter_open(nsfd, &it) < 0)
                return NULL;
        while (bridge_iter_next(&it)) {
                IPNet p, p6, sn, sn6;
                if (streq(it.name, net->bridge) || bridge_pool_read(it.fd, &p, &p6) < 0 ||
                    bridge_subnets_read(it.fd, &sn, &sn6) < 0 || p.prefixlen != net->pool.prefixlen ||
                    !ipaddr_equal(&p.addr, &net->pool.addr) || p6.prefixlen != net->pool6.prefixlen ||
                    !ipaddr_equal(&p6.addr, &net->pool6.addr))
                        continue;
                list = realloc(list, (n + 2) * sizeof *list);
                if (!list)
                        abort();
                list[n++] = sn;
                list[n++] = sn6;
        }
        *ret_n = n;
        return list;
}

/* A subnet the host already reaches elsewhere (a LAN, a VPN, another
 * tool's bridge) would take those addresses away from it: refused before
 * the bridge is made, naming the route.  The whole network is checked,
 * not only this bridge's slice of it, so that a clash shows on its first
 * machine, not on its thousandth (when the next bridge is made). */
static int check_host_routes(Netlink *nl, int nsfd, const Network *net) {
        const IPNet *nets[] = { &net->pool, &net->pool6 };
        size_t n_except = 0;
        _cleanup_free_ IPNet *except = sibling_subnets(nsfd, net, &n_except);
        for (size_t i = 0; i < ELEMENTSOF(nets); i++) {
                IPNet route;
                int oif = 0;
                int r = netlink_route_overlap(nl, nets[i], except, n_except, &route, &oif);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the host's routes: %m");
                if (r == 0)
                        continue;
                char a[IPNET_STRLEN], b[IPNET_STRLEN], ifname[IF_NAMESIZE] = "?";
                (void) if_indextoname((unsigned) oif, ifname);
                return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                       "Subnet %s of bridge %s overlaps the host's route to %s on %s: set "
                                       "another %s in [Network] of /etc/berth/berth.conf (for every machine) "
                                       "or of the machine's machine.conf.", ipnet_format(nets[i], a),
                                       net->bridge, ipnet_format(&route, b), ifname,
                                       i ? "IPv6Subnet=" : "Subnet=");
        }
        return 0;
}

/* Create bridge NAME with the gateway addresses, or check an existing one. */
int bridge_ensure(int nsfd, Network *net) {
        _cleanup_(netlink_close) Netlink nl = NETLINK_INIT;
        int r = netlink_open(&nl);
        if (r < 0)
                return log_error_errno(r, "Cannot open a netlink socket: %m");

        if (mkdirat(nsfd, net->bridge, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state of bridge %s: %m", net->bridge);
        _cleanup_close_ int brfd = open_dir_nofollow(nsfd, net->bridge);
        if (brfd < 0)
                return log_error_errno(brfd, "Cannot open the state of bridge %s: %m", net->bridge);
        if (mkdirat(brfd, "machines", 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state of bridge %s: %m", net->bridge);

        int ifindex = netlink_link_index(&nl, net->bridge);
        bool ours = faccessat(brfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (ifindex > 0 && !ours) {
                /* Somebody else's bridge (a LAN bridge, say): plug in, manage nothing. */
                net->external = true;
                r = write_file_atomic_at(brfd, "external", "", 0, 0600);
                return r < 0 ? log_error_errno(r, "Cannot record bridge %s: %m", net->bridge) : 0;
        }
        (void) unlinkat(brfd, "external", 0);

        IPNet sn, sn6;
        char want[2 * IPNET_STRLEN + 2], a[IPNET_STRLEN], b[IPNET_STRLEN];
        snprintf(want, sizeof want, "%s %s\n", ipnet_format(&net->subnet, a), ipnet_format(&net->subnet6, b));
        if (bridge_subnets_read(brfd, &sn, &sn6) >= 0) {
                if (sn.prefixlen != net->subnet.prefixlen || !ipaddr_equal(&sn.addr, &net->subnet.addr) ||
                    sn6.prefixlen != net->subnet6.prefixlen || !ipaddr_equal(&sn6.addr, &net->subnet6.addr)) {
                        char c[IPNET_STRLEN], e[IPNET_STRLEN];
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
                                               "Bridge %s runs machines on %s and %s, not %s and %s: give "
                                               "this machine the same Subnet=/IPv6Subnet= or another Bridge=.",
                                               net->bridge, ipnet_format(&sn, c), ipnet_format(&sn6, e), a, b);
                }
        } else {
                r = write_file_atomic_at(brfd, "subnets", want, strlen(want), 0600);
                if (r < 0)
                        return log_error_errno(r, "Cannot record the subnets of bridge %s: %m", net->bridge);
                /* The whole network this bridge is a slice of (net-spill.c):
                 * its bridges forward to each other (net-rules.c). */
                char pool[2 * IPNET_STRLEN + 2], c[IPNET_STRLEN], e[IPNET_STRLEN];
                snprintf(pool, sizeof pool, "%s %s\n", ipnet_format(&net->pool, c), ipnet_format(&net->pool6, e));
                r = write_file_atomic_at(brfd, "pool", pool, strlen(pool), 0600);
                if (r < 0)
                        return log_error_errno(r, "Cannot record the network of bridge %s: %m", net->bridge);
        }

        if (ifindex <= 0) {
                r = check_host_routes(&nl, nsfd, net);
                if (r < 0)
                        return r;
                /* Marked first: a bridge berth made is never left unmarked. */
                r = write_file_atomic_at(brfd, "created", "", 0, 0600);
                if (r < 0)
                        return log_error_errno(r, "Cannot record bridge %s: %m", net->bridge);
                /* A fixed address: left to the kernel, a bridge takes its
                 * lowest port's, so it would change as machines come and go
                 * and the running ones would keep a stale gateway neighbour
                 * entry for seconds.  Not the machines' hash input (an ID
                 * may equal a bridge name). */
                uint8_t mac[6];
                _cleanup_free_ char *seed = xasprintf("berth-bridge/%s", net->bridge);
                mac_from_name(seed, mac);
                r = netlink_bridge_create(&nl, net->bridge, mac);
                if (r < 0 && r != -EEXIST)
                        return log_error_errno(r, "Cannot create bridge %s: %m", net->bridge);
                /* The host is the router here: an advertisement from a guest
                 * must never give it routes or addresses. */
                _cleanup_free_ char *ra = xasprintf("net/ipv6/conf/%s/accept_ra", net->bridge);
                r = sysctl_write(ra, "0");
                if (r < 0)
                        return log_error_errno(r, "Cannot set %s: %m", ra);
                ifindex = netlink_link_index(&nl, net->bridge);
                if (ifindex < 0)
                        return log_error_errno(ifindex, "Cannot find bridge %s: %m", net->bridge);
        }
        r = netlink_addr_add(&nl, ifindex, &net->gateway, net->subnet.prefixlen, false);
        if (r >= 0)
                r = netlink_addr_add(&nl, ifindex, &net->gateway6, net->subnet6.prefixlen, true);
        if (r < 0)
                return log_error_errno(r, "Cannot give bridge %s its gateway addresses: %m", net->bridge);
        r = netlink_link_up(&nl, ifindex, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot bring up bridge %s: %m", net->bridge);
        /* Lets a port forward used from 127.0.0.1 leave through the bridge
         * (then masqueraded): nspawn's forwards never worked from loopback. */
        _cleanup_free_ char *key = xasprintf("net/ipv4/conf/%s/route_localnet", net->bridge);
        r = sysctl_write(key, "1");
        if (r < 0)
                log_warning_errno(r, "Cannot set %s, port forwards will not answer on 127.0.0.1: %m", key);
        return 0;
}
