#!/bin/bash
# PrivateUsersOwnership=chown: the rootfs is chowned once into the machine's
# UID range instead of mounted idmapped; hostile symlinks in it never lead
# the chown to host files; the shift is undone or redone when the mode or
# the range changes.
. "$(dirname "$0")/lib.sh"

rootfs() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
base_of() { sed -n 's/^UID_BASE=//p' "$BERTH_ROOT/machines/$1/idmap"; }

check "create a busybox machine with PrivateUsersOwnership=chown" \
        berth create ch --template busybox --set PrivateUsersOwnership=chown
check_output_contains "an unknown mode is refused" "auto.*map.*chown" \
        berth create bad --template busybox --set PrivateUsersOwnership=shift
R=$(rootfs ch)
base=$(base_of ch)

# Hostile entries: links out of the tree, a setuid file.
for f in canary-abs canary-rel canary-dir; do echo host >"$TEST_TMP/$f"; done
mkdir "$TEST_TMP/canary-d"
ln -s "$TEST_TMP/canary-abs" "$R/etc/evil-abs"
ln -s "../../../../../../../../../..$TEST_TMP/canary-rel" "$R/evil-rel"
ln -s "$TEST_TMP/canary-d" "$R/evil-dir"
cp "$R/bin/busybox" "$R/bin/suid" && chmod 4755 "$R/bin/suid"

check "start" berth start ch
check_eq "the rootfs's files are owned by the range on the host" "$base:$base" "$(stat -c %u:%g "$R/bin/busybox")"
check_eq "the rootfs dir itself too" "$base" "$(stat -c %u "$R")"
check_eq "GIDs shift too" "$base" "$(stat -c %g "$R/etc")"
check_eq "the symlinks themselves are shifted" "$base" "$(stat -c %u "$R/etc/evil-abs")"
check_eq "the absolute link's host target keeps its owner" "0:0" "$(stat -c %u:%g "$TEST_TMP/canary-abs")"
check_eq "the relative link's host target keeps its owner" "0:0" "$(stat -c %u:%g "$TEST_TMP/canary-rel")"
check_eq "the linked host directory keeps its owner" "0:0" "$(stat -c %u:%g "$TEST_TMP/canary-d")"
check_eq "a setuid file keeps its setuid bit" "4755" "$(stat -c %a "$R/bin/suid")"
check_eq "the record names the range" "CHOWN_BASE=$base" "$(cat "$BERTH_ROOT/machines/ch/ownership")"
check_eq "root inside is uid 0" 0 "$(berth exec ch -- id -u)"
check_eq "root inside owns /etc" "0 0" "$(berth exec ch -- stat -c '%u %g' /etc)"
check "root inside can write its files" berth exec ch -- sh -c 'echo hi > /etc/new-file && chown 1000:1000 /etc/new-file'
check_eq "a file chowned inside is in the range on the host" "$((base + 1000))" "$(stat -c %u "$R/etc/new-file")"
check "stop" berth stop ch

# Back to an idmapped mount: the tree is shifted back once.
check "set PrivateUsersOwnership=map" berth set ch PrivateUsersOwnership=map
check "start with map" berth start ch
check_eq "the files are unshifted on disk" "0:0" "$(stat -c %u:%g "$R/bin/busybox")"
check_eq "the file made inside is 1000 on disk" 1000 "$(stat -c %u "$R/etc/new-file")"
check_eq "the record says unshifted" "CHOWN_BASE=0" "$(cat "$BERTH_ROOT/machines/ch/ownership")"
check_eq "root inside still owns /etc" "0 0" "$(berth exec ch -- stat -c '%u %g' /etc)"
check "stop" berth stop ch

# A new range: the chown goes from the recorded range to the new one.
check "set PrivateUsersOwnership=chown" berth set ch PrivateUsersOwnership=chown
check "start, shifted again" berth start ch
check "stop" berth stop ch
check "create another machine" berth create other --template busybox
cp "$BERTH_ROOT/machines/other/idmap" "$BERTH_ROOT/machines/ch/idmap"
# ch's old range is free now (its idmap names another): a third machine takes it.
check "create a third machine" berth create third --template busybox
check_eq "the third machine got ch's old range" "$base" "$(base_of third)"
check "start with a range another machine holds: a new range" berth start ch
new=$(base_of ch)
check "the range changed ($base -> $new)" test "$new" != "$base" -a "$new" != "$(base_of other)"
check_eq "the files moved to the new range" "$new:$new" "$(stat -c %u:%g "$R/bin/busybox")"
check_eq "the file made inside moved too" "$((new + 1000))" "$(stat -c %u "$R/etc/new-file")"
check_eq "root inside is still uid 0 owning /etc" "0 0" "$(berth exec ch -- stat -c '%u %g' /etc)"
check_eq "the host targets still keep their owners" "0:0 0:0" \
        "$(stat -c %u:%g "$TEST_TMP/canary-abs") $(stat -c %u:%g "$TEST_TMP/canary-rel")"
check "stop" berth stop ch
done_testing
