#!/bin/bash
# A user's machines as units of the user's own systemd (systemd --user):
# inside the test host, with the test's own user logged in (user@UID.service,
# which systemd delegates a cgroup to), berth without root finds that manager
# and starts each machine as a transient unit with Delegate=yes on the user
# bus; the machine's cgroup is below user@UID.service and its [Resources]
# are the unit's properties, enforced where the controllers are on cgroup
# v2 (the test host asks for pids and cpu there: testhost
# --cgroup-controllers), for the machine's own processes and for what a
# user's berth exec runs in it, which joins the unit's cgroup through the
# user's systemd; stop leaves no unit.  Without the manager,
# BERTH_MODE=unit says what is missing and the default falls back to direct
# mode, which says once that limits are not applied.
. "$(dirname "$0")/lib.sh"

U=berth-ru$$
UDIR=$(mktemp -d /var/tmp/berth-ru.XXXXXX)   # the user's home
chmod 755 "$UDIR"
UHOME=$UDIR/home
last_end() { awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print m + 0 }' /etc/subuid /etc/subgid; }
START=$(( ($(last_end) / 65536 + 16) * 65536 ))
END=$((START + 65536 - 1))

cleanup_ru() {
        stop_testhost
        [ -n "${UID_U:-}" ] && for p in $(pgrep -U "$UID_U"); do kill -9 "$p" 2>/dev/null; done
        usermod --del-subuids "$START-$END" --del-subgids "$START-$END" "$U" >/dev/null 2>&1
        userdel -r -f "$U" >/dev/null 2>&1
        rm -rf --one-file-system "$UDIR"
}
# Made before the test host boots, so that it sees the user.
useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -d "$UHOME" -m -s /bin/sh "$U" || { not_ok "useradd $U"; done_testing; }
usermod --add-subuids "$START-$END" --add-subgids "$START-$END" "$U"
UID_U=$(id -u "$U")
URUN=/run/user/$UID_U

# Before the boot too: a test host that does not boot ends the test there.
trap cleanup_ru EXIT
start_testhost "the test host boots" --bind "$UDIR" --cgroup-controllers pids,cpu
trap cleanup_ru EXIT

# thu ARGS...: a command as the user in the test host, as a login gives it.
thu() {
        th setpriv --reuid "$U" --regid "$U" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                HOME="$UHOME" XDG_RUNTIME_DIR="$URUN" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR" \
                BERTH_UNPACK="$BERTH_UNPACK" BERTH_IMPORT="$BERTH_IMPORT" BERTH_MACHINED="$BERTH_MACHINED" \
                ${UENV:-} "$@"
}
ub() { thu "$BERTH" "$@"; }
usc() { thu systemctl --user "$@"; }

# --- without the user's systemd -------------------------------------------------
th mkdir -p -m 0700 "$URUN"
th chown "$U:" "$URUN"
check "create a --template busybox" ub create a --template busybox
check "TasksMax=, MemoryMax= and CPUQuota= in its machine.conf (set as the user)" \
        ub set a TasksMax=99 MemoryMax=64M CPUQuota=50% Network.Mode=none
UENV=BERTH_MODE=unit
check_status "BERTH_MODE=unit without systemd --user is refused" 1 ub start a
UENV=
cp "$TEST_TMP/out" "$TEST_TMP/refused"
check_output_contains "and says what to do" "systemd --user\) does not run.*enable-linger" cat "$TEST_TMP/refused"
check_output_contains "direct mode: start says once that limits are not applied" \
        "runs without resource limits" ub start a
# devpts here is mounted gid=5,mode=620, as systemd mounts it: the pty must
# still be the machine's root's to open.
check_eq "it runs" "running" "$(ub list --json | jq -r '.[] | select(.name=="a") | .state')"
check "stop it" ub stop a
th rm -rf "$URUN"

