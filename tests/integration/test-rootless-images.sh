#!/bin/bash
# Images without root (README "Without root"): a user made for this test
# pulls from Debian's docker-registry on loopback (in this test's network
# namespace) into its own image store, with berth-pull in a user namespace
# of its own; the layers belong to the store's range of the user's
# subordinate IDs; the user's own auth files are read (not root's); create --image makes a
# layered machine that boots in that range (run, clone and gc of it too,
# --copy a flat one); images, rmi and images prune work on the user's store
# only; a
# hostile layer (a symlink out of the tree, device nodes, owners past the
# machine's IDs: squashed to nobody) changes nothing
# outside the store; root's images and the system's state stay as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

FIX="$(dirname "$0")/oci-fixtures.py"
W=$TEST_TMP/rl-images
mkdir -p "$W"
. "$(dirname "$0")/lib-registry.sh"
registry_tools docker-registry skopeo umoci curl python3 newuidmap

REG=127.0.0.1:5000
trap 'stop_registries; rm -rf "/run/containers/${UID_U:-none}" ${decoy:+"$decoy"}; rootless_cleanup; cleanup' EXIT
rootless_user berth-rli || { not_ok "useradd"; done_testing; }
USTORE=$STATE/images
before=$(system_listing)

# --- images, pushed by root -------------------------------------------------
tree=$W/tree
mkdir -p "$tree" "$W/cache"
"$BERTH_TEMPLATE_DIR/busybox" --rootfs "$tree" --name img --cache-dir "$W/cache" >/dev/null
L=$W/layout
CANARY=$UHOME/canary # the user may write here: an escape as the user would show
mkdir -m 0755 "$CANARY" && echo untouched >"$CANARY/canary" && chown -R "$U:" "$CANARY"
build_images() {
        umoci init --layout "$L" && umoci new --image "$L:empty" &&
                umoci insert --image "$L:empty" --tag bb "$tree" / &&
                umoci config --image "$L:bb" --config.cmd /sbin/init &&
                python3 "$FIX" hostile symlink-write "$W/escape" "$CANARY" &&
                python3 "$FIX" hostile devices "$W/devices" "$CANARY" &&
                python3 "$FIX" hostile setuid-outside "$W/outside" "$CANARY"
}
check "build the images (busybox with umoci; hostile layers)" build_images
check "start a plain HTTP registry on $REG" start_registry plain $REG
check "root pushes the busybox image" push "oci:$L:bb" "docker://$REG/bb:1"
check "root pushes a layer with a symlink out of the tree" push "oci:$W/escape:t" "docker://$REG/escape:1"
check "root pushes a layer with device nodes" push "oci:$W/devices:t" "docker://$REG/devices:1"
check "root pushes a layer with setuid files owned by IDs past a machine's" \
        push "oci:$W/outside:t" "docker://$REG/outside:1"
check "root pulls the image into its own store too" berth pull $REG/bb:1
check "... and one more the user never pulls" bash -c "skopeo copy -q --dest-tls-verify=false oci:$L:bb \
        docker://$REG/rootonly:1 && '$BERTH' pull $REG/rootonly:1"
root_images=$(berth images --json)

# --- pull, images ------------------------------------------------------------
check_output_contains "pull without subordinate IDs: refused, naming /etc/subuid" "/etc/subuid" \
        ub pull $REG/bb:1
check_eq "... before anything was fetched" "" "$(ls -A "$USTORE/blobs" "$USTORE/index.json" 2>/dev/null)"
check "the admin gives the user subordinate IDs" rootless_add_ranges
check "the user pulls the image" ub pull $REG/bb:1
check_eq "into its own store: the reference is in its index" "$REG/bb:1" \
        "$(jq -r '.manifests[].annotations."org.opencontainers.image.ref.name"' "$USTORE/index.json")"
