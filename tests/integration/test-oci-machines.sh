#!/bin/bash
# berth-oci's machine-profile containers as machines of the host: inside a
# test host (systemd with machined) they are registered with machined, and
# `berth list` shows them from berth-oci's records.  berth-oci runs directly,
# under a stand-in "conmon" (so it takes podman for its engine), with its
# state and records in the test's dirs (--root, BERTH_OCI_RECORDS): nothing
# of the real /run/berth-oci or /run/berth is touched.
. "$(dirname "$0")/lib.sh"
: "${BERTH_OCI:?set BERTH_OCI to the berth-oci binary}"

# In the test host's own /run (a tmpfs): the machine profile's root mount
# point must be reachable by the container's root, which TEST_TMP (0700)
# is not inside the test host.
OCI_ROOT=/run/berthtest-oci
RECS=$TEST_TMP/records
LOG=$TEST_TMP/oci.log
# A rootfs whose /sbin/init is "systemd" (a busybox script): the machine profile.
ROOTFS=$TEST_TMP/rootfs
mkdir -p "$ROOTFS"/{bin,proc,dev,sys,tmp,etc,run,sbin,lib/systemd} "$TEST_TMP/bin"
cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
for c in sh sleep cat; do ln -s busybox "$ROOTFS/bin/$c"; done
printf '#!/bin/sh\ntrap "exit 0" 37\nwhile :; do sleep 0.1; done\n' >"$ROOTFS/lib/systemd/systemd"
chmod 755 "$ROOTFS/lib/systemd/systemd"
ln -s /lib/systemd/systemd "$ROOTFS/sbin/init"
# podman's conmon, as far as berth-oci can tell: its parent's name.
cp "$(command -v dash)" "$TEST_TMP/bin/conmon"

# make_bundle DIR JQ-FILTER: a minimal init container's bundle.
make_bundle() {
        mkdir -p "$1"
        ln -sfn "$ROOTFS" "$1/rootfs"
        jq "$2" >"$1/config.json" <<'EOF'
{
  "ociVersion": "1.0.2-dev",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/sbin/init"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs"},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
}
EOF
}

mkdir -p "$TEST_TMP/default-root"
start_testhost "the test host boots (systemd with machined)" --bind "$TEST_TMP" \
        --bind "$TEST_TMP/default-root:/var/lib/berth"
# oci ARGS...: berth-oci in the test host, run by "conmon", logging JSON to LOG.
oci() { th env BERTH_OCI_RECORDS="$RECS" "$TEST_TMP/bin/conmon" -c \
        'b=$0 r=$1 l=$2; shift 2; "$b" --root "$r" --log "$l" --log-format json "$@"; exit $?' \
        "$BERTH_OCI" "$OCI_ROOT" "$LOG" "$@"; }
# tbo ARGS...: berth in the test host, with the records.
tbo() { th env BERTH_ROOT="$BERTH_ROOT" BERTH_MACHINED="$BERTH_MACHINED" BERTH_OCI_RECORDS="$RECS" "$BERTH" "$@"; }
listed() { tbo list --json | jq -c --arg n "$1" '[.[] | select(.name == $n)]'; }
in_machinectl() { th machinectl list --no-legend | grep -q "^$1 "; }
leader_of() { oci state "$1" | jq .pid; }

# --- registration and list ----------------------------------------------------
B1=$TEST_TMP/b1
# podman's systemd cgroup manager names a scope in machine.slice: machined
# finds the unit of the leader from its cgroup.
make_bundle "$B1" '.annotations = {"org.berth.name": "web1"} | .linux.cgroupsPath = "machine.slice:berthtest:m1"'
check "create m1 (org.berth.name=web1)" oci create --bundle "$B1" m1
check "start m1" oci start m1
check "machinectl lists it as web1" in_machinectl web1
check_eq "of class container, service berth-oci" "container berth-oci" \
        "$(th machinectl show -p Class --value web1) $(th machinectl show -p Service --value web1)"
check_eq "machined's leader is the container's init" "$(leader_of m1)" "$(th machinectl show -p Leader --value web1)"
check_eq "its root directory the bundle's rootfs" "$ROOTFS" "$(th machinectl show -p RootDirectory --value web1)"
check "the record is in BERTH_OCI_RECORDS, named by the ID" grep -qx NAME=web1 "$RECS/m1"
check_eq "berth list --json shows web1 as an OCI container of podman, with its state dir" \
        "[{\"oci\":true,\"oci_engine\":\"podman\",\"oci_state_dir\":\"$OCI_ROOT\",\"oci_id\":\"m1\",\"state\":\"running\"}]" \
        "$(listed web1 | jq -c '[.[] | {oci, oci_engine, oci_state_dir, oci_id, state}]')"
