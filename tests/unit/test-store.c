/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names the store derives or reads back: a run instance's "base" file
 * (store_machine_base) must name a machine or image, never a path; the
 * cgroup and qualified names must keep machines of two roots apart. */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "layers.h"
#include "store.h"
#include "tap.h"
#include "util.h"

static void put_base(Store *s, const char *text, size_t len) {
        _cleanup_close_ int dfd = open_dir_nofollow(s->machines_fd, "inst");
        _cleanup_close_ int fd = dfd < 0 ? -1 : openat(dfd, "base", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, len) < 0) {
                tap_diag("cannot write machines/inst/base");
                exit(EXIT_FAILURE);
        }
}

static void base_ok(Store *s, const char *text, const char *want) {
        put_base(s, text, strlen(text));
        _cleanup_free_ char *b = NULL;
        int r = store_machine_base(s, "inst", &b);
        _cleanup_free_ char *shown = strdup_printable(text); /* one TAP line: '\n' becomes '?' */
        if (!TEST_ASSERT(r == 0 && streq_ptr(b, want), "base file \"%s\" names %s", shown, want ?: "nothing"))
                tap_diag("r=%d base=%s", r, b ?: "(null)");
}

static void base_bad(Store *s, const char *desc, const char *text, size_t len) {
        put_base(s, text, len);
        char *b = (char *) 0x1;
        int r = store_machine_base(s, "inst", &b);
        if (!TEST_ASSERT(r == -EBADMSG && !b, "store_machine_base refuses %s", desc))
                tap_diag("r=%d", r);
        if (r == 0)
                free(b);
}

static void test_base(Store *s) {
        char *b = (char *) 0x1;
        TEST_ASSERT(mkdirat(s->machines_fd, "inst", 0700) == 0, "make machines/inst");
        TEST_ASSERT(store_machine_base(s, "inst", &b) == 0 && !b, "no base file: an ordinary machine");
        b = (char *) 0x1;
        TEST_ASSERT(store_machine_base(s, "nosuch", &b) == -ENOENT && !b, "a missing machine is -ENOENT");

        base_ok(s, "BASE=web\n", "web");
        base_ok(s, "BASE=image:debian-12\n", "image:debian-12");
        base_ok(s, "BASE=web", "web");
        base_ok(s, "BASE=web\nOTHER=x\n", "web");

        base_bad(s, "an empty file", "", 0);
        base_bad(s, "a file without BASE=", "NAME=web\n", 9);
        base_bad(s, "a leading space", " BASE=web\n", 10);
        base_bad(s, "an empty base", "BASE=\n", 6);
        base_bad(s, "\"image:\" alone", "BASE=image:\n", 12);
        base_bad(s, "\"..\"", "BASE=..\n", 8);
        base_bad(s, "\"../x\"", "BASE=../x\n", 10);
        base_bad(s, "\"image:../x\"", "BASE=image:../x\n", 16);
        base_bad(s, "\"image:image:x\"", "BASE=image:image:x\n", 19);
        base_bad(s, "an absolute path", "BASE=/etc\n", 10);
        base_bad(s, "a leading '-'", "BASE=-rf\n", 9);
        base_bad(s, "a trailing space", "BASE=web \n", 10);
        base_bad(s, "a CR", "BASE=web\r\n", 10);
        base_bad(s, "non-ASCII", "BASE=caf\xc3\xa9\n", 11);
        base_bad(s, "a 65-character name",
                 "BASE=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 71);

        char big[300];
        memset(big, 'a', sizeof big);
        memcpy(big, "BASE=", 5);
        put_base(s, big, sizeof big);
        b = (char *) 0x1;
        int r = store_machine_base(s, "inst", &b);
        TEST_ASSERT(r == -EFBIG && !b, "a base file over 256 bytes is -EFBIG (got %d)", r);

        TEST_ASSERT(unlinkat(s->machines_fd, "inst/base", 0) == 0 && symlinkat("/etc/hostname", s->machines_fd, "inst/base") == 0,
                    "plant a symlink as the base file");
        b = (char *) 0x1;
        r = store_machine_base(s, "inst", &b);
        TEST_ASSERT(r == -ELOOP && !b, "a symlinked base file is not followed (got %d)", r);
}

static void test_names(Store *s, Store *other) {
        _cleanup_free_ char *c1 = store_cgroup_name(s, "web"), *c2 = store_cgroup_name(other, "web"),
                            *q1 = store_qualified_name(s, "web"), *q2 = store_qualified_name(other, "web");
        TEST_ASSERT(startswith(c1, "web@") && strlen(c1) == 12 && !streq(c1, c2),
                    "cgroup names outside the default root are NAME@<8 hex>, different per root (%s, %s)", c1, c2);
        TEST_ASSERT(startswith(q1, "web.") && strlen(q1) == 12 && !streq(q1, q2),
                    "qualified names are NAME.<8 hex>, different per root (%s, %s)", q1, q2);
        _cleanup_free_ char *c3 = store_cgroup_name(s, "web");
        TEST_ASSERT(streq(c1, c3), "the cgroup name is stable");
        _cleanup_free_ char *m = store_machine_path(s, "web"), *want = xasprintf("%s/machines/web", s->root);
        TEST_ASSERT_STREQ(m, want, "store_machine_path is ROOT/machines/NAME");
}

static bool layer_exists(Store *s, const char *id) {
        _cleanup_free_ char *p = xasprintf("%s/images/layers/%s", s->root, id);
        return access(p, F_OK) == 0;
}

static void put_file(int dirfd, const char *name, const char *text) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0) {
                tap_diag("cannot write %s", name);
                exit(EXIT_FAILURE);
        }
}

