# shellcheck shell=bash
# Sourced by the peers' boot scripts, after the guest's READY=1.
# wait_running LEADER_FN: check that the guest's systemd says running (and
# poll while it does not yet), asked through nsenter into its init (the same
# question berth-boot.sh asks through berth exec).  LEADER_FN prints the pid
# of that init (nothing while there is none yet) and fails when the peer has
# given up.  Returns 1 on failure and after 120 s.
wait_running() {
        local leader
        while [ $SECONDS -lt 120 ]; do  # bounded: a broken boot must not hang the bench
                leader=$("$1") || return 1
                if [ -n "$leader" ] && [ "$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)" = running ]; then
                        return 0
                fi
                sleep 0.01
        done
        return 1
}
