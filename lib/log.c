/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = "berth";
static int log_file = -1;

void log_set_file(int fd) {
        log_file = fd;
}

void log_set_max_level(int level) {
        max_level = level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

void log_parse_environment(void) {
        const char *e = secure_getenv("BERTH_LOG_LEVEL");
        if (!e)
                return;
        if (streq(e, "debug"))
                max_level = LOG_DEBUG;
        else if (streq(e, "info"))
                max_level = LOG_INFO;
        else if (streq(e, "notice"))
                max_level = LOG_NOTICE;
        else if (streq(e, "warning"))
                max_level = LOG_WARNING;
        else if (streq(e, "err") || streq(e, "error"))
                max_level = LOG_ERR;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        int e = error < 0 ? -error : error;

        if (level > max_level)
                return -e;

        /* errno feeds "%m"; keep it the error being reported. */
        int saved = errno;
        errno = e;

        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s: %s (%s:%d %s)\n", log_prefix, msg, file, line, func);
        else
                fprintf(stderr, "%s: %s\n", log_prefix, msg);
        if (log_file >= 0)
                dprintf(log_file, "%s: %s\n", log_prefix, msg);

        errno = saved;
        return -e;
}
