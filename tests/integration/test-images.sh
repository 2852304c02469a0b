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

# --- template images ----------------------------------------------------------
# A template's tree kept as an image of one layer, unpacked once: listed,
# removable, rebuilt with a new digest while machines of the old one go on.
TREF=localhost/berth/template/busybox:latest
digest_of() { berth images --json | jq -r --arg r "$1" '.[] | select(.reference == $r) | .digest'; }
layers_of() { (cd "$S/layers" && grep -lx "$1" */images 2>/dev/null | cut -d/ -f1 | xargs); }
check_status "images build without a template: status 2" 2 berth images build
check_status "images build of an unknown template: status 2" 2 berth images build nosuch
check_status "--layered without --template: status 2" 2 berth create x --layered --from-dir "$TEST_TMP"
check_status "--release with images prune: status 2" 2 berth images prune --release bookworm
# A release is the tag of the image's reference: the tag rules, a clear error.
check_status "images build --release with a '/': status 2" 2 berth images build busybox --release a/b
check_output_contains "... says what a release is" "Invalid --release 'a/b'.*letters, digits" \
        berth images build busybox --release a/b
check_status "create --layered --release with a ':': status 2" 2 \
        berth create x --template busybox --layered --release 'x:y' --set Network.Mode=none
check_eq "... nothing in the store" "" "$(refs)"
check_fails "... and no machine" test -e "$BERTH_ROOT/machines/x"

# Concurrent first creates over the template's image: one build, the others
# wait for it and use it (no second build replacing the first's image).
for i in 1 2 3; do
        "$BERTH" create --template busybox --layered p$i --set Network.Mode=none >"$TEST_TMP/p$i.log" 2>&1 &
        eval "ppid$i=$!"
done
pstatus=0
for i in 1 2 3; do eval "wait \$ppid$i" || pstatus=1; done
check_eq "three parallel create --layered succeed" 0 "$pstatus"
check_eq "... one image in the store" 1 "$(jq '.manifests | length' "$S/index.json")"
check_eq "... all three machines name it" '["p1","p2","p3"]' \
        "$(berth images --json | jq -c --arg r $TREF '.[] | select(.reference == $r) | .machines | sort')"
for i in 1 2 3; do check "rm p$i" berth rm p$i; done
check "images prune --all" berth images prune --all
check_eq "no image left" "" "$(refs)"
check_output_contains "images build busybox" "^$TREF sha256:[0-9a-f]{64}$" berth images build busybox
check_eq "images --json lists the template image" "$TREF" "$(refs)"
check "... with its size" bash -c "berth images --json | jq -e '.[0].size > 100000 and .[0].created != null'"
old=$(digest_of $TREF)
old_layer=$(layers_of "$old")
check_eq "its one layer is unpacked in the layer store" 1 "$(wc -w <<<"$old_layer")"
check "create --template busybox --layered t1" berth create --template busybox --layered t1 --set Network.Mode=none
check_eq "t1 stands on the template image's layer" "$old_layer" "$(cat "$BERTH_ROOT/machines/t1/layers")"
check_eq "t1's own rootfs is an empty upper" "" "$(ls -A "$BERTH_ROOT/machines/t1/rootfs" | grep -v '^etc$')"
check_eq "images names t1 as the template's machine" '["t1"]' "$(machines_of $TREF)"
check "start t1" berth start t1
check_eq "exec in t1" "t1" "$(berth exec t1 -- cat /etc/hostname 2>&1)"
check "stop t1" berth stop t1
check_status "rmi of the template image in use: refused (1)" 1 berth rmi $TREF
check_output_contains "... says by whom and how to go on" "in use by t1.*--force" berth rmi $TREF
# A second name of the same digest: either name may go while the other stays.
add_tag() {
        jq --arg r "$1" '.manifests += [.manifests[0] | .annotations["org.opencontainers.image.ref.name"] = $r]' \
                "$S/index.json" >"$TEST_TMP/index.json" && mv "$TEST_TMP/index.json" "$S/index.json"
}
check "tag the template image's digest as localhost/other:1" add_tag localhost/other:1
check_eq "... two names" "$TREF localhost/other:1" "$(refs)"
check_status "rmi of both names of the digest t1 uses: refused (1)" 1 berth rmi $TREF localhost/other:1
check_eq "... both stay" "$TREF localhost/other:1" "$(refs)"
check "rmi of one name while the other stays" berth rmi localhost/other:1
check_eq "... the other stays" "$TREF" "$(refs)"
check "tag it again" add_tag localhost/other:1
check "rmi of the template's name while the other stays" berth rmi $TREF
check_eq "... localhost/other:1 names it" "localhost/other:1" "$(refs)"
check_status "rmi of the last name: refused (1)" 1 berth rmi localhost/other:1
check "tag it as the template's name again" add_tag $TREF
check "rmi localhost/other:1" berth rmi localhost/other:1
check_eq "... and keeps it" "$TREF" "$(refs)"
# A bad argument after --refresh: status 2 and the image as it was.
check_status "create --refresh with a bad --set: status 2" 2 \
        berth create q --template busybox --refresh --set Foo.Bar=1
