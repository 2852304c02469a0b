#!/bin/bash
# Boot ROOT with systemd-nspawn in the background until the guest's systemd
# says running (polled the same way as for berth); leaves it running and
# writes the nspawn pid to PIDFILE.   nspawn-boot.sh ROOT PIDFILE [-x]
set -u
root=$1 pidfile=$2; shift 2
setsid systemd-nspawn -q --register=no --keep-unit --console=passive "$@" -D "$root" -b >/dev/null 2>&1 &
echo $! > "$pidfile"
pid=$(cat "$pidfile")
while [ $SECONDS -lt 120 ]; do  # bounded: a broken boot must not hang the bench
        kill -0 "$pid" 2>/dev/null || exit 1   # nspawn gave up (e.g. the rootfs is in use)
        leader=$(pgrep -P "$pid" -x systemd | head -1)
        if [ -n "$leader" ] && [ "$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)" = running ]; then
                exit 0
        fi
        sleep 0.01
done
exit 1
