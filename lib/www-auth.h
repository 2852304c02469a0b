/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The WWW-Authenticate challenge of a registry's 401 (RFC 7235), as the
 * distribution spec uses it:
 *   Basic realm="Registry"
 *   Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
 * Only the first challenge of a header is taken.  The text is the
 * registry's, so it is parsed strictly and bounded. */

typedef enum AuthScheme {
        AUTH_SCHEME_BASIC,
        AUTH_SCHEME_BEARER,
        _AUTH_SCHEME_MAX,
        _AUTH_SCHEME_INVALID = -22,
} AuthScheme;

typedef struct AuthChallenge {
        AuthScheme scheme;
        char *realm;   /* NULL when absent */
        char *service;
        char *scope;
} AuthChallenge;

#define WWW_AUTH_MAX 4096

void auth_challenge_done(AuthChallenge *c);

/* Parse header value S.  -EINVAL if malformed, -EOPNOTSUPP for another
 * scheme (Digest, Negotiate...). */
int www_auth_parse(const char *s, AuthChallenge *ret);
