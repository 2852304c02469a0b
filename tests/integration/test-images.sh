#!/bin/bash
# berth images shows the machines made from each image; berth images prune
# removes unreferenced blobs and layers nothing lists, and with --all the
# images no machine was made from.  The store is filled without a registry:
# berth export writes oci-archives, skopeo copies them into ROOT/images (an
# OCI layout), as berth pull leaves it.
. "$(dirname "$0")/lib.sh"

S=$BERTH_ROOT/images
blobs() { ls "$S/blobs/sha256" | LC_ALL=C sort; }
machines_of() { berth images --json | jq -c --arg r "$1" '.[] | select(.reference == $r) | .machines'; }
refs() { berth images --json | jq -r '[.[].reference] | join(" ")'; }
blobs_of() { # the manifest, config and layers of the image REF in the store
        local d
        d=$(jq -r --arg r "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
                "$S/index.json")
        { echo "${d#sha256:}"; jq -r '.config.digest, .layers[].digest' "$S/blobs/sha256/${d#sha256:}" | sed 's/^sha256://'; } |
                LC_ALL=C sort
}

check "create a" berth create a --template busybox --set Network.Mode=none
check "export one" berth export --format oci-archive a "$TEST_TMP/one.oci"
echo two >"$TEST_TMP/f"
check "change a" berth cp "$TEST_TMP/f" a:/etc/two
check "export two" berth export --format oci-archive a "$TEST_TMP/two.oci"
check "store one" skopeo copy -q "oci-archive:$TEST_TMP/one.oci" "oci:$S:docker.io/library/one:1"
check "store two" skopeo copy -q "oci-archive:$TEST_TMP/two.oci" "oci:$S:docker.io/library/two:1"
check_eq "images lists both" "docker.io/library/one:1 docker.io/library/two:1" "$(refs)"
check "import m1 from one" berth import m1 "$S" --ref docker.io/library/one:1 --set Network.Mode=none
check_eq "one is m1's" '["m1"]' "$(machines_of docker.io/library/one:1)"
check_eq "two is nobody's" '[]' "$(machines_of docker.io/library/two:1)"
check_output_contains "the table names m1" "one:1 .* m1$" berth images
check_output_contains "and a dash for two" "two:1 .* -$" berth images

# Leftovers: a blob nothing references, a layer nothing lists.
printf stray >"$TEST_TMP/stray"
stray=$(sha256sum <"$TEST_TMP/stray" | cut -d' ' -f1)
cp "$TEST_TMP/stray" "$S/blobs/sha256/$stray"
mkdir -p "$S/layers/0123456789abcdef0123456789abcdef/tree/etc"
check "clone --overlay a c (a layer in use)" berth clone --overlay a c
in_use=$(cat "$BERTH_ROOT/machines/c/layers")
check_status "images prune with an argument: status 2" 2 berth images prune extra
check_status "images prune --bogus: status 2" 2 berth images prune --bogus
one=$(blobs_of docker.io/library/one:1)
two=$(blobs_of docker.io/library/two:1)
check_output_contains "images prune" "0 images removed, .* 1 unused layer removed" berth images prune
check "the stray blob is gone" test ! -e "$S/blobs/sha256/$stray"
check "the stray layer is gone" test ! -e "$S/layers/0123456789abcdef0123456789abcdef"
check "the layer in use stays" test -d "$S/layers/$in_use/tree"
check_eq "both images stay" "docker.io/library/one:1 docker.io/library/two:1" "$(refs)"
check_eq "with all their blobs" "$(printf '%s\n' $one $two | LC_ALL=C sort -u)" "$(blobs)"

check_output_contains "images prune --all" "Removed docker.io/library/two:1" berth images prune --all
check_eq "one stays (m1 was made from it)" "docker.io/library/one:1" "$(refs)"
check_eq "only one's blobs are left" "$one" "$(blobs)"
check "the layer in use still stays" test -d "$S/layers/$in_use/tree"
check "one still imports" berth import m2 "$S" --ref docker.io/library/one:1 --set Network.Mode=none
check_eq "one is m1's and m2's" '["m1","m2"]' "$(machines_of docker.io/library/one:1)"
check "start m2 (a machine from the store boots)" berth start m2
check "stop m2" berth stop m2
check "rm m1" berth rm m1
check "rm m2" berth rm m2
check "images prune --all" berth images prune --all
check_eq "no image left" "" "$(refs)"
check_eq "no blob left" "" "$(blobs)"
check "c still starts over its layers" berth start c
check "stop c" berth stop c

done_testing
