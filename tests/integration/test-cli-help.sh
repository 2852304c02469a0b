#!/bin/bash
# The command line as sysadmins know it (issues 17 and 21): --help and
# "help VERB" for every verb, "did you mean", options anywhere before "--",
# the exit-code table, and the bash completion typed into a terminal (tmux).
. "$(dirname "$0")/lib.sh"

# --- help -------------------------------------------------------------------------------
check "every verb's option table is well-formed" berth __complete check
mapfile -t verbs < <(berth __complete verbs | grep -vx help)
check "berth __complete verbs lists the verbs" test "${#verbs[@]}" -ge 20
for v in "${verbs[@]}"; do
        berth "$v" --help >"$TEST_TMP/help" 2>&1
        rc=$?
        missing=""
        while read -r o; do
                o=${o%=}
                grep -qF -- "$o" "$TEST_TMP/help" || missing+=" $o"
        done < <(berth __complete options "$v")
        if [ "$rc" = 0 ] && [ -z "$missing" ] && grep -q "^Usage: berth $v" "$TEST_TMP/help" &&
                grep -q "^Example:" "$TEST_TMP/help"; then
                ok "$v --help: exit 0, usage, every option, an example"
        else
                not_ok "$v --help (status $rc, missing:$missing)"
                sed 's/^/# /' "$TEST_TMP/help"
        fi
        check_eq "$v -h is the same" "$(cat "$TEST_TMP/help")" "$(berth "$v" -h)"
        check_eq "help $v is the same" "$(cat "$TEST_TMP/help")" "$(berth help "$v")"
        check_output_contains "berth --help lists $v" "^  $v " berth --help
done
check_status "berth help: exit 0" 0 berth help
check_eq "help --all has every verb's help" "$((${#verbs[@]}))" "$(berth help --all | grep -c '^Usage: berth [a-z]')"
check_output_contains "... lists the verbs" "^  exec " berth help
check_status "--help after a machine name, too" 0 berth start nosuch --help
check_status "help of an unknown verb: 2" 2 berth help nosuch
check_output_contains "the options before the verb are in the top-level help" "--root DIR" berth --help
# The man page names every verb and every long option of the help.
man_page=$BERTH_SRCDIR/man/berth.1.scd
if [ -f "$man_page" ]; then
        missing=""
        for v in "${verbs[@]}"; do
                grep -q "^\*$v\*" "$man_page" || missing+=" $v"
                for o in $(berth __complete options "$v" | grep '^--'); do
                        o=${o%=}
                        grep -qF -- "*$o*" "$man_page" || missing+=" $v:$o"
                done
        done
        check_eq "berth(1) has every verb and option of the help" "" "$missing"
fi

# --- --json only where there is JSON ---------------------------------------------------
check_status "--json for a verb without JSON output: exit 2" 2 berth --json stop nosuch
check_output_contains "... says which verbs have it" "^berth stop: --json: this verb has no JSON output" \
        berth --json stop nosuch
check_status "--json of list is taken" 0 berth --json list

# --- did you mean -------------------------------------------------------------------------
check_status "berth strat: usage status" 2 berth strat
check_output_contains "... did you mean 'start'" "unknown verb 'strat'; did you mean 'start'\?" berth strat
check_output_contains "berth frobnicate: no guess" "unknown verb 'frobnicate'\.$" berth frobnicate
check_status "a mistyped long option: usage status" 2 berth start --wiat m
check_output_contains "... did you mean '--wait'" "^berth start: unknown option '--wiat'; did you mean '--wait'\?" \
        berth start --wiat m
check_output_contains "... and the usage and where help is" "See 'berth start --help'" berth start --wiat m
check_output_contains "a long option with one dash: did you mean" "unknown option '-force'; did you mean '--force'\?" \
        berth rm -force m
