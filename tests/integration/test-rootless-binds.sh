#!/bin/bash
# berth without root, part two (README "Without root"): binds of the user's
# own directories and files into the user's machines (--bind, --bind-ro,
# [Files] Bind=), with the ownership the README states (the user's files are
# UID 65536 inside; what the machine's root makes is the machine root's,
# host UID = the machine's range base); binds of what the user cannot read
# and through symlinks refused; `set` on the user's machines; a SIGKILLed
# supervisor leaves no pasta; signals to `berth exec` reach the command.
# A mount namespace of its own, as test-rootless.sh: a /dev/net/tun the user
# may open is bound over the host's for this test alone.
if [ -z "${BERTH_RL_MNTNS:-}" ]; then
        export BERTH_RL_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rootless.sh"

cleanup_rlb() {
        [ -n "${RP:-}" ] && kill "$RP" 2>/dev/null
        rootless_cleanup
        cleanup
}
trap cleanup_rlb EXIT
rootless_user berth-rlb 2 || { not_ok "useradd"; done_testing; }
rootless_add_ranges
base_of() { sed -n 's/^UID_BASE=//p' "$STATE/machines/$1/idmap"; }
state_of() { ub list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }
no_user_process() { ! pgrep -U "$UID_U" >/dev/null; }
# as the user, outside berth
asu() { setpriv --reuid "$U" --regid "$U" --init-groups -- "$@"; }

check "create a (busybox, no network)" ub create a --template busybox --set Network.Mode=none
ba=$(base_of a)

# --- what the user binds --------------------------------------------------------
DATA=$UHOME/data
asu mkdir -p "$DATA/sub" "$UHOME/ro"
asu sh -c "echo user-file >'$DATA/mine'; echo ro-file >'$UHOME/ro/f'; echo single >'$UHOME/single'"
asu chmod 600 "$DATA/mine"
# A directory of root's the user may not read, one the user may pass
# through but not list, and a symlink of the user's to its own data dir.
PRIV=$UDIR/private && mkdir -m 0700 "$PRIV" && echo root-secret >"$PRIV/s"
asu ln -s "$DATA" "$UHOME/datalink"

# --- refusals: nothing starts ---------------------------------------------------
check_output_contains "a bind of a dir the user cannot read is refused" "you can read yourself" \
        ub start a --bind "$PRIV:/mnt"
check_eq "and a did not start" "stopped" "$(state_of a)"
check_output_contains "a bind of a file the user cannot read (/etc/shadow) is refused" "you can read yourself" \
        ub start a --bind /etc/shadow:/shadow
check_output_contains "a symlink as SRC is refused" "symlink" ub start a --bind "$UHOME/datalink:/mnt"
check_output_contains "a SRC whose path goes through a symlink is refused" "symlink" \
        ub start a --bind "$UHOME/datalink/sub:/mnt"
check_output_contains "the idmap option needs root, said" "needs root" ub start a --bind "$DATA:/mnt:idmap"
check_output_contains "norbind needs root, said" "norbind needs root" ub start a --bind "$DATA:/mnt:norbind"
check_output_contains "a missing SRC is refused" "existing file or directory" ub start a --bind "$UHOME/nope:/mnt"
check_eq "a is still stopped, nothing made in it" "stopped " \
        "$(state_of a) $(ls "$STATE/machines/a/rootfs/mnt" 2>/dev/null)"
wait_for 10 no_user_process

# --- a bind at start, and a read-only one ---------------------------------------------------
# The home open to others (0755): start says what the machine's root can
# leave in the writable binds, not in the read-only one.
chmod 0755 "$UHOME"
check_output_contains "start a with a bind of the user's dir, a read-only one and a file: said" \
        "writes to $DATA \\(a bind\\), which other users of this host can reach" \
        ub start a --bind "$DATA:/data" --bind-ro "$UHOME/ro:/ro" --bind "$UHOME/single:/etc/single"
cp "$TEST_TMP/out" "$TEST_TMP/start.out"
check_output_contains "... of the file too" "writes to $UHOME/single \\(a bind\\)" cat "$TEST_TMP/start.out"
check_fails "... not of the read-only bind" grep -q "writes to $UHOME/ro " "$TEST_TMP/start.out"
check_eq "a runs" "running" "$(state_of a)"
check_eq "the user's files are UID/GID 65536 inside" "65536:65536 65536:65536" \
        "$(ub exec a -- stat -c %u:%g /data /data/mine | xargs)"
