#!/bin/bash
# Bridge networking as a user sees it, in the network namespace lib.sh made
# for this test (nothing here sends a packet beyond it): addresses, host <->
# machine and machine <-> machine traffic, port forwards from 127.0.0.1 and
# from the bridge, DHCP, stable addresses, cleanup after stop and after a
# SIGKILLed supervisor, macvlan, and 100 start/stop cycles leaving nothing.
. "$(dirname "$0")/lib.sh"

BB="busybox"
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
addr6_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[1] // empty'; }
# A tiny web server inside machine NAME on PORT, answering with TEXT.
serve() {
        berth exec "$1" -- sh -c "mkdir -p /www && echo '$3' > /www/index.html && httpd -p $2 -h /www"
}
# HTTP GET of URL from the host (busybox's static wget crashes on some hosts).
fetch() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1" 2>/dev/null
}
# The same from inside machine NAME, with busybox nc.
fetch_in() {
        berth exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $2 $3 | tail -n 1"
}
no_berth_links() { ! ip -o link show | grep -qE ' vb-| berth0[:@]'; }
no_berth_table() { ! nft list tables 2>/dev/null | grep -q 'inet berth'; }
# berth's state for this network namespace: /run/berth-network/COOKIE.
NETNS_COOKIE=$(python3 -c 'import socket, struct
print(struct.unpack("Q", socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8))[0])')
no_entries() { [ -z "$(ls /run/berth-network/"$NETNS_COOKIE"/*/machines/ 2>/dev/null)" ]; }
no_dnsmasq_here() {
        local p
        for p in $(pgrep -x dnsmasq); do
                # Only ours: a dnsmasq in this network namespace.
                [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/self/ns/net)" ] && return 1
        done
        return 0
}

# A known starting point: a new network namespace inherits the host's
# forwarding settings on kernels with devconf_inherit, so a host that
# forwards (Docker, a router, a running berth machine) would start this
# test with forwarding on.  Both starting states are checked below.
echo 0 >/proc/sys/net/ipv4/ip_forward
echo 0 >/proc/sys/net/ipv6/conf/all/forwarding

for m in a b c; do
        check "create $m" berth create "$m" --template busybox
done

# --- two machines started at once --------------------------------------
berth start a >"$TEST_TMP/a.out" 2>&1 &
pa=$!
berth start b >"$TEST_TMP/b.out" 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
check_eq "two concurrent starts succeed" "0 0" "$ra $rb"
A=$(addr_of a) B=$(addr_of b)
check_output_contains "machine a has an address in berth0's 10.77.0.0/21, among its first 253" '^10\.77\.0\.[0-9]+$' echo "$A"
check_output_contains "machine b has an address in berth0's 10.77.0.0/21, among its first 253" '^10\.77\.0\.[0-9]+$' echo "$B"
[ "$A" != "$B" ] && ok "concurrent machines get distinct addresses ($A, $B)" || not_ok "both got $A"
check_output_contains "the guest's interface is host0 with that address in berth0's /21" "inet $A/21" berth exec a -- ip addr show host0
check_output_contains "the guest has a default route via the bridge" 'default via 10\.77\.0\.1' berth exec a -- ip route
check_output_contains "the guest has an IPv6 ULA address (a /128, as DHCPv6 gives it)" \
        'inet6 fd62:6572:7468::[0-9a-f]+/128' berth exec a -- ip addr show host0
check_output_contains "and a route to the IPv6 subnet" 'fd62:6572:7468::/64 dev host0' berth exec a -- ip -6 route
check_output_contains "the guest has an IPv6 link-local address" 'inet6 fe80::' berth exec a -- ip addr show host0
check_output_contains "resolv.conf points at the bridge" '^nameserver 10\.77\.0\.1$' berth exec a -- cat /etc/resolv.conf
check_output_contains "status shows the addresses" "Address: $A fd62" berth status a
check_output_contains "list shows the address" "^a .* $A " berth list

# --- traffic ---------------------------------------------------------------
check "host pings machine a" $BB ping -c 1 -W 2 "$A"
check "machine a pings the host (gateway)" berth exec a -- ping -c 1 -W 2 10.77.0.1
check "machine a pings machine b" berth exec a -- ping -c 1 -W 2 "$B"
check "host pings machine a over IPv6" $BB ping6 -c 1 -W 2 "$(addr6_of a)"
check "machine a pings machine b over IPv6" berth exec a -- ping6 -c 1 -W 2 "$(addr6_of b)"
check "a web server in machine b" serve b 80 hello-from-b
check_eq "host -> machine TCP" hello-from-b "$(fetch "http://$B/")"
check_eq "machine -> machine TCP" hello-from-b "$(fetch_in a "$B" 80)"
check_eq "host -> machine TCP over IPv6" hello-from-b "$(fetch "http://[$(addr6_of b)]/")"

# --- restart keeps the address ------------------------------------------------
check "stop a" berth stop a
check "start a again" berth start a
check_eq "restart keeps the address" "$A" "$(addr_of a)"

