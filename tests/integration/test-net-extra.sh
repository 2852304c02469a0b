#!/bin/bash
# Bridge networking details beyond test-network.sh, in the network namespace
# lib.sh made for this test: the bridge's fixed MAC address, port forwards
# that would take over a host service, the forwarding sysctls berth may and
# may not touch, the modes of berth's network state, and IPv6 for a guest
# running systemd-networkd.
. "$(dirname "$0")/lib.sh"

# berth's state for this network namespace: /run/berth-network/COOKIE.
NETNS_COOKIE=$(python3 -c 'import socket, struct
print(struct.unpack("Q", socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8))[0])')
STATE=/run/berth-network/$NETNS_COOKIE
no_berth_links() { ! ip -o link show | grep -qE ' vb-| berth0[:@]'; }
no_berth_table() { ! nft list tables 2>/dev/null | grep -q 'inet berth'; }
# A busybox machine whose init powers off at once on SIGTERM (busybox init
# takes 2 s), so that starts and stops stay quick.
create_quick() {
        berth create "$1" --template busybox --set Machine.Init=/sbin/quickinit \
                --set Machine.PoweroffSignal=SIGTERM "${@:2}" || return 1
        printf '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 1000 & wait $!; done\n' \
                >"$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
        chmod 755 "$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
}
bridge_mac() { ip -br link show berth0 | awk '{print $3}'; }
# /sys/class/net shows the namespace sysfs was mounted in: mount our own.
sysfs_cat() { unshare -m sh -c 'mount -t sysfs sysfs /sys && cat "$1"' - "$1"; }
# The MAC address machine NAME has in its neighbour table for its gateway.
gateway_neigh() {
        berth exec "$1" -- ip neigh show 10.77.0.1 | sed -n 's/.* lladdr \([0-9a-f:]*\).*/\1/p'
}

# A known starting point: a new namespace may inherit forwarding from the
# host's (devconf_inherit), and the checks below depend on it.
echo 0 >/proc/sys/net/ipv4/ip_forward
echo 0 >/proc/sys/net/ipv6/conf/all/forwarding

for m in a b c d e; do
        check "create $m" create_quick "$m"
done

# --- a subnet the host reaches elsewhere is refused -----------------------------
ip link add hostlan type veth peer name hostlan-p
ip addr add 10.77.200.1/24 dev hostlan
ip link set hostlan up
check_output_contains "a default subnet that overlaps a host route is refused, naming both" \
        "Subnet 10.77.0.0/16 of bridge berth0 overlaps the host's route to 10.77.200.0/24 on hostlan: set another Subnet=" \
        berth start a
check_eq "and nothing runs" stopped "$(machine_state a)"
check "no bridge was made" no_berth_links
ip link del hostlan
check "with the host route gone, the machine starts" berth start a
check "stop a" berth stop a

# --- the bridge's MAC address stays put ---------------------------------------
check "start a" berth start a
MAC=$(bridge_mac)
check_eq "the bridge's address is set by berth, not taken from a port (addr_assign_type)" 3 \
        "$(sysfs_cat /sys/class/net/berth0/addr_assign_type)"
check "it is a locally administered unicast address" sh -c "[ \$(( 0x${MAC%%:*} & 3 )) = 2 ]"
check "machine a reaches its gateway" berth exec a -- ping -c 1 -W 2 10.77.0.1
check_eq "machine a's gateway neighbour entry is the bridge's MAC" "$MAC" "$(gateway_neigh a)"
changed=""
for m in b c d e; do
        berth start "$m" >/dev/null 2>&1 || not_ok "start $m"
        [ "$(bridge_mac)" = "$MAC" ] || changed="$changed start-$m:$(bridge_mac)"
done
for m in b c d e; do
        berth stop "$m" >/dev/null 2>&1 || not_ok "stop $m"
        [ "$(bridge_mac)" = "$MAC" ] || changed="$changed stop-$m:$(bridge_mac)"
done
check_eq "the bridge's MAC never changes as machines start and stop beside a" "" "$changed"
# Not refreshed first: the entry a learnt before the others came and went.
check_eq "machine a's gateway neighbour entry still is the bridge's MAC" "$MAC" "$(gateway_neigh a)"
check "stop a" berth stop a
check "no veth or bridge soon after the last stop" wait_for 20 no_berth_links

