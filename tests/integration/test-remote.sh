#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth -H HOST: verbs run on another host over ssh.  The "remote host" is
# an sshd of the test's own, in a network namespace of its own behind a veth
# pair, whose berth keeps a second state root: what is made there is not in
# the local root, and what the remote berth receives is byte for byte what
# was typed here.
. "$(dirname "$0")/lib.sh"

for p in /usr/sbin/sshd ssh ssh-keygen script tmux; do
        command -v "$p" >/dev/null || { ok "# SKIP $p is not installed (openssh-server, openssh-client, tmux)"; done_testing; }
done
# With UsePAM no, sshd refuses a locked account ("!" in /etc/shadow).
if grep -q '^root:!' /etc/shadow; then ok "# SKIP root's account is locked; sshd without PAM refuses it"; done_testing; fi

R=$TEST_TMP/remote
mkdir -p "$R"
REMOTE_ROOT=$(mktemp -d /var/tmp/berth-test-remote.XXXXXX)
if [ -n "${BERTH_TEST_CACHE:-}" ]; then
        mkdir -p "$REMOTE_ROOT/images"
        ln -s "$BERTH_TEST_CACHE" "$REMOTE_ROOT/images/templates"
fi
LOCAL_ADDR=10.213.77.1
REMOTE_ADDR=10.213.77.2
PORT=2222
HOST=root@$REMOTE_ADDR:$PORT

