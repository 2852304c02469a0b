#!/bin/bash
# [Files] Bind=, BindReadOnly=, TemporaryFileSystem= and --bind, --bind-ro,
# --tmpfs: host files inside machines, with their owners, safely.
. "$(dirname "$0")/lib.sh"

# Mount points on the host (this test's own mount namespace is the host's).
host_mounts() { awk '{print $5}' /proc/self/mountinfo | sort; }
host_mounts > "$TEST_TMP/mounts.before"
# The user databases excepted: tests of other tools may add users meanwhile.
etc_sum() {
        find /etc -mindepth 1 -maxdepth 1 -regextype egrep \
                -not -regex '/etc/(\.pwd\.lock|(passwd|group|shadow|gshadow|subuid|subgid)-?)' \
                -printf '%f %y %m %U %G %s %T@\n' | sort | md5sum
}
etc_before=$(etc_sum)

# The CI workspace: a directory of an ordinary user.
ws=$TEST_TMP/ws
mkdir -p "$ws"
echo hello > "$ws/in"
chown -R 1000:1000 "$ws"
check_eq "run --bind: the workspace's files read inside" "hello" "$(berth run --bind "$ws":/src busybox -- cat /src/in)"
check "run --bind: a job writes into the workspace" berth run --bind "$ws":/src busybox -- sh -c 'echo out > /src/x && mkdir /src/d'
check_eq "and what it made is the workspace owner's on the host" "1000:1000 1000:1000" \
        "$(stat -c %u:%g "$ws/x") $(stat -c %u:%g "$ws/d")"
check_eq "the owner is root inside (rootidmap, the default)" "0" "$(berth run --bind "$ws":/src busybox -- stat -c %u /src/in)"
check_eq "run --boot --bind: the bind is there under the machine's init" "hello" \
        "$(berth run --boot --bind "$ws":/src busybox -- cat /src/in)"
mkdir -p "$TEST_TMP/up/sub"
echo secret > "$TEST_TMP/up/secret"
check_fails "a bind exposes no more than SRC: .. from DST is the machine's" \
        berth run --bind "$TEST_TMP/up/sub":/src busybox -- cat /src/../secret
check_eq "DST defaults to SRC" "hello" "$(berth run --bind "$ws" busybox -- cat "$ws/in")"
check_eq "a bind is nosuid and nodev" "nosuid,nodev" \
        "$(berth run --bind "$ws":/src busybox -- sh -c 'grep " /src " /proc/self/mountinfo | grep -o "nosuid,nodev" | head -1')"

# idmap: host IDs 1:1.
mkdir -p "$TEST_TMP/ids"
touch "$TEST_TMP/ids/u1000" "$TEST_TMP/ids/u0"
chown 1000:1000 "$TEST_TMP/ids/u1000"
check_eq "idmap: host UID 1000 is 1000 inside, root is root" "1000 0" \
        "$(berth run --bind "$TEST_TMP/ids:/ids:idmap" busybox -- stat -c %u /ids/u1000 /ids/u0 | tr '\n' ' ' | sed 's/ $//')"
mkdir "$TEST_TMP/ids/home1000"
chown 1000:1000 "$TEST_TMP/ids/home1000"
check "idmap: a job as UID 1000 writes in its dir" \
        berth run --bind "$TEST_TMP/ids:/ids:idmap" busybox -- sh -c \
        'echo ci:x:1000:1000::/:/bin/sh >> /etc/passwd && su -s /bin/sh -c "touch /ids/home1000/f" ci' 
check_eq "as host UID 1000" "1000:1000" "$(stat -c %u:%g "$TEST_TMP/ids/home1000/f")"
berth run --bind "$TEST_TMP/ids:/ids:idmap" busybox -- sh -c 'chown 1000:1000 /ids && touch /ids/byroot'
check_eq "idmap: root inside writes as host root" "0" "$(stat -c %u "$TEST_TMP/ids/byroot")"
chown 0:0 "$TEST_TMP/ids"
check_eq "rootidmap: other owners are unmapped inside" "65534" \
        "$(berth run --bind "$TEST_TMP/ids:/ids:rootidmap" busybox -- stat -c %u /ids/u1000)"
check_eq "noidmap: host IDs stay raw, so even root is nobody inside" "65534" \
        "$(berth run --bind "$TEST_TMP/ids:/ids:noidmap" busybox -- stat -c %u /ids/u0)"
check_fails "noidmap: the machine's root cannot write a host root's dir" \
        berth run --bind "$TEST_TMP/ids:/ids:noidmap" busybox -- touch /ids/nope

# Read-only.
check_fails "--bind-ro: writes fail" berth run --bind-ro "$ws":/src busybox -- touch /src/ro
check_fails "a ro option: writes fail" berth run --bind "$ws":/src:ro busybox -- touch /src/ro
check_fails "and the machine's root cannot remount it read-write (locked)" \
        berth run --bind-ro "$ws":/src busybox -- mount -o remount,bind,rw /src
check_fails "nor unmount it to see below" berth run --bind-ro "$ws":/src busybox -- umount /src
check "nothing was written" test ! -e "$ws/ro"