check_eq "... the image was not rebuilt" "$old" "$(digest_of $TREF)"
check_status "create --refresh with a bad value: status 2" 2 \
        berth create q --template busybox --refresh --set Network.Mode=none --set Resources.MemoryMax=lots
check_eq "... the image was not rebuilt" "$old" "$(digest_of $TREF)"
check_fails "... and no machine q" test -e "$BERTH_ROOT/machines/q"
check "create --template busybox --refresh t2" berth create --template busybox --refresh t2 --set Network.Mode=none
new=$(digest_of $TREF)
check "the rebuilt image has a new digest" test -n "$new" -a "$new" != "$old"
check_eq "... and one image of the name is listed" "$TREF" "$(refs)"
check_eq "t2 stands on the new layer" "$(layers_of "$new")" "$(cat "$BERTH_ROOT/machines/t2/layers")"
check "t1's old layer stays while t1 uses it" test -d "$S/layers/$old_layer/tree"
check "t1 (made from the old image) still starts" berth start t1
check_eq "exec in t1 again" "t1" "$(berth exec t1 -- cat /etc/hostname 2>&1)"
check "stop t1" berth stop t1
check "rm t2" berth rm t2
check_output_contains "images prune --all removes the unused template image" "Removed $TREF" \
        berth images prune --all
check_eq "no image left" "" "$(refs)"
check "t1 still starts over its layer" berth start t1
check "stop t1" berth stop t1
check "rm t1" berth rm t1
check_fails "the old layer went with its last machine" test -e "$S/layers/$old_layer"
check "create --template busybox --layered t3 builds the image again" \
        berth create --template busybox --layered t3 --set Network.Mode=none
check "rmi --force removes a template image in use" berth rmi --force $TREF
check_eq "... gone from the store" "" "$(refs)"
check "t3 keeps its layer and starts" berth start t3
check "stop t3" berth stop t3

# berth run's image of a template (ROOT/images/bases) stands on the layer of
# the template's store image, which it keeps after the image goes.
check_eq "run busybox" "hi" "$(berth run busybox -- echo hi 2>&1)"
check_eq "... built the template image for it" "$TREF" "$(refs)"
base_layers=$(cat "$BERTH_ROOT/images/bases/busybox/layers")
check_eq "the run image stands on the template image's layer" "$(layers_of "$(digest_of $TREF)")" "$base_layers"
check_eq "images names it as the template image's user" '["run:busybox"]' "$(machines_of $TREF)"
check_status "rmi of the template image it uses: refused (1)" 1 berth rmi $TREF
check "rmi --force the template image" berth rmi --force $TREF
check "images prune" berth images prune
check "the run image keeps its layer" test -d "$S/layers/$base_layers/tree"
check_eq "and still runs" "hi again" "$(berth run busybox -- echo hi again 2>&1)"
check "run --keep leaves an instance of it" berth run --keep --name kept busybox -- true
check_fails "images prune --all keeps a run image a kept instance stands on" \
        bash -c "berth images prune --all | grep -q 'Removed run image'"
check "rm the instance" berth rm kept
check_output_contains "images prune --all removes the run image nothing uses" "Removed run image busybox" \
        berth images prune --all