# --- port forwards -----------------------------------------------------------
check "start c with a forward of 8080 to 80 (--port)" berth start --port tcp:8080:80 c
C=$(addr_of c)
check "a web server in machine c" serve c 80 hello-from-c
check_eq "forward reachable from the host's 127.0.0.1" hello-from-c "$(fetch http://127.0.0.1:8080/)"
check_eq "forward reachable on the bridge's address from the host" hello-from-c "$(fetch http://10.77.0.1:8080/)"
check_eq "forward reachable from another machine on the bridge" hello-from-c \
        "$(fetch_in a 10.77.0.1 8080)"
check_eq "forward reachable over IPv6 on the bridge's address" hello-from-c \
        "$(fetch 'http://[fd62:6572:7468::1]:8080/')"
check_eq "forward reachable from the host's ::1 (relayed by the supervisor)" hello-from-c \
        "$(fetch 'http://[::1]:8080/')"
big=$(head -c 3000000 /dev/urandom | base64 -w 0 | head -c 3000000)
berth exec -i c -- sh -c "cat > /www/big" <<<"$big"
check_eq "a large response comes through the ::1 relay intact" "$(printf '%s\n' "$big" | sha256sum)" \
        "$(python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' 'http://[::1]:8080/big' | sha256sum)"
# "Other hosts' view": a namespace of the test's own, plugged into the bridge
# like a LAN neighbour, reaching the forward at the host's address.
ip netns add berth-test-peer-$$
ip link add bt-peer$$ type veth peer name eth0 netns berth-test-peer-$$
ip link set bt-peer$$ master berth0 up
ip -n berth-test-peer-$$ link set lo up
ip -n berth-test-peer-$$ link set eth0 up
ip -n berth-test-peer-$$ addr add 10.77.0.250/24 dev eth0
check_eq "forward reachable from another host on the bridge" hello-from-c \
        "$(ip netns exec berth-test-peer-$$ python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' http://10.77.0.1:8080/)"
ip netns del berth-test-peer-$$
ip link del bt-peer$$ 2>/dev/null
check "udp forward in machine.conf" sh -c "printf '[Network]\nPort=udp:5353:53 tcp:2222:22\n' >> '$BERTH_ROOT/machines/b/machine.conf'"
check "stop b" berth stop b
check "start b with its forwards" berth start b
check_output_contains "the udp forward is in the ruleset" 'udp \. 5353 : 10\.77\.0\.[0-9]+ \. 53' nft list table inet berth
check "create d" berth create d --template busybox
check_output_contains "a second machine cannot take a forwarded host port" "forwarded to machine c" \
        berth start --port 8080 d
check_eq "the refused machine stays stopped" stopped "$(machine_state d)"

# --- DHCP ------------------------------------------------------------------
check_output_contains "a guest asking for DHCP gets its own address" "lease of $A obtained" \
        berth exec a -- udhcpc -i host0 -n -q -f -s /bin/true

# --- what a guest must not get ---------------------------------------------------
check_eq "guests' router advertisements are ignored on the bridge" 0 "$(cat /proc/sys/net/ipv6/conf/berth0/accept_ra)"
check_output_contains "nothing from the bridge may reach the host's 127.0.0.0/8" \
        'iifname "berth0" ip daddr 127\.0\.0\.0/8 drop' nft list chain inet berth raw-prerouting
check_output_contains "machines forward only from their own subnet" 'iifname "berth0" drop' \
        nft list chain inet berth forward
check_eq "forwarding is on while machines run" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"

# --- conflicts are refused before anything is made ----------------------------
check "create e on another bridge with the same subnet" berth create e --template busybox --set Network.Bridge=br-e
check_output_contains "overlapping subnets of two bridges are refused" "overlap" berth start e
check_fails "and no second bridge was made" ip link show br-e
check "create f with ports but no bridge" berth create f --template busybox --set Network.Mode=none --set Network.Port=9090
check_output_contains "port forwards without Mode=bridge are refused" "need \[Network\] Mode=bridge" berth start f
check "create g with a small IPv6 subnet" berth create g --template busybox --set Network.Subnet=10.78.0.0/16 \
        --set Network.IPv6Subnet=fd00:1::/120 --set Network.Bridge=br-g
check_output_contains "an IPv6 subnet smaller than the IPv4 one is refused" "fewer addresses" berth start g

# --- stop cleans up ----------------------------------------------------------
for m in a b c; do berth stop "$m" >/dev/null 2>&1; done
check "no machine entries after the last stop" no_entries
# Bridge, dnsmasq and rules stay a few seconds for a next start, then go.
check "the bridge lingers for a next start" ip link show berth0
check "no veth or bridge soon after the last stop" wait_for 20 no_berth_links
# The state dir goes last: then the teardown is complete.
check "the teardown completes" wait_for 5 test ! -e "/run/berth-network/$NETNS_COOKIE"
check "no nftables table after the last stop" no_berth_table
check "no dnsmasq after the last stop" no_dnsmasq_here
check_eq "no route to the subnet after the last stop" "" "$(ip route show root 10.77.0.0/16)"
check_eq "berth turned forwarding off again" 0 "$(cat /proc/sys/net/ipv4/ip_forward)"

