#!/bin/bash
# berth pull, images, rmi against real registries (Debian's docker-registry,
# distribution 2.8) on loopback in this test's own network namespace: one
# plain HTTP, one with TLS (a CA made here) and htpasswd Basic auth.  Images
# built with umoci from the busybox template, pushed with skopeo: OCI and
# Docker schema 2 manifests, a multi-platform index, gzip and zstd layers,
# two images sharing a layer.  Broken answers (a tampered blob, an unknown
# tag, a wrong password, a wrong declared size) are refused with nothing
# stored and no machine made.
. "$(dirname "$0")/lib.sh"

FIX="$(dirname "$0")/oci-fixtures.py"
W=$TEST_TMP/pull
mkdir -p "$W"

. "$(dirname "$0")/lib-registry.sh"
registry_tools docker-registry skopeo umoci htpasswd openssl curl python3

STORE=$BERTH_ROOT/images
REG=127.0.0.1:5000
TREG=127.0.0.1:5443
trap 'stop_registries; cleanup' EXIT

# --- images -----------------------------------------------------------------
tree=$W/tree
mkdir -p "$tree" "$W/cache"
"$BERTH_TEMPLATE_DIR/busybox" --rootfs "$tree" --name img --cache-dir "$W/cache" >/dev/null
L=$W/layout
build_images() {
        umoci init --layout "$L" &&
                umoci new --image "$L:empty" &&
                umoci insert --image "$L:empty" --tag bb "$tree" / &&
                umoci config --image "$L:bb" --config.cmd /sbin/init &&
                mkdir -p "$W/extra/etc" && echo second >"$W/extra/etc/second" &&
                umoci insert --image "$L:bb" --tag bb2 "$W/extra" / &&
                mkdir -p "$W/lonely/etc" && head -c 4096 /dev/urandom >"$W/lonely/etc/noise" &&
                umoci insert --image "$L:bb" --tag tamper "$W/lonely" / &&
                mkdir -p "$W/lonely2/etc" && head -c 4096 /dev/urandom >"$W/lonely2/etc/noise" &&
                umoci insert --image "$L:bb" --tag sized "$W/lonely2" / &&
                python3 "$FIX" multi-arch "$L" "$W/multi" bb
}
check "build the images with umoci (busybox; one more layer on it twice)" build_images

check "start a plain HTTP registry on $REG" start_registry plain $REG
check "push an OCI image" push "oci:$L:bb" "docker://$REG/bb:1"
check "push an image sharing its first layer" push "oci:$L:bb2" "docker://$REG/team/bb2:latest"
check "push a Docker schema 2 image" push --format v2s2 "oci:$L:bb" "docker://$REG/bb:v2s2"
# Recompressed locally first: pushed straight, skopeo would reuse the gzip
# layer the registry has.
check "push an image with zstd layers" bash -c "skopeo copy -q --dest-compress --dest-compress-format zstd \
        oci:$L:bb oci:$W/zstd:bb && skopeo copy -q --dest-tls-verify=false oci:$W/zstd:bb docker://$REG/bb:zstd"
check "push a multi-platform index" push --all "oci:$W/multi:bb" "docker://$REG/bb:multi"
check "push the image to be tampered with" push "oci:$L:tamper" "docker://$REG/tamper:1"
check "push an image to get a wrong size" push "oci:$L:sized" "docker://$REG/sized:1"
check "... also where the front sends blobs chunked" push "oci:$L:sized" "docker://$REG/chunked/sized:1"
check "... and where it sends them slowly" push "oci:$L:sized" "docker://$REG/slow/sized:1"

# What the store holds: every file below it, with its checksum.
store_state() { (cd "$STORE" 2>/dev/null && find . -path ./templates -prune -o -type f -print0 |
        LC_ALL=C sort -z | xargs -0 -r sha256sum); }
refs() { jq -r '.manifests[].annotations."org.opencontainers.image.ref.name"' "$STORE/index.json" | sort; }
blob_count() { find "$STORE/blobs" -type f | wc -l; }
no_machines() { [ "$(berth list --json | jq length)" = 0 ]; }

