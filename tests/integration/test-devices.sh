#!/bin/bash
# [Devices] Allow=: a configured host device is in the machine's /dev and on
# its allow-list (v1 devices cgroup or BPF program), with the access the line
# gives; a device outside the safe list needs 'privileged' and is named in
# status; nothing else opens, even where a privileged machine plants a node.
# PROBE is a static helper (tests/helpers/probe.c).
. "$(dirname "$0")/lib.sh"
: "${PROBE:?set PROBE to the static probe helper}"

probe_in() { # probe_in MACHINE ARGS...: the probe's verdict ("allowed" or "denied ERRNO")
        local m=$1; shift
        berth exec "$m" -- probe "$@" 2>&1
}
conf() { echo "$BERTH_ROOT/machines/$1/machine.conf"; }

# --- parsing: clear errors, nothing created -----------------------------------------------
check_output_contains "a device outside the safe list is refused without 'privileged'" \
        "privileged device.*add the word 'privileged'" \
        berth create bad --template busybox --set "Devices.Allow=/dev/loop-control rw"
check_fails "... and no machine was created" test -d "$BERTH_ROOT/machines/bad"
check_output_contains "a path outside /dev is refused" "below /dev/" \
        berth create bad --template busybox --set "Devices.Allow=/etc/passwd"
check_output_contains "a '..' in the path is refused" "'\.\.' component" \
        berth create bad --template busybox --set "Devices.Allow=/dev/../etc/passwd privileged"
check_output_contains "an unknown access letter is refused" "neither an access" \
        berth create bad --template busybox --set "Devices.Allow=/dev/kvm rx"

# --- a safe device by path: /dev/kvm (this host has KVM) -------------------------------------
if [ -c /dev/kvm ]; then
        check "create a machine with Allow=/dev/kvm rw" \
                berth create kvm --template busybox --set "Devices.Allow=/dev/kvm rw"
        check_output_contains "machine.conf has the line" '^Allow=/dev/kvm rw$' cat "$(conf kvm)"
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/kvm/rootfs/bin/probe"
        check "start it (user namespace)" berth start kvm
        check_eq "/dev/kvm opens read-write inside" "allowed" "$(probe_in kvm open /dev/kvm)"
        check_eq "/dev/kvm inside is the host's 10:232" "10,232" \
                "$(berth exec kvm -- stat -c '%t,%T' /dev/kvm | awk -F, '{ printf "%d,%d", "0x"$1, "0x"$2 }')"
        check_eq "the built-in /dev/net/tun makes a tun interface beside it" "allowed" "$(probe_in kvm tun)"
        [ -c /dev/fuse ] && check_eq "the built-in /dev/fuse opens beside it" "allowed" "$(probe_in kvm open /dev/fuse)"
        check_output_contains "status names the device" '^ +Devices: /dev/kvm \(rw\)$' berth status kvm
        check_eq "list --json shows it" '/dev/kvm rw false' \
                "$(berth list --json | jq -r '.[] | select(.name == "kvm") | .devices[] | "\(.device) \(.access) \(.privileged)"')"
        check_eq "status --json shows it" '/dev/kvm' "$(berth status --json kvm | jq -r '.devices[0].device')"
        check "stop it" berth stop kvm
else
        ok "# SKIP no /dev/kvm on this host"
fi