check_eq "the machine's root reads the user's 0600 file" "user-file" "$(ub exec a -- cat /data/mine)"
check "the machine's root writes it" ub exec a -- sh -c 'echo changed-inside >>/data/mine'
check_eq "the change is in the user's file on the host, still the user's" "changed-inside $U 600" \
        "$(tail -n 1 "$DATA/mine") $(stat -c '%U %a' "$DATA/mine")"
check "the machine's root makes a file in the bind" ub exec a -- sh -c 'echo from-root >/data/by-root'
check_eq "on the host it is the machine root's (host UID = a's range base)" "$ba:$ba" \
        "$(stat -c %u:%g "$DATA/by-root")"
check_eq "the user reads it on the host" "from-root" "$(asu cat "$DATA/by-root")"
check "and may remove it (the directory is the user's)" asu rm "$DATA/by-root"
check "as UID 65536 inside a process makes a file" ub exec --user 65536 a -- sh -c 'echo as-user >/data/by-65536'
check_eq "on the host it is the user's own" "$U:$U as-user" \
        "$(stat -c %U:%G "$DATA/by-65536") $(cat "$DATA/by-65536")"
check "the machine's root hands a file to the user with chown 65536" \
        ub exec a -- sh -c 'echo handed >/data/handed && chown 65536:65536 /data/handed'
check_eq "it is the user's on the host" "$U:$U" "$(stat -c %U:%G "$DATA/handed")"
check_eq "the read-only bind is readable" "ro-file" "$(ub exec a -- cat /ro/f)"
check_fails "the read-only bind cannot be written" ub exec a -- sh -c 'echo x >/ro/new'
check_fails "the machine's root cannot remount it read-write (locked)" ub exec a -- mount -o remount,bind,rw /ro
check_fails "so it still cannot be written" ub exec a -- sh -c 'echo x >/ro/new'
check_fails "nor remount a bind with suid (locked nosuid)" ub exec a -- mount -o remount,bind,suid /data
check_eq "nothing was made there" "f" "$(ls "$UHOME/ro" | xargs)"
check_eq "the bound file is there" "single" "$(ub exec a -- cat /etc/single)"
check_eq "status lists the binds" "3" "$(ub status --json a | jq '.binds | length')"
check "stop a" ub stop a
wait_for 10 no_user_process

# [Files] Bind= in the machine's configuration, through `set`.
check "set a Files.Bind= as the user" ub set a "Files.Bind=$DATA:/cfgdata"
check_eq "it is in machine.conf" "Bind=$DATA:/cfgdata" "$(grep -x "Bind=.*" "$STATE/machines/a/machine.conf")"
# With the home closed to others (0700) nothing is said.
chmod 0700 "$UHOME"
check "start a" ub start a
cp "$TEST_TMP/out" "$TEST_TMP/start.out"
check_fails "... saying nothing of its bind: no other user reaches it" grep -q "can reach" "$TEST_TMP/start.out"
chmod 0755 "$UHOME"
check_eq "the configured bind is there" "as-user" "$(ub exec a -- cat /cfgdata/by-65536)"
check "stop a" ub stop a
wait_for 10 no_user_process
check "set a symlinked Files.Bind= (checked at start)" ub set a "Files.Bind=$UHOME/datalink:/cfgdata"
check_output_contains "then start refuses it" "symlink" ub start a
check_eq "a is stopped" "stopped" "$(state_of a)"
check "set Files.Bind= back to nothing" ub set a "Files.Bind="
check_eq "no Bind= is left in machine.conf" "" "$(grep "^Bind=" "$STATE/machines/a/machine.conf")"
check_output_contains "a bad value is refused" "Invalid|expected" ub set a "Files.Bind=relative/path"
check_eq "and machine.conf is unchanged" "" "$(grep "^Bind=" "$STATE/machines/a/machine.conf")"
check_fails "set on a machine of root's name the user does not have" ub set nosuch Hostname=x
conf_before=$(cat "$STATE/machines/a/machine.conf")
check_output_contains "set PrivateUsers=no: needs root, said" "PrivateUsers=no needs root" ub set a PrivateUsers=no
check_output_contains "set Network.Mode=host: needs root, said" "Mode=host needs root" ub set a Network.Mode=host
check_eq "machine.conf is unchanged by both" "$conf_before" "$(cat "$STATE/machines/a/machine.conf")"
check "set Hostname= and MemoryMax= as the user" ub set a Hostname=rlhost MemoryMax=200M
check_eq "both are in machine.conf" "Hostname=rlhost MemoryMax=200M" \
        "$(grep -E "^(Hostname|MemoryMax)=" "$STATE/machines/a/machine.conf" | xargs)"
