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
#   ub_online ARGS...               ub in the host's network namespace (lib.sh's
#                                   online), where the mirror is
#   rootless_debian_seed            give the user the run's Debian tarball, if the
#                                   test cache has one: sets SEEDED=yes|no
#   rootless_debian_keep            after the user's bootstrap, keep its tarball
#                                   in the test cache for the next test
#
# One Debian bootstrap per test run at most: the tarball is kept in the
# build dir's test cache (BERTH_TEST_CACHE/rootless, root's) and copied into
# a test user's cache (UCACHE), given to that user.
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

# The user's UID range registry, as "BASE-in-hex OWNER" lines.
entries() { (cd "$STATE/uid-ranges" 2>/dev/null && grep -H '^OWNER=' -- * 2>/dev/null | sed 's/:OWNER=/ /') | sort; }

system_listing() {
        find /var/lib/berth /run/berth -path /var/lib/berth/uid-ranges -prune -o \
                -printf '%p %y %U %m %s %T@ %C@\n' 2>/dev/null | sort
}

ub_online() {
        online bash -c "$(declare -f ub); $(declare -p U UHOME URUN BERTH BERTH_TEMPLATE_DIR BERTH_UNPACK \
                BERTH_IMPORT BERTH_MACHINED); ub \"\$@\"" ub "$@"
}

DEBIAN_KEY=debian-bookworm-$(dpkg --print-architecture)
TCACHE=${BERTH_TEST_CACHE:+$BERTH_TEST_CACHE/rootless}

rootless_debian_seed() {
        UCACHE=$STATE/images/templates
        SEEDED=no
        if [ -n "$TCACHE" ] && [ -s "$TCACHE/$DEBIAN_KEY.tar" ]; then
                install -d -o "$U" -g "$U" -m 0700 "$UHOME/.local" "$UHOME/.local/share" "$STATE" "$STATE/images" \
                        "$UCACHE"
                install -o "$U" -g "$U" -m 0600 "$TCACHE/$DEBIAN_KEY.tar" "$UCACHE/$DEBIAN_KEY.tar"
                SEEDED=yes
        fi
}

rootless_debian_keep() {
        # Root's copy, given to the next test's user then.
        if [ "$SEEDED" = no ] && [ -s "$UCACHE/$DEBIAN_KEY.tar" ] && [ -n "$TCACHE" ]; then
                mkdir -p "$TCACHE" && cp "$UCACHE/$DEBIAN_KEY.tar" "$TCACHE/.$DEBIAN_KEY.tar.$$" &&
                        mv -f "$TCACHE/.$DEBIAN_KEY.tar.$$" "$TCACHE/$DEBIAN_KEY.tar"
        fi
}
