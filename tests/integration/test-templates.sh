#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# TAP test of the rootfs templates in templates/, run directly (no berth
# binary needed).  Must run as root.
#
#   BERTH_SRCDIR          source tree holding templates/ (default: the repo
#                         root, computed from this script's location)
#   BERTH_TEST_DEBIAN=1   also test templates/debian: a real debootstrap
#                         (about a minute with a nearby mirror)
#   BERTH_TEST_DEBIAN_CACHE
#                         cache dir for the debian test (default: a fresh
#                         temporary dir, so the first run bootstraps)
#   BERTH_TEST_DEBIAN_MIRROR
#                         passed as --mirror when set
#
# Temporary files live under /var/tmp and are removed at exit.

set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd -P)
srcdir=${BERTH_SRCDIR:-$(cd "$here/../.." && pwd -P)}
tpl=$srcdir/templates

n=0
failed=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip()   { n=$((n + 1)); echo "ok $n - $* # SKIP"; }
diag()   { sed 's/^/#   /'; }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds
check() {
	local desc=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$desc"; else not_ok "$desc"; diag <"$tmp/out"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; printf 'expected: %s\ngot:      %s\n' "$2" "$3" | diag
	fi
}
ms_since() { local now=$EPOCHREALTIME; echo $(( (${now/./} - ${1/./}) / 1000 )); }

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP templates must run as root"
	exit 0
fi
if [ ! -x "$tpl/busybox" ] || [ ! -x "$tpl/debian" ]; then
	echo "Bail out! no executable templates in $tpl (set BERTH_SRCDIR)"
	exit 1
fi

tmp=$(mktemp -d /var/tmp/berth-test-templates.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
cleanup() {
	# nothing should be mounted below $tmp; never cross into a mount anyway
	rm -rf --one-file-system -- "$tmp"
}
trap cleanup EXIT

# run_tpl TEMPLATE ARGS...: run with stderr to $tmp/err (never a terminal)
# and stdout to $tmp/stdout; sets $rc and $elapsed_ms.
run_tpl() {
	local t0=$EPOCHREALTIME
	"$tpl/$1" "${@:2}" </dev/null >"$tmp/stdout" 2>"$tmp/err"
	rc=$?
	elapsed_ms=$(ms_since "$t0")
}

# ============================================================ busybox

have_static_busybox=0
if [ -x /bin/busybox ]; then
	if command -v readelf >/dev/null 2>&1; then
		readelf -lW /bin/busybox 2>/dev/null | grep -q INTERP || have_static_busybox=1
	else
		case $(ldd /bin/busybox 2>&1) in *"not a dynamic executable"*) have_static_busybox=1 ;; esac
	fi
fi

