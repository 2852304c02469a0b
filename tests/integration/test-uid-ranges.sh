#!/bin/bash
# UID ranges are unique on the whole host, not per state root: two roots
# with machines get disjoint ranges from the registry in
# /var/lib/berth/uid-ranges; a deleted root's ranges are reclaimed, rm gives
# a range back, a duplicated range moves at start, and hostile registry
# entries are never followed nor handed out.
. "$(dirname "$0")/lib.sh"

REG=/var/lib/berth/uid-ranges
ROOT2=$(mktemp -d /var/tmp/berth-test-root2.XXXXXX)
b2() { BERTH_ROOT=$ROOT2 "$BERTH" "$@"; }
cleanup2() {
        b2 kill m2 >/dev/null 2>&1
        pkill -9 -f "berth-machined --root $ROOT2 " 2>/dev/null
        rm -rf --one-file-system "$ROOT2"
        [ -n "${GHOST:-}" ] && userdel -f "$GHOST" >/dev/null 2>&1
        cleanup
}
trap cleanup2 EXIT
base_of() { sed -n 's/^UID_BASE=//p' "$1/machines/$2/idmap"; }
entry_of() { printf '%s/%08x' "$REG" "$1"; }

check "create m1 in the first state root" berth create m1 --template busybox
check "create m2 in a second state root" b2 create m2 --template busybox
base1=$(base_of "$BERTH_ROOT" m1)
base2=$(base_of "$ROOT2" m2)
check "the two roots got different ranges ($base1, $base2)" test -n "$base1" -a -n "$base2" -a "$base1" != "$base2"
check_eq "the registry names m1 as the owner of its range" "OWNER=$(realpath "$BERTH_ROOT")/machines/m1" \
        "$(cat "$(entry_of "$base1")")"
check_eq "the registry names m2 (renamed from its staging dir)" "$(realpath "$ROOT2")/machines/m2" \
        "$(sed -n 's/^OWNER=//p' "$(entry_of "$base2")" | sed 's/\.staging-m2\.[0-9a-f]*$/m2/')"
check_eq "the registry is root's alone" 700 "$(stat -c %a "$REG")"

# Creates in both roots at once: every range distinct.
for i in 1 2 3; do
        berth create p$i --template busybox >/dev/null 2>&1 &
        b2 create q$i --template busybox >/dev/null 2>&1 &
done
wait
all=$( (for i in 1 2 3; do base_of "$BERTH_ROOT" p$i; base_of "$ROOT2" q$i; done; echo "$base1"; echo "$base2") | sort)
check_eq "concurrent creates in two roots: 8 distinct ranges" 8 "$(echo "$all" | sort -u | grep -c .)"

check "start m1" berth start m1
check "start m2" b2 start m2
check_eq "m1 runs in its own range" "0 $base1 65536" "$(berth exec m1 -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
check_eq "m2 runs in its own range" "0 $base2 65536" "$(b2 exec m2 -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
check "stop m2" b2 stop m2

# A machine whose idmap duplicates another's (made before the registry
# existed, or a copied machine dir) gets a new range at start.
cp "$BERTH_ROOT/machines/m1/idmap" "$ROOT2/machines/q1/idmap"
check "start a machine holding m1's range" b2 start q1
newq1=$(base_of "$ROOT2" q1)
check "it moved to a range of its own ($newq1)" test "$newq1" != "$base1"
check_eq "m1 keeps its range and its entry" "OWNER=$(realpath "$BERTH_ROOT")/machines/m1" \
        "$(cat "$(entry_of "$base1")")"
check_eq "q1 runs in its new range" "0 $newq1 65536" "$(b2 exec q1 -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
check "stop q1" b2 stop q1

# rm gives the range back.
p1=$(base_of "$BERTH_ROOT" p1)
p2=$(base_of "$BERTH_ROOT" p2)
check "rm p1" berth rm p1
check "its registry entry is gone" test ! -e "$(entry_of "$p1")"
check "rm p2" berth rm p2

