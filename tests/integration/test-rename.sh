#!/bin/bash
# berth rename on busybox machines: what follows the machine (snapshots,
# layers, address, UID range registry entry, logs, hostname), refusals that
# change nothing, and kills at the commit and after it.
. "$(dirname "$0")/lib.sh"

REG=/var/lib/berth/uid-ranges
addr_of() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .addresses[0] // empty'; }
base_of() { sed -n 's/^UID_BASE=//p' "$BERTH_ROOT/machines/$1/idmap"; }
entry_of() { sed -n 's/^OWNER=//p' "$REG/$(printf '%08x' "$1")"; }
names() { berth list --json | jq -r '[.[].name] | join(" ")'; }

check "create a" berth create a --template busybox
check "start a" berth start a
wait_for 20 test -n "$(addr_of a)"
addr=$(addr_of a)
check "a has an address" test -n "$addr"
check "stop a" berth stop a
check "snapshot --overlay a s1 (a layered machine)" berth snapshot --overlay a s1
check "a lists layers" test -s "$BERTH_ROOT/machines/a/layers"
layers=$(cat "$BERTH_ROOT/machines/a/layers")
base=$(base_of a)
check "a has a UID range" test -n "$base"
echo kept >"$TEST_TMP/f"
check "a file in a" berth cp "$TEST_TMP/f" a:/etc/state

# --- refusals: each changes nothing -------------------------------------------
check "create taken" berth create taken --template busybox
before=$(names)
check_status "a bad new name: status 2" 2 berth rename a ../x
check_status "a taken name: status 2" 2 berth rename a taken
check_output_contains "the taken name is said" "machine 'taken' already" berth rename a taken
check_status "the same name: status 2" 2 berth rename a a
check_status "no such machine: status 4" 4 berth rename nope b
check_status "no second name: status 2" 2 berth rename a
check "start taken" berth start taken
check_output_contains "a running machine is refused" "running; stop it first" berth rename taken other
check "taken still runs" is_running taken
check "stop taken" berth stop taken
check "a kept run instance of a" berth run --keep --name inst a -- true
check_output_contains "the base of a kept run machine is refused" "base of the kept run machine 'inst'" \
        berth rename a b
check "rm inst" berth rm inst
check_eq "nothing changed by the refusals" "$before" "$(names)"

# --- the rename -------------------------------------------------------------------
check "rename a b" berth rename a b
check_eq "b instead of a" "b taken" "$(names)"
check "machines/a is gone" test ! -e "$BERTH_ROOT/machines/a"
check_eq "the snapshot followed" '["s1"]' "$(berth snapshots --json b | jq -c '[.[].name]')"
check_eq "the layer list followed" "$layers" "$(cat "$BERTH_ROOT/machines/b/layers")"
check_eq "the UID range followed" "$base" "$(base_of b)"
check_eq "the registry entry names b" "$(realpath "$BERTH_ROOT/machines/b")" "$(entry_of "$base")"
check "berth gc keeps b's layers" berth gc
check "the layers are there" test -d "$BERTH_ROOT/images/layers/$(head -1 "$BERTH_ROOT/machines/b/layers")/tree"
check "start b" berth start b
wait_for 20 test -n "$(addr_of b)"
check_eq "b has a's address" "$addr" "$(addr_of b)"
check_eq "b's hostname is b" b "$(berth exec b -- hostname)"
check_eq "etc/hostname says b" b "$(berth exec b -- cat /etc/hostname)"
check_eq "a's file is in b" kept "$(berth exec b -- cat /etc/state)"
check_output_contains "b's logs" "." berth logs b
check "stop b" berth stop b
check "restore b s1" berth restore b s1
check_status "a is no machine now: status 4" 4 berth status a
check "rename back b a" berth rename b a
check_eq "a again" "a taken" "$(names)"
check "a machine with Hostname= keeps it" berth set a Machine.Hostname=fixed
check "rename a c" berth rename a c
check "start c" berth start c
check_eq "c's hostname is the configured one" fixed "$(berth exec c -- hostname)"
check "stop c" berth stop c

# --- kills ---------------------------------------------------------------------------
# The commit fails: c stays c.
check_fails "a failing rename" strace -f -o /dev/null -e inject=renameat2:error=EIO:when=1 "$BERTH" rename c d
check_eq "c is still c" "c taken" "$(names)"
check "c still starts" berth start c
check "stop c" berth stop c
# Killed right after the commit (at the runtime dir's rename): d is complete.
strace -f -o /dev/null -e inject=renameat:signal=KILL:when=1 "$BERTH" rename c d >/dev/null 2>&1
check_eq "killed after the commit: d" "d taken" "$(names)"
check "d starts" berth start d
check_eq "d has the address" "$addr" "$(addr_of d)"
check "stop d" berth stop d
check "rm d" berth rm d
check "rm taken" berth rm taken
check_eq "no UID range entry left" "" "$(entry_of "$base" 2>/dev/null)"
check_eq "no layers left" 0 "$(ls "$BERTH_ROOT/images/layers" 2>/dev/null | wc -l)"

done_testing
