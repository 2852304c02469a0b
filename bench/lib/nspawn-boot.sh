#!/bin/bash
# Boot ROOT with systemd-nspawn in the background until the guest's systemd
# says running: nspawn --notify-ready=yes passes the guest's READY=1 on to
# ready-wait's socket (PIDFILE.notify), then the state is checked through
# nsenter into its init.  Leaves it running and writes the nspawn pid to
# PIDFILE.   nspawn-boot.sh ROOT PIDFILE [-x] [NSPAWN-OPTIONS]
set -u
root=$1 pidfile=$2; shift 2
"${READY_WAIT:?}" "$pidfile.notify" 120 \
        systemd-nspawn -q --register=no --keep-unit --console=passive --notify-ready=yes "$@" -D "$root" -b \
        > "$pidfile" || exit 1
pid=$(cat "$pidfile")
leader() {
        kill -0 "$pid" 2>/dev/null || return 1   # nspawn gave up (e.g. the rootfs is in use)
        pgrep -P "$pid" -x systemd | head -1
}
. "$(dirname "$0")/wait-running.sh"
wait_running leader
