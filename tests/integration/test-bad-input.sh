#!/bin/bash
# Bad input gets a clear error and changes nothing.
. "$(dirname "$0")/lib.sh"

machines_dir_empty() { [ -z "$(ls -A "$BERTH_ROOT/machines" 2>/dev/null)" ]; }

# --- names ------------------------------------------------------------------------
long=$(printf 'a%.0s' $(seq 65))
for name in "" "." ".." "a/b" "../x" "$long" "é" "-x" ".hidden" "a..b" "a b" "x." locks; do
        check_status "name '$name' refused with usage status" 2 berth create "$name" --template busybox
done
check_output_contains "the error says what is wrong" "Invalid machine name: .*" berth create "a/b" --template busybox
check_output_contains "'locks' is reserved (the runtime directory's own)" "Invalid machine name.*reserved" \
        berth create locks --template busybox
check "nothing was created" machines_dir_empty
check "64 characters is fine" berth create "$(printf 'b%.0s' $(seq 64))" --template busybox
check "rm it" berth rm "$(printf 'b%.0s' $(seq 64))"

# --- options ------------------------------------------------------------------------
check_status "no source" 2 berth create x
check_status "two sources" 2 berth create x --template busybox --from-dir /
check_status "unknown template" 2 berth create x --template nosuch
check_status "missing --from-dir" 2 berth create x --from-dir /nonexistent
check_status "bad --set" 2 berth create x --template busybox --set Bogus=1
check_status "unknown verb" 2 berth frobnicate
check_status "start of a missing machine" 4 berth start nosuch
check "nothing was created" machines_dir_empty

# --- rootfs without an init -----------------------------------------------------------
mkdir -p "$TEST_TMP/noinit/etc"
check "a rootfs without init can be created" berth create noinit --from-dir "$TEST_TMP/noinit"
check_output_contains "start says the init is missing" "Init /sbin/init not found inside the rootfs" berth start noinit
check "it is not running" is_stopped noinit
check "no supervisor left behind" no_supervisor_left noinit
check "no cgroup left behind" no_cgroups_left noinit

# Non-executable init.
berth create bb --template busybox >/dev/null
cp -a "$BERTH_ROOT/machines/bb/rootfs" "$TEST_TMP/base"
mkdir -p "$TEST_TMP/noexec"; cp -a "$TEST_TMP/base/." "$TEST_TMP/noexec/"
rm "$TEST_TMP/noexec/sbin/init"; printf '#!/bin/sh\n' > "$TEST_TMP/noexec/sbin/init"; chmod 644 "$TEST_TMP/noexec/sbin/init"
berth create noexec --from-dir "$TEST_TMP/noexec" >/dev/null 2>&1
check_output_contains "a non-executable init is refused" "not executable" berth start noexec
check "no supervisor left behind" no_supervisor_left noexec

# --- hostile rootfs: symlinks out of the tree ----------------------------------------------
# /sbin/init pointing at an absolute host path: resolved inside the rootfs, so the
# host's program must never run.
marker="$TEST_TMP/host-init-ran"
cat > "$TEST_TMP/host-init" <<EOS
#!/bin/sh
touch $marker
EOS
chmod 755 "$TEST_TMP/host-init"
mkdir -p "$TEST_TMP/evil-init"; cp -a "$TEST_TMP/base/." "$TEST_TMP/evil-init/"
rm "$TEST_TMP/evil-init/sbin/init"; ln -s "../../../../../../..$TEST_TMP/host-init" "$TEST_TMP/evil-init/sbin/init"
berth create evil-init --from-dir "$TEST_TMP/evil-init" >/dev/null 2>&1
check_fails "init symlinked out of the tree does not start" berth start evil-init
check "the host program never ran" test ! -e "$marker"

for d in proc dev sys run; do
        mkdir -p "$TEST_TMP/evil-$d"; cp -a "$TEST_TMP/base/." "$TEST_TMP/evil-$d/"
        mkdir -p "$TEST_TMP/target-$d"
        rm -rf "${TEST_TMP:?}/evil-$d/$d"; ln -s "$TEST_TMP/target-$d" "$TEST_TMP/evil-$d/$d"
        berth create "evil-$d" --from-dir "$TEST_TMP/evil-$d" >/dev/null 2>&1
        check_output_contains "/$d as a symlink out of the tree is refused" "/$d in the rootfs is a symlink" berth start "evil-$d"
        check "nothing was mounted on the host target of /$d" sh -c "! mountpoint -q '$TEST_TMP/target-$d' && [ -z \"\$(ls -A '$TEST_TMP/target-$d')\" ]"
        check "no supervisor left for evil-$d" no_supervisor_left "evil-$d"
done