# A file, and missing parents made inside the rootfs.
echo filedata > "$TEST_TMP/file"
check_eq "a single file binds, its missing parents made inside" "filedata" \
        "$(berth run --bind "$TEST_TMP/file":/deep/er/f busybox -- cat /deep/er/f)"

check_eq "several --bind, --bind-ro and --tmpfs at once, a bind inside a tmpfs" "hello filedata" \
        "$(berth run --bind "$ws":/a --bind-ro "$TEST_TMP/file":/b --tmpfs /c --bind "$ws":/c/d busybox -- \
           sh -c 'cat /a/in /b; test -e /c/d/in' | tr '\n' ' ' | sed 's/ $//')"

# tmpfs.
check_eq "--tmpfs mounts a tmpfs with its mode" "tmpfs 1777" \
        "$(berth run --tmpfs /scratch:mode=1777,size=1m busybox -- sh -c 'stat -f -c %T /scratch; stat -c %a /scratch' | tr '\n' ' ' | sed 's/ $//')"
check_fails "a read-only --tmpfs cannot be written" berth run --tmpfs /scratch:ro busybox -- touch /scratch/x

# Persistent machines: the config keys, and start --bind.
check "create with --bind" berth create m --template busybox --bind "$ws":/src --bind-ro "$TEST_TMP/file":/etc/f \
        --tmpfs /t
check_output_contains "machine.conf keeps them" "Bind=$ws:/src" cat "$BERTH_ROOT/machines/m/machine.conf"
check "it starts" berth start m
check_eq "the bind is there" "hello" "$(berth exec m -- cat /src/in)"
check_eq "the read-only bind is there" "filedata" "$(berth exec m -- cat /etc/f)"
check_fails "and read-only" berth exec m -- sh -c 'echo x > /etc/f'
check_fails "and stays so: no remount" berth exec m -- mount -o remount,rw /etc/f
check_output_contains "status shows the binds" "$ws -> /src .rw, rbind, rootidmap." berth status m
check_output_contains "and the read-only one" "$TEST_TMP/file -> /etc/f .ro, rbind, rootidmap." berth status m
check_eq "list --json shows the binds" "$ws /src false rootidmap|$TEST_TMP/file /etc/f true rootidmap" \
        "$(berth list --json | jq -r '.[] | select(.name == "m") | [.binds[] | "\(.source) \(.destination) \(.read_only) \(.idmap)"] | join("|")')"
check_eq "and the tmpfs" "/t" "$(berth status --json m | jq -r '.tmpfs[0].destination')"
check_fails "start --bind on a running machine is refused" berth start --bind "$ws":/x m
check "stop" berth stop m
check "start --bind adds one for this start" berth start --bind "$TEST_TMP/ids:/ids" m
check "both are there" berth exec m -- test -e /ids/u0 -a -e /src/in
check_eq "status shows the one of this start too" "3" "$(berth status --json m | jq '.binds | length')"
check "stop" berth stop m
check_eq "a stopped machine shows its configured binds" "2" "$(berth status --json m | jq '.binds | length')"

# Without a user namespace the child opens the sources itself.
check "a privileged machine" berth create p --template busybox --set Security.PrivateUsers=no
check "starts with --bind and --bind-ro" berth start --bind "$ws":/src --bind-ro "$TEST_TMP/file":/f p
check_eq "the bind is there, with the host's owners" "1000 hello" "$(berth exec p -- sh -c 'stat -c %u /src/in; cat /src/in' | tr '\n' ' ' | sed 's/ $//')"
check_fails "the read-only one cannot be written" berth exec p -- sh -c 'echo x > /f'
check_eq "and the host sees none of its mounts" "" "$(host_mounts | comm -13 "$TEST_TMP/mounts.before" -)"
check "stop" berth stop p
check "rm" berth rm p

# Debian, where the debian test left its template in the cache (building it
# takes minutes and the mirror).
if [ -n "${BERTH_TEST_CACHE:-}" ] && [ -d "$BERTH_TEST_CACHE/debian-bookworm-amd64" ]; then
        check "a Debian machine with a bind and a read-only bind" \
                berth create deb --template debian --bind "$ws":/src --bind-ro "$TEST_TMP/file":/etc/f
        check "run --bind on Debian: a job builds in the workspace" \
                berth run --bind "$ws":/work deb -- sh -c 'cd /work && cat in > artifact && mkdir -p out/obj'
        check_eq "its artifacts are the workspace owner's" "1000:1000" \
                "$(stat -c %u:%g "$ws/artifact" "$ws/out" "$ws/out/obj" | sort -u)"
        check "the Debian machine boots with them" berth start --wait --timeout 120 deb
        check_eq "its bind is there" "hello" "$(berth exec deb -- cat /src/in)"
        check "and writable, as the owner" berth exec deb -- touch /src/from-deb
        check_eq "owned by the workspace owner" "1000:1000" "$(stat -c %u:%g "$ws/from-deb")"
        check_fails "its read-only bind is not" berth exec deb -- sh -c 'echo x > /etc/f'
        check "stop" berth stop deb
        check "rm" berth rm deb
else
        ok "# SKIP no Debian template in the cache (run the debian test first)"
