/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "tap.h"
#include "util.h"

#define SENTINEL UINT64_C(0x5a5a5a5a5a5a5a5a)

static void test_dotdot(void) {
        static const char *const yes[] = {
                "..", "../", "/..", "//..//", "../x", "a/..", "a/../b", "/a/b/../c", "./..", "a//..//b", "x/./../y",
        };
        static const char *const no[] = {
                "", "/", ".", "./", "a", "a..b", "...", "..a", "a..", "a/..b", "b../a", "/a/b/c", ". .", ".../x",
        };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                TEST_ASSERT(path_has_dotdot(yes[i]), "path_has_dotdot(\"%s\") is true", yes[i]);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                TEST_ASSERT(!path_has_dotdot(no[i]), "path_has_dotdot(\"%s\") is false", no[i]);
}

static void size_ok(const char *s, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = parse_size(s, &v);
        if (!TEST_ASSERT(r == 0 && v == want, "parse_size(\"%s\") = %llu", s, (unsigned long long) want))
                tap_diag("r=%d v=%llu", r, (unsigned long long) v);
}

/* Refused with ERR, and *ret left alone. */
static void size_bad(const char *desc, const char *s, int err) {
        uint64_t v = SENTINEL;
        int r = parse_size(s, &v);
        if (!TEST_ASSERT(r == -err && v == SENTINEL, "parse_size refuses %s with %s", desc, strerrorname_np(err)))
                tap_diag("r=%d v=%llu", r, (unsigned long long) v);
}

static void test_parse_size(void) {
        size_ok("0", 0);
        size_ok("1", 1);
        size_ok("512", 512);
        size_ok("0K", 0);
        size_ok("1K", UINT64_C(1) << 10);
        size_ok("3M", UINT64_C(3) << 20);
        size_ok("100G", UINT64_C(100) << 30);
        size_ok("2T", UINT64_C(2) << 40);
        size_ok("18446744073709551615", UINT64_MAX);
        size_ok("16777215T", UINT64_C(16777215) << 40);
        size_ok("17179869183G", UINT64_C(17179869183) << 30);
        size_ok("18014398509481983K", UINT64_C(18014398509481983) << 10);

        size_bad("NULL", NULL, EINVAL);
        size_bad("\"\"", "", EINVAL);
        size_bad("a bare suffix", "K", EINVAL);
        size_bad("two suffixes", "1KK", EINVAL);
        size_bad("a lower-case suffix", "1k", EINVAL);
        size_bad("an unknown suffix", "1P", EINVAL);
        size_bad("a \"B\" suffix", "1KB", EINVAL);
        size_bad("a fraction", "1.5G", EINVAL);
        size_bad("a negative number", "-1", EINVAL);
        size_bad("a negative number with suffix", "-1G", EINVAL);
        size_bad("a '+' sign", "+1", EINVAL);
        size_bad("leading whitespace", " 1", EINVAL);
        size_bad("a leading tab", "\t1G", EINVAL);
        size_bad("trailing whitespace", "1 ", EINVAL);
        size_bad("whitespace before the suffix", "1 G", EINVAL);
        size_bad("a trailing newline", "1\n", EINVAL);
        size_bad("hex", "0x10", EINVAL);
        size_bad("an exponent", "1e3", EINVAL);
        size_bad("leading zeros", "010", EINVAL);
        size_bad("\"infinity\" (parse_size has no such word)", "infinity", EINVAL);
        size_bad("2^64", "18446744073709551616", ERANGE);
        size_bad("20 nines", "99999999999999999999", ERANGE);
        size_bad("2^24 T (2^64)", "16777216T", ERANGE);
        size_bad("2^34 G (2^64)", "17179869184G", ERANGE);
        size_bad("2^54 K (2^64)", "18014398509481984K", ERANGE);
        size_bad("UINT64_MAX K", "18446744073709551615K", ERANGE);
        size_bad("21 digits", "000000000000000000001", EINVAL);
        size_bad("a huge string", "184467440737095516150000000000000000000000T", EINVAL);
}

