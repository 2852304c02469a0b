/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machined/net-spill.c: how a network is cut into bridges and what they
 * are called. */
#include <errno.h>
#include <stdlib.h>

#include "net-internal.h"
#include "tap.h"
#include "util.h"

static IPNet net(const char *s) {
        IPNet n;
        const char *reason;
        if (ipnet_parse(s, AF_UNSPEC, &n, &reason) < 0)
                abort();
        return n;
}

int main(void) {
        IPNet p = net("10.77.0.0/16"), p6 = net("fd62:6572:7468::/64");
        TEST_ASSERT(spill_extra_bits(&p, &p6, 1023) == 5, "1023 machines a bridge: /21 slices, 32 bridges of a /16");
        TEST_ASSERT(spill_extra_bits(&p, &p6, 8) == 12, "8 a bridge: /28 slices (8, gateway, network, broadcast)");
        TEST_ASSERT(spill_extra_bits(&p, &p6, 13) == 12, "13 still fit a /28");
        TEST_ASSERT(spill_extra_bits(&p, &p6, 14) == 11, "14 need a /27");
        TEST_ASSERT(spill_extra_bits(&p, &p6, 1) == 14, "1 a bridge: /30 slices");
        IPNet small = net("10.79.0.0/24");
        TEST_ASSERT(spill_extra_bits(&small, &p6, 1023) == 0, "a subnet smaller than a bridge's share is one bridge");
        IPNet big = net("10.0.0.0/8");
        TEST_ASSERT(spill_extra_bits(&big, &p6, 1) == 16, "at most 2^16 bridges");

        char b[IFNAMSIZ];
        TEST_ASSERT(spill_bridge_name("berth0", 0, b) == 0 && streq(b, "berth0"), "bridge 0 is Bridge= itself");
        TEST_ASSERT(spill_bridge_name("berth0", 1, b) == 0 && streq(b, "berth1"), "then berth1");
        TEST_ASSERT(spill_bridge_name("berth0", 31, b) == 0 && streq(b, "berth31"), "and berth31");
        TEST_ASSERT(spill_bridge_name("bx5", 2, b) == 0 && streq(b, "bx7"), "a trailing number is counted up");
        TEST_ASSERT(spill_bridge_name("lan", 2, b) == 0 && streq(b, "lan2"), "a name without one gets one");
        TEST_ASSERT(spill_bridge_name("abcdefghijklmn", 1, b) == 0 && streq(b, "abcdefghijklmn1"), "15 bytes fit");
        TEST_ASSERT(spill_bridge_name("abcdefghijklmn9", 1, b) == -ENAMETOOLONG, "16 bytes do not");
        return tap_finish();
}
