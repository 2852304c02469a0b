#!/bin/bash
# Interactive use as a person would: tmux types into berth shell, exec -t and
# console, and reads the screen.
. "$(dirname "$0")/lib.sh"
: "${PROBE:?set PROBE to the static probe helper}"
command -v tmux >/dev/null || { ok "# SKIP tmux is not installed"; done_testing; }

export TMUX_TMPDIR=$TEST_TMP
S=berth-test-$$
tmux kill-server 2>/dev/null
screen() { tmux capture-pane -p -t "$S" -S - 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
type_keys() { tmux send-keys -t "$S" "$@"; }
# session CMD: a fresh tmux session (80x24) running CMD in a host shell.
session() {
        tmux kill-session -t "$S" 2>/dev/null
        tmux new-session -d -s "$S" -x 80 -y 24 "$1" &&
                tmux set-option -t "$S" remain-on-exit on >/dev/null
}
pane_dead() { [ "$(tmux display-message -p -t "$S" '#{pane_dead}')" = 1 ]; }

check "create busybox machine" berth create bb --template busybox
install -m 0755 "$PROBE" "$BERTH_ROOT/machines/bb/rootfs/bin/probe"
check "start" berth start bb

# --- berth shell --------------------------------------------------------------------
session "'$BERTH' shell bb; echo berth-exit=\$?; sleep 600"
check "a shell prompt appears" wait_for 10 screen_has '[$#] ?$'
type_keys 'echo "id:$(id -u)"' Enter
check "the shell runs as root inside" wait_for 5 screen_has '^id:0'
type_keys 'tty' Enter
check "it has a pty of the machine's devpts" wait_for 5 screen_has '^/dev/pts/[0-9]+'
type_keys 'stty size' Enter
check "stty size is the terminal's (24 80)" wait_for 5 screen_has '^24 80'
tmux resize-window -t "$S" -x 100 -y 30
sleep 0.3
type_keys 'clear; stty size' Enter
check "stty size follows a resize (30 100)" wait_for 5 screen_has '^30 100'
type_keys 'sleep 100' Enter
sleep 0.5
type_keys C-c
# A shell drops the rest of a line on Ctrl-C: ask for the status on its own line.
type_keys 'echo after-sleep=$?' Enter
check "Ctrl-C stops a sleep" wait_for 5 screen_has 'after-sleep=130'
type_keys 'exit 7' Enter
check "exit status of 'exit 7' is 7" wait_for 10 screen_has 'berth-exit=7'

# --- without -t the caller's terminal never reaches the machine -------------------------------
session "'$BERTH' exec -i bb -- sh -c 'readlink /proc/self/fd/0; readlink /proc/self/fd/1; tty; echo tty_nr=\$(cut -d\" \" -f7 /proc/self/stat)'; sleep 600"
check "the command's stdio are pipes, not the terminal" wait_for 10 sh -c "tmux capture-pane -p -t '$S' | grep -c '^pipe:' | grep -qx 2"
check "it has no controlling terminal" wait_for 5 screen_has '^tty_nr=0$'
tmux kill-session -t "$S"

# --- exec -t with --user / --cwd / --setenv -------------------------------------------------
echo 'guest:x:1000:1000::/home/guest:/bin/sh' >> "$BERTH_ROOT/machines/bb/rootfs/etc/passwd"
mkdir -p "$BERTH_ROOT/machines/bb/rootfs/home/guest"
check_eq "--user runs as that user" "1000" "$(berth exec --user guest bb -- id -u)"
check_eq "--cwd sets the directory" "/etc" "$(berth exec --cwd /etc bb -- pwd)"
check_eq "--setenv sets a variable" "bar" "$(berth exec --setenv FOO=bar bb -- sh -c 'echo $FOO')"
check_status "--user with an unknown user fails with 125" 125 berth exec --user nosuch bb -- true
check_eq "without -i stdin is empty" "" "$(echo secret | berth exec bb -- cat)"
check_eq "with -i stdin passes" "secret" "$(echo secret | berth exec -i bb -- cat)"
check_eq "shell with a command runs it as a login" "/root" "$(berth shell bb -- sh -c 'echo $HOME')"

# --- signals from the caller reach the command -----------------------------------------------------
session "'$BERTH' exec bb -- sh -c 'trap \"echo trapped-int; exit 5\" INT; echo waiting; while :; do sleep 1; done'; echo exec-exit=\$?; sleep 600"
check "a command without a pty starts" wait_for 10 screen_has '^waiting'
type_keys C-c
check "Ctrl-C reaches the command, which may trap it" wait_for 10 screen_has 'trapped-int'
check "and its exit status comes back" wait_for 10 screen_has 'exec-exit=5'
tmux kill-session -t "$S"
"$BERTH" exec bb -- sleep 100 &
bpid=$!
wait_for 5 berth exec bb -- pgrep -x sleep
kill -TERM $bpid
wait $bpid
check_eq "SIGTERM to berth exec reaches the command (exit 143)" "143" "$?"

# --- console --------------------------------------------------------------------------------------------
session "'$BERTH' console bb; echo console-exit=\$?; sleep 600"
check "console attaches and shows the history" wait_for 10 screen_has 'Connected to the console of machine bb'
type_keys Enter
check "the getty answers with a login prompt" wait_for 10 screen_has 'login:'
type_keys root Enter
check "login as root on the console" wait_for 10 screen_has '[$#] ?$'
type_keys 'echo console-works' Enter
check "commands run on the console" wait_for 5 screen_has '^console-works'
# A paste far bigger than the guest tty's 4 KiB input buffer arrives whole:
# the supervisor holds back what the pty cannot take yet instead of dropping it.
for i in $(seq 1 400); do printf 'pasted line %03d .................................................\n' "$i"; done \
        >"$TEST_TMP/paste"
type_keys 'cat > /tmp/paste' Enter
sleep 0.5
tmux load-buffer -b big "$TEST_TMP/paste"
tmux paste-buffer -b big -t "$S"
type_keys C-d
want=$(wc -c < "$TEST_TMP/paste")
check "a $want-byte paste reaches the guest whole" wait_for 20 sh -c \
        "[ \"\$('$BERTH' exec bb -- sh -c 'wc -c < /tmp/paste')\" = $want ]"
type_keys C-] C-] C-]
check "Ctrl-] three times detaches" wait_for 5 screen_has 'console-exit=0'
check "the machine keeps running" is_running bb
session "'$BERTH' console --read-only bb; sleep 600"
check "a read-only viewer attaches" wait_for 10 screen_has 'Read-only'
type_keys 'echo typed-by-ro' Enter
sleep 0.5
check "its keys do not reach the guest" sh -c "! grep -q typed-by-ro '$BERTH_ROOT/run/bb/console.log'"
# Two viewers at once see the same output.
tmux new-window -t "$S" "'$BERTH' console --read-only bb; sleep 600"
berth exec bb -- sh -c 'echo two-viewers-marker > /dev/console'
check "two viewers both see console output" wait_for 5 sh -c \
        "tmux capture-pane -p -t '$S:0' | grep -q two-viewers-marker && tmux capture-pane -p -t '$S:1' | grep -q two-viewers-marker"
tmux kill-session -t "$S"

# --- a hostile guest cannot type into the host terminal ----------------------------------------------------
marker="$TEST_TMP/pwned"
session "bash --norc"
type_keys "'$BERTH' console bb" Enter
wait_for 10 screen_has 'Connected to the console'
# The guest tries TIOCSTI on its console and floods it with escape sequences that
# ask a terminal to answer (title report, device status, DECRQSS).
check_output_contains "TIOCSTI into the console is denied" '^denied' \
        berth exec bb -- probe tiocsti /dev/console
berth exec bb -- sh -c "printf '\033[21t\033]2;touch $marker\007\033[6n\033P\$q\"p\033\\\\' > /dev/console"
sleep 0.3
type_keys C-] C-] C-]
wait_for 5 screen_has 'Disconnected'
type_keys Enter
sleep 0.5
check "nothing the guest sent ran on the host" test ! -e "$marker"
tmux kill-server 2>/dev/null

check "console output never blocks the guest when nobody is attached" \
        timeout 20 "$BERTH" exec bb -- sh -c 'head -c 3000000 /dev/zero | tr "\0" x > /dev/console'
check "stop" berth stop bb
done_testing
