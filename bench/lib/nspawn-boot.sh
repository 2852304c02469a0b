#!/bin/bash
# Boot ROOT with systemd-nspawn in the background until the guest's systemd
# says running (polled the same way as for berth); leaves it running and
# writes the nspawn pid to PIDFILE.   nspawn-boot.sh ROOT PIDFILE [-x]
set -u
root=$1 pidfile=$2; shift 2
setsid systemd-nspawn -q --register=no --keep-unit --console=passive "$@" -D "$root" -b >/dev/null 2>&1 &
echo $! > "$pidfile"
pid=$(cat "$pidfile")
leader() {
        kill -0 "$pid" 2>/dev/null || return 1   # nspawn gave up (e.g. the rootfs is in use)
        pgrep -P "$pid" -x systemd | head -1
}
. "$(dirname "$0")/wait-running.sh"
wait_running leader
