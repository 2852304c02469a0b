#!/bin/bash
# What an image or rootfs tarball may write to the host: the unpacked-size
# cap (berth import/create --from-tar --max-size, berth.conf [Import]
# MaxSize=), the free-space reserve, and device nodes limited to the
# machine device allow-list.  Images are made here with the helpers of
# oci-fixtures.py.

# A mount namespace of our own: the free-space part mounts a small tmpfs.
if [ -z "${BERTH_IMPORT_LIMITS_MNTNS:-}" ]; then
        export BERTH_IMPORT_LIMITS_MNTNS=1
        exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

for tool in python3 tar; do
        if ! command -v $tool >/dev/null; then
                ok "# SKIP $tool is not installed"
                done_testing
        fi
done

FIX="$(dirname "$0")/oci-fixtures.py"
W=$TEST_TMP/limits
mkdir -p "$W"
rootfs_of() { echo "$BERTH_ROOT/machines/$1/rootfs"; }
no_machines_left() {
        [ "$(berth list --json | jq length)" = 0 ] && [ -z "$(ls -A "$BERTH_ROOT/machines")" ]
}

# --- the images -----------------------------------------------------------------
# bomb: 64 MiB of zeros (some 64 KiB of gzip) as an OCI layout and a tarball;
# devs: /dev/mem (c 1:1), /dev/sda (b 8:0), a hard link to /dev/mem, the
# allowed /dev/null (c 1:3) and a fifo, as an OCI layout and a tarball.
python3 - "$FIX" "$W" <<'EOF'
import gzip, importlib.util, os, sys, tarfile
spec = importlib.util.spec_from_file_location("fx", sys.argv[1])
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)
w = sys.argv[2]

def dev(name, kind, major, minor):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.mtime = kind, 0o666, 1700000000
    i.devmajor, i.devminor = major, minor
    return (i, None)

base = [fx.ti("etc", tarfile.DIRTYPE, mode=0o755), fx.ti("etc/hostname", data=b"limits\n")]
bomb = fx.tar_bytes(base + [fx.ti("zeros", data=bytes(64 << 20))])
devs = fx.tar_bytes(base + [
    fx.ti("dev", tarfile.DIRTYPE, mode=0o755),
    dev("dev/mem", tarfile.CHRTYPE, 1, 1),
    dev("dev/sda", tarfile.BLKTYPE, 8, 0),
    fx.ti("dev/mem-link", tarfile.LNKTYPE, link="dev/mem"),
    dev("dev/null", tarfile.CHRTYPE, 1, 3),
    fx.ti("dev/fifo", tarfile.FIFOTYPE),
])
fx.write_layout(os.path.join(w, "bomb"), [bomb])
fx.write_layout(os.path.join(w, "devs"), [devs])
with open(os.path.join(w, "bomb.tar.gz"), "wb") as f:
    f.write(gzip.compress(bomb, mtime=0))
with open(os.path.join(w, "devs.tar"), "wb") as f:
    f.write(devs)
EOF
ok "made the images (bomb layer: $(stat -c %s "$W"/bomb/blobs/sha256/* | sort -n | tail -1) bytes compressed)"
# A sparse 1 TiB file: some KiB as a tar, 1 TiB once materialised.
mkdir -p "$W/sparse"
truncate -s 1T "$W/sparse/huge"
tar --sparse -C "$W/sparse" -cf "$W/sparse.tar" .
rm -f "$W/sparse/huge"

# --- the size cap -----------------------------------------------------------------
# refused_by_cap LABEL CAP CMD...: CMD fails, says which cap and how to raise it,
# and leaves nothing.
refused_by_cap() {
        local label=$1 cap=$2; shift 2
        check_output_contains "$label: refused, naming the cap and how to raise it" \
                "limit of $cap.*--max-size SIZE.*\[Import\] MaxSize=" berth "$@"
        check_fails "$label: non-zero exit" berth "$@"
        if no_machines_left; then ok "$label: nothing left"; else not_ok "$label: nothing left"; ls -A "$BERTH_ROOT/machines" | sed 's/^/#   /'; fi
}
refused_by_cap "import of a 64 MiB gzip bomb with --max-size 16M" "16.0 MiB" import bomb "$W/bomb" --boot=yes --max-size 16M
refused_by_cap "create --from-tar of the bomb with --max-size 16M" "16.0 MiB" create bomb --from-tar "$W/bomb.tar.gz" --max-size 16M

printf '[Import]\nMaxSize=20M\n' >"$BERTH_ROOT/berth.conf"
refused_by_cap "import of the bomb with berth.conf MaxSize=20M" "20.0 MiB" import bomb "$W/bomb" --boot=yes
refused_by_cap "create --from-tar of the bomb with berth.conf MaxSize=20M" "20.0 MiB" create bomb --from-tar "$W/bomb.tar.gz"
check "--max-size overrides berth.conf" berth import bomb "$W/bomb" --boot=yes --max-size 100M
check "rm" berth rm bomb
printf '[Import]\nMaxSize=lots\n' >"$BERTH_ROOT/berth.conf"
check_output_contains "an invalid MaxSize= in berth.conf is named" "berth.conf:2: MaxSize=lots" \
        berth import bomb "$W/bomb" --boot=yes
