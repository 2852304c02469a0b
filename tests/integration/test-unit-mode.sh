#!/bin/bash
# Unit mode, inside a real systemd (tests/testhost): every machine a transient
# unit in machine.slice, registered with machined; the systemd toolbox works
# on it.  The state root and the source tree are bound into the test host.
. "$(dirname "$0")/lib.sh"
# The test host has a network namespace of its own: create the Debian
# machine (bootstrapping the template cache if needed) out here first.
if online "$BERTH" create ud --template debian >"$TEST_TMP/create.log" 2>&1; then
        ok "create debian machine (outside the test host, which has no network)"
else
        not_ok "create debian machine (outside the test host, which has no network)"; sed 's/^/# /' "$TEST_TMP/create.log"
fi

# The default state root (for autostart) must be a real directory too:
# idmapped mounts do not work on the test host's overlay.
mkdir -p "$TEST_TMP/default-root"
start_testhost "the test host boots (systemd with machined)" --bind "$TEST_TMP/default-root:/var/lib/berth"
# The values of properties of a unit, space-separated, in the order asked.
unit_props() { local u=$1 p out=(); shift; for p; do out+=("$(th systemctl show -P "$p" "$u")"); done; echo "${out[*]}"; }
th_state() { tb list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }

# --- busybox ------------------------------------------------------------------------
check "create busybox machine" tb create ub --template busybox
check "start it as a unit" tb start ub
u=$(unit_of ub)
check "the unit is berth-ub...service" sh -c "case '$u' in berth-ub*.service) true;; *) false;; esac"
check_eq "the unit is active" "active" "$(th systemctl is-active "$u")"
check_eq "it is in machine.slice" "machine.slice" "$(th systemctl show -P Slice "$u")"
check_eq "Delegate=yes" "yes" "$(th systemctl show -P Delegate "$u")"
leader=$(tb list --json | jq '.[] | select(.name=="ub") | .leader')
check_eq "the guest's init is in the unit's payload cgroup" "0::/machine.slice/$u/payload" \
        "$(th grep ^0:: /proc/$leader/cgroup)"
check_eq "the supervisor in its supervisor cgroup" "0::/machine.slice/$u/supervisor" \
        "$(th sh -c "grep ^0:: /proc/\$(systemctl show -P MainPID $u)/cgroup")"
check_eq "TasksMax= is a unit property" "16384" "$(th systemctl show -P TasksMax "$u")"
# Unset [Resources] keys are not passed: the unit keeps systemd's defaults.
check_eq "no CPUWeight=, CPUQuota=, IOWeight=, MemoryHigh= unless configured" \
        "[not set] infinity [not set] infinity" \
        "$(unit_props "$u" CPUWeight CPUQuotaPerSecUSec IOWeight MemoryHigh)"
check_eq "DevicePolicy=closed" "closed" "$(th systemctl show -P DevicePolicy "$u")"
# systemctl status would warn that the unit changed on disk.
check_eq "no daemon-reload needed after start" "no" "$(th systemctl show -P NeedDaemonReload "$u")"
# list/status read the unit's state from systemd, not only berth's files.
check_eq "status --json: systemd's ActiveState" "active" "$(tb status --json ub | jq -r .unit_active_state)"
check_eq "status --json: systemd's SubState" "$(th systemctl show -P SubState "$u")" \
        "$(tb status --json ub | jq -r .unit_sub_state)"
entered=$(th systemctl show -P ActiveEnterTimestamp --timestamp=unix "$u")
check_eq "status --json: since systemd's ActiveEnterTimestamp" "${entered#@}" \
        "$(tb status --json ub | jq '.unit_active_enter_usec / 1000000 | floor')"
check_output_contains "status shows the unit's state" "Unit: $u \\(active \\(running\\) since" tb status ub
check_eq "list --json carries it too" "active" \
        "$(tb list --json | jq -r '.[] | select(.name=="ub") | .unit_active_state')"
