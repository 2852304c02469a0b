#!/bin/bash
# berth run: throwaway machines for one job.
. "$(dirname "$0")/lib.sh"

only_base_left() { [ "$(ls "$BERTH_ROOT/machines")" = "base" ]; }

check "create a base machine" berth create base --template busybox
check_eq "run passes stdout and exit 0" "hi" "$(berth run base -- echo hi)"
check_status "exit status 3 comes back" 3 berth run base -- sh -c 'exit 3'
check_status "death by a signal comes back as 128+N" 137 berth run base -- sh -c 'kill -9 $$'
check_eq "stdin passes" "in" "$(echo in | berth run base -- cat)"
check "nothing is left after runs" only_base_left
check "a job that changes /etc and installs files" \
        berth run base -- sh -c 'echo x > /etc/job && mkdir -p /opt/app && cp /bin/busybox /opt/app/ && rm /etc/inittab'
check "leaves the base unchanged" sh -c "[ ! -e '$BERTH_ROOT/machines/base/rootfs/etc/job' ] && [ ! -e '$BERTH_ROOT/machines/base/rootfs/opt/app' ] && [ -e '$BERTH_ROOT/machines/base/rootfs/etc/inittab' ]"
check_eq "PID 1 is the stub init" "berth-stub" "$(berth run base -- cat /proc/1/comm)"
check_eq "the command runs in a user namespace" "0" "$(berth run base -- id -u)"
check_eq "--boot boots the machine's init first" "init" "$(berth run --boot base -- cat /proc/1/comm)"
check_eq "--name names it" "job1" "$(berth run --name job1 base -- hostname)"

# 20 at once from one base.
for i in $(seq 20); do
        ( "$BERTH" run base -- sh -c "echo run-$i" > "$TEST_TMP/par.$i" 2>&1; echo $? > "$TEST_TMP/par.$i.rc" ) &
done
wait
ok_count=0
for i in $(seq 20); do
        [ "$(cat "$TEST_TMP/par.$i.rc")" = 0 ] && [ "$(cat "$TEST_TMP/par.$i")" = "run-$i" ] && ok_count=$((ok_count + 1))
done
check_eq "20 concurrent runs all succeed" 20 "$ok_count"
check "and leave nothing behind" only_base_left
check "no cgroup of a run is left" sh -c "! ls -d /sys/fs/cgroup/*/berth/base-run-* 2>/dev/null | grep -q ."

# While a run is going, its base can neither change nor go.
"$BERTH" run --name long base -- sleep 30 &
rpid=$!
wait_for 10 sh -c "[ \"\$('$BERTH' list --json | jq -r '.[] | select(.name==\"long\") | .state')\" = running ]"
check_output_contains "rm of the base is refused" "base of running 'berth run' machines" berth rm --force base
check_output_contains "a persistent start of the base is refused" "base of running 'berth run'" berth start base
check "an ephemeral start of the base is fine" sh -c "'$BERTH' start --ephemeral base && '$BERTH' stop base"
# berth killed during a run: the machine powers itself off; the next run cleans up.
kill -9 $rpid
wait $rpid 2>/dev/null
check "the run machine stops when berth is killed" wait_for 20 sh -c "[ \"\$('$BERTH' list --json | jq -r '.[] | select(.name==\"long\") | .state')\" = stopped ]"
check "the next run succeeds" berth run base -- true
check "and removed the leftover" only_base_left

check "--keep keeps the machine" berth run --keep --name kept base -- touch /kept
check_eq "it is listed, stopped" "stopped" "$(berth list --json | jq -r '.[] | select(.name=="kept") | .state')"
check "berth rm removes it" berth rm kept
# A running instance is an ordinary machine: kill and stop do not wait for the run.
"$BERTH" run --keep --name stoppable base -- sleep 60 >/dev/null 2>&1 &
rpid=$!
wait_for 10 sh -c "[ \"\$('$BERTH' list --json | jq -r '.[] | select(.name==\"stoppable\") | .state')\" = running ]"
check "berth kill of a running instance returns at once" timeout 10 "$BERTH" kill stoppable
check "and the run ends" timeout 20 sh -c "while kill -0 $rpid 2>/dev/null; do sleep 0.1; done"
wait $rpid 2>/dev/null
check "the kept instance is removed" berth rm stoppable
# Changes on disk instead of a tmpfs: [Machine] ScratchDirectory=.
check "ScratchDirectory= on the base" berth set base Machine.ScratchDirectory="$TEST_TMP/scratch"
"$BERTH" run --name onscratch base -- sh -c 'head -c 1000000 /dev/zero > /big; sleep 30' >/dev/null 2>&1 &
rpid=$!
check "the run's changes are written to the scratch directory" \
        wait_for 20 sh -c "find '$TEST_TMP/scratch' -name big -size +900k | grep -q upper/big"
check_fails "and not to the base" test -e "$BERTH_ROOT/machines/base/rootfs/big"
check "berth kill of it" berth kill onscratch
wait $rpid 2>/dev/null
check_eq "the scratch directory is empty afterwards" "" "$(ls -A "$TEST_TMP/scratch")"
check_eq "a run on the scratch directory passes its status" 3 "$(berth run base -- sh -c 'exit 3' >/dev/null 2>&1; echo $?)"
check "berth set ScratchDirectory= back to a tmpfs" berth set base Machine.ScratchDirectory=
check_status "a missing source" 4 berth run nosuch -- true
check_status "no command" 2 berth run base
check "rm the base" berth rm base
done_testing
