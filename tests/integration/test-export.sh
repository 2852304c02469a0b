#!/bin/bash
# berth export: a busybox machine with hard links, odd owners, a setuid file,
# a FIFO, a socket and an xattr goes out as tar, tar.gz, tar.zst, tar.xz and
# oci-archive, and comes back through berth import as the same tree
# (compared by a manifest of paths, types, modes, owners, sizes, link
# targets and digests); owners of a chowned rootfs come out as the guest's;
# a layered machine exports its merged view; skopeo (and podman, where
# installed) read the oci-archive, whose import boots.
. "$(dirname "$0")/lib.sh"

# Every entry but the socket: path, type, mode, owner, size, link target,
# then a digest of each regular file and the user.* xattrs.
tree_listing() {
        (cd "$1" && find . ! -type s -printf '%P %y %m %U:%G %s %l\n' | LC_ALL=C sort &&
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum &&
                python3 -c 'import os, sys
for dp, dns, fns in sorted(os.walk(".")):
    for n in sorted(dns + fns):
        p = os.path.join(dp, n)
        for x in sorted(os.listxattr(p, follow_symlinks=False)):
            if x.startswith("user."):
                print(p, x, os.getxattr(p, x, follow_symlinks=False))')
}
rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
# The listing without etc/hostname, which import writes for the new machine.
listing_of() { tree_listing "$(rootfs_of "$1")" | grep -v 'etc/hostname'; }
view_listing() {
        local m="$BERTH_ROOT/machines/$1" lower
        [ -f "$m/layers" ] || { listing_of "$1"; return; }
        lower="$m/rootfs$(sed "s|^|:$BERTH_ROOT/images/layers/|; s|\$|/tree|" "$m/layers" | tr -d '\n')"
        export -f tree_listing
        unshare -m bash -c 'mount --make-rslave / && mount -t overlay o -o "ro,userxattr,lowerdir=$1" "$2" &&
                tree_listing "$2"' _ "$lower" "$m/rootfs" | grep -v 'etc/hostname'
}
OUT=$TEST_TMP/out.d
mkdir "$OUT"

check "create a" berth create a --template busybox --set Network.Mode=none
R=$(rootfs_of a)
echo data >"$R/etc/one" && ln "$R/etc/one" "$R/etc/one-link" && ln "$R/etc/one" "$R/root/one-link2"
mkdir -p "$R/home/u" && echo mine >"$R/home/u/f" && chown -R 1000:1001 "$R/home/u"
cp "$R/bin/busybox" "$R/bin/suid" && chmod 4755 "$R/bin/suid"
mkfifo "$R/run/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$R/run/sock"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.berth", b"kept")' "$R/etc/one"
ln -s /etc/passwd "$R/etc/abs-link" && ln -s ../../../../../../etc/shadow "$R/etc/rel-link"
want=$(listing_of a)
check_output_contains "the listing sees the xattr" "user.berth b'kept'" echo "$want"
check_output_contains "and the setuid bit" "^bin/suid f 4755 " echo "$want"

for f in a.tar a.tar.gz a.tar.zst a.tar.xz; do
        check "export a $f" berth export a "$OUT/$f"
        check "import it" berth import "i-${f//./-}" "$OUT/$f" --set Network.Mode=none
        check_eq "$f gives the same tree" "$want" "$(listing_of "i-${f//./-}")"
done
magic() { head -c4 "$1" | od -An -tx1 | tr -d ' \n'; }
check_eq "the suffix said the compression (zstd's magic)" 28b52ffd "$(magic "$OUT/a.tar.zst")"
check_eq "the socket was left out" "" "$(tar tf "$OUT/a.tar" | grep run/sock)"
check_eq "owners are numbers only, no host names" "" "$(tar tvf "$OUT/a.tar" | awk '$2 !~ /^[0-9]+\/[0-9]+$/')"
check_eq "hard links stay hard links" 3 "$(stat -c %h "$(rootfs_of i-a-tar)/etc/one")"
check "--format over the suffix" berth export --format tar.gz a "$OUT/plain.img"
check_eq "it is gzip" 1f8b "$(magic "$OUT/plain.img" | cut -c1-4)"
check "export replaces an existing file" berth export a "$OUT/a.tar"
check_eq "no hidden leftovers" "" "$(ls -A "$OUT" | grep '^\.')"

# --- refusals ------------------------------------------------------------------
check_status "an unknown suffix: status 2" 2 berth export a "$OUT/a.zip"
check_status "an unknown --format: status 2" 2 berth export --format zip a "$OUT/x.tar"
check_status "--ref without oci-archive: status 2" 2 berth export --ref x a "$OUT/x.tar"
check_status "a bad --ref: status 2" 2 berth export --format oci-archive --ref 'a b' a "$OUT/x.oci"
check_status "a directory as FILE: status 2" 2 berth export --format tar a "$OUT"
check_status "no such machine: status 4" 4 berth export nope "$OUT/x.tar"
check_status "a missing directory: status 1" 1 berth export a "$OUT/missing/x.tar"
check "start a" berth start a
check_output_contains "a running machine is refused" "running; stop it first" berth export a "$OUT/x.tar"
check "stop a" berth stop a
# The helper fails half way: no archive, no leftover.
check_fails "a failing helper" env BERTH_EXPORT=/bin/false "$BERTH" export a "$OUT/x.tar"
check_eq "nothing written" "" "$(ls -A "$OUT" | grep -E 'x\.tar|^\.')"

# --- owners of a chowned rootfs ----------------------------------------------------
check "create ch (PrivateUsersOwnership=chown)" berth create ch --template busybox \
        --set PrivateUsersOwnership=chown --set Network.Mode=none
chown 1000:1000 "$(rootfs_of ch)/etc/passwd"
ch_want=$(listing_of ch)
check "start ch (the rootfs is chowned)" berth start ch
check "stop ch" berth stop ch
check "ch's files are shifted on disk" test "$(stat -c %u "$(rootfs_of ch)/bin/busybox")" -gt 65535
check "export ch" berth export ch "$OUT/ch.tar"
check_eq "owners as the guest sees them" "0/0 1000/1000" \
        "$(tar tvf "$OUT/ch.tar" ./bin/busybox ./etc/passwd | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
check "import it" berth import ch2 "$OUT/ch.tar" --set Network.Mode=none
check_eq "the same tree as before the shift" "$ch_want" "$(listing_of ch2)"

# --- a layered machine: the merged view ---------------------------------------------
check "snapshot --overlay a s1" berth snapshot --overlay a s1
check "a is layered" test -s "$BERTH_ROOT/machines/a/layers"
echo changed >"$TEST_TMP/f"
check "change a file" berth cp "$TEST_TMP/f" a:/etc/one-new
layered_want=$(view_listing a)
check "export the layered a" berth export a "$OUT/layered.tar.gz"
check "import it" berth import lay "$OUT/layered.tar.gz" --set Network.Mode=none
check_eq "the merged view" "$layered_want" "$(listing_of lay)"
check_eq "with the upper's file" changed "$(cat "$(rootfs_of lay)/etc/one-new")"
check_eq "no overlay xattrs in it" "" "$(tar --xattrs -tvvf "$OUT/layered.tar.gz" 2>/dev/null | grep -i overlay)"

# --- oci-archive ------------------------------------------------------------------
check "export --format oci-archive a" berth export --format oci-archive a "$OUT/a.oci"
check_eq "its index names the image" "localhost/a:latest" \
        "$(tar xOf "$OUT/a.oci" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')"
check "skopeo copy oci-archive: oci:" skopeo copy "oci-archive:$OUT/a.oci" "oci:$OUT/layout:t"
check "import the layout" berth import o "$OUT/layout" --set Network.Mode=none
check_eq "the same tree" "$layered_want" "$(listing_of o)"
check "it boots" berth start o
check_eq "and runs commands" ok "$(berth exec o -- echo ok)"
check "stop o" berth stop o
check "export --ref" berth export --format oci-archive --ref example.test/team/a:1.0 a "$OUT/r.oci"
check "skopeo inspect finds it" skopeo inspect "oci-archive:$OUT/r.oci:example.test/team/a:1.0"
if command -v podman >/dev/null; then
        P=(podman --root "$TEST_TMP/podman" --runroot "$TEST_TMP/podman-run" --storage-driver vfs)
        check_output_contains "podman load reads it" "localhost/a:latest" "${P[@]}" load -i "$OUT/a.oci"
else
        ok "podman load reads it # SKIP podman not installed"
fi

done_testing
