# shellcheck shell=bash
# Shared by the integration tests: a TAP writer, a private state root, and a
# cleanup that stops every machine the test started.  Each test script sources
# this, calls the checks, and ends with done_testing.
#
# Environment: BERTH (the berth binary), BERTH_MACHINED, BERTH_TEMPLATE_DIR
# (set by meson), BERTH_TEST_CACHE (a template cache shared between tests).

set -u
: "${BERTH:?set BERTH to the berth binary}"

# Machines get bridge networking by default (a bridge, NAT rules, dnsmasq):
# every test runs in a network namespace of its own, so none of that ever
# touches the host's network, and nothing a test starts can reach beyond it.
# fd 9 keeps the host's namespace at hand for the one thing that needs it:
# fetching packages (online below).
if [ -z "${BERTH_TEST_NETNS:-}" ]; then
        export BERTH_TEST_NETNS=1
        exec 9</proc/self/ns/net
        exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up
# online COMMAND...: run COMMAND in the host's network namespace, where the
# package mirror is reachable (debootstrap for the Debian template).
online() { nsenter --net=/proc/$$/fd/9 -- "$@"; }

export BERTH_ROOT
BERTH_ROOT=$(mktemp -d /var/tmp/berth-test.XXXXXX)
# These tests are about direct mode even on a host whose init is systemd;
# test-unit-mode.sh sets BERTH_MODE=unit inside its own systemd.
export BERTH_MODE=direct
TEST_TMP=$(mktemp -d /var/tmp/berth-test-tmp.XXXXXX)
_n=0
_failed=0

# A shared template cache makes the second Debian create a copy, not a bootstrap.
if [ -n "${BERTH_TEST_CACHE:-}" ]; then
        mkdir -p "$BERTH_TEST_CACHE" "$BERTH_ROOT/images"
        ln -s "$BERTH_TEST_CACHE" "$BERTH_ROOT/images/templates"
fi

