#!/bin/bash
# Trees without root (README "Without root", issue 23): a user made for this
# test creates a Debian machine from the debian template (its cache a
# tarball that mmdebstrap --mode=unshare bootstraps as the user, unpacked
# as root of the machine's user namespace, so the tree is the machine's
# IDs'), builds the template's image in the user's store and makes a
# layered machine of it (create --template --layered: no second build), boots both to `running` under the user's systemd in the
# test host and execs in them; `berth run --template busybox` works as the user, leaves no
# instance behind, and two concurrent instances of one run image (one UID
# range) see neither each other's processes nor files.  Nothing under
# /var/lib/berth or /run/berth changes.
# One bootstrap per test run at most (lib-rootless.sh's
# rootless_debian_seed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

cleanup_rt() {
        [ -n "${BGRUN:-}" ] && kill "$BGRUN" 2>/dev/null
        [ -n "${THDIR:-}" ] && "$TESTHOST" stop "$THDIR" >/dev/null 2>&1
        rootless_cleanup
        cleanup
}
trap cleanup_rt EXIT
# Four ranges: the Debian machine, a second one made from the cache (then
# the snapshot case's), the busybox and the debian run images.
rootless_user berth-rt 4 || { not_ok "useradd"; done_testing; }
rootless_add_ranges
base_of() { sed -n 's/^UID_BASE=//p' "$1/idmap"; }
before=$(system_listing)
# (a zombie is no process left running: its parent reaps it)
procs_of() { ps -o pid=,stat=,args= -U "$1" -u "$1" | awk '$2 !~ /^Z/'; }
user_procs() { procs_of "$UID_U"; }

# --- create --template debian as the user ----------------------------------------
rootless_debian_seed
t0=$SECONDS
check "create d --template debian as the user (cache seeded: $SEEDED)" ub_online create d --template debian
echo "# create d took $((SECONDS - t0)) s"
rootless_debian_keep
check_eq "the cache is a tarball of the user's, private" "$U 600" "$(stat -c '%U %a' "$UCACHE/$DEBIAN_KEY.tar" 2>&1)"
D=$STATE/machines/d
bd=$(base_of "$D")
check_eq "d's rootfs belongs to its root (host $bd)" "$bd:$bd" "$(stat -c %u:%g "$D/rootfs" 2>&1)"
check_eq "and so does its systemd" "$bd" "$(stat -c %u "$D/rootfs/usr/lib/systemd/systemd" 2>&1)"
check_eq "a guest group's file keeps its group, shifted (/etc/shadow: shadow)" \
        "$((bd + $(awk -F: '$1 == "shadow" { print $3 }' "$D/rootfs/etc/group")))" \
        "$(stat -c %g "$D/rootfs/etc/shadow" 2>&1)"
check_eq "no file of the tree is host root's or the user's" "" \
        "$(find "$D/rootfs" \( -uid 0 -o -uid "$UID_U" -o -gid 0 -o -gid "$UID_U" \) -print -quit)"
check_eq "hostname and hosts are the machine's" "d 127.0.1.1 d" \
        "$(cat "$D/rootfs/etc/hostname") $(grep -w d "$D/rootfs/etc/hosts" | xargs)"
check_eq "the container fixes are applied (empty machine-id, udev masked)" "0 /dev/null" \
        "$(stat -c %s "$D/rootfs/etc/machine-id") $(readlink "$D/rootfs/etc/systemd/system/systemd-udevd.service")"
check_eq "no device nodes in the tree" "" "$(find "$D/rootfs" \( -type b -o -type c \) -print -quit)"