# --- configuration ------------------------------------------------------------------------
conf="$BERTH_ROOT/machines/bb/machine.conf"
cp "$conf" "$TEST_TMP/conf.orig"
printf '[Machine]\nBogus=1\n' > "$conf"
check_status "unknown key: start refused with usage status" 2 berth start bb
check_output_contains "the error names file and line" "machine.conf:2" berth start bb
printf '[Resources]\nMemoryMax=lots\n' > "$conf"
check_output_contains "bad value names file, line and key" "machine.conf:2: MemoryMax=lots" berth start bb
{ printf '[Machine]\nHostname=%s' "$(printf 'x%.0s' $(seq 190))"; printf 'PrivateUsers=no\n'; } > "$conf"
check_output_contains "an overlong line is refused" "machine.conf:2: .*(long|199)" berth start bb
printf '[Resources]\nMemoryMax=64M\n  TasksMax=5\n' > "$conf"
check_output_contains "a continuation line is refused" "machine.conf:3" berth start bb
check "no supervisor left after config errors" no_supervisor_left bb
printf '[Network]\nMode=bridge-of-doom\n' > "$BERTH_ROOT/berth.conf"
cp "$TEST_TMP/conf.orig" "$conf"
check_output_contains "an error in the global file names it" "berth.conf:2" berth start bb
rm "$BERTH_ROOT/berth.conf"
check "a fixed config boots" berth start bb
check "stop" berth stop bb

# --- hostile tarballs -------------------------------------------------------------------
mkdir -p "$TEST_TMP/tar"
python3 - "$TEST_TMP" <<'EOS'
import io, sys, tarfile
tmp = sys.argv[1]
def make(name, entries):
    with tarfile.open(f"{tmp}/tar/{name}.tar", "w") as t:
        for kind, path, extra in entries:
            ti = tarfile.TarInfo(path)
            if kind == "file":
                data = extra.encode()
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE; ti.linkname = extra; t.addfile(ti)
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE; ti.linkname = extra; t.addfile(ti)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
make("dotdot", [("file", "../../../../../../../" + tmp.lstrip("/") + "/escaped-dotdot", "x")])
make("absolute", [("file", tmp + "/escaped-abs", "x")])
make("symlink-then-write", [("sym", "etc", tmp), ("file", "etc/escaped-sym", "x")])
make("hardlink-out", [("hard", "passwd", "/etc/passwd")])
make("hardlink-dotdot", [("hard", "passwd", "../../../../../etc/passwd")])
EOS
for t in dotdot absolute symlink-then-write hardlink-out hardlink-dotdot; do
        check_fails "tarball '$t' is refused" berth create "tar-$t" --from-tar "$TEST_TMP/tar/$t.tar"
        check_eq "no machine tar-$t" "" "$(berth list --json | jq -r --arg n "tar-$t" '.[] | select(.name==$n) | .name')"
done
check "nothing escaped" sh -c "! ls '$TEST_TMP'/escaped-* 2>/dev/null | grep -q ."
check_eq "host /etc/passwd untouched (link count)" "1" "$(stat -c %h /etc/passwd)"
printf 'this is not a tarball' > "$TEST_TMP/garbage.tar"
check_fails "garbage tarball is refused" berth create garbage --from-tar "$TEST_TMP/garbage.tar"
check "no staging dir left behind" sh -c "! ls -A '$BERTH_ROOT/machines' | grep -q '^\.'"

# --- a create killed midway leaves nothing list shows -------------------------------------------
# Enough small files that copying them takes a while.
mkdir -p "$TEST_TMP/big/many"
cp -a "$TEST_TMP/base/." "$TEST_TMP/big/"
python3 -c "
import os, sys
d = sys.argv[1]
for i in range(200):
    sub = os.path.join(d, str(i)); os.mkdir(sub)
    for j in range(500):
        open(os.path.join(sub, str(j)), 'w').write('x' * 64)
" "$TEST_TMP/big/many"
"$BERTH" create killed --from-dir "$TEST_TMP/big" >/dev/null 2>&1 &
cpid=$!
wait_for 10 sh -c "ls -A '$BERTH_ROOT/machines' | grep -q '^\.staging-killed'"
kill -9 $cpid; wait $cpid 2>/dev/null
check_eq "killed create: list does not show it" "" "$(berth list --json | jq -r '.[] | select(.name=="killed") | .name')"
check "the copy helper died with it" wait_for 10 sh -c "! pgrep -f '[c]p -a --reflink=auto -- $TEST_TMP/big' >/dev/null"
check "its staging dir is still there" sh -c "ls -A '$BERTH_ROOT/machines' | grep -q '^\.staging-killed'"
check "berth gc removes it" berth gc
check "gone" sh -c "! ls -A '$BERTH_ROOT/machines' | grep -q '^\.staging-killed'"
"$BERTH" create killed --from-dir "$TEST_TMP/big" >/dev/null 2>&1 &
cpid=$!
wait_for 10 sh -c "ls -A '$BERTH_ROOT/machines' | grep -q '^\.staging-killed'"
kill -9 $cpid; wait $cpid 2>/dev/null
check "the next create of that name succeeds" berth create killed --template busybox
check "and cleaned the stale staging dir" sh -c "! ls -A '$BERTH_ROOT/machines' | grep -q '^\.staging-killed'"

done_testing
