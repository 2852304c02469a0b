#!/bin/bash
# The default address plan past a /24: more than 253 machines on the default
# bridge, each with its own address, reachable from the host and from each
# other; a full pool says which setting to change.  In the network namespace
# lib.sh made for this test.
. "$(dirname "$0")/lib.sh"

N=${BERTH_FLEET_NET:-260}
# Under ASan every supervisor keeps what it freed (the quarantine, and the
# allocator's caches) after the rule rebuilds of a growing fleet: some 1.2 MB
# more per machine running, 40 GB for this fleet, where the plain build stays
# at 3 MB each.  For this test alone: no quarantine, freed memory released.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
ASAN_OPTIONS+=":allocator_release_to_os_interval_ms=0:malloc_context_size=2"
# Busybox machines whose init powers off at once on SIGTERM.
create_quick() {
        "$BERTH" create "$1" --template busybox --set Machine.Init=/sbin/quickinit \
                --set Machine.PoweroffSignal=SIGTERM "${@:2}" >/dev/null || return 1
        printf '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 1000 & wait $!; done\n' \
                >"$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
        chmod 755 "$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
}
addr_of() { berth status --json "$1" | jq -r '.addresses[0] // empty'; }

failed=""
for i in $(seq 1 "$N"); do
        create_quick "f$i" || failed="$failed create-f$i"
done
check_eq "$N machines created" "" "$failed"
failed=""
for i in $(seq 1 "$N"); do
        "$BERTH" start "f$i" >/dev/null 2>"$TEST_TMP/start.err" || { failed="$failed f$i"; cat "$TEST_TMP/start.err" >&2; }
done
check_eq "all $N start on the default bridge" "" "$failed"

berth list --json | jq -r '.[] | .addresses[0] // empty' | sort > "$TEST_TMP/addrs"
check_eq "each has an IPv4 address" "$N" "$(grep -c '^10\.77\.' "$TEST_TMP/addrs")"
check_eq "all different" "$N" "$(sort -u "$TEST_TMP/addrs" | wc -l)"
if [ "$N" -gt 253 ]; then
        check "some are past the first /24 (10.77.1.x and up)" grep -qv '^10\.77\.0\.' "$TEST_TMP/addrs"
fi
check_eq "and all within 10.77.0.0/16" "" "$(grep -v '^10\.77\.[0-9]*\.[0-9]*$' "$TEST_TMP/addrs")"
last=$(addr_of "f$N")
first=$(addr_of f1)
check "the host reaches the last machine ($last)" busybox ping -c 1 -W 2 "$last"
check "the first machine reaches the last" berth exec f1 -- ping -c 1 -W 2 "$last"
check "and the last the first ($first)" berth exec "f$N" -- ping -c 1 -W 2 "$first"
check_eq "the bridge has a port per machine" "$N" "$(ip -o link show master berth0 | wc -l)"

# A full pool: a /29 has the gateway and five machines.
for m in p1 p2 p3 p4 p5 p6; do
        create_quick "$m" --set Network.Bridge=br-small --set Network.Subnet=10.79.0.0/29 \
                --set Network.IPv6Subnet=fd00:79::/64 || not_ok "create $m"
done
failed=""
for m in p1 p2 p3 p4 p5; do berth start "$m" >/dev/null 2>&1 || failed="$failed $m"; done
check_eq "five machines fill a /29" "" "$failed"
check_output_contains "the sixth is refused, naming the setting to change" \
        "No free address left in 10.79.0.0/29 for machine p6: use a larger Subnet=" berth start p6
check_eq "and does not run" stopped "$(machine_state p6)"
for m in p1 p2 p3 p4 p5; do berth stop "$m" >/dev/null 2>&1; done

failed=""
for i in $(seq 1 "$N"); do "$BERTH" stop "f$i" >/dev/null 2>&1 || failed="$failed f$i"; done
check_eq "all stop" "" "$failed"
# The kernel destroys a stopped machine's network namespace, and with it
# the veth pair, from a work queue: a moment after the stop returns.
check "no veth left" wait_for 20 sh -c "! ip -o link show | grep -q ' vb-'"
done_testing
