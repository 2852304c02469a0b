#!/bin/bash
# One network over several bridges: with MachinesPerBridge=8, 20 machines
# on the default network fill berth0 and berth1 and spill onto berth2, each
# bridge a /28 of 10.77.0.0/16 and a /64 of its own; every machine is
# reachable from the host and from machines on other bridges, a port
# forward reaches a machine on berth1, a stop frees a place that the next
# start takes, an emptied bridge goes, a host route in the network is
# refused, and a network whose bridges are all full says which setting to
# change.  In the network namespace lib.sh made for this test.
. "$(dirname "$0")/lib.sh"

N=20
PER=8
# Busybox machines whose init powers off at once on SIGTERM.
create_quick() {
        "$BERTH" create "$1" --template busybox --set Machine.Init=/sbin/quickinit \
                --set Machine.PoweroffSignal=SIGTERM --set Network.MachinesPerBridge=$PER "${@:2}" >/dev/null 2>"$TEST_TMP/create.err" || {
                cat "$TEST_TMP/create.err" >&2
                return 1
        }
        printf '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 1000 & wait $!; done\n' \
                >"$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
        chmod 755 "$BERTH_ROOT/machines/$1/rootfs/sbin/quickinit"
}
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
addr6_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[1] // empty'; }
ports_of() { ip -o link show master "$1" 2>/dev/null | wc -l; }
fetch() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1" 2>/dev/null
}
no_link() { ! ip link show "$1" >/dev/null 2>&1; }

failed=""
for i in $(seq 1 "$N"); do
        extra=()
        # The ninth machine is the first on berth1: it gets a port forward.
        [ "$i" = 9 ] && extra=(--set Network.Port=tcp:18080:80)
        create_quick "s$i" "${extra[@]}" || failed="$failed create-s$i"
done
check_eq "$N machines created" "" "$failed"

# A host route inside the network (a LAN on 10.77.0.32/28, berth2's slice):
# refused on the first start, naming the route; nothing runs.
ip link add hostlan type veth peer name hostlan-p
ip addr add 10.77.0.33/28 dev hostlan
ip link set hostlan up
check_output_contains "a host route inside the network is refused, naming it and the setting" \
        "Subnet 10.77.0.0/16 of bridge berth0 overlaps the host's route to 10.77.0.32/28 on hostlan: set another Subnet=" \
        berth start s1
check_eq "and the machine does not run" stopped "$(machine_state s1)"
ip link del hostlan

failed=""
for i in $(seq 1 "$N"); do
        "$BERTH" start "s$i" >/dev/null 2>"$TEST_TMP/start.err" || { failed="$failed s$i"; cat "$TEST_TMP/start.err" >&2; }
done
check_eq "all $N start on the default network" "" "$failed"
check_eq "berth0 has $PER ports" "$PER" "$(ports_of berth0)"
check_eq "berth1 has $PER ports" "$PER" "$(ports_of berth1)"
check_eq "berth2 has the other $((N - 2 * PER))" "$((N - 2 * PER))" "$(ports_of berth2)"
check "no berth3" no_link berth3
check_output_contains "berth1 is the second /28 of the network" "inet 10\.77\.0\.17/28" ip -4 addr show berth1
check_output_contains "berth2 the third" "inet 10\.77\.0\.33/28" ip -4 addr show berth2
check_output_contains "and berth2 has a /64 of its own" "inet6 fd62:6572:7468:2::1/64" ip -6 addr show berth2

berth list --json | jq -r '.[] | .addresses[0] // empty' | sort > "$TEST_TMP/addrs"
check_eq "each has an IPv4 address" "$N" "$(grep -c '^10\.77\.0\.' "$TEST_TMP/addrs")"
check_eq "all different" "$N" "$(sort -u "$TEST_TMP/addrs" | wc -l)"
A0=$(addr_of s1) A1=$(addr_of s9) A2=$(addr_of s20)
A2_6=$(addr6_of s20) A0_6=$(addr6_of s1)
check_output_contains "s1 is on berth0's slice ($A0)" '^10\.77\.0\.([2-9]|1[0-4])$' echo "$A0"
check_output_contains "s9 is on berth1's slice ($A1)" '^10\.77\.0\.(1[89]|2[0-9]|30)$' echo "$A1"
check_output_contains "s20 is on berth2's slice ($A2)" '^10\.77\.0\.(3[4-9]|4[0-6])$' echo "$A2"
check_output_contains "with a /28 and a default route via its bridge's gateway" "default via 10\.77\.0\.33" \
        berth exec s20 -- ip route
