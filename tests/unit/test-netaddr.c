/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/socket.h>

#include "netaddr.h"
#include "tap.h"
#include "util.h"

static IPNet net(const char *s) {
        IPNet n = {};
        const char *reason;
        TEST_ASSERT(ipnet_parse(s, AF_UNSPEC, &n, &reason) == 0, "parses %s", s);
        return n;
}

static void test_hosts(void) {
        char buf[INET6_ADDRSTRLEN];
        IPNet n = net("10.77.0.0/24");
        TEST_ASSERT(ipnet_host_max(&n) == 254, "a /24 has hosts 1..254 (max index 254)");
        IPAddr a = ipnet_host(&n, 1);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "10.77.0.1", "host 1 of 10.77.0.0/24");
        a = ipnet_host(&n, 254);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "10.77.0.254", "host 254");
        TEST_ASSERT(ipnet_host_index(&n, &a) == 254, "index of 10.77.0.254 is 254");
        IPAddr b;
        TEST_ASSERT(ipaddr_parse("10.77.0.255", &b) == 0 && ipnet_host_index(&n, &b) == 0,
                    "the broadcast address is no host");
        TEST_ASSERT(ipaddr_parse("10.77.0.0", &b) == 0 && ipnet_host_index(&n, &b) == 0,
                    "the network address is no host");
        TEST_ASSERT(ipaddr_parse("10.78.0.5", &b) == 0 && ipnet_host_index(&n, &b) == 0,
                    "an address outside is no host");
        TEST_ASSERT(ipaddr_parse("fd00::5", &b) == 0 && ipnet_host_index(&n, &b) == 0,
                    "an IPv6 address is no host of an IPv4 subnet");

        IPNet m = net("10.88.0.0/16");
        a = ipnet_host(&m, 300);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "10.88.1.44", "host 300 of a /16 crosses a byte");
        TEST_ASSERT(ipnet_host_index(&m, &a) == 300, "and its index is 300");
        TEST_ASSERT(ipnet_host_max(&m) == 65534, "a /16 has 65534 hosts");

        IPNet six = net("fd62:6572:7468::/64");
        a = ipnet_host(&six, 0x1234);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "fd62:6572:7468::1234", "IPv6 host 0x1234");
        TEST_ASSERT(ipnet_host_index(&six, &a) == 0x1234, "IPv6 index round trip");
        TEST_ASSERT(ipaddr_parse("fd62:6572:7468:0:1::5", &b) == 0 && ipnet_host_index(&six, &b) == 0,
                    "an IPv6 host beyond the indexes berth hands out has no index");
        TEST_ASSERT(ipnet_host_max(&six) == 65534, "IPv6 /64 is capped at 65534 indexes");

        /* The kernel's own: "ip link add x address 52:54:00:12:34:56" gets fe80::5054:ff:fe12:3456. */
        const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        IPAddr ll;
        TEST_ASSERT(ipaddr_parse("fe80::", &ll) == 0, "fe80:: parses");
        a = ipaddr_eui64(&ll, mac);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "fe80::5054:ff:fe12:3456", "EUI-64 link-local of a MAC");
        a = ipaddr_eui64(&six.addr, mac);
        TEST_ASSERT_STREQ(ipaddr_format(&a, buf), "fd62:6572:7468:0:5054:ff:fe12:3456", "EUI-64 SLAAC address in a /64");

        IPNet x = net("10.77.0.0/16");
        TEST_ASSERT(ipnet_overlaps(&n, &x) && ipnet_overlaps(&x, &n), "10.77.0.0/24 overlaps 10.77.0.0/16");
        IPNet y = net("10.77.1.0/24");
        TEST_ASSERT(!ipnet_overlaps(&n, &y), "10.77.0.0/24 and 10.77.1.0/24 do not overlap");
        TEST_ASSERT(!ipnet_overlaps(&n, &six), "IPv4 and IPv6 never overlap");
}

