#!/bin/bash
# berth run: throwaway machines for one job.
. "$(dirname "$0")/lib.sh"

only_base_left() { [ "$(ls "$BERTH_ROOT/machines")" = "base" ]; }

# A template as SOURCE: built once into a read-only image, no machine needed.
# A wrapper template counts the builds.
mkdir -p "$TEST_TMP/tpl"
printf '#!/bin/sh\necho built >> "%s/builds"\nexec "%s/busybox" "$@"\n' "$TEST_TMP" "$BERTH_TEMPLATE_DIR" \
        > "$TEST_TMP/tpl/busybox"
chmod +x "$TEST_TMP/tpl/busybox"
for i in $(seq 10); do
        ( BERTH_TEMPLATE_DIR=$TEST_TMP/tpl "$BERTH" run busybox -- sh -c "echo tpl-$i; exit $((i % 4))" \
                > "$TEST_TMP/tpl.$i" 2>&1; echo $? > "$TEST_TMP/tpl.$i.rc" ) &
done
wait
ok_count=0
for i in $(seq 10); do
        [ "$(cat "$TEST_TMP/tpl.$i.rc")" = $((i % 4)) ] && [ "$(cat "$TEST_TMP/tpl.$i")" = "tpl-$i" ] && ok_count=$((ok_count + 1))
done
check_eq "10 concurrent first runs of the busybox template pass output and status" 10 "$ok_count"
check_eq "and built its image once" "built" "$(cat "$TEST_TMP/builds")"
check_eq "the image is in images/bases" "SOURCE=template:busybox" "$(head -1 "$BERTH_ROOT/images/bases/busybox/info")"
check_eq "no machine is left" "" "$(ls -A "$BERTH_ROOT/machines")"
check_eq "later runs use the image" "ID=busybox" "$(berth run busybox -- grep ^ID= /etc/os-release)"
check_eq "with no second build" "built" "$(cat "$TEST_TMP/builds")"
check_output_contains "an image needs a command" "no \[Exec\] Command=" berth run busybox
check_status "an unknown source is no machine" 4 berth run nosuch-template -- true

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
check_eq "--boot boots the machine's init first" "/bin/busybox" "$(berth run --boot base -- readlink /proc/1/exe)"
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
# A killed supervisor leaves its scratch layers; rm and gc find them.
supervisor_of() { pgrep -o -f "berth-machined --root $BERTH_ROOT .* -- $1\$"; }
"$BERTH" run --keep --name scr1 base -- sleep 60 >/dev/null 2>&1 &
rpid=$!
wait_for 20 is_running scr1
kill -9 "$(supervisor_of scr1)"
wait $rpid 2>/dev/null
check "a killed supervisor leaves its scratch layers" test -d "$TEST_TMP/scratch/scr1@"*
# Layer dirs are named like the machine's cgroup: NAME@HASH-OF-THE-ROOT here.
cgsuffix=$(cd "$TEST_TMP/scratch" && echo scr1@*); cgsuffix=${cgsuffix#scr1}
# Its cgroups (direct mode), where the machine's init may run on without it.
leftover_cgroups() { find /sys/fs/cgroup -maxdepth 4 -type d -path "*/berth/$1$cgsuffix" 2>/dev/null; }
check "and its cgroups" test -n "$(leftover_cgroups scr1)"
check "berth rm removes them with the machine" berth rm scr1
check_eq "the scratch directory is empty" "" "$(ls -A "$TEST_TMP/scratch")"
check_eq "and the cgroups are gone (what ran there ended)" "" "$(leftover_cgroups scr1)"
"$BERTH" run --name scr2 base -- sleep 60 >/dev/null 2>&1 &
rpid=$!
wait_for 20 is_running scr2
kill -9 $rpid "$(supervisor_of scr2)"
wait $rpid 2>/dev/null
check "berth and the supervisor killed: layers and instance stay" test -d "$TEST_TMP/scratch/scr2@"*
out=$(berth gc)
check_output_contains "berth gc removes the layers" "Removed the leftover scratch layers of machine scr2" echo "$out"
check_output_contains "and ends the machine its killed supervisor left" \
        "(process|processes) machine scr2 left running without its supervisor|Removed the cgroups machine scr2 left" echo "$out"
check_eq "whose cgroups are gone" "" "$(leftover_cgroups scr2)"
check_eq "and the instance" "base" "$(ls "$BERTH_ROOT/machines")"
check_eq "the scratch directory is empty" "" "$(ls -A "$TEST_TMP/scratch")"
# Where a machine's layers would be, something berth did not make stays.
check "a kept, stopped instance" berth run --keep --name scr3 base -- true
mkdir "$TEST_TMP/scratch/scr3$cgsuffix" && chown 12345 "$TEST_TMP/scratch/scr3$cgsuffix"
check_output_contains "gc leaves a dir of another owner alone" "not a directory berth made" berth gc
check "it is still there" test -d "$TEST_TMP/scratch/scr3$cgsuffix"
check_output_contains "rm refuses to remove the machine" "not a directory berth made" berth rm scr3
check "which stays" test -d "$BERTH_ROOT/machines/scr3"
rmdir "$TEST_TMP/scratch/scr3$cgsuffix"
mkdir "$TEST_TMP/elsewhere" && touch "$TEST_TMP/elsewhere/keep"
ln -s "$TEST_TMP/elsewhere" "$TEST_TMP/scratch/scr3$cgsuffix"
check_output_contains "a symlink there is not followed" "not a directory berth made" berth rm scr3
check "its target is untouched" test -e "$TEST_TMP/elsewhere/keep"
rm "$TEST_TMP/scratch/scr3$cgsuffix"
check "rm of the instance" berth rm scr3
check "berth set ScratchDirectory= back to a tmpfs" berth set base Machine.ScratchDirectory=

# A run stopped while its instance was collected and replaced by another
# run of the same name: it must not stop or remove the new one.
"$BERTH" run --name same base -- sleep 60 >/dev/null 2>&1 &
old_run=$!
wait_for 20 is_running same
kill -STOP $old_run
berth kill same >/dev/null 2>&1
check "gc collects the stopped instance" berth gc
"$BERTH" run --name same base -- sh -c 'sleep 5; echo second' > "$TEST_TMP/second" 2>&1 &
new_run=$!
wait_for 20 is_running same
kill -CONT $old_run
wait $old_run 2>/dev/null
check "the old run ends, the new instance still runs" is_running same
wait $new_run
check_eq "and its command completes" "second" "$(cat "$TEST_TMP/second")"
check "nothing left" only_base_left
check_status "a missing source" 4 berth run nosuch -- true
check_status "no command" 2 berth run base
check "rm the base" berth rm base
done_testing
