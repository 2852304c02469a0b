#!/bin/bash
# clone --overlay without root (README "Without root"): a user made for this
# test, with ONE range of subordinate IDs, freezes a busybox machine's rootfs
# into a layer of that range; the clone shares the layer and the range, with
# an upper of its own, mounted in a mount namespace of the range's user
# namespace.  start, exec, cp, stop and rm work on both; snapshot --overlay
# freezes the clone's upper into a second layer of the range, restore puts
# it back; the layers stay while a machine or snapshot uses them and go with
# the last; the range stays registered while a machine has it and is free
# again after.  create --template --layered builds the template's image into
# the user's store, whose range the layered machines share; --refresh builds
# it anew while a machine of the old one still starts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

trap 'rootless_cleanup; cleanup' EXIT
rootless_user berth-rlo 1 || { not_ok "useradd"; done_testing; }
check "the admin gives the user one range" rootless_add_ranges
M=$STATE/machines
LAYERS=$STATE/images/layers
base_of() { sed -n 's/^UID_BASE=//p' "$M/$1/idmap" 2>/dev/null; }
before=$(system_listing)

check "create s --template busybox" ub create s --template busybox --set Network.Mode=none
check_eq "s has the user's one range" "$START" "$(base_of s)"
check "start s" ub start s
check "s writes a file of its own" ub exec s -- sh -c 'echo mine >/mark'
check_status "clone --overlay of a running machine: refused (1)" 1 ub clone --overlay s c
check "stop s" ub stop s

# --- the clone ------------------------------------------------------------------
check "clone --overlay s c (no second range needed)" ub clone --overlay s c
layer=$(cat "$M/c/layers" 2>/dev/null)
check "c stands on one layer" test -n "$layer" -a "$(echo "$layer" | wc -l)" = 1
check_eq "s stands on the same layer now" "$layer" "$(cat "$M/s/layers" 2>/dev/null)"
check_eq "c runs in s's range" "$START" "$(base_of c)"
check "both say they share it for good" test -e "$M/s/range-shared" -a -e "$M/c/range-shared"
check_eq "the layer names that range" "$START" "$(sed -n 's/^UID_BASE=//p' "$LAYERS/$layer/idmap" 2>/dev/null)"
check_eq "the layer's dir is the user's, its tree the range's root's" "$UID_U $START" \
        "$(stat -c %u "$LAYERS/$layer" 2>&1) $(stat -c %u "$LAYERS/$layer/tree" 2>&1)"
check_eq "s's own file went into the layer" "mine" "$(cat "$LAYERS/$layer/tree/mark" 2>&1)"
check_eq "c's upper holds its identity only" "etc/hostname etc/machine-id" \
        "$(cd "$M/c/rootfs" && find . ! -type d | sed 's|^\./||' | sort | xargs)"
check_eq "one registry entry: the range, held by s" "$(printf %08x "$START") $M/s" "$(entries)"

check "start c" ub start c
check "start s beside it" ub start s
check_eq "c sees the layer's file" "mine" "$(ub exec c -- cat /mark 2>&1)"
check_eq "c is named c" "c" "$(ub exec c -- hostname 2>&1)"
check_eq "s is still s" "s" "$(ub exec s -- hostname 2>&1)"
check_eq "c's root is root inside, the layer's files root's" "0 0 0" \
        "$(ub exec c -- sh -c 'id -u; stat -c "%u %g" /bin/busybox' | xargs)"
check "c writes a file" ub exec c -- sh -c 'echo of-c >/cfile'
check_fails "s does not see it" ub exec s -- test -e /cfile
check_fails "... nor does the layer" test -e "$LAYERS/$layer/tree/cfile"
check_eq "it is in c's upper, the range root's" "$START of-c" \
        "$(stat -c %u "$M/c/rootfs/cfile" 2>&1) $(cat "$M/c/rootfs/cfile" 2>&1)"
