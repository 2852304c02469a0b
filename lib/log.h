/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging.  The level and the program prefix are the only global state berth
 * keeps.  Messages are printed as given: escape untrusted strings first.
 * log_*_errno() return -abs(error), so "return log_error_errno(r, ...)" both
 * reports and propagates.  "%m" in a message prints strerror(error). */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "util.h"

/* Marks, for the reader, an error the code chose itself (no system call
 * failed): it is the plain errno value E, which "%m" prints as usual. */
#define SYNTHETIC_ERRNO(e) (e)

void log_set_max_level(int level);
void log_set_prefix(const char *prefix);
void log_parse_environment(void);
/* Also append every message to FD (-1: stop). */
void log_set_file(int fd);
/* Write the lines for that fd as JSON objects, {"level":"error","msg":...,"time":...},
 * as OCI engines read a runtime's --log (berth-oci). */
void log_set_file_json(bool json);

/* Start each stderr line with its time, "2026-12-07T10:00:00.123456Z "
 * (LOG_STAMP_LEN bytes, UTC): the direct-mode supervisor, whose stderr is
 * supervisor.log, for berth logs --since and -o short-iso (a journal has
 * its own times). */
void log_set_stamps(bool stamps);
#define LOG_STAMP_LEN 28
/* LINE's stamp, if it starts with one: 0 with *RET_USEC, else -EINVAL. */
int log_stamp_parse(const char *line, uint64_t *ret_usec);

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) (void) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) (void) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) (void) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) (void) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
