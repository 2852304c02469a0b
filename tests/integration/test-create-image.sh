#!/bin/bash
# berth create --image: machines from images of the store as overlays over
# layers unpacked once into the layer store, shared by images with the same
# base; the merged view compared with the flat import (--copy) of the same
# image, whiteouts and opaque directories as overlayfs has them, a hard link
# into a lower layer refused, and the layers kept while anything uses them.
. "$(dirname "$0")/lib.sh"

FIX=$(dirname "$0")/oci-fixtures.py
S=$BERTH_ROOT/images
tree_listing() {
        (cd "$1" && find . -printf '%P %y %m %U:%G %s %l\n' | LC_ALL=C sort &&
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
flat_listing() { tree_listing "$(rootfs_of "$1")" | grep -v etc/hostname; }
# A layered machine's files: its upper over its layers, mounted read-only
# in a mount namespace of our own.
merged_listing() {
        local m="$BERTH_ROOT/machines/$1" lower
        lower="$m/rootfs$(sed "s|^|:$S/layers/|; s|\$|/tree|" "$m/layers" | tr -d '\n')"
        export -f tree_listing
        unshare -m bash -c 'mount --make-rslave / && mount -t overlay o -o "ro,userxattr,lowerdir=$1" "$2" &&
                tree_listing "$2"' _ "$lower" "$m/rootfs" | grep -v etc/hostname
}
layer_count() { find "$S/layers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
top_tree() { echo "$S/layers/$(head -1 "$BERTH_ROOT/machines/$1/layers")/tree"; }

# The base: a busybox tree with what the upper layers hide and keep.
check "create b" berth create b --template busybox --set Network.Mode=none
R=$(rootfs_of b)
mkdir "$R/srv" && chmod 750 "$R/srv" && chown 5:5 "$R/srv" && echo base >"$R/srv/base"
echo gone >"$R/etc/gone" && mkdir "$R/etc/app.d" && echo old >"$R/etc/app.d/old"
mkdir -p "$R/usr/share/gone-dir" && echo f >"$R/usr/share/gone-dir/f"
check "export the base layer" berth export b "$TEST_TMP/base.tar"
check "make the images" python3 "$FIX" stack "$TEST_TMP/base.tar" "$TEST_TMP/stack"
for t in one two three lower-link; do
        check "store stack:$t" skopeo copy -q "oci:$TEST_TMP/stack:$t" "oci:$S:docker.io/library/stack:$t"
done

check_status "an image not in the store: status 2" 2 berth create --image nope:1 x
check_status "--copy without --image: status 2" 2 berth create x --template busybox --copy
check_status "--image and --template: status 2" 2 berth create x --image stack:one --template busybox

check "create --image stack:one l1" berth create --image stack:one l1 --set Network.Mode=none
check_eq "l1 stands on two layers" 2 "$(wc -l <"$BERTH_ROOT/machines/l1/layers")"
check_eq "l1's own rootfs is an empty upper" "" "$(ls -A "$(rootfs_of l1)" | grep -v '^etc$')"
check_eq "two layers in the store" 2 "$(layer_count)"
check "create --image --copy stack:one f1" berth create --image stack:one --copy f1 --set Network.Mode=none
check "f1 is flat" test ! -e "$BERTH_ROOT/machines/f1/layers"
check_eq "l1's merged view is the flat import's tree" "$(flat_listing f1)" "$(merged_listing l1)"
T=$(top_tree l1)
check_eq "a whiteout is an overlayfs whiteout" "character special file 0:0" "$(stat -c '%F %t:%T' "$T/etc/gone")"
check_eq "a whited-out dir too" "character special file 0:0" "$(stat -c '%F %t:%T' "$T/usr/share/gone-dir")"
check_eq "an opaque dir has the xattr" "b'y'" \
        "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.overlay.opaque"))' "$T/etc/app.d")"
check "a whiteout of nothing makes nothing" test ! -e "$T/nothere"
check_eq "a parent the layer does not list keeps the base's owner and mode" "750 5:5" \
        "$(stat -c '%a %u:%g' "$T/srv")"

t0=$(date +%s%N)
check "create --image stack:one l2 (layers there already)" berth create --image stack:one l2 --set Network.Mode=none
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# the second create took $ms ms"
check "... in well under two seconds" test "$ms" -lt 2000
check_eq "no new layer" 2 "$(layer_count)"
check_eq "l2 has l1's layers" "$(cat "$BERTH_ROOT/machines/l1/layers")" "$(cat "$BERTH_ROOT/machines/l2/layers")"

check "create --image stack:two t2" berth create --image stack:two t2 --set Network.Mode=none
check_eq "one more layer: the base is shared" 3 "$(layer_count)"
check_eq "t2 shares the base layer" "$(tail -1 "$BERTH_ROOT/machines/l1/layers")" \
        "$(tail -1 "$BERTH_ROOT/machines/t2/layers")"
check "create --image --copy stack:two f2" berth create --image stack:two --copy f2 --set Network.Mode=none
check_eq "t2's merged view is the flat tree" "$(flat_listing f2)" "$(merged_listing t2)"
check "create --image stack:three l3" berth create --image stack:three l3 --set Network.Mode=none
check_eq "three layers, two shared" "4 3" "$(layer_count) $(wc -l <"$BERTH_ROOT/machines/l3/layers")"
check "create --image --copy stack:three f3" berth create --image stack:three --copy f3 --set Network.Mode=none
check_eq "l3's merged view is the flat tree (whiteouts over a whiteout layer)" "$(flat_listing f3)" \
        "$(merged_listing l3)"

check_output_contains "a hard link into a lower layer is refused" "lower layer.*--copy" \
        berth create --image stack:lower-link ll --set Network.Mode=none
check_status "... and no machine made" 4 berth status ll
check_eq "... and no layer left over" 4 "$(layer_count)"
check "--copy makes it" berth create --image stack:lower-link --copy ll --set Network.Mode=none

check "start l1" berth start l1
check_eq "it runs, named l1" l1 "$(berth exec l1 -- hostname)"
check_eq "the opaque dir shows only the layer's file" new "$(berth exec l1 -- ls /etc/app.d)"
check_fails "the whited-out file is gone" berth exec l1 -- test -e /etc/gone
echo changed >"$TEST_TMP/f"
check "write into it" berth cp "$TEST_TMP/f" l1:/etc/one
check "stop l1" berth stop l1
check_eq "the write went into l1's upper" changed "$(cat "$(rootfs_of l1)/etc/one")"
check_eq "not into the shared layer" one "$(cat "$T/etc/one")"
check_eq "l2 still sees the layer's file" one "$(cat "$(top_tree l2)/etc/one")"

check_eq "berth images names the machines" '["f1","l1","l2"]' \
        "$(berth images --json | jq -c '.[] | select(.reference == "docker.io/library/stack:one") | .machines')"
check "gc" berth gc
check "images prune --all" berth images prune --all
check_eq "the layers in use stay" 4 "$(layer_count)"
check_status "rmi of images machines were made from: refused (1)" 1 \
        berth rmi stack:one stack:two stack:three stack:lower-link
check_output_contains "... naming the machines and --force" "stack:one is in use by f1, l1, l2.*--force" \
        berth rmi stack:one stack:two stack:three stack:lower-link
check_eq "... and removing none" 4 "$(berth images --json | jq length)"
check "rmi --force all images" berth rmi --force stack:one stack:two stack:three stack:lower-link
check "images prune" berth images prune
check_eq "the layers in use still stay" 4 "$(layer_count)"
check "l1 still boots without its image" berth start l1
check "stop l1" berth stop l1
for m in l1 l2 t2 l3; do
        check "rm $m" berth rm "$m"
done
check_eq "the last machine on them took the layers along" 0 "$(layer_count)"

# Killed while it unpacks: the helper at the rename of its first layer, then
# berth itself at the rename of the machine.  Nothing is listed, gc removes
# what is left, and the next create works.
check "store stack:one again" skopeo copy -q "oci:$TEST_TMP/stack:one" "oci:$S:docker.io/library/stack:one"
strace -f -o /dev/null -e inject=renameat2:signal=KILL:when=1 "$BERTH" create --image stack:one k \
        --set Network.Mode=none >/dev/null 2>&1
check_status "killed in the helper: no machine" 4 berth status k
strace -o /dev/null -e inject=renameat2:signal=KILL:when=1 "$BERTH" create --image stack:one k \
        --set Network.Mode=none >/dev/null 2>&1
check_status "killed at the commit: no machine" 4 berth status k
check "gc" berth gc
check_eq "gc left no layer" 0 "$(layer_count)"
check "the next create works" berth create --image stack:one k --set Network.Mode=none
check_eq "l1's tree again" "$(flat_listing f1)" "$(merged_listing k)"
check "it boots" berth start k
check "stop k" berth stop k

# The layers of an image the store still has outlive its last machine: the
# next machine of it unpacks nothing.  rmi lets them go.
n=$(layer_count)
check "rm k, the last machine of stack:one" berth rm k
check_eq "its layers stay while the store has the image" "$n" "$(layer_count)"
check "gc" berth gc
check_eq "gc keeps them too" "$n" "$(layer_count)"
check "a new machine of it" berth create --image stack:one k2 --set Network.Mode=none
check_eq "takes the same layers, unpacking none" "$n $(cat "$BERTH_ROOT/machines/k2/layers" | wc -l)" \
        "$(layer_count) $(cat "$BERTH_ROOT/machines/k2/layers" | wc -l)"
check "rm k2" berth rm k2
# f1, a flat copy of stack:one, still counts as made from it.
check "rmi --force stack:one" berth rmi --force stack:one
check_eq "without the image, its unused layers go" 0 "$(layer_count)"

done_testing
