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
# The exec tests below make the guest's files hostile; on a berth without the
# fix, a passwd linked to /dev/zero would be read without end: cap the machine.
check "cap m's memory" berth set m MemoryMax=256M
check "start m again" berth start m

# --- exec: the guest's account files are the guest's ------------------------------------
# Made on disk by the host (the tree is not shifted: its root's files are
# the machine's root's); TIMEOUT bounds a berth that would hang.
etc=$(rootfs_of m)/etc
cp -a "$etc/passwd" "$TEST_TMP/passwd.real"
cp -a "$etc/group" "$TEST_TMP/group.real"
TIMEOUT=(timeout -k 5 10)
restore_etc() {
        rm -f "$etc/passwd" "$etc/group"
        cp -a "$TEST_TMP/passwd.real" "$etc/passwd" && cp -a "$TEST_TMP/group.real" "$etc/group"
}
hostile() { # FILE KIND
        rm -f "$etc/$1"
        case $2 in
        fifo) mkfifo -m 0644 "$etc/$1" ;;
        huge) cp -a "$TEST_TMP/$1.real" "$etc/$1" && truncate -s 200M "$etc/$1" ;;
        zero) ln -s /dev/zero "$etc/$1" ;;
        esac
}
for t in "fifo:not a regular file" "huge:larger than 16 MiB" "zero:a symbolic link"; do
        kind=${t%%:*} why=${t#*:}
        hostile passwd "$kind"
        check_status "$kind passwd: exec returns at once (status 0)" 0 "${TIMEOUT[@]}" "$BERTH" exec m -- true
        check_output_contains "... ignoring the file, saying why" "Ignoring the machine's /etc/passwd: it is $why" \
                "${TIMEOUT[@]}" "$BERTH" exec m -- true
        # (Not "id": the guest's own tools may well hang on that passwd.)
        check_eq "... running as root with HOME=/root" "root /root" \
                "$("${TIMEOUT[@]}" "$BERTH" exec m -- sh -c 'echo $USER $HOME' 2>/dev/null)"
        check_status "$kind passwd: exec -t returns at once (status 0)" 0 "${TIMEOUT[@]}" "$BERTH" exec -t m -- true
        check_status "$kind passwd: exec --user daemon fails (125)" 125 \
                "${TIMEOUT[@]}" "$BERTH" exec --user daemon m -- true
        check_output_contains "... saying why" "Cannot look up user 'daemon': .* it is $why" \
                "${TIMEOUT[@]}" "$BERTH" exec --user daemon m -- true
        restore_etc
done
hostile group fifo
check_status "fifo group: exec --user daemon returns at once (status 0)" 0 \
        "${TIMEOUT[@]}" "$BERTH" exec --user daemon m -- true
check_output_contains "... ignoring the file, saying why" "Ignoring the machine's /etc/group: it is not a regular file" \
        "${TIMEOUT[@]}" "$BERTH" exec --user daemon m -- true
check_status "fifo group: exec -t returns at once (status 0)" 0 "${TIMEOUT[@]}" "$BERTH" exec -t m -- true
restore_etc
check_eq "with the real files back, --user daemon is daemon again, without a word" 1 \
        "$(berth exec --user daemon m -- id -u 2>&1)"
check "stop m" berth stop m

# --- hostname: every way of making a machine names it ------------------------------------
# The guest's init sets the hostname from /etc/hostname (busybox's rcS, as
# systemd does), after berth set Hostname=: a tree that names another host
# there, as a Debian tree says "localhost", must still boot as its machine.
tree=$TEST_TMP/tree
mkdir -p "$tree" && "$BERTH_TEMPLATE_DIR/busybox" --rootfs "$tree" --name localhost --cache-dir "$TEST_TMP/tpl-cache" >/dev/null
tar -C "$tree" -czf "$TEST_TMP/tree.tar.gz" .
check "create --from-tar of a tree named localhost" berth create ft --from-tar "$TEST_TMP/tree.tar.gz"
check "create --from-dir of it" berth create fd --from-dir "$tree"
check "create --from-tar --set Machine.Hostname=" \
        berth create fh --from-tar "$TEST_TMP/tree.tar.gz" --set Machine.Hostname=named.example
check "create --template --set Machine.Hostname=" \
        berth create th --template busybox --set Machine.Hostname=tpl.example
check "import of the tarball" berth import im "$TEST_TMP/tree.tar.gz"
echo localhost >"$(rootfs_of m)/etc/hostname"
check "clone of a machine whose etc/hostname says localhost" berth clone m cl
check "clone with --set Machine.Hostname=" berth clone --set Machine.Hostname=cl2.example m cl2
echo keep-me >"$TEST_TMP/canary"
rm "$tree/etc/hostname" && ln -s "$TEST_TMP/canary" "$tree/etc/hostname"
check "create --from-dir of a tree whose etc/hostname is a symlink to a host file" berth create fs --from-dir "$tree"
check_eq "... which is left as it was" keep-me "$(cat "$TEST_TMP/canary")"
check "... and replaced by a file in the machine" test -f "$(rootfs_of fs)/etc/hostname" -a ! -L "$(rootfs_of fs)/etc/hostname"
for t in ft:ft fd:fd fh:named.example th:tpl.example im:im cl:cl cl2:cl2.example fs:fs; do
        name=${t%%:*} want=${t#*:}
        check_eq "$name: etc/hostname says $want" "$want" "$(cat "$(rootfs_of "$name")/etc/hostname")"
        if berth start "$name" >"$TEST_TMP/start.out" 2>&1; then
                # busybox's rcS sets it as it boots; init starts getty after rcS.
                wait_for 10 sh -c "'$BERTH' exec $name -- ps | grep -q '[g]etty'"
                check_eq "$name boots with hostname $want" "$want" "$(berth exec "$name" -- hostname)"
                berth kill "$name" >/dev/null 2>&1
        else
                not_ok "$name starts"; sed 's/^/# /' "$TEST_TMP/start.out"
        fi
done

# berth set Machine.Hostname= later: the next boot writes the new name to
# /etc/hostname as the guest's init reads it.
wait_getty() { wait_for 10 sh -c "'$BERTH' exec $1 -- ps | grep -q '[g]etty'"; }
check "berth set ft Machine.Hostname=renamed.example (stopped)" berth set ft Machine.Hostname=renamed.example
check "start ft" berth start ft
wait_getty ft
check_eq "ft boots with the new hostname" renamed.example "$(berth exec ft -- hostname)"
check_eq "and its /etc/hostname says so" renamed.example "$(berth exec ft -- cat /etc/hostname)"
berth kill ft >/dev/null 2>&1
# A guest whose /etc/hostname and /etc/resolv.conf are FIFOs cannot make the
# start hang: berth writes only regular files there.
rm -f "$(rootfs_of ft)/etc/hostname" "$(rootfs_of ft)/etc/resolv.conf"
mkfifo "$(rootfs_of ft)/etc/hostname" "$(rootfs_of ft)/etc/resolv.conf"
check "a machine with FIFOs as /etc/hostname and /etc/resolv.conf starts (no hang)" timeout 20 "$BERTH" start ft
check "they are left FIFOs" test -p "$(rootfs_of ft)/etc/hostname" -a -p "$(rootfs_of ft)/etc/resolv.conf"
berth kill ft >/dev/null 2>&1

# The field report: a Debian tree says "localhost" and its systemd sets that.
# The template cache of the debian test has one (skipped without it).
deb=$BERTH_TEST_CACHE/debian-bookworm-$(dpkg --print-architecture)
if [ -d "$deb" ]; then
        check_eq "the Debian tree of the template cache says localhost" localhost "$(cat "$deb/etc/hostname")"
        tar -C "$deb" -cf "$TEST_TMP/deb.tar" .
        check "create --from-tar of it" berth create deb --from-tar "$TEST_TMP/deb.tar"
        rm -f "$TEST_TMP/deb.tar"
        check "start --wait" berth start --wait deb
        check_eq "systemd boots it with its name as hostname" deb "$(berth exec deb -- hostname)"
        check "stop it" berth stop deb
else
        ok "# SKIP no Debian template cache in $BERTH_TEST_CACHE (the debian test makes it)"
fi

done_testing
