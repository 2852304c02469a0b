#!/bin/bash
# berth cp: copies in and out of a stopped and a running machine keep
# contents, modes, owners and symlinks; guest symlinks never lead the copy to
# the host's files; nothing setuid, no device node reaches the host.
. "$(dirname "$0")/lib.sh"

rootfs=$BERTH_ROOT/machines/x/rootfs
src=$TEST_TMP/src
out=$TEST_TMP/copies  # not "out": lib.sh keeps each check's output there
mkdir -p "$src" "$out"

# A host tree with what cp must preserve; special files live apart so that the
# tree compares equal after a round trip.
echo hello >"$src/f"
chown 1000:1000 "$src/f"
chmod 0640 "$src/f"
mkdir -p "$src/t/sub/deep" "$src/t/empty"
echo a >"$src/t/a"
echo b >"$src/t/sub/b"
head -c 300000 /dev/urandom >"$src/t/sub/deep/big"
ln -s a "$src/t/link"
ln -s /etc/shadow "$src/t/abs-link"
chown -h 1000:1000 "$src/t/a" "$src/t/link"
chown 123:456 "$src/t/sub"
chmod 0600 "$src/t/a"
chmod 0750 "$src/t/sub"
chmod 1777 "$src/t/empty"
touch -h -d '2001-02-03 04:05:06' "$src/t/link" "$src/t/sub/b"
ln -s a "$src/link"
mkdir "$src/special"
echo keep >"$src/special/plain"
mkfifo "$src/special/fifo"
mknod "$src/special/null" c 1 3
echo big-id >"$src/bigid"
chown 70000:70000 "$src/bigid"

# What a tree looks like: each entry's type, owner, mode, link target and mtime.
listing() { (cd "$1" && find . -printf '%p %y %U:%G %m %l %T@\n' | sort); }

no_temp_left() { ! ls -a "$1" | grep -q '^\.#berth-cp'; }

# guest_stat FORMAT PATH and friends: through berth exec when running (the
# machine's own view), on disk when stopped.
guest_stat() {
        if [ "$mode" = running ]; then berth exec x -- stat -c "$1" "$2"; else stat -c "$1" "$rootfs$2"; fi
}
guest_readlink() {
        if [ "$mode" = running ]; then berth exec x -- readlink "$1"; else readlink "$rootfs$1"; fi
}
guest_sh() {
        if [ "$mode" = running ]; then berth exec x -- sh -c "$1"; else (cd "$rootfs" && chroot . /bin/sh -c "$1"); fi
}

check "create a busybox machine" berth create x --template busybox

# A device node and a FIFO inside the machine, made on disk: a machine cannot
# make device nodes itself.
mkdir "$rootfs/devdir"
echo plain >"$rootfs/devdir/plain"
mknod "$rootfs/devdir/null" c 1 3
mkfifo "$rootfs/devdir/fifo"