check_eq "with the init as its leader" "$(leader_of m1)" "$(listed web1 | jq '.[0].leader')"
check_output_contains "berth list shows it in the table" '^web1 +running +[0-9]+ .* oci:podman$' tbo list
check_output_contains "berth status says what it is" 'an OCI container, not a berth machine' tbo status web1
check_output_contains "berth status names the engine's tool" 'Managed: by podman through berth-oci; use podman' \
        tbo status web1
check_status "berth start web1 is refused: no berth machine" 4 tbo start web1
check_output_contains "saying it is managed by podman/berth-oci, use podman" \
        "berth start: 'web1' is an OCI container managed by podman/berth-oci .*state in $OCI_ROOT.*use podman" \
        tbo start web1
check_output_contains "berth stop web1 too" "managed by podman/berth-oci" tbo stop web1
check_output_contains "berth exec web1 too" "managed by podman/berth-oci" tbo exec web1 -- true
check_eq "bash completion offers no OCI container as a machine" "" \
        "$(th env BERTH_ROOT="$BERTH_ROOT" BERTH_OCI_RECORDS="$RECS" bash -c '. "$1"; _berth_cmd=("$2"); _berth_machines' \
                _ "$BERTH_SRCDIR/completions/berth.bash" "$BERTH")"
# Hermetic: a private state root sees no records unless told where they are.
check_eq "a private --root without BERTH_OCI_RECORDS lists nothing of them" "[]" \
        "$(th env BERTH_ROOT="$BERTH_ROOT" "$BERTH" list --json | jq -c '[.[] | select(.oci)]')"

# A name machined has already (a live machine of the same root, even): the
# container still runs, a warning is logged.
B2=$TEST_TMP/b2
make_bundle "$B2" '.annotations = {"org.berth.name": "web1"} | .linux.cgroupsPath = "machine.slice:berthtest:m2"'
check "create m2, also named web1" oci create --bundle "$B2" m2
check "start m2" oci start m2
check_output_contains "the clash is a warning in the JSON log" \
        '"level": *"warning".*machined already knows a machine named web1: container m2 runs unregistered' cat "$LOG"
check_eq "machined keeps m1 as web1" "$(leader_of m1)" "$(th machinectl show -p Leader --value web1)"
check_eq "m2 runs" running "$(oci state m2 | jq -r .status)"

# No annotation: the ID cut to a machine name ('_' and '+' become '-').
B3=$TEST_TMP/b3
make_bundle "$B3" '.linux.cgroupsPath = "machine.slice:berthtest:x3"'
check "create Box_3+x (no org.berth.name)" oci create --bundle "$B3" Box_3+x
check "machinectl lists it as Box-3-x" in_machinectl Box-3-x
check_eq "berth list too" '"Box_3+x"' "$(listed Box-3-x | jq '.[0].oci_id')"

# Bad input: an org.berth.name that is no machine name.
B4=$TEST_TMP/b4
make_bundle "$B4" '.annotations = {"org.berth.name": "-bad/name"}'
check_output_contains "a bad org.berth.name is refused, naming it" 'org.berth.name="-bad/name"' oci create --bundle "$B4" m4
check "and leaves nothing" sh -c "[ ! -e '$OCI_ROOT/m4' ] && [ ! -e '$RECS/m4' ]"

# --- delete -------------------------------------------------------------------
check "kill m1" oci kill m1
wait_for 10 sh -c "[ \"\$('$TESTHOST' run '$THDIR' -- '$BERTH_OCI' --root '$OCI_ROOT' state m1 | jq -r .status)\" = stopped ]"
check "delete m1" oci delete m1
check "machinectl lists no web1 after delete" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^web1 '"
check "its record is gone" test ! -e "$RECS/m1"
check_eq "berth list no longer shows it" "[]" "$(listed web1 | jq -c '[.[] | select(.oci_id == "m1")]')"

# --- a stale record: the init died, nobody deleted the container ---------------
pid=$(leader_of m2)
th kill -9 "$pid"
wait_for 10 sh -c "! '$TESTHOST' run '$THDIR' -- kill -0 $pid 2>/dev/null"
check "the stale record is still there" test -e "$RECS/m2"
check_eq "berth list skips it" "[]" "$(listed web1)"
check_output_contains "berth gc removes it" 'Removed the record of OCI container m2' tbo gc
check "gone" test ! -e "$RECS/m2"
check "the live one is kept by gc" test -e "$RECS/Box_3+x"
check "delete m2" oci delete m2
check "delete --force Box_3+x" oci delete --force Box_3+x
check "machined forgot Box-3-x" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^Box-3-x '"
check "no record left" sh -c "[ -z \"\$(ls -A '$RECS')\" ]"