# --- with it --------------------------------------------------------------------
check "the user's systemd starts (user@UID.service)" th systemctl start "user@$UID_U.service"
check_eq "it delegates cgroups" "yes" "$(th systemctl show -P Delegate "user@$UID_U.service")"
out=$(ub start a 2>&1)
st=$?
check_eq "start it" "0" "$st"
[ "$st" = 0 ] || sed 's/^/# /' <<<"$out"
check_eq "without direct mode's notice" "" "$(grep 'without resource limits' <<<"$out")"
u=$(ub status --json a | jq -r .unit)
check "the unit is berth-a...service" sh -c "case '$u' in berth-a*.service) true;; *) false;; esac"
check_eq "it is active on the user's manager" "active" "$(usc is-active "$u")"
check_eq "with Delegate=yes" "yes" "$(usc show -P Delegate "$u")"
check_eq "TasksMax= is a unit property" "99" "$(usc show -P TasksMax "$u")"
check_eq "MemoryMax= is a unit property" "67108864" "$(usc show -P MemoryMax "$u")"
check_eq "CPUQuota= is a unit property" "500ms" "$(usc show -P CPUQuotaPerSecUSec "$u")"
cg_base=/user.slice/user-$UID_U.slice/user@$UID_U.service/machine.slice
cg=$cg_base/$u
check_eq "the unit's cgroup is below user@UID.service" "$cg" "$(usc show -P ControlGroup "$u")"
leader=$(ub list --json | jq '.[] | select(.name=="a") | .leader')
check_eq "the guest's init is in the unit's payload cgroup" "0::$cg/payload" "$(th grep ^0:: "/proc/$leader/cgroup")"
check_eq "the supervisor in its supervisor cgroup" "0::$cg/supervisor" \
        "$(th sh -c "grep ^0:: /proc/$(usc show -P MainPID "$u")/cgroup")"
# The limits are systemd's to write: where the kernel gives the unified
# hierarchy the controllers, they are in the unit's cgroup files.  Where
# one is bound to cgroup v1 (memory always here: the sandbox's), start
# names exactly the limits nothing enforces.
missing='' keys=''
for c in memory pids cpu; do
        th_controller "$c" >/dev/null && continue
        missing=${missing:+$missing, }$c
        case $c in
        memory) k="MemoryMax=, MemoryHigh=" ;;
        pids) k="TasksMax=" ;;
        cpu) k="CPUQuota=, CPUWeight=" ;;
        esac
        keys=${keys:+$keys, }$k
done
if [ -n "$missing" ]; then
        check_output_contains "start names the limits not enforced ($keys), and no others" \
                "runs as $u of your systemd, but this host delegates no $missing controller to you \(bound to cgroup v1\), so these limits are not enforced: $keys\.\$" echo "$out"
else
        check_eq "start did not say limits are not enforced" "" "$(grep 'not enforced' <<<"$out")"
fi
if why=$(th_controller pids); then
        check_eq "pids.max of the unit's cgroup is TasksMax=" "99" "$(th cat "/sys/fs/cgroup$cg/pids.max")"
else
        ok "# skip pids.max of the unit's cgroup: $why"
fi
if why=$(th_controller cpu); then
        check_eq "cpu.max of the unit's cgroup is CPUQuota=50%" "50000 100000" "$(th cat "/sys/fs/cgroup$cg/cpu.max")"
else
        ok "# skip cpu.max of the unit's cgroup: $why"
fi
if why=$(th_controller memory); then
        check_eq "memory.max of the unit's cgroup is MemoryMax=" "67108864" "$(th cat "/sys/fs/cgroup$cg/memory.max")"
else
        ok "# skip memory.max of the unit's cgroup: $why"
fi
check_output_contains "exec works" "^hi$" ub exec a -- echo hi
# A user's exec joins the unit's cgroup where the init is (payload), as
# root's joins the init's cgroups: inside, the root of the machine's cgroup
# namespace; from the host, the unit's payload cgroup.
check_eq "exec: /proc/self/cgroup in the machine is its cgroup namespace's root" "0::/" \
        "$(ub exec a -- grep ^0:: /proc/self/cgroup)"
