#!/bin/bash
# [Network] Mode=cni with Debian's containernetworking-plugins, inside the
# network namespace lib.sh made for this test, with a CNI config dir, plugin
# dir and host-local data dir of its own (nothing under /etc/cni, /var/lib/cni
# or /opt/cni is read or written): a bridge + host-local + portmap list
# (1.0.0), macvlan on a dummy link (0.4.0), CHECK, DEL at stop and after a
# killed supervisor, and plugins that fail, print garbage, hang or are missing.
. "$(dirname "$0")/lib.sh"

PLUGINS=/usr/lib/cni
if [ ! -x "$PLUGINS/bridge" ] || [ ! -x "$PLUGINS/host-local" ]; then
        echo "1..0 # SKIP containernetworking-plugins is not installed"
        exit 0
fi

CNI=$TEST_TMP/cni
mkdir -p "$CNI/net.d" "$CNI/bin" "$CNI/ipam"
cat >"$BERTH_ROOT/berth.conf" <<EOF
[Network]
CNIConfigDirectory=$CNI/net.d
CNIPluginDirectory=$CNI/bin:$PLUGINS
CNITimeoutSec=3
EOF

# bridge + host-local + portmap: 10.99.0.0/24 on cnibr0, DNS in the result.
cat >"$CNI/net.d/10-cnitest.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "cnitest", "plugins": [
  { "type": "bridge", "bridge": "cnibr0", "isGateway": true, "ipMasq": false,
    "ipam": { "type": "host-local", "dataDir": "$CNI/ipam",
              "ranges": [[{ "subnet": "10.99.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] },
    "dns": { "nameservers": ["10.99.0.1"], "search": ["cni.test"] } },
  { "type": "portmap", "capabilities": { "portMappings": true } },
  { "type": "fdcheck" } ] }
EOF
# The same bridge without portmap, for CHECK: Debian's portmap (1.1.1) fails
# CHECK on an IPv4-only result (containernetworking/plugins#819).
cat >"$CNI/net.d/11-plain.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "plain", "plugins": [
  { "type": "bridge", "bridge": "cnibr0", "isGateway": true,
    "ipam": { "type": "host-local", "dataDir": "$CNI/ipam", "ranges": [[{ "subnet": "10.99.0.0/24" }]] } } ] }
EOF
# A plugin of the test's: passes the result on, and records the fds it got.
cat >"$CNI/bin/fdcheck" <<EOF
#!/bin/bash
# First, before this shell opens anything of its own (255: the script).
[ "\$CNI_COMMAND" = ADD ] && ls /proc/\$\$/fd >"$CNI/fds"
input=\$(cat)
if [ "\$CNI_COMMAND" = ADD ]; then
        echo "\$CNI_IFNAME \$CNI_NETNS \$CNI_CONTAINERID \$CNI_PATH" >"$CNI/env"
fi
if [ "\$CNI_COMMAND" = ADD ]; then jq -c .prevResult <<<"\$input"; fi
exit 0
EOF
# macvlan on a parent link of the test's own (a veth: not every kernel has
# the dummy driver), a 0.4.0 list in a single-plugin .conf.
ip link add cniparent0 type veth peer name cniparent1 && ip link set cniparent0 up
cat >"$CNI/net.d/20-mv.conf" <<EOF
{ "cniVersion": "0.4.0", "name": "mv", "type": "macvlan", "master": "cniparent0", "mode": "bridge",
  "ipam": { "type": "host-local", "dataDir": "$CNI/ipam", "ranges": [[{ "subnet": "10.98.0.0/24" }]] } }
EOF
# Lists with a bad plugin after the bridge: what bridge added must go again.
bad_list() {
        cat >"$CNI/net.d/30-$1.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "$1", "plugins": [
  { "type": "bridge", "bridge": "cnibr1", "ipam": { "type": "host-local", "dataDir": "$CNI/ipam",
    "ranges": [[{ "subnet": "10.97.0.0/24" }]] } },
  { "type": "$2" } ] }
