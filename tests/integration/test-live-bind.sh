#!/bin/bash
# berth bind / unbind: host paths into a running machine and out again,
# idmapped and locked like the binds of a start, never through the guest's
# symlinks.
. "$(dirname "$0")/lib.sh"

host_mounts() { awk '{print $5}' /proc/self/mountinfo | sort; }
host_mounts > "$TEST_TMP/mounts.before"

ws=$TEST_TMP/ws
mkdir -p "$ws/sub"
echo hello > "$ws/in"
chown -R 1000:1000 "$ws"
echo filedata > "$TEST_TMP/file"

check "create" berth create m --template busybox
check_status "bind on a stopped machine: not running" 3 berth bind m "$ws" /src
check "start" berth start m

check_fails "without --mkdir a missing destination is refused" berth bind m "$ws" /src
check_output_contains "and the error says how to make it" "--mkdir" berth bind m "$ws" /src
check "bind --mkdir" berth bind --mkdir m "$ws" /src
check_eq "its files read inside" "hello" "$(berth exec m -- cat /src/in)"
check_eq "owned by root inside (rootidmap, the default)" "0" "$(berth exec m -- stat -c %u /src/in)"
check "the machine writes into it" berth exec m -- sh -c 'echo out > /src/x'
check_eq "as the source's owner on the host" "1000:1000" "$(stat -c %u:%g "$ws/x")"
check_eq "the made mount point belongs to the machine's root" "0" "$(berth exec m -- stat -c %u /src)"
check_eq "nosuid and nodev" "nosuid,nodev" \
        "$(berth exec m -- sh -c 'grep " /src " /proc/self/mountinfo | grep -o "nosuid,nodev" | head -1')"

# A recursive bind brings the mounts below SRC, locked: the machine's root
# cannot unmount one to see what the host keeps under it.
echo hidden > "$ws/sub/under"
mount -t tmpfs none "$ws/sub"
echo above > "$ws/sub/top"
check "bind a tree with a mount below" berth bind --mkdir m "$ws" /tree
check_eq "the mount below came along" "above" "$(berth exec m -- cat /tree/sub/top)"
check_fails "and the machine cannot unmount it" berth exec m -- umount /tree/sub
check_fails "so what the host hides under it stays hidden" berth exec m -- cat /tree/sub/under
umount "$ws/sub"

check "bind --read-only" berth bind --read-only m "$TEST_TMP/file" /etc/motd-host --mkdir
check_eq "a file reads inside" "filedata" "$(berth exec m -- cat /etc/motd-host)"
check_fails "and cannot be written" berth exec m -- sh -c 'echo x > /etc/motd-host'
check_fails "nor remounted read-write by the machine's root (locked)" \
        berth exec m -- mount -o remount,bind,rw /etc/motd-host
check_eq "the host file is unchanged" "filedata" "$(cat "$TEST_TMP/file")"

mkdir -p "$TEST_TMP/ids"
touch "$TEST_TMP/ids/u1000"
chown 1000:1000 "$TEST_TMP/ids/u1000"
check "bind --options idmap" berth bind --options idmap --mkdir m "$TEST_TMP/ids" /ids
check_eq "host UID 1000 is 1000 inside" "1000" "$(berth exec m -- stat -c %u /ids/u1000)"
check "a relative SRC is the caller's" sh -c "cd '$TEST_TMP' && '$BERTH' bind --mkdir m ids /rel"
check "and it is the same tree" berth exec m -- test -e /rel/u1000

mkdir -p "$TEST_TMP/with:colon"
echo colon > "$TEST_TMP/with:colon/f"
check "a path with ':' binds (live binds take plain paths)" berth bind --mkdir m "$TEST_TMP/with:colon" /co:lon
check_eq "and reads inside" "colon" "$(berth exec m -- cat /co:lon/f)"
check "and unbinds" berth unbind m /co:lon

# Hostile and bad input.
berth exec m -- sh -c 'mkdir -p /real && ln -s /etc /link && ln -s /real /reldir'
check_fails "a destination through a guest symlink is refused" berth bind m "$ws" /link/x --mkdir
check_output_contains "saying why" "symlink" berth bind m "$ws" /reldir --mkdir
check "nothing was mounted on /etc through it" berth exec m -- test ! -e /etc/x
check_fails "a directory onto a file is refused" berth bind m "$ws" /etc/passwd
check_status "over /proc: bad arguments" 2 berth bind m "$ws" /proc/x
check_status "a relative destination" 2 berth bind m "$ws" rel
check_status "an unknown option" 2 berth bind --options bogus m "$ws" /y
check_fails "a missing source" berth bind --mkdir m "$TEST_TMP/nope" /nope
check_status "no such machine" 4 berth bind nosuch "$ws" /x
check_status "a bad name" 2 berth bind ../x "$ws" /x

# unbind.
check "unbind" berth unbind m /src
check_fails "the files are gone inside" berth exec m -- test -e /src/in
check_eq "the mount point stays, empty" "" "$(berth exec m -- ls /src)"
check_fails "unbind where nothing is mounted" berth unbind m /src
check_output_contains "says so" "Nothing is mounted" berth unbind m /src
check_fails "unbind of a missing path" berth unbind m /nowhere
check_status "unbind of /proc: bad arguments" 2 berth unbind m /proc
check_status "unbind of /: bad arguments" 2 berth unbind m /
check_fails "unbind through a guest symlink" berth unbind m /link
check "unbind the others" sh -c "'$BERTH' unbind m /tree && '$BERTH' unbind m /etc/motd-host && '$BERTH' unbind m /ids && '$BERTH' unbind m /rel"

# A bind made at start is locked: unbind refuses it, with a reason.
check "stop" berth stop m
check "start --bind" berth start --bind "$ws":/cfg m
check_fails "unbind of a start's bind" berth unbind m /cfg
check_output_contains "is refused, saying why" "locked" berth unbind m /cfg
check "a live bind survives nothing: stop" berth stop m
check "start" berth start m
check_fails "the live binds are gone after a restart" berth exec m -- test -e /rel/u1000
check "stop" berth stop m
check "rm" berth rm m

host_mounts > "$TEST_TMP/mounts.after"
check_eq "no mount left on the host" "" "$(comm -13 "$TEST_TMP/mounts.before" "$TEST_TMP/mounts.after")"
done_testing
