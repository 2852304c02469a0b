#!/bin/bash
# berth without root (README "Without root"): a user made for this test, with
# two 65536-ID ranges in /etc/subuid and /etc/subgid, keeps machines in its
# own XDG directories; machine ranges come from its subordinate IDs through
# newuidmap/newgidmap; busybox and --from-tar rootfs trees belong to the
# machine's IDs; rm removes them; root's machines stay out of its reach and
# nothing under /var/lib/berth or /run/berth changes.
# A mount namespace of its own: the user-mode networking cases bind a
# /dev/net/tun the user may open over the host's (mode 0600 on hosts
# without udev) for this test alone.
if [ -z "${BERTH_RL_MNTNS:-}" ]; then
        export BERTH_RL_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rootless.sh"

U2=berth-rm$$   # a second user, who must not reach the first one's machines
SHARE=$(mktemp -d /var/tmp/berth-rl-share.XXXXXX) # what the user may read
chmod 755 "$SHARE"

cleanup_rl() {
        [ -n "${RP:-}" ] && kill "$RP" 2>/dev/null
        [ -n "${HP:-}" ] && kill "$HP" 2>/dev/null
        tmux -L "berth-rl$$" kill-server 2>/dev/null
        rootless_cleanup
        userdel -r -f "$U2" >/dev/null 2>&1
        rm -rf --one-file-system "$SHARE"
        cleanup
}
trap cleanup_rl EXIT
rootless_user berth-rl || { not_ok "useradd"; done_testing; }
base_of() { sed -n 's/^UID_BASE=//p' "$STATE/machines/$1/idmap"; }
before=$(system_listing)

# --- the runtime dir and the state root -------------------------------------
check_output_contains "no XDG_RUNTIME_DIR: refused, saying so" "XDG_RUNTIME_DIR is not set" \
        setpriv --reuid "$U" --regid "$U" --init-groups -- env -i HOME="$UHOME" "$BERTH" list
chmod 0755 "$URUN"
check_output_contains "a runtime dir others can read: refused" "mode 0700 owned by you" ub list
chmod 0700 "$URUN"
check_output_contains "another user's runtime dir: refused" "mode 0700 owned by you" \
        env UENV="XDG_RUNTIME_DIR=$TEST_TMP" bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$TEST_TMP \
        BERTH=$BERTH BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR BERTH_UNPACK=$BERTH_UNPACK \
        BERTH_MACHINED=$BERTH_MACHINED ub list"
check "list without machines" ub list
check_eq "the state lives in the user's XDG data dir" "$U 700" "$(stat -c '%U %a' "$STATE")"
check_eq "the runtime state in XDG_RUNTIME_DIR/berth" "$U 700" "$(stat -c '%U %a' "$URUN/berth")"

# --- root's machine of the same name ------------------------------------------
check "root creates machine same" berth create same --template busybox --set Network.Mode=none
check "root starts it" berth start same
check_eq "the user does not list root's machine" "" "$(ub list --json | jq -r '.[].name')"
check_status "the user's status of 'same': no such machine (4)" 4 ub status same
check_status "the user's rm of 'same': no such machine (4)" 4 ub rm same
check_status "the user cannot stop it: no such machine (4)" 4 ub stop same
check_status "nor exec in it (4)" 4 ub exec same -- true
check_status "nor kill it (4)" 4 ub kill same
check_status "nor reboot it (4)" 4 ub reboot same
check_output_contains "--root naming root's state root: refused" "not by you|Permission denied" ub --root "$BERTH_ROOT" list
check_output_contains "--root /var/lib/berth: refused" "is the system's" ub --root /var/lib/berth list
check_output_contains "BERTH_ROOT below /run/berth: refused" "is the system's" \
        env UENV=BERTH_ROOT=/run/berth/x bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN BERTH=$BERTH \
        BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED ub list"
check_output_contains "--root at a directory root owns (/var/tmp): refused" "not by you" ub --root /var/tmp list
ln -s "$BERTH_ROOT" "$UHOME/rootlink"
check_output_contains "--root through a symlink to root's state: refused" "not by you|Permission denied" ub --root "$UHOME/rootlink" list
check_eq "root's machine still runs" "same running" "$(berth list --json | jq -r '.[] | "\(.name) \(.state)"')"