# --- any cgroupsPath: the container gets a scope of its own (scope.c) -----------
# cgroup_of PID: PID's cgroup in the unified hierarchy.
cgroup_of() { th cat "/proc/$1/cgroup" | sed -n 's/^0:://p'; }
unit_active() { [ "$(th systemctl is-active "$1")" = active ]; }
unit_gone() { [ "$(th systemctl show -p LoadState --value "$1")" = not-found ]; }
# no_cgroup DIR: DIR is in no cgroup hierarchy of the test host.
no_cgroup() { th sh -c 'for h in /sys/fs/cgroup /sys/fs/cgroup/*; do [ ! -e "$h/$1" ] || exit 1; done' _ "$1"; }
BEFORE=$(th systemctl list-units --all --no-legend 'berth-oci-*' | wc -l)
# The default cgroupsPath (berth-oci/ID), with a memory limit, and
# containerd's (/default/ID): neither is in a unit of its own.
B6=$TEST_TMP/b6
make_bundle "$B6" '.annotations = {"org.berth.name": "dflt"} | .linux.resources = {"memory": {"limit": 268435456}}'
check "create m6 (default cgroupsPath)" oci create --bundle "$B6" m6
check "start m6" oci start m6
check "machinectl lists it as dflt" in_machinectl dflt
check_eq "machined's unit for it is its scope" berth-oci-m6.scope "$(th machinectl show -p Unit --value dflt)"
check "the scope berth-oci-m6.scope is active" unit_active berth-oci-m6.scope
check_eq "in machine.slice, delegated" "machine.slice yes" \
        "$(th systemctl show -p Slice --value berth-oci-m6.scope) $(th systemctl show -p Delegate --value berth-oci-m6.scope)"
check_eq "its init in the scope's payload cgroup" /machine.slice/berth-oci-m6.scope/payload "$(cgroup_of "$(leader_of m6)")"
check_eq "state.json names the scope and its cgroup" "berth-oci-m6.scope machine.slice/berth-oci-m6.scope" \
        "$(th jq -r '"\(.scope) \(.cgroup)"' "$OCI_ROOT/m6/state.json")"
check_eq "the spec's memory limit is the scope's MemoryMax" 268435456 \
        "$(th systemctl show -p MemoryMax --value berth-oci-m6.scope)"
check_eq "ps lists the init" true "$(oci ps --format json m6 | jq --argjson p "$(leader_of m6)" 'any(. == $p)')"
echo '{"memory": {"limit": 134217728}}' >"$TEST_TMP/res.json"
check "update sets the scope's limits" oci update --resources "$TEST_TMP/res.json" m6
check_eq "MemoryMax follows" 134217728 "$(th systemctl show -p MemoryMax --value berth-oci-m6.scope)"
check "no cgroup berth-oci/m6 was made" no_cgroup berth-oci/m6
check "pause m6 (the scope's freezer)" oci pause m6
check_eq "m6 is paused" paused "$(oci state m6 | jq -r .status)"
check "resume m6" oci resume m6
check_eq "m6 runs again" running "$(oci state m6 | jq -r .status)"
check_eq "and berth list shows it as registered" '"running" "dflt"' \
        "$(listed dflt | jq -c '.[0].state, .[0].machined_name' | tr '\n' ' ' | sed 's/ $//')"

B7=$TEST_TMP/b7
make_bundle "$B7" '.annotations = {"org.berth.name": "ctrd"} | .linux.cgroupsPath = "/default/c7"'
check "create c7 (cgroupsPath /default/c7, as containerd)" oci create --bundle "$B7" c7
check "machinectl lists it as ctrd" in_machinectl ctrd
check "the scope berth-oci-c7.scope is active" unit_active berth-oci-c7.scope
check "no cgroup default/c7 was made" no_cgroup default/c7
# An ID with a character no unit name has: escaped as systemd does.
B8=$TEST_TMP/b8
make_bundle "$B8" '.'
check "create a+8 (default cgroupsPath)" oci create --bundle "$B8" a+8
check "its scope is berth-oci-a\\x2b8.scope" unit_active 'berth-oci-a\x2b8.scope'
check "machinectl lists it as a-8" in_machinectl a-8

check "kill m6" oci kill m6
wait_for 10 sh -c "[ \"\$('$TESTHOST' run '$THDIR' -- '$BERTH_OCI' --root '$OCI_ROOT' state m6 | jq -r .status)\" = stopped ]"
check "delete m6" oci delete m6
check "delete --force c7" oci delete --force c7
check "delete --force a+8" oci delete --force a+8
for u in berth-oci-m6.scope berth-oci-c7.scope 'berth-oci-a\x2b8.scope'; do
        check "$u is gone after delete" unit_gone "$u"
