# shellcheck shell=bash
# Many booted machines at once, for one tool at a time: sourced by bench/run.
# Each tool boots throwaway instances of the same Debian rootfs, with their
# writes on a tmpfs (berth's on the network its template "bench" has: none
# in bench/run, the default one in bench/fleet; the peers' loopback-only):
#   berth   berth run --boot --keep --name fN bench -- sleep infinity
#           (the berth run client stays, as the machine's lifeline)
#   nspawn  systemd-nspawn --volatile=overlay --private-network -b
#   lxc     lxc-copy -e -t (ephemeral overlay copy, upper layer on a tmpfs)
# Needs BERTH, work, lxcpath from bench/run.
# shellcheck disable=SC2154

# fleet_launch TOOL I: start instance I in the background (what the tool
# prints goes to $work/fleet/TOOL-I.log: the error of one that fails to boot).
fleet_launch() {
        local tool=$1 i=$2
        case $tool in
        berth)
                setsid "$BERTH" run --boot --keep --name "f$i" bench -- sleep infinity >"$work/fleet/berth-$i.log" 2>&1 &
                echo $! >"$work/fleet/berth-$i.pid" ;;
        nspawn)
                setsid systemd-nspawn -q --register=no --keep-unit --console=passive --private-network \
                        --volatile=overlay -M "f$i" -D "$work/rootfs" -b >"$work/fleet/nspawn-$i.log" 2>&1 &
                echo $! >"$work/fleet/nspawn-$i.pid" ;;
        lxc)
                lxc-copy -P "$lxcpath" -n bench -N "f$i" -e -t >"$work/fleet/lxc-$i.log" 2>&1 & ;;
        esac
}

# fleet_leaders TOOL I...: "I PID" for each instance whose init is up.
fleet_leaders() {
        local tool=$1 i; shift
        case $tool in
        berth)
                "$BERTH" list --json 2>/dev/null | jq -r '.[] | select((.name | startswith("f")) and .leader > 0) |
                        "\(.name[1:]) \(.leader)"' ;;
        nspawn) for i in "$@"; do echo "$i $(pgrep -P "$(cat "$work/fleet/nspawn-$i.pid")" -x systemd | head -1)"; done ;;
        lxc) for i in "$@"; do echo "$i $(lxc-info -P "$lxcpath" -n "f$i" -pH 2>/dev/null)"; done ;;
        esac
}

# fleet_grow TOOL FROM TO LIMIT: launch instances FROM..TO, then wait (at
# most LIMIT seconds) until every one's systemd says running or degraded.
# Prints "BOOTED SECONDS DEGRADED": instances FROM..TO up, time taken, and
# how many of them said degraded.
fleet_grow() {
        local tool=$1 from=$2 to=$3 limit=$4 i pid state degraded=0 booted=0
        local start=$EPOCHREALTIME
        for i in $(seq "$from" "$to"); do fleet_launch "$tool" "$i"; done
        local pending; pending=$(seq "$from" "$to")
        while [ -n "$pending" ] && [ "${EPOCHREALTIME%.*}" -lt $((${start%.*} + limit)) ]; do
                local -A leader=()
                # shellcheck disable=SC2086
                while read -r i pid; do if [ -n "$pid" ]; then leader[$i]=$pid; fi; done < <(fleet_leaders "$tool" $pending)
                local still=
                for i in $pending; do
                        state=
                        if [ -n "${leader[$i]:-}" ]; then
                                # Not yet running is a status of 1: errexit must not end us.
                                state=$(timeout 10 nsenter -t "${leader[$i]}" -a systemctl is-system-running 2>/dev/null) || true
                        fi
                        case $state in
                        running) booted=$((booted + 1)) ;;
                        degraded) booted=$((booted + 1)); degraded=$((degraded + 1)) ;;
                        *) still="$still $i" ;;
                        esac
                done
                pending=$still
                if [ -n "$pending" ]; then sleep 0.5; fi
        done
        echo "$booted $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') $degraded"
}