# --- no subordinate IDs yet -----------------------------------------------
check_output_contains "create without subordinate IDs names /etc/subuid" "/etc/subuid" \
        ub create a --template busybox
check_eq "and leaves nothing" "" "$(ls -A "$STATE/machines")"
rootless_add_ranges

# --- machines from the user's ranges ------------------------------------------
check "create a --template busybox" ub create a --template busybox
check_eq "a is listed, stopped" "a stopped" "$(ub list --json | jq -r '.[] | "\(.name) \(.state)"')"
ba=$(base_of a)
check_eq "a's range is the first of the user's" "$START" "$ba"
check_eq "a's rootfs belongs to the machine's root" "$ba:$ba" "$(stat -c %u:%g "$STATE/machines/a/rootfs")"
check_eq "and so does its busybox" "$ba" "$(stat -c %u "$STATE/machines/a/rootfs/bin/busybox")"
check_eq "the hostname is written inside the range" "a $ba" \
        "$(cat "$STATE/machines/a/rootfs/etc/hostname") $(stat -c %u "$STATE/machines/a/rootfs/etc/hostname")"
check_eq "no file of the tree is the user's or host root's" "" \
        "$(find "$STATE/machines/a/rootfs" \( -uid 0 -o -uid "$UID_U" \) -print -quit)"
# (its staging dir's name until the registry is next read)
check "the user's registry names a" grep -qEx "OWNER=.*/machines/(a|\.staging-a\..*)" "$STATE/uid-ranges/$(printf '%08x' "$ba")"
check_output_contains "status shows the range" "root is host UID $ba" ub status a

# A rootfs tarball: its owners shift into the range.
mkdir -p "$TEST_TMP/tree/etc" "$TEST_TMP/tree/home/u"
echo hello >"$TEST_TMP/tree/etc/greeting"
chown 1000:1000 "$TEST_TMP/tree/home/u"
ln -s /etc/shadow "$TEST_TMP/tree/etc/shadowlink"
tar -C "$TEST_TMP/tree" -cf "$SHARE/root.tar" .
chmod 644 "$SHARE/root.tar"
check "create b --from-tar" ub create b --from-tar "$SHARE/root.tar"
bb=$(base_of b)
check_eq "b got the second range" "$((START + 65536))" "$bb"
check_eq "b's files: root's and UID 1000's, shifted" "$bb $((bb + 1000))" \
        "$(stat -c %u "$STATE/machines/b/rootfs/etc/greeting") $(stat -c %u "$STATE/machines/b/rootfs/home/u")"
check_eq "the symlink stays a symlink, never followed" "/etc/shadow" "$(readlink "$STATE/machines/b/rootfs/etc/shadowlink")"
check_eq "no file of the user's state is /etc/shadow" "" \
        "$(find "$UHOME" -samefile /etc/shadow -print -quit 2>/dev/null)"
check_fails "--from-tar of a file the user cannot read" ub create c --from-tar /etc/shadow

# A tar with a hard link to /etc/shadow cannot reach it: the unpacker runs as
# root of the machine's namespace, where /etc/shadow's owner does not exist.
python3 - "$SHARE/evil.tar" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
        ti = tarfile.TarInfo("etc/passwd-hard"); ti.type = tarfile.LNKTYPE; ti.linkname = "/etc/shadow"
        t.addfile(ti)
EOF
chmod 644 "$SHARE/evil.tar"
ub create evil --from-tar "$SHARE/evil.tar" >/dev/null 2>&1
check_eq "a hard link to /etc/shadow in a tar gives the user nothing of it" "" \
        "$(find "$UHOME" -samefile /etc/shadow -print -quit 2>/dev/null)"
check_status "rm evil (made or not: no such machine is 4)" 0 bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN \
        BERTH=$BERTH BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED; \
        ub rm evil >/dev/null 2>&1; r=\$?; [ \$r = 0 ] || [ \$r = 4 ]"

# Out of ranges: said, naming the files, nothing made.
check_output_contains "a third machine: out of ranges, said" "taken by machines.*/etc/subuid" \
        ub create c --template busybox