# As from a login session: the caller in a scope of user-UID.slice (root's,
# the common ancestor of the caller's cgroup and the unit's).
check_eq "so does one run from a scope in user-$UID_U.slice, as a login session's" "0::/" \
        "$(th systemd-run --quiet --scope --slice="user-$UID_U.slice" -- setpriv --reuid "$U" --regid "$U" \
                --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$UHOME" XDG_RUNTIME_DIR="$URUN" \
                "$BERTH" exec a -- grep ^0:: /proc/self/cgroup 2>&1)"
check_output_contains "(such a scope is where systemd-run --scope puts its command)" \
        "^0::/user.slice/user-$UID_U.slice/run-.*\.scope$" \
        th systemd-run --quiet --scope --slice="user-$UID_U.slice" -- grep ^0:: /proc/self/cgroup
thu sh -c "'$BERTH' exec a -- sleep 4710 >/dev/null 2>&1 &"
sleep_on_host() { th pgrep -x -f 'sleep 4710' >/dev/null; }
check "a user's exec a -- sleep runs" wait_for 10 sleep_on_host
check_eq "from the host, the exec'd command is in the unit's payload cgroup" "0::$cg/payload" \
        "$(th sh -c "grep ^0:: /proc/\$(pgrep -x -f 'sleep 4710' | head -1)/cgroup")"
th pkill -x -f 'sleep 4710'
# Without the user's manager the command would escape the limits: no exec.
UENV=DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent
check_status "a user's exec without the user bus fails (125)" 125 ub exec a -- echo escaped
UENV=
cp "$TEST_TMP/out" "$TEST_TMP/nobus"
check_output_contains "and says why" \
        "runs as $u of your systemd, but the user bus does not answer.*escape the machine's limits" cat "$TEST_TMP/nobus"
check_fails "the command did not run" grep -qx escaped "$TEST_TMP/nobus"
check "set MemoryMax= of the running unit as the user" ub set a MemoryMax=96M
check_eq "the unit has it at once" "100663296" "$(usc show -P MemoryMax "$u")"
check_eq "and machine.conf" "MemoryMax=96M" "$(grep '^MemoryMax=' "$UHOME/.local/share/berth/machines/a/machine.conf")"
check_output_contains "logs reads the unit's lines from the user's journal" "Started berth-a.*berth machine a" ub logs a
check "stop" ub stop a
check_eq "it is stopped" "stopped" "$(ub list --json | jq -r '.[] | select(.name=="a") | .state')"
check_eq "no unit is left" "" "$(usc list-units --all --no-legend 'berth-*' | grep -c . | sed 's/^0$//')"
check "the user's systemd still runs" th systemctl is-active "user@$UID_U.service"
check "start it again" ub start a
check "kill it" ub kill a
unit_gone() { [ "$(usc is-active "$u")" != active ]; }
check "it is gone from the manager" wait_for 10 unit_gone

# --- TasksMax= enforced: fork loops stop at the limit --------------------------------
# One in the machine's own boot (a start script of busybox's rcS), one run
# by a user's berth exec; each forks sleeps until fork fails, and records
# them (a file, builtins only: at the limit nothing forks) to end them.
if why=$(th_controller pids); then
        check "create f --template busybox" ub create f --template busybox
        check "with TasksMax=24" ub set f TasksMax=24 Network.Mode=none
        cat >"$UDIR/S50forks" <<'EOF'
