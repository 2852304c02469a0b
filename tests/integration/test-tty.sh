#!/bin/bash
# What a machine writes cannot act on the host: berth logs shows escape
# sequences as text on a terminal; every verb that relays guest output to a
# terminal drops what the terminal answered to queries in it, so that none of
# it becomes the host shell's input; berth exec hands the command pipes, never
# a host fd it could reopen through /proc/self/fd.  tmux plays the terminal.
. "$(dirname "$0")/lib.sh"

check "create busybox machine" berth create bb --template busybox
check "start" berth start bb
rootfs=$BERTH_ROOT/machines/bb/rootfs

# --- exec: the command's stdio are pipes, never the caller's files --------------------------
f=$TEST_TMP/hostfile
echo host-secret >"$f"
chmod 0644 "$f"
# Appended to, so the secret stays in the file the command's stdout is.  The
# shell itself opens and reads it (busybox runs some applets in the shell,
# with their >&2 applied to the shell's own fd 1).
berth exec bb -- sh -c 'echo "$(readlink /proc/$$/fd/1)" >&2; exec 3</proc/self/fd/1 && timeout 2 cat <&3 >&2' \
        >>"$f" 2>"$TEST_TMP/err"
check_output_contains "the command's stdout is a pipe, not the caller's file" '^pipe:' cat "$TEST_TMP/err"
check "reopening it through /proc/self/fd/1 does not read the host file" \
        sh -c "! grep -q host-secret '$TEST_TMP/err'"
berth exec bb -- sh -c '(sleep 1; echo late-write) & (sleep 1; echo late-open >/proc/self/fd/1) & echo now' >>"$f"
sleep 2
check_eq "what the command left running cannot write to the file after exec returned" \
        "host-secret now" "$(tr '\n' ' ' <"$f" | sed 's/ $//')"
check_eq "stdin passes with -i" "hi" "$(echo hi | berth exec -i bb -- cat)"
check_eq "without -i stdin is empty" "" "$(echo hi | berth exec bb -- cat)"
check_eq "stdin EOF reaches the command" "done" "$(berth exec -i bb -- sh -c 'cat; echo done' </dev/null)"
berth exec bb -- sh -c 'echo out; echo err >&2' >"$TEST_TMP/o" 2>"$TEST_TMP/e"
check_eq "stdout and stderr stay apart" "out/err" "$(cat "$TEST_TMP/o")/$(cat "$TEST_TMP/e")"
berth exec bb -- sh -c 'echo a; echo b >&2; echo c; echo d >&2' >"$TEST_TMP/o" 2>&1
check_eq "2>&1 keeps their order" "a b c d" "$(tr '\n' ' ' <"$TEST_TMP/o" | sed 's/ $//')"
check_status "the command's exit status is berth's" 7 berth exec bb -- sh -c 'exit 7'
head -c 20000000 /dev/urandom >"$TEST_TMP/big"
check "20 MB through stdin and back are the same bytes (no deadlock)" \
        sh -c "timeout 60 '$BERTH' exec -i bb -- cat <'$TEST_TMP/big' | cmp -s - '$TEST_TMP/big'"
check_eq "a reader that goes away ends the command with SIGPIPE" "141 0" \
        "$(set -o pipefail; timeout 20 "$BERTH" exec bb -- yes | head -1 >/dev/null; echo "${PIPESTATUS[*]}")"

# --- the guest's escape sequences -------------------------------------------------------
# queries: a title (OSC 0), the clipboard (OSC 52) and questions a terminal
# answers by typing: device attributes, cursor position, DECRQSS, foreground
# colour, the window title (XTWINOPS 21), answerback (ENQ).
cat >"$rootfs/bin/queries" <<'EOF'
#!/bin/sh
printf '\033]0;guest-title\007\033]52;c;cHduZWQ=\007\033[c\033[6n\033P$q"p\033\\\033]10;?\007\033[21t\005 queries-sent\n'
EOF
chmod 0755 "$rootfs/bin/queries"
berth exec bb -- sh -c 'queries >/dev/console'
berth logs bb >"$TEST_TMP/logs"
check "logs into a file are the bytes the guest wrote" grep -qF $'\e]0;guest-title\a\e]52;c;' "$TEST_TMP/logs"
check "logs --raw too" sh -c "'$BERTH' logs --raw bb | grep -qF \"\$(printf '\\033[6n')\""