# --- --device on create, start and run ---------------------------------------------------------
if [ -c /dev/kvm ]; then
        check "create --device /dev/kvm:rw" berth create kvm2 --template busybox --device /dev/kvm:rw
        check_output_contains "... writes Allow= to machine.conf" '^Allow=/dev/kvm rw$' cat "$(conf kvm2)"
        check "create a machine without devices" berth create plain --template busybox
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/plain/rootfs/bin/probe"
        check_output_contains "start --device refuses a privileged device without ':privileged'" \
                "Invalid --device '/dev/loop-control:rw': is a privileged device" \
                berth start plain --device /dev/loop-control:rw
        check_eq "... and nothing started" "stopped" "$(machine_state plain)"
        check "start --device /dev/kvm:rw --device /dev/loop-control:rw:privileged" \
                berth start plain --device /dev/kvm:rw --device /dev/loop-control:rw:privileged
        check_eq "/dev/kvm opens inside" "allowed" "$(probe_in plain open /dev/kvm)"
        check_fails "machine.conf keeps no trace of them" grep -q Allow= "$(conf plain)"
        check_output_contains "status shows the run's devices" '^ +Devices: /dev/kvm \(rw\)$' berth status plain
        check_output_contains "... the privileged one marked" '^ +/dev/loop-control \(rw\) PRIVILEGED' berth status plain
        check_eq "list --json shows them" '/dev/kvm:false /dev/loop-control:true' \
                "$(berth list --json | jq -r '[.[] | select(.name == "plain") | .devices[] | "\(.device):\(.privileged)"] | join(" ")')"
        check_output_contains "a running machine refuses a start with --device" "applies when it starts" \
                berth start plain --device /dev/kvm
        check "stop it" berth stop plain
        check_fails "a stopped machine's status has no devices (none configured)" sh -c "'$BERTH' status plain | grep -q Devices:"
        check "start it again without --device" berth start plain
        check_output_contains "/dev/kvm is gone" '^denied ENOENT' probe_in plain open /dev/kvm
        check_eq "list --json: no devices" '0' "$(berth list --json | jq '.[] | select(.name == "plain") | .devices | length')"
        check "stop it" berth stop plain
        check_eq "run --device /dev/kvm:rw" "allowed" "$(berth run --device /dev/kvm:rw plain -- probe open /dev/kvm)"
        check_output_contains "run without it: no /dev/kvm" '^denied ENOENT' berth run plain -- probe open /dev/kvm
        printf '[Devices]\nAllow=/dev/kvm r\n' > "$BERTH_ROOT/berth.conf"
        check_eq "berth.conf's Allow=/dev/kvm r reaches every machine" "allowed" \
                "$(berth run plain -- sh -c 'exec 3</dev/kvm && echo allowed')"
        check_output_contains "... with its access (no write)" '^denied EPERM' berth run plain -- probe open /dev/kvm
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/kvm2/rootfs/bin/probe"
        check_eq "a machine's own Allow=/dev/kvm rw replaces berth.conf's" "allowed" \
                "$(berth run kvm2 -- probe open /dev/kvm)"
        rm -f "$BERTH_ROOT/berth.conf"
fi

# --- a privileged machine: the allow-list is what stops a planted node ----------------------------
check "create a privileged machine without devices" berth create priv --template busybox --set Security.PrivateUsers=no
install -m 0755 "$PROBE" "$BERTH_ROOT/machines/priv/rootfs/bin/probe"
check "start it" berth start priv
check_output_contains "no /dev/kvm node without Allow=" '^denied ENOENT' probe_in priv open /dev/kvm
check_output_contains "a planted kvm node (10:232) does not open" '^denied EPERM' \
        probe_in priv mknod-open /dev/planted c 10:232
check_output_contains "a planted loop-control node (10:237) does not open" '^denied EPERM' \
        probe_in priv mknod-open /dev/planted c 10:237
check "stop it" berth stop priv

if [ -c /dev/kvm ]; then
        printf '[Devices]\nAllow=/dev/kvm r\n' >> "$(conf priv)"
        check "restart it with Allow=/dev/kvm r (read only, no mknod)" berth start priv
        check_output_contains "/dev/kvm does not open read-write" '^denied EPERM' probe_in priv open /dev/kvm
        check_eq "/dev/kvm opens read-only" "allowed" \
                "$(berth exec priv -- sh -c 'probe mknod-open /dev/x c 1:3 >/dev/null; exec 3</dev/kvm && echo allowed')"
        check_output_contains "mknod of kvm is refused (no 'm')" '^denied EPERM' \
                probe_in priv mknod-open /dev/planted c 10:232
        check "stop it" berth stop priv
