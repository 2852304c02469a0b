#!/bin/bash
# Busybox machines in direct mode: the whole lifecycle as a user sees it.
. "$(dirname "$0")/lib.sh"

# --- create -------------------------------------------------------------
check "create busybox machine from the template" berth create bb --template busybox
check_eq "list shows it stopped" stopped "$(machine_state bb)"
check "rootfs has an init" test -e "$BERTH_ROOT/machines/bb/rootfs/sbin/init"
check_fails "create of an existing name is refused" berth create bb --template busybox

# --- start / exec ---------------------------------------------------------
# Resource limits from machine.conf at the start (checked under "limits"):
# MemoryHigh= (no v1 equivalent) and IOWeight= (BFQ only on v1) must not stop it.
check "set resource limits on the stopped machine" \
        berth set bb CPUWeight=200 CPUQuota=150% MemoryHigh=1G IOWeight=300
check "start" berth start bb
check "state is running" is_running bb
check "start of a running machine is a no-op" berth start bb
check_eq "exec passes stdout" "hello" "$(berth exec bb -- echo hello)"
check_status "exec returns 0" 0 berth exec bb -- true
check_status "exec returns 7" 7 berth exec bb -- sh -c 'exit 7'
check_status "exec of a missing command returns 127" 127 berth exec bb -- /no/such/cmd
check_eq "exec -i passes stdin" "from-stdin" "$(echo from-stdin | berth exec -i bb -- cat)"
check_eq "hostname is the machine name" "bb" "$(berth exec bb -- hostname)"
check_eq "the machine's PID 1 is its init" "/bin/busybox" "$(berth exec bb -- readlink /proc/1/exe)"
check_eq "container= is set for PID 1" "container=berth" \
        "$(berth exec bb -- sh -c 'tr "\0" "\n" < /proc/1/environ | grep ^container=')"
check_output_contains "only the machine's processes are visible" '^[0-9]$' \
        sh -c "'$BERTH' exec bb -- ps -o pid | tail -n +2 | wc -l"
check_fails "/proc/sys is read-only" berth exec bb -- sh -c 'echo 1 > /proc/sys/kernel/sysrq'
for f in kcore keys timer_list kallsyms sched_debug interrupts; do
        # Only what this kernel has: a mask over a missing file is nothing to test.
        [ -e "/proc/$f" ] || continue
        check_eq "/proc/$f is masked (reads empty)" "0" "$(berth exec bb -- sh -c "wc -c < /proc/$f" | tr -d ' ')"