command -v tmux >/dev/null || { ok "# SKIP tmux is not installed"; done_testing; }
export TMUX_TMPDIR=$TEST_TMP
S=berth-tty-$$
screen() { tmux capture-pane -p -t "$S" -S - 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
type_keys() { tmux send-keys -t "$S" "$@"; }
tmux new-session -d -s "$S" -x 200 -y 50 "PS1='$ ' bash --norc"
tmux set-option -g set-clipboard on
tmux set-option -t "$S" remain-on-exit on >/dev/null
wait_for 10 screen_has '^\$ '
title=$(tmux display-message -p -t "$S" '#{pane_title}')
# after NAME COMMAND: run COMMAND in the host shell, then read what input is
# pending there for a second: the terminal's answers, if they were left.
# (While COMMAND runs the terminal echoes them: "^[[?1;2c" before the result.)
after() {
        type_keys "$2; read -t 1 -r -n 200 x; echo \"$1-pending:\${#x}:\"" Enter
        wait_for 20 screen_has "$1-pending:[0-9]+:"
        screen | grep -oE "$1-pending:[0-9]+:" | tail -1
}

check_eq "logs on a terminal: no answer left for the shell" "logs-pending:0:" "$(after logs "'$BERTH' logs bb")"
check "logs shows the escape sequences as text" screen_has '\\x1b\]0;guest-title\\x07\\x1b\]52;c;cHduZWQ=\\x07\\x1b\[c\\x1b\[6n'
check_eq "the title did not change" "$title" "$(tmux display-message -p -t "$S" '#{pane_title}')"
check_eq "the clipboard was not set" "" "$(tmux list-buffers)"

check_eq "exec: no answer left for the shell" "exec-pending:0:" "$(after exec "'$BERTH' exec bb -- queries")"
check_eq "exec -t: no answer left for the shell" "exect-pending:0:" "$(after exect "'$BERTH' exec -t bb -- queries")"
check_eq "exec -t -i: no answer left for the shell" "execti-pending:0:" \
        "$(after execti "'$BERTH' exec -t -i bb -- queries")"
check_eq "shell: no answer left for the shell" "shell-pending:0:" "$(after shell "'$BERTH' shell bb -- queries")"
check_eq "logs --raw on a terminal: no answer left for the shell" "raw-pending:0:" \
        "$(after raw "'$BERTH' logs --raw bb")"
# logs -f ends on Ctrl-C, after which it drops the answers as well.
type_keys "'$BERTH' logs -f --raw bb; echo logsf-exit=\$?; read -t 1 -r -n 200 x; echo \"logsf-pending:\${#x}:\"" Enter
wait_for 10 screen_has '^-- console --'
berth exec bb -- sh -c 'queries >/dev/console'
sleep 1
type_keys C-c
check "logs -f ends on Ctrl-C" wait_for 10 screen_has 'logsf-exit=0'
wait_for 10 screen_has 'logsf-pending:[0-9]+:'
check_eq "logs -f: no answer left for the shell" "logsf-pending:0:" "$(screen | grep -oE 'logsf-pending:[0-9]+:' | tail -1)"
# Input typed while a command without queries in its output runs is kept.
# (Typed once it runs: keys that come while readline has the terminal keep
# a CR that no cooked read would end a line at.)
type_keys "'$BERTH' exec bb -- sh -c 'echo started; sleep 1'; read -r y; echo \"typed:\$y:\"" Enter
wait_for 10 screen_has '^started'
type_keys 'typeahead' Enter
check "what was typed during a plain exec is kept" wait_for 10 screen_has '^typed:typeahead:'
check "stop" berth stop bb
check_eq "run: no answer left for the shell" "run-pending:0:" "$(after run "'$BERTH' run bb -- queries")"
# What the terminal showed, should any of the above have failed.
[ "$_failed" -eq 0 ] || screen | sed 's/^/#   | /'
tmux kill-server 2>/dev/null

# --- unit mode: logs reads the journal, and escapes it the same way ------------------------------
start_testhost "the test host boots (systemd)"
start_ub() { tb create ub --template busybox && tb start ub; }
journal_has() { tb logs ub | grep -q "$1"; }
no_esc() { ! grep -q $'\e' "$1"; }
check "create and start a busybox machine as a unit" start_ub
install -m 0755 "$rootfs/bin/queries" "$BERTH_ROOT/machines/ub/rootfs/bin/queries"
tb exec ub -- sh -c 'queries >/dev/console'
check "the journal has the console line" wait_for 10 journal_has queries-sent
# script(1) gives logs a terminal in the test host.
th env BERTH_ROOT="$BERTH_ROOT" BERTH_MODE=unit script -qc "'$BERTH' logs ub" /dev/null >"$TEST_TMP/unit-tty"
check "unit mode, on a terminal: the escape sequences as text" \
        grep -qF '\x1b]0;guest-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[c\x1b[6n' "$TEST_TMP/unit-tty"
check "unit mode, on a terminal: no ESC reaches it" no_esc "$TEST_TMP/unit-tty"
tb logs ub >"$TEST_TMP/unit-pipe"
check "unit mode, into a file: the bytes, not [blob data]" grep -qF $'\e]0;guest-title\a\e]52;c;' "$TEST_TMP/unit-pipe"
check "stop the unit" tb stop ub
done_testing