rm -f "$BERTH_ROOT/berth.conf"
check_output_contains "--max-size with a bad value is a usage error" "--max-size takes a size" \
        berth import bomb "$W/bomb" --boot=yes --max-size 12X
check_output_contains "--set Import.MaxSize= is refused (not a machine setting)" "not a machine setting" \
        berth import bomb "$W/bomb" --boot=yes --set Import.MaxSize=1G
check_fails "--max-size without --from-tar is refused" berth create nope --template busybox --max-size 1G

check "import of the bomb under the cap works" berth import bomb "$W/bomb" --boot=yes --max-size 65M
check_eq "and the file is all there" "67108864" "$(stat -c %s "$(rootfs_of bomb)/zeros" 2>&1)"
check "rm" berth rm bomb
check "create --from-tar of the bomb under the cap works" berth create bomb --from-tar "$W/bomb.tar.gz" --max-size 65M
check_eq "and the file is all there" "67108864" "$(stat -c %s "$(rootfs_of bomb)/zeros" 2>&1)"
check "rm" berth rm bomb

# The default cap (64 GiB) counts a sparse file's apparent size.
refused_by_cap "import of a tar with a sparse 1 TiB file (default cap)" "64.0 GiB" import sparse "$W/sparse.tar" --boot=yes
refused_by_cap "create --from-tar of it (default cap)" "64.0 GiB" create sparse --from-tar "$W/sparse.tar"

# --- the free-space reserve ---------------------------------------------------------
# A state root on a 48 MiB tmpfs and no cap: the 64 MiB file is stopped by
# the reserve, with free space left, rather than by a full disk.
main_root=$BERTH_ROOT
BERTH_ROOT=$TEST_TMP/small
mkdir -p "$BERTH_ROOT"
mount -t tmpfs -o size=48m,mode=0700 berth-small "$BERTH_ROOT"
for what in "import bomb $W/bomb --boot=yes" "create bomb --from-tar $W/bomb.tar.gz"; do
        # shellcheck disable=SC2086
        check_output_contains "${what%% *} without a cap on a 48 MiB file system: stopped by the reserve" \
                "stopped at entry 'zeros'.*berth keeps [0-9.]+ MiB" berth $what --max-size infinity
        if no_machines_left; then ok "${what%% *}: nothing left"; else not_ok "${what%% *}: nothing left"; fi
        check_eq "${what%% *}: the space is free again" "" \
                "$(df -k --output=used "$BERTH_ROOT" | tail -1 | awk '$1 > 1024')"
done
umount -l "$BERTH_ROOT"
BERTH_ROOT=$main_root

# --- device nodes -------------------------------------------------------------------
devs_checks() {
        local m=$1 root
        root=$(rootfs_of "$m")
        check "$m: /dev/mem not created" test ! -e "$root/dev/mem"
        check "$m: /dev/sda not created" test ! -e "$root/dev/sda"
        check "$m: the hard link to /dev/mem not created" test ! -e "$root/dev/mem-link"
        check_eq "$m: /dev/null (allowed) created" "c 1:3" "$(stat -c '%F' "$root/dev/null" | sed 's/character special file/c/') $(stat -c '%t:%T' "$root/dev/null")"
        check "$m: the fifo is kept" test -p "$root/dev/fifo"
        check "$m: the rest is there" test -f "$root/etc/hostname"
}
check_output_contains "import of a layer with /dev/mem and /dev/sda warns, naming them" \
        "skipping device node 'dev/mem' \(char 1:1\)" berth import devs "$W/devs" --boot=yes
cp "$TEST_TMP/out" "$W/warnings"
check "both are named" grep -q "skipping device node 'dev/sda' (block 8:0)" "$W/warnings"
check "the allowed one and the fifo are not" test -z "$(grep -e "dev/null" -e "dev/fifo" "$W/warnings")"
devs_checks devs
check "rm" berth rm devs
check_output_contains "create --from-tar of a tarball with /dev/mem and /dev/sda warns, naming them" \
        "skipping device node 'dev/mem' \(char 1:1\)" berth create devs --from-tar "$W/devs.tar"
cp "$TEST_TMP/out" "$W/warnings"
check "both are named" grep -q "skipping device node 'dev/sda' (block 8:0)" "$W/warnings"
check "the allowed one and the fifo are not" test -z "$(grep -e "dev/null" -e "dev/fifo" "$W/warnings")"
devs_checks devs
check "rm" berth rm devs

done_testing
