/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "hash.h"
#include "tap.h"

/* Published FNV-1a test vectors: a wrong constant changes every one of
 * them, and store.c (cgroup names) and the network code (MAC addresses,
 * veth names) persist these values, so they must not drift. */
static void check64(const char *s, uint64_t want) {
        uint64_t h = fnv1a64(s);
        if (!TEST_ASSERT(h == want, "fnv1a64(\"%s\") = 0x%016" PRIx64, s, want))
                tap_diag("got 0x%016" PRIx64, h);
}

static void check32(const char *s, uint32_t want) {
        uint32_t h = fnv1a32(s);
        if (!TEST_ASSERT(h == want, "fnv1a32(\"%s\") = 0x%08" PRIx32, s, want))
                tap_diag("got 0x%08" PRIx32, h);
}

int main(void) {
        check64("", UINT64_C(0xcbf29ce484222325));
        check64("a", UINT64_C(0xaf63dc4c8601ec8c));
        check64("foobar", UINT64_C(0x85944171f73967e8));
        check32("", UINT32_C(0x811c9dc5));
        check32("a", UINT32_C(0xe40c292c));
        check32("foobar", UINT32_C(0xbf9cf968));
        return tap_finish();
}
