#!/bin/bash
# A host with cgroup v2 only, as berth's direct mode sees it: inside a private
# mount namespace /sys/fs/cgroup is replaced by the v2 hierarchy alone, so the
# supervisor takes its pure-v2 path (controllers enabled top-down, limits in
# memory.max/pids.max when the controllers exist, no v1 hierarchies, the
# device allow-list as a BPF program).  The Debian machine's systemd must
# reach "running" there too.
. "$(dirname "$0")/lib.sh"

v2=$(findmnt -no TARGET -t cgroup2 | head -1)
if [ -z "$v2" ]; then
        ok "# SKIP no cgroup2 hierarchy on this host"
        done_testing
fi

# Run berth with only the v2 hierarchy mounted at /sys/fs/cgroup.
v2berth() {
        unshare -m --propagation slave sh -c "
                mount --bind '$v2' /mnt 2>/dev/null || exit 90
                umount -R /sys/fs/cgroup && mount --move /mnt /sys/fs/cgroup || exit 91
                exec '$BERTH' \"\$@\"" berth "$@"
}
check "the view has no v1 hierarchy" sh -c "unshare -m --propagation slave sh -c \"mount --bind '$v2' /mnt && umount -R /sys/fs/cgroup && mount --move /mnt /sys/fs/cgroup && ! grep -q ' - cgroup ' /proc/self/mountinfo\""

check "create debian machine" online "$BERTH" create v2deb --template debian
check "start with a pure cgroup v2 view" v2berth start v2deb
leader=$(berth list --json | jq '.[] | select(.name=="v2deb") | .leader')
check_output_contains "the init is below the machine's payload cgroup (v2)" "^0::/berth/v2deb(@[0-9a-f]{8})?/payload(/|$)" \
        grep '^0::' "/proc/$leader/cgroup"
sup=$(berth list --json | jq '.[] | select(.name=="v2deb") | .supervisor')
check_eq "the supervisor joined no v1 hierarchy (it saw none)" "" \
        "$(grep -v '^0::' "/proc/$sup/cgroup" | grep berth)"
check "systemd's socket appears" wait_for 60 berth exec v2deb -- test -S /run/systemd/private
check_eq "systemd reaches 'running'" "running" "$(timeout 120 "$BERTH" exec v2deb -- systemctl is-system-running --wait 2>&1)"
check_eq "the guest sees cgroup2 at its cgroup root" "0::/init.scope" \
        "$(berth exec v2deb -- sh -c 'grep ^0:: /proc/1/cgroup')"
check "stop" berth stop v2deb
check "no cgroup left" no_cgroups_left v2deb

check "create busybox machine with limits" berth create v2bb --template busybox --set TasksMax=64
check "start with a pure cgroup v2 view" v2berth start v2bb
cg=$(ls -d "$v2/berth/$(cgroup_name v2bb)" 2>/dev/null)
if [ -e "$cg/pids.max" ]; then
        check_eq "TasksMax= is pids.max" "64" "$(cat "$cg/pids.max")"
else
        ok "# SKIP the pids controller is bound to v1 on this host"
fi
check_eq "exec works, and the allowed devices with it" "ok" \
        "$(berth exec v2bb -- sh -c 'echo x >/dev/null && head -c 1 /dev/urandom >/dev/null && echo ok')"
check "stop" berth stop v2bb
check "no cgroup left" no_cgroups_left v2bb

# The device allow-list without a v1 devices controller: a BPF program on the
# machine's v2 cgroup.  A privileged machine's root keeps CAP_MKNOD and /dev
# is a tmpfs without nodev, so nothing else stands between it and a host
# disk (without the program, mknod works and open fails with ENXIO at most,
# and /dev/loop-control opens).
check "create a privileged busybox machine" berth create v2priv --template busybox --set PrivateUsers=no
install -m 0755 "$PROBE" "$BERTH_ROOT/machines/v2priv/rootfs/bin/probe"
check "start it with a pure cgroup v2 view" v2berth start v2priv
mknod_open() { berth exec v2priv -- probe mknod-open "$@"; }
check_eq "an allowed device (c 1:3, null) can be made in /dev and opened" allowed \
        "$(mknod_open /dev/probe-null c 1:3)"
check_eq "a pty can be opened through /dev/ptmx" ok \
        "$(berth exec v2priv -- sh -c 'test -c /dev/ptmx && exec 3<>/dev/ptmx && echo ok')"
check_eq "a host block device (b 8:0) cannot: EPERM" "denied EPERM" "$(mknod_open /dev/probe-disk b 8:0)"
check_eq "nor /dev/mem (c 1:1)" "denied EPERM" "$(mknod_open /dev/probe-mem c 1:1)"
check_eq "nor /dev/loop-control (c 10:237), which root could open without the program" "denied EPERM" \
        "$(mknod_open /dev/probe-loop c 10:237)"
check_eq "/dev/net/tun (c 10:200) is on the list" allowed "$(mknod_open /dev/probe-tun c 10:200)"
check_eq "/dev/null and /dev/zero work" ok \
        "$(berth exec v2priv -- sh -c 'echo x >/dev/null && head -c 1 /dev/zero >/dev/null && echo ok')"
check "stop" berth stop v2priv
check "no cgroup left" no_cgroups_left v2priv
done_testing
