/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal TAP producer for the unit tests.  Each check prints "ok N - what"
 * or "not ok N - what"; tap_finish() prints the plan ("1..N", allowed at the
 * end by TAP) and returns the exit status, so no test has to count its
 * checks by hand.  The counters are per test program, not library state. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Tap {
        unsigned run;
        unsigned failed;
} Tap;

static Tap tap_state;

/* A check's text stays on its one TAP line: a value it shows may hold
 * newlines (a file's content), which TAP would read as lines of its own. */
__attribute__((format(printf, 1, 0))) static inline void tap_vprint_line(const char *fmt, va_list ap) {
        char *text = NULL;
        if (vasprintf(&text, fmt, ap) < 0) {
                fputs("(out of memory)", stdout);
                return;
        }
        for (const char *p = text; *p; p++)
                if (*p == '\n')
                        fputs("\\n", stdout);
                else
                        putchar(*p);
        free(text);
}

__attribute__((format(printf, 2, 3))) static inline bool tap_ok(bool ok, const char *fmt, ...) {
        va_list ap;

        tap_state.run++;
        if (!ok)
                tap_state.failed++;

        printf("%sok %u - ", ok ? "" : "not ", tap_state.run);
        va_start(ap, fmt);
        tap_vprint_line(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
        return ok;
}

/* Diagnostics go to stdout prefixed with '#', as TAP wants. */
__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...) {
        va_list ap;

        fputs("# ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static inline int tap_finish(void) {
        printf("1..%u\n", tap_state.run);
        if (tap_state.failed)
                tap_diag("%u of %u checks failed", tap_state.failed, tap_state.run);
        return tap_state.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define TEST_ASSERT(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

/* Show where a failing string comparison went wrong. */
#define TEST_ASSERT_STREQ(a, b, ...)                                                        \
        ({                                                                                  \
                const char *_a = (a), *_b = (b);                                            \
                bool _ok = _a && _b && strcmp(_a, _b) == 0;                                 \
                if (!tap_ok(_ok, __VA_ARGS__))                                              \
                        tap_diag("got \"%s\", expected \"%s\"", _a ?: "(null)", _b ?: "(null)"); \
                _ok;                                                                        \
        })
