/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "name.h"
#include "tap.h"
#include "util.h"

/* Expect NAME to be refused with a reason containing REASON_PART. */
static void test_bad(const char *desc, const char *name, const char *reason_part) {
        const char *reason = NULL;
        int r = machine_name_validate(name, &reason);

        if (!TEST_ASSERT(r == -EINVAL && reason && strstr(reason, reason_part), "refuses %s", desc))
                tap_diag("r=%d reason=\"%s\", expected a reason containing \"%s\"", r, reason ?: "(null)",
                         reason_part);
}

static void test_good(const char *name) {
        const char *reason = "unset";
        int r = machine_name_validate(name, &reason);

        if (!TEST_ASSERT(r == 0 && !reason, "accepts \"%s\"", name))
                tap_diag("r=%d reason=\"%s\"", r, reason ?: "(null)");
}

int main(void) {
        char name64[MACHINE_NAME_MAX + 1], name65[MACHINE_NAME_MAX + 2];

        memset(name64, 'a', MACHINE_NAME_MAX);
        name64[MACHINE_NAME_MAX] = 0;
        memset(name65, 'a', MACHINE_NAME_MAX + 1);
        name65[MACHINE_NAME_MAX + 1] = 0;

        test_bad("NULL", NULL, "empty");
        test_bad("the empty name", "", "empty");
        test_bad("\".\"", ".", "'.' or '..'");
        test_bad("\"..\"", "..", "'.' or '..'");
        test_bad("\"a/b\"", "a/b", "'/'");
        test_bad("\"../x\"", "../x", "'/'");
        test_bad("\"/\"", "/", "'/'");
        test_bad("65 characters", name65, "longer than 64");
        test_bad("non-ASCII UTF-8 (\"caf\\xc3\\xa9\")", "caf\xc3\xa9", "non-ASCII");
        test_bad("a leading '-'", "-rf", "start with '-'");
        test_bad("a leading '.'", ".hidden", "start with '-' or '.'");
        test_bad("a trailing '.'", "web.", "end with '.'");
        test_bad("\"a..b\"", "a..b", "'..'");
        test_bad("a space", "my box", "space");
        test_bad("a tab", "my\tbox", "control character");
        test_bad("an escape sequence", "x\x1b[31m", "control character");
        test_bad("DEL", "x\x7f", "control character");
        test_bad("'_'", "my_box", "character other than");
        test_bad("'@'", "a@b", "character other than");
        test_bad("\"locks\" (the runtime directory's own)", "locks", "reserved");


        test_good("a");
        test_good("web");
        test_good("web-1");
        test_good("Web01");
        test_good("1");
        test_good("debian.bookworm");
        test_good("a.b.c");
        test_good("locks2");
        test_good("Locks");
        test_good("trailing-");
        test_good(name64);

        /* machine_name_is_valid() is the same check. */
        TEST_ASSERT(machine_name_is_valid("web-1") && !machine_name_is_valid(".."),
                    "machine_name_is_valid() agrees with machine_name_validate()");
        TEST_ASSERT(machine_name_validate("bad/name", NULL) == -EINVAL, "a NULL ret_reason is allowed");

        return tap_finish();
}
