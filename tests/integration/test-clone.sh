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
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }

check "create a" berth create a --template busybox --set Machine.Hostname=alpha
echo "one" >"$TEST_TMP/f"
check "put a file in" berth cp "$TEST_TMP/f" a:/etc/state
printf 'x%.0s' $(seq 1 100) >"$TEST_TMP/machine-id"
echo 0123456789abcdef0123456789abcdef >"$(rootfs_of a)/etc/machine-id"
ln -s /etc/state "$(rootfs_of a)/etc/state-link"

# --- snapshots ------------------------------------------------------------------
check "snapshot a s1" berth snapshot a s1
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
check "clone a b" berth clone a b
check_eq "the clone is the machine, file by file (but machine-id and hostname)" \
        "$(tree_listing "$(rootfs_of a)" | grep -v 'etc/hostname')" "$(tree_listing "$(rootfs_of b)" | grep -v 'etc/hostname')"
check_eq "the clone's etc/hostname names the clone" b "$(cat "$(rootfs_of b)/etc/hostname")"
check_eq "the clone's machine-id is emptied (a new one at boot)" 0 "$(stat -c %s "$(rootfs_of b)/etc/machine-id")"
check_eq "the source keeps its machine-id" 33 "$(stat -c %s "$(rootfs_of a)/etc/machine-id")"
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

done_testing
