/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "id128.h"
#include "tap.h"
#include "util.h"

int main(void) {
        Id128 a, b;
        char buf[ID128_UUID_STRING_MAX];

        TEST_ASSERT(id128_parse("0123456789abcdef0123456789ABCDEF\n", &a) == 0, "a machine-id file parses");
        TEST_ASSERT(streq(id128_to_uuid(&a, buf), "01234567-89ab-cdef-0123-456789abcdef"),
                    "and formats as a UUID");
        TEST_ASSERT(id128_parse(buf, &b) == 0 && memcmp(&a, &b, sizeof a) == 0, "a UUID parses back to the same ID");
        TEST_ASSERT(id128_parse("", &a) == -EINVAL, "empty is refused");
        TEST_ASSERT(id128_parse("uninitialized\n", &a) == -EINVAL, "'uninitialized' is refused");
        TEST_ASSERT(id128_parse("00000000000000000000000000000000", &a) == -EINVAL, "all zeros is refused");
        TEST_ASSERT(id128_parse("0123456789abcdef0123456789abcde", &a) == -EINVAL, "too short is refused");
        TEST_ASSERT(id128_parse("0123456789abcdef0123456789abcdef0", &a) == -EINVAL, "too long is refused");
        TEST_ASSERT(id128_parse("01234567-89ab-cdef0123-456789abcdef", &a) == -EINVAL, "a missing dash is refused");
        TEST_ASSERT(id128_randomize(&a) == 0 && id128_randomize(&b) == 0 && memcmp(&a, &b, sizeof a) != 0,
                    "two random IDs differ");
        id128_to_uuid(&a, buf);
        TEST_ASSERT(buf[14] == '4' && strchr("89ab", buf[19]), "a random ID is a version 4 UUID");
        return tap_finish();
}