# --- pulls ------------------------------------------------------------------
links_curl() { ldd "$1" | grep -q libcurl; }
check "berth-pull links libcurl" links_curl "$BERTH_PULL"
check_fails "berth does not" links_curl "$BERTH"
check_fails "nor does berth-machined" links_curl "$BERTH_MACHINED"

check "pull an OCI image from a loopback registry (plain HTTP)" berth pull $REG/bb:1
check_eq "index.json names it with the full reference" "$REG/bb:1" "$(refs)"
check "the store is an OCI layout" test -f "$STORE/oci-layout"
digest=$(jq -r '.manifests[0].digest' "$STORE/index.json")
check_eq "the stored manifest is the registry's" \
        "$(skopeo inspect --raw --tls-verify=false docker://$REG/bb:1 | sha256sum | cut -d' ' -f1)" "${digest#sha256:}"
verify_blobs() {
        local f
        for f in "$STORE"/blobs/sha256/*; do
                [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || return 1
        done
}
check "every stored blob has its digest" verify_blobs
check_output_contains "berth images lists it" "^$REG/bb:1 +sha256:[0-9a-f]{12} " berth images
check_eq "berth images --json: reference and digest" "$REG/bb:1 $digest" \
        "$(berth images --json | jq -r '.[0] | "\(.reference) \(.digest)"')"
check "berth images --json: size and created" \
        bash -c "berth images --json | jq -e '.[0].size > 100000 and (.[0].created | test(\"^[0-9]{4}-\"))'"

# The layers are unpacked at pull, each into a layer dir of its ChainID
# that notes the image, so that its first machine only mounts them.
LAYERS=$STORE/layers
layer_dirs() { (cd "$LAYERS" 2>/dev/null && find . -mindepth 1 -maxdepth 1 -printf '%P %i\n' | LC_ALL=C sort); }
layers_of() { (cd "$LAYERS" && grep -lx "$1" */images 2>/dev/null | cut -d/ -f1 | LC_ALL=C sort | xargs); }
check_eq "pull unpacked the image's layer" 1 "$(wc -w <<<"$(layers_of "$digest")")"
check "... a whole layer: its tree and its chain" test -d "$LAYERS/$(layers_of "$digest")/tree" -a \
        -s "$LAYERS/$(layers_of "$digest")/chain"
check_eq "... and nothing half made beside it" "" "$(ls -A "$LAYERS" | grep '^\.')"
before_create=$(layer_dirs)
check "create --image right after the pull" berth create --image $REG/bb:1 first --set Network.Mode=none
check_eq "... unpacked nothing: the same layer dirs, the same inodes" "$before_create" "$(layer_dirs)"
check_eq "... and stands on the pulled layer" "$(layers_of "$digest")" "$(cat "$BERTH_ROOT/machines/first/layers")"
check "start it" berth start first
check_eq "exec in it" "hello from first" "$(berth exec first -- echo hello from first 2>&1)"
check "stop and remove it" bash -c "$BERTH stop first && $BERTH rm first"
check_eq "the layer stays with the image" "$before_create" "$(layer_dirs)"

before=$(blob_count)
check "pull the second image" berth pull $REG/team/bb2
after=$(blob_count)
check_eq "the shared layer is stored once (3 new blobs: manifest, config, layer)" $((before + 3)) "$after"
check "pull a Docker schema 2 image" berth pull $REG/bb:v2s2
check_eq "it is stored as a Docker manifest" "application/vnd.docker.distribution.manifest.v2+json" \
        "$(jq -r --arg r "$REG/bb:v2s2" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == $r) | .mediaType' "$STORE/index.json")"
check "pull an image with zstd layers" berth pull $REG/bb:zstd
zstd_manifest=$(jq -r --arg r "$REG/bb:zstd" \
        '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == $r) | .digest' "$STORE/index.json")
