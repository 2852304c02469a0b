/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "netaddr.h"
#include "util.h"

static size_t family_bytes(int family) {
        return family == AF_INET ? 4 : 16;
}

int ipaddr_parse(const char *s, IPAddr *ret) {
        IPAddr a = {};
        if (inet_pton(AF_INET, s, &a.v4) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, s, &a.v6) == 1)
                a.family = AF_INET6;
        else
                return -EINVAL;
        *ret = a;
        return 0;
}

const char *ipaddr_format(const IPAddr *a, char buf[static INET6_ADDRSTRLEN]) {
        if (!inet_ntop(a->family, a->bytes, buf, INET6_ADDRSTRLEN))
                snprintf(buf, INET6_ADDRSTRLEN, "?");
        return buf;
}

bool ipaddr_equal(const IPAddr *a, const IPAddr *b) {
        return a->family == b->family && memcmp(a->bytes, b->bytes, family_bytes(a->family)) == 0;
}

/* Is bit I (0 = most significant) of A set? */
static bool addr_bit(const IPAddr *a, unsigned i) {
        return a->bytes[i / 8] & (0x80 >> (i % 8));
}

static void addr_bit_set(IPAddr *a, unsigned i, bool v) {
        uint8_t m = (uint8_t) (0x80 >> (i % 8));
        a->bytes[i / 8] = (uint8_t) (v ? a->bytes[i / 8] | m : a->bytes[i / 8] & ~m);
}

IPNet ipnet_split(const IPNet *n, unsigned extra, uint32_t i) {
        IPNet r = *n;
        r.prefixlen = n->prefixlen + extra;
        for (unsigned b = 0; b < extra; b++)
                addr_bit_set(&r.addr, n->prefixlen + b, (i >> (extra - 1 - b)) & 1);
        return r;
}

int64_t ipnet_split_index(const IPNet *n, unsigned extra, const IPAddr *a) {
        if (a->family != n->addr.family)
                return -1;
        for (unsigned b = 0; b < n->prefixlen; b++)
                if (addr_bit(a, b) != addr_bit(&n->addr, b))
                        return -1;
        int64_t i = 0;
        for (unsigned b = 0; b < extra; b++)
                i = (i << 1) | addr_bit(a, n->prefixlen + b);
        return i;
}

IPNet ipnet_next(const IPNet *n, uint32_t i) {
        IPNet r = *n;
        /* Add I at the prefix's last bit, carrying towards the first. */
        uint64_t carry = i;
        for (unsigned b = n->prefixlen; b-- > 0 && carry > 0;) {
                uint64_t v = addr_bit(&r.addr, b) + (carry & 1);
                addr_bit_set(&r.addr, b, v & 1);
                carry = (carry >> 1) + (v >> 1);
        }
        return r;
}

IPNet ipnet_cover(const IPNet *a, const IPNet *b) {
        IPNet r = { .addr = { .family = a->addr.family } };
        unsigned max = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
        while (r.prefixlen < max && addr_bit(&a->addr, r.prefixlen) == addr_bit(&b->addr, r.prefixlen)) {
                addr_bit_set(&r.addr, r.prefixlen, addr_bit(&a->addr, r.prefixlen));
                r.prefixlen++;
        }
        return r;
}

int ipnet_parse(const char *s, int family, IPNet *ret, const char **ret_reason) {
        const char *slash = strchr(s, '/');
        if (!slash) {
                *ret_reason = "lacks a prefix length";
                return -EINVAL;
        }
        char addr[INET6_ADDRSTRLEN];
        size_t n = (size_t) (slash - s);
        if (n == 0 || n >= sizeof addr) {
                *ret_reason = "is not an address with a prefix length";
                return -EINVAL;
        }
        memcpy(addr, s, n);
        addr[n] = 0;

        IPNet net = {};
        if (ipaddr_parse(addr, &net.addr) < 0) {
                *ret_reason = "is not an IP address with a prefix length";
                return -EINVAL;
        }
        if (family != AF_UNSPEC && net.addr.family != family) {
                *ret_reason = family == AF_INET ? "is not an IPv4 subnet" : "is not an IPv6 subnet";
                return -EINVAL;
        }
        if (safe_atou(slash + 1, &net.prefixlen) < 0) {
                *ret_reason = "has an invalid prefix length";
                return -EINVAL;
        }
        unsigned lo = net.addr.family == AF_INET ? 8 : 48, hi = net.addr.family == AF_INET ? 30 : 120;
        if (net.prefixlen < lo || net.prefixlen > hi) {
                *ret_reason = net.addr.family == AF_INET ? "needs a prefix length from 8 to 30"
                                                         : "needs a prefix length from 48 to 120";
                return -EINVAL;
        }
        for (unsigned i = net.prefixlen; i < family_bytes(net.addr.family) * 8; i++)
                if (addr_bit(&net.addr, i)) {
                        *ret_reason = "has host bits set (write the network address, e.g. 10.77.0.0/24)";
                        return -EINVAL;
                }
        *ret = net;
        return 0;
}