BUSYBOX_TESTS=15
if [ "$have_static_busybox" = 1 ]; then
	r=$tmp/bb
	mkdir "$r"
	run_tpl busybox --rootfs "$r" --name bb-1.test --cache-dir "$tmp/bb-cache"
	if [ "$rc" = 0 ]; then ok "busybox template succeeds (${elapsed_ms} ms)"; else
		not_ok "busybox template succeeds (exit $rc)"; diag <"$tmp/err"; fi
	check_eq "busybox: nothing on stderr or stdout" "" "$(cat "$tmp/err" "$tmp/stdout")"
	# generous bound: the point is "no per-applet process", not a benchmark
	if [ "$elapsed_ms" -lt 1000 ]; then ok "busybox: fast (${elapsed_ms} ms < 1000 ms)"; else
		not_ok "busybox: fast (${elapsed_ms} ms)"; fi
	check_eq "busybox: cache dir not touched" "no" "$([ -e "$tmp/bb-cache" ] && echo yes || echo no)"
	check_eq "busybox: /sbin/init -> ../bin/busybox" "../bin/busybox" "$(readlink "$r/sbin/init")"
	check "busybox: /bin/busybox is a copy of the host's" cmp -s /bin/busybox "$r/bin/busybox"
	check "busybox: /bin/busybox is a regular file, not a link" \
		test -f "$r/bin/busybox" -a ! -L "$r/bin/busybox"
	if command -v readelf >/dev/null 2>&1; then
		check "busybox: /bin/busybox is static (no PT_INTERP)" \
			sh -c '! readelf -lW "$1" | grep -q INTERP' sh "$r/bin/busybox"
	else
		check "busybox: /bin/busybox is static (ldd)" \
			sh -c 'ldd "$1" 2>&1 | grep -q "not a dynamic executable"' sh "$r/bin/busybox"
	fi
	missing=$(/bin/busybox --list-full | while IFS= read -r a; do
		[ "$a" != bin/busybox ] || continue
		l=$r/$a
		if [ ! -L "$l" ]; then echo "$a: not a symlink"; continue; fi
		case $(readlink "$l") in /*) echo "$a: absolute link" ;; esac
		[ "$(readlink -f "$l")" = "$r/bin/busybox" ] || echo "$a: -> $(readlink "$l")"
	done)
	check_eq "busybox: every applet is a relative link to bin/busybox" "" "$missing"
	inittab_missing=""
	for line in '::sysinit:/etc/init.d/rcS' \
		'::respawn:/sbin/getty -L 0 console vt100' \
		'::ctrlaltdel:/sbin/reboot' \
		'::restart:/sbin/init' \
		'::shutdown:/sbin/swapoff -a 2>/dev/null' \
		'::shutdown:/bin/umount -a 2>/dev/null'; do
		grep -qxF -- "$line" "$r/etc/inittab" || inittab_missing+="$line; "
	done
	check_eq "busybox: inittab has sysinit/respawn getty/ctrlaltdel/restart/shutdown lines" "" "$inittab_missing"
	check "busybox: rcS is executable, guards mounts, sets the hostname" \
		sh -c 'test -x "$1" && grep -q "is_mounted /proc ||" "$1" &&
			grep -q "is_mounted /dev/pts ||" "$1" && grep -q "hostname -F /etc/hostname" "$1"' \
		sh "$r/etc/init.d/rcS"
	check_eq "busybox: /etc/hostname is the name" "bb-1.test" "$(cat "$r/etc/hostname")"
	check "busybox: /etc/hosts maps localhost and the name" \
		sh -c 'grep -qE "^127\.0\.0\.1[[:space:]]+localhost" "$1" &&
			grep -qE "^127\.0\.1\.1[[:space:]]+bb-1\.test$" "$1"' sh "$r/etc/hosts"
	check_eq "busybox: root has an empty password and /bin/sh" "root::0:0:root:/root:/bin/sh" \
		"$(grep '^root:' "$r/etc/passwd")"
	version=$(/bin/busybox | head -n 1 | sed -n 's/^BusyBox v\([^ ]*\) .*/\1/p')
	check "busybox: os-release, empty machine-id, directory modes" \
		sh -c 'grep -qx "ID=busybox" "$1/etc/os-release" &&
			grep -qx "VERSION_ID=$2" "$1/etc/os-release" &&
			test -f "$1/etc/machine-id" -a ! -s "$1/etc/machine-id" &&
			test "$(stat -c %a "$1/tmp")" = 1777 &&
			test "$(stat -c %a "$1/root")" = 700 &&
			for d in proc sys dev run var/log etc/init.d usr/bin usr/sbin sbin; do
				test -d "$1/$d" || exit 1; done' sh "$r" "$version"
else
	for i in $(seq "$BUSYBOX_TESTS"); do skip "busybox test $i: no static /bin/busybox (install busybox-static)"; done
fi

# ============================================================ bad invocations

# expect_status DESCRIPTION STATUS TEMPLATE ARGS...
expect_status() {
	local desc=$1 want=$2
	shift 2
	run_tpl "$@"
	if [ "$rc" = "$want" ]; then ok "$desc"; else
		not_ok "$desc (exit $rc, wanted $want)"; diag <"$tmp/err"; fi
}

mkdir "$tmp/empty"
for t in busybox debian; do
	expect_status "$t: missing --rootfs exits 2" 2 \
		"$t" --name x --cache-dir "$tmp/c"
	check "$t: ... with a usage message" grep -q '^Usage:' "$tmp/err"
	expect_status "$t: unknown option exits 2" 2 \
		"$t" --rootfs "$tmp/empty" --name x --cache-dir "$tmp/c" --bogus
	expect_status "$t: option without a value exits 2" 2 \
		"$t" --rootfs "$tmp/empty" --cache-dir "$tmp/c" --name
	expect_status "$t: missing --cache-dir exits 2" 2 \
		"$t" --rootfs "$tmp/empty" --name x

	nonempty=$tmp/nonempty-$t
	mkdir "$nonempty"
	echo keep >"$nonempty/.precious"
	run_tpl "$t" --rootfs "$nonempty" --name x --cache-dir "$tmp/c-$t"
	if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then ok "$t: non-empty --rootfs is refused (exit $rc)"; else
		not_ok "$t: non-empty --rootfs is refused (exit $rc)"; diag <"$tmp/err"; fi
	check_eq "$t: ... with one error line naming the template" \
		"1 berth-template-$t:" "$(wc -l <"$tmp/err") $(cut -d' ' -f1 "$tmp/err")"
	check_eq "$t: ... and the directory is left alone" ".precious keep" \
		"$(ls -A "$nonempty" | tr '\n' ' ')$(cat "$nonempty/.precious")"

	expect_status "$t: missing --rootfs directory exits 1" 1 \
		"$t" --rootfs "$tmp/no-such-dir" --name x --cache-dir "$tmp/c"
done
check_eq "nothing was written into --cache-dir by refused runs" "no" \
	"$([ -e "$tmp/c" ] || [ -e "$tmp/c-busybox" ] || [ -e "$tmp/c-debian" ] && echo yes || echo no)"

# ============================================================ debian

DEBIAN_TESTS=13
if [ "${BERTH_TEST_DEBIAN:-0}" != 1 ]; then
	for i in $(seq "$DEBIAN_TESTS"); do skip "debian test $i: set BERTH_TEST_DEBIAN=1 to run"; done
elif ! command -v debootstrap >/dev/null 2>&1; then
	for i in $(seq "$DEBIAN_TESTS"); do skip "debian test $i: debootstrap not installed"; done
else
	cache=${BERTH_TEST_DEBIAN_CACHE:-$tmp/debian-cache}
	mirror_args=()
	[ -n "${BERTH_TEST_DEBIAN_MIRROR:-}" ] && mirror_args=(--mirror "$BERTH_TEST_DEBIAN_MIRROR")
	arch=$(dpkg --print-architecture)
	key=debian-bookworm-$arch
	prebuilt=0
	[ -d "$cache/$key" ] && prebuilt=1

	# 1. a build killed half-way leaves no cache, and no mounts
	if [ "$prebuilt" = 0 ]; then
		mkdir -p "$tmp/killed"
		setsid "$tpl/debian" --rootfs "$tmp/killed" --name killed --cache-dir "$cache" \
			${mirror_args[@]+"${mirror_args[@]}"} </dev/null >/dev/null 2>&1 &
		pid=$!
		for _ in $(seq 300); do
			# wait until debootstrap is unpacking into the partial dir
			[ -n "$(ls -A "$cache"/.partial-"$key".*/var 2>/dev/null)" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		sleep 2
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		if [ ! -e "$cache/$key" ] && ! grep -qF " $cache/" /proc/self/mountinfo; then
			ok "debian: a killed build leaves no cache and no mounts"
		else
			not_ok "debian: a killed build leaves no cache and no mounts"
			grep -F " $cache/" /proc/self/mountinfo | diag
		fi
	else
		skip "debian: killed build (cache $cache/$key already exists)"
	fi

	# 2. cold (or cached, if prebuilt) run
	r1=$tmp/deb1
	mkdir "$r1"
	run_tpl debian --rootfs "$r1" --name deb-1 --cache-dir "$cache" ${mirror_args[@]+"${mirror_args[@]}"}
	t_first=$elapsed_ms
	if [ "$rc" = 0 ]; then ok "debian: first run succeeds (${t_first} ms)"; else
		not_ok "debian: first run succeeds (exit $rc)"; diag <"$tmp/err"; fi
	check_eq "debian: first run prints nothing (stderr not a terminal)" "" "$(cat "$tmp/err" "$tmp/stdout")"
	check_eq "debian: no partial builds left, cache in place" "0 yes" \
		"$(find "$cache" -maxdepth 1 -name '.partial-*' | wc -l) $([ -d "$cache/$key" ] && echo yes)"
	bad_masks=""
	for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
		systemd-udev-trigger.service; do
		[ "$(readlink "$r1/etc/systemd/system/$u")" = /dev/null ] || bad_masks+="$u "
	done
	check_eq "debian: udev units are masked" "" "$bad_masks"
	check "debian: machine-id empty, dbus machine-id not a copy" \
		sh -c 'test -f "$1/etc/machine-id" -a ! -s "$1/etc/machine-id" &&
			{ test ! -e "$1/var/lib/dbus/machine-id" ||
			  test "$(readlink "$1/var/lib/dbus/machine-id")" = /etc/machine-id; }' sh "$r1"
	check "debian: hostname and hosts name the machine" \
		sh -c 'test "$(cat "$1/etc/hostname")" = deb-1 &&
			grep -qE "^127\.0\.1\.1[[:space:]]+deb-1$" "$1/etc/hosts"' sh "$r1"
	check "debian: fstab empty, resolv.conf empty file, default.target, no policy-rc.d, no lists" \
		sh -c 'test -f "$1/etc/fstab" -a ! -s "$1/etc/fstab" &&
			test -f "$1/etc/resolv.conf" -a ! -L "$1/etc/resolv.conf" -a ! -s "$1/etc/resolv.conf" &&
			readlink "$1/etc/systemd/system/default.target" | grep -q "/multi-user.target$" &&
			test ! -e "$1/usr/sbin/policy-rc.d" &&
			test -z "$(find "$1/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name partial)" &&
			test -x "$1/sbin/init" -a -x "$1/lib/systemd/systemd"' sh "$r1"

	# 3. cached run: no bootstrap
	r2=$tmp/deb2
	mkdir "$r2"
	run_tpl debian --rootfs "$r2" --name deb-2 --cache-dir "$cache" ${mirror_args[@]+"${mirror_args[@]}"}
	t_second=$elapsed_ms
	if [ "$rc" = 0 ]; then ok "debian: second run succeeds (${t_second} ms)"; else
		not_ok "debian: second run succeeds (exit $rc)"; diag <"$tmp/err"; fi
	last_run=$(awk '/^=== / { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$cache/$key.log")
	if printf '%s' "$last_run" | grep -q '^+ using cached rootfs' &&
		! printf '%s' "$last_run" | grep -qiE 'debootstrap|^I: '; then
		ok "debian: second run used the cache (its log shows no debootstrap)"
	else
		not_ok "debian: second run used the cache (its log shows no debootstrap)"
		printf '%s\n' "$last_run" | tail -n 20 | diag
	fi
	if [ "$prebuilt" = 1 ] || [ "$t_second" -lt $((t_first / 2)) ]; then
		ok "debian: cached run is fast (${t_second} ms vs ${t_first} ms)"
	else
		not_ok "debian: cached run is fast (${t_second} ms vs ${t_first} ms)"
	fi
	check_eq "debian: second machine has its own name" "deb-2" "$(cat "$r2/etc/hostname")"
	check_eq "debian: no mounts left below the cache or the rootfs" "" \
		"$(grep -E " ($cache|$tmp)/" /proc/self/mountinfo)"
fi

# ======================================================= debian --refresh
# The cache logic of --refresh, with a stand-in debootstrap bind-mounted
# over the real one in a mount namespace of our own (seconds, no mirror):
# a cached run bootstraps nothing, --refresh bootstraps again into a new
# cache, and a failed --refresh keeps the old cache.
if ! command -v debootstrap >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
	for i in $(seq 7); do skip "debian --refresh test $i: debootstrap or unshare missing"; done
else
	fake=$tmp/fake-debootstrap rc_dir=$tmp/rc
	mkdir -p "$rc_dir"
	cat >"$fake" <<'EOF'
#!/bin/bash
# As debootstrap RELEASE DIR MIRROR is called: a tree with an init, and the
# number of this call in DIR/bootstrap-no.
set -eu
[ ! -e "$FAKE_RC_DIR/fail" ] || exit 1
for a; do case $a in -*) ;; *) args+=("$a") ;; esac; done
dir=${args[1]}
echo x >>"$FAKE_RC_DIR/calls"
mkdir -p "$dir/lib/systemd" "$dir/sbin" "$dir/etc" "$dir/run" "$dir/tmp" "$dir/usr/bin"
printf '#!/bin/sh\n' >"$dir/lib/systemd/systemd"
chmod 755 "$dir/lib/systemd/systemd"
ln -s /lib/systemd/systemd "$dir/sbin/init"
wc -l <"$FAKE_RC_DIR/calls" >"$dir/bootstrap-no"
EOF
	chmod 755 "$fake"
	fake_debian() {
		FAKE_RC_DIR=$rc_dir unshare -m --propagation private bash -c \
			'mount --bind "$1" /usr/sbin/debootstrap && shift && exec "$@"' _ "$fake" \
			"$tpl/debian" --mirror http://deb.invalid/debian --cache-dir "$tmp/fake-cache" --name fk "$@"
	}
	fkey=debian-bookworm-$(dpkg --print-architecture)
	mkdir -p "$tmp/f1" "$tmp/f2" "$tmp/f3" "$tmp/f4"
	check "debian with a stand-in debootstrap builds its cache" fake_debian --rootfs "$tmp/f1"
	check "... a second run" fake_debian --rootfs "$tmp/f2"
	check_eq "... used the cache: one bootstrap" "1 1" \
		"$(wc -l <"$rc_dir/calls") $(cat "$tmp/fake-cache/$fkey/bootstrap-no")"
	ino=$(stat -c %i "$tmp/fake-cache/$fkey")
	check "a run with --refresh" fake_debian --rootfs "$tmp/f3" --refresh
	check_eq "... bootstrapped again into a new cache, which the rootfs is a copy of" "2 2 2" \
		"$(wc -l <"$rc_dir/calls") $(cat "$tmp/fake-cache/$fkey/bootstrap-no") $(cat "$tmp/f3/bootstrap-no")"
	check "... the cache is a new directory, no partial one is left" \
		test "$(stat -c %i "$tmp/fake-cache/$fkey")" != "$ino" -a -z "$(ls -A "$tmp/fake-cache" | grep '^\.partial')"
	touch "$rc_dir/fail"
	rc=0
	fake_debian --rootfs "$tmp/f4" --refresh >"$tmp/out" 2>&1 || rc=$?
	check_eq "a --refresh whose bootstrap fails: exits 1, the old cache stays, nothing is left" "1 2 ||" \
		"$rc $(cat "$tmp/fake-cache/$fkey/bootstrap-no") |$(ls -A "$tmp/f4")|$(ls -A "$tmp/fake-cache" | grep '^\.partial')"
fi

echo "1..$n"
[ "$failed" = 0 ]
