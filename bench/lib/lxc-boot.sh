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
leader() { lxc-info -P "$lxcpath" -n "$name" -pH 2>/dev/null; }
. "$(dirname "$0")/wait-running.sh"
wait_running leader
