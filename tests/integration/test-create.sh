#!/bin/bash
# Machine creation as lib/create.c does it, where no other suite looks: the
# contract with the import helper, played here by a fake helper (BERTH_IMPORT)
# that writes what a compromised or failing one could.  The real helper's
# results are in test-oci.sh.
. "$(dirname "$0")/lib.sh"

W=$TEST_TMP/create
mkdir -p "$W/src/bin"
no_machines_left() {
        [ "$(berth list --json | jq length)" = 0 ] && [ -z "$(ls -A "$BERTH_ROOT/machines")" ]
}

# The fake helper: its last two arguments are ROOTFS and OUTDIR; it writes
# what the files $FAKE_DIR/conf, image and status say.
cat > "$W/helper" <<'HELPER'
#!/bin/sh
eval "rootfs=\${$(($# - 1))} out=\${$#}"
st=$(cat "$FAKE_DIR/status")
[ "$st" = 0 ] || exit "$st"
mkdir -p "$rootfs/etc"
cp "$FAKE_DIR/conf" "$out/image.conf"
cp "$FAKE_DIR/image" "$out/image"
HELPER
chmod 755 "$W/helper"
fake() { printf '%b' "$1" > "$W/conf"; printf '%b' "$2" > "$W/image"; echo "$3" > "$W/status"; }
fake_import() { FAKE_DIR=$W BERTH_IMPORT="$W/helper" "$BERTH" import "$@"; }

fake '[Machine]\nBoot=no\n[Exec]\nCommand=/bin/true\n' 'SOURCE_KIND=oci-layout\nMANIFEST=sha256:ab\nPORTS=80/tcp\n' 0
check "an image that sets only what an image may set is imported" fake_import good "$W/src"
check_output_contains "its ports are a comment in machine.conf" \
        '^# Ports the image exposes \(not published\): 80/tcp' cat "$BERTH_ROOT/machines/good/machine.conf"
check_output_contains "status shows the image facts" \
        'Image: oci-layout sha256:ab.*Ports: 80/tcp \(exposed by the image, not published\)' \
        sh -c "'$BERTH' status good | tr '\n' ' '"
check "rm good" berth rm good

fake '[Network]\nPort=tcp:8080:80\n' 'SOURCE_KIND=oci-layout\n' 0
check_status "a helper that sets Port= is refused (status 1)" 1 fake_import bad "$W/src"
check_output_contains "and says so" \
        'The import helper set configuration an image cannot set; refusing it' fake_import bad "$W/src"
check "nothing was created" no_machines_left

fake '[Machine]\nBoot=maybe\n' 'SOURCE_KIND=oci-layout\n' 0
check_status "an invalid fragment is refused (status 1)" 1 fake_import bad "$W/src"
check_output_contains "with the parser's message" \
        'image configuration:2: Boot=maybe: is not a boolean' fake_import bad "$W/src"
check "nothing was created" no_machines_left

fake '' '' 2
check_status "a helper that refuses the source: status 2" 2 fake_import bad "$W/src"
check "nothing was created" no_machines_left

fake '' '' 1
check_status "a helper that fails: status 1" 1 fake_import bad "$W/src"
check_output_contains "the failure is named" 'Importing .* failed; nothing was created' fake_import bad "$W/src"
check "nothing was created" no_machines_left

# Malformed facts (a repeated key; only a tampered helper writes them) cost
# only the ports comment and the facts status shows.
fake '[Machine]\nBoot=no\n[Exec]\nCommand=/bin/true\n' 'PORTS=80/tcp\nPORTS=81/tcp\n' 0
check "an image with malformed facts is still imported" fake_import odd "$W/src"
check_fails "without a ports comment" grep -q '^# Ports' "$BERTH_ROOT/machines/odd/machine.conf"
check_output_contains "status shows no facts" '^ *Image: \?$' berth status odd
check "rm odd" berth rm odd

done_testing