check_output_contains "enable without the user's systemd: refused, saying what it needs" \
        "needs your systemd.*enable-linger" ub enable a
check_output_contains "disable: the same" "needs your systemd" ub disable a
check_output_contains "enable of a machine the user does not have" "No machine" ub enable nosuch

# --- live binds -------------------------------------------------------------------------
check "start a" ub start a
check_output_contains "set --runtime of a limit of running a: no cgroup of its own, said" \
        "without a cgroup of its own" ub set a --runtime MemoryMax=300M
check_output_contains "set of a limit without --runtime: kept for a later start, said" \
        "kept in machine.conf" ub set a MemoryMax=300M
check_eq "it is in machine.conf" "MemoryMax=300M" "$(grep "^MemoryMax=" "$STATE/machines/a/machine.conf")"
check "bind --mkdir the user's dir into running a" ub bind --mkdir a "$DATA" /live
check_eq "its files are there, the user's as 65536" "65536 as-user" \
        "$(ub exec a -- stat -c %u /live/by-65536) $(ub exec a -- cat /live/by-65536)"
check "the machine's root writes through the live bind" ub exec a -- sh -c 'echo live-write >/live/live-w'
check_eq "it is on the host, the machine root's" "live-write $ba" "$(cat "$DATA/live-w") $(stat -c %u "$DATA/live-w")"
check "bind --read-only --mkdir" ub bind --read-only --mkdir a "$UHOME/ro" /live-ro
check_eq "readable" "ro-file" "$(ub exec a -- cat /live-ro/f)"
check_fails "not writable" ub exec a -- touch /live-ro/new
check_fails "the machine's root cannot remount the live one read-write (locked)" \
        ub exec a -- mount -o remount,bind,rw /live-ro
check_fails "still not writable" ub exec a -- touch /live-ro/new
check_output_contains "a live bind of a dir the user cannot read is refused" "you can read yourself" \
        ub bind --mkdir a "$PRIV" /priv
check_eq "and nothing is mounted there" "" "$(ub exec a -- ls /priv 2>/dev/null)"
check_output_contains "a live bind of a symlink is refused" "symlink" ub bind --mkdir a "$UHOME/datalink" /dl
check_output_contains "a live bind with idmap is refused" "needs root" ub bind --mkdir --options idmap a "$DATA" /idm
check "unbind /live" ub unbind a /live
check_eq "the live bind is gone" "" "$(ub exec a -- ls /live)"
check "unbind /live-ro" ub unbind a /live-ro
check_output_contains "unbind of what is no mount point, said" "Nothing is mounted" ub unbind a /live
check "stop a" ub stop a
wait_for 10 no_user_process

# --- signals to berth exec reach the command ------------------------------------------
check "start a" ub start a
ub exec a -- sh -c 'trap "echo got-term >/tmp/term; exit 3" TERM; echo ready >/tmp/ready; while :; do sleep 0.1; done' &
EP=$!
wait_for 10 bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN BERTH=$BERTH BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR \
        BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED ub exec a -- test -e /tmp/ready"