fi

# Bad input, refused before anything starts.
check_output_contains "a missing source is refused" "must be an existing host" \
        berth run --bind /nonexistent/berth-src:/src busybox -- true
check_eq "a relative source is the caller's, from its current directory" "hello" \
        "$(cd "$TEST_TMP" && "$BERTH" run --bind ws:/src busybox -- cat /src/in)"
check_output_contains "a relative destination is refused" "not absolute" berth run --bind "$ws":src busybox -- true
mkdir -p "$TEST_TMP/a:b"
echo colon > "$TEST_TMP/a:b/f"
check_eq "a ':' in a path is written \\: (as nspawn takes it)" "colon" \
        "$(berth run --bind "$TEST_TMP/a\\:b:/x\\:y" busybox -- cat /x:y/f)"
check_output_contains "a relative source in machine.conf is refused" "not absolute" berth create rel --template busybox --set Bind=src:/src
check_output_contains "over /proc is refused" "/proc, /sys, /dev" berth run --bind "$ws":/proc/x busybox -- true
check_output_contains "over /sys is refused" "/proc, /sys, /dev" berth run --bind "$ws":/sys busybox -- true
check_output_contains "over /dev is refused" "/proc, /sys, /dev" berth run --tmpfs /dev/x busybox -- true
check_output_contains "over /run/host is refused" "/run/host" berth run --bind "$ws":/run/host busybox -- true
check_output_contains "a '..' escape is refused" "'..'" berth run --bind "$ws":/a/../../etc busybox -- true
check_output_contains "an unknown option is refused" "unknown option" berth run --bind "$ws":/src:shared busybox -- true
check_output_contains "a bad machine.conf Bind= names file and line" "machine.conf:2: Bind=" \
        sh -c "printf '[Files]\nBind=rel\n' > '$BERTH_ROOT/machines/m/machine.conf'; '$BERTH' start m"
printf '' > "$BERTH_ROOT/machines/m/machine.conf"

# Hostile guests: symlinks at or above DST.
root=$BERTH_ROOT/machines/m/rootfs
ln -s /etc "$root/evil"
ln -s ../../../../../../etc "$root/evil2"
mkdir -p "$root/up"
ln -s ../../../../.. "$root/up/link"
check_output_contains "DST a symlink to /etc: refused" "symlink in the machine's tree" \
        berth start --bind "$ws":/evil m
check_output_contains "DST a relative symlink up: refused" "symlink" berth start --bind "$ws":/evil2 m
check_output_contains "a symlink above DST: refused" "symlink" berth start --bind "$ws":/up/link/etc/x m
check_output_contains "a tmpfs on a symlink: refused" "symlink" berth start --tmpfs /evil m
# A guest swapping DST between a dir and a symlink to /etc while starts go on.
( while [ ! -e "$TEST_TMP/stop-swap" ]; do
        rm -rf "$root/swap"; mkdir "$root/swap"; rm -rf "$root/swap"; ln -s /etc "$root/swap"
  done ) &
swapper=$!
for i in $(seq 5); do
        if "$BERTH" start --bind "$ws":/swap m >/dev/null 2>&1; then "$BERTH" stop m >/dev/null 2>&1; fi
done
touch "$TEST_TMP/stop-swap"
wait "$swapper"
check "after it all the machine still starts" berth start m
check "and stops" berth stop m
host_mounts > "$TEST_TMP/mounts.after"
check_eq "nothing was mounted on the host" "" "$(comm -13 "$TEST_TMP/mounts.before" "$TEST_TMP/mounts.after")"
check_eq "the host's /etc is untouched" "$etc_before" "$(etc_sum)"
check "no file of the workspace landed in /etc" test ! -e /etc/in

check "rm" berth rm m

# Unit mode: the supervisor runs as a systemd unit in the test host; the
# binds travel the same way, on its command line.
uws=$TEST_TMP/uws
mkdir -p "$uws"
echo unit > "$uws/in"
chown -R 1000:1000 "$uws"
start_testhost "the test host boots (systemd with machined)" --bind "$uws"
check "unit mode: create" tb create ub --template busybox
check "unit mode: start with --bind and --bind-ro" tb start --bind "$uws":/src --bind-ro "$uws":/ro ub
check_eq "unit mode: the bind is there" "unit" "$(tb exec ub -- cat /src/in)"
check "unit mode: a file made in it" tb exec ub -- touch /src/made
check_eq "unit mode: is the workspace owner's" "1000:1000" "$(stat -c %u:%g "$uws/made")"
check_fails "unit mode: the read-only bind is read-only" tb exec ub -- touch /ro/x
check_eq "unit mode: status --json shows both" "2" "$(tb status --json ub | jq '.binds | length')"
check "unit mode: a live bind into the running unit" tb bind --mkdir ub "$uws" /live
check_eq "unit mode: its files read inside" "unit" "$(tb exec ub -- cat /live/in)"
check "unit mode: unbind" tb unbind ub /live
check_fails "unit mode: and it is gone" tb exec ub -- test -e /live/in
check "unit mode: stop" tb stop ub
check "unit mode: rm" tb rm ub
done_testing
