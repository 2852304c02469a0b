#!/bin/bash
# Honest status (issue 21), direct mode, busybox machines: status and list
# show limits beside usage, forwards, network, disk usage, CPU time and why
# the last boot ended, in text and JSON; broken and ephemeral machines and
# long names in list; set --unset / KEY=; edit; start --wait of an init that
# dies; exec's stdin warning; logs --since/--until/-o short-iso; --network
# for one start.
. "$(dirname "$0")/lib.sh"

js() { berth status --json "$1" | jq -r "$2"; }
lj() { berth list --json | jq -r --arg n "$1" ".[] | select(.name == \$n) | $2"; }

LONG=a-machine-name-well-over-twenty-four-characters
check "create $LONG with limits and a forward" berth create "$LONG" --template busybox \
        --set MemoryMax=256M --set TasksMax=300 --set CPUQuota=50% --set Port=tcp:18080:80
check "create plain" berth create plain --template busybox

# --- a stopped machine: configured limits, no last boot yet ------------------------------------
check_eq "stopped: memory_max_bytes from machine.conf" 268435456 "$(js "$LONG" .memory_max_bytes)"
check_eq "stopped: tasks_max" 300 "$(js "$LONG" .tasks_max)"
check_eq "stopped: cpu_quota" 50% "$(js "$LONG" .cpu_quota)"
check_eq "stopped: ports" '["tcp:18080:80"]' "$(js "$LONG" '.ports | tostring')"
check_eq "network_mode and network_name" "bridge berth0" "$(js "$LONG" '"\(.network_mode) \(.network_name)"')"
check_eq "no last boot yet" null "$(js "$LONG" .last_exit)"
check_eq "autostart: not applicable in direct mode" null "$(js "$LONG" .autostart)"
check "disk_bytes: the tree's size" test "$(js "$LONG" .disk_bytes)" -gt 100000
check_output_contains "text: Memory with its max" 'Memory: - \(max: 256\.0M\)' berth status "$LONG"
check_output_contains "text: CPU quota" 'CPU: - \(quota: 50%' berth status "$LONG"
check_output_contains "text: Forwards" 'Forwards: tcp:18080:80' berth status "$LONG"
check_output_contains "text: Network" 'Network: bridge berth0' berth status "$LONG"

# --- running: usage beside the limits in force ---------------------------------------------------
check "start --wait $LONG" berth start --wait "$LONG"
check_eq "running: memory_max_bytes from the cgroup" 268435456 "$(js "$LONG" .memory_max_bytes)"
check "running: memory_bytes is a figure" test "$(js "$LONG" .memory_bytes)" -gt 0
check "running: cpu_usage_nsec in direct mode" test "$(js "$LONG" .cpu_usage_nsec)" -gt 0
check_output_contains "text: Memory N (max: 256.0M)" 'Memory: [0-9.]+[BKMG] \(max: 256\.0M\)' berth status "$LONG"
check_output_contains "text: Tasks N (max: 300)" 'Tasks: [0-9]+ \(max: 300\)' berth status "$LONG"
check_output_contains "text: CPU time" 'CPU: [0-9]+\.[0-9]{3}s \(quota: 50%' berth status "$LONG"
check "set --runtime MemoryMax=128M" berth set --runtime "$LONG" MemoryMax=128M
check_eq "status shows the limit in force" 134217728 "$(js "$LONG" .memory_max_bytes)"
check_output_contains "machine.conf keeps 256M" '^MemoryMax=256M' cat "$BERTH_ROOT/machines/$LONG/machine.conf"

# --- list: long names keep the columns -------------------------------------------------------------
check "start plain --ephemeral" berth start --ephemeral plain
berth list >"$TEST_TMP/list"
col() { awk -v n="$1" 'NR == 1 { print index($0, "STATE") } $1 == n { print index($0, $2) }' "$TEST_TMP/list"; }
check_eq "the long name is whole in list" "$LONG" "$(awk -v n="$LONG" '$1 == n { print $1 }' "$TEST_TMP/list")"
check_eq "STATE starts where the header says (long name)" "$(col "$LONG" | head -1)" "$(col "$LONG" | tail -1)"
check_eq "STATE starts where the header says (short name)" "$(col plain | head -1)" "$(col plain | tail -1)"
check_eq "list marks the ephemeral machine" "running,ephemeral" "$(awk '$1 == "plain" { print $2 }' "$TEST_TMP/list")"
check_eq "list --json: ephemeral" "true false" "$(lj plain .ephemeral) $(lj "$LONG" .ephemeral)"
check_eq "list --json: ports" "tcp:18080:80" "$(lj "$LONG" '.ports[0]')"
check "stop plain" berth stop plain