check_eq "and nothing of c is left" "a b" "$(ls "$STATE/machines" | xargs)"
# The registry of the user's ranges is one for all their state dirs: it is
# below the home of the password database, whatever XDG_DATA_HOME says.
alt_ub() { UENV="XDG_DATA_HOME=$UHOME/alt" ub "$@"; }
check_output_contains "from another state dir (XDG_DATA_HOME) too: out of ranges" "taken by machines" \
        alt_ub create c --template busybox
check_eq "... nothing of c is left there" "" "$(ls -A "$UHOME/alt/berth/machines" 2>/dev/null)"
rm -rf "$UHOME/alt"

# A layered machine would run in the image store's range: there is none free
# for it either.
check_output_contains "create --template busybox --layered: out of ranges, said" "taken by machines" \
        ub create d --template busybox --layered
check_eq "... no machine d" "a b" "$(ls "$STATE/machines" | xargs)"
check_eq "... no image stored" "" "$(ub images --json | jq -r '.[].reference')"
check_fails "... and the store holds no range" test -e "$STATE/images/idmap"

# --- cp of a stopped machine's files --------------------------------------------
# The user's copy runs as root of a namespace mapped like the machine's: in
# goes to the machine's root, out comes to the user, nothing else is reached.
echo user-data >"$UHOME/in.txt" && chown "$U:" "$UHOME/in.txt"
mkdir -p "$UHOME/indir/sub" && echo deep >"$UHOME/indir/sub/f" && chown -R "$U:" "$UHOME/indir"
check "cp a user's file into stopped b" ub cp "$UHOME/in.txt" b:/etc/in.txt
check_eq "it arrived, the machine root's (host $bb), mode kept" "user-data $bb:$bb 644" \
        "$(cat "$STATE/machines/b/rootfs/etc/in.txt") $(stat -c '%u:%g %a' "$STATE/machines/b/rootfs/etc/in.txt")"
check "cp a user's tree into b" ub cp "$UHOME/indir" b:/home/
check_eq "the tree arrived, all the machine root's" "deep $bb" \
        "$(cat "$STATE/machines/b/rootfs/home/indir/sub/f") $(find "$STATE/machines/b/rootfs/home/indir" -printf '%u\n' | sort -u | xargs)"
check "cp of a file another owner (root) lets the user read" ub cp "$SHARE/root.tar" b:/root.tar
check_eq "it becomes the machine's nobody" "$((bb + 65534))" "$(stat -c %u "$STATE/machines/b/rootfs/root.tar")"
check_fails "cp in of a file the user cannot read (/etc/shadow)" ub cp /etc/shadow b:/shadow
check_eq "and nothing of it is made" "" "$(ls "$STATE/machines/b/rootfs/shadow" 2>/dev/null)"
# A file only the machine's UID 1000 may read.
echo guest-secret >"$STATE/machines/b/rootfs/home/u/secret"
chown "$((bb + 1000)):$((bb + 1000))" "$STATE/machines/b/rootfs/home/u/secret"
chmod 600 "$STATE/machines/b/rootfs/home/u/secret"
mkdir "$UHOME/out" && chown "$U:" "$UHOME/out"
check "cp out of b a file of its UID 1000, mode 0600" ub cp b:/home/u/secret "$UHOME/out/"
check_eq "the user owns the copy, contents and mode kept" "guest-secret $U:$U 600" \
        "$(cat "$UHOME/out/secret") $(stat -c '%U:%G %a' "$UHOME/out/secret")"