check_output_contains "a missing argument says so, prefixed" "^berth stop: missing NAME\." berth stop
check_output_contains "an option without its value" "option '--timeout' needs an argument" berth stop m --timeout
check_output_contains "a value for a flag" "option '--wait' takes no value" berth start --wait=yes m
check_status "a mistyped option of exec: 2" 2 berth exec --usre x m -- true

# --- the exit-code table: no machine, not running --------------------------------------------
for v in start stop kill reboot status logs console rm; do
        check_status "$v of no such machine: 4" 4 berth "$v" nosuch
done
check_status "exec of no such machine: 4" 4 berth exec nosuch -- true
check_status "shell of no such machine: 4" 4 berth shell nosuch true
check "create a busybox machine" berth create m --template busybox
check_status "exec of a stopped machine: 3" 3 berth exec m -- true
check_status "shell of a stopped machine: 3" 3 berth shell m true
check_status "console of a stopped machine: 3" 3 berth console m
check_status "kill of a stopped machine: 3" 3 berth kill m
check_status "reboot of a stopped machine: 3" 3 berth reboot m
check_status "set --runtime of a stopped machine: 3" 3 berth set m --runtime MemoryMax=300M
check_status "status of a stopped machine: 3, as systemctl's" 3 berth status m
check_status "status --json of a stopped machine: 0 (it printed what was asked)" 0 berth status --json m
check_status "start --wait with the option after the name" 0 berth start m --wait
check "it runs" is_running m

# --- options anywhere before "--"; the command starts after the machine ------------------------
check_status "exec's command's own status: 7" 7 berth exec m sh -c 'exit 7'
check_status "a command that is not there: 127" 127 berth exec m -- /no/such/command
check_status "a command that cannot be executed: 126" 126 berth exec m -- /etc/passwd
check_eq "exec NAME ls -l: -l is the command's" "-rw-r--r--" \
        "$(berth exec m ls -l /etc/passwd | cut -c1-10)"
check_eq "exec --cwd after the name is berth's" "/etc" "$(berth exec m --cwd /etc -- pwd)"
if command -v script >/dev/null; then
        script -qec "'$BERTH' exec m -t -- sh -c 'tty; exit 5'" /dev/null </dev/null >"$TEST_TMP/script.out" 2>&1
        rc=$?
        check_eq "exec NAME -t -- CMD: exit status 5 through the pty" 5 "$rc"
        check_output_contains "... and -t gave the command a pty" "^/dev/pts/[0-9]" cat "$TEST_TMP/script.out"
fi
if [ -d /sys/fs/cgroup/pids ]; then pids=/sys/fs/cgroup/pids; else pids=$(findmnt -no TARGET -t cgroup2 | head -1); fi
check "set NAME --runtime K=V" berth set m --runtime TasksMax=321
check_eq "... changed it live" "321" "$(cat "$pids/berth/$(cgroup_name m)/pids.max" 2>/dev/null)"
check "stop NAME --timeout S" berth stop m --timeout 10
check "it is stopped" is_stopped m
check_status "run SOURCE CMD: the command's status" 3 berth run m sh -c 'exit 3'
check_status "run of no such source: 4" 4 berth run nosuch-source -- true