# fleet_end TOOL COUNT: power off instances 1..COUNT and wait until all are gone.
fleet_end() {
        local tool=$1 count=$2 i pid stoppers=()
        for i in $(seq 1 "$count"); do
                case $tool in
                # Ending a berth run ends its machine (the supervisor's lifeline).
                # (A run that gave up on a machine that did not boot has ended
                # already: its machine was kept, and is removed below.)
                berth) kill -TERM "$(cat "$work/fleet/berth-$i.pid" 2>/dev/null)" 2>/dev/null || true ;;
                nspawn) bench/lib/nspawn-stop.sh "$work/fleet/nspawn-$i.pid" & stoppers+=($!) ;;
                lxc) bench/lib/lxc-stop.sh "$lxcpath" "f$i" & stoppers+=($!) ;;
                esac
        done
        # Only these: the caller may have other children that keep running
        # (bench/fleet's busybox nspawn machines).
        if [ ${#stoppers[@]} -gt 0 ]; then wait "${stoppers[@]}"; fi
        if [ "$tool" = berth ]; then
                for i in $(seq 1 "$count"); do
                        pid=$(cat "$work/fleet/berth-$i.pid" 2>/dev/null) || continue
                        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
                        "$BERTH" rm --force "f$i" >/dev/null 2>&1 || true
                done
        fi
        rm -f "$work"/fleet/"$tool"-*.pid
}

# fleet_pss TOOL COUNT: kB of proportional set size of all that makes up
# TOOL's instances 1..COUNT: every process in their guests' PID namespaces
# plus what runs for each on the host (berth: supervisor and run client;
# nspawn: systemd-nspawn; LXC: its monitor).  Unlike MemAvailable, other
# work on the machine does not move it; tmpfs and kernel memory are not in it.
fleet_pss() {
        local tool=$1 count=$2 i pid p ns
        local -A guest_ns=()
        local pids=()
        # shellcheck disable=SC2046
        while read -r i pid; do
                [ -n "$pid" ] || continue
                ns=$(readlink "/proc/$pid/ns/pid") || continue
                guest_ns[$ns]=1
                case $tool in
                berth) pids+=("$(cat "$work/fleet/berth-$i.pid")") ;;
                nspawn) pids+=("$(cat "$work/fleet/nspawn-$i.pid")") ;;
                lxc) pids+=("$(ps -o ppid= -p "$pid" | tr -d ' ')") ;;
                esac
        done < <(fleet_leaders "$tool" $(seq 1 "$count"))
        if [ "$tool" = berth ]; then
                local supervisors
                mapfile -t supervisors < <("$BERTH" list --json |
                        jq '.[] | select((.name | startswith("f")) and .supervisor > 0) | .supervisor')
                pids+=("${supervisors[@]}")
        fi
        for p in /proc/[0-9]*; do
                ns=$(readlink "$p/ns/pid" 2>/dev/null) || continue
                if [ -n "${guest_ns[$ns]:-}" ]; then pids+=("${p#/proc/}"); fi
        done
        for pid in "${pids[@]}"; do cat "/proc/$pid/smaps_rollup" 2>/dev/null || true; done |
                awk '/^Pss:/ {kb += $2} END {print kb + 0}'
}

# fleet_memory TOOL COUNTS...: boot TOOL's instances up to each count in turn
# (20, then 30 more for 50, ...) and after each step print one line
# "TOOL COUNT BOOTED SECONDS_TO_BOOT_ALL_SO_FAR DEGRADED KB_PER_MACHINE
# PSS_KB_PER_MACHINE": MemAvailable lost since before the first one, and
# fleet_pss, each divided by COUNT.
fleet_memory() {
        local tool=$1; shift
        local have=0 total=0 count booted=0 secs degraded deg_total=0 step_booted
        mkdir -p "$work/fleet"
        sync; echo 3 >/proc/sys/vm/drop_caches
        local before; before=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)
        for count in "$@"; do
                read -r step_booted secs degraded < <(fleet_grow "$tool" $((have + 1)) "$count" 900)
                booted=$((booted + step_booted)); deg_total=$((deg_total + degraded))
                total=$(awk -v a="$total" -v b="$secs" 'BEGIN {printf "%.1f", a + b}')
                have=$count
                sleep 10  # let the guests settle after their boot
                local after; after=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)
                local pss; pss=$(fleet_pss "$tool" "$count")
                echo "$tool $count $booted $total $deg_total $(((before - after) / count)) $((pss / count))"
                if [ "$booted" -lt "$count" ]; then break; fi  # the next step would only pile up
        done
        fleet_end "$tool" "$have"
}
