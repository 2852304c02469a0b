/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one KEY=VALUE reader of berth's own store files: what it accepts,
 * what it refuses as a whole, and that it reads no symlink. */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs.h"
#include "kv.h"
#include "tap.h"
#include "util.h"

static void good(const char *text, const char *key, const char *want, size_t n) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_parse(text, strlen(text), &kv);
        _cleanup_free_ char *shown = strdup_printable(text);
        if (!TEST_ASSERT(r == 0 && kv.n == n && streq_ptr(key_values_get(&kv, key), want),
                         "\"%s\": %zu entries, %s is %s", shown, n, key, want ?: "absent"))
                tap_diag("r=%d n=%zu value=%s", r, kv.n, key_values_get(&kv, key) ?: "(null)");
}

static void bad(const char *desc, const char *text, size_t len) {
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_parse(text, len, &kv);
        if (!TEST_ASSERT(r == -EBADMSG && kv.n == 0 && !kv.text, "refuses %s", desc))
                tap_diag("r=%d", r);
}

static void test_parse(void) {
        good("", "A", NULL, 0);
        good("A=1\n", "A", "1", 1);
        good("A=1", "A", "1", 1);
        good("SOURCE=template:debian:bookworm\nCREATED_USEC=12\n", "SOURCE", "template:debian:bookworm", 2);
        good("SOURCE=x\nCREATED_USEC=12\n", "CREATED_USEC", "12", 2);
        good("A=\n", "A", "", 1);
        good("A=b=c\n", "A", "b=c", 1);
        good("PORTS=80/tcp 443/tcp\n", "PORTS", "80/tcp 443/tcp", 1);
        good("A=1\n", "B", NULL, 1);
        good("UID_BASE=524288\nUID_SIZE=65536\n", "UID_SIZE", "65536", 2);

        bad("a line without '='", "A=1\nB\n", 6);
        bad("an empty line", "A=1\n\nB=2\n", 9);
        bad("an empty key", "=1\n", 3);
        bad("a lower-case key", "a=1\n", 4);
        bad("a key with a space", " A=1\n", 5);
        bad("a key given twice", "A=1\nA=2\n", 8);
        bad("a NUL byte", "A=1\0B=2\n", 8);
        bad("a trailing empty line", "A=1\n\n", 5);
}

static void test_read(const char *dir) {
        _cleanup_close_ int dfd = open_dir_nofollow(AT_FDCWD, dir);
        TEST_ASSERT(dfd >= 0 && write_file_atomic_at(dfd, "f", "K=v\n", 4, 0644) >= 0, "write a file");
        _cleanup_(key_values_done) KeyValues kv = KEY_VALUES_INIT;
        int r = key_values_read_at(dfd, "f", 256, &kv);
        TEST_ASSERT(r == 0 && streq_ptr(key_values_get(&kv, "K"), "v"), "read it back (got %d)", r);
        key_values_done(&kv);

        r = key_values_read_at(dfd, "missing", 256, &kv);
        TEST_ASSERT(r == -ENOENT && kv.n == 0, "a missing file is -ENOENT (got %d)", r);

        char big[300];
        memset(big, 'A', sizeof big);
        big[1] = '=';
        TEST_ASSERT(write_file_atomic_at(dfd, "big", big, sizeof big, 0644) >= 0, "write a 300-byte file");
        r = key_values_read_at(dfd, "big", 256, &kv);
        TEST_ASSERT(r == -EFBIG && kv.n == 0, "a file over the bound is -EFBIG (got %d)", r);

        TEST_ASSERT(symlinkat("f", dfd, "link") == 0, "plant a symlink");
        r = key_values_read_at(dfd, "link", 256, &kv);
        TEST_ASSERT(r == -ELOOP && kv.n == 0, "a symlink is not followed (got %d)", r);
}

int main(void) {
        char tmpl[] = "/tmp/test-kv.XXXXXX";
        if (!mkdtemp(tmpl))
                return EXIT_FAILURE;
        test_parse();
        test_read(tmpl);
        (void) rm_rf_at(AT_FDCWD, tmpl);
        return tap_finish();
}
