#!/bin/bash
# Boot machine NAME until its systemd says running, polled like nspawn's.   berth-boot.sh NAME [--ephemeral]
set -u
name=$1; shift
"$BERTH" start "$@" "$name" || exit 1
for _ in $(seq 3000); do
        [ "$("$BERTH" exec "$name" -- systemctl is-system-running 2>/dev/null)" = running ] && exit 0
        sleep 0.01
done
exit 1