check "cp out of b a tree (/home)" ub cp b:/home "$UHOME/out/home"
check_eq "every file of it is the user's" "$U" "$(find "$UHOME/out/home" -printf '%u\n' | sort -u | xargs)"
OUTTMP=$(mktemp -d /tmp/berth-rl-out.XXXXXX) && chmod 1777 "$OUTTMP"   # root's, sticky, like /tmp
check "cp out into a sticky directory of root's that all may write" ub cp b:/etc/greeting "$OUTTMP/g"
check_eq "the copy is the user's there too" "hello $U:$U" "$(cat "$OUTTMP/g") $(stat -c %U:%G "$OUTTMP/g")"
rm -rf "$OUTTMP"
check_fails "cp out into a directory the user cannot write (/etc)" ub cp b:/etc/greeting /etc/
check_eq "nothing was made there" "" "$(ls /etc/greeting 2>/dev/null)"
# Guest symlinks resolve inside the machine, never on the host.
ln -s /etc "$STATE/machines/b/rootfs/hostetc"
check_fails "cp out through a guest symlink to /etc: the guest's /etc, no shadow" ub cp b:/hostetc/shadow "$UHOME/out/s"
check_eq "nothing of the host's /etc/shadow came out" "" "$(ls "$UHOME/out/s" 2>/dev/null)"
check "cp out of the symlink itself" ub cp b:/etc/shadowlink "$UHOME/out/"
check_eq "it comes as a symlink, not followed" "/etc/shadow" "$(readlink "$UHOME/out/shadowlink")"
shadow_sum=$(sha256sum /etc/shadow)
check "cp in onto the guest symlink to /etc/shadow" ub cp "$UHOME/in.txt" b:/etc/shadowlink
check_eq "the host's /etc/shadow is untouched" "$shadow_sum" "$(sha256sum /etc/shadow)"
check_eq "the link was replaced in the machine" "user-data" "$(cat "$STATE/machines/b/rootfs/etc/shadowlink")"
check "cp out to a tar on stdout" bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN BERTH=$BERTH \
        BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED; \
        ub cp b:/etc/greeting - | tar -xO | grep -x hello >/dev/null"
check "cp in from a tar of the user's on stdin" bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN BERTH=$BERTH \
        BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED; \
        tar -C $UHOME -c in.txt | ub cp - b:/etc/from-tar"
check_eq "it arrived, the machine root's" "user-data $bb" \
        "$(cat "$STATE/machines/b/rootfs/etc/from-tar") $(stat -c %u "$STATE/machines/b/rootfs/etc/from-tar")"
wait_for 5 test -z "$(find /var/tmp -maxdepth 1 -user "$U" -name 'berth-cp*')"
check_eq "no staging dir of the user's is left" "" "$(find /var/tmp -maxdepth 1 -user "$U" -name 'berth-cp*' -printf '%p %u\n')"

# --- another user -------------------------------------------------------------
useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -d "$UDIR/home2" -m -s /bin/sh "$U2"
mkdir -m 0700 "$UDIR/run2" && chown "$U2:" "$UDIR/run2"
ub2() {
        setpriv --reuid "$U2" --regid "$U2" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                HOME="$UDIR/home2" XDG_RUNTIME_DIR="$UDIR/run2" "$BERTH" "$@"
}
check_eq "another user lists none of them" "" "$(ub2 list --json | jq -r '.[].name')"
check_status "nor sees a (4)" 4 ub2 status a
check_output_contains "nor opens the first user's state with --root" "Permission denied|not by you" \
        ub2 --root "$STATE" list

# --- boot, exec, stop, run ----------------------------------------------------
check_output_contains "a bind of a root-only dir is refused without root" "you can read yourself" \
        ub start a --bind /root:/mnt
check_eq "and a did not start" "a stopped" "$(ub list --json | jq -r '.[] | select(.name == "a") | "\(.name) \(.state)"')"
check_output_contains "start a: running without limits, said once" "without resource limits" ub start a
check_eq "a is running" "a running" "$(ub list --json | jq -r '.[] | select(.name == "a") | "\(.name) \(.state)"')"
check_output_contains "status says it has no cgroup of its own" "CGroup: none" ub status a
# The getty writes a moment after start returns.
wait_for 10 bash -c "$(declare -f ub); U=$U UHOME=$UHOME URUN=$URUN BERTH=$BERTH BERTH_TEMPLATE_DIR=$BERTH_TEMPLATE_DIR \
        BERTH_UNPACK=$BERTH_UNPACK BERTH_MACHINED=$BERTH_MACHINED ub logs a | grep -Eq 'login:|Please press Enter'"
