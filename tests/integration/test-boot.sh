#!/bin/bash
# What every boot of a machine gets: an init that is the guest's own file
# (a hostile rootfs or guest cannot make the supervisor run one of the
# host's), a boot ID of its own, and systemd's container interface
# (/run/host, container_uuid, a writable /proc/sys/net in its own network
# namespace, /dev/net/tun and /dev/fuse).

# A mount namespace of the test's own, so that /dev/net/tun and /dev/fuse can
# be given the strict mode 0600 (a host without udev's rules, which make them
# 0666) without touching the host's nodes: the machine's root must still open
# them, as its own copies.
if [ -z "${BOOT_TEST_MNTNS:-}" ]; then
        export BOOT_TEST_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

for n in net/tun fuse; do
        [ -c "/dev/$n" ] || continue
        mknod "$TEST_TMP/${n#*/}" c "$((16#$(stat -c %t /dev/$n)))" "$((16#$(stat -c %T /dev/$n)))"
        chmod 0600 "$TEST_TMP/${n#*/}"
        mount --bind "$TEST_TMP/${n#*/}" "/dev/$n"
done

bx() { berth exec bt -- "$@"; }
R=$BERTH_ROOT/machines/bt/rootfs

# --- a hostile rootfs: init through the supervisor's fds -----------------------------
# /sbin/init -> /proc/self/fd/3/hostbin/hostonly names, once /proc is
# mounted, a file below the supervisor's fd 3 (its state root); a decoy of
# that path in the rootfs's own proc/ dir passes the start-time check.  The
# state root is made world-searchable, or the machine's root could not get
# there anyway.  The host's file is the probe: run as init, it says
# "usage: probe" on the console.
: "${PROBE:?set PROBE to the static probe helper}"
chmod 0711 "$BERTH_ROOT"
mkdir -p "$BERTH_ROOT/hostbin"
install -m 0755 "$PROBE" "$BERTH_ROOT/hostbin/hostonly"
ran_host_file() { wait_for 5 sh -c "'$BERTH' logs bt | grep -q 'usage: probe'"; }

check "create a busybox machine" berth create bt --template busybox --set Network.Mode=none
mkdir -p "$R/proc/self/fd/3/hostbin"
install -m 0755 /dev/null "$R/proc/self/fd/3/hostbin/hostonly"
ln -sfn /proc/self/fd/3/hostbin/hostonly "$R/sbin/init"
check_fails "a start through /proc/self/fd/3 fails" berth start bt
check "the machine is stopped" wait_for 10 is_stopped bt
check_fails "... and never ran the host's file" ran_host_file
check_output_contains "... with a clear error" "magic link" berth logs bt

# The same planted by the guest, then a reboot.
ln -sfn /bin/busybox "$R/sbin/init"
check "start with its own init" berth start bt
check "the guest plants the link" bx ln -sfn /proc/self/fd/3/hostbin/hostonly /sbin/init
check "the guest reboots" sh -c "'$BERTH' exec bt -- reboot -f; true"
check "the relaunch fails: the machine stops" wait_for 30 is_stopped bt
check_fails "... and never ran the host's file" ran_host_file
check_output_contains "... with a clear error" "magic link" berth logs bt
ln -sfn /bin/busybox "$R/sbin/init"

# A "#!" script is a fine init; its interpreter is looked up the same way.
check "create a machine whose init is a #! script" \
        berth create sc --template busybox --set Network.Mode=none --set Machine.Init=/sbin/script-init
S=$BERTH_ROOT/machines/sc/rootfs
printf '#!/bin/sh -e\nexec /bin/busybox init\n' > "$S/sbin/script-init"
chmod 0755 "$S/sbin/script-init"
check "it boots" berth start sc
check_eq "its interpreter ran it and became busybox init" "/bin/busybox" "$(berth exec sc -- readlink /proc/1/exe)"
check "stop it" berth stop sc
printf '#!/proc/self/exe\n' > "$S/sbin/script-init"
check_fails "an interpreter through /proc/self/exe (the host's supervisor) is refused" berth start sc
check_output_contains "... with a clear error" "interpreter /proc/self/exe.*magic link" berth logs sc

