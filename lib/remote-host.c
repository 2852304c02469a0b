/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remote-host.h"
#include "util.h"

void remote_host_done(RemoteHost *h) {
        free(h->destination);
        h->destination = NULL;
}

static bool is_forbidden_char(unsigned char c) {
        /* Whitespace would split the word, controls hide what is run. */
        return c <= ' ' || c == 0x7f;
}

static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
}

int remote_host_parse(const char *s, RemoteHost *ret, const char **ret_reason) {
        if (isempty(s))
                return *ret_reason = "the host is empty", -EINVAL;
        if (s[0] == '-')
                /* ssh would read it as an option (-oProxyCommand=...). */
                return *ret_reason = "the host starts with '-'", -EINVAL;
        for (const char *c = s; *c; c++)
                if (is_forbidden_char((unsigned char) *c))
                        return *ret_reason = "the host contains whitespace or a control character", -EINVAL;

        const char *at = strrchr(s, '@');
        const char *host = at ? at + 1 : s;
        if (at == s)
                return *ret_reason = "the user before '@' is empty", -EINVAL;
        if (at && s[0] == '-')
                return *ret_reason = "the user starts with '-'", -EINVAL;
        if (at && memchr(s, '@', (size_t) (at - s)))
                return *ret_reason = "more than one '@'", -EINVAL;

        const char *port = NULL;
        size_t host_len;
        if (host[0] == '[') {
                /* [ADDR] or [ADDR]:PORT: an IPv6 address has colons of its own. */
                const char *close = strchr(host, ']');
                if (!close || close == host + 1)
                        return *ret_reason = "an unterminated or empty '[ADDRESS]'", -EINVAL;
                if (close[1] == ':')
                        port = close + 2;
                else if (close[1])
                        return *ret_reason = "text after ']' that is not ':PORT'", -EINVAL;
                host++;
                host_len = (size_t) (close - host);
        } else {
                const char *colon = strchr(host, ':');
                if (colon && strchr(colon + 1, ':'))
                        /* A bare IPv6 address: no port can follow it. */
                        colon = NULL;
                host_len = colon ? (size_t) (colon - host) : strlen(host);
                port = colon ? colon + 1 : NULL;
        }
        if (host_len == 0)
                return *ret_reason = "the host name is empty", -EINVAL;
        if (host[0] == '-')
                return *ret_reason = "the host name starts with '-'", -EINVAL;
        /* Only what OpenSSH 9.6 takes itself: an older ssh hands user and
         * host to a ProxyCommand's or Match exec's shell (%r, %h) unquoted
         * (CVE-2023-51385). */
        bool ipv6 = memchr(host, ':', host_len);
        for (size_t i = 0; i < host_len; i++)
                if (ipv6 ? !strchr("0123456789abcdefABCDEF:.", host[i]) : !is_name_char(host[i]))
                        return *ret_reason = ipv6 ? "the IPv6 address has a character other than hex digits, ':' "
                                                    "and '.'"
                                                  : "the host name has a character other than letters, digits, "
                                                    "'-', '_' and '.'",
                               -EINVAL;
        for (const char *c = s; at && c < at; c++)
                if (!is_name_char(*c))
                        return *ret_reason = "the user has a character other than letters, digits, '-', '_', '.'",
                               -EINVAL;

        unsigned p = 0;
        if (port && (safe_atou(port, &p) < 0 || p == 0 || p > 65535))
                return *ret_reason = "the port is not a number from 1 to 65535", -EINVAL;

        size_t user_len = at ? (size_t) (at - s) + 1 : 0;
        char *d = xmalloc(user_len + host_len + 1);
        memcpy(d, s, user_len);
        memcpy(d + user_len, host, host_len);
        d[user_len + host_len] = 0;
        *ret = (RemoteHost) { .destination = d, .port = (uint16_t) p };
        *ret_reason = NULL;
        return 0;
}

static bool is_safe_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("%+,-./:=@_", c);
}

char *shell_quote(const char *s) {
        /* zsh expands a word starting with '=' (=cmd: its path); '~' is
         * not a safe character at all. */
        bool safe = *s && *s != '=';
        for (const char *c = s; *c && safe; c++)
                safe = is_safe_char(*c);
        if (safe)
                return xstrdup(s);

        /* Each ' becomes '\'' (4 bytes), plus the two quotes and the NUL. */
        char *q = xmalloc(strlen(s) * 4 + 3), *o = q;
        *o++ = '\'';
        for (const char *c = s; *c; c++)
                if (*c == '\'') {
                        memcpy(o, "'\\''", 4);
                        o += 4;
                } else
                        *o++ = *c;
        *o++ = '\'';
        *o = 0;
        return q;
}

char *shell_join(char *const *argv) {
        char *s = xstrdup("");
        for (size_t i = 0; argv[i]; i++) {
                _cleanup_free_ char *q = shell_quote(argv[i]);
                strextendf(&s, "%s%s", i ? " " : "", q);
        }
        return s;
}
