#!/bin/bash
# Boot machine NAME until its systemd says running, polled like nspawn's.   berth-boot.sh NAME [--ephemeral]
set -u
name=$1; shift
"$BERTH" start "$@" "$name" || exit 1
while [ $SECONDS -lt 120 ]; do  # bounded: a broken boot must not hang the bench
        [ "$("$BERTH" exec "$name" -- systemctl is-system-running 2>/dev/null)" = running ] && exit 0
        sleep 0.01
done
exit 1
