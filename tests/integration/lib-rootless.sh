# Sourced by the tests of berth without root (after lib.sh): a user made
# for the test, with subordinate ID ranges no other line of /etc/subuid and
# /etc/subgid holds, its own home and runtime dir, and `ub` to run berth as
# that user with a clean environment.
#
#   rootless_user PREFIX [RANGES]   make the user, choose its ranges (RANGES x
#                                   65536 IDs, default 2)
#   rootless_add_ranges             give the user those ranges
#   ub ARGS...                      berth as the user
#   rootless_cleanup                kill what runs as the user, remove it all
#   system_listing                  what is under the system's state, with
#                                   owner and times (the host-wide UID registry
#                                   excepted: other roots' creates change it)
#
# Sets U, UID_U, UDIR (home and runtime dir's parent, 0755), UHOME, URUN
# (0700, the user's), STATE (the user's state root), START and END (the
# ranges' first and last ID).

# The end of the last range either file holds.
rootless_last_end() { awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print m + 0 }' /etc/subuid /etc/subgid; }

rootless_user() {
        local ranges=${2:-2}
        U=$1$$
        UDIR=$(mktemp -d /var/tmp/"$1".XXXXXX)
        chmod 755 "$UDIR"
        UHOME=$UDIR/home
        URUN=$UDIR/run
        STATE=$UHOME/.local/share/berth
        # Past every range there now; unaligned on purpose, as useradd's 100000.
        START=$(( ($(rootless_last_end) / 65536 + 16) * 65536 + 1000 ))
        END=$((START + ranges * 65536 - 1))
        # No range of its own from useradd: the test says which it has.
        useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -d "$UHOME" -m -s /bin/sh "$U" || return 1
        UID_U=$(id -u "$U")
        mkdir -m 0700 "$URUN"
        chown "$U:" "$URUN"
}

rootless_add_ranges() { usermod --add-subuids "$START-$END" --add-subgids "$START-$END" "$U"; }

ub() {
        setpriv --reuid "$U" --regid "$U" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                HOME="$UHOME" XDG_RUNTIME_DIR="$URUN" BERTH_TEMPLATE_DIR="$BERTH_TEMPLATE_DIR" \
                BERTH_UNPACK="$BERTH_UNPACK" BERTH_IMPORT="$BERTH_IMPORT" BERTH_MACHINED="$BERTH_MACHINED" \
                ${BERTH_PULL:+"BERTH_PULL=$BERTH_PULL"} ${BERTH_EXPORT:+"BERTH_EXPORT=$BERTH_EXPORT"} ${UENV:-} \
                "$BERTH" "$@"
}

rootless_cleanup() {
        local p
        # Whatever still runs as the test's user (a failed stop).
        [ -n "${UID_U:-}" ] && for p in $(pgrep -U "$UID_U"); do kill -9 "$p" 2>/dev/null; done
        [ -n "${U:-}" ] && usermod --del-subuids "$START-$END" --del-subgids "$START-$END" "$U" >/dev/null 2>&1
        [ -n "${U:-}" ] && userdel -r -f "$U" >/dev/null 2>&1
        [ -n "${UDIR:-}" ] && rm -rf --one-file-system "$UDIR"
}

system_listing() {
        find /var/lib/berth /run/berth -path /var/lib/berth/uid-ranges -prune -o \
                -printf '%p %y %U %m %s %T@ %C@\n' 2>/dev/null | sort
}