check_output_contains "its layer is zstd" "zstd" jq -r '.layers[].mediaType' "$STORE/blobs/sha256/${zstd_manifest#sha256:}"
check "pull from a multi-platform index" berth pull $REG/bb:multi
host_arch=$(python3 -c 'import os; m=os.uname().machine; print({"x86_64":"amd64","aarch64":"arm64"}.get(m,m))')
check_eq "the host's platform was chosen" "$host_arch" \
        "$(berth images --json | jq -r --arg r "$REG/bb:multi" '.[] | select(.reference == $r) | .platform' | cut -d/ -f2)"
check_eq "the host's manifest is the single-platform image's" "$digest" \
        "$(berth images --json | jq -r --arg r "$REG/bb:multi" '.[] | select(.reference == $r) | .digest')"
check "pull --platform linux/s390x takes the other" berth pull --platform linux/s390x $REG/bb:multi
check_eq "... recorded as s390x" "linux/s390x" \
        "$(berth images --json | jq -r --arg r "$REG/bb:multi" '.[] | select(.reference == $r) | .platform')"
check "pull by digest" berth pull "$REG/bb@$digest"
orphan=$STORE/blobs/sha256/$(printf 'left by a killed pull' | sha256sum | cut -d' ' -f1)
printf 'left by a killed pull' >"$orphan"
check_output_contains "a second pull of the same image is fine" "$REG/bb:1 $digest" berth pull $REG/bb:1
check_fails "a blob no image needs (a killed pull's) goes with the next pull" test -e "$orphan"

# --- refusals: nothing stored, no machine -----------------------------------
state=$(store_state)
check_status "an unknown tag: exit 2" 2 berth pull $REG/bb:nope
check_output_contains "... says it was not found" "not found.*MANIFEST_UNKNOWN" berth pull $REG/bb:nope
check_status "an unknown tag with NAME: exit 2" 2 berth pull $REG/bb:nope m-nope
check "... and no machine" no_machines
check_status "a bad reference: exit 2" 2 berth pull "$REG/BB:1"
check_output_contains "... says what is wrong" "lowercase" berth pull "$REG/BB:1"
check_status "a bad digest: exit 2" 2 berth pull "$REG/bb@sha256:1234"
check_status "pull --platform with no such platform: exit 2" 2 berth pull --platform linux/mips64 $REG/bb:multi

# A byte of the layer flipped in the registry's storage: the same size, another digest.
layer=$(skopeo inspect --raw --tls-verify=false docker://$REG/tamper:1 | jq -r '.layers[-1].digest' | cut -d: -f2)
data=$W/plain/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0]^1]))' "$data"
check_status "a tampered layer: exit 1" 1 berth pull $REG/tamper:1 m-tamper
check_output_contains "... digest mismatch named" "digest mismatch" berth pull $REG/tamper:1
check "... and no machine" no_machines

# Manifests that declare a layer smaller than it is: one to be downloaded,
# one already in the store (a digest fixes the size).
wrong_size() {
        skopeo inspect --raw --tls-verify=false "docker://$REG/$1:1" |
                jq -c "$2 -= 1000" >"$W/wrong.json" &&
                curl -sf -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
                        --data-binary @"$W/wrong.json" "http://$REG/v2/$1/manifests/wrong"
}
check "push a manifest with a wrong size of a new layer" wrong_size sized '.layers[-1].size'
check_status "a wrong declared size: exit 1" 1 berth pull $REG/sized:wrong m-wrong
check_output_contains "... refused on the announced length, before a byte is stored" \
        "size mismatch: its descriptor says [0-9]+ bytes, the registry announces [0-9]+" berth pull $REG/sized:wrong
check "... and no machine" no_machines
check "push a manifest with a wrong size of a stored layer" wrong_size bb '.layers[0].size'
check_status "a wrong declared size of a stored blob: exit 1" 1 berth pull $REG/bb:wrong
check_output_contains "... says so" "size mismatch.*already stored" berth pull $REG/bb:wrong
check_eq "after all refusals the store is as it was" "$state" "$(store_state)"