run_suite() {
        mode=$1
        local m=$mode

        # --- a single file ------------------------------------------------------
        check "[$m] copy a file in" berth cp "$src/f" "x:/tmp/f-$m"
        check_eq "[$m] its content" hello "$(guest_sh "cat /tmp/f-$m")"
        check_eq "[$m] its owner and mode" "1000:1000 640" "$(guest_stat '%u:%g %a' "/tmp/f-$m")"
        check_eq "[$m] on disk the owner is the guest's own number" "1000:1000" "$(stat -c %u:%g "$rootfs/tmp/f-$m")"
        check "[$m] copy a file into an existing directory" berth cp "$src/f" x:/tmp/
        check_eq "[$m] it lands there under its own name" hello "$(cat "$rootfs/tmp/f")"
        check "[$m] copy the file out" berth cp "x:/tmp/f-$m" "$out/f-$m"
        check_eq "[$m] content out" hello "$(cat "$out/f-$m")"
        check_eq "[$m] owner and mode out" "1000:1000 640" "$(stat -c '%u:%g %a' "$out/f-$m")"
        echo changed >"$TEST_TMP/f2"
        check "[$m] copying over an existing file replaces it" berth cp "$TEST_TMP/f2" "x:/tmp/f-$m"
        check_eq "[$m] with the new content" changed "$(cat "$rootfs/tmp/f-$m")"
        check "[$m] no temporary file is left in the guest" no_temp_left "$rootfs/tmp"
        check "[$m] a file owned by a host ID above 65535 is copied in" berth cp "$src/bigid" "x:/tmp/bigid-$m"
        check_eq "[$m] and belongs to nobody inside" "65534:65534" "$(guest_stat '%u:%g' "/tmp/bigid-$m")"

        # --- a tree, both ways ---------------------------------------------------
        check "[$m] copy a tree in" berth cp "$src/t" "x:/tmp/t-$m"
        check_eq "[$m] owner and mode inside the tree" "1000:1000 600" "$(guest_stat '%u:%g %a' "/tmp/t-$m/a")"
        check_eq "[$m] a subdirectory keeps owner and mode" "123:456 750" "$(guest_stat '%u:%g %a' "/tmp/t-$m/sub")"
        check_eq "[$m] the symlink inside is a symlink" a "$(guest_readlink "/tmp/t-$m/link")"
        check "[$m] copy the tree out again" berth cp "x:/tmp/t-$m" "$out/t-$m"
        check "[$m] diff -r finds no difference" diff -r --no-dereference "$src/t" "$out/t-$m"
        check_eq "[$m] same number of entries" "$(find "$src/t" | wc -l)" "$(find "$out/t-$m" | wc -l)"
        check_eq "[$m] same types, owners, modes, link targets and mtimes" "$(listing "$src/t")" \
                "$(listing "$out/t-$m")"
        check "[$m] a tree copied into an existing directory goes inside it" berth cp "x:/tmp/t-$m" "$out"
        check "[$m] under its own name" diff -r --no-dereference "$src/t" "$out/t-$m"
        mkdir -p "$out/m2-$m/t-$m"
        echo mine >"$out/m2-$m/t-$m/mine"
        check "[$m] a tree copied onto an existing directory of its name" berth cp "x:/tmp/t-$m" "$out/m2-$m"
        check "[$m] is merged into it" test -f "$out/m2-$m/t-$m/mine" -a -f "$out/m2-$m/t-$m/sub/deep/big"

        # --- symlinks are copied as symlinks --------------------------------------
        check "[$m] copy a symlink in" berth cp "$src/link" "x:/tmp/link-$m"
        check_eq "[$m] it is a symlink inside" a "$(guest_readlink "/tmp/link-$m")"
        check "[$m] copy it out" berth cp "x:/tmp/link-$m" "$out/link-$m"
        check "[$m] it is a symlink on the host" test -L "$out/link-$m"
        check_eq "[$m] with the same target" a "$(readlink "$out/link-$m")"

        # --- hostile guest symlinks ------------------------------------------------
        guest_sh "rm -f /tmp/evil /tmp/evil2 /tmp/shadow-link; ln -s /etc /tmp/evil; \
                  ln -s ../../../../etc /tmp/evil2; ln -s /etc/shadow /tmp/shadow-link; \
                  mkdir -p /tmp/sdir; ln -sf /etc/shadow /tmp/sdir/s"
        check "[$m] copy into x:/tmp/evil/... (evil -> /etc)" berth cp "$src/f" "x:/tmp/evil/passwd-test-$m"
        check "[$m] the host's /etc is untouched" test ! -e "/etc/passwd-test-$m"
        check_eq "[$m] the file is in the guest's /etc" hello "$(cat "$rootfs/etc/passwd-test-$m")"
        check "[$m] copy into x:/tmp/evil2/... (evil2 -> ../../../../etc)" berth cp "$src/f" "x:/tmp/evil2/rel-test-$m"
        check "[$m] the host's /etc is untouched" test ! -e "/etc/rel-test-$m"
        check_eq "[$m] the file is in the guest's /etc" hello "$(cat "$rootfs/etc/rel-test-$m")"
        check "[$m] copy into x:/../../../tmp resolves inside the machine" berth cp "$src/f" "x:/../../../tmp/dd-$m"
        check_eq "[$m] the file is in the guest's /tmp" hello "$(cat "$rootfs/tmp/dd-$m")"
        check "[$m] copy out x:/tmp/evil" berth cp x:/tmp/evil "$out/evil-$m"
        check "[$m] the symlink itself is copied" test -L "$out/evil-$m"
        check_eq "[$m] its target verbatim" /etc "$(readlink "$out/evil-$m")"
        check "[$m] copy out x:/tmp/evil2/passwd" berth cp x:/tmp/evil2/passwd "$out/passwd-$m"
        check "[$m] gives the guest's passwd, not the host's" cmp "$rootfs/etc/passwd" "$out/passwd-$m"
        check "[$m] copy out a symlink to /etc/shadow" berth cp x:/tmp/shadow-link "$out/shadow-$m"
        check "[$m] it stays a symlink" test -L "$out/shadow-$m"
        check "[$m] copy out a tree with a symlink to /etc/shadow" berth cp x:/tmp/sdir "$out/sdir-$m"
        check "[$m] still a symlink in the copy" test -L "$out/sdir-$m/s"
        check_eq "[$m] no regular file (no content read through a link) in those copies" "" \
                "$(find "$out/shadow-$m" "$out/sdir-$m" "$out/evil-$m" -type f)"
        check "[$m] x:/tmp/shadow-link/ (trailing slash) is the link too" \
                berth cp x:/tmp/shadow-link/ "$out/shadow2-$m"
        check "[$m] still a symlink" test -L "$out/shadow2-$m"

        # --- setuid, special files, mounts -------------------------------------------
        guest_sh "echo s > /tmp/suid-$m && chmod 4755 /tmp/suid-$m && echo g > /tmp/sgid-$m && chmod 2755 /tmp/sgid-$m"
        check_output_contains "[$m] copying a setuid file out warns" "setuid bit removed" \
                berth cp "x:/tmp/suid-$m" "$out/suid-$m"
        check_eq "[$m] and the copy has no setuid bit" 755 "$(stat -c %a "$out/suid-$m")"
        check_output_contains "[$m] setgid too" "setgid bit removed" berth cp "x:/tmp/sgid-$m" "$out/sgid-$m"
        check_eq "[$m] the copy has no setgid bit" 755 "$(stat -c %a "$out/sgid-$m")"
        check "[$m] a setuid file copied in keeps its bit (the guest's own business)" \
                sh -c "cp '$out/suid-$m' '$TEST_TMP/su-$m' && chmod 4711 '$TEST_TMP/su-$m' && \
                       '$BERTH' cp '$TEST_TMP/su-$m' x:/tmp/su-in-$m"
        check_eq "[$m] mode inside" 4711 "$(guest_stat %a "/tmp/su-in-$m")"
        check_output_contains "[$m] a device node in a tree copied out is skipped with a warning" \
                "devdir/null: a character device, not copied" berth cp x:/devdir "$out/devdir-$m"
        check_eq "[$m] only the plain file is copied" "plain" "$(ls "$out/devdir-$m")"
        check_output_contains "[$m] special files in a tree copied in are skipped with a warning" \
                "special/fifo: a FIFO, not copied" berth cp "$src/special" "x:/tmp/special-$m"
        check_eq "[$m] no device node or FIFO in the guest" "plain" "$(ls "$rootfs/tmp/special-$m")"
        check_fails "[$m] a device node alone is not copied" berth cp x:/devdir/null "$out/null-$m"
        check "[$m] and nothing was created" test ! -e "$out/null-$m"

        # --- failures ------------------------------------------------------------------
        check_status "[$m] a missing guest path fails (1)" 1 berth cp x:/no/such "$out/nothing"
        check_status "[$m] a missing guest directory to copy into fails (1)" 1 berth cp "$src/f" x:/no/such/f
        check_status "[$m] a missing host directory to copy into fails (1)" 1 berth cp x:/etc/passwd "$out/no/such"
        check_status "[$m] a directory over a file fails (1)" 1 berth cp "$src/t" "x:/tmp/f-$m"
        check "[$m] no temporary entry is left behind" no_temp_left "$rootfs/tmp"
        check "[$m] nor on the host" no_temp_left "$out"
}