check "the host reaches a machine on berth0" busybox ping -c 1 -W 2 "$A0"
check "the host reaches a machine on berth1" busybox ping -c 1 -W 2 "$A1"
check "the host reaches a machine on berth2" busybox ping -c 1 -W 2 "$A2"
check "a machine on berth0 reaches one on berth2" berth exec s1 -- ping -c 1 -W 2 "$A2"
check "and back" berth exec s20 -- ping -c 1 -W 2 "$A0"
check "a machine on berth2 reaches one on berth1" berth exec s20 -- ping -c 1 -W 2 "$A1"
# berth2 is new: its link-local address, which the host's neighbour
# discovery there needs, may still be in duplicate address detection (a
# second or two): reached within 10 s.
check "over IPv6 too ($A0_6 to $A2_6)" wait_for 10 berth exec s1 -- ping6 -c 1 -W 2 "$A2_6"
# Routed, not masqueraded: the peer sees the sender's own address.
berth exec s20 -- sh -c 'mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" > /www/cgi-bin/ip && chmod 755 /www/cgi-bin/ip && httpd -p 80 -h /www'
# (httpd writes an IPv4 peer as [::ffff:ADDRESS].)
check_output_contains "a machine on another bridge is seen with its own address (routed, not masqueraded)" \
        "^\[?(::ffff:)?${A0//./\\.}\]?\$" \
        berth exec s1 -- sh -c "printf 'GET /cgi-bin/ip HTTP/1.0\r\n\r\n' | nc -w 3 $A2 80 | tail -n 1"

berth exec s9 -- sh -c "mkdir -p /www && echo hello-from-s9 > /www/index.html && httpd -p 80 -h /www"
check_eq "a port forward to a machine on berth1 answers on the host" hello-from-s9 "$(fetch http://127.0.0.1:18080/)"
check_eq "and from a machine on berth2" hello-from-s9 \
        "$(berth exec s20 -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 10.77.0.33 18080 | tail -n 1")"

# A stop frees a place on berth0: the next machine takes it, not berth2's.
check "stop s3 (berth0)" berth stop s3
check_eq "berth0 has a free port" "$((PER - 1))" "$(ports_of berth0)"
create_quick s21 || not_ok "create s21"
check "start s21" berth start s21
check_eq "s21 fills berth0 again" "$PER" "$(ports_of berth0)"
check_eq "berth2 did not grow" "$((N - 2 * PER))" "$(ports_of berth2)"
# s3 keeps its address where it can: berth0 is full now, so it goes on berth2.
check "s3 starts again" berth start s3
check_eq "on berth2" "$((N - 2 * PER + 1))" "$(ports_of berth2)"

# Emptied bridges go (after the linger of direct mode), the others stay.
failed=""
for i in 17 18 19 20 3; do "$BERTH" stop "s$i" >/dev/null 2>&1 || failed="$failed s$i"; done
check_eq "stop all machines on berth2" "" "$failed"
check "berth2 is removed once empty" wait_for 30 no_link berth2
check_eq "berth0 and berth1 stay with their machines" "$PER $PER" "$(ports_of berth0) $(ports_of berth1)"
check "and still reach each other" berth exec s1 -- ping -c 1 -W 2 "$A1"

# All bridges of a network full: a /29 cut into /30s is two bridges of one
# machine each.
for m in x1 x2 x3; do
        create_quick "$m" --set Network.Bridge=bx0 --set Network.Subnet=10.79.0.0/29 \
                --set Network.IPv6Subnet=fd00:79::/64 --set Network.MachinesPerBridge=1 || not_ok "create $m"
done
check "x1 starts on bx0" berth start x1
check "x2 starts on bx1" berth start x2
check_eq "one machine each" "1 1" "$(ports_of bx0) $(ports_of bx1)"
check_output_contains "the third is refused, naming the setting to change" \
        "All 2 bridges of Subnet=10.79.0.0/29 \(from bx0 on\) have MachinesPerBridge=1 machines: raise MachinesPerBridge=" \
        berth start x3
check_eq "and does not run" stopped "$(machine_state x3)"
check "no bx2 was made" no_link bx2

# A bridge that is not berth's (a LAN bridge) is only plugged into, never cut
# into slices or spilled over from.
ip link add lanbr type bridge
ip link set lanbr up
create_quick lan1 --set Network.Bridge=lanbr || not_ok "create lan1"
check "a machine starts on somebody else's bridge" berth start lan1
check_eq "its veth is on that bridge" 1 "$(ports_of lanbr)"
check "stop lan1" berth stop lan1
check "the bridge stays (not berth's)" ip link show lanbr
ip link del lanbr

failed=""
for m in $(berth list --json | jq -r '.[] | select(.state == "running") | .name'); do
        "$BERTH" stop "$m" >/dev/null 2>&1 || failed="$failed $m"
done
check_eq "all stop" "" "$failed"
# The kernel destroys a stopped machine's network namespace, and with it
# the veth pair, from a work queue: a moment after the stop returns.
check "no veth left" wait_for 20 sh -c "! ip -o link show | grep -q ' vb-'"
check "no bridge left" wait_for 30 sh -c "! ip -o link show | grep -qE ' (berth[0-9]|bx[0-9])[:@]'"
done_testing