# --- why the last boot ended ------------------------------------------------------------------------
check "stop $LONG" berth stop "$LONG"
check_eq "a stop is a poweroff" poweroff "$(js "$LONG" .last_exit.reason)"
check_output_contains "text: Last boot" 'Last boot: poweroff' berth status "$LONG"
check "start $LONG" berth start "$LONG"
check "kill $LONG (SIGKILL)" berth kill "$LONG"
wait_for 10 test "$(machine_state "$LONG")" = stopped
check_eq "a kill is 'killed'" "killed SIGKILL" "$(js "$LONG" '"\(.last_exit.reason) \(.last_exit.signal)"')"
check "start $LONG" berth start "$LONG"
sup=$(js "$LONG" .supervisor)
check "SIGKILL its supervisor ($sup)" kill -KILL "$sup"
wait_for 10 test "$(machine_state "$LONG")" = stopped
check_output_contains "a killed supervisor: said, with no made-up detail" \
        '^killed its supervisor was killed' js "$LONG" '"\(.last_exit.reason) \(.last_exit.detail)"'
check "the next start cleans up after it" berth start "$LONG"
check "stop $LONG" berth stop "$LONG"
check_eq "and records its own end" poweroff "$(js "$LONG" .last_exit.reason)"

# --- start --wait of an init that dies ----------------------------------------------------------------
printf '#!/bin/sh\nsleep 0.3\nexit 3\n' >"$TEST_TMP/die"
chmod +x "$TEST_TMP/die"
check "create dies" berth create dies --template busybox
check "an init that dies after 0.3s" berth cp "$TEST_TMP/die" dies:/sbin/die
check "Init=/sbin/die" berth set dies Init=/sbin/die
check_status "start --wait fails: status 1" 1 berth start --wait dies
check_output_contains "and says how the init ended" "exited with status 3 before it booted" berth start --wait dies
check_eq "list: not running" stopped "$(machine_state dies)"
check_eq "status: failed, status 3" "failed 3" "$(js dies '"\(.last_exit.reason) \(.last_exit.status)"')"
check "set dies Init=/bin/false" berth set dies Init=/bin/false
check_status "an init that dies at once: start --wait fails" 1 berth start --wait dies
check_eq "still not running" stopped "$(machine_state dies)"
check "set dies Init= (back to the default)" berth set dies Init=
check "start --wait with a lasting init succeeds" berth start --wait dies
check "is running" is_running dies
check "stop dies" berth stop dies

# --- broken machine.conf --------------------------------------------------------------------------
cp "$BERTH_ROOT/machines/plain/machine.conf" "$TEST_TMP/plain.conf"
printf 'not an assignment\n' >>"$BERTH_ROOT/machines/plain/machine.conf"
check_eq "list: broken, not stopped" broken "$(machine_state plain)"
check_output_contains "list's text says broken" '^plain +broken ' berth list
check_output_contains "status --json: the reason" 'machine.conf:[0-9]+: syntax error' js plain .config_error
check_output_contains "status: the reason" 'Config: invalid: .*machine.conf:[0-9]+' berth status plain
check_output_contains "set on it says to fix it with edit" "berth edit plain" berth set plain MemoryMax=1G
cp "$TEST_TMP/plain.conf" "$BERTH_ROOT/machines/plain/machine.conf"
check_eq "fixed: stopped again" stopped "$(machine_state plain)"

# --- set: --unset and KEY=, errors say berth set -------------------------------------------------------
check "set plain Hostname=foo MemoryMax=1G" berth set plain Hostname=foo MemoryMax=1G
check_output_contains "set's errors say 'berth set:', not --set" '^berth set: MemoryMax=lots: ' \
        berth set plain MemoryMax=lots