run_suite stopped

check "start" berth start x
check "the copies made while stopped are seen" berth exec x -- test -f /tmp/f-stopped
run_suite running
check_output_contains "copying out the running /dev does not enter other mounts" \
        "another filesystem is mounted here" berth cp x:/dev "$out/dev"
check_eq "and copies no device node" 0 "$(find "$out/dev" \( -type c -o -type b \) | wc -l)"
check "copy into the running machine's own tmpfs (/run)" berth cp "$src/f" x:/run/f
check_eq "owner and mode there" "1000:1000 640" "$(berth exec x -- stat -c '%u:%g %a' /run/f)"
check "stop" berth stop x

# --- bounded depth -------------------------------------------------------------------------
d=$TEST_TMP/deep
for _ in $(seq 1 140); do d=$d/d; done
mkdir -p "$d"
check_output_contains "a tree nested too deep is refused" "nested more than 128 levels deep" \
        berth cp "$TEST_TMP/deep" x:/tmp/
check "and nothing of it is left" test ! -e "$rootfs/tmp/deep"
check "not even a temporary directory" no_temp_left "$rootfs/tmp"
check_status "the copy failed (1)" 1 berth cp "$TEST_TMP/deep" x:/tmp/

# --- cp - NAME:PATH: the staging directory ------------------------------------------------------
# GNU tar as root gives the directory it extracts into the owner and mode of
# the archive's "./": a user's `tar -C mine -c .` must not make the staging
# directory theirs (they could swap it for a symlink in sticky /var/tmp),
# and the entry is opened by fd, so even a swap does not redirect the copy.
# A tar in $PATH before the real one records the staging directory after
# extracting and then makes that swap.
stage=$TEST_TMP/stage
mine=$TEST_TMP/mine
decoy=$TEST_TMP/decoy
mkdir -p "$stage" "$mine" "$decoy/tree" "$TEST_TMP/bin"
echo real >"$mine/payload"
chown -R 1000:1000 "$mine"
chmod 0777 "$mine"
echo decoy >"$decoy/payload"
echo decoy >"$decoy/tree/payload"
real_tar=$(command -v tar)
cat >"$TEST_TMP/bin/tar" <<EOF
#!/bin/sh
'$real_tar' "\$@" || exit
case " \$* " in *" --extract "*) ;; *) exit 0 ;; esac
for d in '$stage'/berth-cp-*; do
        stat -c '%u %a' "\$d" >>'$TEST_TMP/stage.log'
        mv "\$d" "\$d.moved" && ln -s '$decoy' "\$d"
