#!/bin/bash
# A Debian machine with systemd as PID 1, booted in direct mode.
. "$(dirname "$0")/lib.sh"

check "create debian machine from the template" online "$BERTH" create deb --template debian
check "start" berth start deb
# systemctl needs systemd's private socket, which appears a moment after init
# starts (berth start returns when init has been exec'd, not when it is up).
is_running_state() {
        local m=${1:-deb}
        wait_for 60 "$BERTH" exec "$m" -- test -S /run/systemd/private
        timeout 120 "$BERTH" exec "$m" -- systemctl is-system-running --wait
}
check_eq "systemd reaches 'running' (not degraded)" "running" "$(is_running_state 2>&1)"
check_eq "no failed units" "" "$(berth exec deb -- systemctl --failed --no-legend --plain)"
check_eq "hostname" "deb" "$(berth exec deb -- hostname)"
check_eq "systemd sees a container" "container-other" "$(berth exec deb -- systemd-detect-virt -c)"
check_status "exec exit status 0" 0 berth exec deb -- true
check_status "exec exit status 42" 42 berth exec deb -- sh -c 'exit 42'
check_eq "machine-id was generated at boot" "32" "$(berth exec deb -- sh -c 'tr -d "\n" < /etc/machine-id | wc -c')"
check "the journal runs" berth exec deb -- journalctl -b -n 1 --no-pager

# --- network: a minbase+systemd guest with no network manager is online ----
addr=$(berth list --json | jq -r '.[] | select(.name == "deb") | .addresses[0] // empty')
check_output_contains "the Debian guest has its address (no network manager runs)" "(^| )$addr( |$)" berth exec deb -- hostname -I
# bash's /dev/tcp: dnsmasq answers DNS over TCP on the gateway.
check "the Debian guest reaches the host over TCP" berth exec deb -- timeout 5 bash -c '</dev/tcp/10.77.0.1/53'
check "the host reaches the Debian guest over IPv6" busybox ping6 -c 1 -W 2 \
        "$(berth list --json | jq -r '.[] | select(.name == "deb") | .addresses[1]')"
# The guest's own systemd-networkd asking for DHCP (Debian ships
# 80-container-host0.network for host0 in containers) gets the same address.
check "start the guest's systemd-networkd" berth exec deb -- systemctl start systemd-networkd
check "networkd's DHCP client gets a lease" wait_for 30 sh -c \
        "'$BERTH' exec deb -- networkctl status host0 --no-pager 2>/dev/null | grep -q '(DHCP4'"
check_output_contains "and it is the address berth gave" "$addr \(DHCP4" berth exec deb -- networkctl status host0 --no-pager
berth exec deb -- systemctl stop systemd-networkd systemd-networkd.socket >/dev/null 2>&1