EOF
}
bad_list failing failer
bad_list garbled garbler
bad_list hanging hanger
bad_list missing nosuch
bad_list escaping ../../bin/true
# Plugins that go wrong at ADD (and DEL nothing).
cat >"$CNI/bin/failer" <<'EOF'
#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] || exit 0
echo '{"cniVersion":"1.0.0","code":100,"msg":"failer says no"}'
exit 1
EOF
cat >"$CNI/bin/garbler" <<'EOF'
#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] || exit 0
echo "this is not JSON"
EOF
cat >"$CNI/bin/hanger" <<EOF
#!/bin/sh
cat >/dev/null
[ "\$CNI_COMMAND" = ADD ] || exit 0
echo \$\$ >"$CNI/hanger.pid"
exec sleep 600
EOF
chmod +x "$CNI/bin/"*

addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
# host-local's reservations: one file per address in its dataDir.
leases() {
        local f
        for f in "$CNI/ipam/$1"/[0-9]*; do [ -e "$f" ] && echo "${f##*/}"; done
}
no_leases() { [ -z "$(leases "$1")" ]; }
no_veths() { ! ip -o link show type veth | grep -qv cniparent; }
supervisor_pid() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .supervisor'; }
fetch() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1" 2>/dev/null
}

for m in a b; do
        check "create $m on network cnitest (--network cni:cnitest)" berth create "$m" --template busybox \
                --network cni:cnitest
done
check_output_contains "machine.conf says so" '^CNINetwork=cnitest$' cat "$BERTH_ROOT/machines/a/machine.conf"
check_output_contains "--network with a bad name is refused" 'not a valid CNI network name' \
        berth create bad --template busybox --network 'cni:a/b'

# --- bridge + host-local + portmap --------------------------------------------
check "start a with a port forward through portmap" berth start a --port 8080:80
check "start b" berth start b
A=$(addr_of a) B=$(addr_of b)
check_output_contains "a has an address from the range" '^10\.99\.0\.[0-9]+$' echo "$A"
check_output_contains "b has another" '^10\.99\.0\.[0-9]+$' echo "$B"
if [ -n "$A" ] && [ "$A" != "$B" ]; then ok "distinct addresses ($A, $B)"; else not_ok "a: $A, b: $B"; fi
check_output_contains "host-local reserved a's address" "^$A\$" leases cnitest
check_output_contains "the guest's host0 has it" "inet $A/24" berth exec a -- ip addr show host0
check_output_contains "the default route from the result" 'default via 10\.99\.0\.1' berth exec a -- ip route
check_output_contains "resolv.conf from the result's DNS" '^nameserver 10\.99\.0\.1$' berth exec a -- cat /etc/resolv.conf
check_output_contains "and its search domains" '^search cni\.test$' berth exec a -- cat /etc/resolv.conf
check_output_contains "status shows the address" "Address: $A" berth status a
check_output_contains "and the network" "Network: CNI network cnitest \\($CNI/net.d\\)" berth status a
check_output_contains "list shows it" "^a .* $A" berth list
check "host pings machine a" busybox ping -c 1 -W 2 "$A"
check "machine a pings machine b" berth exec a -- ping -c 1 -W 2 "$B"
check_output_contains "the plugin got CNI_IFNAME, CNI_NETNS, CNI_CONTAINERID, CNI_PATH" \
        "^host0 /proc/[0-9]+/fd/[0-9]+ berth-b-[0-9a-f]+ $CNI/bin:$PLUGINS\$" cat "$CNI/env"
check_eq "the plugin inherited no fd of berth's beyond stdio" "0 1 2 255" "$(sort -n "$CNI/fds" | xargs)"
check "a web server in machine a" berth exec a -- sh -c "mkdir -p /www && echo hello-cni > /www/index.html && httpd -p 80 -h /www"
check_eq "the portmap forward answers from the host side" hello-cni "$(fetch http://10.99.0.1:8080/)"
check "create c on network plain" berth create c --template busybox --set Network.Mode=cni --set Network.CNINetwork=plain
check "start c" berth start c
check_output_contains "status --check runs the plugins' CHECK" 'CHECK passed \(1 plugin\)' berth status --check c
check "flush c's host0 addresses inside" berth exec c -- ip addr flush dev host0
check_fails "status --check notices" berth status --check c
check_output_contains "and names the plugin" 'plugin bridge .*CHECK failed' berth status --check c
check "stop c" berth stop c

