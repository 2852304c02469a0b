#!/bin/bash
# berth without root, part two (README "Without root"): binds of the user's
# own directories and files into the user's machines (--bind, --bind-ro,
# [Files] Bind=), with the ownership the README states (the user's files are
# UID 65536 inside; what the machine's root makes is the machine root's,
# host UID = the machine's range base); binds of what the user cannot read
# and through symlinks refused; `set` on the user's machines; a SIGKILLed
# supervisor leaves no pasta; signals to `berth exec` reach the command.
# A mount namespace of its own, as test-rootless.sh: a /dev/net/tun the user
# may open is bound over the host's for this test alone.
if [ -z "${BERTH_RL_MNTNS:-}" ]; then
        export BERTH_RL_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rootless.sh"

cleanup_rlb() {
        rootless_cleanup
        cleanup
}
trap cleanup_rlb EXIT
rootless_user berth-rlb 1 || { not_ok "useradd"; done_testing; }
rootless_add_ranges
base_of() { sed -n 's/^UID_BASE=//p' "$STATE/machines/$1/idmap"; }
state_of() { ub list --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }
no_user_process() { ! pgrep -U "$UID_U" >/dev/null; }
# as the user, outside berth
asu() { setpriv --reuid "$U" --regid "$U" --init-groups -- "$@"; }

check "create a (busybox, no network)" ub create a --template busybox --set Network.Mode=none
ba=$(base_of a)

# --- what the user binds --------------------------------------------------------
DATA=$UHOME/data
asu mkdir -p "$DATA/sub" "$UHOME/ro"
asu sh -c "echo user-file >'$DATA/mine'; echo ro-file >'$UHOME/ro/f'; echo single >'$UHOME/single'"
asu chmod 600 "$DATA/mine"
# A directory of root's the user may not read, one the user may pass
# through but not list, and a symlink of the user's to its own data dir.
PRIV=$UDIR/private && mkdir -m 0700 "$PRIV" && echo root-secret >"$PRIV/s"
asu ln -s "$DATA" "$UHOME/datalink"

# --- refusals: nothing starts ---------------------------------------------------
check_output_contains "a bind of a dir the user cannot read is refused" "you can read yourself" \
        ub start a --bind "$PRIV:/mnt"
check_eq "and a did not start" "stopped" "$(state_of a)"
check_output_contains "a bind of a file the user cannot read (/etc/shadow) is refused" "you can read yourself" \
        ub start a --bind /etc/shadow:/shadow
check_output_contains "a symlink as SRC is refused" "symlink" ub start a --bind "$UHOME/datalink:/mnt"
check_output_contains "a SRC whose path goes through a symlink is refused" "symlink" \
        ub start a --bind "$UHOME/datalink/sub:/mnt"
check_output_contains "the idmap option needs root, said" "needs root" ub start a --bind "$DATA:/mnt:idmap"
check_output_contains "norbind needs root, said" "norbind needs root" ub start a --bind "$DATA:/mnt:norbind"
check_output_contains "a missing SRC is refused" "existing file or directory" ub start a --bind "$UHOME/nope:/mnt"
check_eq "a is still stopped, nothing made in it" "stopped " \
        "$(state_of a) $(ls "$STATE/machines/a/rootfs/mnt" 2>/dev/null)"
wait_for 10 no_user_process

# --- a bind at start, and a read-only one ---------------------------------------------------
check "start a with a bind of the user's dir, a read-only one and a file" \
        ub start a --bind "$DATA:/data" --bind-ro "$UHOME/ro:/ro" --bind "$UHOME/single:/etc/single"
check_eq "a runs" "running" "$(state_of a)"
check_eq "the user's files are UID/GID 65536 inside" "65536:65536 65536:65536" \
        "$(ub exec a -- stat -c %u:%g /data /data/mine | xargs)"
check_eq "the machine's root reads the user's 0600 file" "user-file" "$(ub exec a -- cat /data/mine)"
check "the machine's root writes it" ub exec a -- sh -c 'echo changed-inside >>/data/mine'
check_eq "the change is in the user's file on the host, still the user's" "changed-inside $U 600" \
        "$(tail -n 1 "$DATA/mine") $(stat -c '%U %a' "$DATA/mine")"
check "the machine's root makes a file in the bind" ub exec a -- sh -c 'echo from-root >/data/by-root'
check_eq "on the host it is the machine root's (host UID = a's range base)" "$ba:$ba" \
        "$(stat -c %u:%g "$DATA/by-root")"
check_eq "the user reads it on the host" "from-root" "$(asu cat "$DATA/by-root")"
check "and may remove it (the directory is the user's)" asu rm "$DATA/by-root"
check "as UID 65536 inside a process makes a file" ub exec --user 65536 a -- sh -c 'echo as-user >/data/by-65536'
check_eq "on the host it is the user's own" "$U:$U as-user" \
        "$(stat -c %U:%G "$DATA/by-65536") $(cat "$DATA/by-65536")"
check "the machine's root hands a file to the user with chown 65536" \
        ub exec a -- sh -c 'echo handed >/data/handed && chown 65536:65536 /data/handed'
check_eq "it is the user's on the host" "$U:$U" "$(stat -c %U:%G "$DATA/handed")"
check_eq "the read-only bind is readable" "ro-file" "$(ub exec a -- cat /ro/f)"
check_fails "the read-only bind cannot be written" ub exec a -- sh -c 'echo x >/ro/new'
check_eq "nothing was made there" "f" "$(ls "$UHOME/ro" | xargs)"
check_eq "the bound file is there" "single" "$(ub exec a -- cat /etc/single)"
check_eq "status lists the binds" "3" "$(ub status --json a | jq '.binds | length')"
check "stop a" ub stop a
wait_for 10 no_user_process

# [Files] Bind= in the machine's configuration, through `set`.
check "set a Files.Bind= as the user" ub set a "Files.Bind=$DATA:/cfgdata"
check_eq "it is in machine.conf" "Bind=$DATA:/cfgdata" "$(grep -x "Bind=.*" "$STATE/machines/a/machine.conf")"
check "start a" ub start a
check_eq "the configured bind is there" "as-user" "$(ub exec a -- cat /cfgdata/by-65536)"
check "stop a" ub stop a
wait_for 10 no_user_process
check "set a symlinked Files.Bind= (checked at start)" ub set a "Files.Bind=$UHOME/datalink:/cfgdata"
check_output_contains "then start refuses it" "symlink" ub start a
check_eq "a is stopped" "stopped" "$(state_of a)"
check "set Files.Bind= back to nothing" ub set a "Files.Bind="

done_testing
