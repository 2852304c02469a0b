#!/bin/bash
# Boot machine NAME until its systemd says running: berth start --wait returns
# at the guest's READY=1, then the state is checked (and, should it not be
# running yet, polled) the same way as the peers'.   berth-boot.sh NAME [--ephemeral]
set -u
name=$1; shift
"$BERTH" start --wait "$@" "$name" || exit 1
while [ $SECONDS -lt 120 ]; do  # bounded: a broken boot must not hang the bench
        [ "$("$BERTH" exec "$name" -- systemctl is-system-running 2>/dev/null)" = running ] && exit 0
        sleep 0.01
done
exit 1