check_output_contains "logs shows the console: busybox init's getty" "login:|Please press Enter" ub logs a
check_status "exec returns the command's status" 7 ub exec a -- sh -c 'exit 7'
check_eq "the machine's root is root inside" 0 "$(ub exec a -- id -u)"
check_eq "its IDs are the user's range (and the user's own, as 65536)" \
        "0 $ba 65536 65536 $UID_U 1" "$(ub exec a -- cat /proc/self/uid_map | xargs)"
# The exec's host-side helper forks the command into the machine's PID
# namespace with credentials of its user namespace, where the machine's
# root could open /proc/PID/root (the host's /) of a dumpable one before it
# has entered the machine's mounts: the helper is not dumpable, so the
# files of /proc/PID of it (not the directory) belong to host root, not to
# the user.
ub exec a -- sleep 30 >/dev/null 2>&1 &
exec_bg=$!
sleeping() { pgrep -u "$ba" -x sleep >/dev/null; }
check "an exec of sleep runs" wait_for 10 sleeping
helper=$(ps -o ppid= -p "$(pgrep -u "$ba" -x sleep | head -n 1)" 2>/dev/null | tr -d ' ')
check_eq "its host-side helper is the user's process" "$UID_U" "$(ps -o ruid= -p "${helper:-0}" 2>/dev/null | tr -d ' ')"
check_eq "... and not dumpable: its /proc files are host root's" "0" "$(stat -c %u "/proc/${helper:-0}/environ" 2>&1)"
pkill -u "$ba" -x sleep; wait "$exec_bg" 2>/dev/null
# /run/host is the user's runtime dir for the machine (its notify socket),
# and the user is mapped into the machine: read-only with its flags locked,
# so the machine's root cannot make it writable again.
check_fails "the machine's root cannot remount /run/host read-write" \
        ub exec a -- sh -c 'mount -o remount,bind,rw /run/host && echo planted >/run/host/planted'
check_eq "... nothing was planted in the user's runtime dir" "" \
        "$(find "$URUN/berth" -name planted 2>/dev/null)"
check "the machine's root writes a file" ub exec a -- touch /made-inside
check_eq "on the host it belongs to the machine's range" "$ba" "$(stat -c %u "$STATE/machines/a/rootfs/made-inside")"
check "cp a user's file into running a" ub cp "$UHOME/in.txt" a:/root/
check_eq "inside it is root's, with its contents" "0 user-data" "$(ub exec a -- sh -c 'stat -c %u /root/in.txt; cat /root/in.txt' | xargs)"
check "the machine makes a file only its root reads, in its own /tmp" ub exec a -- sh -c 'echo running-secret >/tmp/s; chmod 600 /tmp/s'
check "cp it out of the running machine" ub cp a:/tmp/s "$UHOME/out/s-running"
check_eq "the user owns the copy" "running-secret $U 600" \
        "$(cat "$UHOME/out/s-running") $(stat -c '%U %a' "$UHOME/out/s-running")"
check_fails "cp in of /etc/shadow into running a" ub cp /etc/shadow a:/root/
check_fails "cp out of running a into /etc" ub cp a:/root/in.txt /etc/
check_eq "nothing made in the host's /etc" "" "$(ls /etc/in.txt 2>/dev/null)"