check "... its directory" test ! -e "$BERTH_ROOT/images/bases/busybox"
check "... and its layer" test ! -e "$S/layers/$base_layers"
check_eq "the next run builds both again" "hi" "$(berth run busybox -- echo hi 2>&1)"
check_eq "... the template image too" "$TREF" "$(refs)"

# A run holds its image's base lock shared (as its running instance does)
# from opening the image until its instance names it, so images prune
# (which takes it exclusively without waiting) cannot remove the image in
# between.  Seen while the run builds the image: the wrapper template
# lingers after making the tree.
mkdir -p "$TEST_TMP/holdtpl"
printf '#!/bin/sh\n"%s/busybox" "$@" && touch "%s/tree-held" && sleep 4\n' "$BERTH_TEMPLATE_DIR" "$TEST_TMP" \
        >"$TEST_TMP/holdtpl/busybox"
chmod +x "$TEST_TMP/holdtpl/busybox"
check "rmi --force the template image" berth rmi --force $TREF
check_output_contains "images prune --all removes the run image" "Removed run image busybox" berth images prune --all
BASE_LOCK="$BERTH_ROOT/run/locks/image:busybox.base"
BERTH_TEMPLATE_DIR=$TEST_TMP/holdtpl "$BERTH" run busybox -- true >"$TEST_TMP/hold.log" 2>&1 &
hold_pid=$!
check "the run builds its image" wait_for 30 test -e "$TEST_TMP/tree-held"
check_fails "... holding the image's base lock meanwhile" flock -n -x "$BASE_LOCK" true
check_fails "images prune --all meanwhile removes no run image" bash -c "berth images prune --all | grep -q 'run image'"
check "the run succeeds" wait $hold_pid
check "... and lets the lock go" flock -n -x "$BASE_LOCK" true
check "... its image is there" test -d "$BERTH_ROOT/images/bases/busybox"

# A build killed while its template runs: nothing listed, the next build
# removes its directory.  The wrapper template stops after the tree is made.
mkdir -p "$TEST_TMP/slowtpl"
printf '#!/bin/sh\n"%s/busybox" "$@" && touch "%s/tree-made" && sleep 60\n' "$BERTH_TEMPLATE_DIR" "$TEST_TMP" \
        >"$TEST_TMP/slowtpl/busybox"
chmod +x "$TEST_TMP/slowtpl/busybox"
check "rmi the template image" berth rmi --force $TREF
kill_build() {
        BERTH_TEMPLATE_DIR=$TEST_TMP/slowtpl "$BERTH" images build busybox >/dev/null 2>&1 &
        local pid=$!
        wait_for 30 test -e "$TEST_TMP/tree-made" || return 1
        kill -9 $pid
        wait $pid 2>/dev/null
        wait_for 10 bash -c "! pgrep -f '$TEST_TMP/[s]lowtpl'" || { echo "the template outlived berth"; return 1; }
}
check "kill berth -9 while images build runs the template" kill_build
check_eq "... no image is listed" "" "$(refs)"
check "... its build directory is left" compgen -G "$S/.template-build.*"
check "the next build succeeds" berth images build busybox
check_fails "... and removed it" compgen -G "$S/.template-build.*"
# gc removes a killed build's directory too, but not a running build's.
rm -f "$TEST_TMP/tree-made"
check "kill berth -9 while images build runs the template again" kill_build
check "... its build directory is left" compgen -G "$S/.template-build.*"
check_output_contains "gc removes it" "Removed the template build .*/\.template-build\." berth gc
check_fails "... it is gone" compgen -G "$S/.template-build.*"
rm -f "$TEST_TMP/tree-made"
BERTH_TEMPLATE_DIR=$TEST_TMP/slowtpl "$BERTH" images build busybox >/dev/null 2>&1 &
build_pid=$!
check "a build runs its template" wait_for 30 test -e "$TEST_TMP/tree-made"
check "gc meanwhile" berth gc
check "... leaves the running build's directory" compgen -G "$S/.template-build.*"
kill -9 $build_pid
wait $build_pid 2>/dev/null
wait_for 10 bash -c "! pgrep -f '$TEST_TMP/[s]lowtpl'"
check "gc after it was killed" berth gc
check_fails "... removes it" compgen -G "$S/.template-build.*"
check_eq "... one image" "$TREF" "$(refs)"

