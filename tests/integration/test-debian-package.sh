#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package: built from a copy of the source tree with
# dpkg-buildpackage, lintian-clean of errors, installed on this host, used
# from /usr/bin (a busybox machine boots in a root of the test's own, with
# the installed helpers, not the build tree's), then purged: nothing of it
# may be left, and /var/lib/berth (the machines) is never the package's.
. "$(dirname "$0")/lib.sh"

for p in dpkg-buildpackage dh lintian; do
        command -v "$p" >/dev/null || { ok "# SKIP $p is not installed (dpkg-dev, debhelper, lintian)"; done_testing; }
done
: "${BERTH_SRCDIR:?}"

W=$TEST_TMP/pkg
mkdir -p "$W/berth"
# The tree as it is (uncommitted changes included), without build trees or git.
tar -C "$BERTH_SRCDIR" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$W/berth" -xf -
check "debian/ is in the copy" test -x "$W/berth/debian/rules"

start=$SECONDS
(cd "$W/berth" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1
status=$?
check_eq "dpkg-buildpackage -us -uc -b builds the package" 0 "$status"
echo "# built in $((SECONDS - start)) s"
[ "$status" -eq 0 ] || { tail -30 "$W/build.log" | sed 's/^/#   /'; done_testing; }
deb=$(ls "$W"/berth_*_*.deb)
check "one berth .deb" test -f "$deb"

lintian --tag-display-limit 0 "$W"/berth_*.changes >"$W/lintian.log" 2>&1
check_fails "lintian reports no error" grep -E '^E: ' "$W/lintian.log"
grep -E '^(E|W): ' "$W/lintian.log" | sed 's/^/# lintian: /'

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$W/contents"
for f in /usr/bin/berth /usr/libexec/berth/berth-machined /usr/libexec/berth/berth-unpack \
         /usr/libexec/berth/berth-import /usr/libexec/berth/berth-pull /usr/libexec/berth/berth-export \
         /usr/libexec/berth/berth-oci /usr/libexec/berth/templates/busybox /usr/libexec/berth/templates/debian \
         /usr/share/man/man1/berth.1.gz /usr/share/man/man5/berth.conf.5.gz /usr/share/man/man8/berth-machined.8.gz \
         /usr/share/bash-completion/completions/berth /usr/share/zsh/vendor-completions/_berth \
         /usr/share/fish/vendor_completions.d/berth.fish /etc/berth/berth.conf; do
        check "the package holds $f" grep -qxF "$f" "$W/contents"
done
if command -v zsh >/dev/null; then
        check "Debian's zsh searches where the zsh completion is" \
                sh -c "zsh -fc 'print -l \$fpath' | grep -qxF /usr/share/zsh/vendor-completions"
fi
check "the package holds berth@.service" grep -qE '^/(usr/)?lib/systemd/system/berth@\.service$' "$W/contents"
check "and the user template berth@.service" grep -qxF /usr/lib/systemd/user/berth@.service "$W/contents"
check "nothing of it is below /var/lib/berth" test -z "$(grep '^/var/lib/berth' "$W/contents")"
check_eq "berth.conf is a conffile" "/etc/berth/berth.conf" "$(dpkg-deb -I "$deb" conffiles)"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libsystemd0 libmount1 libnftables1 libseccomp2 libarchive13 libcap2 libinih1 libjson-c5; do
        check "it depends on $lib (linked or loaded)" grep -qE "(^|, )$lib( |,|$)" <<<"$depends"
done
check_eq "Recommends" "busybox-static, debootstrap, dnsmasq-base, nftables, systemd-container, uidmap" \
        "$(dpkg-deb -f "$deb" Recommends)"

# --- install on this host, use, purge ----------------------------------------------
if dpkg-query -W -f='${Status}' berth 2>/dev/null | grep -q 'installed' || [ -e /usr/bin/berth ] ||
   [ -e /etc/berth ] || [ -e /usr/libexec/berth ]; then
        ok "# SKIP berth is installed on this host already: the test does not touch it"
        done_testing
fi
var_before=$(test -d /var/lib/berth && echo present || echo absent)
installed=
package_cleanup() {
        [ -n "$installed" ] && apt_get purge berth >/dev/null 2>&1
        cleanup
}
trap package_cleanup EXIT

# apt waits for the dpkg lock (another apt run on the host) instead of failing.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"; }
check "apt-get install ./berth_*.deb installs it" apt_get install --no-install-recommends "$deb"
installed=1
check_eq "dpkg says it is installed" "install ok installed" "$(dpkg-query -W -f='${Status}' berth)"
check_eq "berth --version from /usr/bin" "berth $(dpkg-deb -f "$deb" Version)" "$(/usr/bin/berth --version)"
check "its man page is found" sh -c 'man -w berth | grep -q "^/usr/share/man/man1/berth.1"'

# The installed berth, with nothing of the build tree: its own helpers and
# templates from /usr/libexec/berth, its own root.
ib() { env -u BERTH_MACHINED -u BERTH_UNPACK -u BERTH_IMPORT -u BERTH_PULL -u BERTH_EXPORT -u BERTH_OCI \
           -u BERTH_TEMPLATE_DIR /usr/bin/berth "$@"; }
check "the installed berth creates a busybox machine" ib create --template busybox pk1
check "... starts it" ib start pk1
check "... runs a command in it" ib exec pk1 -- true
check_eq "... whose supervisor is the installed one" "/usr/libexec/berth/berth-machined" \
        "$(pgrep -af "berth-machined --root $BERTH_ROOT " | awk '{print $2}' | head -1)"
check "... stops it" ib stop pk1
check "... removes it" ib rm pk1

check "apt-get purge removes it" apt_get purge berth
installed=
check_fails "dpkg knows no file of it any more" dpkg -L berth
for p in /usr/bin/berth /usr/libexec/berth /etc/berth /usr/share/man/man1/berth.1.gz \
         /usr/share/bash-completion/completions/berth /lib/systemd/system/berth@.service \
         /usr/lib/systemd/system/berth@.service /usr/lib/systemd/user/berth@.service /usr/share/doc/berth; do
        check "nothing left at $p" test ! -e "$p"
done
check_eq "/var/lib/berth as it was before (the machines are not the package's)" "$var_before" \
        "$(test -d /var/lib/berth && echo present || echo absent)"
done_testing