check "stop c" ub stop c
check "stop s" ub stop s
check "cp out of the stopped c: a file of the layer" ub cp c:/mark "$UHOME/mark.out"
check_eq "... its content" "mine" "$(cat "$UHOME/mark.out" 2>&1)"
check "cp into the stopped c" ub cp "$UHOME/mark.out" c:/etc/copied
check_eq "... lands in c's upper" "mine" "$(cat "$M/c/rootfs/etc/copied" 2>&1)"
check_fails "... not in s" test -e "$M/s/rootfs/etc/copied"

# --- snapshots of c -------------------------------------------------------------------
check "snapshot --overlay c before" ub snapshot --overlay c before
clayers=$(cat "$M/c/layers" 2>/dev/null | xargs)
check_eq "c's upper became a second layer, over the first" "2 $layer" \
        "$(echo "$clayers" | wc -w) $(echo "$clayers" | cut -d' ' -f2)"
check_eq "the snapshot lists the same layers" "$clayers" "$(xargs <"$M/c/snapshots/before/layers" 2>&1)"
top=${clayers%% *}
check_eq "the new layer is of the same range, the user's dir" "$START $UID_U" \
        "$(sed -n 's/^UID_BASE=//p' "$LAYERS/$top/idmap" 2>&1) $(stat -c %u "$LAYERS/$top" 2>&1)"
check "a full snapshot of c too (--copy): its whole view" ub snapshot --copy c full
check_eq "... holds the layers' files and c's own" "mine of-c" \
        "$(cat "$M/c/snapshots/full/rootfs/mark" "$M/c/snapshots/full/rootfs/cfile" 2>&1 | xargs)"
check_eq "... owned by the range's root" "$START" "$(stat -c %u "$M/c/snapshots/full/rootfs/bin/busybox" 2>&1)"
check "start c" ub start c
check "c changes its file and removes the layer's" ub exec c -- sh -c 'echo later >/cfile && rm /mark'
check "stop c" ub stop c
check "restore c before (layers)" ub restore c before
check "start c" ub start c
check_eq "c has its file as it was, and the layer's back" "of-c mine" \
        "$(ub exec c -- cat /cfile /mark 2>&1 | xargs)"
check "c changes its file again" ub exec c -- sh -c 'echo again >/cfile'
check "stop c" ub stop c
check "restore c full (a copy)" ub restore c full
check_eq "c is a plain rootfs again" "" "$(cat "$M/c/layers" 2>/dev/null)"
check "start c" ub start c
check_eq "c has the snapshot's files" "of-c mine" "$(ub exec c -- cat /cfile /mark 2>&1 | xargs)"
check "stop c" ub stop c
check_eq "the layers stay while the snapshot and s use them" 2 "$(ls "$LAYERS" | wc -l)"
check "snapshot --rm c before" ub snapshot --rm c before
check_eq "its own layer went, s's stays" "$layer" "$(ls "$LAYERS" 2>&1)"

# --- removal ----------------------------------------------------------------------
check "rm s, the last user of the first layer (c is a plain rootfs again)" ub rm s
check_eq "the layer went with it" "" "$(ls -A "$LAYERS" 2>&1)"
check_eq "the range stays registered, held by c now" "$(printf %08x "$START") $M/c" "$(entries)"
check "start c after s is gone" ub start c
check_eq "... in the same range (not moved)" "$START" "$(base_of c)"
check "stop c" ub stop c
check "clone --overlay c d: c's rootfs becomes a layer of the range too" ub clone --overlay c d
check "start d" ub start d
check_eq "... in the same range" "$START" "$(base_of d)"
check_eq "... with c's files" "of-c mine" "$(ub exec d -- cat /cfile /mark 2>&1 | xargs)"
check "stop d" ub stop d
check "rm d" ub rm d
check_eq "the layer stays: c stands on it" 1 "$(ls "$LAYERS" | wc -l)"
check "rm c, its last user" ub rm c
check_eq "the layer went with it" "" "$(ls -A "$LAYERS" 2>&1)"
check_eq "no registry entry is left" "" "$(entries)"
check "the range makes a new machine" ub create n --template busybox --set Network.Mode=none
check_eq "... the same one" "$START" "$(base_of n)"
# A clone --overlay that fails after freezing n: a file named like the clone
# appears in machines/ (only the final rename sees it).
check "a plain file takes the name 'bad'" touch "$M/bad"
check_output_contains "clone --overlay n bad: refused at the rename" "move the new machine into place" \
        ub clone --overlay n bad
