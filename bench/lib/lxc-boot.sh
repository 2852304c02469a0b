#!/bin/bash
# Boot an LXC container until the guest's systemd says running: its config
# (bench/run) binds LXCPATH/notify into the guest and sets NOTIFY_SOCKET, so
# the guest's READY=1 reaches ready-wait; then the state is checked through
# nsenter into its init, like nspawn's.  Leaves it running.
#   lxc-boot.sh LXCPATH NAME            start container NAME
#   lxc-boot.sh LXCPATH NAME SOURCE     start NAME as an ephemeral copy of
#                                       SOURCE (overlay, upper layer on a
#                                       tmpfs; destroyed when it stops)
set -u
lxcpath=$1 name=$2 source=${3:-}
if [ -n "$source" ]; then
        start=(lxc-copy -P "$lxcpath" -n "$source" -N "$name" -e -t)
else
        start=(lxc-start -P "$lxcpath" -n "$name")
fi
"${READY_WAIT:?}" "$lxcpath/notify/ready" 120 "${start[@]}" >/dev/null || exit 1
leader() { lxc-info -P "$lxcpath" -n "$name" -pH 2>/dev/null; }
. "$(dirname "$0")/wait-running.sh"
wait_running leader