# The bridge's dnsmasq is a unit of its own, so it outlives the machine that
# started it while other machines still need it.
check "the bridge's dnsmasq runs as a unit" sh -c "'$TESTHOST' run '$THDIR' -- systemctl list-units --no-legend --state=active 'berth-dnsmasq-berth0-*' | grep -q berth-dnsmasq"
check "create a second machine" tb create ub2 --template busybox
check "start it" tb start ub2
check "stop the second machine" tb stop ub2
check "dnsmasq still runs for the first" sh -c "'$TESTHOST' run '$THDIR' -- systemctl list-units --no-legend --state=active 'berth-dnsmasq-berth0-*' | grep -q berth-dnsmasq"
check_output_contains "the first machine still gets DHCP answers" "lease of 10\.77\.0\.[0-9]+ obtained" \
        tb exec ub -- udhcpc -i host0 -n -q -f -s /bin/true
check "berth set changes a limit live" tb set ub TasksMax=77
check_eq "on the unit" "77" "$(th systemctl show -P TasksMax "$u")"
check "and keeps it in machine.conf" grep -qx TasksMax=77 "$BERTH_ROOT/machines/ub/machine.conf"
check "berth set --runtime changes it live only" tb set --runtime ub TasksMax=66
check_eq "on the unit" "66" "$(th systemctl show -P TasksMax "$u")"
check "machine.conf unchanged" grep -qx TasksMax=77 "$BERTH_ROOT/machines/ub/machine.conf"
props() { unit_props "$u" CPUWeight CPUQuotaPerSecUSec IOWeight MemoryHigh; }
check "berth set changes CPUWeight=, CPUQuota=, IOWeight=, MemoryHigh= live" \
        tb set ub CPUWeight=300 CPUQuota=50% IOWeight=40 MemoryHigh=256M
check_eq "as unit properties (CPUQuota=50% is 500ms per second)" "300 500ms 40 268435456" "$(props)"
check "berth set --runtime CPUWeight=default CPUQuota= resets them" tb set --runtime ub CPUWeight=default CPUQuota=
check_eq "to systemd's defaults, the others kept" "[not set] infinity 40 268435456" "$(props)"
check_eq "no daemon-reload needed after berth set" "no" "$(th systemctl show -P NeedDaemonReload "$u")"
check "machine.conf keeps the persisted values" \
        grep -qx CPUQuota=50% "$BERTH_ROOT/machines/ub/machine.conf"
