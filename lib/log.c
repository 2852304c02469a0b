/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = "berth";
static int log_file = -1;
static bool log_file_json = false;
static bool log_stamps = false;

void log_set_stamps(bool stamps) {
        log_stamps = stamps;
}

int log_stamp_parse(const char *line, uint64_t *ret_usec) {
        /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ ": the shape exactly, then the value. */
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ ";
        for (size_t i = 0; i < LOG_STAMP_LEN; i++)
                if (shape[i] == 'd' ? !(line[i] >= '0' && line[i] <= '9') : line[i] != shape[i])
                        return -EINVAL;
        struct tm tm = {};
        if (!strptime(line, "%Y-%m-%dT%H:%M:%S", &tm))
                return -EINVAL;
        time_t t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        unsigned long us = strtoul(line + 20, NULL, 10);
        *ret_usec = (uint64_t) t * 1000000 + us;
        return 0;
}

void log_set_file_json(bool json) {
        log_file_json = json;
}

static const char *level_name(int level) {
        if (level <= LOG_ERR)
                return "error";
        if (level == LOG_WARNING)
                return "warning";
        if (level <= LOG_INFO)
                return "info";
        return "debug";
}

/* MSG as a JSON string body: quotes, backslashes and control bytes escaped. */
static void json_escape(const char *msg, char *out, size_t size) {
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) msg; *p && o + 7 < size; p++) {
                if (*p == '"' || *p == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char) *p;
                } else if (*p < 0x20 || *p == 0x7f)
                        o += (size_t) snprintf(out + o, size - o, "\\u%04x", *p);
                else
                        out[o++] = (char) *p;
        }
        out[o] = 0;
}

static void log_write_json(int level, const char *msg) {
        char esc[2048 * 6 + 8], stamp[64];
        json_escape(msg, esc, sizeof esc);
        struct timespec ts;
        struct tm tm;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        if (!gmtime_r(&ts.tv_sec, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                stamp[0] = 0;
        dprintf(log_file, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}\n", level_name(level), esc, stamp);
}

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

        if (log_stamps) {
                char stamp[32];
                struct timespec ts;
                struct tm tm;
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                if (gmtime_r(&ts.tv_sec, &tm) && strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) > 0)
                        fprintf(stderr, "%s.%06ldZ ", stamp, ts.tv_nsec / 1000);
        }
        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s: %s (%s:%d %s)\n", log_prefix, msg, file, line, func);
        else
                fprintf(stderr, "%s: %s\n", log_prefix, msg);
        if (log_file >= 0 && log_file_json)
                log_write_json(level, msg);
        else if (log_file >= 0)
                dprintf(log_file, "%s: %s\n", log_prefix, msg);

        errno = saved;
        return -e;
}