# --- bash and zsh completion, typed into a terminal ----------------------------------------------
# The completions call "berth": this one, first in PATH.  Machine m is
# stopped, machine up runs.
bindir=$TEST_TMP/bin
mkdir -p "$bindir"
ln -s "$BERTH" "$bindir/berth"
check "create a second machine, to be started" berth create up --template busybox
check "start it" berth start up
export TMUX_TMPDIR=$TEST_TMP
S=berth-cli-$$
screen() { tmux capture-pane -p -t "$S" 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
type_keys() { tmux send-keys -t "$S" "$@"; }
# typed_completion SHELL COMMAND SETUP: COMMAND (an interactive shell) in a
# tmux session, SETUP typed into it, then the keys a person would press.
typed_completion() {
        local sh=$1 cmd=$2 setup=$3
        tmux new-session -d -s "$S" -x 120 -y 30 \
                "env -i HOME=$TEST_TMP TERM=xterm PATH=$bindir:/usr/sbin:/usr/bin:/sbin:/bin BERTH_ROOT=$BERTH_ROOT \
                 BERTH_MODE=direct $cmd"
        type_keys "PS1='prompt> '" Enter
        type_keys "$setup" Enter
        type_keys 'clear' Enter
        check "$sh: a shell prompt" wait_for 10 screen_has '^prompt> ?$'
        type_keys 'berth star' Tab
        check "$sh: berth star<TAB> completes 'start'" wait_for 5 screen_has 'prompt> berth start ?$'
        type_keys C-u 'berth sta' Tab Tab
        check "$sh: berth sta<TAB><TAB> offers start and status" wait_for 5 \
                sh -c "tmux capture-pane -p -t '$S' | grep -q 'start' && tmux capture-pane -p -t '$S' | grep -q 'status'"
        type_keys C-u C-c 'clear' Enter
        type_keys 'berth start --wa' Tab
        check "$sh: berth start --wa<TAB> completes '--wait'" wait_for 5 screen_has 'prompt> berth start --wait ?$'
        type_keys C-u 'clear' Enter
        type_keys 'berth start ' Tab
        check "$sh: berth start <TAB> offers the stopped machine 'm'" wait_for 5 screen_has 'prompt> berth start m ?$'
        type_keys C-u 'clear' Enter
        type_keys 'berth exec ' Tab
        check "$sh: berth exec <TAB> offers the running machine 'up'" wait_for 5 \
                screen_has 'prompt> berth exec up ?$'
        type_keys C-u 'clear' Enter
        type_keys 'berth stop --timeout 5 ' Tab
        check "$sh: an option's argument does not count as the machine" wait_for 5 \
                screen_has 'prompt> berth stop --timeout 5 up ?$'
        type_keys C-u 'clear' Enter
        tmux kill-session -t "$S" 2>/dev/null
}
if ! command -v tmux >/dev/null; then
        ok "# SKIP tmux is not installed"
else
        typed_completion bash "bash --norc --noprofile -i" "source '$BERTH_SRCDIR/completions/berth.bash'"
        if command -v zsh >/dev/null; then
                typed_completion zsh "zsh -f -i" \
                        "fpath=('$BERTH_SRCDIR/completions' \$fpath); autoload -Uz compinit; compinit -u -D"
        else
                ok "# SKIP zsh is not installed"
        fi
fi

# --- fish completion, asked with complete -C ----------------------------------------------
fishcomp=$BERTH_SRCDIR/completions/berth.fish
if ! command -v fish >/dev/null; then
        ok "# SKIP fish is not installed"
else
        fish_complete() {
                env -i HOME="$TEST_TMP" PATH="$bindir:/usr/sbin:/usr/bin:/sbin:/bin" BERTH_ROOT="$BERTH_ROOT" \
                        BERTH_MODE=direct fish --no-config -c "source '$fishcomp'; complete -C '$1'" | cut -f1 | sort | xargs
        }
        check_eq "fish: berth sta<TAB>" "start status" "$(fish_complete 'berth sta')"
        check_eq "fish: berth start --wa<TAB>" "--wait" "$(fish_complete 'berth start --wa')"
        check_eq "fish: berth start <TAB>: the stopped machine" "m" "$(fish_complete 'berth start ')"
        check_eq "fish: berth exec <TAB>: the running machine" "up" "$(fish_complete 'berth exec ')"
        check_eq "fish: berth stop --timeout 5 <TAB>" "up" "$(fish_complete 'berth stop --timeout 5 ')"
        check_eq "fish: nothing after the machine of exec but options" "" "$(fish_complete 'berth exec up ls ')"
        check_eq "fish: berth help exe<TAB>" "exec" "$(fish_complete 'berth help exe')"
fi

done_testing