# The remote berth: this build, the second state root, direct mode, and
# whatever sanitizer settings the test runs with.
remote_env=(env BERTH_ROOT="$REMOTE_ROOT" BERTH_MODE=direct BERTH_MACHINED="$BERTH_MACHINED"
            BERTH_UNPACK="$BERTH_UNPACK" BERTH_IMPORT="$BERTH_IMPORT" BERTH_PULL="$BERTH_PULL"
            BERTH_EXPORT="$BERTH_EXPORT" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR")
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [ -n "${!v:-}" ] && remote_env+=("$v=${!v}")
done
remote_berth() { "${remote_env[@]}" "$BERTH" "$@"; }
export BERTH_REMOTE_COMMAND
BERTH_REMOTE_COMMAND="$(printf '%q ' "${remote_env[@]}" "$BERTH")"

NSPID=
remote_cleanup() {
        local m
        for m in $(remote_berth list --json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do
                remote_berth kill "$m" >/dev/null 2>&1
        done
        pkill -9 -f "berth-machined --root $REMOTE_ROOT " 2>/dev/null
        [ -s "$R/sshd.pid" ] && kill "$(cat "$R/sshd.pid")" 2>/dev/null
        if [ -n "$NSPID" ]; then
                nsenter --net=/proc/"$NSPID"/ns/net -- "${remote_env[@]}" "$BERTH" gc >/dev/null 2>&1
                kill "$NSPID" 2>/dev/null
                wait "$NSPID" 2>/dev/null
        fi
        rm -rf --one-file-system "$REMOTE_ROOT"
        cleanup
}
trap remote_cleanup EXIT

# --- the remote host: a netns behind a veth pair, with its own sshd ------------
unshare --net -- sleep infinity &
NSPID=$!
wait_for 5 test "$(readlink /proc/$NSPID/ns/net)" != "$(readlink /proc/self/ns/net)"
in_remote() { nsenter --net=/proc/"$NSPID"/ns/net -- "$@"; }
ip link add rmt0 type veth peer name rmt1
ip link set rmt1 netns "$NSPID"
ip addr add "$LOCAL_ADDR/24" dev rmt0
ip link set rmt0 up
in_remote ip link set lo up
in_remote ip addr add "$REMOTE_ADDR/24" dev rmt1
in_remote ip link set rmt1 up

ssh-keygen -q -t ed25519 -N '' -f "$R/host_key" -C berth-test-host
ssh-keygen -q -t ed25519 -N '' -f "$R/id" -C berth-test-client
cp "$R/id.pub" "$R/authorized_keys"
cat >"$R/sshd_config" <<CONF
Port $PORT
ListenAddress $REMOTE_ADDR
HostKey $R/host_key
PidFile $R/sshd.pid
AuthorizedKeysFile $R/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
# A remote login whose environment has BERTH_HOST: the remote berth must
# not go out over ssh again (here it would fail: nothing listens there).
SetEnv BERTH_HOST=root@127.0.0.1:1
CONF
cat >"$R/ssh_config" <<CONF
Host *
        IdentityFile $R/id
        IdentitiesOnly yes
        UserKnownHostsFile /dev/null
        StrictHostKeyChecking no
        GlobalKnownHostsFile /dev/null
        BatchMode yes
        ConnectTimeout 5
        LogLevel ERROR
CONF
# The system's ssh with the test's keys: $BERTH_SSH names the program.
cat >"$R/ssh" <<CONF
#!/bin/sh
exec ssh -F '$R/ssh_config' "\$@"
CONF
chmod 0755 "$R/ssh"
export BERTH_SSH=$R/ssh
# sshd wants its privilege separation directory at every connection.  It
# stays when the test ends (as the openssh-server package's tmpfiles.d
# makes it): removed, another sshd on this host, or another run of this
# test, would reset every connection from then on.
mkdir -p /run/sshd
in_remote /usr/sbin/sshd -D -f "$R/sshd_config" -E "$R/sshd.log" &
check "sshd listens in the remote namespace" wait_for 10 "$R/ssh" -p "$PORT" "root@$REMOTE_ADDR" true
[ "$_failed" -eq 0 ] || { sed 's/^/# sshd: /' "$R/sshd.log"; done_testing; }

# --- verbs ------------------------------------------------------------------------
check_eq "the remote login's environment has a BERTH_HOST" "root@127.0.0.1:1" \
        "$("$R/ssh" -p "$PORT" "root@$REMOTE_ADDR" 'echo $BERTH_HOST' </dev/null)"
check_eq "list on the remote host: its empty root (its BERTH_HOST not followed)" "[]" \
        "$(berth -H "$HOST" --json list 2>&1)"
check_status "-H '' is refused (2), not run on this host" 2 berth -H '' list
check_status "... --host= too" 2 berth --host= list
check_output_contains "... saying so" "-H \(--host\) is empty" berth -H '' list
check_eq "an empty \$BERTH_HOST means this host" "[]" "$(BERTH_HOST= berth list --json)"
# ssh must not read the caller's stdin for a verb that does not.
n=0
while read -r _; do
        berth -H "$HOST" list >/dev/null
        n=$((n + 1))
done < <(printf 'a\nb\nc\n')
check_eq "a loop over stdin running berth -H list runs once per line" 3 "$n"
check "create --template busybox remotely" berth -H "$HOST" create --template busybox rm1
# The completion asks the remote berth (through -H) for machine names.
complete_words() { bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berth; echo "${COMPREPLY[*]}"' \
        _ "$BERTH_SRCDIR/completions/berth.bash" "$@"; }
check_eq "bash completion: berth --ho<TAB>" "--host" "$(complete_words "$BERTH" --ho)"
check_eq "bash completion: berth -H HOST start <TAB>: the remote stopped machine" "rm1" \
        "$(complete_words "$BERTH" -H "$HOST" start '')"
# ...with no stdin and no questions from ssh, and not for long.
cat >"$R/log-ssh" <<CONF
#!/bin/sh
{ readlink /proc/self/fd/0; echo "\$*"; } >'$R/ssh.log'
exec '$R/ssh' "\$@"
CONF
cat >"$R/hung-ssh" <<CONF
#!/bin/sh
exec sleep 60
CONF
chmod 0755 "$R/log-ssh" "$R/hung-ssh"
check_eq "bash completion through a logging ssh" "rm1" \
        "$(BERTH_SSH=$R/log-ssh complete_words "$BERTH" -H "$HOST" start '')"
check_eq "... its ssh had /dev/null as stdin" /dev/null "$(head -n 1 "$R/ssh.log")"
check_output_contains "... and -o BatchMode=yes" "-o BatchMode=yes" cat "$R/ssh.log"
t0=$SECONDS
BERTH_SSH=$R/hung-ssh complete_words "$BERTH" -H "$HOST" start '' >/dev/null
check "a hung ssh holds the completion up 5 seconds, not 60 ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 15
check "start it remotely" berth -H "$HOST" start rm1
check_eq "the remote list shows it running" "running" \
        "$(berth -H "$HOST" list --json | jq -r '.[] | select(.name == "rm1") | .state')"
check_eq "it is in the remote state root" "rm1" "$(remote_berth list --json | jq -r '.[].name')"
check_eq "the local root does not have it" "[]" "$(berth list --json)"
check_status "status of it locally: no such machine (4)" 4 berth status rm1
check_eq "BERTH_HOST sets the default host" "rm1" "$(BERTH_HOST=$HOST berth list --json | jq -r '.[].name')"
check_eq "--root passes through to the remote berth" "[]" \
        "$(berth -H "$HOST" --root "$R/other-root" list --json)"

check_status "exec: the remote command's status (7)" 7 berth -H "$HOST" exec rm1 -- sh -c 'exit 7'
check_status "exec of a missing command: 127" 127 berth -H "$HOST" exec rm1 -- /no/such/command
check_eq "exec -i with stdin" "hello over ssh" "$(echo 'hello over ssh' | berth -H "$HOST" exec -i rm1 -- cat)"

canary=$TEST_TMP/canary
hostile=("\$(touch $canary)" "\`touch $canary\`" "; touch $canary" "a'b\"c" "two words" $'line1\nline2'
         '' '*' '~' '$HOME' 'back\slash' '-n' "' ; touch $canary ; '" $'\t')
printf '%s\n' "${hostile[@]}" >"$TEST_TMP/want"
berth -H "$HOST" exec rm1 -- printf '%s\n' "${hostile[@]}" >"$TEST_TMP/got" 2>&1
check "hostile arguments arrive verbatim" cmp "$TEST_TMP/want" "$TEST_TMP/got"
check "... and none was run by a shell" test ! -e "$canary"
check_status "a host that would be an ssh option is refused (2)" 2 berth -H "-oProxyCommand=touch $canary" list
check_status "... a host with whitespace too (2)" 2 berth -H "$REMOTE_ADDR ls" list
check "... and nothing ran" test ! -e "$canary"

# --- cp over the connection ---------------------------------------------------------
head -c 300000 /dev/urandom >"$TEST_TMP/blob"
check "cp a local file to the remote machine" berth -H "$HOST" cp "$TEST_TMP/blob" rm1:/tmp/blob
check_eq "it arrived whole" "$(sha256sum <"$TEST_TMP/blob")" \
        "$(berth -H "$HOST" exec rm1 -- cat /tmp/blob | sha256sum)"
mkdir -p "$TEST_TMP/tree/sub"
echo one >"$TEST_TMP/tree/one"
echo two >"$TEST_TMP/tree/sub/two"
ln -s one "$TEST_TMP/tree/link"
chmod 0750 "$TEST_TMP/tree/sub"
check "cp a local tree into a remote directory" berth -H "$HOST" cp "$TEST_TMP/tree" rm1:/tmp/
check_eq "the tree arrived" "two" "$(berth -H "$HOST" exec rm1 -- cat /tmp/tree/sub/two)"
check "cp the file back from the remote machine" berth -H "$HOST" cp rm1:/tmp/blob "$TEST_TMP/blob.back"
check "same content both ways" cmp "$TEST_TMP/blob" "$TEST_TMP/blob.back"
mkdir "$TEST_TMP/into"
check "cp the tree back into a local directory" berth -H "$HOST" cp rm1:/tmp/tree "$TEST_TMP/into"
check "the tree came back the same (content, symlink)" diff -r --no-dereference "$TEST_TMP/tree" "$TEST_TMP/into/tree"
check_eq "... with its mode" "750" "$(stat -c %a "$TEST_TMP/into/tree/sub")"
check_fails "cp of a missing remote file fails" berth -H "$HOST" cp rm1:/tmp/nothing "$TEST_TMP/nothing"
check "... and leaves nothing locally" test ! -e "$TEST_TMP/nothing"
check_fails "cp of a missing local file fails" berth -H "$HOST" cp "$TEST_TMP/nothing" rm1:/tmp/x
check "cp - NAME:PATH takes a tar on stdin" \
        sh -c "tar -C '$TEST_TMP' -cf - ./blob | '$BERTH' -H '$HOST' cp - rm1:/tmp/from-tar"
check_eq "... and it arrived" "$(sha256sum <"$TEST_TMP/blob")" \
        "$(berth -H "$HOST" exec rm1 -- cat /tmp/from-tar | sha256sum)"
check_eq "cp NAME:PATH - writes a tar to stdout" "./tree/sub/two" \
        "$(berth -H "$HOST" cp rm1:/tmp/tree - | tar -t | grep sub/two)"
check_status "cp NAME:PATH - onto a terminal is refused here (2)" 2 \
        script -qec "'$BERTH' -H '$HOST' cp rm1:/tmp/blob -" /dev/null
check_output_contains "... saying why, before any tar is written" "stdout, which is a terminal" \
        script -qec "'$BERTH' -H '$HOST' cp rm1:/tmp/blob -" /dev/null

# A cp killed mid-copy leaves its locked staging directory; gc removes it
# once the lock is free.  A slow ssh keeps the copy going long enough.
stage=$TEST_TMP/stage
mkdir "$stage"
cat >"$R/slow-ssh" <<CONF
#!/bin/sh
sleep 2
exec '$R/ssh' "\$@"
CONF
chmod 0755 "$R/slow-ssh"
TMPDIR=$stage BERTH_SSH=$R/slow-ssh "$BERTH" -H "$HOST" cp rm1:/tmp/blob "$TEST_TMP/killed" 2>/dev/null &
cp_pid=$!
check "a cp over -H stages in \$TMPDIR/berth-cp-*" wait_for 10 sh -c "ls -d '$stage'/berth-cp-* >/dev/null 2>&1"
check "... locked while the copy runs: gc leaves it" sh -c "TMPDIR='$stage' '$BERTH' gc >/dev/null && ls -d '$stage'/berth-cp-*"
kill -TERM "$cp_pid"
wait "$cp_pid" 2>/dev/null
check "killed by SIGTERM, it left the staging directory" sh -c "ls -d '$stage'/berth-cp-* >/dev/null 2>&1"
check_output_contains "gc removes it" "Removed .*berth-cp-" env TMPDIR="$stage" "$BERTH" gc
check_eq "... and nothing is left" "" "$(ls -A "$stage")"
check "... nor the copy's destination" test ! -e "$TEST_TMP/killed"

# --- a pty through ssh: shell, exec -t, and ^C ------------------------------------
check_output_contains "exec -t gets a pty on the remote side" '/dev/pts/' \
        script -qec "'$BERTH' -H '$HOST' exec -t rm1 -- tty" /dev/null
check_output_contains "exec without -t has none" 'not a tty' berth -H "$HOST" exec rm1 -- tty
export TMUX_TMPDIR=$TEST_TMP
S=berth-remote-$$
screen() { tmux capture-pane -p -t "$S" -S - 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
type_keys() { tmux send-keys -t "$S" "$@"; }
printf 'export BERTH_SSH=%q BERTH_REMOTE_COMMAND=%q\n' "$BERTH_SSH" "$BERTH_REMOTE_COMMAND" >"$R/env.sh"
tmux new-session -d -s "$S" -x 200 -y 50 "PS1='$ ' bash --norc"
tmux set-option -t "$S" remain-on-exit on >/dev/null
wait_for 10 screen_has '^\$ '
type_keys ". '$R/env.sh'" Enter
type_keys "'$BERTH' -H '$HOST' shell rm1; echo shell-exit=\$?" Enter
check "shell on the remote machine: a prompt" wait_for 20 screen_has '^rm1:.*[$#] ?$'
type_keys 'tty; echo in-guest-$((6*7)); exit 5' Enter
check "the shell runs on a pty there" wait_for 10 screen_has '^/dev/pts/'
check "what was typed ran in the guest" wait_for 10 screen_has '^in-guest-42'
check "the shell's exit status comes back" wait_for 10 screen_has '^shell-exit=5'
type_keys "'$BERTH' -H '$HOST' exec -t rm1 -- sleep 60; echo sleep-exit=\$?" Enter
wait_for 10 sh -c "'$BERTH' -H '$HOST' exec rm1 -- pidof sleep"
type_keys C-c
check "^C reaches the remote command through the pty (130)" wait_for 15 screen_has 'sleep-exit=130'
# Without a pty ^C ends the local ssh only: berth says so, exits 130, and
# the remote command goes on (it is not sent a signal).
type_keys "'$BERTH' -H '$HOST' exec rm1 -- sleep 300; echo nopty-exit=\$?" Enter
wait_for 10 sh -c "'$BERTH' -H '$HOST' exec rm1 -- pidof sleep"
type_keys C-c
check "^C without a pty: 130" wait_for 15 screen_has 'nopty-exit=130'
check "... with a message that says what happened" screen_has 'Interrupted: ssh ended'
check "... and the remote command still runs" berth -H "$HOST" exec rm1 -- pidof sleep
berth -H "$HOST" exec rm1 -- killall sleep >/dev/null 2>&1
[ "$_failed" -eq 0 ] || screen | sed 's/^/#   | /'
tmux kill-server 2>/dev/null

# --- failures ---------------------------------------------------------------------
check_status "an unreachable host: status 1" 1 berth -H "root@$REMOTE_ADDR:$((PORT + 1))" list
check_output_contains "... with a clear error" "berth -H .* list: ssh to .* failed \(status 255\)" \
        berth -H "root@$REMOTE_ADDR:$((PORT + 1))" list
check_status "... and 125 for a verb that runs a command" 125 \
        berth -H "root@$REMOTE_ADDR:$((PORT + 1))" exec rm1 -- true
check_status "a remote error keeps its status (no such machine: 4)" 4 berth -H "$HOST" start nosuch
check_output_contains "--help is answered locally" 'Usage: berth exec' \
        env BERTH_SSH=/bin/false "$BERTH" -H "$HOST" exec --help

check "stop it remotely" berth -H "$HOST" stop rm1
check "rm it remotely" berth -H "$HOST" rm rm1
check_eq "the remote root is empty again" "[]" "$(remote_berth list --json)"
done_testing
