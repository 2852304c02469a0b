/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <nftables/libnftables.h>

#include "log.h"
#include "net-filter.h"
#include "net-internal.h"
#include "util.h"

/* ----- nftables: the whole "inet berth" table from the live entries ----- */

/* The port forwards of every bridge as two maps, "PROTO . HOST_PORT" to the
 * machine's "ADDRESS . PORT": one lookup per packet, however many machines
 * and forwards there are (a rule per forward was a linear walk). */
static void nft_forward_maps(char **s, const BridgeView *bridges, size_t n) {
        _cleanup_free_ char *e4 = xstrdup(""), *e6 = xstrdup("");
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < bridges[i].n; j++) {
                        const Entry *e = bridges[i].entries + j;
                        for (size_t k = 0; k < e->n_ports; k++) {
                                const PortForward *p = e->ports + k;
                                const char *proto = port_protocol_to_string(p->protocol);
                                char a[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
                                strextendf(&e4, "%s%s . %u : %s . %u", *e4 ? ", " : "", proto, p->host_port,
                                           ipaddr_format(&e->addr, a), p->guest_port);
                                strextendf(&e6, "%s%s . %u : %s . %u", *e6 ? ", " : "", proto, p->host_port,
                                           ipaddr_format(&e->addr6, a6), p->guest_port);
                        }
                }
        strextendf(s, "  map forward4 {\n    type inet_proto . inet_service : ipv4_addr . inet_service\n");
        if (*e4)
                strextendf(s, "    elements = { %s }\n", e4);
        strextendf(s, "  }\n  map forward6 {\n    type inet_proto . inet_service : ipv6_addr . inet_service\n");
        if (*e6)
                strextendf(s, "    elements = { %s }\n", e6);
        strextendf(s, "  }\n");
}

/* Port forwards: from anywhere to any local address (other hosts, machines
 * on the bridge), and from the host itself (output).  Not to ::1: Linux
 * never routes it off the host; portproxy.h relays it. */
static const char nft_forward_rules[] =
        "    fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @forward4\n"
        "    ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @forward6\n";

static bool same_pool(const BridgeView *a, const BridgeView *b) {
        return a->pool.prefixlen == b->pool.prefixlen && ipaddr_equal(&a->pool.addr, &b->pool.addr) &&
               a->pool6.prefixlen == b->pool6.prefixlen && ipaddr_equal(&a->pool6.addr, &b->pool6.addr);
}

/* One rule per network spread over several bridges: its bridges forward to
 * each other, from the network's own addresses only. */
static void nft_sibling_rules(char **s, const BridgeView *bridges, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool first = true, more = false;
                for (size_t j = 0; j < n; j++)
                        if (j != i && same_pool(bridges + i, bridges + j)) {
                                first = first && j > i;
                                more = true;
                        }
                if (!first || !more)
                        continue; /* written with its first bridge, or alone */
                _cleanup_free_ char *set = xstrdup("");
                for (size_t j = i; j < n; j++)
                        if (same_pool(bridges + i, bridges + j))
                                strextendf(&set, "%s\"%s\"", *set ? ", " : "", bridges[j].name);
                char pn[IPNET_STRLEN], pn6[IPNET_STRLEN];
                ipnet_format(&bridges[i].pool, pn);
                ipnet_format(&bridges[i].pool6, pn6);
                strextendf(s,
                           "    iifname { %s } oifname { %s } ip saddr %s ip daddr %s accept\n"
                           "    iifname { %s } oifname { %s } ip6 saddr %s ip6 daddr %s accept\n",
                           set, set, pn, pn, set, set, pn6, pn6);
        }
}