check_eq "the pull left no scratch dir in the layer store" "" "$(ls -A "$USTORE/layers" | grep '^\.unpack-')"
check_eq "the blobs are the user's" "" "$(find "$USTORE/blobs" ! -uid "$UID_U" -print -quit 2>&1)"
ibase=$(sed -n 's/^UID_BASE=//p' "$USTORE/idmap")
check "the store has a range of the user's subordinate IDs" \
        test -n "$ibase" -a "${ibase:-0}" -ge "$START" -a "$((${ibase:-0} + 65535))" -le "$END"
LAYERS=$USTORE/layers
layer=$(cd "$LAYERS" && ls | head -n1)
check_eq "the layer's tree belongs to the store's range (its root)" "$ibase:$ibase" \
        "$(stat -c %u:%g "$LAYERS/$layer/tree" 2>/dev/null)"
check_eq "... and its files too, none to the user's own ID" "" \
        "$(find "$LAYERS/$layer/tree" -uid "$UID_U" -print -quit 2>&1)"
check_eq "the user's images lists it, and none of root's" "$REG/bb:1" "$(ub images --json | jq -r '.[].reference')"
check_output_contains "... also as a table" "$REG/bb:1" ub images
check_status "rmi of root's image: not in the user's store (1)" 1 ub rmi $REG/rootonly:1
check_eq "root's images are as they were" "$root_images" "$(berth images --json)"
check_eq "root's store does not hold the user's image twice" 1 \
        "$(berth images --json | jq --arg r "$REG/bb:1" '[.[] | select(.reference == $r)] | length')"
# The user's own auth file, where podman keeps it: found without --authfile.
PROXY=127.0.0.1:5080
check "start a token-auth front of the registry on $PROXY" start_proxy 5080 $REG tokenuser:token-pw
check_output_contains "without credentials the user's pull is refused, saying why" "refused an anonymous pull" \
        ub pull $PROXY/bb:1
mkdir -p "$URUN/containers" && authfile $PROXY tokenuser:token-pw "$URUN/containers/auth.json" &&
        chown -R "$U:" "$URUN/containers"
check "with \$XDG_RUNTIME_DIR/containers/auth.json it pulls" ub pull $PROXY/bb:1
check "the token was asked for with those credentials" grep -q "^token creds=yes" "$W/proxy.log"
check "rmi it again" ub rmi $PROXY/bb:1
rm -rf "$URUN/containers"
# /run/containers/UID is the user's, not root's: berth-pull is root of its
# user namespace, so the CLI finds it.  A decoy of root's, readable by root
# only, is what geteuid() there would have found (and failed on).
decoy=
if [ ! -e /run/containers/0 ]; then
        mkdir -p -m 0755 /run/containers/0 && echo '{"auths":{}}' >/run/containers/0/auth.json &&
                chmod 0600 /run/containers/0/auth.json && decoy=/run/containers/0
fi
mkdir -p -m 0700 "/run/containers/$UID_U" && authfile $PROXY tokenuser:token-pw "/run/containers/$UID_U/auth.json" &&
        chown -R "$U:" "/run/containers/$UID_U"
check "with /run/containers/\$UID/auth.json it pulls${decoy:+ (beside a decoy of root)}" ub pull $PROXY/bb:1
check "rmi it again" ub rmi $PROXY/bb:1
rm -rf "/run/containers/$UID_U" ${decoy:+"$decoy"}
rmdir /run/containers 2>/dev/null
# (images build as a user: test-rootless-store.sh)

# --- a layered machine of it -------------------------------------------------
check "create box --image" ub create box --image $REG/bb:1 --set Network.Mode=none
check_eq "box has the image's layer below it" "$layer" "$(cat "$STATE/machines/box/layers" 2>/dev/null)"
check_eq "box boots in the store's range" "$ibase" "$(sed -n 's/^UID_BASE=//p' "$STATE/machines/box/idmap")"
check_eq "its upper holds its hostname only" "etc/hostname" \
        "$(cd "$STATE/machines/box/rootfs" && find . -type f | sed 's|^\./||')"
