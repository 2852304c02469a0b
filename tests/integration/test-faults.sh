#!/bin/bash
# Faults: berth and its supervisor killed (SIGKILL) at every state-changing
# step of create, import, start and stop; a full disk during create, import
# and set; many start/stop cycles.  After each fault: no half-made machine is
# visible, the next command succeeds (repairing what is left), and after
# 'berth gc' nothing is left behind: no staging dir, held lock, mount,
# cgroup, process, veth or runtime state.
#
# How "every step" is reached: a reference run of the command under strace
# lists the system calls of the berth process itself (or of the supervisor)
# in order.  Every call that changes state outside the process (mkdir,
# rename, unlink, open for writing, write to a file, fsync, flock, clone,
# wait, mount, signals...) is one kill point: the command runs again with
# strace injecting SIGKILL on entry to exactly that call (the Kth call of
# that syscall; strace counts per syscall and process).  A kill anywhere
# between two such calls leaves the same state as a kill at the next one, so
# these points cover every distinct interruption.
#
# Environment: BERTH_FAULT_STRIDE (default 1) tests every Nth kill point
# only; the test always says how many points it covered.

# A mount namespace of our own: the full-disk part mounts small file systems.
if [ -z "${BERTH_FAULTS_MNTNS:-}" ]; then
        export BERTH_FAULTS_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

if ! command -v strace >/dev/null || ! command -v umoci >/dev/null; then
        ok "# SKIP strace or umoci is not installed (tests/run installs them)"
        done_testing
fi

stride=${BERTH_FAULT_STRIDE:-1}
# The supervisor has some 230 kill points (many alike: one cgroup or device
# rule after another); CI tests every 12th, BERTH_FAULT_SUPERVISOR_STRIDE=1 all.
sup_stride=${BERTH_FAULT_SUPERVISOR_STRIDE:-12}
# For working on one part: BERTH_FAULT_PARTS="create start stop supervisor disk cycles".
parts=" ${BERTH_FAULT_PARTS:-create start stop supervisor disk cycles} "
part() { [[ $parts == *" $1 "* ]]; }
section_start=$SECONDS
# section_end LABEL: say how long the last section took.
section_end() { echo "# $1 took $((SECONDS - section_start)) s"; section_start=$SECONDS; }
# The state root on a tmpfs of its own: hundreds of creates, each ending in a
# syncfs, would otherwise wait on whatever else the host's disk is doing.
mount -t tmpfs -o size=512m,mode=0700 berth-faults "$BERTH_ROOT"
if [ -n "${BERTH_TEST_CACHE:-}" ]; then
        mkdir -p "$BERTH_ROOT/images" && ln -s "$BERTH_TEST_CACHE" "$BERTH_ROOT/images/templates"
fi
berth list >/dev/null
trap 'cleanup 2>/dev/null; umount "$BERTH_ROOT"; rm -rf --one-file-system "$BERTH_ROOT"' EXIT
# LeakSanitizer cannot work in a traced process (it needs ptrace itself).
traced_env=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")

# The syscalls that change something outside the process, and those it
# waits in while a helper or the supervisor does the work.
FAULT_SYSCALLS=mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,symlink,symlinkat,link,linkat
FAULT_SYSCALLS+=,open,openat,creat,write,pwrite64,writev,fsync,fdatasync,syncfs,ftruncate,flock,fchmod,fchmodat
FAULT_SYSCALLS+=,fchown,fchownat,setxattr,fsetxattr,lsetxattr,copy_file_range,mount,umount2,mount_setattr
FAULT_SYSCALLS+=,move_mount,open_tree,pivot_root,clone,clone3,fork,vfork,execve,kill,tgkill,pidfd_send_signal
FAULT_SYSCALLS+=,wait4,waitid,poll,ppoll,sendmsg,sendto,bind,connect,unshare,setns,signalfd4