# create --refresh has the template build its cache anew (its --refresh:
# debian bootstraps again); other builds use the cache.  The real busybox
# template, behind a wrapper that notes its arguments.
mkdir -p "$TEST_TMP/argtpl"
printf '#!/bin/sh\necho "$*" >>"%s/tpl-args"\nexec "%s/busybox" "$@"\n' "$TEST_TMP" "$BERTH_TEMPLATE_DIR" \
        >"$TEST_TMP/argtpl/busybox"
chmod +x "$TEST_TMP/argtpl/busybox"
argtpl() { BERTH_TEMPLATE_DIR=$TEST_TMP/argtpl "$BERTH" "$@"; }
old=$(digest_of $TREF)
# An image's config holds its creation time in seconds: a rebuild of the same
# tree within the second the old one was made is the same image (its digest).
sleep 1.1
check "create --template busybox --refresh r1" argtpl create --template busybox --refresh r1 --set Network.Mode=none
check_output_contains "... ran the template with --refresh" "--cache-dir .*[-][-]refresh" cat "$TEST_TMP/tpl-args"
check "... a new image" test "$(digest_of $TREF)" != "$old"
rm -f "$TEST_TMP/tpl-args"
check "create --template busybox --layered r2 (the image is there)" \
        argtpl create --template busybox --layered r2 --set Network.Mode=none
check_fails "... ran no template" test -e "$TEST_TMP/tpl-args"
check "images build busybox" argtpl images build busybox
check "create --template busybox r3 (a flat copy)" argtpl create --template busybox r3 --set Network.Mode=none
check_eq "... both ran the template, without --refresh" 2 "$(grep -c -v -- '--refresh' "$TEST_TMP/tpl-args")"
for m in r1 r2 r3; do check "rm $m" berth rm $m; done

# Template caches (as templates/debian keeps them): removed by prune --all
# unless a template run holds the cache's lock; a linked (shared) cache
# dir, as lib.sh links this test's own root to the tests' cache, is kept.
R2=$TEST_TMP/root2
TC=$R2/images/templates
mkdir -p "$TC/debian-x-amd64/etc" "$TC/debian-y-amd64" "$TC/.partial-debian-x-amd64.1"
touch "$TC/debian-x-amd64.lock" "$TC/debian-x-amd64.fixes" "$TC/debian-x-amd64.log" "$TC/debian-y-amd64.lock"
( exec 8>>"$TC/debian-y-amd64.lock" && flock -x 8 && exec sleep 30 ) &
tc_holder=$!
check "the held cache's lock is taken" wait_for 10 bash -c "! flock -n -x '$TC/debian-y-amd64.lock' true"
check_output_contains "images prune --all removes an unused template cache" "Removed template cache debian-x-amd64" \
        berth --root "$R2" images prune --all
check_eq "... with its stamp, log and partial builds, keeping its lock file" "debian-x-amd64.lock" \
        "$(cd "$TC" && ls -A | grep '^debian-x\|^\.partial' | xargs)"
check "... and keeps the one a template run holds" test -d "$TC/debian-y-amd64"
kill $tc_holder 2>/dev/null; wait $tc_holder 2>/dev/null
out=$(berth --root "$R2" images prune --all)
check_eq "... which alone goes once let go" "Removed template cache debian-y-amd64" "$(grep template <<<"$out")"
R3=$TEST_TMP/root3
mkdir -p "$R3/images" "$TEST_TMP/shared-cache/debian-z-amd64"
touch "$TEST_TMP/shared-cache/debian-z-amd64.lock"
ln -s "$TEST_TMP/shared-cache" "$R3/images/templates"
check_output_contains "images prune --all keeps a linked template cache dir" "is a link to a shared directory" \
        berth --root "$R3" images prune --all
check "... its caches untouched" test -d "$TEST_TMP/shared-cache/debian-z-amd64"

done_testing