fi

# --- privileged devices: acknowledged, named in status ------------------------------------------
wait_for 10 no_supervisor_left priv
printf '[Devices]\nAllow=/dev/loop-control rw\n' > "$(conf priv)"
printf '[Security]\nPrivateUsers=no\n' >> "$(conf priv)"
check_output_contains "start refuses an unacknowledged privileged device in machine.conf" \
        "Allow=/dev/loop-control rw: is a privileged device" berth start priv
# Its machine.conf is refused as it is: list says broken (not running).
check_eq "... and nothing started" "broken" "$(machine_state priv)"
check "... and no supervisor" no_supervisor_left priv

printf '[Devices]\nAllow=/dev/ttyUSB77\n[Security]\nPrivateUsers=no\n' > "$(conf priv)"
check_output_contains "start refuses a configured device the host lacks" \
        "Allow=/dev/ttyUSB77: no such device on the host" berth start priv
check_eq "... and nothing started" "stopped" "$(machine_state priv)"

printf '[Devices]\nAllow=/dev/loop-control rw privileged\nAllow=/dev/loop0 rw privileged\nAllow=block-loop rm privileged\n' > "$(conf priv)"
printf '[Security]\nPrivateUsers=no\n' >> "$(conf priv)"
check "start with acknowledged privileged devices" berth start priv
check_eq "/dev/loop-control (by path) opens inside" "allowed" "$(probe_in priv open /dev/loop-control)"
check_eq "/dev/loop0 (a block device) opens inside" "allowed" "$(probe_in priv open /dev/loop0)"
check_eq "a loop node made inside opens (block-loop rm)" "allowed" "$(probe_in priv mknod-open /dev/l1 b 7:1)"
if [ -b /dev/loop1 ]; then
        check_eq "a class brings the host's nodes of its majors into /dev: /dev/loop1 is the host's 7:1" "7,1" \
                "$(berth exec priv -- stat -c '%t,%T' /dev/loop1 | awk -F, '{ printf "%d,%d", "0x"$1, "0x"$2 }')"
        check_eq "and opens read-only (block-loop r)" "allowed" \
                "$(berth exec priv -- sh -c 'exec 3</dev/loop1 && echo allowed')"
        check_output_contains "but not for writing (no w in the line)" '^denied EPERM' probe_in priv open /dev/loop1
fi
check_output_contains "kvm still does not (not configured)" '^denied EPERM' probe_in priv mknod-open /dev/planted c 10:232
check_output_contains "status marks them privileged" '^ +Devices: /dev/loop-control \(rw\) PRIVILEGED' berth status priv
check_output_contains "status lists every line" '^ +block-loop \(rm\) PRIVILEGED' berth status priv
check_eq "list --json marks them privileged" 'true true true' \
        "$(berth list --json | jq -r '[.[] | select(.name == "priv") | .devices[].privileged] | map(tostring) | join(" ")')"
check "stop it" berth stop priv

# --- the BPF program (a host with cgroup v2 alone, as test-cgroup2.sh makes it) -----------------
v2=$(findmnt -no TARGET -t cgroup2 | head -1)
v2berth() {
        unshare -m --propagation slave sh -c "
                mount --bind '$v2' /mnt 2>/dev/null || exit 90
                umount -R /sys/fs/cgroup && mount --move /mnt /sys/fs/cgroup || exit 91
                exec '$BERTH' \"\$@\"" berth "$@"
}
if [ -n "$v2" ] && [ -c /dev/kvm ]; then
        printf '[Devices]\nAllow=/dev/kvm r\nAllow=/dev/loop-control rw privileged\nAllow=block-loop rm privileged\n' > "$(conf priv)"
        printf '[Security]\nPrivateUsers=no\n' >> "$(conf priv)"
        check "start the privileged machine with a pure cgroup v2 view" v2berth start priv
        check_output_contains "/dev/kvm r: no read-write open" '^denied EPERM' probe_in priv open /dev/kvm
        check_eq "/dev/kvm r: a read-only open" "allowed" "$(berth exec priv -- sh -c 'exec 3</dev/kvm && echo allowed')"
        check_output_contains "/dev/kvm r: no mknod" '^denied EPERM' probe_in priv mknod-open /dev/planted c 10:232
        check_eq "/dev/loop-control rw opens" "allowed" "$(probe_in priv open /dev/loop-control)"
        check_eq "block-loop rm: a loop node made inside opens read-only" "allowed" \
                "$(probe_in priv mknod-open /dev/l1 b 7:1)"
        check_output_contains "block-loop rm: but not for writing" '^denied EPERM' \
                berth exec priv -- sh -c 'mknod /dev/l2 b 7 1 && { (exec 3>/dev/l2) 2>/dev/null && echo allowed || echo denied EPERM; }'
        check_output_contains "an unlisted device stays closed" '^denied EPERM' \
                probe_in priv mknod-open /dev/planted c 10:238
        check "stop it" berth stop priv