# berth itself (ub is a function: $! is its subshell), the oldest of its
# processes (the helper it forks has the same command line)
berth_exec_pid() { pgrep -o -U "$UID_U" -f "$BERTH exec a -- $1"; }
# wait_job JOB BERTH_PID: JOB's status, or 124 (and berth killed) if it
# has not ended within 15 s.
wait_job() {
        local i
        for i in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$1" 2>/dev/null; then
                kill -9 "$2" 2>/dev/null
                wait "$1"
                return 124
        fi
        wait "$1"
}
BP=$(berth_exec_pid sh)
kill -TERM "$BP"
wait_job "$EP" "$BP"
check_eq "SIGTERM to a user's berth exec reaches the command: its trap's status" 3 "$?"
check_eq "the command's trap ran" "got-term" "$(ub exec a -- cat /tmp/term)"
ub exec a -- sleep 300 &
EP=$!
wait_for 10 pgrep -U "$ba" -x sleep
BP=$(berth_exec_pid sleep)
kill -TERM "$BP"
wait_job "$EP" "$BP"
check_eq "a command without a trap ends by SIGTERM (128+15), as under root" 143 "$?"
check_eq "and it is gone from the machine" "" "$(pgrep -U "$ba" -x sleep)"
check "stop a" ub stop a
wait_for 10 no_user_process

# --- pasta dies with its supervisor ---------------------------------------------------
# pasta copies the address and default route of the test's namespace: a
# veth to a peer namespace gives it both.
unshare --net sleep 600 & RP=$!
own_netns() { [ "$(readlink /proc/$RP/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 10 own_netns
ip link add rlb0 type veth peer name rlb1 netns /proc/$RP/ns/net
ip addr add 10.98.0.1/24 dev rlb0 && ip link set rlb0 up && ip route add default via 10.98.0.2
nsenter --net=/proc/$RP/ns/net sh -c 'ip link set lo up; ip addr add 10.98.0.2/24 dev rlb1; ip link set rlb1 up'
mknod -m 0666 "$TEST_TMP/tun" c 10 200 && mount --bind "$TEST_TMP/tun" /dev/net/tun
check "create n (user-mode network)" ub create n --template busybox
check "start n" ub start n
pasta_of_user() { pgrep -U "$UID_U" -f "^/usr/bin/pasta "; }
check "pasta runs as the user" pasta_of_user
SUP=$(pgrep -U "$UID_U" -f "berth-machined.* n( |$)" | head -n 1)
check "the supervisor of n is found" test -n "$SUP"
kill -9 "$SUP"
no_pasta() { ! pasta_of_user >/dev/null; }
check "after kill -9 of the supervisor no pasta is left" wait_for 10 no_pasta
wait_for 10 no_user_process
check_eq "no process of the user is left" "" "$(pgrep -a -U "$UID_U")"
check "start n again after the kill" ub start n
check "its pasta runs" pasta_of_user
check "stop n" ub stop n
wait_for 10 no_user_process
check_eq "stop leaves no pasta" "" "$(pasta_of_user)"

# A pasta that outlived its supervisor (as one daemonized by an older berth
# would): gc stops it by the pid file in the machine's runtime dir, and only
# a pasta started with that pid file.
RUNN=$URUN/berth/n
asu mkdir -p "$RUNN"
setpriv --reuid "$U" --regid "$U" --init-groups -- unshare --user --map-root-user --net sleep 300 &
NS=$!
wait_for 10 bash -c "[ \"\$(readlink /proc/$NS/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]"
check "an old-style daemonized pasta runs, with n's pid file" \
        asu /usr/bin/pasta --config-net --quiet --netns "/proc/$NS/ns/net" --userns "/proc/$NS/ns/user" \
        --pid "$RUNN/pasta.pid" -t none -u none -T none -U none
check "it runs" pasta_of_user
check_output_contains "gc stops it, saying so" "Stopped the pasta" ub gc
check "it is gone" wait_for 10 no_pasta
check_eq "and its pid file" "" "$(ls "$RUNN/pasta.pid" 2>/dev/null)"
# A pid file naming a process that is not that pasta: left alone.
setpriv --reuid "$U" --regid "$U" --init-groups -- sleep 300 &
SL=$!
wait_for 5 pgrep -U "$UID_U" -x sleep
asu sh -c "echo $SL >'$RUNN/pasta.pid'"
check "gc" ub gc
check "a process that is not the machine's pasta is not killed" kill -0 "$SL"
kill "$SL" "$NS" 2>/dev/null
wait "$SL" "$NS" 2>/dev/null
umount /dev/net/tun

done_testing
