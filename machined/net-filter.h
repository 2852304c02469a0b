/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bridge ports' anti-spoofing filter (AddressFilter=, on by default):
 * the nftables table "bridge berth".  A machine's port (the host side of
 * its veth) passes only frames from the machine's own MAC, of type ARP,
 * IPv4 or IPv6, from its own addresses, and ARP/NDP only about those
 * addresses; DHCP from the unspecified address is let through.  Unicast
 * frames to the port must be for its MAC, so a flooded frame for another
 * machine never reaches it.  Guests cannot act as the bridge's router or
 * DHCP server (router advertisements, redirects, DHCP answers).
 *
 * Like "inet berth", the table follows the machines' network entries in
 * network_sync() (network.h), in the same nftables transaction: constant
 * rules over sets keyed by port name, so a thousand machines cost set
 * elements, not rules, and a start or stop adds or deletes only its
 * machine's elements (net-rules.c). */

#include <net/if.h>
#include <stdint.h>

#include "netaddr.h"

typedef struct FilterPort {
        char ifname[IFNAMSIZ]; /* the host side of the machine's veth */
        uint8_t mac[6];
        IPAddr addr, addr6;    /* the addresses berth gave the machine */
        IPNet subnet6;         /* its bridge's: a /64 is advertised for SLAAC */
} FilterPort;

/* nftables commands (malloc'ed) that replace table "bridge berth", if
 * any, with the filter's rules over empty sets (ANY: some port is
 * filtered); without, they only remove it.  For one transaction with the
 * rest of berth's rules. */
char *net_filter_ruleset(bool any);
/* Append to *S the commands that VERB ("add" or "delete") port P's
 * elements in the filter's sets: what a machine's start or stop changes. */
void net_filter_elements(char **s, const char *verb, const FilterPort *p);