const char *ipnet_format(const IPNet *n, char buf[static IPNET_STRLEN]) {
        char a[INET6_ADDRSTRLEN];
        snprintf(buf, IPNET_STRLEN, "%s/%u", ipaddr_format(&n->addr, a), n->prefixlen);
        return buf;
}

uint32_t ipnet_host_max(const IPNet *n) {
        unsigned host_bits = (unsigned) family_bytes(n->addr.family) * 8 - n->prefixlen;
        if (host_bits >= 16)
                return 65534;
        uint32_t size = UINT32_C(1) << host_bits;
        /* IPv4 loses the broadcast address; IPv6 has none but keep the shape. */
        return size - 2;
}

IPAddr ipnet_host(const IPNet *n, uint32_t i) {
        IPAddr a = n->addr;
        size_t len = family_bytes(a.family);
        /* The network address has its host bits zero and I fits in them
         * (ipnet_host_max()), so adding is or-ing, byte by byte. */
        for (size_t k = len; k-- > 0 && i > 0; i >>= 8)
                a.bytes[k] |= (uint8_t) (i & 0xff);
        return a;
}

IPAddr ipaddr_eui64(const IPAddr *prefix, const uint8_t mac[static 6]) {
        IPAddr a = { .family = AF_INET6 };
        memcpy(a.bytes, prefix->bytes, 8);
        const uint8_t iid[8] = { mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };
        memcpy(a.bytes + 8, iid, 8);
        return a;
}

uint32_t ipnet_host_index(const IPNet *n, const IPAddr *a) {
        if (a->family != n->addr.family)
                return 0;
        size_t len = family_bytes(a->family);
        for (unsigned i = 0; i < n->prefixlen; i++)
                if (addr_bit(a, i) != addr_bit(&n->addr, i))
                        return 0;
        /* The host part: the address with its prefix bits cleared. */
        IPAddr host = *a;
        for (unsigned i = 0; i < n->prefixlen; i++)
                host.bytes[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        for (size_t k = 0; k + 4 < len; k++)
                if (host.bytes[k])
                        return 0;
        uint32_t idx = 0;
        for (size_t k = len - 4; k < len; k++)
                idx = (idx << 8) | host.bytes[k];
        if (idx < 1 || idx > ipnet_host_max(n))
                return 0;
        return idx;
}

bool ipnet_overlaps(const IPNet *a, const IPNet *b) {
        if (a->addr.family != b->addr.family)
                return false;
        unsigned p = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
        for (unsigned i = 0; i < p; i++)
                if (addr_bit(&a->addr, i) != addr_bit(&b->addr, i))
                        return false;
        return true;
}

const char *port_protocol_to_string(PortProtocol p) {
        return p == PORT_UDP ? "udp" : "tcp";
}

static int parse_port(const char *s, size_t n, uint16_t *ret) {
        char buf[8];
        unsigned v;
        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (safe_atou(buf, &v) < 0 || v < 1 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int port_forward_parse(const char *s, PortForward *ret, const char **ret_reason) {
        PortForward p = { .protocol = PORT_TCP };
        const char *rest;
        if ((rest = startswith(s, "tcp:")))
                p.protocol = PORT_TCP;
        else if ((rest = startswith(s, "udp:")))
                p.protocol = PORT_UDP;
        else
                rest = s;

        const char *colon = strchr(rest, ':');
        size_t n = colon ? (size_t) (colon - rest) : strlen(rest);
        if (parse_port(rest, n, &p.host_port) < 0 ||
            (colon && parse_port(colon + 1, strlen(colon + 1), &p.guest_port) < 0)) {
                *ret_reason = "needs ports from 1 to 65535, as [tcp:|udp:]HOSTPORT[:MACHINEPORT]";
                return -EINVAL;
        }
        if (!colon)
                p.guest_port = p.host_port;
        *ret = p;
        return 0;
}

const char *port_forward_format(const PortForward *p, char buf[static 16]) {
        snprintf(buf, 16, "%s:%u:%u", port_protocol_to_string(p->protocol), p->host_port, p->guest_port);
        return buf;
}

bool ifname_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= 16 || streq(s, ".") || streq(s, ".."))
                return false;
        /* Stricter than the kernel: these names go into nftables rules and
         * dnsmasq options, where quotes or separators would be syntax. */
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
                        return false;
        return true;
}
