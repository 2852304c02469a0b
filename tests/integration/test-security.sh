#!/bin/bash
# From inside a machine, as its root, try what the default profile must stop
# (the attack catalogue of the project's security study, kept beside the
# repository, not in it).  Each case asserts the
# safe outcome.  PROBE is a static helper (tests/helpers/probe.c).
. "$(dirname "$0")/lib.sh"
: "${PROBE:?set PROBE to the static probe helper}"

check "create a busybox machine" berth create sec --template busybox
install -m 0755 "$PROBE" "$BERTH_ROOT/machines/sec/rootfs/bin/probe"
check "start it (default profile: user namespace)" berth start sec

denied() { # denied DESCRIPTION PROBE-ARGS...
        local desc=$1; shift
        check_output_contains "$desc" '^denied ' berth exec sec -- probe "$@"
}

# --- system calls the filter denies ----------------------------------------------------
for call in init_module finit_module delete_module kexec_load open_by_handle_at keyctl add_key swapon \
            clock_settime settimeofday bpf perf_event_open io_uring_setup syslog acct iopl userfaultfd; do
        denied "$call is denied" "$call"
done

# --- terminal injection ---------------------------------------------------------------------
denied "TIOCSTI on the console is denied" tiocsti /dev/console
denied "TIOCSTI with junk in the upper 32 bits is denied too" tiocsti-high /dev/console
check_output_contains "TIOCSTI is denied in exec'd commands too (own pty)" '^denied ' \
        berth exec sec -- sh -c 'probe tiocsti /dev/console'

# --- kernel interfaces ---------------------------------------------------------------------------
denied "write to a global sysctl fails" write /proc/sys/kernel/domainname
denied "sysrq-trigger is not writable" write /proc/sysrq-trigger
check_fails "even after remounting /proc/sys rw, global sysctls stay closed" \
        berth exec sec -- sh -c 'mount -o remount,rw /proc/sys 2>/dev/null; echo x > /proc/sys/kernel/hostname'
check_fails "even after remounting /sys rw, sysfs stays closed" \
        berth exec sec -- sh -c 'mount -o remount,rw /sys 2>/dev/null; echo 1 > /sys/kernel/profiling'
for f in kcore keys timer_list kallsyms sched_debug; do
        [ -e "/proc/$f" ] || continue
        check_eq "/proc/$f reads as empty" "0" "$(berth exec sec -- sh -c "wc -c < /proc/$f" | tr -d ' ')"
done
disk=$(stat -c '%t %T' "$(findmnt -no SOURCE / | head -1)" 2>/dev/null)
if [ -n "$disk" ]; then
        maj=$((16#${disk% *})) min=$((16#${disk#* }))
        denied "a node for the host's root disk cannot be made and read" mknod-disk "$maj:$min"
fi
check_fails "loading a module with busybox insmod fails" berth exec sec -- insmod /bin/probe
# A device node planted in the rootfs (as a hostile tarball could) never opens: the
# rootfs is mounted nodev, whatever the device cgroup says.
if [ -n "$disk" ]; then
        mknod "$BERTH_ROOT/machines/sec/rootfs/planted-disk" b "$maj" "$min"
        denied "a device node planted in the rootfs cannot be read" read /planted-disk
fi
mknod "$BERTH_ROOT/machines/sec/rootfs/planted-mem" c 1 1
denied "a planted /dev/mem node cannot be read" read /planted-mem

# --- mounts the guest cannot undo ---------------------------------------------------------------------
# The machine's mounts reach its mount namespace locked (the supervisor's stage,
# machined/mount-lock.h): its root can neither change their flags nor unmount a
# mask to reveal what is below.
locked_mounts() { # locked_mounts WHEN
        local when=$1 m
        for m in 'remount,bind,dev /' 'remount,bind,suid /run' 'remount,bind,exec /dev' 'remount,bind,rw /proc/sys' \
                 'remount,rw /proc/sys' 'remount,bind,rw /sys' 'remount,rw /sys' 'remount,bind,rw /run/host'; do
                check_fails "$when: mount -o ${m% *} ${m#* } fails" berth exec sec -- mount -o "${m% *}" "${m#* }"
        done
        for m in /proc/kallsyms /proc/keys /proc/timer_list /proc/acpi /proc/sys /proc /sys /dev/null /dev /run/host; do
                [ "$m" = /proc/acpi ] && [ ! -e /proc/acpi ] && continue
                check_fails "$when: umount $m fails" berth exec sec -- umount "$m"
                check_fails "$when: umount -l $m fails" berth exec sec -- umount -l "$m"
        done
        check_eq "$when: /proc/kallsyms still reads as empty" "0" "$(berth exec sec -- sh -c 'wc -c < /proc/kallsyms' | tr -d ' ')"
        check_fails "$when: global sysctls stay read-only" berth exec sec -- sh -c 'echo x > /proc/sys/kernel/hostname'
}
locked_mounts "at start"

# --- capabilities ------------------------------------------------------------------------------------
bnd=$(berth exec sec -- sh -c 'grep CapBnd /proc/1/status' | awk '{print $2}')
for cap in 16:SYS_MODULE 17:SYS_RAWIO 25:SYS_TIME 20:SYS_PACCT 32:MAC_ADMIN 34:SYSLOG 39:BPF 38:PERFMON; do
        bit=${cap%%:*}
        check "CAP_${cap#*:} is not in the init's bounding set" test $(( (16#$bnd >> bit) & 1 )) = 0
done
check_eq "exec'd commands have the init's bounding set" "$bnd" \
        "$(berth exec sec -- sh -c 'grep CapBnd /proc/self/status' | awk '{print $2}')"

# --- identity and isolation -----------------------------------------------------------------------------
leader=$(berth list --json | jq '.[] | select(.name=="sec") | .leader')
check "root inside is not root outside" test "$(awk '/^Uid:/ {print $2}' /proc/$leader/status)" -ge $((0x80000))
check_eq "no host process is visible" "" \
        "$(berth exec sec -- sh -c 'for p in /proc/[0-9]*; do cat $p/comm; done' | grep -x berth-machined)"
check_eq "no fd of berth leaks into exec'd commands" "" "$(berth exec sec -- probe fds)"
check_eq "no fd of the supervisor leaks into the init" "0 1 2" \
        "$(berth exec sec -- ls /proc/1/fd | tr '\n' ' ' | sed 's/ $//')"
check "the supervisor binary is not reachable from inside (init's exe is the guest's)" \
        sh -c "[ \"\$('$BERTH' exec sec -- readlink /proc/1/exe)\" = /bin/busybox ]"
check_fails "host root filesystem is not visible" berth exec sec -- test -e "$BERTH_ROOT/machines/sec"
check "a guest symlink in /tmp pointing at the host does not reach it" \
        sh -c "'$BERTH' exec sec -- ln -s /etc/shadow /tmp/shadow && ! '$BERTH' exec sec -- grep -q '^root:' /tmp/shadow"
check "reboot() from inside reboots only the machine" sh -c "'$BERTH' exec sec -- reboot -f; true"
check "the host is still fine and the machine comes back" wait_for 30 sh -c \
        "[ \"\$('$BERTH' list --json | jq '.[] | select(.name==\"sec\") | .boots')\" = 2 ]"

locked_mounts "after a reboot"
denied "after a reboot, the planted /dev/mem node still cannot be read" read /planted-mem

check "stop" berth stop sec
done_testing