if command -v tmux >/dev/null; then
        export TMUX_TMPDIR=$TEST_TMP
        tmux new-session -d -s deb -x 100 -y 30 "'$BERTH' console deb; echo console-exit=\$?; sleep 600"
        pane() { tmux capture-pane -p -t deb -S -300; }
        check "the console shows the Debian boot messages" wait_for 10 sh -c "tmux capture-pane -p -t deb -S -300 | grep -q 'Reached target'"
        tmux send-keys -t deb Enter
        check "the console's getty answers with a login prompt" wait_for 10 sh -c "tmux capture-pane -p -t deb | grep -q 'deb login:'"
        tmux send-keys -t deb C-] C-] C-]
        check "the escape detaches" wait_for 5 sh -c "tmux capture-pane -p -t deb | grep -q console-exit=0"
        check "and the machine keeps running" is_running deb

        # berth shell in a Debian guest, typed into as a person would: bash as a
        # login shell, the terminal's size, Ctrl-C, the exit status.
        tmux new-session -d -s dsh -x 90 -y 25 "'$BERTH' shell deb; echo shell-exit=\$?; sleep 600"
        check "berth shell: a bash prompt of root appears" wait_for 15 sh -c "tmux capture-pane -p -t dsh | grep -qE 'root@deb:~# ?\$'"
        tmux send-keys -t dsh 'echo "$0 $(tty) $(stty size)"' Enter
        check "a login bash on the machine's pty, 25x90" wait_for 5 sh -c "tmux capture-pane -p -t dsh | grep -qE '^-bash /dev/pts/[0-9]+ 25 90'"
        tmux resize-window -t dsh -x 120 -y 35
        sleep 0.3
        tmux send-keys -t dsh 'clear; stty size' Enter
        check "stty size follows a resize" wait_for 5 sh -c "tmux capture-pane -p -t dsh | grep -qx '35 120'"
        tmux send-keys -t dsh 'sleep 100' Enter
        sleep 0.5
        tmux send-keys -t dsh C-c
        tmux send-keys -t dsh 'echo after-sleep=$?' Enter
        check "Ctrl-C stops a sleep" wait_for 5 sh -c "tmux capture-pane -p -t dsh | grep -q after-sleep=130"
        tmux send-keys -t dsh 'exit 7' Enter
        check "exit 7 comes back as 7" wait_for 10 sh -c "tmux capture-pane -p -t dsh | grep -q shell-exit=7"
        tmux kill-server
fi
check_eq "berth shell gives a login shell of root" "/root" "$(berth shell deb -- sh -c 'echo $HOME')"
check_eq "exec -t allocates a pty in the machine" "/dev/pts/0" "$(berth exec -t deb -- tty | tr -d '\r')"

check "reboot" berth reboot deb
check "comes back (boot 2)" wait_for 60 sh -c "[ \"\$('$BERTH' list --json | jq '.[] | select(.name==\"deb\") | .boots')\" = 2 ]"
check_eq "running again after reboot" "running" "$(is_running_state 2>&1)"

check_eq "poweroff from outside is clean (no forced kill, no message)" "" "$(berth stop --timeout 60 deb 2>&1)"
check "stopped" is_stopped deb
check_output_contains "systemd powered off (init exited or was ended by reboot(POWER_OFF))" \
        "init (exited with status 0|killed by SIGINT)" cat "$BERTH_ROOT/run/deb/supervisor.log"
check "no cgroups left" no_cgroups_left deb

cache=
for d in "$BERTH_ROOT"/images/templates/debian-*; do [ -d "$d" ] && { cache=$d; break; }; done
inode=$(stat -c %i "$cache" 2>/dev/null)
check "the template cache exists" test -n "$inode"
check "an ephemeral boot waits until systemd is up" berth start --ephemeral --wait deb
check_eq "running, on an overlay" "running overlay" "$(berth exec deb -- sh -c 'echo $(systemctl is-system-running) $(findmnt -no FSTYPE /)')"
check "install something" berth exec deb -- sh -c 'echo job > /usr/local/bin/job-marker'
check "stop" berth stop deb
check "the base is unchanged" test ! -e "$BERTH_ROOT/machines/deb/rootfs/usr/local/bin/job-marker"

check_status "berth run of a Debian machine passes the exit status" 7 berth run deb -- sh -c 'exit 7'
check_eq "berth run --boot: systemd is up when the command runs" "running" \
        "$(berth run --boot deb -- systemctl is-system-running --wait)"
check "no run machine is left" sh -c "[ \"\$('$BERTH' list --json | jq 'length')\" = 1 ]"

check "second create" online "$BERTH" create deb2 --template debian
check_eq "it used the cache (no new bootstrap replaced it)" "$inode" "$(stat -c %i "$cache" 2>/dev/null)"
check "start the copy" berth start deb2
check_eq "the copy reaches running" "running" "$(is_running_state deb2 2>&1)"
check "poweroff from inside" berth exec deb2 -- systemctl poweroff
check "machine stops by itself" wait_for 60 is_stopped deb2
check "rm" berth rm deb
check "rm" berth rm deb2
done_testing
