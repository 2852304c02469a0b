#!/bin/bash
# Power off an LXC container (lxc-stop: SIGPWR to its init, which systemd
# takes as a poweroff) and wait until it is gone; an ephemeral one also
# until LXC has destroyed it.   lxc-stop.sh LXCPATH NAME
set -u
lxcpath=$1 name=$2
[ -e "$lxcpath/$name/config" ] || exit 0
ephemeral=$(grep -c '^lxc.ephemeral = 1' "$lxcpath/$name/config")
lxc-stop -P "$lxcpath" -n "$name" >/dev/null 2>&1
if [ "$ephemeral" -gt 0 ]; then
        for _ in $(seq 3000); do [ -e "$lxcpath/$name" ] || break; sleep 0.01; done
fi
exit 0