check_fails "... and no --set" sh -c "'$BERTH' set plain MemoryMax=lots 2>&1 | grep -q -- --set"
check_status "an unknown key to unset: 2" 2 berth set plain --unset NoSuchKey
check_status "set with nothing to change: 2" 2 berth set plain
check_output_contains "the help says which keys apply live" "MemoryMax.*apply live" berth set --help
before=$(cat "$BERTH_ROOT/machines/plain/machine.conf")
check_status "a key both set and unset: 2" 2 berth set plain MemoryMax=2G --unset MemoryMax
check_eq "... changed nothing" "$before" "$(cat "$BERTH_ROOT/machines/plain/machine.conf")"
check "set plain --unset MemoryMax Hostname=" berth set plain --unset MemoryMax Hostname=
check_fails "MemoryMax is gone from machine.conf" grep -q MemoryMax "$BERTH_ROOT/machines/plain/machine.conf"
check_fails "Hostname is gone from machine.conf" grep -q Hostname "$BERTH_ROOT/machines/plain/machine.conf"
check_eq "back to no memory limit" null "$(js plain .memory_max_bytes)"
check "start plain" berth start plain
check "set plain TasksMax=123 (live)" berth set plain TasksMax=123
check_eq "live: tasks_max 123" 123 "$(js plain .tasks_max)"
check "set plain TasksMax= (live, back to the default)" berth set plain TasksMax=
check_eq "live: back to the default 16384" 16384 "$(js plain .tasks_max)"
check "stop plain" berth stop plain

# --- edit ----------------------------------------------------------------------------------------------
conf=$BERTH_ROOT/machines/plain/machine.conf
before=$(cat "$conf")
printf '#!/bin/sh\nprintf "[Resources]\\nMemoryMax=bogus\\n" >>"$1"\n' >"$TEST_TMP/bad-editor"
printf '#!/bin/sh\nprintf "[Resources]\\nTasksMax=77\\n" >>"$1"\n' >"$TEST_TMP/good-editor"
chmod +x "$TEST_TMP/bad-editor" "$TEST_TMP/good-editor"
check_status "edit with a bad value: refused, status 2" 2 env EDITOR="$TEST_TMP/bad-editor" "$BERTH" edit plain
check_eq "machine.conf unchanged" "$before" "$(cat "$conf")"
check_output_contains "the error says what is wrong" "machine.conf:[0-9]+: MemoryMax=bogus: " \
        env EDITOR="$TEST_TMP/bad-editor" "$BERTH" edit plain
cp "$TEST_TMP/out" "$TEST_TMP/edit.out"
kept=$(sed -n 's/.*kept in \([^ ]*\) .*/\1/p' "$TEST_TMP/edit.out" | head -1)
check_output_contains "... and where the copy is kept" "kept in /var/tmp/berth-edit-plain\." cat "$TEST_TMP/edit.out"
check "the copy is kept" test -f "$kept"
check_output_contains "... with the edit" "MemoryMax=bogus" cat "$kept"
rm -f /var/tmp/berth-edit-plain.*.conf
check "edit with a good value" env EDITOR="$TEST_TMP/good-editor" "$BERTH" edit plain
check_output_contains "machine.conf has it" '^TasksMax=77' cat "$conf"
check_eq "status has it" 77 "$(js plain .tasks_max)"
check "VISUAL wins over EDITOR" env VISUAL=true EDITOR="$TEST_TMP/bad-editor" "$BERTH" edit plain
check_status "no editor and no terminal: status 2" 2 env -u EDITOR -u VISUAL "$BERTH" edit plain
check_output_contains "... and says so" "neither .VISUAL nor .EDITOR" env -u EDITOR -u VISUAL "$BERTH" edit plain
check_status "edit of no machine: 4" 4 env EDITOR=true "$BERTH" edit nosuch
check_fails "no copies left behind" sh -c 'ls /var/tmp/berth-edit-plain.*.conf 2>/dev/null | grep -q .'

# --- exec and stdin -------------------------------------------------------------------------------------
check "start plain" berth start plain
# A file, not a pipe: its data is there for certain when exec looks.
echo hi >"$TEST_TMP/in"
berth exec plain -- cat <"$TEST_TMP/in" >"$TEST_TMP/exec.out" 2>"$TEST_TMP/exec.err"
check_eq "exec without -i: stdin not passed" "" "$(cat "$TEST_TMP/exec.out")"
check_output_contains "... with a warning" "stdin has data.*-i" cat "$TEST_TMP/exec.err"
check_eq "exec -i passes a file" hi "$(berth exec -i plain -- cat <"$TEST_TMP/in" 2>&1)"
check_eq "exec -i passes it" hi "$(echo hi | berth exec -i plain -- cat)"
check_eq "no warning for /dev/null" "" "$(berth exec plain -- true 2>&1 </dev/null)"

