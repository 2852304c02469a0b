/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth logs --since/--until: the time forms it takes and those it refuses.
 * Run in UTC (TZ set below) so that local forms have fixed answers. */
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "time-spec.h"
#include "util.h"

/* 2026-12-07 10:00:00 UTC */
#define NOW (UINT64_C(1796637600) * 1000000)
#define S UINT64_C(1000000)

static void good(const char *s, uint64_t want) {
        uint64_t v = 0;
        int r = time_spec_parse(s, NOW, &v);
        if (!TEST_ASSERT(r == 0 && v == want, "\"%s\" is %llu", s, (unsigned long long) want))
                tap_diag("r=%d got %llu", r, (unsigned long long) v);
}

static void bad(const char *s) {
        uint64_t v = 42;
        int r = time_spec_parse(s, NOW, &v);
        TEST_ASSERT(r == -EINVAL && v == 42, "\"%s\" is refused (r=%d)", s, r);
}

int main(void) {
        setenv("TZ", "UTC", 1);
        tzset();
        good("now", NOW);
        good("2026-12-07 10:00", NOW);
        good("2026-12-07 10:00:30", NOW + 30 * S);
        good("2026-12-07T09:59:00", NOW - 60 * S);
        good("2026-12-07 10:00Z", NOW);
        good("2026-12-07", NOW - 10 * 3600 * S);
        good("08:30", NOW - 90 * 60 * S);
        good("10:00:01", NOW + S);
        good("today", NOW - 10 * 3600 * S);
        good("yesterday", NOW - 34 * 3600 * S);
        good("tomorrow", NOW + 14 * 3600 * S);
        good("@1796637600", NOW);
        good("-5min", NOW - 300 * S);
        good("-30s", NOW - 30 * S);
        good("-2h", NOW - 7200 * S);
        good("-1d", NOW - 86400 * S);
        good("-1h30min", NOW - 5400 * S);
        good("-1 h 30 min", NOW - 5400 * S);
        good("+1h", NOW + 3600 * S);
        good("5min ago", NOW - 300 * S);
        good("-90", NOW - 90 * S);
        good("-500ms", NOW - 500000);

        bad("");
        bad("soon");
        bad("-5 fortnights");
        bad("-");
        bad("-min");
        bad("2026-13-01");
        bad("2026-02-31");
        bad("2026-12-07 25:00");
        bad("2026-12-07 10:00 junk");
        bad("10:61");
        bad("@");
        bad("@12x");
        bad("-99999999999h");
        bad("ago");
        return tap_finish();
}