static char *nft_ruleset(const BridgeView *bridges, size_t n, bool own4, bool own6) {
        char *s = xstrdup("table inet berth {\n");
        nft_forward_maps(&s, bridges, n);
        /* route_localnet (see bridge_ensure()) would also let a guest send to
         * the host's 127.0.0.1 services: nothing from a bridge may be
         * addressed there.  Before conntrack, so no NAT can dress it up. */
        strextendf(&s, "  chain raw-prerouting {\n    type filter hook prerouting priority raw; policy accept;\n");
        for (size_t i = 0; i < n; i++)
                strextendf(&s, "    iifname \"%s\" ip daddr 127.0.0.0/8 drop\n", bridges[i].name);
        strextendf(&s, "  }\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n%s",
                   nft_forward_rules);
        strextendf(&s, "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n%s",
                   nft_forward_rules);
        strextendf(&s, "  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const BridgeView *b = bridges + i;
                char sn[IPNET_STRLEN], sn6[IPNET_STRLEN], pn[IPNET_STRLEN], pn6[IPNET_STRLEN];
                ipnet_format(&b->subnet, sn);
                ipnet_format(&b->subnet6, sn6);
                ipnet_format(&b->pool, pn);
                ipnet_format(&b->pool6, pn6);
                strextendf(&s,
                           /* Egress: the machines' addresses leave as the host's;
                            * not towards the network's other bridges (routed). */
                           "    ip saddr %s ip daddr != %s masquerade\n"
                           "    ip6 saddr %s ip6 daddr != %s masquerade\n"
                           /* A forward used from the host's 127.0.0.1 (route_localnet
                            * lets it out) or from a machine on the same bridge
                            * (hairpin): answers must come back through us. */
                           "    oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
                           "    oifname \"%s\" ip saddr %s ct status dnat masquerade\n"
                           "    oifname \"%s\" ip6 saddr %s ct status dnat masquerade\n",
                           sn, pn, sn6, pn6, b->name, b->name, sn, b->name, sn6);
        }
        /* The bridge's dnsmasq serves its machines, not the neighbourhood. */
        strextendf(&s, "  }\n  chain input {\n    type filter hook input priority filter; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                char gw[INET6_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN];
                IPAddr g = ipnet_host(&bridges[i].subnet, 1), g6 = ipnet_host(&bridges[i].subnet6, 1);
                strextendf(&s,
                           "    iifname != \"%s\" ip daddr %s meta l4proto { tcp, udp } th dport 53 drop\n"
                           "    iifname != \"%s\" ip6 daddr %s meta l4proto { tcp, udp } th dport 53 drop\n",
                           bridges[i].name, ipaddr_format(&g, gw), bridges[i].name, ipaddr_format(&g6, gw6));
        }
        strextendf(&s, "  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        /* First what goes to machines: within a bridge (seen here with
         * br_netfilter), between the bridges of one network (net-spill.c),
         * answers, and port forwards; nothing else, not even from another
         * berth network's bridge. */
        nft_sibling_rules(&s, bridges, n);
        for (size_t i = 0; i < n; i++) {
                const char *br = bridges[i].name;
                strextendf(&s,
                           "    iifname \"%s\" oifname \"%s\" accept\n"
                           "    oifname \"%s\" ct state established,related accept\n"
                           "    oifname \"%s\" ct status dnat accept\n"
                           "    oifname \"%s\" drop\n",
                           br, br, br, br, br);
        }
        /* Then what machines send: only from their own subnets (no spoofed
         * sources onto the host's networks). */
        for (size_t i = 0; i < n; i++) {
                const BridgeView *b = bridges + i;
                char sn[IPNET_STRLEN], sn6[IPNET_STRLEN];
                strextendf(&s,
                           "    iifname \"%s\" ip saddr %s accept\n"
                           "    iifname \"%s\" ip6 saddr %s accept\n"
                           "    iifname \"%s\" drop\n",
                           b->name, ipnet_format(&b->subnet, sn), b->name, ipnet_format(&b->subnet6, sn6), b->name);
        }
        if (own4)
                strextendf(&s, "    meta nfproto ipv4 drop\n");
        if (own6)
                strextendf(&s, "    meta nfproto ipv6 drop\n");
        strextendf(&s, "  }\n}\n");
        return s;
}

static int nft_run(const char *cmd) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Cannot create an nftables context.");
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        int r = nft_run_cmd_from_buffer(ctx, cmd);
        if (r != 0) {
                const char *err = nft_ctx_get_error_buffer(ctx);
                log_error("nftables refused berth's rules: %s", err && *err ? err : "(no message)");
                log_debug("The rules were:\n%s", cmd);
        }
        nft_ctx_free(ctx);
        return r != 0 ? -EIO : 0;
}

/* The filtered ports of all bridges (AddressFilter=yes). */
static FilterPort *nft_filter_ports(const BridgeView *bridges, size_t n, size_t *ret_n) {
        FilterPort *ports = NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < bridges[i].n; j++) {
                        const Entry *e = bridges[i].entries + j;
                        /* Our own names; the check keeps the rules' syntax whole. */
                        if (!e->filter || !ifname_is_valid(e->veth))
                                continue;
                        ports = realloc(ports, (k + 1) * sizeof *ports);
                        if (!ports)
                                abort();
                        ports[k] = (FilterPort) { .addr = e->addr, .addr6 = e->addr6, .subnet6 = bridges[i].subnet6 };
                        memcpy(ports[k].ifname, e->veth, sizeof ports[k].ifname);
                        memcpy(ports[k].mac, e->mac, sizeof ports[k].mac);
                        k++;
                }
        *ret_n = k;
        return ports;
}

int nft_apply(const BridgeView *bridges, size_t n, bool own4, bool own6) {
        if (n == 0) {
                /* Nothing to do (and no nftables needed) unless our tables are there. */
                struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
                if (!ctx)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Cannot create an nftables context.");
                nft_ctx_buffer_output(ctx);
                nft_ctx_buffer_error(ctx);
                _cleanup_free_ char *cmd = xstrdup("");
                if (nft_run_cmd_from_buffer(ctx, "list table inet berth") == 0)
                        strextendf(&cmd, "delete table inet berth\n");
                if (nft_run_cmd_from_buffer(ctx, "list table bridge berth") == 0)
                        strextendf(&cmd, "delete table bridge berth\n");
                nft_ctx_free(ctx);
                return *cmd ? nft_run(cmd) : 0;
        }
        /* "add table" first makes the delete valid when there is none: one
         * transaction, so packets never see a half-made table. */
        size_t n_ports = 0;
        _cleanup_free_ FilterPort *ports = nft_filter_ports(bridges, n, &n_ports);
        _cleanup_free_ char *rules = nft_ruleset(bridges, n, own4, own6),
                            *filter = net_filter_ruleset(ports, n_ports);
        _cleanup_free_ char *cmd = xasprintf("add table inet berth\ndelete table inet berth\n%s%s", rules, filter);
        return nft_run(cmd);
}