/* gc removes the layers no list names; a list it cannot read might name any
 * of them, so then it removes none. */
static void test_prune(Store *s) {
        static const char *const used = "00000000000000a1", *unused = "00000000000000b2";
        TEST_ASSERT(mkdirat(s->images_fd, "layers", 0700) == 0, "make images/layers");
        _cleanup_close_ int ldir = open_dir_nofollow(s->images_fd, "layers");
        TEST_ASSERT(ldir >= 0 && mkdirat(ldir, used, 0700) == 0 && mkdirat(ldir, unused, 0700) == 0,
                    "two layers");
        TEST_ASSERT(mkdirat(s->machines_fd, "good", 0700) == 0 && mkdirat(s->machines_fd, "broken", 0700) == 0,
                    "two machines");
        _cleanup_close_ int good = open_dir_nofollow(s->machines_fd, "good");
        _cleanup_close_ int broken = open_dir_nofollow(s->machines_fd, "broken");
        put_file(good, "layers", "00000000000000a1\n");
        put_file(broken, "layers", "../../etc\n");

        int r = layers_prune(s);
        TEST_ASSERT(r == -EBADMSG, "a malformed layer list makes the prune fail (got %d)", r);
        TEST_ASSERT(layer_exists(s, used) && layer_exists(s, unused), "and it removed no layer");

        TEST_ASSERT(unlinkat(broken, "layers", 0) == 0, "remove the malformed list");
        r = layers_prune(s);
        TEST_ASSERT(r == 1, "then the prune removes one layer (got %d)", r);
        TEST_ASSERT(layer_exists(s, used) && !layer_exists(s, unused), "the unused one, not the used one");
}

int main(void) {
        char tmpl[] = "/tmp/test-store.XXXXXX";
        if (!mkdtemp(tmpl))
                return EXIT_FAILURE;
        _cleanup_free_ char *r1 = xasprintf("%s/a", tmpl), *r2 = xasprintf("%s/b", tmpl);
        Store s = STORE_INIT, other = STORE_INIT;
        if (store_open(&s, r1, NULL) < 0 || store_open(&other, r2, NULL) < 0)
                return EXIT_FAILURE;
        test_base(&s);
        test_names(&s, &other);
        test_prune(&other);
        store_close(&s);
        store_close(&other);
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