# A second machine from the cache: no second bootstrap.
mt=$(stat -c %Y "$UCACHE/$DEBIAN_KEY.tar")
t0=$SECONDS
check "create d2 --template debian: from the cache" ub create d2 --template debian
echo "# create d2 took $((SECONDS - t0)) s"
check_eq "the tarball was not rebuilt" "$mt" "$(stat -c %Y "$UCACHE/$DEBIAN_KEY.tar")"
check_eq "d2 has its own range" "yes" "$([ "$(base_of "$STATE/machines/d2")" != "$bd" ] && echo yes)"
check "rm d2" ub rm d2
check_eq "its tree is gone" "" "$(ls -A "$STATE/machines" | grep -v '^d$')"

# --- run --template busybox as the user -------------------------------------------
check_output_contains "run --template busybox: the command's output" "^hello from run$" \
        ub run busybox -- sh -c 'echo hello from run'
check_status "its exit status is berth's" 7 ub run busybox -- sh -c 'exit 7'
IMG=$STATE/images/bases/busybox
bi=$(base_of "$IMG")
check_eq "the run image has a range of the user's own" "yes" \
        "$([ -n "$bi" ] && [ "$bi" != "$bd" ] && [ "$bi" -ge "$START" ] && [ "$bi" -le "$END" ] && echo yes)"
check_eq "its tree is that range's" "$bi" "$(stat -c %u "$IMG/rootfs/bin/busybox" 2>&1)"
check_eq "the instance is root there, as host $bi" "0 $bi" \
        "$(ub run busybox -- sh -c 'id -u; cat /proc/self/uid_map' | awk 'NR == 1 { u = $1 } $1 == "0" && NR > 1 { print u, $2 }')"
check_eq "no instance is left" "d" "$(ub list --json | jq -r '.[].name' | xargs)"
check_eq "nothing of one in the state" "d" "$(ls -A "$STATE/machines" | xargs)"
check_eq "nor in the runtime dir" "" "$(ls -A "$URUN/berth" | grep -vx 'locks' | xargs)"
check_eq "no process of the user is left" "" "$(user_procs)"

check_output_contains "run --template debian: from the user's cache too" "^12\.[0-9]+$" \
        ub run debian -- cat /etc/debian_version
check_eq "its run image has a range of its own" "yes" \
        "$(b=$(base_of "$STATE/images/bases/debian"); [ -n "$b" ] && [ "$b" != "$bi" ] && [ "$b" != "$bd" ] && echo yes)"

# Two instances of one image share its range: each has its own PID, IPC,
# mount and network namespaces, so neither sees the other.
ub run --name r1 busybox -- sh -c 'echo r1-secret >/root/mark; echo r1-tmp >/tmp/mark; exec sleep 60' \
        >"$TEST_TMP/r1.out" 2>&1 &
BGRUN=$!
r1_runs() { [ "$(ub list --json | jq -r '.[] | select(.name=="r1") | .state')" = running ]; }
check "r1 runs" wait_for 30 r1_runs
l1=$(ub list --json | jq -r '.[] | select(.name=="r1") | .leader')
r1_sleeps() { pgrep -U "$bi" -x sleep >/dev/null; }
check "r1's command runs (its files written)" wait_for 10 r1_sleeps
ub run --name r2 busybox -- sh -c 'cat /root/mark /tmp/mark 2>&1; ps -o pid,args | grep -c "[s]leep 60"; \
        for n in pid ipc mnt net; do readlink /proc/1/ns/$n; done' >"$TEST_TMP/r2.out" 2>&1 &
r2pid=$!
r2_runs() { [ "$(ub list --json | jq -r '.[] | select(.name=="r2") | .leader')" -gt 0 ] 2>/dev/null; }
wait_for 30 r2_runs
l2=$(ub list --json | jq -r '.[] | select(.name=="r2") | .leader')
wait "$r2pid"
check_eq "r2 does not see r1's files (its own upper layer and /tmp)" "2" \
        "$(grep -cE "can't open '/(root|tmp)/mark'" "$TEST_TMP/r2.out")"
