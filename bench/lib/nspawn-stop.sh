#!/bin/bash
# Power off what nspawn-boot.sh started and wait until it is gone.   nspawn-stop.sh PIDFILE
set -u
pid=$(cat "$1" 2>/dev/null) || exit 0
leader=$(pgrep -P "$pid" -x systemd | head -1)
[ -n "$leader" ] && kill -RTMIN+4 "$leader"
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
exit 0
