/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ID arithmetic: id_shift() (copy.h), which renumbers owners for berth cp,
 * and the boundaries of id_intervals_first_free() (idrange.h; its ordinary
 * use is in test-idrange). */
#include <stdint.h>

#include "copy.h"
#include "idrange.h"
#include "tap.h"
#include "util.h"

#define RANGE 0x10000U
#define BASE 0x80000U /* a machine's host range */

static void shift(const IdShift *s, const char *desc, uid_t id, uid_t want) {
        uid_t got = id_shift(s, id);
        if (!TEST_ASSERT(got == want, "id_shift: %s (%u -> %u)", desc, (unsigned) id, (unsigned) want))
                tap_diag("got %u", (unsigned) got);
}

static void test_id_shift(void) {
        const IdShift none = {}, in = { .from = 0, .to = BASE, .size = RANGE },
                      out = { .from = BASE, .to = 0, .size = RANGE }, top = { .from = UINT32_MAX - RANGE + 1, .to = 0, .size = RANGE },
                      one = { .from = 5, .to = 100, .size = 1 };

        shift(NULL, "no shift copies IDs unchanged", 1234, 1234);
        shift(&none, "size 0 copies IDs unchanged", 1234, 1234);
        shift(&none, "size 0 keeps even UINT32_MAX", UINT32_MAX, UINT32_MAX);

        /* Host to machine: the guest's root becomes the range's first ID. */
        shift(&in, "host-to-machine, 0", 0, BASE);
        shift(&in, "host-to-machine, last ID of the range", RANGE - 1, BASE + RANGE - 1);
        shift(&in, "host-to-machine, first ID past the range is nobody", RANGE, BASE + ID_SHIFT_OVERFLOW);
        shift(&in, "host-to-machine, UINT32_MAX is nobody", UINT32_MAX, BASE + ID_SHIFT_OVERFLOW);
        shift(&in, "host-to-machine, a machine's own range is nobody", BASE + 1, BASE + ID_SHIFT_OVERFLOW);

        /* Machine to host: nothing outside the range may come out as root. */
        shift(&out, "machine-to-host, the range's start is 0", BASE, 0);
        shift(&out, "machine-to-host, its last ID", BASE + RANGE - 1, RANGE - 1);
        shift(&out, "machine-to-host, host root is nobody, not root", 0, ID_SHIFT_OVERFLOW);
        shift(&out, "machine-to-host, the ID below the range is nobody", BASE - 1, ID_SHIFT_OVERFLOW);
        shift(&out, "machine-to-host, the ID past the range is nobody", BASE + RANGE, ID_SHIFT_OVERFLOW);
        shift(&out, "machine-to-host, (uid_t) -1 is nobody", (uid_t) -1, ID_SHIFT_OVERFLOW);

        /* FROM + SIZE is 2^32 here: a naive "id < from + size" wraps to 0. */
        shift(&top, "a range ending at UINT32_MAX takes UINT32_MAX", UINT32_MAX, RANGE - 1);
        shift(&top, "and its first ID", UINT32_MAX - RANGE + 1, 0);
        shift(&top, "but not the ID below it", UINT32_MAX - RANGE, ID_SHIFT_OVERFLOW);
        shift(&top, "nor 0", 0, ID_SHIFT_OVERFLOW);

        shift(&one, "a one-ID range maps that ID", 5, 100);
        shift(&one, "and not the next", 6, 100 + ID_SHIFT_OVERFLOW);
        shift(&one, "nor the one before", 4, 100 + ID_SHIFT_OVERFLOW);
}

static void first_free(IdIntervals *l, const char *desc, uint64_t min, uint64_t max, int want_r, uint64_t want) {
        uint64_t b = UINT64_C(0xdead);
        int r = id_intervals_first_free(l, min, max, RANGE, &b);
        if (!TEST_ASSERT(r == want_r && (r < 0 ? b == 0xdead : b == want), "id_intervals_first_free: %s", desc))
                tap_diag("r=%d base=%#llx", r, (unsigned long long) b);
}

static void test_first_free(void) {
        IdIntervals l = {};
        first_free(&l, "an unaligned minimum is rounded up", BASE + 1, 0x6FFF0000, 0, BASE + RANGE);
        first_free(&l, "MAX is inclusive", BASE, BASE, 0, BASE);
        first_free(&l, "MAX below the first aligned slot: -ENOSPC", BASE + 1, BASE + RANGE - 1, -ENOSPC, 0);

        id_intervals_add(&l, BASE - 5, 5); /* ends exactly where the slot begins */
        id_intervals_add(&l, BASE + RANGE, 1); /* begins exactly where it ends */
        first_free(&l, "intervals that only touch the slot leave it free", BASE, 0x6FFF0000, 0, BASE);
        id_intervals_add(&l, BASE + RANGE - 1, 1); /* the slot's last ID */
        first_free(&l, "one ID at the slot's end takes it", BASE, 0x6FFF0000, 0, BASE + 2 * RANGE);
        id_intervals_add(&l, BASE + 2 * RANGE, 0);
        first_free(&l, "an empty interval takes nothing", BASE, 0x6FFF0000, 0, BASE + 2 * RANGE);
        first_free(&l, "the next slot past MAX: -ENOSPC", BASE, BASE + RANGE, -ENOSPC, 0);
        id_intervals_add(&l, BASE + 2 * RANGE, UINT32_MAX);
        first_free(&l, "a subuid-sized range (count UINT32_MAX) pushes past it", BASE, UINT64_C(0x1FFFFFFFF), 0,
                   UINT64_C(0x100000000) + BASE + 2 * RANGE);
        first_free(&l, "and past a 32-bit MAX: -ENOSPC", BASE, UINT32_MAX - RANGE + 1, -ENOSPC, 0);
        id_intervals_done(&l);
        TEST_ASSERT(l.n == 0 && !l.v, "id_intervals_done empties the set");
}

int main(void) {
        test_id_shift();
        test_first_free();
        return tap_finish();
}