#!/bin/sh
# Forks sleeps until fork fails, then ends them: /run/forks.n says how many.
forks() {
        : >"$1.pids"
        ( i=0; while [ $i -lt 200 ]; do sleep 4711 & echo $! >>"$1.pids"; i=$((i + 1)); done ) 2>"$1.err"
        n=0
        while read -r p; do kill "$p"; n=$((n + 1)); done <"$1.pids"
        echo "$n" >"$1.n"
}
[ "${1:-}" = start ] && forks /run/forks
[ "${1:-}" = exec ] && forks /run/exec-forks
exit 0
EOF
        chmod 755 "$UDIR/S50forks"
        check "a fork loop as a start script in f" ub cp "$UDIR/S50forks" f:/etc/init.d/S50forks
        check "start f" ub start f
        fu=$(ub status --json f | jq -r .unit)
        fcg=$cg_base/$fu
        boot_done() { ub exec f -- test -s /run/forks.n; }
        check "the boot's fork loop ends" wait_for 60 boot_done
        n=$(ub exec f -- cat /run/forks.n)
        check "it forked some sleeps, fewer than TasksMax=24 ($n)" test "${n:-0}" -gt 0 -a "${n:-99}" -lt 24
        check_output_contains "then fork failed in the machine" "can't fork" ub exec f -- cat /run/forks.err
        check_output_contains "the unit's pids.events counts the refusals" "^max [1-9]" th cat "/sys/fs/cgroup$fcg/pids.events"
        check "the test host still forks" th sh -c 'true & wait'
        check "the user still forks on the host" thu sh -c 'true & wait'
        # The exec joins the unit's cgroup, so its loop meets the same limit.
        check_status "a fork loop through berth exec runs until fork fails, then ends its sleeps" 0 \
                ub exec f -- sh -c '/etc/init.d/S50forks exec; test -s /run/exec-forks.n'
        n=$(ub exec f -- cat /run/exec-forks.n)
        check "it forked some sleeps, fewer than TasksMax=24 ($n)" test "${n:-0}" -gt 0 -a "${n:-99}" -lt 24
        check_output_contains "then fork failed in the exec'd command" "can't fork" ub exec f -- cat /run/exec-forks.err
        check "stop f" ub stop f
        check "rm f" ub rm f
else
        ok "# skip TasksMax= enforcement: $why"
fi

# --- autostart: the user template berth@.service --------------------------------------
th sh -c "sed 's|@MACHINED@|$BERTH_MACHINED|' '$BERTH_SRCDIR/systemd-units/berth-user@.service.in' \
        >/etc/systemd/user/berth@.service"
check "the user's systemd reads the user template" usc daemon-reload
check_fails "systemd knows every key of it" sh -c \
        "'$TESTHOST' run '$THDIR' -- systemd-analyze --user verify /etc/systemd/user/berth@.service 2>&1 | grep -E 'Unknown (key|section)'"
check "enable a as the user" ub enable a
check_eq "berth@a.service is enabled on the user's manager" "enabled" "$(usc is-enabled berth@a.service)"
check "wanted by the user's default.target" th test -L "$UHOME/.config/systemd/user/default.target.wants/berth@a.service"
check "the user's systemd starts it as it would at login" usc start berth@a.service
check_eq "a runs" "running" "$(ub list --json | jq -r '.[] | select(.name=="a") | .state')"
check_eq "as berth@a.service" "berth@a.service" "$(ub status --json a | jq -r .unit)"
check_eq "which got machine.conf's MemoryMax= from the supervisor" "100663296" "$(usc show -P MemoryMax berth@a.service)"
check_output_contains "exec works in it" "^hi$" ub exec a -- echo hi
check "stop a" ub stop a
tpl_gone() { [ "$(usc is-active berth@a.service)" != active ]; }
check "the template unit is inactive" wait_for 10 tpl_gone
check "rename a ra: the user's autostart follows" ub rename a ra
check_eq "berth@ra.service is enabled, berth@a.service not" "enabled disabled" \
        "$(usc is-enabled berth@ra.service) $(usc is-enabled berth@a.service)"
check "rename ra a" ub rename ra a
check_eq "berth@a.service is enabled again" "enabled" "$(usc is-enabled berth@a.service)"
check "disable a" ub disable a
check_eq "berth@a.service is disabled" "disabled" "$(usc is-enabled berth@a.service)"
check_fails "nothing wants it any more" th test -e "$UHOME/.config/systemd/user/default.target.wants/berth@a.service"
check "rm a" ub rm a