# A deleted state root (rm -rf, as test roots end) leaks nothing: the next
# allocation reclaims its ranges.
gone=$(for i in 2 3; do base_of "$ROOT2" q$i; done; base_of "$ROOT2" q1; echo "$base2")
rm -rf --one-file-system "$ROOT2"
check "create after the second root was deleted" berth create n1 --template busybox
n1=$(base_of "$BERTH_ROOT" n1)
lowest=$(printf '%s\n' $gone "$p1" "$p2" | sort -n | head -1)
# No higher: the registry is the host's, and another test's rm may free a
# lower one meanwhile.
check "n1 got the lowest range freed by rm or by the deleted root ($n1 <= $lowest)" test "$n1" -le "$lowest"
stale=0
for b in $gone; do [ "$b" = "$n1" ] || [ ! -e "$(entry_of "$b")" ] || stale=$((stale + 1)); done
check_eq "no entry of the deleted root is left" 0 "$stale"

# Hostile entries.  The next free range is the one n1 would get again.
check "rm n1" berth rm n1
check "rm n1 released its entry" test ! -e "$(entry_of "$n1")"
echo "precious" >"$TEST_TMP/target"
ln -s "$TEST_TMP/target" "$(entry_of "$n1")"
check_output_contains "create with a symlink entry on the lowest free range warns about it" \
        "Unreadable UID range entry $REG/$(printf %08x "$n1")" berth create h1 --template busybox
check "the symlinked range is not handed out" test "$(base_of "$BERTH_ROOT" h1)" != "$n1"
check_eq "the symlink's target is untouched" precious "$(cat "$TEST_TMP/target")"
check "the symlink stays (never removed: not ours to judge)" test -L "$(entry_of "$n1")"
rm -f "$(entry_of "$n1")"
printf 'OWNER=../../etc\n\x01garbage' >"$(entry_of "$n1")"
printf 'OWNER=/etc\n' >"$REG/not-a-range"
check "create with a garbage entry on the lowest free range" berth create h2 --template busybox
h2=$(base_of "$BERTH_ROOT" h2)
check "the garbage range is not handed out" test "$h2" != "$n1" -a "$h2" != "$(base_of "$BERTH_ROOT" h1)"
check "a foreign file in the registry is left alone" test -f "$REG/not-a-range"
rm -f "$(entry_of "$n1")" "$REG/not-a-range"
check "with the garbage gone the range is free again" berth create h3 --template busybox
check_eq "h3 gets it" "$n1" "$(base_of "$BERTH_ROOT" h3)"

# A range the host hands out after berth took it: useradd picks subordinate
# ranges where berth picks its own, and that user could map the machine's
# IDs.  At its next start the machine moves.
old=$(base_of "$BERTH_ROOT" h3)
GHOST=berth-ghost$$
give_range() {
        useradd -M -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$GHOST" &&
                usermod --add-subuids "$old-$((old + 65535))" --add-subgids "$old-$((old + 65535))" "$GHOST"
}
check "the admin gives a new user h3's range as subordinate IDs" give_range
check "start h3" berth start h3
check_output_contains "... it moved, saying why in its log" "now has IDs of a host user or of a line of /etc/subuid" \
        cat "$BERTH_ROOT/run/h3/supervisor.log"
new=$(base_of "$BERTH_ROOT" h3)
check "h3 has a new range, clear of the user's" test -n "$new" -a "$new" != "$old" \
        -a \( "$((new + 65536))" -le "$old" -o "$new" -ge "$((old + 65536))" \)
check_eq "the registry names h3 for it" "OWNER=$(realpath "$BERTH_ROOT")/machines/h3" "$(cat "$(entry_of "$new")" 2>&1)"
check_eq "h3's init runs as its new range's root" "$new" \
        "$(ps -o uid= -p "$(berth list --json | jq '.[] | select(.name == "h3") | .leader')" | tr -d ' ')"
check_eq "exec reaches its files" "h3" "$(berth exec h3 -- cat /etc/hostname 2>&1)"
check "stop h3" berth stop h3
check "start h3 again: it stays" berth start h3
check_eq "... in its new range" "$new" "$(base_of "$BERTH_ROOT" h3)"
check "stop h3" berth stop h3
userdel -f "$GHOST" >/dev/null 2>&1

done_testing
