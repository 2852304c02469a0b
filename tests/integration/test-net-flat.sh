#!/bin/bash
# A start or stop changes only its own machine's part of the network
# (issue 22, "costs that stay flat"): its dnsmasq hosts file (one per
# machine in hosts.d) and its nftables map and set elements; the tables are
# rebuilt whole only when they must be (rules removed behind berth's back,
# a crashed supervisor's leftovers), and nothing of a stopped or crashed
# machine stays behind: a crashed one's address, forwards, filter elements
# and hosts file are reclaimed when another machine wants them, without a
# gc, or by gc.  In the network namespace lib.sh made for this test.
. "$(dirname "$0")/lib.sh"

NETNS_COOKIE=$(python3 -c 'import socket, struct
print(struct.unpack("Q", socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8))[0])')
HOSTS=/run/berth-network/dnsmasq/$NETNS_COOKIE-berth0/hosts.d
NSDIR=/run/berth-network/$NETNS_COOKIE
STATE=$NSDIR/nft-state
# Machine NAME's record of its elements (one file per machine), and its claims.
nft_record() { cat "$NSDIR"/@nft/"$1"@* 2>/dev/null; }
claims_of() { for l in "$NSDIR"/@claims/*; do [ "$(readlink "$l" | sed 's|.*/||; s|@.*||')" = "$1" ] && basename "$l"; done; true; }
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
# The number of hosts.d files, and the one line of machine NAME's file.
hosts_count() { find "$HOSTS" -maxdepth 1 -type f ! -name '.*' | wc -l; }
hosts_line() { cat "$HOSTS"/"$1"@* 2>/dev/null; }
veth_of() { ip -o link show | grep -o "vb-$1[^:@]*" | head -1; }

for m in a b c; do
        check "create $m" berth create "$m" --template busybox
done
check "start a with a port forward" berth start --port tcp:18081:80 a
check "start b" berth start b
A=$(addr_of a) B=$(addr_of b)
check_eq "one hosts file per machine" 2 "$(hosts_count)"
check_output_contains "a's hosts file holds a's address" ",$A,\[" hosts_line a
check_output_contains "b's hosts file holds b's address" ",$B,\[" hosts_line b
check "dnsmasq reads the hosts dir, no single hosts file" \
        sh -c "tr '\0' ' ' </proc/\$(cat $HOSTS/../pid)/cmdline | grep -q -- '--dhcp-hostsdir=$HOSTS'"
check_output_contains "a's forward is in the map" "tcp \. 18081 : $A \. 80" nft list map inet berth forward4
VA=$(veth_of a) VB=$(veth_of b)
check_output_contains "a's port is in the filter's set" "\"$VA\"" nft list set bridge berth ports
check_output_contains "b's port is in the filter's set" "\"$VB\"" nft list set bridge berth ports
check_output_contains "the state records a's elements" "delete element inet berth forward4 \{ tcp \. 18081 \}" nft_record a
check_output_contains "the state records b's elements" "delete element bridge berth ports" nft_record b
check_output_contains "a claims its port" "^tcp:18081$" claims_of a
check_output_contains "a claims its address" "^ip:$A$" claims_of a

# A start adds c's elements, and leaves a's and b's as they are.
check "start c" berth start c
C=$(addr_of c) VC=$(veth_of c)
check_eq "three hosts files" 3 "$(hosts_count)"
check_output_contains "c's address is in the filter" "\"$VC\" \. $C" nft list set bridge berth port_ip4
check_output_contains "a's forward is still in the map" "tcp \. 18081 : $A \. 80" nft list map inet berth forward4

# A stop takes out only its own: file, forward, filter elements.
check "stop a" berth stop a
check_eq "a's hosts file is gone, b's and c's stay" "2 yes yes" \
        "$(hosts_count) $([ -n "$(hosts_line b)" ] && echo yes) $([ -n "$(hosts_line c)" ] && echo yes)"
check_fails "a's forward left the map" sh -c "nft list map inet berth forward4 | grep -q 18081"
check_fails "a's port left the filter" sh -c "nft list set bridge berth ports | grep -q '\"$VA\"'"
check_output_contains "b's port is still filtered" "\"$VB\"" nft list set bridge berth ports
check_eq "the state no longer records a" "" "$(nft_record a)"
check_eq "a's claims are gone" "" "$(claims_of a)"

# Rules removed behind berth's back: the next start finds the change
# refused and rebuilds the tables whole, with every machine's elements.
check "delete berth's tables" sh -c "nft delete table inet berth && nft delete table bridge berth"
check "start a again, with its forward" berth start --port tcp:18081:80 a
A=$(addr_of a)
check_output_contains "a's forward is back" "tcp \. 18081 : $A \. 80" nft list map inet berth forward4
for v in "$VB" "$VC"; do
        check_output_contains "port $v is filtered again" "\"$v\"" nft list set bridge berth ports
done
check_output_contains "b can reach c" "0% packet loss" berth exec b -- ping -c 1 -W 3 "$C"

# A SIGKILLed supervisor, and no gc: what it held (port, address, veth
# name) comes free when another start wants it, with its elements, hosts
# file and claims; the machine itself starts again on its old address.
sup=$(berth list --json | jq -r '.[] | select(.name == "a") | .supervisor')
check "kill a's supervisor" kill -KILL "$sup"
check "a is stopped" wait_for 10 is_stopped a
check "create d" berth create d --template busybox
check "d takes the port of a's dead supervisor, no gc" berth start --port tcp:18081:80 d
D=$(addr_of d)
check_output_contains "the forward is d's now" "tcp \. 18081 : $D \. 80" nft list map inet berth forward4
check_eq "a's hosts file is gone" "" "$(hosts_line a)"
check_eq "a's record of elements is gone" "" "$(nft_record a)"
check_eq "a's claims are gone" "" "$(claims_of a)"
check_fails "a's port left the filter" sh -c "nft list set bridge berth ports | grep -q '\"$VA\"'"
check "create e" berth create e --template busybox
check_fails "a port a running machine (d) holds is refused" berth start --port tcp:18081:80 e
check_fails "e's refused start left no claim" sh -c "ls -l $NSDIR/@claims | grep -q '/e@'"
check "a starts again" berth start a
check_eq "a has its old address again" "$A" "$(addr_of a)"
check_output_contains "a's port is filtered again" "\"$VA\"" nft list set bridge berth ports
check "stop d" berth stop d

# A SIGKILLed supervisor: the next sync (gc) drops its file and elements.
sup=$(berth list --json | jq -r '.[] | select(.name == "a") | .supervisor')
check "kill a's supervisor" kill -KILL "$sup"
check "a is stopped" wait_for 10 is_stopped a
check "gc" berth gc
check_fails "a's hosts file is gone after gc" sh -c "ls $HOSTS/a@* 2>/dev/null | grep -q ."
check_fails "a's port is gone from the filter after gc" sh -c "nft list set bridge berth ports | grep -q '\"$VA\"'"
check_eq "the state no longer records a after gc" "" "$(nft_record a)"
check_eq "no claims of a after gc" "" "$(claims_of a)"
check_output_contains "b's port is still filtered after gc" "\"$VB\"" nft list set bridge berth ports

# The bridge's last live machine stops while a dead one's entry is left
# (no gc): the bridge, its rules and state go all the same.
sup=$(berth list --json | jq -r '.[] | select(.name == "c") | .supervisor')
check "kill c's supervisor" kill -KILL "$sup"
check "c is stopped" wait_for 10 is_stopped c
check "stop b" berth stop b
check "no nftables table after the last stop" wait_for 20 sh -c "! nft list tables | grep -q 'inet berth'"
check "no bridge after the last stop" wait_for 20 sh -c "! ip link show berth0 2>/dev/null | grep -q ."
check "no dnsmasq after the last stop" wait_for 20 test ! -e "$HOSTS"
check "no state left" wait_for 20 sh -c "test ! -e $STATE && test ! -e $NSDIR/@nft && test ! -e $NSDIR/@claims"
done_testing
