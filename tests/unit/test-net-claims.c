/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machined/net-claims.c: who holds a veth name, a host port, an address,
 * in a scratch namespace dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "net-internal.h"
#include "tap.h"
#include "util.h"

static Entry entry(const char *id, const char *veth, const char *addr, const char *ports) {
        Entry e = {};
        snprintf(e.id, sizeof e.id, "%s", id);
        snprintf(e.veth, sizeof e.veth, "%s", veth);
        if (ipaddr_parse(addr, &e.addr) < 0)
                abort();
        _cleanup_free_ char *copy = xstrdup(ports);
        char *save = NULL;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                const char *reason;
                if (port_forward_parse(w, &e.ports[e.n_ports++], &reason) < 0)
                        abort();
        }
        return e;
}

/* "BRIDGE/ID" of KEY's holder, or "" for none. */
static const char *holder(int nsfd, const char *key) {
        static char buf[IFNAMSIZ + ENTRY_ID_MAX + 1];
        char br[IFNAMSIZ], id[ENTRY_ID_MAX];
        int r = claim_holder(nsfd, key, br, id);
        if (r <= 0)
                snprintf(buf, sizeof buf, "%s", r < 0 ? "(error)" : "");
        else
                snprintf(buf, sizeof buf, "%s/%s", br, id);
        return buf;
}

