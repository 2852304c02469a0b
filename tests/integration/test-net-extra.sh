#!/bin/bash
# Bridge networking details beyond test-network.sh, in the network namespace
# lib.sh made for this test: the bridge's fixed MAC address, port forwards
# that would take over a host service, the forwarding sysctls berth may and
# may not touch, the modes of berth's network state, and IPv6 for a guest
# running systemd-networkd.
. "$(dirname "$0")/lib.sh"

BB="busybox"
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
# The MAC address machine NAME has for its gateway (after a ping).
gateway_neigh() {
        berth exec "$1" -- ping -c 1 -W 2 10.77.0.1 >/dev/null 2>&1
        berth exec "$1" -- ip neigh show 10.77.0.1 | sed -n 's/.* lladdr \([0-9a-f:]*\).*/\1/p'
}

# A known starting point: a new namespace may inherit forwarding from the
# host's (devconf_inherit), and the checks below depend on it.
echo 0 >/proc/sys/net/ipv4/ip_forward
echo 0 >/proc/sys/net/ipv6/conf/all/forwarding

for m in a b c d e; do
        check "create $m" create_quick "$m"
done

# --- the bridge's MAC address stays put ---------------------------------------
check "start a" berth start a
MAC=$(bridge_mac)
check_eq "the bridge's address is set by berth, not taken from a port (addr_assign_type)" 3 \
        "$(sysfs_cat /sys/class/net/berth0/addr_assign_type)"
check "it is a locally administered unicast address" sh -c "[ \$(( 0x${MAC%%:*} & 3 )) = 2 ]"
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
check_eq "machine a's gateway neighbour entry still is the bridge's MAC" "$MAC" "$(gateway_neigh a)"
check "stop a" berth stop a
check "no veth or bridge soon after the last stop" wait_for 20 no_berth_links

done_testing
