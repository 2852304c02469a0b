#!/bin/bash
# Boot an LXC container until the guest's systemd says running (polled the
# same way as nspawn's: nsenter into its init); leaves it running.
#   lxc-boot.sh LXCPATH NAME            start container NAME
#   lxc-boot.sh LXCPATH NAME SOURCE     start NAME as an ephemeral copy of
#                                       SOURCE (overlay, upper layer on a
#                                       tmpfs; destroyed when it stops)
set -u
lxcpath=$1 name=$2 source=${3:-}
if [ -n "$source" ]; then
        lxc-copy -P "$lxcpath" -n "$source" -N "$name" -e -t >/dev/null 2>&1 || exit 1
else
        lxc-start -P "$lxcpath" -n "$name" >/dev/null 2>&1 || exit 1
fi
while [ $SECONDS -lt 120 ]; do  # bounded: a broken boot must not hang the bench
        leader=$(lxc-info -P "$lxcpath" -n "$name" -pH 2>/dev/null) || exit 1
        if [ -n "$leader" ] && [ "$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)" = running ]; then
                exit 0
        fi
        sleep 0.01
done
exit 1