int main(void) {
        char tmp[] = "/tmp/test-net-claims.XXXXXX";
        if (!mkdtemp(tmp))
                return 99;
        _cleanup_close_ int nsfd = open_dir_nofollow(AT_FDCWD, tmp);
        if (nsfd < 0)
                return 99;

        Entry a = entry("a@1", "vb-a", "10.77.0.5", "tcp:8080:80 udp:53:5353");
        char keys[CLAIMS_MAX][CLAIM_KEY_MAX];
        size_t n = claim_keys(&a, keys);
        TEST_ASSERT(n == 4, "a veth, an address and two ports: 4 keys (%zu)", n);
        TEST_ASSERT(n == 4 && streq(keys[0], "veth:vb-a") && streq(keys[1], "ip:10.77.0.5") &&
                            streq(keys[2], "tcp:8080") && streq(keys[3], "udp:53"),
                    "the keys name what they hold");
        Entry ext = entry("x@1", "vb-x", "0.0.0.0", "");
        TEST_ASSERT(claim_keys(&ext, keys) == 1, "a machine on an external bridge claims its veth name only");

        TEST_ASSERT(!claims_present(nsfd), "no claims in a fresh dir");
        TEST_ASSERT(streq(holder(nsfd, "tcp:8080"), ""), "nobody holds a port then");
        TEST_ASSERT(claims_take(nsfd, "berth0", &a) == 0, "a takes its claims");
        TEST_ASSERT(claims_present(nsfd), "the claims are there");
        TEST_ASSERT(streq(holder(nsfd, "tcp:8080"), "berth0/a@1"), "a holds tcp:8080");
        TEST_ASSERT(streq(holder(nsfd, "ip:10.77.0.5"), "berth0/a@1"), "a holds its address");
        TEST_ASSERT(streq(holder(nsfd, "tcp:53"), ""), "not tcp:53: udp:53 is another port");

        /* b takes a's port over (a's supervisor died: network.c decides). */
        Entry b = entry("b@1", "vb-b", "10.77.0.6", "tcp:8080:80");
        TEST_ASSERT(claims_take(nsfd, "berth1", &b) == 0, "b takes its claims, one of them a's");
        TEST_ASSERT(streq(holder(nsfd, "tcp:8080"), "berth1/b@1"), "b holds tcp:8080 now");
        claims_drop(nsfd, "berth0", &a);
        TEST_ASSERT(streq(holder(nsfd, "tcp:8080"), "berth1/b@1"), "dropping a's claims leaves b's port to b");
        TEST_ASSERT(streq(holder(nsfd, "udp:53"), ""), "and drops what was still a's");
        TEST_ASSERT(streq(holder(nsfd, "veth:vb-a"), ""), "its veth name too");

        /* A sync rewrites them from the entries, in place. */
        char path[128];
        snprintf(path, sizeof path, "%s/@claims/ip:10.77.0.5", tmp);
        TEST_ASSERT(symlink("berth1/b@1", path) == 0, "a wrong claim of a's address");
        _cleanup_(claims_sync_done) ClaimsSync sync;
        TEST_ASSERT(claims_sync_begin(nsfd, &sync) == 0, "a sync begins");
        TEST_ASSERT(claims_sync_add(&sync, "berth0", &a, 1) == 0, "a's claims are written back");
        TEST_ASSERT(streq(holder(nsfd, "udp:53"), "berth0/a@1"), "a holds udp:53 again");
        TEST_ASSERT(streq(holder(nsfd, "ip:10.77.0.5"), "berth0/a@1"), "the wrong claim is replaced");
        TEST_ASSERT(streq(holder(nsfd, "veth:vb-b"), "berth1/b@1"), "b's claims stay until the sync finishes");
        TEST_ASSERT(claims_sync_finish(&sync) == 0, "the sync finishes");
        TEST_ASSERT(streq(holder(nsfd, "veth:vb-b"), ""), "what no live entry claims is gone then");
        TEST_ASSERT(streq(holder(nsfd, "tcp:8080"), "berth0/a@1"), "a holds tcp:8080, as its entry says");
        int cfd = sync.cfd;
        struct stat before, after;
        TEST_ASSERT(fstatat(cfd, "udp:53", &before, AT_SYMLINK_NOFOLLOW) == 0, "udp:53's link");
        _cleanup_(claims_sync_done) ClaimsSync again;
        TEST_ASSERT(claims_sync_begin(nsfd, &again) == 0 && claims_sync_add(&again, "berth0", &a, 1) == 0 &&
                            claims_sync_finish(&again) == 0,
                    "a second sync of the same entries");
        TEST_ASSERT(fstatat(cfd, "udp:53", &after, AT_SYMLINK_NOFOLLOW) == 0 && after.st_ino == before.st_ino,
                    "leaves a right claim as it was (not written again)");

        /* A sync of no entries at all (the last machine gone) removes every claim. */
        _cleanup_(claims_sync_done) ClaimsSync none;
        TEST_ASSERT(claims_sync_begin(nsfd, &none) == 0 && claims_sync_finish(&none) == 0, "a sync of no entries");
        TEST_ASSERT(streq(holder(nsfd, "udp:53"), "") && streq(holder(nsfd, "veth:vb-a"), ""), "leaves no claim");

        /* A claim that does not say "BRIDGE/ID" holds nothing (and goes). */
        snprintf(path, sizeof path, "%s/@claims/tcp:9", tmp);
        TEST_ASSERT(symlink("garbage", path) == 0, "a bad claim");
        TEST_ASSERT(streq(holder(nsfd, "tcp:9"), ""), "a bad claim holds nothing");
        TEST_ASSERT(faccessat(cfd, "tcp:9", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "and is removed");
        snprintf(path, sizeof path, "%s/@claims/tcp:10", tmp);
        TEST_ASSERT(symlink("berth0/../../etc", path) == 0, "a claim with a path in its ID");
        TEST_ASSERT(streq(holder(nsfd, "tcp:10"), ""), "holds nothing either");
        snprintf(path, sizeof path, "%s/@claims/tcp:11", tmp);
        TEST_ASSERT(symlink("../x", path) == 0, "a claim whose bridge is \"..\"");
        TEST_ASSERT(streq(holder(nsfd, "tcp:11"), ""), "holds nothing");

        claims_remove(nsfd);
        TEST_ASSERT(!claims_present(nsfd), "claims_remove() leaves none");
        (void) rm_rf_at(AT_FDCWD, tmp);
        return tap_finish();
}