check_status "a bad value is refused" 2 tb set ub CPUWeight=20000
check_eq "and changes nothing" "[not set] infinity 40 268435456" "$(props)"
check "machinectl lists it" sh -c "'$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^ub '"
# machined has one namespace for all state roots: a same-named machine of
# another root (the default one here) registers under its qualified name and
# takes nothing from the first.
tbd() { th env BERTH_MACHINED="$BERTH_MACHINED" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR" BERTH_MODE=unit "$BERTH" "$@"; }
qualified=$(BERTH_ROOT=/var/lib/berth cgroup_name ub | tr @ .)
check "another root makes a machine 'ub' too" tbd create ub --template busybox
check "and starts it beside the first" tbd start ub
check "machined knows it as $qualified" sh -c "'$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^$qualified '"
check_eq "the first keeps the plain name" "$(tb list --json | jq '.[] | select(.name=="ub") | .leader')" \
        "$(th machinectl show -p Leader --value ub)"
check "stopping the other one" tbd stop ub
check "leaves the first registered" sh -c "'$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^ub '"
check "and drops its own registration" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^$qualified '"
check "remove the other one" tbd rm ub
check_eq "berth exec works in unit mode" "ub" "$(tb exec ub -- hostname)"
check "berth stop stops the unit" tb stop ub
check_eq "the unit is gone (inactive, collected)" "inactive" "$(th systemctl is-active "$u")"
check "it ended cleanly, not failed" sh -c "'$TESTHOST' run '$THDIR' -- journalctl -u '$u' --no-pager | grep -q 'Deactivated successfully' && ! '$TESTHOST' run '$THDIR' -- journalctl -u '$u' --no-pager | grep -q 'Failed with result'"
check "machined forgot it" sh -c "! '$TESTHOST' run '$THDIR' -- machinectl list --no-legend | grep -q '^ub '"

check "start again" tb start ub
check "berth kill" tb kill ub
check_eq "stopped after kill" "stopped" "$(th_state ub)"
check "start again" tb start ub
check "berth reboot" tb reboot ub
check "the machine comes back in the same unit (boot 2)" wait_for 30 booted_times ub 2
check_eq "still active" "active" "$(th systemctl is-active "$u")"
check "machined knows the new leader" sh -c "[ \"\$('$TESTHOST' run '$THDIR' -- machinectl show -p Leader --value ub)\" = \"\$('$TESTHOST' run '$THDIR' -- env BERTH_ROOT='$BERTH_ROOT' '$BERTH' list --json | jq '.[] | select(.name==\"ub\") | .leader')\" ]"

# A supervisor killed hard: the unit fails, the machine dies with it, and the
# next start recovers (stale unit, registration and runtime state).
sup=$(tb list --json | jq '.[] | select(.name=="ub") | .supervisor')
th kill -9 "$sup"
check "the machine dies with its supervisor" wait_for 20 unit_inactive "$u"
check "the next start recovers" tb start ub
check_eq "and runs" "ok" "$(tb exec ub -- echo ok)"
check "machinectl terminate stops it" th machinectl terminate ub
check "stopped" wait_for 20 sh -c "[ \"\$('$TESTHOST' run '$THDIR' -- env BERTH_ROOT='$BERTH_ROOT' '$BERTH' list --json | jq -r '.[] | select(.name==\"ub\") | .state')\" = stopped ]"

# berth run in unit mode: systemd starts the supervisor, so no lifeline pipe
# reaches it; it watches berth's pidfd instead.  SIGKILL of berth run powers
# the instance off and its unit goes away.
check_eq "berth run works in unit mode" "hi" "$(tb run ub -- echo hi)"
ur_unit=$(th env BERTH_ROOT="$BERTH_ROOT" BERTH_MACHINED="$BERTH_MACHINED" BERTH_MODE=unit bash -c '
        "$1" run --name ur ub -- sleep 300 >/dev/null 2>&1 &
        for i in $(seq 300); do
                [ "$("$1" status --json ur 2>/dev/null | jq -r .state)" = running ] && break
                sleep 0.1
        done
        "$1" status --json ur | jq -r .unit
        kill -9 $!' _ "$BERTH")
check "the run instance is a unit" sh -c "case '$ur_unit' in berth-ur*.service) true;; *) false;; esac"
check "SIGKILL of berth run powers it off: the unit goes away" \
        wait_for 30 sh -c "[ \"\$('$TESTHOST' run '$THDIR' -- systemctl is-active '$ur_unit')\" = inactive ]"
check_eq "the instance is stopped" "stopped" "$(th_state ur)"
check "a poweroff, not a failure" sh -c "'$TESTHOST' run '$THDIR' -- journalctl -u '$ur_unit' --no-pager | grep -q 'went away, powering it off' && ! '$TESTHOST' run '$THDIR' -- journalctl -u '$ur_unit' --no-pager | grep -q 'Failed with result'"
check "berth gc removes the instance" tb gc
check_eq "it is gone" "" "$(th_state ur)"

# --- Debian with systemd -------------------------------------------------------------------
check "start it as a unit (waits until the guest has booted)" tb start ud
ud=$(unit_of ud)
check_eq "booted when start returns" "true" "$(tb list --json | jq '.[] | select(.name=="ud") | .booted')"
check_eq "systemctl -M ud is-system-running" "running" "$(th systemctl -M ud is-system-running --wait)"
check_eq "systemd-run -M ud --wait -P works" "hi" "$(th systemd-run -M ud --wait -q -P echo hi)"
check_output_contains "berth logs shows the console (boot messages) from the unit's journal" "Reached target" tb logs ud
check_output_contains "and the supervisor's messages" "Machine ud has booted" tb logs ud
check "journalctl -M ud shows the guest's journal" sh -c "'$TESTHOST' run '$THDIR' -- journalctl -M ud --no-pager | grep -q 'Startup finished'"
check_output_contains "machinectl status shows it" "OS: Debian GNU/Linux 12" th machinectl status ud --no-pager
check_output_contains "machinectl status shows its address" "Address: 10\.77\.0\.[0-9]+" th machinectl status ud --no-pager
# --no-block: the machine may go down before it could answer the call.
check "poweroff from inside" poweroff_inside ud
check "the machine stops" wait_for 30 unit_inactive "$ud"
check "the unit ended inactive, not failed" sh -c "'$TESTHOST' run '$THDIR' -- journalctl -u '$ud' --no-pager | grep -q 'Deactivated successfully' && ! '$TESTHOST' run '$THDIR' -- journalctl -u '$ud' --no-pager | grep -q 'Failed with result'"
check "start again" tb start ud
check "machinectl reboot reboots it" th machinectl reboot ud
check "back up (boot 2)" wait_for 60 booted_times ud 2
check "running again" wait_for 60 sh -c "'$TESTHOST' run '$THDIR' -- systemctl -M ud is-system-running --wait 2>/dev/null | grep -qx running"
check "machinectl poweroff powers it off" th machinectl poweroff ud
check "stopped" wait_for 30 unit_inactive "$ud"
check "ended cleanly" sh -c "! '$TESTHOST' run '$THDIR' -- journalctl -u '$ud' --no-pager | grep -q 'Failed with result'"
check "rm" tb rm ud
check "rm" tb rm ub

# --- autostart: berth@.service --------------------------------------------------------------------
th sh -c "sed 's|@MACHINED@|$BERTH_MACHINED|' '$BERTH_SRCDIR/systemd-units/berth@.service.in' > /etc/systemd/system/berth@.service && systemctl daemon-reload"
check_fails "systemd knows every key of berth@.service" sh -c \
        "'$TESTHOST' run '$THDIR' -- systemd-analyze verify /etc/systemd/system/berth@.service 2>&1 | grep -E 'Unknown (key|section)'"
check "create a machine in the default state root" tbd create auto --template busybox --set TasksMax=99 \
        --set CPUWeight=250 --set CPUQuota=200%
check "berth enable" tbd enable auto
check "it is wanted by machines.target" th test -L /etc/systemd/system/machines.target.wants/berth@auto.service
if th systemctl start berth@auto.service >"$TEST_TMP/start.log" 2>&1; then
        ok "systemctl start berth@auto starts it"
else
        not_ok "systemctl start berth@auto starts it"
        th journalctl -u berth@auto.service --no-pager | tail -n 15 | sed 's/^/# /'
fi
check_eq "berth sees it running" "running" "$(tbd list --json | jq -r '.[] | select(.name=="auto") | .state')"
check_eq "in the template's unit" "berth@auto.service" "$(tbd status --json auto | jq -r .unit)"
check_eq "with the limits of machine.conf" "99" "$(th systemctl show -P TasksMax berth@auto.service)"
check_eq "CPUWeight= and CPUQuota= too" "250 2s" "$(unit_props berth@auto.service CPUWeight CPUQuotaPerSecUSec)"
check_eq "no daemon-reload needed after the supervisor set them" "no" \
        "$(th systemctl show -P NeedDaemonReload berth@auto.service)"
check "berth set on the template's unit" tbd set auto TasksMax=98
check_eq "no daemon-reload needed after it" "no" "$(th systemctl show -P NeedDaemonReload berth@auto.service)"
check "berth stop stops the unit" tbd stop auto
check_eq "inactive" "inactive" "$(th systemctl is-active berth@auto.service)"
check "berth start in the default state root (a transient unit)" tbd start auto
check_eq "berth sees it running (runtime state in /run/berth)" "running" \
        "$(tbd list --json | jq -r '.[] | select(.name=="auto") | .state')"
check_eq "the transient unit has CPUWeight= and CPUQuota= from the start" "250 2s" \
        "$(unit_props "$(tbd status --json auto | jq -r .unit)" CPUWeight CPUQuotaPerSecUSec)"
check "and stops it" tbd stop auto
check "berth disable" tbd disable auto
check "no longer wanted" sh -c "! '$TESTHOST' run '$THDIR' -- test -e /etc/systemd/system/machines.target.wants/berth@auto.service"
check "rm" tbd rm auto

check "the test host stops and leaves nothing" "$TESTHOST" stop "$THDIR"
done_testing
