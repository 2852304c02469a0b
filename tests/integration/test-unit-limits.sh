#!/bin/bash
# Unit mode: [Resources] limits reach the kernel.  The machine's unit gets them
# as properties (test-unit-mode.sh); here they are read back from the cgroup
# files systemd wrote, the machine's processes are checked to be under them, and
# a limit is seen to bite.  On a hybrid host (cgroup v1 controllers, as on the
# machines this was written on) the test host runs systemd in the hybrid
# layout, so that the controllers are there inside it; on a unified host it
# runs unified and the v2 files are read.
. "$(dirname "$0")/lib.sh"

if grep -q ' - cgroup cgroup .*name=systemd' /proc/self/mountinfo; then layout=hybrid; else layout=unified; fi

if online "$BERTH" create ud --template debian --set MemoryMax=400M --set TasksMax=300 >"$TEST_TMP/create.log" 2>&1; then
        ok "create debian machine with limits (outside the test host, which has no network)"
else
        not_ok "create debian machine with limits (outside the test host, which has no network)"
        sed 's/^/# /' "$TEST_TMP/create.log"
fi

start_testhost "the test host boots ($layout cgroups)" --cgroup "$layout"
v1_dirs=$(cut -d' ' -f3 "$THDIR/cgroup-v1" 2>/dev/null)
leader_of() { tb list --json | jq --arg n "$1" '.[] | select(.name == $n) | .leader'; }

# limit UNIT KIND: a limit as the kernel has it, read in the test host.
#   memory: bytes, or "max"; tasks: a count, or "max"; weight: CPUWeight= on
#   the v2 scale (v1 shares / 1024 * 100); quota: microseconds per 100 ms
#   period, or "max"; tasks-now: the tasks in it now.
limit() {
        local d=/sys/fs/cgroup u=machine.slice/$1
        if [ "$layout" = hybrid ]; then
                case $2 in
                memory) th cat "$d/memory/$u/memory.limit_in_bytes" |
                        awk '{ print ($1 >= 9223372036854771712 ? "max" : $1) }' ;;
                tasks) th cat "$d/pids/$u/pids.max" ;;
                tasks-now) th cat "$d/pids/$u/pids.current" ;;
                weight) th cat "$d/cpu/$u/cpu.shares" | awk '{ print $1 * 100 / 1024 }' ;;
                quota) th cat "$d/cpu/$u/cpu.cfs_quota_us" | awk '{ print ($1 < 0 ? "max" : $1) }' ;;
                esac
        else
                case $2 in
                memory) th cat "$d/$u/memory.max" ;;
                tasks) th cat "$d/$u/pids.max" ;;
                tasks-now) th cat "$d/$u/pids.current" ;;
                weight) th cat "$d/$u/cpu.weight" ;;
                quota) th cat "$d/$u/cpu.max" | cut -d' ' -f1 ;;
                esac
        fi
}
limits() { echo "$(limit "$1" memory) $(limit "$1" tasks) $(limit "$1" weight) $(limit "$1" quota)"; }

