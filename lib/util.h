/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers every module uses: cleanup attributes, ownership transfer,
 * string comparison and integer parsing.  Nothing here logs. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Also called directly to close early: the variable is emptied, so a later
 * use or the cleanup never touches a number the kernel has handed out again. */
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
                *fd = -EBADF;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hand a pointer or fd on and leave the cleanup variable empty. */
#define TAKE_PTR(p)                                  \
        ({                                           \
                __typeof__(p) _took = (p);           \
                (p) = NULL;                          \
                _took;                               \
        })
#define TAKE_FD(fd)                                  \
        ({                                           \
                int _took = (fd);                    \
                (fd) = -EBADF;                       \
                _took;                               \
        })

/* Turn a libc "-1 and errno" result into -errno. */
#define RET_NERRNO(expr)                             \
        ({                                           \
                long _r = (long) (expr);             \
                _r < 0 ? -errno : (int) _r;          \
        })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
const char *startswith(const char *s, const char *prefix);

/* Allocation failure is not recoverable for a command-line tool: abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
/* Append printf-style text to the malloc'ed string *S (NULL counts as ""). */
void strextendf(char **s, const char *fmt, ...) _printf_(2, 3);

char **strv_append(char **l, const char *s); /* takes ownership of l, returns new vector */
size_t strv_length(char *const *l);
char **strv_copy(char *const *l);
/* Same strings in the same order (NULL and empty are equal). */
bool strv_equal(char *const *a, char *const *b);
bool strv_contains(char *const *l, const char *s);
/* A copy of untrusted text fit to print: control bytes become '?', and so
 * do both bytes of a C1 control in UTF-8 form; NULL gives "(none)". */
char *strdup_printable(const char *s);

/* Parse a whole decimal number; no sign, no spaces, no trailing garbage. */
int safe_atou64(const char *s, uint64_t *ret);
/* The same for the LEN bytes at S (a field inside a longer text): -EINVAL if
 * LEN is 0 or longer than any number. */
int safe_atou64_n(const char *s, size_t len, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atoi(const char *s, int *ret);

/* The value of hex digit CH (either case), or -1. */
int unhexchar(char ch) _pure_;

/* True if PATH has a ".." component ("a/../b", "..", "x/.."; not "a..b"). */
bool path_has_dotdot(const char *path) _pure_;

/* Parse a size with an optional K/M/G/T suffix (base 1024). */
int parse_size(const char *s, uint64_t *ret);
/* Parse a signal by name ("SIGTERM", "TERM", "RTMIN+4") or number. */
int signal_from_string(const char *s);
/* Name a signal for messages ("SIGTERM", "SIGRTMIN+4"), written into BUF, which is returned. */
const char *signal_to_string(int sig, char buf[static 16]);
/* Parse "yes/no/true/false/1/0/on/off". */
int parse_boolean(const char *s);
