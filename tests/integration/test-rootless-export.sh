#!/bin/bash
# rename and export without root (README "Without root"): a user made for
# this test renames a stopped busybox machine (a running one is refused):
# its dir, snapshots, runtime dir and registry entry follow, its
# etc/hostname says the new name (written as the machine's root, never
# through a guest's symlink to a host file), and it starts and runs
# commands under the new name; so
# does a clone --overlay family sharing one range, and a layered machine in
# the image store's range.  export writes tar, tar.gz, tar.zst, tar.xz and
# oci-archive with the machine's own IDs (0..65535): imported back by the
# user and by root, each gives the same tree (a manifest of paths, types,
# modes, owners, sizes, link targets and digests).  The archive is the
# user's; a symlink to a host file the user cannot read goes in as a
# symlink, the file's content never; a directory the user cannot write
# refuses the export and nothing is left; a rename that fails at its commit
# leaves the old machine, one killed after it the new one; nothing under
# /var/lib/berth or /run/berth changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-rootless.sh"

trap 'rootless_cleanup; cleanup' EXIT
rootless_user berth-rlx 4 || { not_ok "useradd"; done_testing; }
check "the admin gives the user four ranges" rootless_add_ranges
M=$STATE/machines
OUT=$UHOME/out
base_of() { sed -n 's/^UID_BASE=//p' "$1/idmap" 2>/dev/null; }
# Every entry below DIR but sockets and etc/hostname (import writes its
# own): path, type, mode, owner less BASE, size (not a directory's: a
# file system's own figure), link target; then a digest of each file.
listing() {
        (cd "$1" && find . -mindepth 1 ! -type s ! -path ./etc/hostname -printf '%P %y %m %U %G %s %l\n' |
                awk -v b="$2" '{ $4 -= b; $5 -= b; if ($2 == "d") $6 = "-"; print }' | LC_ALL=C sort &&
                find . -type f ! -path ./etc/hostname -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
# A layered machine's merged view, mounted read-only by root for the look.
view_listing() {
        local m=$1 lower
        lower="$m/rootfs$(sed "s|^|:$STATE/images/layers/|; s|\$|/tree|" "$m/layers" | tr -d '\n')"
        export -f listing
        unshare -m bash -c 'mount --make-rslave / && mount -t overlay o -o "ro,userxattr,lowerdir=$1" "$2" &&
                listing "$2" "$3"' _ "$lower" "$m/rootfs" "$2"
}
before=$(system_listing)

# --- rename ---------------------------------------------------------------------
check "create a --template busybox" ub create a --template busybox --set Network.Mode=none
check "start a" ub start a
check_output_contains "rename of a running machine: refused" "is running; stop it first" ub rename a b
check "... a is still there" test -d "$M/a"
check "a writes a file" ub exec a -- sh -c 'echo before >/root/mark'
check "stop a" ub stop a
check "a has a runtime dir" test -d "$URUN/berth/a"
check "snapshot a s1" ub snapshot a s1
check "create x" ub create x --template busybox --set Network.Mode=none
check_status "rename to a name taken: refused (2)" 2 ub rename a x
check "rm x" ub rm x
# A guest's etc/hostname pointing at a host file: the rename must replace
# the link, never write through it.
echo host-file >"$UDIR/host-hostname"
chmod 0666 "$UDIR/host-hostname"
ln -sf "$UDIR/host-hostname" "$M/a/rootfs/etc/hostname" && chown -h "$START:$START" "$M/a/rootfs/etc/hostname"
check "rename a b" ub rename a b
check "a's dir is gone" test ! -e "$M/a"
check_eq "b has a's range" "$START" "$(base_of "$M/b")"
check_eq "the registry entry names b" "$(printf %08x "$START") $M/b" "$(entries)"
check "the runtime dir followed" test ! -e "$URUN/berth/a" -a -d "$URUN/berth/b"
check_eq "the host file the link named is untouched" "host-file" "$(cat "$UDIR/host-hostname")"
check_eq "etc/hostname is a file saying b, the machine root's" "f b $START" \
        "$(stat -c '%F' "$M/b/rootfs/etc/hostname" | sed 's/regular file/f/') $(cat "$M/b/rootfs/etc/hostname" 2>&1) \
$(stat -c %u "$M/b/rootfs/etc/hostname")"
check "start b" ub start b
check_eq "b is named b inside" "b" "$(ub exec b -- hostname 2>&1)"
check_eq "... runs as root of its range" "0" "$(ub exec b -- id -u 2>&1)"
check "b changes the file" ub exec b -- sh -c 'echo after >/root/mark'
check "stop b" ub stop b
check_eq "list shows b, not a" "b" "$(ub list --json | jq -r '.[].name' | xargs)"
check_output_contains "a's snapshot is b's" "^s1 " ub snapshots b
check "restore b s1" ub restore b s1
check "start b" ub start b
check_eq "b has the snapshot's file" "before" "$(ub exec b -- cat /root/mark 2>&1)"
check "stop b" ub stop b
check "snapshot --rm b s1" ub snapshot --rm b s1

# --- a clone --overlay family ---------------------------------------------------
check "clone --overlay b c" ub clone --overlay b c
check "rename b b2 (it shares its range with c)" ub rename b b2
owner=$(entries | cut -d' ' -f2)
check_eq "one registry entry, held by a machine of the family with the range" \
        "$(printf %08x "$START") $START" "$(entries | cut -d' ' -f1) $(base_of "$owner")"
check_eq "c still shares b2's range" "$START $START" "$(base_of "$M/b2") $(base_of "$M/c")"
check "start b2" ub start b2
check "start c" ub start c
check_eq "b2 is b2, c is c" "b2 c" "$(ub exec b2 -- hostname 2>&1) $(ub exec c -- hostname 2>&1)"
check "stop c" ub stop c
check "rename c c2 (renames the last of the family)" ub rename c c2
check "start c2" ub start c2
check_eq "c2 is c2" "c2" "$(ub exec c2 -- hostname 2>&1)"
check "stop c2" ub stop c2
check "stop b2" ub stop b2

# --- a layered machine (the image store's range) ---------------------------------
check "images build busybox" ub images build busybox
check "create l --image of it" ub create l --image localhost/berth/template/busybox:latest --set Network.Mode=none
check "l stands on layers" test -s "$M/l/layers"
IBASE=$(base_of "$STATE/images")
check_eq "l runs in the image store's range" "$IBASE" "$(base_of "$M/l")"
ientries=$(entries)
check "rename l l2" ub rename l l2
check_eq "the registry is as it was (the store's claim covers l2)" "$ientries" "$(entries)"
check_eq "l2's etc/hostname says l2, copied up into its upper" "l2 $IBASE" \
        "$(cat "$M/l2/rootfs/etc/hostname" 2>&1) $(stat -c %u "$M/l2/rootfs/etc/hostname" 2>&1)"
check "start l2" ub start l2
check_eq "l2 is l2" "l2" "$(ub exec l2 -- hostname 2>&1)"
check "l2 writes a file of its own" ub exec l2 -- sh -c 'echo upper >/root/up'
check "stop l2" ub stop l2

# --- export ---------------------------------------------------------------------
check "create e --template busybox (a plain rootfs)" ub create e --template busybox --set Network.Mode=none
EBASE=$(base_of "$M/e")
R=$M/e/rootfs
echo data >"$R/etc/one" && ln "$R/etc/one" "$R/root/one-link"
mkdir -p "$R/home/u" && echo mine >"$R/home/u/f"
chown -R "$((EBASE + 1000)):$((EBASE + 1001))" "$R/home/u"
cp -p "$R/bin/busybox" "$R/bin/suid" && chmod 4755 "$R/bin/suid"
mkfifo "$R/run/fifo"
# A host file the user cannot read, named by symlinks in the machine.
echo topsecret-$$ >"$UDIR/secret"
chmod 0600 "$UDIR/secret"
ln -s "$UDIR/secret" "$R/etc/abs-leak" && ln -s "../../../../../../../..$UDIR/secret" "$R/etc/rel-leak"
# What root made here is the range root's, as the guest's own files are.
find "$R" -xdev \( -uid 0 -o -gid 0 \) -exec chown -h "$EBASE:$EBASE" {} +
want=$(listing "$R" "$EBASE")
check_output_contains "the listing sees the setuid file" "^bin/suid f 4755 0 0 " echo "$want"
check_output_contains "... and the user's IDs 1000:1001" "^home/u/f f 644 1000 1001 " echo "$want"
check_fails "the user cannot read the secret" setpriv --reuid "$U" --regid "$U" --init-groups cat "$UDIR/secret"
setpriv --reuid "$U" --regid "$U" --init-groups mkdir -m 0700 "$OUT"

for f in b.tar b.tar.gz b.tar.zst b.tar.xz b.oci; do
        n=${f//./-}
        fmt=(); [ "$f" = b.oci ] && fmt=(--format oci-archive)
        check "export e $f" ub export "${fmt[@]}" e "$OUT/$f"
        check_eq "$f is the user's" "$UID_U $UID_U" "$(stat -c '%u %g' "$OUT/$f" 2>&1)"
        check "the user imports it" ub import "u-$n" "$OUT/$f" --set Network.Mode=none
        check_eq "$f gives the user the same tree" "$want" "$(listing "$M/u-$n/rootfs" "$(base_of "$M/u-$n")")"
        check "rm u-$n" ub rm "u-$n"
        check "root imports it" berth import "r-$n" "$OUT/$f" --set Network.Mode=none
        check_eq "$f gives root the same tree" "$want" "$(listing "$BERTH_ROOT/machines/r-$n/rootfs" 0)"
        check "root's rm r-$n" berth rm "r-$n"
done
check_eq "the IDs in the tar are the machine's own" "0/0 1000/1001" \
        "$(tar tvf "$OUT/b.tar" ./bin/busybox ./home/u/f | awk '{print $2}' | xargs)"
check_output_contains "the symlinks are symlinks in it" "etc/abs-leak -> $UDIR/secret" tar tvf "$OUT/b.tar"
# (the oci-archive's layer is an uncompressed tar inside it)
check_eq "the secret is in no archive" "" "$(cat "$OUT/b.tar" "$OUT/b.oci" | grep -a "topsecret-$$")"
check_eq "its index names the image" "localhost/e:latest" \
        "$(tar xOf "$OUT/b.oci" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')"
check_eq "no hidden leftovers" "" "$(ls -A "$OUT" | grep '^\.')"

lwant=$(view_listing "$M/l2" "$IBASE")
check_output_contains "the merged view holds l2's own file" "^root/up f 644 0 0 " echo "$lwant"
check "export the layered l2" ub export l2 "$OUT/l.tar.zst"
check "the user imports it" ub import ul "$OUT/l.tar.zst" --set Network.Mode=none
check_eq "its merged view" "$lwant" "$(listing "$M/ul/rootfs" "$(base_of "$M/ul")")"
check "root imports it" berth import rl "$OUT/l.tar.zst" --set Network.Mode=none
check_eq "... the same for root" "$lwant" "$(listing "$BERTH_ROOT/machines/rl/rootfs" 0)"
check "the user's import boots" ub start ul
check_eq "... and has l2's file" "upper" "$(ub exec ul -- cat /root/up 2>&1)"
check "stop ul" ub stop ul
check "rm ul" ub rm ul
bwant=$(view_listing "$M/b2" "$START")
check "export b2, of a clone --overlay family" ub export b2 "$OUT/b2.tar"
check "the user imports it" ub import ub2 "$OUT/b2.tar" --set Network.Mode=none
check_eq "its merged view" "$bwant" "$(listing "$M/ub2/rootfs" "$(base_of "$M/ub2")")"
check "rm ub2" ub rm ub2

# --- refusals -------------------------------------------------------------------
check_output_contains "a directory the user cannot write: refused" "Cannot write the archive in $UDIR: Permission" \
        ub export e "$UDIR/x.tar"
check_eq "... nothing written there" "" "$(ls -A "$UDIR" | grep -E 'x\.tar')"
check_status "a missing directory: status 1" 1 ub export e "$OUT/missing/x.tar"
check "start e" ub start e
check_output_contains "a running machine: refused" "running; stop it first" ub export e "$OUT/r.tar"
check "stop e" ub stop e
check "a failing helper" test "$(BERTH_EXPORT=/bin/false ub export e "$OUT/f.tar" >/dev/null 2>&1; echo $?)" = 1
check_eq "... leaves nothing" "" "$(ls -A "$OUT" | grep -E '^\.|r\.tar|f\.tar|x\.tar')"

# --- a rename that fails or is killed -------------------------------------------------
# ub under strace (root's), which fails or kills the user's berth at a call.
ub_strace() {
        local inject=$1; shift
        strace -f -o /dev/null -e "inject=$inject" bash -c "$(declare -f ub); $(declare -p U UHOME URUN BERTH \
                BERTH_TEMPLATE_DIR BERTH_UNPACK BERTH_IMPORT BERTH_MACHINED); ub \"\$@\"" ub "$@"
}
names() { ub list --json | jq -r '.[].name' | LC_ALL=C sort | xargs; }
check_fails "the commit fails" ub_strace renameat2:error=EIO:when=1 rename e k
check_eq "e is still e" "b2 c2 e l2" "$(names)"
check "e still starts" ub start e
check "stop e" ub stop e
# Killed right after the commit (at the runtime dir's rename): k is complete.
check_status "killed at the runtime dir's rename (137)" 137 ub_strace renameat:signal=KILL:when=1 rename e k
check_eq "killed after the commit: k" "b2 c2 k l2" "$(names)"
check "k starts" ub start k
# (its etc/hostname may still say e: berth(1) says what lags behind)
check_eq "k runs commands" "ok" "$(ub exec k -- echo ok 2>&1)"
check "stop k" ub stop k
check_eq "its registry entry names k now (the start claimed it)" "$M/k" \
        "$(sed -n 's/^OWNER=//p' "$STATE/uid-ranges/$(printf %08x "$EBASE")" 2>&1)"

for m in b2 c2 l2 k; do check "rm $m" ub rm $m; done
check_eq "nothing under /var/lib/berth or /run/berth changed but by root" "" \
        "$(comm -13 <(echo "$before") <(system_listing) | awk '$3 != 0')"
check_eq "nothing of the system's belongs to the user" "" \
        "$(find /var/lib/berth /run/berth -uid "$UID_U" -print -quit 2>/dev/null)"

done_testing
