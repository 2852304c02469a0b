/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs.h"
#include "idrange.h"
#include "tap.h"
#include "uid-registry.h"
#include "userns.h"
#include "util.h"

#define SZ 0x10000U

static void put(int dfd, const char *name, const char *text) {
        (void) write_file_atomic_at(dfd, name, text, strlen(text), 0644);
}

static void test_first_free(void) {
        IdIntervals l = {};
        uint64_t b = 0;
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0x6FFF0000, SZ, &b) == 0 && b == 0x80000,
                    "an empty set gives the minimum");
        id_intervals_add(&l, 0x80000, SZ);
        id_intervals_add(&l, 0xA0005, 1); /* one host user inside the third slot */
        id_intervals_add(&l, 0x90000, SZ);
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0x6FFF0000, SZ, &b) == 0 && b == 0xB0000,
                    "taken slots and a single id inside a slot are skipped");
        id_intervals_add(&l, 0xB8000, 0x30000); /* a subuid range across slot boundaries */
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0x6FFF0000, SZ, &b) == 0 && b == 0xF0000,
                    "a range across slots skips every slot it touches");
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0xE0000, SZ, &b) == -ENOSPC, "-ENOSPC when full");
        id_intervals_done(&l);
}

static void test_host(const char *dir) {
        _cleanup_close_ int etc = open_dir_nofollow(AT_FDCWD, dir);
        put(etc, "passwd", "root:x:0:0::/root:/bin/sh\nbig:x:589830:5::/:/bin/sh\nbad:x:zz:1::/:/bin/sh\n");
        put(etc, "group", "root:x:0:\nhuge:x:655360:\n");
        put(etc, "subuid", "alice:100000:65536\nbob:720896:131072\nbroken:1\n");
        IdIntervals l = {};
        TEST_ASSERT(id_intervals_add_host(&l, etc) == 0, "reads passwd, group, subuid; subgid missing is fine");
        TEST_ASSERT(l.n == 6, "two users, two groups, two subuid ranges; bad lines skipped");
        uint64_t b = 0;
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0x6FFF0000, SZ, &b) == 0 && b == 0x80000,
                    "0x80000 is free");
        id_intervals_add(&l, 0x80000, SZ);
        TEST_ASSERT(id_intervals_first_free(&l, 0x80000, 0x6FFF0000, SZ, &b) == 0 && b == 0xD0000,
                    "user 589830, group 655360 and bob's 720896+131072 are avoided");
        id_intervals_done(&l);
}