# --- Debian with systemd, booted by the user ---------------------------------------
# systemd in the guest writes its own cgroup tree: the delegated one.  The
# rootfs is a tar of the test template cache's Debian tree (made by root,
# imported by the user, without its device nodes, which a user cannot
# make), which avoids a bootstrap as the user.
DEB=${BERTH_TEST_CACHE:-}/debian-bookworm-amd64
if [ -x "$DEB/usr/lib/systemd/systemd" ]; then
        check "a tar of a Debian rootfs" tar -C "$DEB" --numeric-owner --exclude="./dev/*" -cf "$UDIR/debian.tar" .
        chmod 644 "$UDIR/debian.tar"
        check "create d --from-tar it" ub create d --from-tar "$UDIR/debian.tar"
        rm -f "$UDIR/debian.tar"
        check "with [Network] Mode=none" thu sh -c \
                "printf '[Network]\\nMode=none\\n' >>'$UHOME/.local/share/berth/machines/d/machine.conf'"
        check "start --wait d: systemd boots" ub start --wait --timeout 120 d
        check_eq "systemctl is-system-running in it" "running" \
                "$(ub exec d -- systemctl is-system-running --wait 2>&1)"
        [ "$(ub exec d -- systemctl is-system-running 2>&1)" = running ] ||
                ub exec d -- systemctl --failed --no-legend 2>&1 | sed 's/^/# failed: /'
        du=$(ub status --json d | jq -r .unit)
        check_output_contains "the guest's own units are in the delegated cgroup" \
                "$cg_base/$du/payload/(init\.scope|system\.slice)" th cat "/proc/$(ub list --json | jq '.[] | select(.name=="d") | .leader')/cgroup"
        d_boots_twice() { [ "$(ub list --json | jq -r '.[] | select(.name == "d") | .boots')" = 2 ]; }
        check "reboot d: systemd's own reboot" ub reboot d
        check "... it comes back: boot 2" wait_for 120 d_boots_twice
        check_eq "... and boots to running again" "running" \
                "$(ub exec d -- systemctl is-system-running --wait 2>&1)"
        check_eq "... still the user's unit" "$du" "$(ub status --json d | jq -r .unit)"
        check "stop d" ub stop d
        check_eq "no unit is left" "" "$(usc list-units --all --no-legend 'berth-*' | grep -c . | sed 's/^0$//')"
        check "rm d" ub rm d
else
        ok "# skip no Debian tree in the test template cache ($DEB): test-unit-mode makes it"
fi
# --- a machine of a pulled image, as a unit of the user's systemd -------------------
# Pulled outside the test host (its network namespace has no registry) into
# the user's store, which the test host sees at the same path; made, booted
# and removed inside it.  The store takes the user's one range (d is gone).
W=$TEST_TMP/registry
mkdir -p "$W/cache" "$W/tree"
. "$(dirname "$0")/lib-registry.sh"
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v umoci >/dev/null; then
        REG=127.0.0.1:5000
        trap 'stop_registries; cleanup_ru' EXIT
        "$BERTH_TEMPLATE_DIR/busybox" --rootfs "$W/tree" --name img --cache-dir "$W/cache" >/dev/null
        check "a busybox image (umoci)" bash -c "umoci init --layout $W/l && umoci new --image $W/l:e &&
                umoci insert --image $W/l:e --tag bb $W/tree / && umoci config --image $W/l:bb --config.cmd /sbin/init"
        check "a registry on $REG" start_registry plain $REG
        check "the image pushed to it" push "oci:$W/l:bb" "docker://$REG/bb:1"
        mkdir -m 0700 "$UDIR/run-outside" && chown "$U:" "$UDIR/run-outside"
        check "the user pulls it (outside the test host)" setpriv --reuid "$U" --regid "$U" --init-groups -- \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$UHOME" XDG_RUNTIME_DIR="$UDIR/run-outside" \
                BERTH_PULL="$BERTH_PULL" BERTH_IMPORT="$BERTH_IMPORT" "$BERTH" pull $REG/bb:1
        check "create img --image it" ub create img --image $REG/bb:1 --set Network.Mode=none
        check "start img" ub start img
        iu=$(ub status --json img | jq -r .unit)
        check_eq "it is a unit active on the user's manager" "active" "$(usc is-active "$iu")"
        check_status "exec returns the command's status" 5 ub exec img -- sh -c 'exit 5'
        check "stop img" ub stop img
        check "rm img" ub rm img
        check "rmi the image" ub rmi $REG/bb:1
else
        ok "# skip docker-registry, skopeo or umoci is not installed (tests/run installs them)"
fi
check "the user's systemd stops" th systemctl stop "user@$UID_U.service"
done_testing
