#!/bin/bash
# Inits that do not power off on a signal: sysvinit, and OpenRC on sysvinit.
# berth stop and berth reboot ask them for runlevel 0 and 6 through their
# /run/initctl FIFO, as telinit does, and a guest cannot turn that FIFO
# against the host.  Real Debian 12 root file systems, built once with
# mmdebstrap and cached as tarballs next to the template cache.
. "$(dirname "$0")/lib.sh"

if [ -n "${BERTH_TEST_CACHE:-}" ]; then
        cache=$(dirname "$BERTH_TEST_CACHE")/inits-cache
else
        cache=$TEST_TMP/inits-cache
fi
mkdir -p "$cache"

# The host's apt sources, which mmdebstrap takes as mirror arguments.
apt_sources() {
        local f
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] && grep -qE '^[[:space:]]*(deb |URIs:)' "$f" && echo "$f"
        done
}

# rootfs_tar NAME PACKAGES: a cached minbase bookworm tarball with PACKAGES.
rootfs_tar() {
        local tar=$cache/$1.tar
        if [ ! -f "$tar" ]; then
                if ! command -v mmdebstrap >/dev/null; then
                        online apt-get update -qq >/dev/null 2>&1
                        DEBIAN_FRONTEND=noninteractive online apt-get install -y -qq --no-install-recommends \
                                mmdebstrap >/dev/null 2>&1 || return 1
                fi
                mapfile -t sources < <(apt_sources)
                # The name ends in .tar: mmdebstrap picks its output format by it.
                local new=$cache/.$1.$$.tar
                online mmdebstrap --quiet --variant=minbase --include="$2" bookworm "$new" "${sources[@]}" \
                        >"$TEST_TMP/mmdebstrap-$1.log" 2>&1 || { sed 's/^/# /' "$TEST_TMP/mmdebstrap-$1.log"; rm -rf "$new"; return 1; }
                mv "$new" "$tar"
        fi
        echo "$tar"
}

# up NAME: the guest's init has entered runlevel 2 and made its FIFO.
up() { "$BERTH" exec "$1" -- sh -c 'test -p /run/initctl && runlevel | grep -q " 2$"'; }
leader() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .leader'; }
suplog() { cat "$BERTH_ROOT/run/$1/supervisor.log"; }

# timed_stop NAME: berth stop NAME; prints how long it took in ms.
timed_stop() {
        local t0=${EPOCHREALTIME/./}
        "$BERTH" stop "$1" --timeout 20 >/dev/null 2>&1 || return 1
        echo $(((${EPOCHREALTIME/./} - t0) / 1000))
}

# lifecycle NAME: reboot and stop a booted machine NAME.  The stop's time is
# printed, never asserted (a loaded host stretches it); that the init
# powered off by itself, without the SIGKILL after --timeout, is the check.
lifecycle() {
        local m=$1 old ms
        check "$m: boots to runlevel 2" wait_for 60 up "$m"
        check_output_contains "$m: status says it is asked through /run/initctl" \
                'poweroff runlevel 0 on /run/initctl, else SIGPWR, reboot runlevel 6 on /run/initctl' berth status "$m"
        old=$(leader "$m")
        check "$m: berth reboot" berth reboot "$m"
        check "$m: it comes back with a new init" wait_for 60 sh -c \
                "[ \"\$('$BERTH' list --json | jq -r '.[] | select(.name == \"$m\") | \"\(.state) \(.boots)\"')\" = 'running 2' ]"
        check "$m: ... whose pid is not the old one ($old)" test "$(leader "$m")" != "$old"
        check_output_contains "$m: the supervisor asked for runlevel 6" \
                'rebooting the machine with runlevel 6 through /run/initctl' suplog "$m"
        check "$m: the new boot reaches runlevel 2" wait_for 60 up "$m"

        ms=$(timed_stop "$m")
        check "$m: berth stop succeeds" test -n "$ms"
        echo "# $m stopped in ${ms:-?} ms"
        check "$m: it is stopped" is_stopped "$m"
        check_output_contains "$m: the supervisor asked for runlevel 0" \
                'powering off the machine with runlevel 0 through /run/initctl' suplog "$m"
        check_output_contains "$m: the init powered off by itself" 'init killed by SIGINT' suplog "$m"
        check "$m: no SIGKILL was needed" sh -c "test -s '$BERTH_ROOT/run/$m/supervisor.log' &&
                ! grep -E 'killing the machine|SIGKILL' '$BERTH_ROOT/run/$m/supervisor.log'"
}

# --- sysvinit -------------------------------------------------------------
if sv=$(rootfs_tar sysvinit sysvinit-core); then
        ok "a Debian 12 rootfs with sysvinit"
        check "create the sysvinit machine" berth create sv --from-tar "$sv" --set Network.Mode=none
        check "start it" berth start sv
        is_running sv && lifecycle sv

        # A guest pointing /run/initctl at a FIFO the host reads: the request
        # stays inside the guest (it finds nothing and falls back to SIGPWR).
        hostfifo=$TEST_TMP/hostfifo
        mkfifo "$hostfifo"
        exec 7<>"$hostfifo"
        # An explicit signal wins over the runlevel request.
        check "berth set RebootSignal=SIGINT" berth set sv Machine.RebootSignal=SIGINT
        check "start it again" berth start sv
        check_output_contains "status: reboot by SIGINT, poweroff still through /run/initctl" \
                'poweroff runlevel 0 on /run/initctl, else SIGPWR, reboot SIGINT$' berth status sv
        check "it boots to runlevel 2" wait_for 60 up sv
        check "the guest links /run/initctl to a host path" \
                berth exec sv -- ln -sfn "$hostfifo" /run/initctl
        check "berth stop still ends the machine" berth stop sv --timeout 3
        check "it is stopped" is_stopped sv
        check_output_contains "without a FIFO the supervisor fell back to SIGPWR" \
                'powering off the machine with SIGPWR' suplog sv
        check_fails "the host's FIFO got nothing" read -r -t 1 -N 1 -u 7 byte
        exec 7<&-
else
        not_ok "a Debian 12 rootfs with sysvinit (mmdebstrap failed)"
fi

# --- OpenRC on sysvinit ------------------------------------------------------
if orc=$(rootfs_tar openrc openrc,sysvinit-core); then
        ok "a Debian 12 rootfs with OpenRC"
        check "create the OpenRC machine" berth create orc --from-tar "$orc" --set Network.Mode=none
        check "start it" berth start orc
        # OpenRC's own shutdown (stopping its services) takes about 1.5 s here.
        is_running orc && lifecycle orc
        check_output_contains "OpenRC ran the shutdown" 'Saving dependency cache' berth logs orc
else
        not_ok "a Debian 12 rootfs with OpenRC (mmdebstrap failed)"
fi

done_testing