check_eq "images names the machine" "box" "$(ub images --json | jq -r '.[].machines[]')"
check "start box" ub start box
check_status "exec returns the command's status" 7 ub exec box -- sh -c 'exit 7'
check_eq "the machine's root is root inside" 0 "$(ub exec box -- id -u)"
check_eq "the image's files are root's inside" "0 0" "$(ub exec box -- stat -c '%u %g' /bin/busybox)"
check "the machine writes over a file of the image" ub exec box -- sh -c 'echo changed >/etc/hostname'
check "... and a file of its own" ub exec box -- sh -c 'echo mine >/mark'
check_eq "the change lands in box's upper, owned by its root" "$ibase changed" \
        "$(stat -c %u "$STATE/machines/box/rootfs/etc/hostname") $(cat "$STATE/machines/box/rootfs/etc/hostname")"
check_fails "... not in the shared layer" grep -qx changed "$LAYERS/$layer/tree/etc/hostname"
check "a second machine of the image: pull REF NAME" ub pull $REG/bb:1 box2 --set Network.Mode=none
check "start box2 beside box" ub start box2
check_eq "box2 does not see box's change" 0 "$(ub exec box2 -- grep -c changed /etc/hostname)"
check "create flat --image --copy" ub create flat --image $REG/bb:1 --copy --set Network.Mode=none
fbase=$(sed -n 's/^UID_BASE=//p' "$STATE/machines/flat/idmap")
check "... a copy in a range of its own" test -n "$fbase" -a "$fbase" != "$ibase" -a ! -e "$STATE/machines/flat/layers"
check_eq "... owned by that range" "$fbase" "$(stat -c %u "$STATE/machines/flat/rootfs/bin/busybox" 2>&1)"
check "start flat" ub start flat
check_eq "flat runs the image's busybox as its root" "0 0" "$(ub exec flat -- stat -c '%u %g' /bin/busybox)"
check "stop flat" ub stop flat
check "rm flat" ub rm flat
check_output_contains "rmi of an image in use: refused, naming the machines" "in use by box" ub rmi $REG/bb:1
check "stop box" ub stop box
# cp of a stopped layered machine: its merged view, mounted in its namespace.
check "cp out of the stopped box: a file of the image's layer" ub cp box:/bin/busybox "$UHOME/bb.out"
check "... the image's busybox" cmp -s "$UHOME/bb.out" "$LAYERS/$layer/tree/bin/busybox"
check "cp out of the stopped box: a file of its own" ub cp box:/mark "$UHOME/mark.out"
check_eq "... its content" "mine" "$(cat "$UHOME/mark.out" 2>&1)"
check "cp into the stopped box" ub cp "$UHOME/mark.out" box:/etc/mark2
check_eq "... lands in box's upper, owned by its root" "$ibase mine" \
        "$(stat -c %u "$STATE/machines/box/rootfs/etc/mark2" 2>&1) $(cat "$STATE/machines/box/rootfs/etc/mark2" 2>&1)"
check_status "run box: a throwaway boot of it, the command's status passed on" 3 \
        ub run box -- sh -c 'test -f /mark && touch /thrown-away && exit 3'
check "... whose files did not reach box" test -f "$STATE/machines/box/rootfs/mark" -a \
        ! -e "$STATE/machines/box/rootfs/thrown-away"
check "gc as the user" ub gc
check_eq "... leaves the image's layer" "$layer" "$(ls "$LAYERS" 2>&1)"
check "clone box (a full copy without root)" ub clone box boxcopy
check "... in a range of its own, no layers" test "$(sed -n 's/^UID_BASE=//p' "$STATE/machines/boxcopy/idmap")" != "$ibase" \
        -a ! -e "$STATE/machines/boxcopy/layers"
check "... with the image's files and box's own" bash -c "test -f '$STATE/machines/boxcopy/rootfs/bin/busybox' &&
        grep -qx mine '$STATE/machines/boxcopy/rootfs/mark'"
