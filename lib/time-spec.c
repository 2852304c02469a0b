/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "time-spec.h"
#include "util.h"

#define USEC_PER_SEC UINT64_C(1000000)

static const struct {
        const char *name;
        uint64_t usec;
} units[] = {
        { "us", 1 },
        { "ms", 1000 },
        { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC }, { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC }, { "minute", 60 * USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC }, { "hour", 3600 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC }, { "day", 86400 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },
        { "weeks", 604800 * USEC_PER_SEC }, { "week", 604800 * USEC_PER_SEC }, { "w", 604800 * USEC_PER_SEC },
};

/* "1h30min", "5 min", "90s": a span (one or more number+unit pairs). */
static int parse_span(const char *s, uint64_t *ret) {
        uint64_t total = 0;
        bool any = false;
        while (*s) {
                while (*s == ' ')
                        s++;
                if (!*s)
                        break;
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                char *end;
                errno = 0;
                unsigned long long n = strtoull(s, &end, 10);
                if (errno || n > UINT32_MAX)
                        return -EINVAL;
                s = end;
                while (*s == ' ')
                        s++;
                size_t len = 0;
                while (isalpha((unsigned char) s[len]))
                        len++;
                uint64_t unit = 0;
                for (size_t i = 0; i < ELEMENTSOF(units) && len > 0; i++)
                        if (strlen(units[i].name) == len && strncmp(units[i].name, s, len) == 0) {
                                unit = units[i].usec;
                                break;
                        }
                if (len == 0)
                        unit = USEC_PER_SEC; /* a bare number: seconds, as systemd */
                if (unit == 0 || n > (UINT64_MAX - total) / unit)
                        return -EINVAL;
                total += n * unit;
                s += len;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

/* Midnight (local) of the day of USEC, plus DAYS days. */
static int day_start(uint64_t usec, int days, uint64_t *ret) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!localtime_r(&t, &tm))
                return -EINVAL;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday += days;
        tm.tm_isdst = -1;
        time_t r = mktime(&tm);
        if (r == (time_t) -1 || r < 0)
                return -EINVAL;
        *ret = (uint64_t) r * USEC_PER_SEC;
        return 0;
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS]][Z]" or "HH:MM[:SS][Z]" (today). */
static int parse_absolute(const char *s, uint64_t now_usec, uint64_t *ret) {
        struct tm tm = {};
        const char *p;
        bool utc = false;
        time_t now = (time_t) (now_usec / USEC_PER_SEC);
        if ((p = strptime(s, "%Y-%m-%d", &tm))) {
                if (*p == ' ' || *p == 'T') {
                        const char *q = strptime(p + 1, "%H:%M:%S", &tm);
                        if (!q) {
                                tm.tm_sec = 0;
                                q = strptime(p + 1, "%H:%M", &tm);
                        }
                        if (!q)
                                return -EINVAL;
                        p = q;
                }
        } else {
                struct tm today;
                if (!localtime_r(&now, &today))
                        return -EINVAL;
                p = strptime(s, "%H:%M:%S", &tm);
                if (!p) {
                        tm.tm_sec = 0;
                        p = strptime(s, "%H:%M", &tm);
                }
                if (!p)
                        return -EINVAL;
                tm.tm_year = today.tm_year;
                tm.tm_mon = today.tm_mon;
                tm.tm_mday = today.tm_mday;
        }
        if (*p == 'Z' && p[1] == 0)
                utc = true;
        else if (*p != 0)
                return -EINVAL;
        /* strptime takes 25:00 or 2026-02-31 as given: a date must come
         * back from the round trip unchanged. */
        struct tm want = tm;
        tm.tm_isdst = -1;
        time_t t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1 || t < 0 || tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon ||
            tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

/* "-5min", "+1h", "5min ago": NOW_USEC moved by a span. */
static int parse_relative(const char *s, uint64_t now_usec, uint64_t *ret) {
        uint64_t span;
        bool back;
        size_t len = strlen(s);
        if (s[0] == '-' || s[0] == '+') {
                back = s[0] == '-';
                if (parse_span(s + 1, &span) < 0)
                        return -EINVAL;
        } else if (len > 4 && streq(s + len - 4, " ago")) {
                _cleanup_free_ char *head = strndup(s, len - 4);
                if (!head)
                        abort();
                back = true;
                if (parse_span(head, &span) < 0)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (back)
                *ret = span > now_usec ? 0 : now_usec - span;
        else if (span > UINT64_MAX - now_usec)
                return -EINVAL;
        else
                *ret = now_usec + span;
        return 0;
}

int time_spec_parse(const char *s, uint64_t now_usec, uint64_t *ret) {
        uint64_t v = now_usec, sec;
        int r = 0;
        if (isempty(s))
                return -EINVAL;
        if (streq(s, "now"))
                v = now_usec;
        else if (streq(s, "today"))
                r = day_start(now_usec, 0, &v);
        else if (streq(s, "yesterday"))
                r = day_start(now_usec, -1, &v);
        else if (streq(s, "tomorrow"))
                r = day_start(now_usec, 1, &v);
        else if (s[0] == '@') {
                if (!isdigit((unsigned char) s[1]) || safe_atou64(s + 1, &sec) < 0 || sec > UINT64_MAX / USEC_PER_SEC)
                        return -EINVAL;
                v = sec * USEC_PER_SEC;
        } else if (s[0] == '-' || s[0] == '+' || strstr(s, " ago"))
                r = parse_relative(s, now_usec, &v);
        else
                r = parse_absolute(s, now_usec, &v);
        if (r < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}