# --- TLS and Basic auth -----------------------------------------------------
make_tls() {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-test-ca \
                -keyout "$W/ca.key" -out "$W/ca.crt" &&
                openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
                        -keyout "$W/server.key" -out "$W/server.csr" &&
                printf 'subjectAltName=IP:127.0.0.1\n' >"$W/san.ext" &&
                openssl x509 -req -in "$W/server.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
                        -days 2 -extfile "$W/san.ext" -out "$W/server.crt" &&
                htpasswd -Bbn tester 's3cret-pw' >"$W/htpasswd"
}
check "make a CA, a server certificate and an htpasswd file" make_tls
check "start a TLS registry with Basic auth on $TREG" start_registry secure $TREG "  tls:
    certificate: $W/server.crt
    key: $W/server.key
auth:
  htpasswd:
    realm: berth-test
    path: $W/htpasswd"
check "push to it" push --dest-creds tester:s3cret-pw "oci:$L:bb" "docker://$TREG/secure/bb:1"
# authfile REGISTRY USER:PASSWORD FILE
authfile $TREG tester:s3cret-pw "$W/auth.json"
authfile $TREG tester:wrong-pw "$W/bad-auth.json"

state=$(store_state)
check_status "an unknown CA: exit 1" 1 berth pull --authfile "$W/auth.json" $TREG/secure/bb:1
check_output_contains "... says the certificate failed" "certificate verification failed" \
        berth pull --authfile "$W/auth.json" $TREG/secure/bb:1
check_output_contains "no credentials: the registry wants some" "wants a user name and password" \
        berth pull --ca-file "$W/ca.crt" $TREG/secure/bb:1
check_status "a wrong password (401): exit 1" 1 berth pull --ca-file "$W/ca.crt" --authfile "$W/bad-auth.json" \
        $TREG/secure/bb:1 m-denied
check_output_contains "... says access was denied" "denied with our credentials" \
        berth pull --ca-file "$W/ca.crt" --authfile "$W/bad-auth.json" $TREG/secure/bb:1
check "... and no machine" no_machines
check_fails "the password is never printed" grep -r "wrong-pw\|s3cret" "$TEST_TMP/out"
check_eq "the store is as it was" "$state" "$(store_state)"
check "pull over TLS with --ca-file and the auth file" \
        berth pull --ca-file "$W/ca.crt" --authfile "$W/auth.json" $TREG/secure/bb:1
check "the default auth file (\$REGISTRY_AUTH_FILE) is read too" \
        env REGISTRY_AUTH_FILE="$W/auth.json" "$BERTH" pull --ca-file "$W/ca.crt" $TREG/secure/bb:1

# --- bearer tokens, a redirect to another origin, a broken transfer ----------
PROXY=127.0.0.1:5080
check "start a token-auth front of the plain registry on $PROXY" start_proxy 5080 $REG tokenuser:token-pw
authfile $PROXY tokenuser:token-pw "$W/proxy-auth.json"
authfile $PROXY tokenuser:nope "$W/proxy-bad.json"
check_status "a token service that refuses the credentials: exit 1" 1 \
        berth pull --authfile "$W/proxy-bad.json" $PROXY/sized:1
check_output_contains "... says so" "token service refused our credentials" \
        berth pull --authfile "$W/proxy-bad.json" $PROXY/sized:1
: >"$W/proxy.log"
check "pull with a bearer token, blobs redirected, a layer cut off half way" \
        berth pull --authfile "$W/proxy-auth.json" $PROXY/sized:1
check "the token was asked for with the credentials" grep -q "^token creds=yes" "$W/proxy.log"
check "blobs were fetched from the other origin" grep -q "^blob auth=" "$W/proxy.log"
check_fails "... without the credentials or the token" grep -q "^blob auth=yes" "$W/proxy.log"
check "a layer download was cut off" grep -q "^cut sha256:" "$W/proxy.log"
check "... and resumed with a range request" grep -qE "^range bytes=[1-9][0-9]*-$" "$W/proxy.log"
check "every stored blob has its digest (after the resume)" verify_blobs
check "rmi it" berth rmi $PROXY/sized:1
check "push a manifest with a wrong layer size where blobs come chunked" wrong_size chunked/sized '.layers[-1].size'
check_status "a wrong declared size, no length announced: exit 1" 1 \
        berth pull --authfile "$W/proxy-auth.json" $PROXY/chunked/sized:wrong