else
        ok "# SKIP no cgroup2 hierarchy or no /dev/kvm on this host"
fi

# --- unit mode: DeviceAllow= on the machine's unit (the test host) -----------------------------
if [ -c /dev/kvm ]; then
        check "create a machine with --device /dev/kvm:rw for unit mode" \
                berth create ukvm --template busybox --device /dev/kvm:rw
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/ukvm/rootfs/bin/probe"
        start_testhost "the test host boots"
        check "the test host gets a /dev/kvm (10:232)" th mknod -m 600 /dev/kvm c 10 232
        check "start it as a unit" tb start ukvm
        u=$(unit_of ukvm)
        # "m" too: the supervisor copies the node with mknod inside the unit;
        # its program on the payload takes "m" from the machine again.
        check_output_contains "DeviceAllow= has /dev/kvm (rwm, for the supervisor's copy)" '/dev/kvm rwm' \
                th systemctl show -P DeviceAllow "$u"
        check_eq "/dev/kvm opens inside" "allowed" "$(tb exec ukvm -- probe open /dev/kvm 2>&1)"
        check_output_contains "a planted loop-control node does not open" '^denied' \
                tb exec ukvm -- probe mknod-open /dev/planted c 10:237
        check "stop it" tb stop ukvm
        check "start it with --device /dev/fuse:r char-hidraw:r:privileged on top" \
                tb start ukvm --device /dev/fuse:r --device char-hidraw:r:privileged
        th systemctl show -P DeviceAllow "$(unit_of ukvm)" > "$TEST_TMP/allow"
        check_output_contains "DeviceAllow= has char-hidraw r" '^char-hidraw r$' cat "$TEST_TMP/allow"
        check_output_contains "/dev/fuse keeps its built-in rwm (not narrowed by a later entry)" \
                '^/dev/fuse rwm$' cat "$TEST_TMP/allow"
        check "stop it" tb stop ukvm

        check "create a privileged machine with --device /dev/kvm:r for unit mode" \
                berth create upriv --template busybox --set Security.PrivateUsers=no --device /dev/kvm:r
        install -m 0755 "$PROBE" "$BERTH_ROOT/machines/upriv/rootfs/bin/probe"
        check "start it as a unit" tb start upriv
        check_eq "/dev/kvm opens read-only" "allowed" \
                "$(tb exec upriv -- sh -c 'exec 3</dev/kvm && echo allowed' 2>&1)"
        check_output_contains "/dev/kvm does not open read-write" '^denied EPERM' \
                tb exec upriv -- probe open /dev/kvm
        check_output_contains "the machine may not mknod kvm (the unit's 'm' is the supervisor's)" '^denied EPERM' \
                tb exec upriv -- probe mknod-open /dev/planted c 10:232
        check_eq "it may mknod a built-in device (null)" "allowed" \
                "$(tb exec upriv -- probe mknod-open /dev/n2 c 1:3 2>&1)"
        check "stop it" tb stop upriv
fi

done_testing