check_eq "nor r1's sleep (its own PID namespace)" "0" "$(grep -xE '[0-9]+' "$TEST_TMP/r2.out")"
if [ -n "$l1" ] && [ "$l1" -gt 0 ] 2>/dev/null; then
        r1ns=$(for n in pid ipc mnt net; do readlink "/proc/$l1/ns/$n"; done | xargs)
        check_eq "each names its four namespaces" "4 4" \
                "$(wc -w <<<"$r1ns") $(grep -cE '^(pid|ipc|mnt|net):' "$TEST_TMP/r2.out")"
        check_eq "r1 and r2 share no PID, IPC, mount or network namespace" "" \
                "$(comm -12 <(echo "$r1ns" | tr ' ' '\n' | sort) <(grep -E '^(pid|ipc|mnt|net):' "$TEST_TMP/r2.out" | sort))"
        check_eq "both run as the image's range (host $bi)" "$bi" "$(stat -c %u "/proc/$l1")"
else
        not_ok "r1's leader is known"
fi
check "stop r1" ub stop r1
wait "$BGRUN"
BGRUN=
check_eq "no instance is left" "d" "$(ub list --json | jq -r '.[].name' | xargs)"
check_eq "nor a process" "" "$(user_procs; procs_of "$bi")"

# --- snapshots as the user -------------------------------------------------------------
# Full copies in the machine's own range, made and removed as its root.
check "create s --template busybox" ub create s --template busybox
S=$STATE/machines/s
bs=$(base_of "$S")
echo one >"$UHOME/f" && chown "$U:" "$UHOME/f"
check "cp a file into s" ub cp "$UHOME/f" s:/root/f
check_output_contains "snapshot s snap1" "^snap1$" ub snapshot s snap1
check_eq "the snapshot's tree is s's range's, its files too" "$bs $bs one" \
        "$(stat -c %u "$S/snapshots/snap1/rootfs" 2>&1) $(stat -c %u "$S/snapshots/snap1/rootfs/root/f" 2>&1) \
$(cat "$S/snapshots/snap1/rootfs/root/f" 2>&1)"
check_eq "snapshots lists it" "snap1" "$(ub snapshots --json s | jq -r '.[].name')"
# (snapshot --overlay without root: test-rootless-overlay.sh)
echo two >"$UHOME/f"
check "change the file in s" ub cp "$UHOME/f" s:/root/f
check "restore s snap1" ub restore s snap1
check_eq "s is back: the file's first content, the machine's root's" "one $bs" \
        "$(cat "$S/rootfs/root/f" 2>&1) $(stat -c %u "$S/rootfs/root/f" 2>&1)"
check_eq "the old rootfs is gone, nothing half made is left" "machine.conf rootfs snapshots" \
        "$(ls -A "$S" | grep -vxE 'idmap|info|layers' | xargs)"
check_eq "the rootfs is still the range's" "$bs:$bs" "$(stat -c %u:%g "$S/rootfs")"
check "s still runs a command" ub run s -- cat /root/f
check "snapshot --rm s snap1" ub snapshot --rm s snap1
check_eq "it is gone" "" "$(ls -A "$S/snapshots" | xargs)"
check_output_contains "a default-named snapshot" "^[0-9]{8}-[0-9]{6}$" ub snapshot s
check "rm s with its snapshot" ub rm s
check_eq "s is gone" "d" "$(ls -A "$STATE/machines" | xargs)"

# --- the debian template's image, built by the user ---------------------------------
# From the user's tarball (no second bootstrap); its layer in the store's
# range, the fourth of the user's.
DREF=localhost/berth/template/debian:latest
check "images build debian as the user" ub images build debian
check_eq "the tarball was not rebuilt" "$mt" "$(stat -c %Y "$UCACHE/$DEBIAN_KEY.tar")"
bs=$(sed -n 's/^UID_BASE=//p' "$STATE/images/idmap" 2>/dev/null)
DL=$(find "$STATE/images/layers" -mindepth 2 -maxdepth 2 -name tree | head -n1)
check_eq "its layer is the store's range's, /etc/shadow's group shifted, the fixes applied" \
        "$bs $((bs + $(awk -F: '$1 == "shadow" { print $3 }' "$DL/etc/group"))) 0" \
        "$(stat -c '%u %g' "$DL/etc/shadow" 2>&1) $(stat -c %s "$DL/etc/machine-id" 2>&1)"
