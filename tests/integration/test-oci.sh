#!/bin/bash
# berth import: OCI images (layout, oci-archive, docker-archive, zstd),
# plain tars and bundles, built here with umoci and skopeo from the busybox
# template; trees compared with umoci's own unpack; broken and hostile
# images refused with nothing left and nothing outside touched.
. "$(dirname "$0")/lib.sh"

FIX="$(dirname "$0")/oci-fixtures.py"
W=$TEST_TMP/oci
mkdir -p "$W"

for tool in umoci skopeo python3; do
        if ! command -v $tool >/dev/null; then
                ok "# SKIP $tool is not installed (tests/run installs it)"
                done_testing
        fi
done

# A listing that decides "identical": names, types, modes, owners, link
# counts, symlink targets, and the contents of regular files.
tree_listing() {
        (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%U|%G|%n|%l\n' | LC_ALL=C sort &&
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
# But etc/hostname, which berth makes name the machine (as the templates do).
listing_but_hostname() { tree_listing "$1" | grep -vE '^etc/hostname\||  \./etc/hostname$'; }
same_tree() { diff <(listing_but_hostname "$1") <(listing_but_hostname "$2") >"$TEST_TMP/diff" 2>&1; }
check_same_tree() {
        if same_tree "$2" "$3"; then ok "$1"; else not_ok "$1"; head -20 "$TEST_TMP/diff" | sed 's/^/# /'; fi
}
rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
no_machines_left() {
        [ "$(berth list --json | jq length)" = 0 ] && [ -z "$(ls -A "$BERTH_ROOT/machines")" ]
}

# --- the images -------------------------------------------------------------
tree=$W/tree
mkdir -p "$tree" "$W/cache"
"$BERTH_TEMPLATE_DIR/busybox" --rootfs "$tree" --name img --cache-dir "$W/cache"
mkdir -p "$tree/etc/app.d" "$tree/data/replaced-by-link" "$tree/usr/share/gone-dir" "$W/newappd"
echo gone >"$tree/etc/gone"
echo old1 >"$tree/etc/app.d/old1"
echo old2 >"$tree/etc/app.d/old2"
echo file >"$tree/data/file"
ln "$tree/data/file" "$tree/data/file-hl"
echo inside >"$tree/data/replaced-by-link/inside"
echo a >"$tree/usr/share/gone-dir/a"
echo new1 >"$W/newappd/new1"
python3 "$FIX" layer-extra "$W/extra.tar"

L=$W/layout
build_multi() {
        umoci init --layout "$L" &&
                umoci new --image "$L:base" &&
                umoci insert --image "$L:base" --tag multi "$tree" / &&
                umoci insert --image "$L:multi" --whiteout /etc/gone &&
                umoci insert --image "$L:multi" --opaque "$W/newappd" /etc/app.d &&
                umoci raw add-layer --image "$L:multi" "$W/extra.tar" &&
                umoci config --image "$L:multi" --config.cmd /sbin/init --config.stopsignal SIGUSR2 \
                        --config.exposedports 8080/tcp
}
check "build a 4-layer image with umoci (whiteout, opaque dir, cross-layer hard link)" build_multi
check "umoci unpack of it (the reference tree)" umoci unpack --image "$L:multi" "$W/ref"
REF=$W/ref/rootfs
check "the reference has the whiteout applied" test ! -e "$REF/etc/gone"

# --- multi-layer OCI layout ---------------------------------------------------
check "import the OCI layout" berth import multi "$L" --ref multi
check_same_tree "tree identical to umoci unpack (names, types, modes, owners, link counts, contents)" \
        "$REF" "$(rootfs_of multi)"
check "whiteout removed /etc/gone" test ! -e "$(rootfs_of multi)/etc/gone"
check_eq "opaque dir holds only the new layer's files" "new1" "$(ls "$(rootfs_of multi)/etc/app.d" | tr '\n' ' ' | sed 's/ $//')"
check_eq "cross-layer hard link shares the inode (3 links)" 3 "$(stat -c %h "$(rootfs_of multi)/data/link-to-lower")"
check_eq "setuid bit and owner kept" "4755 1000:1000" "$(stat -c '%a %u:%g' "$(rootfs_of multi)/data/suid")"
check "fifo created" test -p "$(rootfs_of multi)/data/fifo"
if python3 -c "import os,sys; sys.exit(os.getxattr(sys.argv[1], 'user.berth') != b'yes')" \
        "$(rootfs_of multi)/data/attr" 2>/dev/null; then
        ok "xattr user.berth applied"
elif python3 -c "import os,sys; os.setxattr(sys.argv[1], 'user.t', b'1')" "$W/newappd/new1" 2>/dev/null; then
        not_ok "xattr user.berth applied"
else
        ok "# SKIP this filesystem has no user xattrs"
fi
check_output_contains "machine.conf records the exposed port, not published" \
        '^# Ports the image exposes \(not published\): 8080/tcp' cat "$BERTH_ROOT/machines/multi/machine.conf"
check_output_contains "berth status shows the image and its ports" \
        'Image: oci-layout sha256:[0-9a-f]{64}.*Ports: 8080/tcp \(exposed by the image, not published\)' \
        sh -c "'$BERTH' status multi | tr '\n' ' '"
check_output_contains "StopSignal became PoweroffSignal" '^PoweroffSignal=SIGUSR2' \
        cat "$BERTH_ROOT/machines/multi/machine.conf"
check_output_contains "an image whose command is /sbin/init boots" '^Boot=yes' \
        cat "$BERTH_ROOT/machines/multi/machine.conf"

# --- boots to running -------------------------------------------------------------
check "start the imported init image" berth start multi
check "it is running" wait_for 10 is_running multi
check_eq "its PID 1 is the image's init" "/bin/busybox" "$(berth exec multi -- readlink /proc/1/exe)"
check "stop it" berth stop multi

# --- other container formats ---------------------------------------------------
check "skopeo: oci-archive" skopeo copy "oci:$L:multi" "oci-archive:$W/multi-oci.tar:multi"
check "skopeo: docker-archive" skopeo copy "oci:$L:multi" "docker-archive:$W/multi-docker.tar:test/img:multi"
check "skopeo: zstd layers" skopeo copy --dest-compress --dest-compress-format zstd "oci:$L:multi" "oci:$W/zstd:multi"
check_output_contains "the zstd copy has zstd layers" 'tar\+zstd' sh -c "cat '$W'/zstd/blobs/sha256/*"
check "import the oci-archive" berth import multi-oa "$W/multi-oci.tar"
check_same_tree "oci-archive tree identical to umoci unpack" "$REF" "$(rootfs_of multi-oa)"
check "import the docker-archive (--ref as docker spells it)" berth import multi-da "$W/multi-docker.tar" --ref test/img:multi
check_same_tree "docker-archive tree identical to umoci unpack" "$REF" "$(rootfs_of multi-da)"
check "import the zstd image" berth import multi-zstd "$W/zstd"
check_same_tree "zstd tree identical to umoci unpack" "$REF" "$(rootfs_of multi-zstd)"
python3 "$FIX" nest "$L" "$W/nested" multi
check "import through a nested index with several platforms" berth import multi-nested "$W/nested" --ref multi
check_same_tree "nested-index tree identical to umoci unpack" "$REF" "$(rootfs_of multi-nested)"
check_output_contains "no manifest for another platform: clear error" 'no image for linux/arm64' \
        berth import nope "$W/nested" --ref multi --platform linux/arm64
check_status "... exit status 2" 2 berth import nope "$W/nested" --ref multi --platform linux/arm64
tar -C "$tree" -czf "$W/rootfs.tar.gz" .
check "import a plain rootfs tar" berth import plain "$W/rootfs.tar.gz"
check_same_tree "plain tar tree identical to the source" "$tree" "$(rootfs_of plain)"
check "import an OCI runtime bundle (umoci unpack's output)" berth import bundle "$W/ref"
check_same_tree "bundle tree identical to its rootfs" "$REF" "$(rootfs_of bundle)"
python3 "$FIX" odd-layers "$W/odd"
check "empty layers and zeros after the gzip data are fine (digests still checked)" berth import odd "$W/odd"
check "... and the tree is there" test -x "$(rootfs_of odd)/bin/prog"
python3 "$FIX" sha512 "$W/sha512"
check "a layer named and verified by sha512" berth import sha512 "$W/sha512"
for m in sha512 odd multi-oa multi-da multi-zstd multi-nested plain bundle; do berth rm "$m" >/dev/null 2>&1; done

# --- app-only image: the entrypoint runs, its status comes back -------------------
cp -a "$tree" "$W/apptree"
rm -f "$W/apptree/sbin/init"
build_app() {
        umoci new --image "$L:app0" &&
                umoci insert --image "$L:app0" --tag app "$W/apptree" / &&
                umoci config --image "$L:app" --config.entrypoint /bin/sh --config.entrypoint -c \
                        --config.cmd 'echo "FOO=$FOO in $(pwd)"; exit 7' --config.env FOO=bar --config.workingdir /tmp
}
check "build an app-only image (no init; Entrypoint /bin/sh -c, Cmd exit 7)" build_app
check "import it" berth import app "$L" --ref app
check_output_contains "it runs its command, not an init" '^Boot=no' cat "$BERTH_ROOT/machines/app/machine.conf"
check_output_contains "berth status shows what it runs" 'Run: /bin/sh -c "echo' berth status app
check_status "berth run app returns the entrypoint's status 7" 7 berth run app
check_output_contains "... with the image's Env and WorkingDir" 'FOO=bar in /tmp' berth run app
check "berth start app" berth start app
check "the machine stops when its program exits" wait_for 10 is_stopped app
check_output_contains "the supervisor saw status 7" 'exited with status 7' berth logs app
check "an app whose program runs on" berth import app-long "$L" --ref app \
        --set 'Exec.Command=/bin/sh -c "sleep 1000 & sleep 1000 & wait"'
check "... starts" berth start app-long
check "... is running" wait_for 10 is_running app-long
check_eq "... PID 1 is berth's minimal init" "berth-stub" "$(berth exec app-long -- cat /proc/1/comm)"
check "... berth stop forwards the signal to the program and the machine stops" \
        timeout 20 "$BERTH" stop --timeout 10 app-long
check "... stopped" is_stopped app-long
check_output_contains "... by the program's exit on SIGTERM, not a forced kill" 'exited with status 143|killed by SIGTERM' \
        berth logs app-long
berth rm app-long >/dev/null 2>&1
check "import with --boot=yes overrides the detection" berth import app-boot "$L" --ref app --boot=yes
check_output_contains "... Boot=yes written" '^Boot=yes' cat "$BERTH_ROOT/machines/app-boot/machine.conf"
berth rm app-boot >/dev/null 2>&1

# --- a Debian image with systemd (from the template cache test-debian.sh fills) ----
deb_cache=
for d in "${BERTH_TEST_CACHE:-/nonexistent}"/debian-*; do [ -d "$d/etc" ] && { deb_cache=$d; break; }; done
if [ -n "$deb_cache" ]; then
        build_debian() {
                tar --numeric-owner -C "$deb_cache" -cf "$W/debian.tar" . &&
                        umoci new --image "$L:deb0" &&
                        umoci raw add-layer --image "$L:deb0" --tag debian "$W/debian.tar" &&
                        umoci config --image "$L:debian" --config.cmd /lib/systemd/systemd \
                                --config.stopsignal 'SIGRTMIN+3' && rm -f "$W/debian.tar"
        }
        check "build a one-layer Debian+systemd image" build_debian
        check "import it" berth import deb "$L" --ref debian
        check_output_contains "its init is systemd" '^Init=/lib/systemd/systemd' cat "$BERTH_ROOT/machines/deb/machine.conf"
        check "start --wait" berth start --wait deb
        deb_state() {
                wait_for 60 "$BERTH" exec deb -- test -S /run/systemd/private
                timeout 120 "$BERTH" exec deb -- systemctl is-system-running --wait
        }
        check_eq "systemd reaches 'running'" "running" "$(deb_state 2>&1)"
        check "stop" berth stop --timeout 60 deb
        berth rm deb >/dev/null 2>&1
else
        ok "# SKIP no Debian template cache (run test-debian first): Debian+systemd image not booted"
fi

# --- bad input -------------------------------------------------------------------
check_status "missing SOURCE: exit 2" 2 berth import x "$W/no-such-image"
head -c 10000 /dev/urandom >"$W/garbage"
check_status "garbage SOURCE: exit 2" 2 berth import x "$W/garbage"
check_output_contains "garbage SOURCE: says it is not an image" 'is not an image' berth import x "$W/garbage"
check_output_contains "unknown --ref: names what there is" "has no image 'nope'.*multi" berth import x "$L" --ref nope
check_status "unknown --ref: exit 2" 2 berth import x "$L" --ref nope
check_output_contains "several images and no --ref: asks for one" 'choose one with --ref' berth import x "$L"
check_status "bad NAME: exit 2" 2 berth import ../x "$L" --ref multi
check_output_contains "existing NAME: refused" "already exists" berth import multi "$L" --ref multi
check_status "bad --platform: exit 2" 2 berth import x "$L" --ref multi --platform linux
berth rm multi >/dev/null 2>&1
berth rm app >/dev/null 2>&1
check "nothing left after the failures" no_machines_left

# --- broken images ---------------------------------------------------------------
base_img=$W/base-img
mkdir -p "$W/base-tree/etc"
echo x >"$W/base-tree/etc/hostname"
umoci init --layout "$base_img" >/dev/null && umoci new --image "$base_img:t" >/dev/null &&
        umoci insert --image "$base_img:t" "$W/base-tree" / >/dev/null
for t in "flip-byte:digest mismatch" "wrong-digest:digest mismatch" "wrong-size:size mismatch" \
         "wrong-diffid:diff_id .*mismatch"; do
        kind=${t%%:*} msg=${t#*:}
        python3 "$FIX" tamper "$kind" "$base_img" "$W/tamper-$kind"
        check_output_contains "$kind: refused ($msg)" "$msg" berth import broken "$W/tamper-$kind"
        check "$kind: no machine left" no_machines_left
done

# --- hostile layers ------------------------------------------------------------------
canary=$W/canary
mkdir -p "$canary"
echo canary >"$canary/canary"
before=$(tree_listing "$canary"; stat -c '%h %Y' "$canary/canary")
for t in "dotdot:'\.\.' component" "absolute:absolute name" "symlink-write:through a symlink" \
         "symlink-planted:through a symlink" "symlink-dotdot:through a symlink" \
         "hardlink-out:'\.\.' component" "hardlink-absolute:absolute name" \
         "hardlink-via-symlink:through a symlink" "whiteout-dotdot:'\.\.' component" \
         "whiteout-symlink:through a symlink" "whiteout-empty:whiteout without a valid name"; do
        kind=${t%%:*} msg=${t#*:}
        python3 "$FIX" hostile "$kind" "$W/hostile-$kind" "$canary"
        check_output_contains "hostile $kind: refused, naming layer and entry ($msg)" "layer [23]/[23] .*entry.*$msg" \
                berth import evil "$W/hostile-$kind"
        check_status "hostile $kind: exit 1" 1 berth import evil "$W/hostile-$kind"
        check "hostile $kind: no machine left" no_machines_left
        check_eq "hostile $kind: canary untouched" "$before" "$(tree_listing "$canary"; stat -c '%h %Y' "$canary/canary")"
done

done_testing