# in_payload PID UNIT: PID is in UNIT's payload cgroup (or below it, where a
# guest's systemd made its own) in every hierarchy where systemd made the
# unit's cgroup; on a hybrid host those must include the v1 memory, pids, cpu,
# devices and name=systemd ones.
in_payload() {
        local want=/machine.slice/$2/payload mnt seen=
        while IFS=: read -r _ ctrl path; do
                case $ctrl in "") mnt=unified ;; name=*) mnt=${ctrl#name=} ;; *) mnt=${ctrl%%,*} ;; esac
                [ "$layout" = hybrid ] || mnt=.
                th test -d "/sys/fs/cgroup/$mnt/machine.slice/$2" || continue
                case $path in "$want"|"$want"/*) ;; *) echo "$ctrl: $path, not in $want"; return 1 ;; esac
                seen="$seen $ctrl"
        done < <(th cat "/proc/$1/cgroup")
        echo "in the payload in:$seen"
        [ "$layout" = unified ] || for mnt in memory pids cpu devices name=systemd; do
                case "$seen " in *" $mnt "*) ;; *) echo "not in the $mnt hierarchy"; return 1 ;; esac
        done
}

# --- busybox --------------------------------------------------------------------------
check "create busybox machine with limits" tb create ub --template busybox --set MemoryMax=300M --set TasksMax=40 \
        --set CPUWeight=200 --set CPUQuota=150%
check "start it as a unit" tb start ub
u=$(unit_of ub)
check_eq "MemoryMax= TasksMax= CPUWeight= CPUQuota= are in the unit's cgroup files" "314572800 40 200 150000" \
        "$(limits "$u")"
check "the guest's init is in the payload cgroup below them, in every hierarchy" in_payload "$(leader_of ub)" "$u"
if [ "$layout" = hybrid ]; then
        check_eq "the payload's effective memory limit is the machine's" "hierarchical_memory_limit 314572800" \
                "$(th grep ^hierarchical_memory_limit "/sys/fs/cgroup/memory/machine.slice/$u/payload/memory.stat")"
        check_eq "the payload's device list is systemd's closed one (not 'a *:* rwm')" "" \
                "$(th grep -x 'a \*:\* rwm' "/sys/fs/cgroup/devices/machine.slice/$u/payload/devices.list")"
        check_eq "the supervisor is beside it, not in it" "/machine.slice/$u/supervisor" \
                "$(th sh -c "grep :memory: /proc/\$(systemctl show -P MainPID $u)/cgroup | cut -d: -f3")"
fi
# A command run with berth exec is the machine's: in its cgroups, under its limits.
check_output_contains "berth exec runs in the payload (the root of the guest's cgroup namespace)" \
        "^[0-9]+:memory:/$" tb exec ub -- cat /proc/self/cgroup
# The shell's forks fail at the limit, where it gives up and exits; its
# sleeps stay.  berth exec's own process joins the payload by migration,
# which the pids controller does not refuse, but forks there it does.
tb exec ub -- sh -c 'for i in $(seq 60); do sleep 30 & done' >/dev/null 2>&1
tasks=$(limit "$u" tasks-now)
sleeps=$(tb exec ub -- pidof sleep | wc -w)
check "TasksMax=40 bites: of 60 background sleeps $sleeps run, the machine has $tasks tasks (36-40)" \
        sh -c "[ '$sleeps' -gt 0 ] && [ '$sleeps' -lt 40 ] && [ '$tasks' -ge 36 ] && [ '$tasks' -le 40 ]"
check "they can be killed" tb exec ub -- killall sleep

check "berth set changes them live" tb set ub MemoryMax=200M TasksMax=80 CPUWeight=50 CPUQuota=25%
check_eq "in the cgroup files" "209715200 80 50 25000" "$(limits "$u")"
check "and in machine.conf" grep -qx TasksMax=80 "$BERTH_ROOT/machines/ub/machine.conf"
check "berth set --runtime resets CPUWeight= and CPUQuota=, MemoryMax=infinity" \
        tb set --runtime ub CPUWeight=default CPUQuota= MemoryMax=infinity
check_eq "to the kernel's defaults" "max 80 100 max" "$(limits "$u")"
check "machine.conf keeps the persisted values" grep -qx CPUQuota=25% "$BERTH_ROOT/machines/ub/machine.conf"

check "berth reboot" tb reboot ub
check "the machine comes back (boot 2)" wait_for 30 booted_times ub 2
check "its new init is in the payload again" in_payload "$(leader_of ub)" "$u"

# Killed hard: the next start makes everything anew, from machine.conf.
sup=$(tb list --json | jq '.[] | select(.name=="ub") | .supervisor')
th kill -9 "$sup"
check "the machine dies with its supervisor" wait_for 20 unit_inactive "$u"
check "start again" tb start ub
check_eq "the persisted limits, in the cgroup files" "209715200 80 50 25000" "$(limits "$u")"
check "init in the payload" in_payload "$(leader_of ub)" "$u"
check "berth stop" tb stop ub
check_eq "no cgroup of the unit is left in any hierarchy" "" \
        "$(th sh -c "find /sys/fs/cgroup/*/machine.slice /sys/fs/cgroup/machine.slice -maxdepth 1 -name '$u' 2>/dev/null")"

# --- Debian with systemd --------------------------------------------------------------
check "start the Debian machine as a unit" tb start ud
ud=$(unit_of ud)
check_eq "systemd in the guest is running" "running" "$(th systemctl -M ud is-system-running --wait)"
check_eq "its limits are in the unit's cgroup files" "419430400 300" \
        "$(echo "$(limit "$ud" memory) $(limit "$ud" tasks)")"
check "the guest's systemd is in the payload (its init.scope) in every hierarchy" in_payload "$(leader_of ud)" "$ud"
check "its services are below the payload" sh -c "'$TESTHOST' run '$THDIR' -- sh -c \"grep -h ':/machine.slice/$ud/payload/system.slice/' /proc/[0-9]*/cgroup\" | grep -q ."
check_eq "systemd-run -M ud --wait -P works" "hi" "$(th systemd-run -M ud --wait -q -P echo hi)"
check "berth set MemoryMax= live" tb set ud MemoryMax=350M
check_eq "in the cgroup file" "367001600" "$(limit "$ud" memory)"
check "poweroff from inside" poweroff_inside ud
check "the machine stops" wait_for 30 unit_inactive "$ud"

# The test host's own cgroups (v1 ones included) go with it.
check "the test host stops" "$TESTHOST" stop "$THDIR"
left=
for d in $v1_dirs; do [ ! -e "$d" ] || left="$left $d"; done
check_eq "its cgroups are gone from the machine's hierarchies" "" "$left"
trap cleanup EXIT

done_testing
