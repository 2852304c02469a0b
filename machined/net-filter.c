/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>

#include "net-filter.h"
#include "util.h"

/* The IPv6 addresses a port may send from: berth's, and the two the
 * guest's kernel makes from the MAC by default (addr_gen_mode 0 in the
 * machine's fresh namespace): its link-local address, which NDP, MLD and
 * router solicitations need, and its SLAAC address where dnsmasq
 * advertises the prefix (a /64).  Any fe80::/64 address would let a guest
 * answer for another's link-local address; a guest that makes other
 * addresses (stable-privacy or temporary ones) needs AddressFilter=no. */
static size_t port_addrs6(const FilterPort *p, IPAddr ret[static 3]) {
        IPAddr ll = { .family = AF_INET6, .bytes = { 0xfe, 0x80 } };
        size_t n = 0;
        ret[n++] = p->addr6;
        ret[n++] = ipaddr_eui64(&ll, p->mac);
        if (p->subnet6.prefixlen == 64)
                ret[n++] = ipaddr_eui64(&p->subnet6.addr, p->mac);
        return n;
}

static void mac_format(const uint8_t mac[static 6], char buf[static 18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void net_filter_elements(char **s, const char *verb, const FilterPort *p) {
        char mac[18], a[INET6_ADDRSTRLEN];
        mac_format(p->mac, mac);
        /* Names come from berth (network.c checks them with ifname_is_valid()). */
        strextendf(s, "%s element bridge berth ports { \"%s\" }\n", verb, p->ifname);
        strextendf(s, "%s element bridge berth port_mac { \"%s\" . %s }\n", verb, p->ifname, mac);
        strextendf(s, "%s element bridge berth port_ip4 { \"%s\" . %s }\n", verb, p->ifname,
                   ipaddr_format(&p->addr, a));
        IPAddr six[3];
        size_t k = port_addrs6(p, six);
        _cleanup_free_ char *ip6 = xstrdup(""), *nd = xstrdup("");
        for (size_t j = 0; j < k; j++) {
                strextendf(&ip6, "%s\"%s\" . %s", j ? ", " : "", p->ifname, ipaddr_format(six + j, a));
                /* nft 1.0.6 has no "icmpv6 taddr": the NDP target is a raw
                 * 128-bit field, matched as a number. */
                strextendf(&nd, "%s\"%s\" . 0x", j ? ", " : "", p->ifname);
                for (size_t b = 0; b < 16; b++)
                        strextendf(&nd, "%02x", six[j].bytes[b]);
        }
        strextendf(s, "%s element bridge berth port_ip6 { %s }\n", verb, ip6);
        strextendf(s, "%s element bridge berth port_nd { %s }\n", verb, nd);
}

char *net_filter_ruleset(bool any) {
        /* "add" first makes the "delete" valid when there is no table. */
        char *s = xstrdup("add table bridge berth\ndelete table bridge berth\n");
        if (!any)
                return s;

        strextendf(&s, "table bridge berth {\n");
        /* The sets start empty: each port's elements come and go with its
         * machine (net_filter_elements()). */
        strextendf(&s,
                   "  set ports {\n    type ifname\n  }\n"
                   "  set port_mac {\n    type ifname . ether_addr\n  }\n"
                   "  set port_ip4 {\n    type ifname . ipv4_addr\n  }\n"
                   "  set port_ip6 {\n    type ifname . ipv6_addr\n  }\n"
                   "  set port_nd {\n    typeof iifname . @th,64,128\n  }\n");
        /* Before the bridge learns the frame's source MAC (that happens
         * after the prerouting hook): a spoofed MAC never moves another
         * machine's forwarding entry to this port.  Only ARP, IPv4 and IPv6
         * (nothing VLAN-tagged, no STP or other raw Ethernet). */
        strextendf(&s,
                   "  chain prerouting {\n"
                   "    type filter hook prerouting priority filter; policy accept;\n"
                   "    iifname != @ports accept\n"
                   "    iifname . ether saddr != @port_mac drop\n"
                   "    arp htype 1 arp ptype ip arp hlen 6 arp plen 4 jump from-arp\n"
                   "    ether type ip jump from-ip4\n"
                   "    ether type ip6 jump from-ip6\n"
                   "    drop\n"
                   "  }\n");
        /* ARP about its own address only (a gratuitous ARP for another's
         * would move the host's and the machines' neighbour entries), or a
         * probe from 0.0.0.0 (RFC 5227), which updates no cache. */
        strextendf(&s,
                   "  chain from-arp {\n"
                   "    iifname . arp saddr ether != @port_mac drop\n"
                   "    arp saddr ip 0.0.0.0 accept\n"
                   "    iifname . arp saddr ip @port_ip4 accept\n"
                   "    drop\n"
                   "  }\n");
        /* Only the bridge's dnsmasq answers DHCP; a client without an
         * address yet asks from 0.0.0.0. */
        strextendf(&s,
                   "  chain from-ip4 {\n"
                   "    udp sport 67 drop\n"
                   "    iifname . ip saddr @port_ip4 accept\n"
                   "    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept\n"
                   "    drop\n"
                   "  }\n");
        /* Neither router advertisements, redirects nor DHCPv6 answers: the
         * host is the router.  Neighbour advertisements only for its own
         * addresses.  From :: only duplicate address detection of its own
         * addresses and the MLD reports that go with it. */
        strextendf(&s,
                   "  chain from-ip6 {\n"
                   "    icmpv6 type { nd-router-advert, nd-redirect } drop\n"
                   "    udp sport 547 drop\n"
                   "    icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @port_nd drop\n"
                   "    ip6 saddr :: icmpv6 type nd-neighbor-solicit iifname . @th,64,128 @port_nd accept\n"
                   "    ip6 saddr :: icmpv6 type mld2-listener-report accept\n"
                   "    iifname . ip6 saddr @port_ip6 accept\n"
                   "    drop\n"
                   "  }\n");
        /* The bridge floods unicast frames for a MAC it has not learnt (or
         * forgot) to every port: a machine gets only its own, and
         * broadcast and multicast. */
        strextendf(&s,
                   "  chain postrouting {\n"
                   "    type filter hook postrouting priority filter; policy accept;\n"
                   "    oifname != @ports accept\n"
                   "    ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 accept\n"
                   "    oifname . ether daddr != @port_mac drop\n"
                   "  }\n"
                   "}\n");
        return s;
}