check "start boxcopy" ub start boxcopy
check_eq "boxcopy boots the image's busybox" 0 "$(ub exec boxcopy -- busybox true; echo $?)"
check "stop boxcopy" ub stop boxcopy
check "rm boxcopy" ub rm boxcopy
check "stop box2" ub stop box2
check "rm box" ub rm box
check "rm box2" ub rm box2
check_eq "the layer stays while the store has the image" "$layer" "$(ls "$LAYERS")"
check "the store's range stays registered, the store's own" \
        grep -qx "OWNER=$USTORE" "$STATE/uid-ranges/$(printf %08x "$ibase")"

# --- hostile layers ------------------------------------------------------------
check_output_contains "pull of a layer with a symlink out of the tree: refused, naming the entry" \
        "entry 'esc/through': its path goes through a symlink" ub pull $REG/escape:1
check_eq "... and not stored" "" \
        "$(ub images --json | jq -r --arg r "$REG/escape:1" '.[] | select(.reference == $r) | .reference')"
check_eq "the canary dir is as it was" "canary untouched" \
        "$(cd "$CANARY" && echo $(ls) $(cat canary))"
check_eq "no symlink in the layer store points out of it, nor was followed" "" \
        "$(find "$LAYERS" -name through -print -quit 2>&1)"
check_output_contains "pull of a layer with device nodes: done, skipping them, saying so" \
        "skipping device node 'dev/null'.*without root" ub pull $REG/devices:1
check_eq "... it is in the store" "$REG/devices:1" \
        "$(ub images --json | jq -r --arg r "$REG/devices:1" '.[] | select(.reference == $r) | .reference')"
check "... its layer with the dev dir" test -n "$(find "$LAYERS" -path '*/tree/dev' -type d)"
check_eq "no device node was made (whiteouts aside)" "" \
        "$(find "$USTORE" \( -type b -o -type c \) -exec stat -c '%n %t:%T' {} + 2>&1 | grep -v ' 0:0$')"

# ID 65536 is the user's own in the unpack namespace: a layer's file of it
# would be a setuid file of the user's on the host.
check_output_contains "pull of a layer owned by IDs past the machine's: done, saying what it did" \
        "'own/suid' is owned by 65536:65536, outside the machine's IDs 0-65535: made nobody's" \
        ub pull $REG/outside:1
check_eq "nothing in the store is the user's with a set-ID bit" "" \
        "$(find "$USTORE" -uid "$UID_U" -perm /6000 -print 2>&1)"
check_eq "nothing of the layers is owned by the user's own ID" "" \
        "$(find "$LAYERS" -path "*/tree/*" \( -uid "$UID_U" -o -gid "$(id -g "$U")" \) -print 2>&1)"
suid=$(find "$LAYERS" -path '*/tree/own/suid' | head -n1)
check_eq "the file is the range's nobody, its set-ID bits gone" "$((ibase + 65534)) 755" \
        "$(stat -c '%u %a' "$suid" 2>&1)"

# --- rmi, images prune ------------------------------------------------------------
check "rmi of the image, now unused" ub rmi $REG/bb:1
check_eq "the user's store no longer lists it" "" \
        "$(ub images --json | jq -r --arg r "$REG/bb:1" '.[] | select(.reference == $r) | .reference')"
check_eq "its layer went with it" "" "$(ls "$LAYERS" 2>&1 | grep -x "$layer")"
check "rmi of the others" ub rmi $REG/devices:1 $REG/outside:1
check "images prune" ub images prune
check "images prune --all" ub images prune --all
check_eq "the user's store is empty" "[]" "$(ub images --json | jq -c .)"
check_eq "no layer is left" "" "$(ls -A "$LAYERS" 2>&1)"
check_eq "root still has its image" "$root_images" "$(berth images --json)"
check_status "rmi of an image the user has not: 1" 1 ub rmi $REG/bb:1
check_eq "the user's machines are all gone" "" "$(ls -A "$STATE/machines")"

# --- the system's state -------------------------------------------------------
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "no host registry entry names the user's home" "" \
        "$(grep -rl "$UHOME" /var/lib/berth/uid-ranges 2>/dev/null)"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"
check "root's image still makes a machine" berth create rootbox --image $REG/bb:1 --set Network.Mode=none
check "rm it" berth rm rootbox

done_testing