check_output_contains "... stopped while it streamed" "sent more than the [0-9]+ bytes its descriptor says" \
        berth pull --authfile "$W/proxy-auth.json" $PROXY/chunked/sized:wrong
check_fails "... and not stored" bash -c "berth images | grep -q chunked"

# A pull killed in the middle of a layer: nothing of it stays, the lock is free.
state=$(store_state)
no_pull_left() { ! pgrep -f "berth-pull .*$STORE" >/dev/null; }
kill_mid_blob() {
        "$BERTH" pull --authfile "$W/proxy-auth.json" $PROXY/slow/sized:1 >/dev/null 2>&1 &
        local pid=$!
        wait_for 30 grep -q "^slow " "$W/proxy.log" || return 1
        kill -9 $pid
        wait $pid 2>/dev/null
        wait_for 10 no_pull_left || { echo "berth-pull outlived berth"; return 1; }
}
check "kill berth -9 while a layer streams" kill_mid_blob
check_eq "... nothing of it is stored" "$state" "$(store_state)"
check "... and the next pull gets the store's lock" timeout 60 "$BERTH" pull $REG/bb:1

# A pull killed while it unpacks: the layer being made stays hidden (a
# staging dir), no layer dir is half a layer, and the next pull or create
# removes the leftovers and unpacks it whole.
mkdir -p "$W/big/srv" && head -c 48M /dev/urandom >"$W/big/srv/big.bin"
check "push an image with a 48 MiB layer" bash -c "umoci insert --image $L:bb --tag big $W/big / >/dev/null &&
        skopeo copy -q --dest-tls-verify=false oci:$L:big docker://$REG/big:1"
