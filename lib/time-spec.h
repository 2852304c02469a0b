/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Points in time as people write them on a command line (berth logs
 * --since/--until), a subset of systemd.time(7) that journalctl takes too:
 *   "2026-12-07 10:00", "2026-12-07 10:00:30", "2026-12-07T10:00:30",
 *   "2026-12-07" (midnight), "10:00" (today), a trailing "Z" for UTC
 *   (else local time), "@1796610083" (seconds since the epoch),
 *   "now", "today", "yesterday", "tomorrow",
 *   "-5min", "-30s", "-2h", "-1d", "+1h", "5min ago" (from now; units us,
 *   ms, s/sec/second(s), m/min/minute(s), h/hour(s), d/day(s), w/week(s),
 *   combinable as "-1h30min"). */

#include <stdint.h>

/* Parse S with NOW_USEC (CLOCK_REALTIME) as "now": *RET in usec since the
 * epoch.  0, or -EINVAL (with *RET untouched). */
int time_spec_parse(const char *s, uint64_t now_usec, uint64_t *ret);