# --- a forward never takes over a host service -------------------------------
check "create f" create_quick f
mkdir -p "$TEST_TMP/www" && echo host-service >"$TEST_TMP/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$TEST_TMP/www" 18099 >/dev/null 2>&1 &
HTTP_PID=$!
fetch() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1" 2>/dev/null
}
host_service_up() { [ "$(fetch http://127.0.0.1:18099/)" = host-service ]; }
check "a host service listens on 127.0.0.1:18099" wait_for 10 host_service_up
berth start --port 18099:8000 f >"$TEST_TMP/refused" 2>&1
check "a forward of a port a host service listens on is refused" test $? -ne 0
check_output_contains "the error names the port and the listener" \
        "Host port tcp/18099 is in use: python3 \(pid $HTTP_PID\) listens on 127\.0\.0\.1:18099" cat "$TEST_TMP/refused"
check_eq "the refused machine is not running" stopped "$(machine_state f)"
check "no nftables table is left" no_berth_table
check "no veth or bridge is left" wait_for 20 no_berth_links
check_eq "the host service still answers" host-service "$(fetch http://127.0.0.1:18099/)"
kill "$HTTP_PID"
wait "$HTTP_PID" 2>/dev/null
# UDP: a bound socket on the IPv6 wildcard.
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 18098))
time.sleep(60)' &
UDP_PID=$!
check "a host service is bound to udp [::]:18098" wait_for 10 sh -c "grep -q ':46B2 .* 07 ' /proc/net/udp6"
berth start --port udp:18098:53 f >"$TEST_TMP/refused" 2>&1
check "a UDP forward of a port in use is refused too" test $? -ne 0
check_output_contains "naming that socket" \
        "Host port udp/18098 is in use: python3 \(pid $UDP_PID\) is bound to \[::\]:18098" cat "$TEST_TMP/refused"
check_eq "that machine is not running either" stopped "$(machine_state f)"
kill "$UDP_PID"
wait "$UDP_PID" 2>/dev/null
check "with the port free again, the forward is made" berth start --port 18099:8000 --port udp:18098:53 f
check_output_contains "its rules are in place" 'tcp . 18099 : 10\.77\.0\.[0-9]+ \. ' nft list table inet berth
check "stop f" berth stop f

# --- forwarding: berth turns off only what it turned on -----------------------
fwd4() { cat /proc/sys/net/ipv4/ip_forward; }
fwd6() { cat /proc/sys/net/ipv6/conf/all/forwarding; }
teardown_done() { [ ! -e "$STATE" ]; }
# Off, except on one interface (the global switch would reset it); set
# once berth's network from the runs above is gone.
check "the teardown of the machines above completes" wait_for 20 teardown_done
echo 0 >/proc/sys/net/ipv4/ip_forward
echo 0 >/proc/sys/net/ipv6/conf/all/forwarding
echo 1 >/proc/sys/net/ipv4/conf/lo/forwarding
echo 1 >/proc/sys/net/ipv6/conf/lo/forwarding
check "start a with forwarding off" berth start a
check_eq "berth turned IPv4 and IPv6 forwarding on" "1 1" "$(fwd4) $(fwd6)"
check "stop a" berth stop a
check "the teardown completes" wait_for 20 teardown_done
check_eq "berth turned IPv4 and IPv6 forwarding off again" "0 0" "$(fwd4) $(fwd6)"
check_eq "and left the host's per-interface forwarding on" "1 1" \
        "$(cat /proc/sys/net/ipv4/conf/lo/forwarding) $(cat /proc/sys/net/ipv6/conf/lo/forwarding)"
# On already (Docker, a router, another berth): left on.
echo 1 >/proc/sys/net/ipv4/ip_forward
echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
check "start a with forwarding on" berth start a
check_fails "no drop-all in berth's forward chain" sh -c "nft list chain inet berth forward | grep -q 'meta nfproto'"
check "stop a" berth stop a
check "the teardown completes" wait_for 20 teardown_done
check_eq "IPv4 and IPv6 forwarding are left on" "1 1" "$(fwd4) $(fwd6)"
echo 0 >/proc/sys/net/ipv4/ip_forward
echo 0 >/proc/sys/net/ipv6/conf/all/forwarding

# --- berth's network state is root's ------------------------------------------
DNSMASQ_DIR=/run/berth-network/dnsmasq/$NETNS_COOKIE-berth0
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
check "start a with a forward" berth start --port 18099:80 a
check "start b (its dnsmasq reads the new hosts file as an unprivileged user)" berth start b
check_eq "state dirs are 0700 root" "" "$(find "$STATE" -type d \( ! -perm 0700 -o ! -user root \) -printf '%m %u %p\n')"
check_eq "state files are 0600 root" "" "$(find "$STATE" -type f \( ! -perm 0600 -o ! -user root \) -printf '%m %u %p\n')"
check_output_contains "there are machine entries to protect" "ADDRESS=" sh -c "cat '$STATE'/berth0/machines/*"
check_eq "dnsmasq's dir is root's, readable by its group only" "750 root" "$(stat -c '%a %U' "$DNSMASQ_DIR")"
check_eq "its hosts dir is root's, for dnsmasq's group only (set-group-ID)" "2750 root" \
        "$(stat -c '%a %U' "$DNSMASQ_DIR/hosts.d")"
