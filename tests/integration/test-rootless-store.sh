#!/bin/bash
# The user image store's UID range and hostile images without root (README
# "Without root"): a user made for this test holds exactly ONE range of
# 65536 subordinate IDs.  Its image store takes that range only when a layer
# is unpacked and gives it back when its last layer goes (rmi, images prune
# --all), so that a failed pull or an emptied store never keeps the user
# from making a machine; pulls and a create --image racing a prune keep it
# consistent.  Images whose layers cross (a layer plants a symlink, a later
# one writes or whites out through it) are refused for the user, via
# import and via pull, with a clear error, and nothing outside the store is
# written: neither a sentinel the user owns nor one in /tmp.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

FIX="$(dirname "$0")/oci-fixtures.py"
W=$TEST_TMP/rl-store
mkdir -p "$W"
. "$(dirname "$0")/lib-registry.sh"
registry_tools docker-registry skopeo umoci curl python3 newuidmap

REG=127.0.0.1:5000
TMPCANARY=$(mktemp -d /tmp/berth-canary.XXXXXX)
trap 'stop_registries; rm -rf "$TMPCANARY"; rootless_cleanup; cleanup' EXIT
rootless_user berth-rls 1 || { not_ok "useradd"; done_testing; }
USTORE=$STATE/images
store_base() { sed -n 's/^UID_BASE=//p' "$USTORE/idmap" 2>/dev/null; }
base_of() { sed -n 's/^UID_BASE=//p' "$STATE/machines/$1/idmap" 2>/dev/null; }
# No range held by the store, none registered for it.
store_has_no_range() { [ ! -e "$USTORE/idmap" ] && ! entries | grep -q " $USTORE\$"; }
before=$(system_listing)

# --- images, pushed by root -------------------------------------------------
tree=$W/tree
mkdir -p "$tree" "$W/cache"
"$BERTH_TEMPLATE_DIR/busybox" --rootfs "$tree" --name img --cache-dir "$W/cache" >/dev/null
L=$W/layout
build_image() {
        umoci init --layout "$L" && umoci new --image "$L:empty" &&
                umoci insert --image "$L:empty" --tag bb "$tree" / &&
                umoci config --image "$L:bb" --config.cmd /sbin/init
}
check "build the busybox image with umoci" build_image
check "start a plain HTTP registry on $REG" start_registry plain $REG
check "root pushes it as bb:1" push "oci:$L:bb" "docker://$REG/bb:1"
check "... and as bb:2" push "oci:$L:bb" "docker://$REG/bb:2"
check "the admin gives the user exactly one range" rootless_add_ranges
check_eq "... of 65536 IDs" "$START 65536" "$(grep "^$U:" /etc/subuid | cut -d: -f2,3 | tr : ' ')"

# --- a failed pull takes no range ---------------------------------------------
check_output_contains "pull of an image the registry lacks: refused, saying so" "nosuch: manifest 1 not found" \
        ub pull $REG/nosuch:1
check "... the store holds no range" store_has_no_range
check_output_contains "pull from a registry that is down: refused, naming it" "127.0.0.1:5999" \
        ub pull 127.0.0.1:5999/bb:1
check "... the store holds no range" store_has_no_range
# --- nor does a failed build ---------------------------------------------------
# Its export helper fails after the build took the store's range for its tree.
failing_export() { BERTH_EXPORT=/bin/false ub "$@"; }
check_fails "images build busybox whose export fails: refused" failing_export images build busybox
check_eq "... nothing was stored" "" "$(ub images --json | jq -r '.[].reference')"
check_eq "... no build dir is left" "" "$(ls -A "$USTORE" | grep '^\.template-build\.' || true)"
check "... and the store holds no range" store_has_no_range
check "so the one range still makes a machine: create --template busybox" \
        ub create bb --template busybox --set Network.Mode=none
check_eq "... in the user's range" "$START" "$(base_of bb)"
check "start bb" ub start bb
check "stop bb" ub stop bb
check_output_contains "with bb on the only range, a pull is refused before fetching, saying why" \
        "taken by machines" ub pull $REG/bb:1
check_eq "... nothing was stored" "" "$(ub images --json | jq -r '.[].reference')"
check "... and the store holds no range" store_has_no_range
check "rm bb" ub rm bb