# A host that forwards IPv4 already keeps forwarding everything.
echo 1 > /proc/sys/net/ipv4/ip_forward
check "start a on a forwarding host" berth start a
check_fails "no IPv4 drop-all in berth's forward chain" sh -c "nft list chain inet berth forward | grep -q 'meta nfproto ipv4 drop'"
check "stop a" berth stop a
check_eq "the host's IPv4 forwarding is left on" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"
echo 0 > /proc/sys/net/ipv4/ip_forward

# --- a SIGKILLed supervisor --------------------------------------------------
check "start a" berth start a
pkill -9 -f "berth-machined --root $BERTH_ROOT .* -- a\$"
wait_for 10 is_stopped a
check "gc after a SIGKILLed supervisor" berth gc
check "gc leaves no veth or bridge" wait_for 20 no_berth_links
check "gc leaves no nftables table" no_berth_table
check "gc leaves no entries" no_entries
check "start after the crash" berth start a
check_eq "the address survives the crash" "$A" "$(addr_of a)"
check "stop a" berth stop a

# --- other modes -------------------------------------------------------------
check "Mode=none" berth create n --template busybox --set Network.Mode=none
check "start n" berth start n
check_eq "Mode=none has only loopback" "lo" "$(berth exec n -- ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"
check "stop n" berth stop n
# A veth as the parent: present on every kernel, unlike the dummy driver.
ip link add bt-par$$ type veth peer name bt-parp$$ && ip link set bt-par$$ up
check "Mode=macvlan" berth create mv --template busybox --set Network.Mode=macvlan --set Network.Link=bt-par$$
check "start mv" berth start mv
check_output_contains "macvlan: host0 is a macvlan link" 'macvlan mode bridge' \
        nsenter -t "$(berth list --json | jq -r '.[] | select(.name == "mv") | .leader')" -n ip -d link show host0
check "stop mv" berth stop mv
ip link add bt-par2$$ type veth peer name bt-par2p$$ && ip link set bt-par2$$ up
if ip link add bt-ivprobe$$ link bt-par2$$ type ipvlan mode l2 2>/dev/null; then
        ip link del bt-ivprobe$$
        check "Mode=ipvlan" berth create iv --template busybox --set Network.Mode=ipvlan --set Network.Link=bt-par2$$ \
                --set Network.Interface=eth0
        check "start iv" berth start iv
        check_output_contains "ipvlan: the machine's eth0 is an ipvlan link in L2 mode" 'ipvlan +mode l2' \
                nsenter -t "$(berth list --json | jq -r '.[] | select(.name == "iv") | .leader')" -n ip -d link show eth0
        check "stop iv" berth stop iv
else
        check "create iv (ipvlan)" berth create iv --template busybox --set Network.Mode=ipvlan --set Network.Link=bt-par2$$
        check_output_contains "without kernel ipvlan support the start says so" "no ipvlan support" berth start iv
fi
ip link del bt-par2$$
check "Mode=macvlan without Link=" berth create mv2 --template busybox --set Network.Mode=macvlan
check_output_contains "macvlan without Link= is refused with a reason" 'needs Link=' berth start mv2
ip link del bt-par$$

# --- 100 start/stop cycles ---------------------------------------------------
# busybox init takes 2 s to shut down (it sleeps between its kill rounds): a
# shell init that powers off on SIGTERM keeps 100 real cycles short.
check "create q with a quick init" berth create q --template busybox --set Machine.Init=/sbin/quickinit \
        --set Machine.PoweroffSignal=SIGTERM
printf '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 1000 & wait $!; done\n' >"$BERTH_ROOT/machines/q/rootfs/sbin/quickinit"
chmod 755 "$BERTH_ROOT/machines/q/rootfs/sbin/quickinit"
check "start q" berth start q
check_output_contains "q has an address" '^10\.77\.0\.' addr_of q
check "stop q" berth stop q
fails=0
for i in $(seq 1 100); do
        berth start q >/dev/null 2>>"$TEST_TMP/cycles.err" || { fails=$((fails + 1)); echo "(start $i)" >>"$TEST_TMP/cycles.err"; }
        berth stop q >/dev/null 2>>"$TEST_TMP/cycles.err" || { fails=$((fails + 1)); echo "(stop $i)" >>"$TEST_TMP/cycles.err"; }
done
check_eq "100 start/stop cycles succeed" 0 "$fails"
[ "$fails" = 0 ] || sed 's/^/# /' "$TEST_TMP/cycles.err"
check "no veth or bridge soon after 100 cycles" wait_for 20 no_berth_links
check "no nftables table after 100 cycles" no_berth_table
check "no entries after 100 cycles" no_entries
check "no dnsmasq after 100 cycles" no_dnsmasq_here
check_eq "no route after 100 cycles" "" "$(ip route show root 10.77.0.0/16)"
check "no network state left for this namespace" wait_for 5 test ! -e "/run/berth-network/$NETNS_COOKIE"

done_testing
