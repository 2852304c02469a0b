#!/bin/bash
# clone, snapshot, snapshots, restore on busybox machines: round trips
# compared file by file, identities of clones, refusals.
. "$(dirname "$0")/lib.sh"

# Every entry: path, type, mode, owner, size, link target, and a digest of
# each regular file.
tree_listing() {
        (cd "$1" && find . -path ./etc/machine-id -prune -o -printf '%P %y %m %U:%G %s %l\n' | LC_ALL=C sort &&
                find . -type f ! -path ./etc/machine-id -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
# tree_listing of a machine's files as it sees them: a layered machine's
# upper over its layers, mounted read-only in a mount namespace of our own.
view_listing() {
        local m="$BERTH_ROOT/machines/$1" lower
        [ -f "$m/layers" ] || { tree_listing "$m/rootfs"; return; }
        lower="$m/rootfs$(sed "s|^|:$BERTH_ROOT/images/layers/|; s|\$|/tree|" "$m/layers" | tr -d '\n')"
        export -f tree_listing
        unshare -m bash -c 'mount --make-rslave / && mount -t overlay o -o "ro,userxattr,lowerdir=$1" "$2" &&
                tree_listing "$2"' _ "$lower" "$m/rootfs"
}
layer_count() { ls "$BERTH_ROOT/images/layers" 2>/dev/null | wc -l; }
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }

check "create a" berth create a --template busybox --set Machine.Hostname=alpha
echo "one" >"$TEST_TMP/f"
check "put a file in" berth cp "$TEST_TMP/f" a:/etc/state
printf 'x%.0s' $(seq 1 100) >"$TEST_TMP/machine-id"
echo 0123456789abcdef0123456789abcdef >"$(rootfs_of a)/etc/machine-id"
ln -s /etc/state "$(rootfs_of a)/etc/state-link"

# --- snapshots ------------------------------------------------------------------
check "snapshot --copy a s1" berth snapshot --copy a s1
check_output_contains "snapshots lists it" '^s1 ' berth snapshots a
check_eq "snapshots --json" '["s1"]' "$(berth snapshots --json a | jq -c '[.[].name]')"
check_eq "the snapshot is the machine, file by file" "$(tree_listing "$(rootfs_of a)")" \
        "$(tree_listing "$BERTH_ROOT/machines/a/snapshots/s1/rootfs")"
before=$(tree_listing "$(rootfs_of a)")
echo "two" >"$TEST_TMP/f"
check "change the file" berth cp "$TEST_TMP/f" a:/etc/state
check "add a file" berth cp "$TEST_TMP/f" a:/etc/new-file
check "restore a s1" berth restore a s1
check_eq "restored, file by file" "$before" "$(tree_listing "$(rootfs_of a)")"
check "no restore leftovers" test ! -e "$BERTH_ROOT/machines/a/.rootfs-restore"
check_output_contains "a second snapshot of the same name is refused" "already" berth snapshot a s1
check_status "restore of a missing snapshot: status 4" 4 berth restore a nope
check_status "a snapshot name with a slash is refused" 2 berth snapshot a ../x
check "a snapshot with a generated name" berth snapshot a
check_eq "two snapshots now" 2 "$(berth snapshots --json a | jq length)"
check "snapshot --rm" berth snapshot --rm a s1
check_eq "one left" 1 "$(berth snapshots --json a | jq length)"

# --- clone --------------------------------------------------------------------------
check "clone --copy a b" berth clone --copy a b
check "a full copy has no layers" test ! -e "$BERTH_ROOT/machines/b/layers"
check_eq "the clone is the machine, file by file (but machine-id and hostname)" \
        "$(view_listing a | grep -v 'etc/hostname')" "$(tree_listing "$(rootfs_of b)" | grep -v 'etc/hostname')"
check_eq "the clone's etc/hostname names the clone" b "$(cat "$(rootfs_of b)/etc/hostname")"
check_eq "the clone's machine-id is emptied (a new one at boot)" 0 "$(stat -c %s "$(rootfs_of b)/etc/machine-id")"
berth cp a:/etc/machine-id "$TEST_TMP/a-id" >/dev/null 2>&1
check_eq "the source keeps its machine-id" 33 "$(stat -c %s "$TEST_TMP/a-id")"
check_fails "the clone does not keep the source's Hostname=" grep -q Hostname "$BERTH_ROOT/machines/b/machine.conf"
check_output_contains "the clone's source is recorded" "clone:a" berth status b
check "start a" berth start a
check_output_contains "a clone of a running machine is refused" "running; stop it first" berth clone a c
check_output_contains "a snapshot of a running machine is refused" "running; stop it first" berth snapshot a s2
check_output_contains "restore of a running machine is refused" "running; stop it first" berth restore a s1
check "start b" berth start b
check_eq "the clone's hostname is its own name" b "$(berth exec b -- hostname)"
A=$(addr_of a) B=$(addr_of b)
[ -n "$A" ] && [ "$A" != "$B" ] && ok "the clone has its own address ($A, $B)" || not_ok "addresses '$A' '$B'"
ua=$(berth status --json a | jq -r .rootfs) ub=$(berth status --json b | jq -r .rootfs)
check_fails "the clone has its own UID range" test "$(grep -o 'root is host UID [0-9]*' <(berth status a))" = \
        "$(grep -o 'root is host UID [0-9]*' <(berth status b))"
check "stop a" berth stop a
check "stop b" berth stop b
check_status "clone onto an existing name: status 1" 1 berth clone a b
check_status "clone of a missing machine: status 4" 4 berth clone nope c
check_status "clone to a bad name: status 2" 2 berth clone a ../c
check "no staging left behind" sh -c "! ls -A '$BERTH_ROOT/machines' | grep -q staging"

# --- a hostile source: its identity files lead out of the tree -------------------
check "create h" berth create h --template busybox
echo keep-me >"$TEST_TMP/canary-id"
echo h >"$TEST_TMP/canary-host"
rm -f "$(rootfs_of h)/etc/machine-id" "$(rootfs_of h)/etc/hostname"
ln -s "$TEST_TMP/canary-id" "$(rootfs_of h)/etc/machine-id"
ln -s "$TEST_TMP/canary-host" "$(rootfs_of h)/etc/hostname"
check "clone h h2 (symlinked identity files)" berth clone h h2
check_eq "a symlinked machine-id never truncates the file it points to" keep-me "$(cat "$TEST_TMP/canary-id")"
check_eq "a symlinked hostname never rewrites the file it points to" h "$(cat "$TEST_TMP/canary-host")"

# --- the base of running run instances ----------------------------------------------
check "a snapshot to restore" berth snapshot a s3
berth run --keep --name inst a -- sleep 30 >/dev/null 2>&1 &
run_pid=$!
wait_for 20 sh -c "'$BERTH' list --json | jq -e '.[] | select(.name == \"inst\" and .state == \"running\")' >/dev/null"
check_output_contains "restore of a base with a running instance is refused" "base of running" berth restore a s3
berth kill inst >/dev/null 2>&1
wait $run_pid 2>/dev/null

# --- overlay-backed clones (ext4 has no reflinks: the default there) -----------------
layers0=$(layer_count)
check "create o" berth create o --template busybox
echo one >"$TEST_TMP/v"
check "o: a file" berth cp "$TEST_TMP/v" o:/etc/state
check "clone o o2" berth clone --overlay o o2
check "o and o2 sit on layers" test -f "$BERTH_ROOT/machines/o/layers" -a -f "$BERTH_ROOT/machines/o2/layers"
check_eq "one shared layer" "$((layers0 + 1))" "$(layer_count)"
used=$(du -sk "$BERTH_ROOT/machines/o2" | cut -f1) full=$(du -sk "$BERTH_ROOT/images/layers" | cut -f1)
[ "$used" -lt 200 ] && ok "the clone takes ${used} KiB (layers: ${full} KiB)" || not_ok "the clone takes ${used} KiB"
check_eq "the clone sees the source's files" "$(view_listing o | grep -v etc/hostname)" \
        "$(view_listing o2 | grep -v etc/hostname)"
echo two >"$TEST_TMP/v"
check "a change in the source after the clone" berth cp "$TEST_TMP/v" o:/etc/state
echo three >"$TEST_TMP/v"
check "a change in the clone" berth cp "$TEST_TMP/v" o2:/etc/other
berth cp o2:/etc/state "$TEST_TMP/o2-state" >/dev/null 2>&1
check_eq "is not seen by the clone" one "$(cat "$TEST_TMP/o2-state")"
check_fails "nor the clone's by the source" berth cp o:/etc/other "$TEST_TMP/o-other"
check "start o" berth start o
check "start o2" berth start o2
check_eq "o boots on its layers" two "$(berth exec o -- cat /etc/state)"
check_eq "o2 boots on its layers" one "$(berth exec o2 -- cat /etc/state)"
check "o2 deletes a file of its layer" berth exec o2 -- rm /etc/profile
check "o2 writes as its own root" berth exec o2 -- sh -c 'echo four >/root/mine'
check "stop o" berth stop o
check "stop o2" berth stop o2
check_fails "the deletion persists" berth cp o2:/etc/profile "$TEST_TMP/p"
check "the layer keeps the file" test -f "$(rootfs_of o)/../../../images/layers/$(tail -n1 "$BERTH_ROOT/machines/o2/layers")/tree/etc/profile"
check_eq "files made inside keep the guest's IDs on disk" 0:0 "$(stat -c %u:%g "$(rootfs_of o2)/root/mine")"
check "clone of a clone" berth clone --overlay o2 o3
berth cp o3:/root/mine "$TEST_TMP/m" >/dev/null 2>&1
check_eq "it sees its source's changes" four "$(cat "$TEST_TMP/m")"
check_eq "o3 stacks two layers" 2 "$(wc -l <"$BERTH_ROOT/machines/o3/layers")"
check_eq "run on an overlay machine sees its files" four "$(berth run o3 -- cat /root/mine)"
check "start --ephemeral o3" berth start --ephemeral o3
check "an ephemeral change" berth exec o3 -- sh -c 'echo gone >/root/mine'
check "stop o3" berth stop o3
berth cp o3:/root/mine "$TEST_TMP/m" >/dev/null 2>&1
check_eq "vanishes with the ephemeral boot" four "$(cat "$TEST_TMP/m")"

# Snapshots are frozen layers too: cheap, and round trips file by file.
before=$(view_listing o2)
check "snapshot o2 s" berth snapshot o2 s
check "the snapshot is a layer list, not a copy" test -f "$BERTH_ROOT/machines/o2/snapshots/s/layers" -a \
        ! -e "$BERTH_ROOT/machines/o2/snapshots/s/rootfs"
check "o2 changes" berth cp "$TEST_TMP/v" o2:/etc/state
check "o2 changes its config" berth set o2 Machine.Hostname=changed
check "restore o2 s" berth restore o2 s
check_eq "restored, file by file" "$before" "$(view_listing o2)"
check_fails "restored with its config" grep -q changed "$BERTH_ROOT/machines/o2/machine.conf"

# rm: the last reference takes a layer along.
check "rm o (the clones' source)" berth rm o
check "o2 still boots" berth start o2
check_eq "o2 still has its files" one "$(berth exec o2 -- cat /etc/state)"
check "stop o2" berth stop o2
check "rm o2 (its snapshot goes with it)" berth rm o2
check "rm o3" berth rm o3
check_eq "the last rm frees the layers" "$layers0" "$(layer_count)"

# kill -9 in the middle of a clone, at several points: nothing is left
# that list shows, gc removes the rest, and the source still works.
check "create k" berth create k --template busybox
for delay in 0.01 0.03 0.06 0.1; do
        berth clone k kc >/dev/null 2>&1 &
        sleep $delay
        kill -9 $! 2>/dev/null
        wait $! 2>/dev/null
        berth rm kc >/dev/null 2>&1
done
check "gc after killed clones" berth gc
check "no staging left behind" sh -c "! ls -A '$BERTH_ROOT/machines' | grep -q staging"
check "the source still works" berth run k -- true
check "rm k" berth rm k
check_eq "and no layer is left" "$layers0" "$(layer_count)"

# --- leftovers of killed snapshots and restores --------------------------------------
check "create r" berth create r --template busybox
mkdir -p "$BERTH_ROOT/machines/r/snapshots/.staging-x.0123456789abcdef/rootfs"
check "gc removes a killed snapshot's copy" sh -c "'$BERTH' gc && ! ls -A '$BERTH_ROOT/machines/r/snapshots' | grep -q staging"
mkdir -p "$BERTH_ROOT/machines/r/snapshots/.staging-y.0123456789abcdef/rootfs"
check "the next snapshot does too" berth snapshot r s
check "no snapshot staging left" sh -c "! ls -A '$BERTH_ROOT/machines/r/snapshots' | grep -q staging"
# A restore killed after its commit (the old rootfs moved away, the new one
# and its config not yet in place) is finished by the next command...
m="$BERTH_ROOT/machines/r"
mv "$m/rootfs" "$m/.old-rootfs" && mkdir "$m/.next-rootfs" && : >"$m/.next-layers" &&
        printf '[Machine]\nHostname=restored\n' >"$m/.next-machine.conf"
check "the next command completes a killed restore" berth cp "$TEST_TMP/v" r:/state
check_eq "with the new config" restored "$(sed -n 's/^Hostname=//p' "$m/machine.conf")"
check "and the new rootfs" test -f "$m/rootfs/state" -a ! -e "$m/.old-rootfs" -a ! -e "$m/.next-rootfs"
# ... and one killed before it, undone.
mkdir "$m/.next-rootfs" && printf '[Machine]\nHostname=never\n' >"$m/.next-machine.conf"
check "the next command undoes an unfinished one" berth cp r:/state "$TEST_TMP/s2"
check_eq "the config stays" restored "$(sed -n 's/^Hostname=//p' "$m/machine.conf")"
check "nothing pending left" test ! -e "$m/.next-rootfs" -a ! -e "$m/.next-machine.conf"
check "rm r" berth rm r

done_testing