# --- logs (console lines end in \r\n: a tty's) -------------------------------------------------------------------------------------------------
berth exec plain -- sh -c 'printf "\nbefore-mark\n" >/dev/console'
sleep 1.1
mark=$(date +%s)
sleep 1.1
berth exec plain -- sh -c 'printf "\nafter-mark\n" >/dev/console'
wait_for 5 sh -c "'$BERTH' logs plain | grep -q after-mark"
check_output_contains "logs: today's format (no times)" '^after-mark.?$' berth logs plain
check_output_contains "logs -o short-iso: each line's time" \
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} after-mark.?$' berth logs -o short-iso plain
check_output_contains "... the supervisor's too" \
        '^[0-9-]{10}T[0-9:]{8}[+-][0-9]{4} berth-machined: Machine plain started' berth logs -o short-iso plain
check_fails "--since @mark leaves out what came before" sh -c "'$BERTH' logs --since @$mark plain | grep -q before-mark"
check_output_contains "... and keeps what came after" '^after-mark.?$' berth logs --since @$mark plain
check_fails "--until @mark leaves out what came after" sh -c "'$BERTH' logs --until @$mark plain | grep -q after-mark"
check_output_contains "... and keeps what came before" '^before-mark.?$' berth logs --until @$mark plain
check_output_contains "--since -10min keeps both" 'after-mark' berth logs --since -10min plain
check_output_contains "--since today" 'after-mark' berth logs --since today plain
check_status "--since tomorrow: nothing, status 0" 0 berth logs --since tomorrow plain
check_fails "... nothing" sh -c "'$BERTH' logs --since tomorrow plain | grep -q mark"
check_status "a bad --since: 2" 2 berth logs --since soonish plain
check_status "a bad -o: 2" 2 berth logs -o verbose plain
timeout 5 "$BERTH" logs -f -o short-iso plain >"$TEST_TMP/follow" 2>&1 &
sleep 1
berth exec plain -- sh -c 'printf "\nfollowed-line\n" >/dev/console'
wait
check_output_contains "logs -f -o short-iso stamps what comes" \
        '^[0-9-]{10}T[0-9:]{8}[+-][0-9]{4} followed-line.?$' cat "$TEST_TMP/follow"
check "stop plain" berth stop plain

# --- --network for one start ---------------------------------------------------------------------------
check "start --network none plain" berth start --network none plain
check_eq "status: this start's network" "none null" "$(js plain '"\(.network_mode) \(.network_name)"')"
check_eq "only lo inside" lo "$(berth exec plain -- ls /sys/class/net)"
check_fails "machine.conf does not have it" grep -q '^Mode=' "$conf"
check_status "--network on a running machine: 1" 1 berth start --network bridge plain
check "stop plain" berth stop plain
check_eq "stopped: the configured network again" bridge "$(js plain .network_mode)"
check_status "a bad --network: 2" 2 berth start --network nonsense plain
check_eq "run --network none: only lo" lo "$(berth run --network none plain -- ls /sys/class/net)"

# --- unit mode (a test host): systemd's figures, the journal's times --------------------------------
check "create u (MemoryMax=200M)" berth create u --template busybox --set MemoryMax=200M
start_testhost "the test host boots"
check "start u as a unit" tb start u
check_eq "status --json: a unit" "false" "$(tb status --json u | jq '.unit == null')"
check "... CPU time from systemd" test "$(tb status --json u | jq .cpu_usage_nsec)" -gt 0
check_eq "... the memory limit in force" 209715200 "$(tb status --json u | jq .memory_max_bytes)"
check_eq "... autostart n/a in a test root" null "$(tb status --json u | jq .autostart)"
check_output_contains "logs -o short-iso: the journal's ISO times" \
        '^[0-9-]{10}T[0-9:]{8}[+-][0-9]{4} .*berth-machined.*started' tb logs -o short-iso u
check_fails "logs --since tomorrow: nothing of today" sh -c \
        "'$TESTHOST' run '$THDIR' -- env BERTH_ROOT='$BERTH_ROOT' BERTH_MODE=unit '$BERTH' logs --since tomorrow u | grep -q started"
check "stop u" tb stop u
check_eq "last_exit: poweroff" poweroff "$(tb status --json u | jq -r .last_exit.reason)"
check "Init=/bin/false" tb set u Init=/bin/false
check_status "start --wait of a dying init fails in unit mode" 1 tb start --wait u
check_eq "u is not running" stopped "$(tb list --json | jq -r '.[] | select(.name == "u") | .state')"

done_testing
