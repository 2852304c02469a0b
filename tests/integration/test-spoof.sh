#!/bin/bash
# Machines on one bridge cannot pass for each other (AddressFilter=, on by
# default): from machine a, as root, a gratuitous ARP and an unsolicited
# neighbour advertisement for b's addresses, b's MAC, b's source addresses
# towards a host service, and sniffing frames the bridge floods for b.  The
# host must keep reaching b, and nothing sent as b arrives.  Then the
# switch (AddressFilter=no lets a send as anyone), and the filter's rules
# going away after a stop and after a SIGKILLed supervisor and berth gc.
# All in the network namespace lib.sh made for this test.
. "$(dirname "$0")/lib.sh"
: "${PROBE:?set PROBE to the static probe helper}"

GW=10.77.0.1 GW6=fd62:6572:7468::1 UDP_PORT=5555
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
addr6_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[1] // empty'; }
mac_of() { berth exec "$1" -- cat /sys/class/net/host0/address; }
# The host side of machine NAME's veth, from its network entry.
NETNS_COOKIE=$(python3 -c 'import socket, struct
print(struct.unpack("Q", socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8))[0])')
port_of() {
        grep -lx "NAME=$1" /run/berth-network/"$NETNS_COOKIE"/berth0/machines/* 2>/dev/null |
                xargs -r sed -n 's/^VETH=//p'
}
# HTTP GET of URL from the host.
fetch() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1" 2>/dev/null
}
no_filter_table() { ! nft list tables 2>/dev/null | grep -q 'bridge berth'; }
filtered() { nft list set bridge berth ports 2>/dev/null | grep -q "\"$1\""; }
# The bridge forwards MAC to PORT (its learnt entry).
fdb_port() { bridge fdb show br berth0 | awk -v m="$1" '$1 == m && $2 == "dev" { print $3 }' | sort -u | tr '\n' ' '; }

for m in a b; do
        check "create $m" berth create "$m" --template busybox
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/$m/rootfs/bin/probe"
done
check "start a" berth start a
check "start b" berth start b
A=$(addr_of a) B=$(addr_of b) A6=$(addr6_of a) B6=$(addr6_of b)
AMAC=$(mac_of a) BMAC=$(mac_of b) PA=$(port_of a) PB=$(port_of b)
echo "# a: $A $A6 $AMAC on $PA; b: $B $B6 $BMAC on $PB"
check "a's port is filtered by default" filtered "$PA"
check_output_contains "a's port may send from a's MAC only" "\"$PA\" \\. $AMAC" nft list set bridge berth port_mac
# EUI-64 from the MAC, in the form ip prints (no leading zeros, zero runs as "::").
eui64=$(printf 'fe80::%x:%x:%x:%x' $(( (0x${AMAC:0:2} ^ 2) << 8 | 0x${AMAC:3:2} )) $(( 0x${AMAC:6:2} << 8 | 0xff )) \
        $(( 0xfe << 8 | 0x${AMAC:9:2} )) $(( 0x${AMAC:12:2} << 8 | 0x${AMAC:15:2} )))
eui64=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]))' "$eui64")
check_output_contains "the guest's link-local address is the EUI-64 one berth allows" "inet6 $eui64/64" \
        berth exec a -- ip -6 addr show host0

# --- what a filtered machine still does ---------------------------------------
check "a web server in b" berth exec b -- sh -c "mkdir -p /www && echo hello-from-b > /www/index.html && httpd -p 80 -h /www"
check_eq "host -> b over IPv4" hello-from-b "$(fetch "http://$B/")"
check_eq "host -> b over IPv6" hello-from-b "$(fetch "http://[$B6]/")"
check "a pings the gateway" berth exec a -- ping -c 1 -W 2 "$GW"
check "a pings the gateway over IPv6" berth exec a -- ping6 -c 1 -W 2 "$GW6"
check "a pings b" berth exec a -- ping -c 1 -W 2 "$B"
check "a pings b over IPv6" berth exec a -- ping6 -c 1 -W 2 "$B6"
# Not before b's link-local address has passed duplicate address detection.
check "b's link-local address is ready" wait_for 10 sh -c "! '$BERTH' exec b -- ip -6 addr show host0 | grep -q tentative"
check "a pings b's link-local address" berth exec a -- ping6 -c 1 -W 2 -I host0 "$(berth exec b -- ip -6 addr show host0 | sed -n 's/.*inet6 \(fe80::[^/]*\).*/\1/p')"
check_output_contains "a gets its lease by DHCP (from 0.0.0.0)" "lease of $A obtained" \
        berth exec a -- udhcpc -i host0 -n -q -f -s /bin/true

# --- (a) a takes b's address: gratuitous ARP, unsolicited NA ---------------------
check "a adds b's IPv4 address" berth exec a -- ip addr add "$B/32" dev host0
# Three, a second apart: Linux lets a new ARP override an entry after 1 s (locktime).
berth exec a -- arping -U -c 3 -I host0 -s "$B" "$B" >/dev/null 2>&1
check_output_contains "after a's gratuitous ARP the host still has b's MAC for b" "lladdr $BMAC" ip neigh show "$B" dev berth0
check_eq "and the host's HTTP request to b reaches b" hello-from-b "$(fetch "http://$B/")"
check "a drops b's IPv4 address" berth exec a -- ip addr del "$B/32" dev host0
for _ in 1 2; do berth exec a -- /bin/probe send-na host0 "$B6" >/dev/null 2>&1; sleep 1; done
check_output_contains "after a's neighbour advertisement the host still has b's MAC for b's IPv6 address" \
        "lladdr $BMAC" ip -6 neigh show "$B6" dev berth0
check_eq "and the host's HTTP request to b over IPv6 reaches b" hello-from-b "$(fetch "http://[$B6]/")"

# --- (c) b's source addresses towards a host service -----------------------------
python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(512)
    print(data.decode(errors="replace"), flush=True)' "$UDP_PORT" >"$TEST_TMP/udp.log" 2>&1 &
LISTENER=$!
sleep 0.5
# From machine a, source address $1 (a transparent socket: no need to own it).
send_as() { berth exec a -- /bin/probe udp-from "$1" "$2" "$UDP_PORT"; }
received() { grep -qx "probe $1" "$TEST_TMP/udp.log"; }
check_output_contains "a sends from its own address to a host service" '^sent$' send_as "$A" "$GW"
check_output_contains "and from its own IPv6 address" '^sent$' send_as "$A6" "$GW6"
check_output_contains "a sends from b's address" '^sent$' send_as "$B" "$GW"
check_output_contains "a sends from b's IPv6 address" '^sent$' send_as "$B6" "$GW6"
check "the host service gets a's datagram from a's address" wait_for 5 received "$A"
check "and over IPv6" wait_for 5 received "$A6"
sleep 0.5
check_fails "nothing a sends from b's IPv4 address arrives" received "$B"
check_fails "nothing a sends from b's IPv6 address arrives" received "$B6"

# --- (b) a takes b's MAC ---------------------------------------------------------
check "a sets b's MAC on its interface" berth exec a -- ip link set host0 address "$BMAC"
berth exec a -- ping -c 3 -i 0.3 -W 1 "$GW" >/dev/null 2>&1
check_eq "the bridge still forwards b's MAC to b's port only" "$PB " "$(fdb_port "$BMAC")"
check_eq "the host still reaches b" hello-from-b "$(fetch "http://$B/")"
check "a takes its own MAC back" berth exec a -- ip link set host0 address "$AMAC"
check "and works again" berth exec a -- ping -c 1 -W 2 "$GW"

# --- frames the bridge floods for b do not reach a --------------------------------
berth exec a -- /bin/probe sniff host0 4 "$BMAC" >"$TEST_TMP/sniff.out" 2>&1 &
SNIFFER=$!
wait_for 5 grep -q listening "$TEST_TMP/sniff.out"
for _ in 1 2 3 4 5; do
        # Forget b's MAC: the next frame for it goes to every port.
        bridge fdb del "$BMAC" dev "$PB" master 2>/dev/null
        python3 -c 'import socket, sys
socket.socket().connect_ex((sys.argv[1], 9))' "$B" 2>/dev/null
        sleep 0.3
done
wait $SNIFFER
check_output_contains "a sees none of b's unicast frames the bridge floods" '^frames 0$' cat "$TEST_TMP/sniff.out"

# --- (d) AddressFilter=no ------------------------------------------------------------
check "stop a" berth stop a
check "AddressFilter=no for a" berth set a Network.AddressFilter=no
check "start a" berth start a
PA=$(port_of a)
check_fails "a's port is not filtered" filtered "$PA"
check "b's port still is" filtered "$PB"
X=${A%.*}.250
check_output_contains "a sends from another address" '^sent$' send_as "$X" "$GW"
check "an unfiltered machine may send from another address" wait_for 5 received "$X"
check "stop a" berth stop a
check "AddressFilter=yes for a again" berth set a Network.AddressFilter=yes
check "start a" berth start a
check "a's port is filtered again" filtered "$(port_of a)"
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null

# --- the rules go with the machines -------------------------------------------------
check "stop a" berth stop a
check_fails "a stopped: its port leaves the filter" filtered "$PA"
check "stop b" berth stop b
check "no filter table soon after the last stop" wait_for 20 no_filter_table
check "start a" berth start a
check "a's port is filtered" filtered "$(port_of a)"
SUPERVISOR=$(pgrep -f "berth-machined --root $BERTH_ROOT .* -- a\$")
check "a's supervisor is found" test -n "$SUPERVISOR"
kill -9 "$SUPERVISOR"
check "a is stopped after its supervisor's SIGKILL" wait_for 10 is_stopped a
check "gc after the SIGKILLed supervisor" berth gc
check "gc leaves no filter table" no_filter_table

done_testing