done
check_fails "/sys is read-only" berth exec bb -- touch /sys/kernel/x
if [ -d /sys/fs/cgroup/devices ]; then
        # The v1 devices controller closes every device but the allow-list.
        disk=$(stat -c '%t %T' "$(findmnt -no SOURCE / | head -1)" 2>/dev/null)
        maj=$((16#${disk% *})) min=$((16#${disk#* }))
        check_fails "root cannot create and read a host disk node" \
                berth exec bb -- sh -c "mknod /tmp/disk b $maj $min && head -c 1 /tmp/disk"
else
        ok "# SKIP no v1 devices controller: device policy needs unit mode on cgroup v2"
fi
check "/dev/console is a pty" berth exec bb -- sh -c '[ -c /dev/console ] && [ -e /dev/pts/ptmx ]'
check_eq "only its own interfaces in the machine's network namespace" "host0 lo" \
        "$(berth exec bb -- ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"
check_eq "exec'd command is in the machine's cgroup namespace" "0::/" \
        "$(berth exec bb -- sh -c 'grep ^0:: /proc/self/cgroup')"
check_fails "capability CAP_SYS_MODULE is not in the bounding set" \
        sh -c "'$BERTH' exec bb -- grep CapBnd /proc/1/status | grep -q ffffffff"
check "console log shows the boot" wait_for 10 grep -q . "$BERTH_ROOT/run/bb/console.log"
check_output_contains "berth logs shows the supervisor's messages" "Machine bb started" berth logs bb
berth exec bb -- sh -c 'echo logs-marker > /dev/console'
check "berth logs shows console output" wait_for 5 sh -c "'$BERTH' logs -n 5 bb | grep -q logs-marker"
check_output_contains "status shows running" 'State: running' berth status bb
check_status "status of a running machine exits 0" 0 berth status bb

# --- user namespace (the default) --------------------------------------------
leader=$(berth list --json | jq '.[] | select(.name=="bb") | .leader')
host_uid=$(awk '/^Uid:/ {print $2}' "/proc/$leader/status")
base=$(sed -n 's/^UID_BASE=//p' "$BERTH_ROOT/machines/bb/idmap")
check "the machine's root is an unprivileged host UID (>= 0x80000)" test "$host_uid" -ge $((0x80000))
check_eq "and it is the machine's persisted range" "$base" "$host_uid"
check_eq "root inside is uid 0 there" "0" "$(berth exec bb -- id -u)"
check "files root writes inside are owned by 0 on disk (idmapped rootfs)" \
        sh -c "'$BERTH' exec bb -- touch /root/written && [ \"\$(stat -c %u '$BERTH_ROOT/machines/bb/rootfs/root/written')\" = 0 ]"
check_output_contains "status says the root is mapped" "Users: private" berth status bb

# --- limits -------------------------------------------------------------------------
if [ -d /sys/fs/cgroup/pids ]; then pids=/sys/fs/cgroup/pids; else pids=$(findmnt -no TARGET -t cgroup2 | head -1); fi
check "berth set changes TasksMax live" berth set bb TasksMax=321
check_eq "in the machine's cgroup" "321" "$(cat $pids/berth/$(cgroup_name bb)/pids.max 2>/dev/null)"
check "and in machine.conf" grep -qx TasksMax=321 "$BERTH_ROOT/machines/bb/machine.conf"
check_status "an unknown key is refused with the usage status" 2 berth set bb Bogus=1
if [ -d /sys/fs/cgroup/cpu ]; then
        # v1: systemd's conversions, cpu.shares = weight * 1024 / 100 and a quota
        # per period of 100 ms.
        cpu=/sys/fs/cgroup/cpu/berth/$(cgroup_name bb)
        conf=$BERTH_ROOT/machines/bb/machine.conf
        cpu_now() { echo "$(cat "$cpu/cpu.shares") $(cat "$cpu/cpu.cfs_quota_us") $(cat "$cpu/cpu.cfs_period_us")"; }
        check_eq "CPUWeight=200 CPUQuota=150% from the start are cpu.shares and cpu.cfs_quota_us" \
                "2048 150000 100000" "$(cpu_now)"
        check "berth set changes CPUWeight= and CPUQuota= live" berth set bb CPUWeight=50 CPUQuota=12.5%
        check_eq "in the machine's cgroup" "512 12500 100000" "$(cpu_now)"
        check "and in machine.conf" sh -c "grep -qx CPUWeight=50 '$conf' && grep -qx CPUQuota=12.50% '$conf'"
        check "berth set --runtime changes them live" berth set --runtime bb CPUWeight=1000 CPUQuota=300%
        check_eq "in the machine's cgroup" "10240 300000 100000" "$(cpu_now)"
        check "but not machine.conf" sh -c "grep -qx CPUWeight=50 '$conf' && grep -qx CPUQuota=12.50% '$conf'"
        check_output_contains "a bad value is refused, saying what and how" \
                "CPUWeight=0: is out of range; expected a number from 1 to 10000" \
                berth set bb CPUQuota=20% CPUWeight=0
        check_status "with the usage status" 2 berth set bb CPUQuota=20% CPUWeight=0
        check_status "so is a quota without '%'" 2 berth set --runtime bb CPUQuota=20
        check_eq "nothing changed in the cgroup" "10240 300000 100000" "$(cpu_now)"
        check "nor in machine.conf" sh -c "grep -qx CPUWeight=50 '$conf' && grep -qx CPUQuota=12.50% '$conf'"
        check "CPUWeight=default and an empty CPUQuota= undo them" berth set bb CPUWeight=default CPUQuota=
        check_eq "back to the kernel's defaults" "1024 -1 100000" "$(cpu_now)"
        # CPUQuota= (empty) takes the key out of machine.conf (back to berth.conf's or none).
        check "machine.conf says so" sh -c "grep -qx CPUWeight=default '$conf' && ! grep -q '^CPUQuota' '$conf'"
else
        ok "# SKIP no v1 cpu controller: CPUWeight=/CPUQuota= on v2 need a delegated cpu controller"
fi
check_status "--runtime on a missing machine says so" 4 berth set --runtime nosuch TasksMax=5

# --- a second machine at once ---------------------------------------------
check "create a second machine" berth create bb2 --template busybox
check "start it while the first runs" berth start bb2
check "both run" sh -c "[ \"\$('$BERTH' list --json | jq '[.[] | select(.state==\"running\")] | length')\" = 2 ]"
check_eq "each has its own hostname" "bb2" "$(berth exec bb2 -- hostname)"
pid1=$(berth list --json | jq '.[] | select(.name=="bb") | .leader')
pid2=$(berth list --json | jq '.[] | select(.name=="bb2") | .leader')
check "distinct leaders" test "$pid1" != "$pid2"
check "a machine named 'supervisor' can be made and started" sh -c "'$BERTH' create supervisor --template busybox && '$BERTH' start supervisor"
check "and the others keep running" sh -c "[ \"\$('$BERTH' list --json | jq '[.[] | select(.state==\"running\")] | length')\" = 3 ]"
check "remove it" berth rm --force supervisor
check "distinct UID ranges" test "$(cat "$BERTH_ROOT/machines/bb/idmap")" != "$(cat "$BERTH_ROOT/machines/bb2/idmap")"

# --- reboot -----------------------------------------------------------------
check "reboot" berth reboot bb
check "machine comes back (boot 2)" wait_for 30 sh -c "[ \"\$('$BERTH' list --json | jq '.[] | select(.name==\"bb\") | .boots')\" = 2 ]"
check "running after reboot" is_running bb
check "exec works after reboot" berth exec bb -- true
check_eq "a reboot keeps limits set live" "321" "$(cat $pids/berth/$(cgroup_name bb)/pids.max 2>/dev/null)"

# --- stop ---------------------------------------------------------------------
check "stop" berth stop bb
check "stopped" is_stopped bb
check_status "status of a stopped machine exits 3" 3 berth status bb
check "no cgroup left after stop" no_cgroups_left bb
check "no supervisor left after stop" no_supervisor_left bb
check "stop of a stopped machine is a no-op" berth stop bb
check_fails "exec in a stopped machine fails" berth exec bb -- true
check "restart after stop" berth start bb
check "kill" berth kill bb
check "stopped after kill" is_stopped bb
check "no cgroup left after kill" no_cgroups_left bb

# --- supervisor killed hard -------------------------------------------------
check "start again" berth start bb
sup=$(berth list --json | jq '.[] | select(.name=="bb") | .supervisor')
leader=$(berth list --json | jq '.[] | select(.name=="bb") | .leader')
kill -9 "$sup"
check "the machine dies with its supervisor" wait_for 10 sh -c "! kill -0 $leader"
check "stale state reads as stopped" is_stopped bb
check "next start recovers" berth start bb
check "and runs" berth exec bb -- true
check "stop" berth stop bb

# --- ephemeral ----------------------------------------------------------------------
check "start --ephemeral" berth start --ephemeral bb
check_eq "status says so" "true" "$(berth list --json | jq '.[] | select(.name=="bb") | .ephemeral')"
check "a job changes /etc and installs files" berth exec bb -- sh -c 'echo changed > /etc/hostname.new && mkdir -p /opt/job && cp /bin/busybox /opt/job/tool && rm /etc/inittab'
check "the changes are visible inside" berth exec bb -- test -x /opt/job/tool
check "stop" berth stop bb
check "the base is unchanged (no new files)" sh -c "[ ! -e '$BERTH_ROOT/machines/bb/rootfs/opt/job' ] && [ ! -e '$BERTH_ROOT/machines/bb/rootfs/etc/hostname.new' ]"
check "the base is unchanged (nothing deleted)" test -e "$BERTH_ROOT/machines/bb/rootfs/etc/inittab"
check "a normal start sees the base as it was" sh -c "'$BERTH' start bb && '$BERTH' exec bb -- test ! -e /opt/job && '$BERTH' stop bb"

# --- rm -----------------------------------------------------------------------
check_fails "rm of a running machine needs --force" berth rm bb2
check "still there" is_running bb2
check "rm --force" berth rm --force bb2
check_eq "gone from list" "" "$(berth list --json | jq -r '.[] | select(.name=="bb2") | .name')"
check "its cgroups are gone" no_cgroups_left bb2
check_status "status of a missing machine exits 4" 4 berth status bb2

# --- locking ------------------------------------------------------------------
exec 9>"$BERTH_ROOT/run/locks/bb"
flock 9
( sleep 1; flock -u 9 ) &
check_output_contains "a second command on a busy machine waits for the lock" "Waiting for another berth command" \
        berth start bb
exec 9>&-
wait
check "and then does its work" is_running bb
check "stop" berth stop bb

# --- from a directory and a tarball -------------------------------------------
tar -C "$BERTH_ROOT/machines/bb/rootfs" -czf "$TEST_TMP/bb.tar.gz" .
check "create --from-tar (gzip)" berth create fromtar --from-tar "$TEST_TMP/bb.tar.gz"
check "boots" berth start fromtar
check_eq "and runs commands" "ok" "$(berth exec fromtar -- echo ok)"
check "stop" berth stop fromtar
check "create --from-dir" berth create fromdir --from-dir "$BERTH_ROOT/machines/bb/rootfs"
check "boots" berth start fromdir
check "stop" berth stop fromdir

# --- a privileged machine is an explicit, labelled opt-in ---------------------------
check "create a privileged machine" berth create priv --template busybox --set PrivateUsers=no
check_output_contains "starting it warns that it is not a security boundary" "not a security boundary" \
        berth start priv
leader=$(berth list --json | jq '.[] | select(.name=="priv") | .leader')
check_eq "its root is host root" "0" "$(awk '/^Uid:/ {print $2}' "/proc/$leader/status")"
check_output_contains "status labels it" "Users: host root.*not a security boundary" berth status priv
check "stop" berth stop priv
check "a privileged machine may share the host's network" sh -c "'$BERTH' create privnet --template busybox --set PrivateUsers=no --set Mode=host && '$BERTH' start privnet"
check "stop" berth stop privnet
check "create a machine in the host network with a user namespace" berth create usernet --template busybox --set Mode=host
check_status "it is refused at start with the usage status" 2 berth start usernet
check_output_contains "saying why" "Mode=host needs PrivateUsers=no" berth start usernet

check "rm" berth rm bb
done_testing