# --- console: on a terminal (tmux), as the console is meant to be used -------
# (Driven from a pipe, a read-write console stays attached after its input
# ends, to keep showing the machine's output: a script must detach it.)
{
        declare -f ub
        printf 'U=%q UHOME=%q URUN=%q BERTH=%q BERTH_TEMPLATE_DIR=%q BERTH_UNPACK=%q BERTH_MACHINED=%q\n' \
                "$U" "$UHOME" "$URUN" "$BERTH" "$BERTH_TEMPLATE_DIR" "$BERTH_UNPACK" "$BERTH_MACHINED"
        echo 'ub "$@"'
} >"$TEST_TMP/ub.sh"
TM="tmux -L berth-rl$$"
S=rl
screen_has() { $TM capture-pane -p -t "$S" | grep -qE -- "$1"; }
$TM new-session -d -s "$S" -x 80 -y 24 "bash $TEST_TMP/ub.sh console a; echo console-exit=\$?; sleep 600"
check "console attaches as the user" wait_for 10 screen_has 'Connected to the console of machine a'
$TM send-keys -t "$S" Enter
check "the getty answers with a login prompt" wait_for 10 screen_has 'login:'
$TM send-keys -t "$S" root Enter
check "login as the machine's root on the console" wait_for 10 screen_has '[$#] ?$'
$TM send-keys -t "$S" 'echo "on-console:$(id -u)" | tee /tmp/from-console' Enter
check "commands run on the console, as root inside" wait_for 5 screen_has '^on-console:0'
check_eq "what the console ran is in the machine" "on-console:0" "$(ub exec a -- cat /tmp/from-console)"
$TM send-keys -t "$S" exit Enter
$TM send-keys -t "$S" C-] C-] C-]
check "Ctrl-] three times detaches (status 0)" wait_for 5 screen_has 'console-exit=0'
$TM kill-server 2>/dev/null
check_output_contains "console --read-only shows what the machine writes" "rl-console-out" \
        bash -c "(sleep 1; bash $TEST_TMP/ub.sh exec a -- sh -c 'echo rl-console-out >/dev/console') & \
        timeout 4 bash $TEST_TMP/ub.sh console --read-only a </dev/null; wait"
check_status "another user cannot attach to it: no such machine (4)" 4 ub2 console a
check_eq "the machine has only its loopback" "lo" "$(ub exec a -- ls /sys/class/net | xargs)"
check_eq "the machine's init is PID 1 in its own namespace" busybox \
        "$(ub exec a -- cat /proc/1/comm)"