# --- boot IDs ------------------------------------------------------------------------------
host_boot=$(cat /proc/sys/kernel/random/boot_id)
check "start" berth start bt
b1=$(bx cat /proc/sys/kernel/random/boot_id)
check_output_contains "the machine has a boot ID" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' echo "$b1"
check "... not the host's" test "$b1" != "$host_boot"
check_fails "... which the guest cannot change" bx sh -c 'echo 00000000-0000-4000-8000-000000000000 > /proc/sys/kernel/random/boot_id'
check "reboot" berth reboot bt
check "it is back" wait_for 30 sh -c "[ \"\$('$BERTH' list --json | jq '.[] | select(.name==\"bt\") | .boots')\" = 2 ]"
b2=$(bx cat /proc/sys/kernel/random/boot_id)
check "a reboot gives a new boot ID" test -n "$b2" -a "$b2" != "$b1" -a "$b2" != "$host_boot"
check "restart" sh -c "'$BERTH' stop bt && '$BERTH' start bt"
b3=$(bx cat /proc/sys/kernel/random/boot_id)
check "a restart gives a new boot ID" test -n "$b3" -a "$b3" != "$b2" -a "$b3" != "$b1"

# --- the container interface ------------------------------------------------------------
check_eq "/run/host/container-manager says berth" "berth" "$(bx cat /run/host/container-manager)"
osr=/etc/os-release; [ -e $osr ] || osr=/usr/lib/os-release
check_eq "/run/host/os-release is the host's" "$(cat $osr)" "$(bx cat /run/host/os-release)"
env1() { bx sh -c 'tr "\0" "\n" < /proc/1/environ' | sed -n 's/^container_uuid=//p'; }
u1=$(env1)
check_output_contains "PID 1 has container_uuid" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' echo "$u1"
check "restart" sh -c "'$BERTH' stop bt && '$BERTH' start bt"
check_eq "container_uuid is stable across restarts" "$u1" "$(env1)"
check "stop" berth stop bt
echo 0123456789abcdef0123456789abcdef > "$R/etc/machine-id"
check "start with an /etc/machine-id" berth start bt
check_eq "container_uuid is the machine-id" "01234567-89ab-cdef-0123-456789abcdef" "$(env1)"
check "stop" berth stop bt
echo fedcba9876543210fedcba9876543210 > "$TEST_TMP/host-machine-id"
ln -sfn "/proc/self/fd/0/../../../../../../../../$TEST_TMP/host-machine-id" "$R/etc/machine-id"
check "start with an /etc/machine-id that is a magic link" berth start bt
check_eq "... it is not followed: the machine's own UUID" "$u1" "$(env1)"
check "stop" berth stop bt
rm -f "$R/etc/machine-id"

# /proc/sys/net is the machine's own (Mode=none: a network namespace of its own).
check "start" berth start bt
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
want=$((1 - host_fwd))
check "the guest sets its own ip_forward" bx sh -c "echo $want > /proc/sys/net/ipv4/ip_forward"
check_eq "... which it reads back" "$want" "$(bx cat /proc/sys/net/ipv4/ip_forward)"
check_eq "... and the host's is unchanged" "$host_fwd" "$(cat /proc/sys/net/ipv4/ip_forward)"
check_fails "/proc/sys/kernel stays read-only" bx sh -c 'echo x > /proc/sys/kernel/domainname'
check_fails "/proc/sys/vm stays read-only" bx sh -c 'echo 100 > /proc/sys/vm/swappiness'

# Devices: tun and fuse, the machine's own copies of the host's 0600 nodes, on
# the allow-list.
install -m 0755 "$PROBE" "$R/bin/probe"
check_eq "/dev/null is the machine root's copy" "0:0" "$(bx stat -c %u:%g /dev/null)"
if [ -c /dev/net/tun ]; then
        check_output_contains "/dev/net/tun makes a tun interface" '^allowed' bx probe tun
else
        ok "# SKIP the host has no /dev/net/tun"
fi
if [ -c /dev/fuse ]; then
        check_output_contains "/dev/fuse opens" '^allowed' bx probe open /dev/fuse
else
        ok "# SKIP the host has no /dev/fuse"
fi
check "stop" berth stop bt

# A machine without a user namespace: its nodes are the host's as they are.
check "create a privileged machine" berth create pr --template busybox --set Security.PrivateUsers=no
install -m 0755 "$PROBE" "$BERTH_ROOT/machines/pr/rootfs/bin/probe"
check "start it" berth start pr
for n in net/tun fuse; do
        [ -c "/dev/$n" ] || continue
        check_output_contains "/dev/$n opens in it (device allow-list)" '^allowed' berth exec pr -- /bin/probe open "/dev/$n"
done
check "stop it" berth stop pr

done_testing