static void test_split(void) {
        char buf[IPNET_STRLEN];
        IPNet pool = net("10.77.0.0/16"), p6 = net("fd62:6572:7468::/64");
        IPNet s = ipnet_split(&pool, 5, 0);
        TEST_ASSERT(streq(ipnet_format(&s, buf), "10.77.0.0/21"), "slice 0 of a /16 by 5 bits is 10.77.0.0/21");
        s = ipnet_split(&pool, 5, 31);
        TEST_ASSERT(streq(ipnet_format(&s, buf), "10.77.248.0/21"), "slice 31 is 10.77.248.0/21");
        s = ipnet_split(&pool, 12, 2);
        TEST_ASSERT(streq(ipnet_format(&s, buf), "10.77.0.32/28"), "slice 2 by 12 bits is 10.77.0.32/28");
        s = ipnet_split(&pool, 0, 0);
        TEST_ASSERT(streq(ipnet_format(&s, buf), "10.77.0.0/16"), "no extra bits: the pool itself");
        IPNet x = ipnet_next(&p6, 0);
        TEST_ASSERT(streq(ipnet_format(&x, buf), "fd62:6572:7468::/64"), "next 0 is the network itself");
        x = ipnet_next(&p6, 31);
        TEST_ASSERT(streq(ipnet_format(&x, buf), "fd62:6572:7468:1f::/64"), "next 31 is ...:1f::/64");
        IPNet odd = net("fd00:0:0:ffff::/64");
        x = ipnet_next(&odd, 2);
        TEST_ASSERT(streq(ipnet_format(&x, buf), "fd00:0:1:1::/64"), "next carries: fd00:0:0:ffff::/64 + 2");
        IPNet last = ipnet_next(&p6, 31), c = ipnet_cover(&p6, &last);
        TEST_ASSERT(streq(ipnet_format(&c, buf), "fd62:6572:7468::/59"), "32 /64s are covered by a /59");
        last = ipnet_next(&odd, 2);
        c = ipnet_cover(&odd, &last);
        TEST_ASSERT(streq(ipnet_format(&c, buf), "fd00::/47"), "a cover across a carry is wider");
        c = ipnet_cover(&pool, &pool);
        TEST_ASSERT(streq(ipnet_format(&c, buf), "10.77.0.0/16"), "a network covers itself");
        IPAddr a;
        TEST_ASSERT(ipaddr_parse("10.77.0.40", &a) == 0 && ipnet_split_index(&pool, 12, &a) == 2,
                    "10.77.0.40 lies in slice 2 of /28s");
        TEST_ASSERT(ipaddr_parse("10.77.250.1", &a) == 0 && ipnet_split_index(&pool, 5, &a) == 31,
                    "10.77.250.1 lies in slice 31 of /21s");
        TEST_ASSERT(ipaddr_parse("10.78.0.1", &a) == 0 && ipnet_split_index(&pool, 5, &a) == -1,
                    "an address outside the pool has no slice");
        TEST_ASSERT(ipnet_split_index(&pool, 5, &(IPAddr) { .family = AF_INET6 }) == -1,
                    "another family has no slice");
}

static void test_parse_bad(void) {
        const char *bad[] = { "10.77.0.0", "10.77.0.0/", "10.77.0.0/33", "10.77.0.0/7", "10.77.0.0/31",
                              "10.77.0.1/24", "/24", "x/24", "10.77.0.0/24x", "fd00::/47", "fd00::/121",
                              "fd00::1/64", "10.77.0.0/+24", "" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                IPNet n;
                const char *reason = NULL;
                TEST_ASSERT(ipnet_parse(bad[i], AF_UNSPEC, &n, &reason) == -EINVAL && reason,
                            "refuses subnet '%s'", bad[i]);
        }
        IPNet n;
        const char *reason;
        TEST_ASSERT(ipnet_parse("fd00::/64", AF_INET, &n, &reason) == -EINVAL, "family is checked");
        char buf[IPNET_STRLEN];
        TEST_ASSERT(ipnet_parse("fd00:0::/64", AF_INET6, &n, &reason) == 0 &&
                            streq(ipnet_format(&n, buf), "fd00::/64"),
                    "formats in canonical form");
}

static void test_ports(void) {
        PortForward p;
        const char *reason;
        char buf[16];
        TEST_ASSERT(port_forward_parse("tcp:8080:80", &p, &reason) == 0 && p.protocol == PORT_TCP &&
                            p.host_port == 8080 && p.guest_port == 80,
                    "tcp:8080:80");
        TEST_ASSERT(port_forward_parse("udp:53", &p, &reason) == 0 && p.protocol == PORT_UDP &&
                            p.host_port == 53 && p.guest_port == 53,
                    "udp:53 forwards to the same port");
        TEST_ASSERT(port_forward_parse("2222:22", &p, &reason) == 0 && p.protocol == PORT_TCP,
                    "without protocol: tcp");
        TEST_ASSERT_STREQ(port_forward_format(&p, buf), "tcp:2222:22", "formats with protocol");
        const char *bad[] = { "", "tcp:", "tcp:0", "0:80", "80:0", "65536", "tcp:80:65536", "icmp:1",
                              "tcp:80:80:80", "80:", ":80", "tcp:-1", "udp:+5", "1 2" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                TEST_ASSERT(port_forward_parse(bad[i], &p, &reason) == -EINVAL, "refuses port '%s'", bad[i]);
}

static void test_ifnames(void) {
        TEST_ASSERT(ifname_is_valid("berth0") && ifname_is_valid("vb-123456789ab") &&
                            ifname_is_valid("123456789012345"),
                    "valid interface names");
        const char *bad[] = { "", "1234567890123456", "a/b", "a:b", "a b", ".", "..", "é", "a\tb", "a\"b",
                              "a;b", "a\\b", "a{b", "a,b" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                TEST_ASSERT(!ifname_is_valid(bad[i]), "refuses interface name '%s'", bad[i]);
}

int main(void) {
        test_hosts();
        test_split();
        test_parse_bad();
        test_ports();
        test_ifnames();
        return tap_finish();
}