check_eq "the machine sees nothing of the host's root machine" "" "$(ub exec a -- ls /var/lib/berth 2>/dev/null)"
boots_of() { ub list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .boots'; }
leader1=$(ub list --json | jq -r '.[] | select(.name == "a") | .leader')
check "reboot a" ub reboot a
a_boots_twice() { [ "$(boots_of a)" = 2 ]; }
check "... it comes back: boot 2" wait_for 30 a_boots_twice
leader2=$(ub list --json | jq -r '.[] | select(.name == "a") | .leader')
check "... with a new init" test -n "$leader1" -a "$leader2" != null -a "$leader2" != "$leader1"
check_eq "... that exec reaches" busybox "$(ub exec a -- cat /proc/1/comm)"
check "stop a" ub stop a
check_eq "a is stopped" "a stopped" "$(ub list --json | jq -r '.[] | select(.name == "a") | "\(.name) \(.state)"')"
no_user_process() { ! pgrep -U "$UID_U" >/dev/null; }
wait_for 10 no_user_process
check_eq "no process of the user is left" "" "$(pgrep -a -U "$UID_U")"
check_status "run a: the command's status" 5 ub run a -- sh -c 'touch /tmpfile; exit 5'
check_eq "run leaves no machine" "a b" "$(ub list --json | jq -r '.[].name' | xargs)"
check_eq "nor a file in its base" "" "$(ls "$STATE/machines/a/rootfs/tmpfile" 2>/dev/null)"
check_eq "nor runtime state" "" "$(find "$URUN/berth" -path "$URUN/berth/locks" -prune -o \( -name 'a-run-*' -o -name state \) -print)"
wait_for 10 no_user_process
check_eq "nor a process" "" "$(pgrep -a -U "$UID_U")"
# --- user-mode networking (pasta) --------------------------------------------
# A "remote" host in a namespace of its own behind a veth: pasta copies the
# test namespace's address and route into the machine.
unshare --net sleep 600 & RP=$!
# (its own namespace once unshare has made it: before, /proc/$RP/ns/net is ours)
own_netns() { [ "$(readlink /proc/$RP/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 10 own_netns
ip link add rl0 type veth peer name rl1 netns /proc/$RP/ns/net
ip addr add 10.99.0.1/24 dev rl0 && ip link set rl0 up && ip route add default via 10.99.0.2
nsenter --net=/proc/$RP/ns/net sh -c 'ip link set lo up; ip addr add 10.99.0.2/24 dev rl1; ip link set rl1 up'
mkdir -p "$TEST_TMP/www" && echo remote-hello >"$TEST_TMP/www/index.html"
nsenter --net=/proc/$RP/ns/net python3 -m http.server 18081 --bind 10.99.0.2 --directory "$TEST_TMP/www" \
        >/dev/null 2>&1 & HP=$!
check "the remote host's web server is up" wait_for 20 curl -sf -m 1 -o /dev/null http://10.99.0.2:18081/index.html
mknod -m 0666 "$TEST_TMP/tun" c 10 200 && mount --bind "$TEST_TMP/tun" /dev/net/tun
PORT=$((20000 + $$ % 20000))
check "start a with a port forward" ub start a --port "$PORT:80"
check "pasta runs as the user" pgrep -U "$UID_U" -f "^/usr/bin/pasta "
check_eq "the machine got the host's address" "10.99.0.1/24" \
        "$(ub exec a -- ip -4 -o addr show | awk '$2 != "lo" { print $4 }')"
check_eq "its DNS is pasta's forwarder" "nameserver 169.254.1.1" "$(ub exec a -- cat /etc/resolv.conf)"
check "a web server in the machine" ub exec a -- sh -c 'mkdir -p /srv && echo guest-hello >/srv/index.html && httpd -p 80 -h /srv'
check "the forward answers from the host" wait_for 10 bash -c "curl -sf -m 2 http://127.0.0.1:$PORT/ | grep -qx guest-hello"
check_eq "egress: the machine reaches the remote host" remote-hello \
        "$(ub exec a -- sh -c 'printf "GET /index.html HTTP/1.0\r\n\r\n" | timeout 5 nc 10.99.0.2 18081 | tail -n 1')"
check "stop a" ub stop a
wait_for 10 no_user_process
check_eq "pasta went with it" "" "$(pgrep -a -U "$UID_U")"
check_fails "the forward is gone" curl -sf -m 2 "http://127.0.0.1:$PORT/"
umount /dev/net/tun

# Its run image needs a range of its own; a and b hold both.
check_output_contains "run of a template, every range taken: said" "taken by machines.*/etc/subuid" \
        ub run busybox -- true
check_eq "and no run image or instance is left" "" \
        "$(ls -A "$STATE/images/bases" 2>/dev/null | xargs)$(ls -A "$STATE/machines" | grep -v '^[ab]$')"

# --- rm -------------------------------------------------------------------
check "rm a" ub rm a
check_eq "a and all its files are gone" "b" "$(ls -A "$STATE/machines" | xargs)"
check_eq "its registry entry is gone" "" "$(ls "$STATE/uid-ranges" | grep -x "$(printf '%08x' "$ba")")"

# --- clone ----------------------------------------------------------------------
# (clone --overlay without root: test-rootless-overlay.sh)
check "clone --copy b b2" ub clone --copy b b2
b2=$(base_of b2)
R2=$STATE/machines/b2/rootfs
check_eq "b2 got a range of its own (a's, free again)" "$ba" "$b2"
check_eq "b2's files moved to its range: root's, UID 1000's, nobody's" "$b2 $((b2 + 1000)) $((b2 + 1000)) $((b2 + 65534))" \
        "$(stat -c %u "$R2/etc/greeting" "$R2/home/u" "$R2/home/u/secret" "$R2/root.tar" | xargs)"
check_eq "contents, modes and symlinks came along" "guest-secret 600 /etc" \
        "$(cat "$R2/home/u/secret") $(stat -c %a "$R2/home/u/secret") $(readlink "$R2/hostetc")"
check_eq "no file of b2 is b's range's, the user's or root's" "" \
        "$(find "$R2" \( \( -uid +$((bb - 1)) -uid -$((bb + 65536)) \) -o -uid "$UID_U" -o -uid 0 -o -gid 0 \) -print -quit)"
check_eq "b2 names itself" "b2" "$(cat "$R2/etc/hostname")"
check_eq "b is untouched" "$bb hello" "$(stat -c %u "$STATE/machines/b/rootfs/etc/greeting") $(cat "$STATE/machines/b/rootfs/etc/greeting")"
check "cp works on the clone" ub cp b2:/home/u/secret "$UHOME/out/secret-b2"
check_eq "with its contents" "guest-secret" "$(cat "$UHOME/out/secret-b2")"
check_output_contains "a third clone: out of ranges, said" "taken by machines.*/etc/subuid" ub clone b b3
check_eq "and nothing of b3 is left" "b b2" "$(ls -A "$STATE/machines" | xargs)"
check "rm b2" ub rm b2

# --- import ----------------------------------------------------------------------
# An OCI layout over b's tarball (oci-fixtures.py), unpacked by berth-import
# as root of the new machine's namespace.
check "make an OCI layout" python3 "$(dirname "$0")/oci-fixtures.py" stack "$SHARE/root.tar" "$SHARE/stack"
chmod -R a+rX "$SHARE/stack"
check "import an OCI image as the user" ub import imp "$SHARE/stack" --ref one --boot=yes --set Network.Mode=none
bi=$(base_of imp)
check_eq "imp got a range of its own" "$ba" "$bi"
check_eq "its files are its range's: the base layer's greeting, UID 1000's home" "hello $bi $((bi + 1000))" \
        "$(cat "$STATE/machines/imp/rootfs/etc/greeting") $(stat -c %u "$STATE/machines/imp/rootfs/etc/greeting" "$STATE/machines/imp/rootfs/home/u" | xargs)"
check_eq "no file of it is the user's or root's" "" \
        "$(find "$STATE/machines/imp/rootfs" \( -uid "$UID_U" -o -uid 0 -o -gid 0 \) -print -quit)"
check_eq "imp names itself" "imp" "$(cat "$STATE/machines/imp/rootfs/etc/hostname")"
check_fails "import of a layout the user cannot read" ub import imp2 /root
check_eq "and nothing of imp2 is left" "b imp" "$(ls -A "$STATE/machines" | xargs)"
check "rm imp" ub rm imp

# --- gc ------------------------------------------------------------------------
# What a killed create leaves: a staging dir whose files the machine's IDs
# own, which the user cannot unlink without the machine's namespace.
LEFT=$STATE/machines/.staging-zz.0123456789abcdef
mkdir -p "$LEFT/rootfs/etc" && echo x >"$LEFT/rootfs/etc/f"
printf 'UID_BASE=%s\nUID_SIZE=65536\n' "$ba" >"$LEFT/idmap"
chown "$U:" "$LEFT" "$LEFT/idmap" && chown -R "$ba:$ba" "$LEFT/rootfs"
# And what a killed 'cp -' leaves, the user's, beside one of root's.
mkdir -p "/var/tmp/berth-cp-rl$$u/tree" "/var/tmp/berth-cp-rl$$r/tree"
chown -R "$U:" "/var/tmp/berth-cp-rl$$u"
check_output_contains "gc as the user removes the create's leftover" "staging-zz|Removed" ub gc
check_eq "it is gone" "b" "$(ls -A "$STATE/machines" | xargs)"
check_eq "the user's cp leftover is gone, root's is not touched" "berth-cp-rl$$r" \
        "$(ls /var/tmp | grep -E "^berth-cp-rl$$[ur]$" | xargs)"
rm -rf "/var/tmp/berth-cp-rl$$r"
check "create c reuses a's range" ub create c --template busybox
check_eq "c got the freed range" "$ba" "$(base_of c)"
check "rm b" ub rm b
check "rm c" ub rm c
check_eq "the user's machines are all gone" "" "$(ls -A "$STATE/machines")"
check_eq "no file of the user's ranges is left in its home" "" \
        "$(find "$UHOME" \( -uid "$START" -o -uid "$((START + 65536))" \) -print -quit)"

# --- the system's state -------------------------------------------------------
# Other tests running as root beside this one may change root's state; what
# changed must all be root's (a user cannot write there without root's help).
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "no host registry entry names the user's home" "" \
        "$(grep -rl "$UHOME" /var/lib/berth/uid-ranges 2>/dev/null)"
check_eq "nothing there belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"
check_eq "root's machine still runs, untouched" "same running" "$(berth list --json | jq -r '.[] | "\(.name) \(.state)"')"
check "root stops it" berth stop same

done_testing