# fault_points TRACE: "SYSCALL K" for each kill point of an `strace -y`
# trace of one process.  Opens count only when they may create or write,
# writes only to files (not to the terminal or pipes); calls that failed
# changed nothing and are skipped; the first execve is the command itself.
fault_points() {
        awk '
        match($0, /^[a-z0-9_]+\(/) {
                name = substr($0, 1, RLENGTH - 1)
                k = ++count[name]
                if (name == "execve" && k == 1) next
                if ($0 ~ /\) += -1 /) next
                if ((name == "open" || name == "openat") && $0 !~ /O_CREAT|O_WRONLY|O_RDWR|O_TRUNC/) next
                if (name ~ /^(write|pwrite64|writev)$/ && $0 !~ /^[a-z0-9]+\([0-9]+<\/[^>]*>/) next
                if (name ~ /^(write|pwrite64|writev)$/ && $0 ~ /^[a-z0-9]+\([0-9]+<\/dev\//) next
                print name, k
        }' "$1"
}

# Snapshot of what berth may leave on the host, to compare before/after.
cgroup_hash() {
        local h=2166136261 i c
        for ((i = 0; i < ${#BERTH_ROOT}; i++)); do
                printf -v c '%d' "'${BERTH_ROOT:i:1}"
                h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
        done
        printf '%08x' "$h"
}
HASH=$(cgroup_hash)
held_locks() {
        # Locks held on any file of the state root.  /proc/locks is global and
        # names files as MAJOR:MINOR:INODE (hex device numbers): match all three,
        # or a lock on another file system's inode of the same number would count.
        local files
        files=$(find "$BERTH_ROOT" -xdev \( -type f -o -type d \) -printf '%D %i\n' 2>/dev/null | awk '{
                dev = $1; lo = dev % 4294967296; hi = int(dev / 4294967296)
                major = int(lo / 256) % 4096 + int(hi / 4096) * 4096
                minor = lo % 256 + int(lo / 1048576) * 256
                printf "%02x:%02x:%s\n", major, minor, $2 }' | sort -u)
        grep -oE '[0-9a-f]+:[0-9a-f]+:[0-9]+ ' /proc/locks | tr -d ' ' | sort -u | comm -12 - <(echo "$files")
}
host_snapshot() {
        echo "## mounts"; grep -F "$BERTH_ROOT" /proc/self/mountinfo | awk '{ print $5 }' | sort
        echo "## links"; ip -o link show | awk -F': ' '{ print $2 }' | grep -v '^berth0' | sort
        echo "## cgroups"; ls -d /sys/fs/cgroup/*/berth/*@"$HASH" /sys/fs/cgroup/berth/*@"$HASH" 2>/dev/null | sort
        # (Not the supervisor's bounded network linger: it is meant to outlive it by seconds.)
        echo "## processes"
        for p in $(pgrep -f -- "--root $BERTH_ROOT"); do
                case "$(cat "/proc/$p/comm" 2>/dev/null)" in berth-linger | strace | "") continue ;; esac
                echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done
        echo "## locks"; held_locks
        echo "## machines"; ls -A "$BERTH_ROOT/machines"
        echo "## run"; ls -A "$BERTH_ROOT/run" | grep -v -x -e locks -e network
}
# left_behind BEFORE: what differs from the snapshot BEFORE (empty if nothing).
left_behind() { diff <(echo "$1") <(host_snapshot) | grep '^[<>]'; }

# One TAP line per kill point; the problems of a point are collected here.
problems=()
problem() { problems+=("$*"); }

# After a fault on NAME and the recovery commands: no half state anywhere.
expect_clean() {
        local before=$1 d
        berth gc >"$TEST_TMP/gc.out" 2>&1 || problem "berth gc failed: $(tr '\n' ' ' <"$TEST_TMP/gc.out")"
        d=$(left_behind "$before")
        [ -z "$d" ] || problem "left behind: $(echo "$d" | tr '\n' ' ')"
}

# Visible machines: none, or NAME complete (its config and rootfs exist).
expect_whole() {
        local name=$1 names
        names=$(berth list --json 2>"$TEST_TMP/list.err" | jq -r '.[].name' | tr '\n' ' ')
        case "$names" in
        "") ;;
        "$name ")
                [ -f "$BERTH_ROOT/machines/$name/machine.conf" ] && [ -d "$BERTH_ROOT/machines/$name/rootfs" ] &&
                        [ -f "$BERTH_ROOT/machines/$name/idmap" ] ||
                        problem "'$name' is listed but incomplete: $(ls -A "$BERTH_ROOT/machines/$name" | tr '\n' ' ')" ;;
        *) problem "berth list shows '$names'" ;;
        esac
}

run_quiet() { "$@" >"$TEST_TMP/cmd.out" 2>&1; }
cmd_failed() { problem "$1 failed: $(tail -3 "$TEST_TMP/cmd.out" | tr '\n' ' ')"; }

# inject SYSCALL K CMD...: run CMD under strace, SIGKILLed on entry to its Kth SYSCALL.
# Returns 0 when the kill happened.
inject() {
        local sc=$1 k=$2; shift 2
        # An inner shell reaps the killed command, so ours prints no "Killed".
        bash -c '"$@"; exit $?' inject "${traced_env[@]}" strace -o /dev/null -e trace="$sc" \
                -e inject="$sc":signal=KILL:when="$k" -- "$@" >"$TEST_TMP/inject.out" 2>&1
        [ $? = 137 ]
}

# report LABEL POINT: the TAP line for one kill point.
# A point skipped (skip_point: why) with nothing else wrong is a SKIP.
skip_point=
report() {
        if [ ${#problems[@]} = 0 ] && [ -n "$skip_point" ]; then ok "$1: killed at $2 # SKIP $skip_point"
        elif [ ${#problems[@]} = 0 ]; then ok "$1: killed at $2, nothing half-made"
        else not_ok "$1: killed at $2"; printf '#   %s\n' "${problems[@]}"; fi
        problems=()
        skip_point=
}

# --- fixtures -----------------------------------------------------------------
W=$TEST_TMP/w
mkdir -p "$W/cache" "$W/tree"
"$BERTH_TEMPLATE_DIR/busybox" --rootfs "$W/tree" --name img --cache-dir "$W/cache" >/dev/null
tar -C "$W/tree" -czf "$W/rootfs.tar.gz" .
L=$W/layout
umoci init --layout "$L" >/dev/null && umoci new --image "$L:img" >/dev/null &&
        umoci insert --image "$L:img" "$W/tree" / >/dev/null &&
        umoci config --image "$L:img" --config.cmd /sbin/init >/dev/null
check "fixtures: a rootfs tarball and an OCI layout of the busybox tree" test -f "$L/index.json"

clean_state=$(host_snapshot)

# --- kill -9 of berth at every step of create and import --------------------------
# fault_create LABEL NAME CMD...: CMD creates NAME.
fault_create() {
        local label=$1 name=$2; shift 2
        # A first, untraced run settles host-wide state earlier tests left (the
        # UID registry reclaims the ranges of their deleted roots), so that the
        # reference run makes the same calls as every run after it.
        "$BERTH" "$@" >/dev/null 2>&1
        berth rm "$name" >/dev/null 2>&1
        "${traced_env[@]}" strace -y -o "$TEST_TMP/ref.trace" -e trace="$FAULT_SYSCALLS" -- "$BERTH" "$@" \
                >/dev/null 2>&1 || { not_ok "$label: reference run"; return; }
        berth rm "$name" >/dev/null 2>&1
        mapfile -t points < <(fault_points "$TEST_TMP/ref.trace")
        local i missed=0
        for ((i = 0; i < ${#points[@]}; i += stride)); do
                read -r sc k <<<"${points[i]}"
                # Host-wide state (the UID registry, which other roots' machines come and
                # go in) can make a run a few calls shorter than the reference: a run that
                # ended before the point is undone and tried again, up to three runs.
                local attempt calls
                for attempt in 1 2 3; do
                        inject "$sc" "$k" "$BERTH" "$@" && break
                        berth rm "$name" >/dev/null 2>&1
                        [ "$attempt" = 3 ] || continue
                        # Never reached: a point the run no longer has (the registry
                        # lost entries since the reference run, as a test beside this
                        # one removed machines) is skipped; one it still has is a
                        # kill that failed.
                        missed=$((missed + 1))
                        if ! "${traced_env[@]}" strace -o "$TEST_TMP/count.trace" -e trace="$sc" -- "$BERTH" "$@" \
                                >/dev/null 2>&1; then
                                problem "the kill at $sc#$k never happened (3 runs), and an untouched run failed"
                                berth rm "$name" >/dev/null 2>&1
                                continue
                        fi
                        berth rm "$name" >/dev/null 2>&1
                        calls=$(grep -c "^$sc(" "$TEST_TMP/count.trace")
                        if [ "$calls" -lt "$k" ]; then
                                skip_point="the run now makes $calls calls of $sc, fewer than the reference run"
                        else
                                problem "the kill at $sc#$k never happened (3 runs), though a run makes $calls calls of $sc"
                        fi
                done
                expect_whole "$name"
                # The same create again: it repairs what the killed one left.
                if berth list --json | jq -e --arg n "$name" '.[] | select(.name == $n)' >/dev/null; then
                        run_quiet berth start "$name" || cmd_failed "start of the machine the killed create made"
                        run_quiet berth stop "$name" || cmd_failed "stop"
                else
                        run_quiet "$BERTH" "$@" || cmd_failed "the next create"
                fi
                run_quiet berth rm "$name" || cmd_failed "rm"
                expect_clean "$clean_state"
                report "$label" "$sc#$k"
        done
        echo "# $label: ${#points[@]} kill points, every ${stride}th tested, $missed not reached"
}
if part create; then
        fault_create "create --template busybox" fc create fc --template busybox
        fault_create "create --from-tar" fc create fc --from-tar "$W/rootfs.tar.gz"
        fault_create "import (OCI layout)" fc import fc "$L"
        section_end "create and import faults"
fi

# --- kill -9 of berth at every step of start and stop -----------------------------
# An init that powers off at once (busybox init takes two seconds of
# sleeps to do it): the busybox rootfs with a shell loop as PID 1.
berth create fs --template busybox --set Machine.Init=/sbin/fastinit >/dev/null 2>&1
printf '#!/bin/sh\ntrap "exit 0" USR2 TERM\nwhile :; do sleep 60 & wait $!; done\n' \
        >"$BERTH_ROOT/machines/fs/rootfs/sbin/fastinit"
chmod 755 "$BERTH_ROOT/machines/fs/rootfs/sbin/fastinit"
berth set fs Machine.PoweroffSignal=SIGUSR2 >/dev/null
# A machine that ran keeps its logs in RUN/NAME: part of the clean state.
berth start fs >/dev/null && berth stop fs >/dev/null && berth gc >/dev/null
stopped_state=$(host_snapshot)
# expect_state NAME STATE: NAME is listed in STATE.
expect_state() {
        local s
        s=$(machine_state "$1")
        [ "$s" = "$2" ] || problem "'$1' is '$s', not $2"
}
# kill_points LABEL TRACE STRIDE: the points of TRACE, into the array points.
kill_points() {
        mapfile -t points < <(fault_points "$2")
        echo "# $1: ${#points[@]} kill points, every ${3}th tested"
}

part start && "${traced_env[@]}" strace -y -o "$TEST_TMP/ref.trace" -e trace="$FAULT_SYSCALLS" -- "$BERTH" start fs >/dev/null 2>&1
berth stop fs >/dev/null 2>&1
part start && kill_points "start" "$TEST_TMP/ref.trace" "$stride" || points=()
for ((i = 0; i < ${#points[@]}; i += stride)); do
        read -r sc k <<<"${points[i]}"
        inject "$sc" "$k" "$BERTH" start fs || problem "the kill at $sc#$k never happened"
        # The supervisor may be up, or not yet: either way the next start and stop work.
        run_quiet berth start fs || cmd_failed "the next start"
        # (start returns at once if a supervisor is up, perhaps still starting.)
        wait_for 10 is_running fs
        expect_state fs running
        run_quiet berth stop fs || cmd_failed "stop"
        expect_state fs stopped
        expect_clean "$stopped_state"
        report "start" "$sc#$k"
done
part start && section_end "start faults"

points=()
if part stop; then
        berth start fs >/dev/null 2>&1
        "${traced_env[@]}" strace -y -o "$TEST_TMP/ref.trace" -e trace="$FAULT_SYSCALLS" -- "$BERTH" stop fs >/dev/null 2>&1
        kill_points "stop" "$TEST_TMP/ref.trace" "$stride"
fi
for ((i = 0; i < ${#points[@]}; i += stride)); do
        read -r sc k <<<"${points[i]}"
        run_quiet berth start fs || cmd_failed "start"
        inject "$sc" "$k" "$BERTH" stop fs || problem "the kill at $sc#$k never happened"
        run_quiet berth stop fs || cmd_failed "the next stop"
        expect_state fs stopped
        expect_clean "$stopped_state"
        report "stop" "$sc#$k"
done
part stop && section_end "stop faults"

# --- kill -9 of the supervisor at every step of its life --------------------------
# berth starts this wrapper as its supervisor: the real one under strace,
# detached (-D) so that the supervisor keeps the pid and parent berth gave it.
real_machined=$BERTH_MACHINED
wrapper=$TEST_TMP/machined-under-strace
{
        echo '#!/bin/bash'
        echo '# --network-gc (berth gc) runs untraced.'
        echo "[ \"\$1\" = --network-gc ] && exec $(printf '%q' "$real_machined") \"\$@\""
        echo "exec $(printf '%q ' "${traced_env[@]}") strace -D -o \"\$SUP_TRACE\" \$SUP_STRACE -- $(printf '%q' "$real_machined") \"\$@\""
} >"$wrapper"
chmod 755 "$wrapper"
# sup_strace_done: the detached strace has written its last line.
sup_strace_done() { grep -q '^+++ ' "$SUP_TRACE" 2>/dev/null; }

export SUP_TRACE=$TEST_TMP/sup.trace SUP_STRACE="-y -e trace=$FAULT_SYSCALLS"
points=()
if part supervisor; then
        BERTH_MACHINED=$wrapper berth start fs >/dev/null 2>&1
        berth stop fs >/dev/null 2>&1
        wait_for 10 sup_strace_done
        kill_points "supervisor" "$SUP_TRACE" "$sup_stride"
fi
for ((i = 0; i < ${#points[@]}; i += sup_stride)); do
        read -r sc k <<<"${points[i]}"
        # How the console's output comes in chunks varies, and with it the count
        # of writes: a late point may lie past the end of one run.  Up to three
        # runs must reach it.
        for attempt in 1 2 3; do
                rm -f "$SUP_TRACE"
                # Killed before the machine runs, start fails (and says so); after, stop finds it gone.
                SUP_STRACE="-e trace=$sc -e inject=$sc:signal=KILL:when=$k" BERTH_MACHINED=$wrapper \
                        berth start fs >"$TEST_TMP/start.out" 2>&1
                rc=$?
                if [ $rc != 0 ] && ! grep -q "Failed to start machine 'fs'" "$TEST_TMP/start.out"; then
                        problem "start failed without saying so: $(tail -2 "$TEST_TMP/start.out" | tr '\n' ' ')"
                fi
                run_quiet berth stop fs || cmd_failed "stop"
                wait_for 10 sup_strace_done
                grep -q '^+++ killed by SIGKILL' "$SUP_TRACE" && break
                [ "$attempt" = 3 ] && problem "the kill at $sc#$k never happened (3 runs)"
        done
        expect_state fs stopped
        # Untraced: the machine starts and stops as if nothing happened.
        run_quiet berth start fs || cmd_failed "the next start"
        run_quiet berth stop fs || cmd_failed "the next stop"
        expect_clean "$stopped_state"
        report "supervisor" "$sc#$k"
done
part supervisor && section_end "supervisor faults"

# --- many start/stop cycles ---------------------------------------------------------
# fds_of PID: where each fd of PID leads, one per line.
# (Inode numbers and pty numbers vary; the host's ptys are shared with everyone.)
fds_of() { for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null | sed 's/\[[0-9]*\]$//; s|^/dev/pts/[0-9]*$|/dev/pts/N|' | sort; }
# cycle NAME COUNT: COUNT start/stop cycles of NAME; everything left is compared
# with the state before, the supervisor's fds with those of the first cycle,
# and no fd of the machine's init may lead to the host (its console and its
# own script only).
cycle() {
        local name=$1 count=$2 i failed=0 before sup init first="" fds
        before=$(host_snapshot)
        local start=$SECONDS
        for ((i = 1; i <= count; i++)); do
                if ! run_quiet berth start "$name"; then failed=$((failed + 1)); cmd_failed "start #$i"; continue; fi
                sup=$(sed -n 's/^SUPERVISOR_PID=//p' "$BERTH_ROOT/run/$name/state")
                init=$(sed -n 's/^INIT_PID=//p' "$BERTH_ROOT/run/$name/state")
                fds=$(fds_of "$sup")
                [ -n "$first" ] || first=$fds
                [ "$fds" = "$first" ] || problem "cycle $i: the supervisor's fds differ from the first cycle's: $(diff <(echo "$first") <(echo "$fds") | grep '^[<>]' | tr '\n' ' ')"
                fds=$(fds_of "$init" | grep -v -x -e /dev/console -e /dev/pts/N -e /dev/null -e /sbin/fastinit)
                [ -z "$fds" ] || problem "cycle $i: the machine's init holds host fds: $(echo "$fds" | tr '\n' ' ')"
                run_quiet berth stop "$name" || { failed=$((failed + 1)); cmd_failed "stop #$i"; }
                [ ${#problems[@]} -lt 5 ] || break
        done
        echo "# $count cycles of $name took $((SECONDS - start)) s"
        expect_clean "$before"
        if [ ${#problems[@]} = 0 ]; then ok "$count start/stop cycles of $name leave nothing behind"
        else not_ok "$count start/stop cycles of $name"; printf '#   %s\n' "${problems[@]}"; fi
        problems=()
}
if part cycles; then
        berth clone fs fn >/dev/null && berth set fn Network.Mode=none >/dev/null
        berth start fn >/dev/null && berth stop fn >/dev/null
        cycle fn "${BERTH_FAULT_CYCLES:-200}"
        # Bridge networking costs more per cycle (veth, addresses, rules).
        cycle fs "${BERTH_FAULT_BRIDGE_CYCLES:-20}"
        section_end "start/stop cycles"
fi

# --- a full disk ------------------------------------------------------------------
# A state root of its own on a 24 MiB tmpfs (this test's mount namespace):
# a machine that must survive, then each way of making one with too little space.
if part disk; then
        main_root=$BERTH_ROOT
        BERTH_ROOT=$TEST_TMP/small
        mkdir -p "$BERTH_ROOT"
        mount -t tmpfs -o size=24m,mode=0700 berth-small "$BERTH_ROOT"
        check "a machine on the small file system" berth create keep --template busybox
        cp "$BERTH_ROOT/machines/keep/machine.conf" "$TEST_TMP/keep.conf"
        # fill_to KIB: leave KIB KiB free.
        fill_to() {
                rm -f "$BERTH_ROOT/filler"
                local avail
                avail=$(df -k --output=avail "$BERTH_ROOT" | tail -1)
                dd if=/dev/zero of="$BERTH_ROOT/filler" bs=1k count=$((avail - $1)) status=none 2>/dev/null
                return 0
        }
        # disk_full LABEL CMD...: CMD fails for lack of space, clearly, leaving
        # nothing; with space again, the same CMD succeeds.
        disk_full() {
                local label=$1; shift
                fill_to 512
                check_output_contains "$label on a full disk: the error says the disk is full, and where" \
                        "No space left on device.*$BERTH_ROOT|$BERTH_ROOT.*(full|No space left)" berth "$@"
                check_fails "$label on a full disk: non-zero exit" berth "$@"
                check_eq "$label on a full disk: nothing half-made" "keep" \
                        "$(berth list --json | jq -r '.[].name' | tr '\n' ' ' | sed 's/ $//')"
                check_eq "$label on a full disk: no staging dir" "keep" "$(ls -A "$BERTH_ROOT/machines" | tr '\n' ' ' | sed 's/ $//')"
                check_eq "$label on a full disk: no lock held" "" "$(held_locks)"
                rm -f "$BERTH_ROOT/filler"
                check "$label with space again succeeds" berth "$@"
                check "rm" berth rm "$2"
        }
        disk_full "create --template busybox" create df --template busybox
        disk_full "create --from-tar" create df --from-tar "$W/rootfs.tar.gz"
        disk_full "import" import df "$L"

        fill_to 0
        dd if=/dev/zero of="$BERTH_ROOT/filler2" bs=1k count=64 status=none 2>/dev/null
        check_output_contains "set on a full disk fails and says so" "No space left on device" \
                berth set keep Resources.MemoryMax=64M
        check "set on a full disk keeps machine.conf as it was" cmp "$TEST_TMP/keep.conf" "$BERTH_ROOT/machines/keep/machine.conf"
        check_eq "set on a full disk leaves no temporary file" "" "$(ls -A "$BERTH_ROOT/machines/keep" | grep '^\.')"
        rm -f "$BERTH_ROOT/filler" "$BERTH_ROOT/filler2"
        check "the other machine still starts" berth start keep
        check "and stops" berth stop keep
        check "set with space again" berth set keep Resources.MemoryMax=64M
        berth rm keep >/dev/null
        berth gc >/dev/null 2>&1
        umount -l "$BERTH_ROOT"
        BERTH_ROOT=$main_root
        section_end "full disk"
fi

done_testing