# --- the range is the store's while it has layers, and comes back ---------------
check "pull bb:1: the store claims the range for its layers" ub pull $REG/bb:1
check_eq "... the store's range is the user's one" "$START" "$(store_base)"
check_eq "... registered as the store's" "$(printf %08x "$START") $USTORE" "$(entries)"
check_output_contains "create --template now: refused, the range is taken" "taken by machines" \
        ub create bb --template busybox --set Network.Mode=none
check_eq "... no machine was made" "" "$(ls -A "$STATE/machines")"
check "create box --image bb:1: in the store's range" ub create box --image $REG/bb:1 --set Network.Mode=none
check_eq "... box boots in it" "$START" "$(base_of box)"
check "start box" ub start box
check_eq "box runs the image's busybox" 0 "$(ub exec box -- busybox true; echo $?)"
check "stop box" ub stop box
check "rmi --force bb:1 while box uses it" ub rmi --force $REG/bb:1
check_eq "... box keeps the range (its layers stay)" "$START" "$(store_base)"
check "... registered" entries
check "rm box: the last user of the last layer" ub rm box
check "... the range went back: no idmap, no registry entry" store_has_no_range
check_eq "... no layer left" "" "$(ls -A "$USTORE/layers" 2>&1)"
check "create bb --template busybox works again" ub create bb --template busybox --set Network.Mode=none
check "rm bb" ub rm bb

check "pull bb:1 again" ub pull $REG/bb:1
check_eq "... the store has the range again" "$START" "$(store_base)"
check "rmi of the last image" ub rmi $REG/bb:1
check "... gives the range back" store_has_no_range
check "pull bb:1 once more" ub pull $REG/bb:1
check "images prune (without --all) keeps the image and its range" ub images prune
check_eq "... kept" "$START" "$(store_base)"
check "images prune --all removes the image nothing was made from" ub images prune --all
check "... and gives the range back" store_has_no_range
check "create bb --template busybox works after the prune" ub create bb --template busybox --set Network.Mode=none
check "rm bb" ub rm bb

# --- races, under the store's locks -------------------------------------------------
two_pulls() {
        ub pull $REG/bb:1 >"$W/p1.out" 2>&1 &
        local p1=$!
        ub pull $REG/bb:2 >"$W/p2.out" 2>&1
        local s2=$?
        wait $p1 && [ $s2 = 0 ]
}
check "two pulls at once both succeed" two_pulls
check_eq "... one range for both, the user's" "$START" "$(store_base)"
check_eq "... both images listed" "$REG/bb:1 $REG/bb:2" "$(ub images --json | jq -r '.[].reference' | sort | xargs)"
check "rmi bb:2" ub rmi $REG/bb:2
check_eq "... one image left: the range stays" "$START" "$(store_base)"
# A create --image racing a prune --all: whichever takes the store's lock
# first wins; either way the range agrees with what is left.
race() {
        ub images prune --all >"$W/prune.out" 2>&1 &
        local pp=$!
        ub create box --image $REG/bb:1 --set Network.Mode=none >"$W/create.out" 2>&1
        local cs=$?
        wait $pp || return 1
        if [ $cs = 0 ]; then
                [ "$(base_of box)" = "$START" ] && [ "$(store_base)" = "$START" ] &&
                        entries | grep -q " $USTORE\$"
        else
                grep -q "No image $REG/bb:1 in the store" "$W/create.out" && store_has_no_range &&
                        [ -z "$(ls -A "$STATE/machines")" ]
        fi
}
check "create --image racing images prune --all: the range agrees with the outcome" race
if [ -d "$STATE/machines/box" ]; then
        check "start box (the create won)" ub start box
        check "stop box" ub stop box
        check "rm box" ub rm box
fi
check "images prune --all" ub images prune --all
check "... nothing is left, no range held" store_has_no_range

