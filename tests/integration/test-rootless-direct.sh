#!/bin/bash
# A user's Debian machine in direct mode (README "Without root", issue 23):
# without the user's systemd the machine's init runs in the user's own
# cgroup, the root of its cgroup namespace, where systemd must make its
# init.scope.  Where that cgroup is root's (a session no systemd delegated
# a cgroup to, as on these hosts) `start` and `run --boot` fail before the
# init runs, saying why and what to do, and leave the machine stopped with
# nothing running, no instance, no console; `run` without --boot works.
# From a cgroup delegated to the user (made here as root and given to them)
# the same machine boots to `running`: the check is of the cgroup, not of
# the init's name alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

CG=
cleanup_rd() {
        rootless_cleanup
        # The guest's systemd leaves its (empty) init.scope behind.
        [ -n "$CG" ] && [ -d "$CG" ] && find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
        cleanup
}
trap cleanup_rd EXIT
# Two ranges: the machine, the debian run image.
rootless_user berth-rd 2 || { not_ok "useradd"; done_testing; }
rootless_add_ranges
before=$(system_listing)
procs_of_user() { ps -o pid=,stat=,args= -U "$UID_U" -u "$UID_U" | awk '$2 !~ /^Z/'; }

rootless_debian_seed
check "create d --template debian as the user (cache seeded: $SEEDED)" ub_online create d --template debian
rootless_debian_keep

V2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
mine=$(setpriv --reuid "$U" --regid "$U" --init-groups -- sh -c 'sed -n "s/^0:://p" /proc/self/cgroup')
own=$V2${mine%/}
if [ -z "$V2" ] || setpriv --reuid "$U" --regid "$U" --init-groups -- test -w "$own/cgroup.procs"; then
        ok "# SKIP the user's cgroup ($own) is theirs to write here: nothing to refuse"
else
        # --- start: refused before the init runs --------------------------------------
        check_status "start d fails (status 1)" 1 ub start d
        out=$(cat "$TEST_TMP/out")
        for want in "Machine d boots systemd, which needs a cgroup it may write" "your own cgroup, $own," \
                "loginctl enable-linger $U" "'berth set d Boot=no' or another Init="; do
                check_eq "it says: $want" yes "$(grep -qF -- "$want" <<<"$out" && echo yes)"
        done
        check_eq "and says nothing of a boot, nor that d runs" "" \
                "$(grep -E 'started \(init|init exited|runs without resource limits' <<<"$out")"
        check_eq "d is stopped" stopped "$(ub list --json | jq -r '.[] | select(.name == "d") | .state')"
        check_eq "its init never ran (no console log)" "no" \
                "$([ -e "$URUN/berth/d/console.log" ] && echo yes || echo no)"
        check_eq "nothing of the user runs" "" "$(procs_of_user)"

        # --- run --boot: the same, and no instance is left ----------------------------
        check_status "run --boot d fails (status 125)" 125 ub run --boot d -- true
        check_eq "it says why, and to run without --boot" yes \
                "$(grep -qF 'needs a cgroup it may write' "$TEST_TMP/out" &&
                   grep -qF 'run the command without --boot' "$TEST_TMP/out" && echo yes)"
        check_eq "no instance is left" "d" "$(ub list --json | jq -r '.[].name' | xargs)"
        check_eq "nor its state" "d" "$(ls -A "$STATE/machines" | xargs)"
        check_eq "nor a runtime dir of it" "" "$(ls -A "$URUN/berth" | grep -vxE 'locks|d' | xargs)"
        check_eq "nor a process" "" "$(procs_of_user)"
        check_status "run --boot debian (the template) fails too" 125 ub run --boot debian -- true
        check_eq "saying why" yes "$(grep -qF 'needs a cgroup it may write' "$TEST_TMP/out" && echo yes)"
fi

# --- run without --boot: berth's own init, no cgroup needed --------------------------
check_output_contains "run debian -- cat /etc/debian_version works" "^12\.[0-9]+$" \
        ub run debian -- cat /etc/debian_version
check_eq "no instance is left" "d" "$(ub list --json | jq -r '.[].name' | xargs)"

# --- from a cgroup delegated to the user, d boots --------------------------------------
if [ -n "$V2" ]; then
        CG=$V2/berth-test-rd$$
        mkdir "$CG" && chown "$U:" "$CG" "$CG/cgroup.procs" "$CG/cgroup.threads" "$CG/cgroup.subtree_control"
        # A shell moved into the cgroup runs berth there.
        ub_in_cg() { bash -c "echo \$\$ >$CG/cgroup.procs && $(declare -f ub); \
                $(declare -p U UHOME URUN BERTH BERTH_TEMPLATE_DIR BERTH_UNPACK BERTH_IMPORT BERTH_MACHINED); \
                ub \"\$@\"" ub "$@"; }
        check "start --wait d from a cgroup delegated to the user" ub_in_cg start --wait --timeout 60 d
        check_output_contains "its systemd runs (is-system-running)" "^(running|degraded)$" \
                ub exec d systemctl is-system-running
        check_eq "in the delegated cgroup's init.scope" "yes" \
                "$(l=$(ub list --json | jq -r '.[] | select(.name == "d") | .leader');
                   grep -qxF "$l" "$CG/init.scope/cgroup.procs" 2>/dev/null && echo yes)"
        check "stop d" ub stop d
        check_eq "d is stopped" stopped "$(ub list --json | jq -r '.[] | select(.name == "d") | .state')"
        check_eq "nothing of the user runs" "" "$(procs_of_user)"
fi

check "rm d" ub rm d
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"
done_testing
