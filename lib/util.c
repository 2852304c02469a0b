/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>

#include "util.h"

void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

char **strv_append(char **l, const char *s) {
        size_t n = strv_length(l);
        char **m = realloc(l, sizeof(char *) * (n + 2));
        if (!m)
                abort();
        m[n] = xstrdup(s);
        m[n + 1] = NULL;
        return m;
}

const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

void *xmalloc(size_t n) {
        void *p = malloc(n ?: 1);
        if (!p)
                abort();
        return p;
}

void *xcalloc(size_t n, size_t m) {
        void *p = calloc(n ?: 1, m ?: 1);
        if (!p)
                abort();
        return p;
}

char *xstrdup(const char *s) {
        char *p = strdup(s);
        if (!p)
                abort();
        return p;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *p;
        va_start(ap, fmt);
        int r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        return p;
}

int unhexchar(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

bool path_has_dotdot(const char *path) {
        for (const char *p = path;;) {
                p += strspn(p, "/");
                size_t n = strcspn(p, "/");
                if (n == 0)
                        return false;
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return true;
                p += n;
        }
}

int safe_atou64(const char *s, uint64_t *ret) {
        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        /* No leading zeros beyond a lone "0": "010" is ambiguous. */
        if (s[0] == '0' && s[1])
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou64_n(const char *s, size_t len, uint64_t *ret) {
        char buf[21]; /* UINT64_MAX has 20 digits */
        if (len == 0 || len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        return safe_atou64(buf, ret);
}

int safe_atou(const char *s, unsigned *ret) {
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        bool neg = false;
        if (s && s[0] == '-') {
                neg = true;
                s++;
        }
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t) INT_MAX + (neg ? 1 : 0))
                return -ERANGE;
        *ret = neg ? (int) -(int64_t) v : (int) v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char suffix;
                unsigned shift;
        } table[] = {
                { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 },
        };

        if (isempty(s))
                return -EINVAL;
        size_t l = strlen(s);
        unsigned shift = 0;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (s[l - 1] == table[i].suffix) {
                        shift = table[i].shift;
                        l--;
                        break;
                }
        uint64_t v;
        int r = safe_atou64_n(s, l, &v);
        if (r < 0)
                return r;
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

static const char *const signal_names[] = {
        [SIGHUP] = "HUP",   [SIGINT] = "INT",   [SIGQUIT] = "QUIT",     [SIGILL] = "ILL",
        [SIGTRAP] = "TRAP", [SIGABRT] = "ABRT", [SIGBUS] = "BUS",       [SIGFPE] = "FPE",
        [SIGKILL] = "KILL", [SIGUSR1] = "USR1", [SIGSEGV] = "SEGV",     [SIGUSR2] = "USR2",
        [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM", [SIGTERM] = "TERM",     [SIGSTKFLT] = "STKFLT",
        [SIGCHLD] = "CHLD", [SIGCONT] = "CONT", [SIGSTOP] = "STOP",     [SIGTSTP] = "TSTP",
        [SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU", [SIGURG] = "URG",       [SIGXCPU] = "XCPU",
        [SIGXFSZ] = "XFSZ", [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
        [SIGIO] = "IO",     [SIGPWR] = "PWR",   [SIGSYS] = "SYS",
};

int signal_from_string(const char *s) {
        if (isempty(s))
                return -EINVAL;
        const char *p = startswith(s, "SIG") ?: s;
        unsigned n;
        if (safe_atou(p, &n) >= 0)
                return n >= 1 && n < (unsigned) _NSIG ? (int) n : -EINVAL;
        for (size_t i = 1; i < ELEMENTSOF(signal_names); i++)
                if (signal_names[i] && streq(p, signal_names[i]))
                        return (int) i;
        const char *off = startswith(p, "RTMIN");
        if (off) {
                if (!*off)
                        return SIGRTMIN;
                /* Compare before adding: a huge N must not wrap around. */
                if (*off != '+' || safe_atou(off + 1, &n) < 0 || n > (unsigned) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMIN + (int) n;
        }
        off = startswith(p, "RTMAX");
        if (off) {
                if (!*off)
                        return SIGRTMAX;
                if (*off != '-' || safe_atou(off + 1, &n) < 0 || n > (unsigned) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMAX - (int) n;
        }
        return -EINVAL;
}

const char *signal_to_string(int sig, char buf[static 16]) {
        if (sig > 0 && (size_t) sig < ELEMENTSOF(signal_names) && signal_names[sig])
                snprintf(buf, 16, "SIG%s", signal_names[sig]);
        else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
                snprintf(buf, 16, "SIGRTMIN+%d", sig - SIGRTMIN);
        else
                snprintf(buf, 16, "%d", sig);
        return buf;
}

int parse_boolean(const char *s) {
        if (!s)
                return -EINVAL;
        if (streq(s, "yes") || streq(s, "true") || streq(s, "1") || streq(s, "on"))
                return 1;
        if (streq(s, "no") || streq(s, "false") || streq(s, "0") || streq(s, "off"))
                return 0;
        return -EINVAL;
}

/* Append printf-style text to a malloc'ed string (NULL counts as ""). */
void strextendf(char **s, const char *fmt, ...) {
        _cleanup_free_ char *add = NULL;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&add, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();

        /* In place, growing the buffer by half again when it is full: a
         * ruleset or list built line by line (machined/net-rules.c, one
         * line per machine) costs its length, not its length squared. */
        size_t len = *s ? strlen(*s) : 0, need = len + (size_t) r + 1;
        if (!*s || need > malloc_usable_size(*s)) {
                char *n = realloc(*s, need + need / 2);
                if (!n)
                        abort();
                *s = n;
        }
        memcpy(*s + len, add, (size_t) r + 1);
}

char **strv_copy(char *const *l) {
        char **n = NULL;
        for (char *const *p = l; p && *p; p++)
                n = strv_append(n, *p);
        return n;
}

bool strv_equal(char *const *a, char *const *b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !(a && *a) && !(b && *b);
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

char *strdup_printable(const char *s) {
        char *c = xstrdup(s ?: "(none)");
        for (unsigned char *p = (unsigned char *) c; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        *p = '?';
                else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        /* A C1 control in UTF-8 form (U+0080..U+009F: CSI is
                         * U+009B), which terminals act on like ESC sequences. */
                        p[0] = p[1] = '?';
        return c;
}