# --- layers that cross: a symlink planted by one, used by a later one ------------
CANARY=$UHOME/canary # the user may write here: an escape as the user would show
mkdir -m 0755 "$CANARY" && echo untouched >"$CANARY/canary" && chown -R "$U:" "$CANARY"
chmod 1777 "$TMPCANARY" && echo untouched >"$TMPCANARY/canary" && chown "$U:" "$TMPCANARY/canary"
listing() { (cd "$1" && find . -printf '%P|%y|%m|%U|%G|%s|%T@\n' | LC_ALL=C sort && cat canary); }
c1=$(listing "$CANARY") c2=$(listing "$TMPCANARY")
canaries_untouched() { [ "$(listing "$CANARY")" = "$c1" ] && [ "$(listing "$TMPCANARY")" = "$c2" ]; }
n=0
for t in "symlink-planted:through a symlink" "whiteout-symlink:through a symlink"; do
        kind=${t%%:*} msg=${t#*:}
        for target in "$CANARY" "$TMPCANARY"; do
                n=$((n + 1))
                where=$([ "$target" = "$CANARY" ] && echo "the user's sentinel" || echo "a sentinel in /tmp")
                lay=$UDIR/hostile-$n # where the user may read it
                python3 "$FIX" hostile "$kind" "$lay" "$target" && chmod -R a+rX "$lay"
                check_output_contains "$kind at $where: import refused, naming layer and entry" \
                        "layer 3/3 .*entry.*$msg" ub import evil "$lay"
                check_status "... exit 1" 1 ub import evil "$lay"
                check_eq "... no machine left" "" "$(ls -A "$STATE/machines")"
                check "... nothing outside the store written" canaries_untouched
                check "root pushes it" push "oci:$lay:t" "docker://$REG/hostile$n:1"
                check_output_contains "$kind at $where: pull refused, naming layer and entry" \
                        "layer 3/3 .*entry.*$msg" ub pull $REG/hostile$n:1
                check "... nothing outside the store written" canaries_untouched
                check_eq "... the image was not stored" "" "$(ub images --json | jq -r '.[].reference')"
                check "... and the store gave its range back" store_has_no_range
                check_output_contains "$kind at $where: pull REF NAME refused too" "$msg" \
                        ub pull $REG/hostile$n:1 evil
                check_eq "... no machine left" "" "$(ls -A "$STATE/machines")"
                check "... nothing outside the store written" canaries_untouched
                check_eq "... no symlink out of the layer store" "" \
                        "$(find "$USTORE" -type l -lname "$target*" -print -quit 2>&1)"
        done
done
check "rmi what the refused pulls left, if anything; images prune --all" ub images prune --all
check "the store holds no range at the end" store_has_no_range

# --- a template's image, built by the user ---------------------------------------------
# (Debian's: test-rootless-tree.sh, from its cached tarball, booted in unit mode)
TREF=localhost/berth/template/busybox:latest
check "images build busybox as the user" ub images build busybox
check_eq "... the image is in the user's store" "$TREF" "$(ub images --json | jq -r '.[].reference')"
check_eq "... its layer claimed the store's range, the user's one" "$START" "$(store_base)"
check_eq "... the blobs and the index are the user's" "" \
        "$(find "$USTORE/blobs" "$USTORE/index.json" ! -uid "$UID_U" -print -quit 2>&1)"
check_eq "... its layer's files the range's" "$START" \
        "$(stat -c %u "$(find "$USTORE/layers" -path '*/tree/bin/busybox' | head -n1)" 2>&1)"
check_eq "... no build dir left" "" "$(ls -A "$USTORE" | grep '^\.template-build')"
check "create tb --image $TREF" ub create tb --image $TREF --set Network.Mode=none
check_eq "... in the store's range" "$START" "$(base_of tb)"
check "start tb" ub start tb
check_eq "tb runs the template's busybox as its root" "0 0 0" \
        "$(ub exec tb -- sh -c 'id -u; stat -c "%u %g" /bin/busybox' 2>&1 | xargs)"
check_eq "tb is named tb" "tb" "$(ub exec tb -- hostname 2>&1)"
check "stop tb" ub stop tb
check "rm tb" ub rm tb
check "images build busybox again: a rebuild" ub images build busybox
check "rmi of the template's image" ub rmi $TREF
check "... gives the range back" store_has_no_range
check_eq "... no layer left" "" "$(ls -A "$USTORE/layers" 2>&1)"

# --- the system's state -------------------------------------------------------
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"

done_testing