check_fails "... n is not marked as sharing its range" test -e "$M/n/range-shared"
check_eq "... no staging dir is left" "" "$(ls -A "$M" | grep '^\.staging-' || true)"
rm -f "$M/bad"
check "start n after the failed clone" ub start n
check_eq "... in its range" "$START" "$(base_of n)"
check "stop n" ub stop n
check "rm n" ub rm n
check_eq "n's layer went with it" "" "$(ls -A "$LAYERS" 2>&1)"
check_eq "no registry entry is left" "" "$(entries)"

# --- create --template --layered and --refresh ------------------------------------
# The template's image is built into the user's store (the store takes the
# one range), and the layered machines run in that range over its layer.
TREF=localhost/berth/template/busybox:latest
digest_of() { ub images --json | jq -r --arg r "$1" '.[] | select(.reference == $r) | .digest'; }
check "create --template busybox --layered l1: builds the template image" \
        ub create --template busybox --layered l1 --set Network.Mode=none
old=$(digest_of $TREF)
check "... the user's store lists it" test -n "$old"
check_eq "... the store took the one range" "$START" "$(sed -n 's/^UID_BASE=//p' "$STATE/images/idmap" 2>/dev/null)"
check_eq "l1 runs in it" "$START" "$(base_of l1)"
check_eq "l1 stands on the image's one layer" 1 "$(wc -l <"$M/l1/layers" 2>/dev/null)"
check "create --template busybox --layered l2: no new build" \
        ub create --template busybox --layered l2 --set Network.Mode=none
check_eq "... the same image" "$old" "$(digest_of $TREF)"
check_eq "... the same layer" "$(cat "$M/l1/layers" 2>&1)" "$(cat "$M/l2/layers" 2>&1)"
check "start l1" ub start l1
check "start l2" ub start l2
check "l1 writes a file" ub exec l1 -- sh -c 'echo l1 >/own'
check_eq "... which l2 does not see" "absent" "$(ub exec l2 -- sh -c 'cat /own 2>/dev/null || echo absent')"
check "stop l1" ub stop l1
check "stop l2" ub stop l2
check_status "create --refresh with a bad --set: status 2" 2 \
        ub create q --template busybox --refresh --set Foo.Bar=1
check_eq "... the image was not rebuilt" "$old" "$(digest_of $TREF)"
check "create --template busybox --refresh l3" ub create --template busybox --refresh l3 --set Network.Mode=none
new=$(digest_of $TREF)
check "... the image was rebuilt" test -n "$new" -a "$new" != "$old"
check_eq "l3 runs in the store's range too" "$START" "$(base_of l3)"
check "l1 (of the old image) still starts" ub start l1
check_eq "... with its own file" "l1" "$(ub exec l1 -- cat /own 2>&1)"
check "stop l1" ub stop l1
for m in l1 l2 l3; do check "rm $m" ub rm $m; done
check "images prune --all" ub images prune --all
check_eq "no layer is left" "" "$(ls -A "$LAYERS" 2>&1)"
check_eq "no registry entry is left" "" "$(entries)"
check "the range makes a machine of its own again" ub create n --template busybox --set Network.Mode=none
check_eq "... the same one" "$START" "$(base_of n)"
check "rm n" ub rm n

# A state root reached through a symlink (a --root on a symlinked /home, say):
# the lock stage of the machine's /run/host finds its dir by the real path.
install -d -o "$U" -g "$U" "$UHOME/real" && ln -s real "$UHOME/link" && chown -h "$U:" "$UHOME/link"
check "create in a state root through a symlink" ub --root "$UHOME/link/st" create s1 --template busybox \
        --set Network.Mode=none
check "... it starts" ub --root "$UHOME/link/st" start s1
check "... and runs commands" ub --root "$UHOME/link/st" exec s1 -- true
check "... stop" ub --root "$UHOME/link/st" stop s1
check "... rm" ub --root "$UHOME/link/st" rm s1

check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"

done_testing
