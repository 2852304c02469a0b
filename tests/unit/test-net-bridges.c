/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machined/bridge.c: the walk over a namespace dir's bridge dirs, which
 * network.c and bridge.c share, in a scratch namespace dir that holds
 * every other kind of entry berth writes there, and a few it never does. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "net-internal.h"
#include "tap.h"
#include "util.h"

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names the walk yields, sorted and space-separated; each with a
 * "+" when its fd is its dir (holds its "mark" file). */
static char *walk(int nsfd) {
        _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
        if (bridge_iter_open(nsfd, &it) < 0)
                return xstrdup("(error)");
        _cleanup_strv_free_ char **names = NULL;
        while (bridge_iter_next(&it)) {
                bool own = faccessat(it.fd, "mark", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                _cleanup_free_ char *n = xasprintf("%s%s", it.name, own ? "+" : "");
                names = strv_append(names, n);
        }
        size_t k = strv_length(names);
        if (k > 1)
                qsort(names, k, sizeof *names, name_cmp);
        char *s = xstrdup("");
        for (size_t i = 0; i < k; i++)
                strextendf(&s, "%s%s", i ? " " : "", names[i]);
        return s;
}

static void mkbridge(int nsfd, const char *name) {
        if (mkdirat(nsfd, name, 0700) < 0)
                abort();
        _cleanup_close_ int fd = open_dir_nofollow(nsfd, name);
        if (fd < 0 || write_file_atomic_at(fd, "mark", "", 0, 0600) < 0)
                abort();
}

int main(void) {
        char tmp[] = "/tmp/test-net-bridges.XXXXXX";
        if (!mkdtemp(tmp))
                return 99;
        _cleanup_close_ int nsfd = open_dir_nofollow(AT_FDCWD, tmp);
        if (nsfd < 0)
                return 99;

        _cleanup_free_ char *empty = walk(nsfd);
        TEST_ASSERT_STREQ(empty, "", "an empty namespace dir has no bridges");

        mkbridge(nsfd, "berth0");
        mkbridge(nsfd, "br-lan.1");
        /* What else berth keeps there: files and '@' dirs. */
        TEST_ASSERT(write_file_atomic_at(nsfd, "sysctl", "", 0, 0600) == 0, "a sysctl file");
        TEST_ASSERT(write_file_atomic_at(nsfd, "nft-state", "", 0, 0600) == 0, "an nft-state file");
        TEST_ASSERT(mkdirat(nsfd, "@claims", 0700) == 0 && mkdirat(nsfd, "@nft", 0700) == 0,
                    "the @claims and @nft dirs");
        /* And what it never makes: none of it a bridge. */
        TEST_ASSERT(mkdirat(nsfd, ".berth2.new", 0700) == 0, "a dir whose name starts with '.'");
        TEST_ASSERT(mkdirat(nsfd, "a-name-too-long-for-linux", 0700) == 0,
                    "a dir named longer than IFNAMSIZ");
        TEST_ASSERT(mkdirat(nsfd, "bad;name", 0700) == 0, "a dir whose name is not an interface's");
        TEST_ASSERT(symlinkat("berth0", nsfd, "berth9") == 0, "a symlink to a bridge dir");
        TEST_ASSERT(symlinkat("/etc", nsfd, "berth8") == 0, "a symlink out of the dir");

        _cleanup_free_ char *all = walk(nsfd);
        TEST_ASSERT_STREQ(all, "berth0+ br-lan.1+", "the walk yields the bridge dirs, each with its own fd");

        /* Stopped early, the iterator still closes what it holds. */
        int held_dir = -EBADF, held_bridge = -EBADF;
        {
                _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
                TEST_ASSERT(bridge_iter_open(nsfd, &it) == 0 && bridge_iter_next(&it) && it.fd >= 0,
                            "a walk stopped at its first bridge");
                held_dir = it.d ? dirfd(it.d) : -EBADF;
                held_bridge = it.fd;
        }
        /* Nothing opened since: a closed fd's number is free. */
        TEST_ASSERT(held_dir >= 0 && fcntl(held_dir, F_GETFD) < 0 && errno == EBADF,
                    "closes its listing's fd");
        TEST_ASSERT(held_bridge >= 0 && fcntl(held_bridge, F_GETFD) < 0 && errno == EBADF,
                    "and the bridge dir's");

        /* A dir that cannot be listed: the error, and a done that is safe. */
        {
                _cleanup_(bridge_iter_done) BridgeIter it = BRIDGE_ITER_INIT;
                TEST_ASSERT(bridge_iter_open(-EBADF, &it) == -EBADF, "an fd that is none: -EBADF");
                TEST_ASSERT(!bridge_iter_next(&it) && !it.name, "and nothing to walk");
        }

        (void) rm_rf_at(AT_FDCWD, tmp);
        return tap_finish();
}