digest=$(ub images --json | jq -r --arg r $DREF '.[] | select(.reference == $r) | .digest')
check "create di --template debian --layered: over that image" \
        ub create di --template debian --layered --set Network.Mode=none
check_eq "... not built again" "$digest" \
        "$(ub images --json | jq -r --arg r $DREF '.[] | select(.reference == $r) | .digest')"
check_eq "... di stands on its layer" "$(basename "$(dirname "$DL")")" "$(cat "$STATE/machines/di/layers" 2>&1)"

# --- boot d and di under the user's systemd --------------------------------------------
# In the test host (systemd as PID 1, the user's manager delegates a
# cgroup); its own network namespace, hence the template runs before.
printf '[Network]\nMode=none\n' >>"$D/machine.conf"
start_testhost "the test host boots" --bind "$UDIR"
trap cleanup_rt EXIT
THURUN=/run/user/$UID_U
thu() {
        th setpriv --reuid "$U" --regid "$U" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                HOME="$UHOME" XDG_RUNTIME_DIR="$THURUN" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR" \
                BERTH_UNPACK="$BERTH_UNPACK" BERTH_IMPORT="$BERTH_IMPORT" BERTH_MACHINED="$BERTH_MACHINED" "$@"
}
ubt() { thu "$BERTH" "$@"; }
check "the user's systemd starts" th systemctl start "user@$UID_U.service"
t0=$SECONDS
check "start --wait d: systemd boots" ubt start --wait --timeout 120 d
check_eq "systemctl is-system-running in it" "running" "$(ubt exec d -- systemctl is-system-running --wait 2>&1)"
echo "# boot to running took $((SECONDS - t0)) s"
[ "$(ubt exec d -- systemctl is-system-running 2>&1)" = running ] ||
        ubt exec d -- systemctl --failed --no-legend 2>&1 | sed 's/^/# failed: /'
check_output_contains "exec works: root of d" "^0 d$" ubt exec d -- sh -c 'echo "$(id -u) $(hostname)"'
check_status "exec passes the exit status on" 3 ubt exec d -- sh -c 'exit 3'
check "stop d" ubt stop d
check "start --wait di: the template image's systemd boots" ubt start --wait --timeout 120 di
check_eq "systemctl is-system-running in it" "running" "$(ubt exec di -- systemctl is-system-running --wait 2>&1)"
check_output_contains "exec works: root of di" "^0 di$" ubt exec di -- sh -c 'echo "$(id -u) $(hostname)"'
check "stop di" ubt stop di
check "the user's systemd stops" th systemctl stop "user@$UID_U.service"
"$TESTHOST" stop "$THDIR" >/dev/null 2>&1
THDIR=

check "rm d" ub rm d
check "rm di" ub rm di
check "rmi of the debian image" ub rmi $DREF
check_eq "its layer went" "" "$(ls -A "$STATE/images/layers" 2>&1)"
# A user's run images hold ranges: images prune --all gives them back, with
# the template caches.
check "images lists the user's store (no image pulled here)" ub images
check_output_contains "images prune --all removes the run images" "Removed run image (busybox|debian)" \
        ub images prune --all
check_eq "none is left, nor the cache tarball" "" \
        "$(ls -A "$STATE/images/bases" | xargs)$(ls "$UCACHE" | grep '\.tar$')"
check_eq "the user's registry holds no range now" "" "$(ls -A "$STATE/uid-ranges" | grep -v '^\.lock$' | xargs)"
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"
done_testing
