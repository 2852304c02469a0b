#!/bin/bash
# Inside the test host: power off what nspawn-unit-boot.sh started (stopping
# the unit makes nspawn halt the guest) and wait until it is gone.
#   nspawn-unit-stop.sh NAME
set -u
systemctl -q is-active "nspawn-$1" 2>/dev/null || exit 0
systemctl stop "nspawn-$1"