done
for g in berth-oci-m6.scope berth-oci-c7.scope 'berth-oci-a\x2b8.scope'; do
        check "no cgroup machine.slice/$g is left" no_cgroup "machine.slice/$g"
done
check "machined forgot them" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -Eq '^(dflt|ctrd|a-8) '"
check_eq "no berth-oci scope is left" "$BEFORE" "$(th systemctl list-units --all --no-legend 'berth-oci-*' | wc -l)"
check "no record is left" sh -c "[ -z \"\$(ls -A '$RECS')\" ]"

# Bad input: a systemd-form cgroupsPath whose slice is none.
B9=$TEST_TMP/b9
make_bundle "$B9" '.linux.cgroupsPath = "machine:p:m9"'
check_output_contains "a cgroupsPath with no slice is refused, naming it" \
        'linux.cgroupsPath "machine:p:m9": "machine" is no slice' oci create --bundle "$B9" m9
check "and leaves nothing" sh -c "[ ! -e '$OCI_ROOT/m9' ] && [ ! -e '$RECS/m9' ]"
check "no unit p-m9.scope" unit_gone p-m9.scope

# A create that fails once the scope is made: nothing left, the scope neither.
B12=$TEST_TMP/b12
make_bundle "$B12" '.annotations = {"org.berth.profile": "machine"} | .process.args = ["/nope"]'
check_output_contains "create m12 with no such program fails" 'executable file not found' \
        oci create --bundle "$B12" m12
check "and leaves no state" sh -c "[ ! -e '$OCI_ROOT/m12' ] && [ ! -e '$RECS/m12' ]"
check "nor its scope" wait_for 5 unit_gone berth-oci-m12.scope
check "nor its cgroup" no_cgroup machine.slice/berth-oci-m12.scope

# --systemd-cgroup (containerd's SystemdCgroup=true): a scope for a plain
# container too, named by its slice:prefix:name; it is no machine.
B10=$TEST_TMP/b10
make_bundle "$B10" '.annotations = {"org.berth.profile": "none"} | .linux.cgroupsPath = "machine.slice:ctr:p10"'
check "create p10 with --systemd-cgroup (org.berth.profile=none)" oci --systemd-cgroup create --bundle "$B10" p10
check "start p10" oci start p10
check "the scope ctr-p10.scope is active" unit_active ctr-p10.scope
check_eq "the init in its payload" /machine.slice/ctr-p10.scope/payload "$(cgroup_of "$(leader_of p10)")"
# The scope has no device policy of systemd's: berth's list is on the
# payload.  With CAP_MKNOD, the node of /dev/null may be made, not /dev/mem's.
jq -n '{args: ["/bin/busybox", "sh", "-c",
        "busybox mknod /tmp/p10-null c 1 3 || exit 1; busybox mknod /tmp/p10-mem c 1 1 && exit 2; exit 0"],
        cwd: "/", env: ["PATH=/bin"], user: {uid: 0, gid: 0},
        capabilities: {bounding: ["CAP_MKNOD"], effective: ["CAP_MKNOD"], permitted: ["CAP_MKNOD"]}}' \
        >"$TEST_TMP/mknod.json"
check_status "p10 may make c 1:3 but not c 1:1 (the payload's device list)" 0 \
        oci exec --process "$TEST_TMP/mknod.json" p10
rm -f "$ROOTFS/tmp/p10-null" "$ROOTFS/tmp/p10-mem"
check "delete --force p10" oci delete --force p10
check "ctr-p10.scope is gone" unit_gone ctr-p10.scope
# Without the flag a plain container keeps its cgroupsPath (cgroupfs).
B11=$TEST_TMP/b11
make_bundle "$B11" '.annotations = {"org.berth.profile": "none"}'
check "create p11 (no --systemd-cgroup, org.berth.profile=none)" oci create --bundle "$B11" p11
check_eq "its init in berth-oci/p11/payload" /berth-oci/p11/payload "$(cgroup_of "$(leader_of p11)")"
check "no scope for it" unit_gone berth-oci-p11.scope
check "delete --force p11" oci delete --force p11
check "its cgroup is gone" no_cgroup berth-oci/p11

# --- without the machine profile: neither registered nor listed ---------------
B5=$TEST_TMP/b5
make_bundle "$B5" '.annotations = {"org.berth.profile": "none", "org.berth.name": "plain"}'
check "create m5 (org.berth.profile=none)" oci create --bundle "$B5" m5
check "no record" test ! -e "$RECS/m5"
check "machined does not know it" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^plain '"
check "delete --force m5" oci delete --force m5

done_testing