check_eq "its hosts files are for dnsmasq's group only" "640 root 640 root" \
        "$(stat -c '%a %U' "$DNSMASQ_DIR"/hosts.d/* | tr '\n' ' ' | sed 's/ $//')"
check_output_contains "and b's has b's address" ",$(addr_of b)(,|\$)" sh -c "cat '$DNSMASQ_DIR'/hosts.d/b@*"
check_output_contains "b asking for DHCP gets its address (dnsmasq could read the new hosts file)" \
        "lease of $(addr_of b) obtained" berth exec b -- udhcpc -i host0 -n -q -f -s /bin/true
check "stop a" berth stop a
check "stop b" berth stop b
check "the teardown completes" wait_for 20 teardown_done
check "dnsmasq's dir is gone too" test ! -e "$DNSMASQ_DIR"

# --- IPv6 for a guest running systemd-networkd -----------------------------------
# Debian's 80-container-host0.network asks for DHCP on host0, v4 and v6, and
# follows router advertisements: the guest must end up with the address
# berth gave it (and status shows), and no other.
check "create deb from the Debian template" online "$BERTH" create deb --template debian
R=$BERTH_ROOT/machines/deb/rootfs
check "enable systemd-networkd in it" chroot "$R" systemctl enable systemd-networkd
# A tiny server on port 80: systemd's socket activation, one echo per connection.
printf '[Socket]\nListenStream=80\nAccept=yes\n[Install]\nWantedBy=sockets.target\n' >"$R/etc/systemd/system/hello.socket"
printf '[Service]\nExecStart=/bin/echo hello-from-deb\nStandardOutput=socket\n' >"$R/etc/systemd/system/hello@.service"
check "and a server on port 80" chroot "$R" systemctl enable hello.socket
check "start deb with a forward" berth start --port tcp:18081:80 deb
wait_for 60 "$BERTH" exec deb -- test -S /run/systemd/private
check_eq "systemd is up" running "$(timeout 120 "$BERTH" exec deb -- systemctl is-system-running --wait 2>&1)"
# The guest's global IPv6 addresses on host0, from /proc/net/if_inet6 (scope
# 00); with "leased", only those with a lifetime (no IFA_F_PERMANENT, 0x80):
# berth configures its address permanent, networkd's DHCPv6 client gives
# it the lease's lifetime when it takes it over.
guest_addr6() {
        berth exec deb -- cat /proc/net/if_inet6 |
                python3 -c 'import ipaddress, sys
leased = len(sys.argv) > 1
print(" ".join(sorted(str(ipaddress.IPv6Address(bytes.fromhex(f[0]))) for f in map(str.split, sys.stdin)
                      if f[5] == "host0" and f[3] == "00" and not (leased and int(f[4], 16) & 0x80))))' "$@"
}
ADDR6=$(berth list --json | jq -r '.[] | select(.name == "deb") | .addresses[1]')
check_output_contains "status shows an IPv6 address" '^fd62:6572:7468::[0-9a-f]+$' echo "$ADDR6"
leased_is_status() { [ "$(guest_addr6 leased)" = "$ADDR6" ]; }
check "networkd's DHCPv6 client takes that address over" wait_for 30 leased_is_status
# Over ::1: the supervisor's relay, to the address status shows.
fetch_raw() {
        python3 -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.decode().strip())' "$@" 2>/dev/null
}
check_eq "the guest holds exactly that global IPv6 address (no SLAAC one beside it)" "$ADDR6" "$(guest_addr6)"
check_eq "the forward answers on ::1" hello-from-deb "$(fetch_raw ::1 18081)"
check "restart the guest's networkd" berth exec deb -- systemctl restart systemd-networkd
check "networkd takes the address over again" wait_for 30 leased_is_status
check_eq "the guest still holds exactly the address status shows" "$ADDR6" "$(guest_addr6)"
check_eq "status still shows it" "$ADDR6" "$(berth list --json | jq -r '.[] | select(.name == "deb") | .addresses[1]')"
check_eq "the forward still answers on ::1" hello-from-deb "$(fetch_raw ::1 18081)"
check_eq "and on 127.0.0.1" hello-from-deb "$(fetch_raw 127.0.0.1 18081)"
check "stop deb" berth stop deb

done_testing
