#!/bin/bash
# Inside the test host: boot ROOT with systemd-nspawn as the transient unit
# nspawn-NAME.service, registered with systemd-machined as NAME (machinectl's
# way, without its -U and --network-veth), until the guest's systemd says
# running (polled through machined's Leader and nsenter); leaves it running.
#   nspawn-unit-boot.sh ROOT NAME
set -u
root=$1 name=$2
systemd-run -q --collect --unit="nspawn-$name" -p Delegate=yes -p KillMode=mixed \
        systemd-nspawn -q --keep-unit --console=passive --private-network -D "$root" -M "$name" -b || exit 1
leader() {
        systemctl -q is-active "nspawn-$name" || return 1
        machinectl show --property=Leader --value "$name" 2>/dev/null || true
}
. "$(dirname "$0")/wait-running.sh"
wait_running leader
