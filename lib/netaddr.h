/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Addresses, subnets and port forwards as berth's configuration writes them.
 * Pure logic: parsing, formatting, and the arithmetic of handing out host
 * addresses in a subnet.  Nothing here touches the network. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct IPAddr {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
                uint8_t bytes[16];
        };
} IPAddr;

typedef struct IPNet {
        IPAddr addr;        /* the network address: host bits are zero */
        unsigned prefixlen;
} IPNet;

/* Longest text form, "ffff:…:ffff/128" with a terminating NUL. */
#define IPNET_STRLEN (INET6_ADDRSTRLEN + 4)

/* "10.77.0.0/24" or "fd42::/64".  The host bits must be zero, so a typo like
 * "10.77.0.1/24" is refused rather than silently read as its network.  IPv4
 * prefixes from 8 to 30 and IPv6 prefixes from 48 to 120 are accepted:
 * enough room for a gateway and machines, small enough to scan.  Returns 0
 * or -EINVAL with *ret_reason set to a static string. */
int ipnet_parse(const char *s, int family, IPNet *ret, const char **ret_reason);
const char *ipnet_format(const IPNet *n, char buf[static IPNET_STRLEN]);
const char *ipaddr_format(const IPAddr *a, char buf[static INET6_ADDRSTRLEN]);
int ipaddr_parse(const char *s, IPAddr *ret);
bool ipaddr_equal(const IPAddr *a, const IPAddr *b);

/* Number of host indexes machines can use: 2 .. ipnet_host_max(n) (index 1
 * is the gateway on the bridge; the network and, for IPv4, the broadcast
 * address are never handed out).  Capped at 65534 for big IPv6 subnets. */
uint32_t ipnet_host_max(const IPNet *n);
/* The address with host index I in N. */
IPAddr ipnet_host(const IPNet *n, uint32_t i);
/* Host index of A in N, or 0 if A is not a host address of N. */
uint32_t ipnet_host_index(const IPNet *n, const IPAddr *a);
bool ipnet_overlaps(const IPNet *a, const IPNet *b);
/* The I-th of the 2^EXTRA subnets N splits into (prefix N's plus EXTRA):
 * where one network spreads over several bridges.  I < 2^EXTRA and the
 * result's prefix at most the family's width. */
IPNet ipnet_split(const IPNet *n, unsigned extra, uint32_t i);
/* Which of those subnets A lies in, or -1 when A is outside N. */
int64_t ipnet_split_index(const IPNet *n, unsigned extra, const IPAddr *a);
/* The I-th network of N's size counted from N (0: N itself), wrapping
 * around the address space: fd00::/64, fd00:0:0:1::/64, ... */
IPNet ipnet_next(const IPNet *n, uint32_t i);
/* The smallest network holding both A and B. */
IPNet ipnet_cover(const IPNet *a, const IPNet *b);
/* The IPv6 address made of the first 64 bits of PREFIX and the modified
 * EUI-64 interface identifier of MAC (RFC 4291, appendix A): what the
 * kernel gives an interface by default, as its link-local address
 * (fe80::/64) and by SLAAC in an advertised /64. */
IPAddr ipaddr_eui64(const IPAddr *prefix, const uint8_t mac[static 6]);

typedef enum PortProtocol {
        PORT_TCP,
        PORT_UDP,
} PortProtocol;

typedef struct PortForward {
        PortProtocol protocol;
        uint16_t host_port;
        uint16_t guest_port;
} PortForward;

/* "tcp:8080:80", "udp:53:5353", "8080:80" (tcp), "8080" (same port inside).
 * Returns 0 or -EINVAL with *ret_reason set to a static string. */
int port_forward_parse(const char *s, PortForward *ret, const char **ret_reason);
/* "tcp:8080:80" into BUF (at least 16 bytes), which is returned. */
const char *port_forward_format(const PortForward *p, char buf[static 16]);
const char *port_protocol_to_string(PortProtocol p);

/* An interface name berth accepts: 1 to 15 bytes of ASCII letters, digits,
 * '_', '.' and '-', and not "." or ".." (Linux allows more, but these names
 * end up in nftables rules and dnsmasq options). */
bool ifname_is_valid(const char *s);