# --- a reboot: DEL of the old namespace's attachment, ADD for the new one ------
check "reboot b" berth reboot b
b_booted_twice() { [ "$(boots b)" = 2 ] && is_running b; }
check "b comes back" wait_for 30 b_booted_twice
B=$(addr_of b)
check_output_contains "b has an address again" '^10\.99\.0\.[0-9]+$' echo "$B"
check_eq "host-local holds two leases (a's and b's), not three" 2 "$(leases cnitest | wc -l)"
check "machine a pings machine b after its reboot" berth exec a -- ping -c 1 -W 2 "$B"

# --- DEL at stop ----------------------------------------------------------------
check "stop a" berth stop a
check "its address is released (host-local)" bash -c "! leases cnitest | grep -qx '$A'"
check "portmap's rules for it are gone" bash -c "! iptables-save 2>/dev/null | grep -q 'berth-a-'"
check_fails "status --check of a stopped machine fails" berth status --check a

# --- a killed supervisor: DEL at berth gc ----------------------------------------
check "restart a" berth start a
A=$(addr_of a)
pid=$(supervisor_pid a)
kill -9 "$pid"
wait_for 10 is_stopped a
check_output_contains "a killed supervisor leaves the address reserved" "^$A\$" leases cnitest
check "berth gc" berth gc
check "after berth gc its address is released" bash -c "! leases cnitest | grep -qx '$A'"
check "berth stop b" berth stop b
check "no lease is left" no_leases cnitest
check "no veth is left" no_veths

# --- and at the next start -----------------------------------------------------
check "start a again" berth start a
pid=$(supervisor_pid a)
kill -9 "$pid"
wait_for 10 is_stopped a
check "start a after its supervisor was killed" berth start a
check_eq "one lease, the new one's" "$(addr_of a)" "$(leases cnitest)"
check "stop a" berth stop a
check "no lease left" no_leases cnitest

# --- and at rm ------------------------------------------------------------------
check "start b" berth start b
pid=$(supervisor_pid b)
kill -9 "$pid"
wait_for 10 is_stopped b
check "rm b after its supervisor was killed" berth rm b
check "rm gave its address back" no_leases cnitest
check "create b again" berth create b --template busybox --network cni:cnitest
check "start b" berth start b
check "rm --force of the running b" berth rm --force b
check "gives its address back too" no_leases cnitest

# --- macvlan, a 0.4.0 .conf ----------------------------------------------------
check "create m on the macvlan network" berth create m --template busybox --set Network.Mode=cni --set Network.CNINetwork=mv
check "start m" berth start m
check_output_contains "m has an address from the macvlan range" '^10\.98\.0\.[0-9]+$' addr_of m
leader=$(berth list --json | jq -r '.[] | select(.name == "m") | .leader')
check_output_contains "its host0 is a macvlan" 'macvlan' nsenter --net=/proc/"$leader"/ns/net ip -d link show host0
check_output_contains "CHECK works for a 0.4.0 list" 'CHECK passed' berth status --check m
check "stop m" berth stop m
check "no lease left on mv" no_leases mv
check_output_contains "Port= on a list without portmap is refused at start" 'portMappings' \
        berth start m --port 9090:80
check_eq "and leaves m stopped" stopped "$(machine_state m)"

# --- bad input ---------------------------------------------------------------------
try() {
        berth set "$1" Network.CNINetwork="$2" >/dev/null
}
check "create x" berth create x --template busybox --set Network.Mode=cni --set Network.CNINetwork=nope
check_output_contains "a missing network is named, with the dir" "no CNI network named nope in $CNI/net.d" berth start x
check_status "as a configuration error (exit status 2)" 2 berth start x
check_eq "x stays stopped" stopped "$(machine_state x)"

