# shellcheck shell=bash
# Many booted machines at once, for one tool at a time: sourced by bench/run.
# Each tool boots throwaway instances of the same Debian rootfs, loopback
# only, with their writes on a tmpfs:
#   berth   berth run --boot --keep --name fN bench -- sleep infinity
#           (the berth run client stays, as the machine's lifeline)
#   nspawn  systemd-nspawn --volatile=overlay --private-network -b
#   lxc     lxc-copy -e -t (ephemeral overlay copy, upper layer on a tmpfs)
# Needs BERTH, work, lxcpath from bench/run.

# fleet_launch TOOL I: start instance I in the background.
fleet_launch() {
        local tool=$1 i=$2
        case $tool in
        berth)
                setsid "$BERTH" run --boot --keep --name "f$i" bench -- sleep infinity >/dev/null 2>&1 &
                echo $! >"$work/fleet/berth-$i.pid" ;;
        nspawn)
                setsid systemd-nspawn -q --register=no --keep-unit --console=passive --private-network \
                        --volatile=overlay -M "f$i" -D "$work/rootfs" -b >/dev/null 2>&1 &
                echo $! >"$work/fleet/nspawn-$i.pid" ;;
        lxc)
                lxc-copy -P "$lxcpath" -n bench -N "f$i" -e -t >/dev/null 2>&1 & ;;
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
                while read -r i pid; do [ -n "$pid" ] && leader[$i]=$pid; done < <(fleet_leaders "$tool" $pending)
                local still=
                for i in $pending; do
                        state=
                        [ -n "${leader[$i]:-}" ] &&
                                state=$(timeout 10 nsenter -t "${leader[$i]}" -a systemctl is-system-running 2>/dev/null)
                        case $state in
                        running) booted=$((booted + 1)) ;;
                        degraded) booted=$((booted + 1)); degraded=$((degraded + 1)) ;;
                        *) still="$still $i" ;;
                        esac
                done
                pending=$still
                [ -n "$pending" ] && sleep 0.5
        done
        echo "$booted $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') $degraded"
}

# fleet_end TOOL COUNT: power off instances 1..COUNT and wait until all are gone.
fleet_end() {
        local tool=$1 count=$2 i pid
        for i in $(seq 1 "$count"); do
                case $tool in
                # Ending a berth run ends its machine (the supervisor's lifeline).
                berth) kill -TERM "$(cat "$work/fleet/berth-$i.pid" 2>/dev/null)" 2>/dev/null ;;
                nspawn) bench/lib/nspawn-stop.sh "$work/fleet/nspawn-$i.pid" & ;;
                lxc) bench/lib/lxc-stop.sh "$lxcpath" "f$i" & ;;
                esac
        done
        wait
        if [ "$tool" = berth ]; then
                for i in $(seq 1 "$count"); do
                        pid=$(cat "$work/fleet/berth-$i.pid" 2>/dev/null) || continue
                        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
                        "$BERTH" rm --force "f$i" >/dev/null 2>&1
                done
        fi
        rm -f "$work"/fleet/"$tool"-*.pid
}

# fleet_memory TOOL COUNTS...: boot TOOL's instances up to each count in turn
# (20, then 30 more for 50, ...) and after each step print one line
# "TOOL COUNT BOOTED SECONDS_TO_BOOT_ALL_SO_FAR DEGRADED KB_PER_MACHINE":
# MemAvailable lost since before the first one, divided by COUNT.
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
                echo "$tool $count $booted $total $deg_total $(((before - after) / count))"
                [ "$booted" -lt "$count" ] && break  # the next step would only pile up
        done
        fleet_end "$tool" "$have"
}
