#!/bin/bash
# Fixes to the berth command (issues 16 and 24): cp's counters and trailing
# slashes, start options that only apply at start, exec against hostile
# guest account files, and the hostname of machines made from trees that
# carry another /etc/hostname.
. "$(dirname "$0")/lib.sh"

rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }

check "create a busybox machine" berth create m --template busybox
host=$TEST_TMP/host
mkdir -p "$host/dir/sub"
echo data >"$host/file"
echo inner >"$host/dir/sub/f"

# --- cp: counters and trailing slashes ------------------------------------------
# MODE is "stopped" or "running"; guest files are looked at on disk or by exec.
guest_has() {
        if [ "$mode" = running ]; then berth exec m -- test "$1" "$2"; else test "$1" "$(rootfs_of m)$2"; fi
}
cp_checks() {
        berth cp m:/nonexistent "$host/x" >"$TEST_TMP/cp.out" 2>&1
        check_eq "$mode: cp of a missing file fails with status 1" 1 "$?"
        check_fails "$mode: ... and reports no removed setuid bits" grep -q setuid "$TEST_TMP/cp.out"
        check_output_contains "$mode: file to NAME:/nodir/ is refused (Not a directory)" 'only a directory' \
                berth cp "$host/file" "m:/nodir-$mode/"
        check_fails "$mode: ... and no file /nodir-$mode was made" guest_has -e "/nodir-$mode"
        check_output_contains "$mode: file to NAME:/etc/passwd/ is refused" 'Not a directory' \
                berth cp "$host/file" m:/etc/passwd/
        check "$mode: a directory to NAME:/newdir/ makes it" berth cp "$host/dir" "m:/newdir-$mode/"
        check "$mode: ... as a directory" guest_has -f "/newdir-$mode/sub/f"
        check "$mode: a file to an existing NAME:/tmp/ goes into it" berth cp "$host/file" m:/tmp/
        check "$mode: ... as /tmp/file" guest_has -f /tmp/file
        check_output_contains "$mode: NAME:/etc/hostname to host nodir/ is refused" 'only a directory' \
                berth cp m:/etc/hostname "$host/nodir-$mode/"
        check_fails "$mode: ... and no host file nodir-$mode was made" test -e "$host/nodir-$mode"
        check_output_contains "$mode: NAME:/etc/hostname to a host file/ is refused" 'Not a directory' \
                berth cp m:/etc/hostname "$host/file/"
        check "$mode: NAME:/etc to host newdir/ makes it" berth cp m:/etc "$host/etc-$mode/"
        check "$mode: ... as a directory" test -f "$host/etc-$mode/passwd"
        check "$mode: a file to host dir/ goes into it" berth cp m:/etc/hostname "$host/dir/"
        check "$mode: ... as dir/hostname" test -f "$host/dir/hostname"
        rm -f "$host/dir/hostname"
}
mode=stopped cp_checks
check "start m" berth start m
mode=running cp_checks

# --- start: options that only apply at start ----------------------------------------
check_status "start of the running machine: a no-op, status 0" 0 berth start m
check_status "start --wait of the running machine: status 0" 0 berth start --wait m
check_status "start --port of the running machine: status 1" 1 berth start --port 18080:80 m
check_output_contains "... saying why" "already running; --port applies when it starts" \
        berth start --port 18080:80 m
check_status "start --ephemeral of a running, not ephemeral machine: status 1" 1 berth start --ephemeral m
check_output_contains "... saying why" "already running; --ephemeral applies when it starts" \
        berth start --ephemeral m
check "... and it still runs, not ephemeral" sh -c "[ \"\$('$BERTH' list --json | jq -r '.[] | select(.name == \"m\") | .ephemeral')\" = false ]"
check_status "start --port with a bad value is still status 2" 2 berth start --port nope m
check "stop m" berth stop m
check "start --ephemeral" berth start --ephemeral m
check_status "start --ephemeral of the running ephemeral machine: status 0" 0 berth start --ephemeral m
check "stop m" berth stop m
check "start m again" berth start m

done_testing
