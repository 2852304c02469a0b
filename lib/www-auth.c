/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <strings.h>

#include "util.h"
#include "www-auth.h"

void auth_challenge_done(AuthChallenge *c) {
        free(c->realm);
        free(c->service);
        free(c->scope);
        *c = (AuthChallenge) { .scheme = _AUTH_SCHEME_INVALID };
}

/* RFC 7230 tchar. */
static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p) {
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* A token or a quoted-string at *P into *RET (malloc'ed); moves *P on. */
static int parse_value(const char **p, char **ret) {
        const char *s = *p;
        if (*s != '"') {
                size_t n = 0;
                while (is_tchar(s[n]))
                        n++;
                if (n == 0)
                        return -EINVAL;
                *ret = strndup(s, n);
                if (!*ret)
                        abort();
                *p = s + n;
                return 0;
        }
        _cleanup_free_ char *v = xmalloc(strlen(s));
        size_t n = 0;
        for (s++;; s++) {
                if (*s == '\0')
                        return -EINVAL; /* unterminated */
                if (*s == '"')
                        break;
                if (*s == '\\') {
                        s++;
                        if (*s == '\0')
                                return -EINVAL;
                }
                /* Control bytes have no business in a realm or scope. */
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return -EINVAL;
                v[n++] = *s;
        }
        v[n] = '\0';
        *ret = TAKE_PTR(v);
        *p = s + 1;
        return 0;
}

int www_auth_parse(const char *s, AuthChallenge *ret) {
        if (!s || strlen(s) > WWW_AUTH_MAX)
                return -EINVAL;
        const char *p = skip_ows(s);
        size_t n = 0;
        while (is_tchar(p[n]))
                n++;
        if (n == 0)
                return -EINVAL;
        AuthScheme scheme;
        if (n == 5 && strncasecmp(p, "basic", 5) == 0)
                scheme = AUTH_SCHEME_BASIC;
        else if (n == 6 && strncasecmp(p, "bearer", 6) == 0)
                scheme = AUTH_SCHEME_BEARER;
        else
                return -EOPNOTSUPP;
        p += n;
        _cleanup_(auth_challenge_done) AuthChallenge c = { .scheme = scheme };
        if (*p != '\0' && *p != ' ' && *p != '\t')
                return -EINVAL;
        p = skip_ows(p);
        while (*p) {
                const char *name = p;
                size_t nn = 0;
                while (is_tchar(name[nn]))
                        nn++;
                if (nn == 0)
                        return -EINVAL;
                p = skip_ows(name + nn);
                if (*p != '=') {
                        /* A token without '=': the next challenge begins (or a
                         * token68, which neither scheme uses here). */
                        if (p > name + nn || *p == '\0' || *p == ',')
                                break;
                        return -EINVAL;
                }
                p = skip_ows(p + 1);
                _cleanup_free_ char *value = NULL;
                if (parse_value(&p, &value) < 0)
                        return -EINVAL;
                char **slot = NULL;
                if (nn == 5 && strncasecmp(name, "realm", 5) == 0)
                        slot = &c.realm;
                else if (nn == 7 && strncasecmp(name, "service", 7) == 0)
                        slot = &c.service;
                else if (nn == 5 && strncasecmp(name, "scope", 5) == 0)
                        slot = &c.scope;
                if (slot) {
                        if (*slot)
                                return -EINVAL; /* twice: which one would be meant? */
                        *slot = TAKE_PTR(value);
                }
                p = skip_ows(p);
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return -EINVAL;
                p = skip_ows(p + 1);
        }
        if (c.scheme == AUTH_SCHEME_BEARER && !c.realm)
                return -EINVAL; /* nowhere to ask for a token */
        *ret = c;
        c = (AuthChallenge) {};
        return 0;
}