try x failing
check_output_contains "a failing plugin: its name and message" 'plugin failer .*ADD failed: error 100: failer says no' berth start x
check_eq "x stays stopped" stopped "$(machine_state x)"
check "bridge's address was given back (DEL of the whole list)" no_leases failing
check "and its veth is gone" no_veths

try x garbled
check_output_contains "a plugin printing garbage: malformed result" 'plugin garbler .*malformed' berth start x
check "nothing is left" no_leases garbled

try x hanging
start=$SECONDS
check_output_contains "a hanging plugin is killed after CNITimeoutSec=" 'plugin hanger .*did not finish within 3s' berth start x
check "within a few seconds" test $((SECONDS - start)) -lt 20
check "the hanging plugin is gone" bash -c "! kill -0 \$(cat '$CNI/hanger.pid') 2>/dev/null"
check "nothing is left" no_leases hanging

try x missing
check_output_contains "a missing plugin is named" 'plugin nosuch is not an executable file' berth start x
check_status "exit status 2: nothing was started" 2 berth start x
check_eq "x stays stopped" stopped "$(machine_state x)"

try x escaping
check_output_contains "a plugin type with a path is refused" 'not a plain plugin file name' berth start x

check "clear CNINetwork=" berth set x Network.CNINetwork=
check_output_contains "Mode=cni without CNINetwork= is refused" 'Mode=cni needs CNINetwork=' berth start x
check_output_contains "a bad CNINetwork= value is refused" 'not a valid CNI network name' \
        berth set x 'Network.CNINetwork=a/b'
check "no veth is left" no_veths

# --- interop: a podman container and a machine on one network -----------------
# podman (with its CNI backend, as Debian 12 has it) makes the network list;
# berth's machine and podman's container share it, addresses included. runc:
# Debian's crun refuses hosts with a hybrid cgroup layout. Everything podman
# keeps is under the test's dirs; the container's rootfs is a static busybox.
if command -v podman >/dev/null && command -v runc >/dev/null && command -v busybox >/dev/null; then
        PM=$TEST_TMP/podman
        mkdir -p "$PM/net.d" "$PM/rootfs/bin"
        cp "$(command -v busybox)" "$PM/rootfs/bin/busybox"
        for c in sh ping ip; do ln -s busybox "$PM/rootfs/bin/$c"; done
        cat >"$PM/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$PLUGINS"]
network_config_dir = "$PM/net.d"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
        pm() {
                CONTAINERS_CONF=$PM/containers.conf podman --root "$PM/root" --runroot "$PM/runroot" \
                        --storage-driver vfs "$@"
        }
        check "podman network create pnet" pm network create --subnet 10.95.0.0/24 pnet
        # host-local's reservations in the test's dir, for podman and berth alike.
        f=$(ls "$PM"/net.d/*.conflist)
        jq --arg d "$CNI/ipam" '(.plugins[] | select(.ipam) | .ipam.dataDir) = $d' "$f" >"$f.new" && mv "$f.new" "$f"
        check "create machine p on podman's network" berth create p --template busybox --network cni:pnet \
                --set Network.CNIConfigDirectory="$PM/net.d"
        check "start p" berth start p
        P=$(addr_of p)
        check_output_contains "p has an address from podman's subnet" '^10\.95\.0\.[0-9]+$' echo "$P"
        # --ulimit: podman's defaults exceed what a test may set here.
        out=$(pm run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network pnet \
                --rootfs "$PM/rootfs" /bin/sh -c "ip -o -4 addr show eth0; ping -c 1 -W 2 $P" 2>&1)
        check_output_contains "a podman container on pnet reaches the machine" '1 packets received' echo "$out"
        C=$(grep -o 'inet 10\.95\.0\.[0-9]*' <<<"$out" | cut -d' ' -f2)
        if [ -n "$C" ] && [ "$C" != "$P" ]; then
                ok "the container has an address of its own ($C) from the same reservations"
        else
                not_ok "container: '$C', machine: '$P'"
        fi
        check "stop p" berth stop p
        check "no lease left on pnet" no_leases pnet
        check "podman network rm pnet" pm network rm pnet
else
        ok "podman interop # SKIP podman, runc or busybox is not installed"
fi

done_testing
