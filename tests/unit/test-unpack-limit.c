/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/mman.h>

#include "log.h"
#include "tap.h"
#include "unpack-limit.h"
#include "util.h"

#define SENTINEL UINT64_C(0x5a5a5a5a5a5a5a5a)

static void max_ok(const char *s, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = unpack_max_size_parse(s, &v);
        if (!TEST_ASSERT(r == 0 && v == want, "unpack_max_size_parse(\"%s\") = %llu", s, (unsigned long long) want))
                tap_diag("r=%d v=%llu", r, (unsigned long long) v);
}

static void max_bad(const char *desc, const char *s) {
        uint64_t v = SENTINEL;
        int r = unpack_max_size_parse(s, &v);
        if (!TEST_ASSERT(r == -EINVAL && v == SENTINEL, "unpack_max_size_parse refuses %s", desc))
                tap_diag("r=%d v=%llu", r, (unsigned long long) v);
}

static void test_parse(void) {
        max_ok("infinity", UINT64_MAX);
        max_ok("1", 1);
        max_ok("100G", UINT64_C(100) << 30);
        max_ok("16777215T", UINT64_C(16777215) << 40);
        max_ok("18446744073709551615", UINT64_MAX);

        max_bad("NULL", NULL);
        max_bad("\"\"", "");
        max_bad("0 (it would refuse every image)", "0");
        max_bad("\"0K\"", "0K");
        max_bad("\"Infinity\"", "Infinity");
        max_bad("\"INFINITY\"", "INFINITY");
        max_bad("\"infinity \"", "infinity ");
        max_bad("\" infinity\"", " infinity");
        max_bad("\"inf\"", "inf");
        max_bad("\"infinityK\"", "infinityK");
        max_bad("\"-1\"", "-1");
        max_bad("\"-1G\"", "-1G");
        max_bad("\" 1G\"", " 1G");
        max_bad("\"1G \"", "1G ");
        max_bad("\"1g\"", "1g");
        max_bad("\"1.5G\"", "1.5G");
        max_bad("2^64 (no wrap to 0)", "18446744073709551616");
        max_bad("\"16777216T\" (2^64, no wrap to 0)", "16777216T");
        max_bad("\"17179869185G\" (wraps to 1 GiB if unchecked)", "17179869185G");
}

/* A limit that never reaches statvfs(): "unchecked" starts at 0 and the
 * charges below stay under UNPACK_CHECK_INTERVAL. */
static UnpackLimit limit(uint64_t max) {
        return (UnpackLimit) { .max_size = max, .dirfd = -EBADF, .unchecked = 0 };
}

static void test_charge(void) {
        UnpackLimit l = limit(3 * UNPACK_ENTRY_COST + 10);
        TEST_ASSERT(unpack_limit_charge(&l, "t", "a", 0) == 0 && l.charged == UNPACK_ENTRY_COST,
                    "an empty entry costs UNPACK_ENTRY_COST");
        TEST_ASSERT(unpack_limit_charge(&l, "t", "b", -5) == 0 && l.charged == 2 * UNPACK_ENTRY_COST,
                    "a negative declared size costs no more than an empty entry");
        TEST_ASSERT(unpack_limit_charge(&l, "t", "c", 10) == 0 && l.charged == l.max_size,
                    "an entry that reaches the cap exactly is taken");
        TEST_ASSERT(unpack_limit_charge(&l, "t", "d", 0) == -EFBIG && l.charged == l.max_size,
                    "the next entry is -EFBIG and charges nothing");

        l = limit(UINT64_MAX);
        TEST_ASSERT(unpack_limit_charge(&l, "t", "huge", INT64_MAX) == 0 &&
                            l.charged == (uint64_t) INT64_MAX + UNPACK_ENTRY_COST,
                    "without a cap an INT64_MAX entry is charged in full");
        uint64_t before = l.charged;
        TEST_ASSERT(unpack_limit_charge(&l, "t", "huge2", INT64_MAX) == -EFBIG && l.charged == before,
                    "a second one would wrap the 64-bit sum: -EFBIG, not a small total");

        l = limit(UINT64_MAX - 100);
        l.charged = UINT64_MAX - 600;
        TEST_ASSERT(unpack_limit_charge(&l, "t", "x", 0) == -EFBIG && l.charged == UINT64_MAX - 600,
                    "512 more past a cap just below UINT64_MAX is -EFBIG");
}

/* The message names the untrusted entry made printable. */
static void test_message(void) {
        int fd = memfd_create("log", MFD_CLOEXEC);
        if (!TEST_ASSERT(fd >= 0, "memfd_create"))
                return;
        log_set_file(fd);
        UnpackLimit l = limit(UNPACK_ENTRY_COST);
        int r = unpack_limit_charge(&l, "layer 1/1", "evil\x1b]0;owned\a\xc2\x9b" "2J", 1);
        log_set_file(-1);
        char buf[2048] = {};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        TEST_ASSERT(r == -EFBIG && n > 0, "the charge past the cap is logged");
        TEST_ASSERT(strstr(buf, "layer 1/1: entry 'evil?]0;owned???2J'") && !strchr(buf, '\x1b') &&
                            !strchr(buf, '\a') && !strstr(buf, "\xc2\x9b"),
                    "the log names the entry with its control characters masked");
        TEST_ASSERT(strstr(buf, "--max-size"), "the log says how to raise the limit");
}

int main(void) {
        /* The refusals are logged on stderr; TAP reads stdout only. */
        test_parse();
        test_charge();
        test_message();
        return tap_finish();
}