static void test_safe_ato(void) {
        uint64_t u64 = SENTINEL;
        unsigned u = 7;
        int i = 7;

        TEST_ASSERT(safe_atou64("18446744073709551615", &u64) == 0 && u64 == UINT64_MAX, "safe_atou64 takes UINT64_MAX");
        u64 = SENTINEL;
        TEST_ASSERT(safe_atou64("18446744073709551616", &u64) == -ERANGE && u64 == SENTINEL,
                    "safe_atou64 refuses 2^64 with ERANGE");
        TEST_ASSERT(safe_atou64("-1", &u64) == -EINVAL && u64 == SENTINEL,
                    "safe_atou64 refuses \"-1\" (strtoull would wrap it to UINT64_MAX)");
        TEST_ASSERT(safe_atou64(" 1", &u64) == -EINVAL, "safe_atou64 refuses leading space");
        TEST_ASSERT(safe_atou64("1x", &u64) == -EINVAL, "safe_atou64 refuses trailing garbage");
        TEST_ASSERT(safe_atou64("0", &u64) == 0 && u64 == 0, "safe_atou64 takes \"0\"");
        TEST_ASSERT(safe_atou64("00", &u64) == -EINVAL, "safe_atou64 refuses \"00\"");

        TEST_ASSERT(safe_atou("4294967295", &u) == 0 && u == UINT_MAX, "safe_atou takes UINT_MAX");
        u = 7;
        TEST_ASSERT(safe_atou("4294967296", &u) == -ERANGE && u == 7, "safe_atou refuses UINT_MAX + 1");

        TEST_ASSERT(safe_atoi("2147483647", &i) == 0 && i == INT_MAX, "safe_atoi takes INT_MAX");
        TEST_ASSERT(safe_atoi("-2147483648", &i) == 0 && i == INT_MIN, "safe_atoi takes INT_MIN");
        i = 7;
        TEST_ASSERT(safe_atoi("2147483648", &i) == -ERANGE && i == 7, "safe_atoi refuses INT_MAX + 1");
        TEST_ASSERT(safe_atoi("-2147483649", &i) == -ERANGE && i == 7, "safe_atoi refuses INT_MIN - 1");
        TEST_ASSERT(safe_atoi("-", &i) == -EINVAL && safe_atoi("--1", &i) == -EINVAL && safe_atoi("-+1", &i) == -EINVAL &&
                            i == 7,
                    "safe_atoi refuses \"-\", \"--1\", \"-+1\"");
        TEST_ASSERT(safe_atoi("-0", &i) == 0 && i == 0, "safe_atoi takes \"-0\"");
        TEST_ASSERT(safe_atoi(NULL, &i) == -EINVAL, "safe_atoi refuses NULL");

        u64 = SENTINEL;
        TEST_ASSERT(safe_atou64_n("12:34", 2, &u64) == 0 && u64 == 12, "safe_atou64_n reads a field of a longer text");
        TEST_ASSERT(safe_atou64_n("18446744073709551615x", 20, &u64) == 0 && u64 == UINT64_MAX,
                    "safe_atou64_n takes 20 digits (UINT64_MAX)");
        u64 = SENTINEL;
        TEST_ASSERT(safe_atou64_n("123456789012345678901", 21, &u64) == -EINVAL && u64 == SENTINEL,
                    "safe_atou64_n refuses 21 digits without reading past its buffer");
        TEST_ASSERT(safe_atou64_n("1", 0, &u64) == -EINVAL, "safe_atou64_n refuses an empty field");
        TEST_ASSERT(safe_atou64_n("1 :", 2, &u64) == -EINVAL, "safe_atou64_n refuses trailing garbage in the field");
}

static void printable(const char *desc, const char *in, const char *want) {
        _cleanup_free_ char *p = strdup_printable(in);
        TEST_ASSERT_STREQ(p, want, "strdup_printable: %s", desc);
}

static void test_printable(void) {
        printable("plain text is unchanged", "usr/bin/env", "usr/bin/env");
        printable("NULL is \"(none)\"", NULL, "(none)");
        printable("the empty string stays empty", "", "");
        printable("ESC and newline", "a\x1b[2Jb\nc", "a?[2Jb?c");
        printable("tab, CR, BEL, DEL", "\t\r\a\x7f", "????");
        printable("UTF-8 letters are kept", "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac");
        /* U+0080..U+009F are C1 controls: "\xc2\x9b" is CSI, which
         * terminals act on as they do on ESC '['. */
        printable("a C1 CSI in UTF-8 form", "x\xc2\x9b" "2Jy", "x??2Jy");
        printable("C1 NEL and the last C1, APC", "\xc2\x85\xc2\x9f", "????");
        printable("U+00A0 is not C1", "\xc2\xa0", "\xc2\xa0");
        printable("a lone 0xc2 at the end", "x\xc2", "x\xc2");
}

static void test_misc(void) {
        TEST_ASSERT(parse_boolean("yes") == 1 && parse_boolean("on") == 1 && parse_boolean("0") == 0 &&
                            parse_boolean("off") == 0,
                    "parse_boolean takes yes/on/0/off");
        TEST_ASSERT(parse_boolean("YES") == -EINVAL && parse_boolean("") == -EINVAL && parse_boolean(NULL) == -EINVAL &&
                            parse_boolean("yes ") == -EINVAL,
                    "parse_boolean refuses \"YES\", \"\", NULL, \"yes \"");
        TEST_ASSERT(startswith("image:web", "image:") && streq(startswith("image:web", "image:"), "web") &&
                            !startswith("imag", "image:"),
                    "startswith returns the rest, or NULL for a shorter string");
}

/* strextendf() grows its string in place: many appends (a ruleset line per
 * machine) give the same text as one printf, from NULL or from "". */
static void test_strextendf(void) {
        char *s = NULL;
        strextendf(&s, "%s", "");
        TEST_ASSERT(s && streq(s, ""), "strextendf on NULL with nothing gives \"\"");
        strextendf(&s, "a%d", 1);
        TEST_ASSERT(streq(s, "a1"), "strextendf appends to \"\"");
        free(s);
        s = xstrdup("");
        size_t want = 0;
        bool ok = true;
        for (int i = 0; i < 20000; i++) {
                char line[32];
                int n = snprintf(line, sizeof line, "line %d\n", i);
                strextendf(&s, "line %d\n", i);
                ok = ok && strncmp(s + want, line, (size_t) n) == 0;
                want += (size_t) n;
        }
        TEST_ASSERT(ok && strlen(s) == want, "20000 appends keep every line, in order (%zu bytes)", want);
        free(s);
}

int main(void) {
        test_strextendf();
        test_dotdot();
        test_parse_size();
        test_safe_ato();
        test_printable();
        test_misc();
        return tap_finish();
}