done
EOF
chmod 0755 "$TEST_TMP/bin/tar"
check "cp - x:/tmp/ of a user's 'tar -C mine -c .'" \
        sh -c "'$real_tar' -C '$mine' -cf - . | env PATH='$TEST_TMP/bin:$PATH' TMPDIR='$stage' '$BERTH' cp - x:/tmp/"
check_eq "the staging directory stayed root's, mode 0700" "0 700" "$(cat "$TEST_TMP/stage.log" 2>&1)"
check_eq "the swapped-in symlink did not redirect the copy" real "$(cat "$rootfs/tmp/payload" 2>&1)"
check_eq "the owner the archive gave the file arrived" "1000" "$(stat -c %u "$rootfs/tmp/payload")"
check_eq "the symlink was removed, not followed: only the moved-away directory is left" "moved" \
        "$(ls -A "$stage" | sed 's/^berth-cp-.*\.//')"
check "... and the decoy is intact" test -f "$decoy/tree/payload" -a -f "$decoy/payload"
rm -rf "$stage"/berth-cp-*.moved
check_eq "nothing else is left in \$TMPDIR" "" "$(ls -A "$stage")"

# --- usage -----------------------------------------------------------------------------------
check_status "no arguments: usage (2)" 2 berth cp
check_status "one argument: usage (2)" 2 berth cp "$src/f"
check_status "no NAME: on either side: usage (2)" 2 berth cp "$src/f" "$out/f"
check_status "NAME: on both sides: usage (2)" 2 berth cp x:/tmp/f x:/tmp/g
check_status "a relative guest path: usage (2)" 2 berth cp "$src/f" x:tmp/f
check_status "an empty guest path: usage (2)" 2 berth cp x: "$out/e"
check_status "a bad machine name: usage (2)" 2 berth cp "$src/f" 'bad_name!:/tmp'
check_status "an empty machine name: usage (2)" 2 berth cp "$src/f" :/tmp
check_status "copying the machine's / out: usage (2)" 2 berth cp x:/ "$out/all"
check_status "copying x:/tmp/.. out: usage (2)" 2 berth cp x:/tmp/.. "$out/all"
check_status "a missing machine (4)" 4 berth cp "$src/f" nosuch:/tmp
check_status "a missing machine, copying out (4)" 4 berth cp nosuch:/etc/passwd "$out/p"
check "a host path with a colon after a slash is a host path" \
        sh -c "cd '$out' && '$BERTH' cp x:/etc/hostname ./with:colon && test -f '$out/with:colon'"

# --- a privileged machine shares the host's IDs ---------------------------------------------------
check "create a privileged machine" berth create p --template busybox --set PrivateUsers=no
check "start it" sh -c "'$BERTH' start p 2>/dev/null"
check "copy a file in" berth cp "$src/f" p:/tmp/f
check_eq "its owner is unchanged inside" "1000:1000 640" "$(berth exec p -- stat -c '%u:%g %a' /tmp/f)"
check "copy a file owned by 70000 in" berth cp "$src/bigid" p:/tmp/bigid
check_eq "it keeps its owner (no range to clamp to)" "70000:70000" \
        "$(stat -c %u:%g "$BERTH_ROOT/machines/p/rootfs/tmp/bigid")"
check "stop it" berth stop p

# A stopped machine's rootfs the admin mounted (its own volume; here a bind
# of the tree onto itself): cp works in that tree and leaves the mount.
PR=$BERTH_ROOT/machines/p/rootfs
check "the admin mounts p's rootfs" mount --bind "$PR" "$PR"
check "cp out of stopped p" berth cp p:/etc/hostname "$TEST_TMP/p-hostname"
check "... its rootfs is still mounted" mountpoint -q "$PR"
umount "$PR" 2>/dev/null

done_testing
