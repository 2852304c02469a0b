#!/bin/bash
# Inside the test host: boot ROOT with systemd-nspawn as the transient unit
# nspawn-NAME.service, registered with systemd-machined as NAME (machinectl's
# way, without its -U and --network-veth), until the guest's systemd says
# running: the unit is Type=notify and nspawn --notify-ready=yes, so
# systemd-run returns at the guest's READY=1; then the state is checked
# through machined's Leader and nsenter.  Leaves it running.
#   nspawn-unit-boot.sh ROOT NAME
set -u
root=$1 name=$2
systemd-run -q --collect --unit="nspawn-$name" -p Type=notify -p Delegate=yes -p KillMode=mixed \
        systemd-nspawn -q --keep-unit --console=passive --notify-ready=yes --private-network -D "$root" -M "$name" -b ||
        exit 1
leader() {
        systemctl -q is-active "nspawn-$name" || return 1
        machinectl show --property=Leader --value "$name" 2>/dev/null || true
}
. "$(dirname "$0")/wait-running.sh"
wait_running leader