whole_layers() { # every layer dir in place has its tree and chain
        local d
        for d in "$LAYERS"/*/; do [ -d "$d/tree" ] && [ -s "$d/chain" ] || return 1; done
}
visible_layers() { ls "$LAYERS" | LC_ALL=C sort | xargs; }
before_kill=$(visible_layers)
no_import_left() { ! pgrep -f "berth-import .*$STORE" >/dev/null; }
kill_mid_unpack() {
        "$BERTH" pull $REG/big:1 >/dev/null 2>&1 &
        local pid=$! end=$((SECONDS + 60))
        # Busy: a 48 MiB layer unpacks in a fraction of a second.
        until compgen -G "$LAYERS/.staging-*" >/dev/null; do
                [ $SECONDS -lt $end ] && kill -0 $pid 2>/dev/null || { echo "no unpack seen"; return 1; }
        done
        kill -9 $pid
        wait $pid 2>/dev/null
        wait_for 10 no_import_left || { echo "berth-import outlived berth"; return 1; }
}
check "kill berth -9 while pull unpacks a layer" kill_mid_unpack
check "... every layer dir in place is a whole layer" whole_layers
check_eq "... no new layer is in place" "$before_kill" "$(visible_layers)"
check "the next pull of it succeeds" berth pull $REG/big:1
check_eq "... it removed what the killed one left" "" "$(ls -A "$LAYERS" | grep '^\.')"
big_digest=$(berth images --json | jq -r --arg r "$REG/big:1" '.[] | select(.reference == $r) | .digest')
check_eq "... and unpacked both layers of the image" 2 "$(wc -w <<<"$(layers_of "$big_digest")")"
check "... whole" whole_layers
check "rmi it" berth rmi $REG/big:1
check_eq "its own layer went with it" "$before_kill" "$(visible_layers)"

# --- a machine from a pulled image ------------------------------------------
check "pull REF NAME makes a machine" berth pull $REG/bb:1 m1
check_eq "its source is the reference" "pull:$REG/bb:1" "$(grep -h '^SOURCE=' "$BERTH_ROOT/machines/m1/info" 2>/dev/null | cut -d= -f2-)"
check "start it" berth start m1
check_eq "exec in it" "hello from m1" "$(berth exec m1 -- echo hello from m1 2>&1)"
check "stop it" berth stop m1
check "pull REF NAME of zstd layers" berth pull $REG/bb:zstd m-zstd
check "pull NAME of a Docker schema 2 image" berth pull $REG/bb:v2s2 m-v2s2
# Machines of pulled images are layered (as create --image makes them):
# their files are the upper over the image's layers.
merged_names() {
        local m="$BERTH_ROOT/machines/$1" lower
        lower="$m/rootfs$(sed "s|^|:$BERTH_ROOT/images/layers/|; s|\$|/tree|" "$m/layers" | tr -d '\n')"
        unshare -m bash -c 'mount --make-rslave / && mount -t overlay o -o "ro,userxattr,lowerdir=$1" "$2" &&
                cd "$2" && find . | grep -v "^./etc/hostname$" | LC_ALL=C sort' _ "$lower" "$m/rootfs"
}
check "a machine of a pulled image is layered over its layers" test -s "$BERTH_ROOT/machines/m-v2s2/layers"
check_eq "its tree is the OCI image's" "$(merged_names m-zstd | sha256sum)" "$(merged_names m-v2s2 | sha256sum)"
check_status "pull REF NAME of an existing machine: exit 2" 2 berth pull $REG/bb:1 m1
check_eq "berth images names the machine made from it" '["m1"]' \
        "$(berth images --json | jq -c --arg r "$REG/bb:1" '.[] | select(.reference == $r) | .machines')"

# --- rmi --------------------------------------------------------------------
base_layer=$(jq -r '.layers[0].digest' "$STORE/blobs/sha256/${digest#sha256:}" | cut -d: -f2)
bb2_digest=$(berth images --json | jq -r --arg r "$REG/team/bb2:latest" '.[] | select(.reference == $r) | .digest')
bb2_layer=$(jq -r '.layers[-1].digest' "$STORE/blobs/sha256/${bb2_digest#sha256:}" | cut -d: -f2)
check_status "rmi of an unknown image: exit 1" 1 berth rmi $REG/team/bb2 $REG/nope
check "... removes nothing" test -f "$STORE/blobs/sha256/$bb2_layer"
bb2_layers=$(layers_of "$bb2_digest")
check_eq "bb2 has its own layer over the shared one" 2 "$(wc -w <<<"$bb2_layers")"
check "rmi the second image (short form of the reference)" berth rmi $REG/team/bb2
check_eq "its own unpacked layer went with it, the shared one stays" "$(layers_of "$digest")" \
        "$(for l in $bb2_layers; do [ -d "$LAYERS/$l" ] && echo "$l"; done | xargs)"
check_fails "its own layer is gone" test -e "$STORE/blobs/sha256/$bb2_layer"
check "the shared layer stays" test -f "$STORE/blobs/sha256/$base_layer"
check_fails "it is no longer listed" bash -c "berth images | grep -q team/bb2"
# bb:1 has two more names (pulled by digest, and from the TLS registry):
# only removing all three leaves m1's image without a name.
check_status "rmi of every name of an image machines were made from: refused (1)" 1 \
        berth rmi $REG/bb:1 "$REG/bb@$digest" $TREG/secure/bb:1
check_output_contains "... both names still listed" "$REG/bb:1" berth images
check "rmi --force all the rest" berth rmi --force $(berth images --json | jq -r '.[].reference')
check_eq "no blob is left" 0 "$(blob_count)"
check_eq "no image is listed" "[]" "$(berth images --json | jq -c .)"
check_eq "machines made from them stay" "m-v2s2 m-zstd m1" "$(berth list --json | jq -r '.[].name' | sort | xargs)"
# A layer that fits --max-size as a blob but not unpacked (4 MiB of zeros):
# refused at the unpack, and the image dropped again.
mkdir -p "$W/zeros/srv" && head -c 4M /dev/zero >"$W/zeros/srv/zeros"
check "push an image with a layer that unpacks to much more than its blob" \
        bash -c "umoci insert --image $L:bb --tag zeros $W/zeros / >/dev/null &&
                skopeo copy -q --dest-tls-verify=false oci:$L:zeros docker://$REG/zeros:1"
blob_k=$(( $(skopeo inspect --raw --tls-verify=false docker://$REG/zeros:1 | jq '[.layers[].size] | max') / 1024 + 1 ))
layers_before=$(visible_layers)
check_status "pull with a --max-size the unpacked layer exceeds: exit 1" 1 \
        berth pull --max-size ${blob_k}K $REG/zeros:1
check_output_contains "... says the image was not stored" "not stored" berth pull --max-size ${blob_k}K $REG/zeros:1
check_eq "... and it is not" "[]" "$(berth images --json | jq -c .)"
check_eq "... no blob is left" 0 "$(blob_count)"
check_eq "... no layer of it stays" "$layers_before" "$(visible_layers)"
# Not dropped when the name held that very image before the pull: it is
# not this pull's to remove (machines may use it).
check "pull it without the limit" berth pull $REG/zeros:1
zeros_digest=$(jq -r '.manifests[0].digest' "$STORE/index.json")
zeros_layers=$(layers_of "$zeros_digest")
check "... its layers unpacked" test -n "$zeros_layers"
for l in $zeros_layers; do rm -rf "${LAYERS:?}/$l"; done
check_status "pull it again with the small --max-size (its layer is unpacked again): exit 1" 1 \
        berth pull --max-size ${blob_k}K $REG/zeros:1
check_eq "... the image it had before stays" "$zeros_digest" "$(jq -r '.manifests[0].digest' "$STORE/index.json")"
check "pull without the limit unpacks it" berth pull $REG/zeros:1
check_eq "... its layers are back" "$zeros_layers" "$(layers_of "$zeros_digest")"
check "rmi it" berth rmi $REG/zeros:1
check_eq "... no blob is left" 0 "$(blob_count)"
progress() { script -qec "$BERTH pull $REG/bb:1" /dev/null; }
check_output_contains "on a terminal, progress per layer" "Pulling layer 1/1 sha256:[0-9a-f]{12}: [0-9.]+ of [0-9.]+ MiB" progress
check_fails "not into a pipe" bash -c "berth pull $REG/team/bb2 2>&1 | grep -q Pulling"

# --- a Debian+systemd image from the registry boots (cache of test-debian.sh) --
deb_cache=
for d in "${BERTH_TEST_CACHE:-/nonexistent}"/debian-*; do [ -d "$d/etc" ] && { deb_cache=$d; break; }; done
if [ -n "$deb_cache" ]; then
        push_debian() {
                tar --numeric-owner -C "$deb_cache" -cf "$W/debian.tar" . &&
                        umoci new --image "$L:deb0" &&
                        umoci raw add-layer --image "$L:deb0" --tag debian "$W/debian.tar" &&
                        umoci config --image "$L:debian" --config.cmd /lib/systemd/systemd \
                                --config.stopsignal 'SIGRTMIN+3' && rm -f "$W/debian.tar" &&
                        push oci:$L:debian docker://$REG/debian:12
        }
        check "push a one-layer Debian+systemd image" push_debian
        check "pull it" berth pull $REG/debian:12
        check "create --image of it" berth create --image $REG/debian:12 deb1 --set Network.Mode=none
        check "... is layered over its layer" test -s "$BERTH_ROOT/machines/deb1/layers"
        check "start --wait" berth start --wait deb1
        check_eq "its systemd is running" running "$(berth exec deb1 -- systemctl is-system-running --wait)"
        check "stop" berth stop deb1
        check "rm" berth rm deb1
        check "rmi" berth rmi $REG/debian:12
else
        ok "# SKIP no Debian template cache (test-debian.sh fills it)"
fi

done_testing