berth() { "$BERTH" "$@"; }

ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
        local desc=$1; shift
        if "$@" >"$TEST_TMP/out" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$TEST_TMP/out"; fi
}
# check_fails DESCRIPTION COMMAND...: passes when COMMAND fails.
check_fails() {
        local desc=$1; shift
        if "$@" >"$TEST_TMP/out" 2>&1; then not_ok "$desc (unexpectedly succeeded)"; sed 's/^/# /' "$TEST_TMP/out"; else ok "$desc"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: '$2'"; echo "#   got:      '$3'"; fi
}
# check_status DESCRIPTION EXPECTED_STATUS COMMAND...
check_status() {
        local desc=$1 want=$2; shift 2
        "$@" >"$TEST_TMP/out" 2>&1
        local got=$?
        if [ "$got" = "$want" ]; then ok "$desc"; else not_ok "$desc (status $got, wanted $want)"; sed 's/^/# /' "$TEST_TMP/out"; fi
}
# check_output_contains DESCRIPTION PATTERN COMMAND...: COMMAND's stdout+stderr matches PATTERN (grep -E).
check_output_contains() {
        local desc=$1 pat=$2; shift 2
        "$@" >"$TEST_TMP/out" 2>&1
        if grep -qE -- "$pat" "$TEST_TMP/out"; then ok "$desc"; else not_ok "$desc"; echo "#   wanted /$pat/ in:"; sed 's/^/#   /' "$TEST_TMP/out"; fi
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds (not a timing
# assertion: the bound only keeps a broken run from hanging).
wait_for() {
        local limit=$1; shift
        local end=$((SECONDS + limit))
        while [ $SECONDS -lt $end ]; do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

machine_state() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }
is_running() { [ "$(machine_state "$1")" = running ]; }
is_stopped() { [ "$(machine_state "$1")" = stopped ]; }
boots() { berth list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .boots // 0'; }

# The cgroup name of machine NAME in this state root: NAME@HASH, the FNV-1a
# hash of the root's path (store_cgroup_name()), so that a same-named
# machine of another root (a test running beside this one) never counts.
cgroup_name() {
        local root=$BERTH_ROOT h=2166136261 i c
        for ((i = 0; i < ${#root}; i++)); do
                printf -v c '%d' "'${root:i:1}"
                h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
        done
        printf '%s@%08x\n' "$1" "$h"
}

# No cgroup of machine NAME is left in any hierarchy.
no_cgroups_left() {
        local d cg
        cg=$(cgroup_name "$1")
        for d in /sys/fs/cgroup/*/berth/"$cg" /sys/fs/cgroup/berth/"$cg"; do
                [ -e "$d" ] && return 1
        done
        return 0
}

# No supervisor process for this state root is alive.
no_supervisor_left() {
        ! pgrep -f "berth-machined --root $BERTH_ROOT .* -- $1\$" >/dev/null
}

cleanup() {
        local m
        for m in $(berth list --json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do
                berth kill "$m" >/dev/null 2>&1
        done
        # A supervisor can only be left by a failed test: end it hard.
        pkill -9 -f "berth-machined --root $BERTH_ROOT " 2>/dev/null
        # What killed supervisors left in this namespace (dnsmasq would keep
        # it alive after the test): the same cleanup a user runs.
        berth gc >/dev/null 2>&1
        rm -rf --one-file-system "$BERTH_ROOT" "$TEST_TMP"
}
trap cleanup EXIT

done_testing() {
        echo "1..$_n"
        [ "$_failed" -eq 0 ]
        exit $?
}

# --- unit mode: a test host (tests/testhost) -------------------------------------
TESTHOST=${BERTH_SRCDIR:-}/tests/testhost/testhost
THDIR=$TEST_TMP/testhost

# start_testhost DESCRIPTION [START-OPTION...]: boot a test host with the state
# root, the source and build trees and the template cache bound in at the
# same paths (plus START-OPTIONs: more --bind, --cgroup, --cgroup-controllers),
# as one TAP check; it is stopped at exit.  A test host that does not boot
# ends the test.  What start said (why a controller stays on cgroup v1, say)
# is in $TEST_TMP/th.log and shown as comments.
start_testhost() {
        local desc=$1 build_dir binds
        shift
        : "${BERTH_SRCDIR:?}"
        binds=(--bind "$BERTH_ROOT" --bind "$BERTH_SRCDIR")
        build_dir=$(cd "$(dirname "$BERTH")/.." && pwd)
        case "$build_dir" in "$BERTH_SRCDIR"/*) ;; *) binds+=(--bind "$build_dir") ;; esac
        [ -n "${BERTH_TEST_CACHE:-}" ] && binds+=(--bind "$BERTH_TEST_CACHE")
        if ! "$TESTHOST" start "$THDIR" "${binds[@]}" "$@" >"$TEST_TMP/th.log" 2>&1; then
                not_ok "$desc"; sed 's/^/# /' "$TEST_TMP/th.log"; done_testing
        fi
        ok "$desc"
        sed 's/^/# /' "$TEST_TMP/th.log"
        trap stop_testhost EXIT
}
# th_controller C: controller C is on cgroup v2 in the test host (its root
# cgroup has it to give); else says why, from start's notes.
th_controller() {
        local why
        th grep -qw "$1" /sys/fs/cgroup/cgroup.controllers && return 0
        why=$(grep -m1 "note: $1 " "$TEST_TMP/th.log" | sed 's/^testhost: note: //')
        echo "${why:-$1 is not on cgroup v2 in the test host}"
        return 1
}
stop_testhost() { "$TESTHOST" stop "$THDIR" >/dev/null 2>&1; cleanup; }

# th CMD...: CMD in the test host.  tb ARGS...: berth in unit mode there.
th() { "$TESTHOST" run "$THDIR" -- "$@"; }
tb() { th env BERTH_ROOT="$BERTH_ROOT" BERTH_MACHINED="$BERTH_MACHINED" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR" \
        BERTH_MODE=unit "$BERTH" "$@"; }
unit_of() { tb status --json "$1" | jq -r .unit; }
# unit_inactive UNIT: UNIT is not active (any more) in the test host.
unit_inactive() { [ "$(th systemctl is-active "$1")" != active ]; }
# poweroff_inside NAME: `systemctl -M NAME poweroff --no-block` in the test
# host.  Its StartUnit reply can be lost when the guest's manager goes down
# first ("Connection reset by peer", "Transport endpoint is not connected"):
# that still is a poweroff on its way; any other failure is not.
poweroff_inside() {
        local out
        out=$(th systemctl -M "$1" poweroff --no-block 2>&1) && return 0
        echo "$out"
        grep -qE 'Connection reset by peer|Transport endpoint is not connected' <<<"$out"
}
# booted_times NAME N: berth in the test host counts N boots of machine NAME.
booted_times() { [ "$(tb list --json | jq --arg n "$1" '.[] | select(.name == $n) | .boots')" = "$2" ]; }