static void test_registry(const char *dir) {
        _cleanup_free_ char *reg_path = xasprintf("%s/reg", dir), *m1 = xasprintf("%s/machines/m1", dir),
                            *m2 = xasprintf("%s/machines/m2", dir), *machines = xasprintf("%s/machines", dir);
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        (void) mkdir_p_at(dfd, "machines/m1", 0700);
        (void) mkdir_p_at(dfd, "machines/m2", 0700);
        _cleanup_close_ int m1fd = open_dir_nofollow(AT_FDCWD, m1);
        _cleanup_close_ int mfd = open_dir_nofollow(AT_FDCWD, machines);

        UidRegistry reg = UID_REGISTRY_INIT;
        TEST_ASSERT(uid_registry_open(reg_path, &reg) == 0, "opens a new registry");
        put(m1fd, "idmap", "UID_BASE=524288\nUID_SIZE=65536\n");
        TEST_ASSERT(uid_registry_claim(&reg, 0x80000, m1, NULL) == 0, "m1 claims 0x80000");
        TEST_ASSERT(uid_registry_claim(&reg, 0x80000, m2, NULL) == -EADDRINUSE, "m2 cannot take m1's range");
        TEST_ASSERT(uid_registry_claim(&reg, 0x90000, m2, NULL) == 0, "a claim before the idmap exists");
        IdIntervals l = {};
        TEST_ASSERT(uid_registry_collect(&reg, &l) == 0 && l.n == 1 && l.v[0].start == 0x80000,
                    "collect keeps m1's range and drops m2's entry (no idmap: stale)");
        TEST_ASSERT(faccessat(reg.dir_fd, "00090000", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "the stale entry is gone");
        id_intervals_done(&l);

        /* Renamed like a staging dir: the sibling still holds the range. */
        TEST_ASSERT(renameat(mfd, "m1", mfd, "m1b") == 0, "rename m1");
        _cleanup_free_ char *holder = NULL, *m1b = xasprintf("%s/machines/m1b", dir);
        TEST_ASSERT(uid_registry_claim(&reg, 0x80000, m2, &holder) == -EADDRINUSE, "the renamed owner still holds it");
        TEST_ASSERT(streq_ptr(holder, m1b), "... and is named as the holder");
        TEST_ASSERT(uid_registry_collect(&reg, &l) == 0 && l.n == 1, "collect still counts it");
        id_intervals_done(&l);
        _cleanup_free_ char *entry = NULL, *want = xasprintf("OWNER=%s/machines/m1b\n", dir);
        TEST_ASSERT(read_file_at(reg.dir_fd, "00080000", 4096, &entry, NULL) == 0 && streq(entry, want),
                    "the entry now names the renamed dir");

        TEST_ASSERT(symlinkat("/etc/passwd", reg.dir_fd, "000a0000") == 0, "plant a symlink entry");
        put(reg.dir_fd, "000b0000", "OWNER=relative/path\n");
        put(reg.dir_fd, "000c0000", "OWNER=/a/../b\n");
        put(reg.dir_fd, "zzz", "OWNER=/etc\n");
        TEST_ASSERT(uid_registry_collect(&reg, &l) == 0 && l.n == 4, "unreadable entries keep their range");
        id_intervals_done(&l);
        char *none = (char *) "unset";
        TEST_ASSERT(uid_registry_claim(&reg, 0xa0000, m2, &none) == -EADDRINUSE && !none,
                    "a symlink entry is not replaced, and names no holder");
        TEST_ASSERT(uid_registry_release(&reg, 0xa0000) == 0 &&
                            faccessat(reg.dir_fd, "000a0000", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                    "nor released");
        TEST_ASSERT(faccessat(reg.dir_fd, "zzz", F_OK, 0) == 0, "foreign names are ignored");

        (void) rm_rf_at(mfd, "m1b");
        TEST_ASSERT(uid_registry_release(&reg, 0x80000) == 0 &&
                            faccessat(reg.dir_fd, "00080000", F_OK, AT_SYMLINK_NOFOLLOW) < 0,
                    "release drops the entry once the owner is gone");
        uid_registry_close(&reg);
}

/* A user's machine ranges: their lines in subuid and subgid (by name or
 * UID), stepped from each line's own start. */
static void test_subids(const char *dir) {
        _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
        (void) mkdir(sub, 0700);
        _cleanup_close_ int etc = open_dir_nofollow(AT_FDCWD, sub);
        put(etc, "subuid", "alice:100000:131072\nbob:300000:65536\n1234:500000:65536\nalicex:900000:65536\n"
                           "alice:zz:1\nalice:4294967000:65536\n");
        put(etc, "subgid", "alice:100000:65536\n1234:500000:65536\n");
        IdIntervals u = {}, g = {}, used = {};
        TEST_ASSERT(id_intervals_add_subids(&u, etc, "subuid", "alice", 1234) == 0 && u.n == 2,
                    "alice's lines by name and by UID; others, bad and overflowing lines skipped");
        TEST_ASSERT(id_intervals_add_subids(&g, etc, "subgid", "alice", 1234) == 0 && g.n == 2, "and in subgid");
        uint64_t b = 0;
        TEST_ASSERT(id_intervals_first_free_within(&u, &g, &used, SZ, &b) == 0 && b == 100000,
                    "the first range starts at the line's own (unaligned) start");
        id_intervals_add(&used, 100000, SZ);
        TEST_ASSERT(id_intervals_first_free_within(&u, &g, &used, SZ, &b) == 0 && b == 500000,
                    "a range that is only in subuid is skipped (subgid lacks 165536..)");
        id_intervals_add(&used, 500000, SZ);
        TEST_ASSERT(id_intervals_first_free_within(&u, &g, &used, SZ, &b) == -ENOSPC, "-ENOSPC when all are taken");
        IdIntervals none = {};
        TEST_ASSERT(id_intervals_add_subids(&none, etc, "missing", "alice", 1234) == 0 && none.n == 0,
                    "a missing file grants nothing");
        id_intervals_done(&u);
        id_intervals_done(&g);
        id_intervals_done(&used);
}

int main(void) {
        char tmpl[] = "/tmp/test-idrange.XXXXXX";
        if (!mkdtemp(tmpl))
                return 1;
        test_first_free();
        test_host(tmpl);
        test_registry(tmpl);
        test_subids(tmpl);
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
