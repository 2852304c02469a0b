/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image references (lib/image-ref.c) and registry challenges (lib/www-auth.c):
 * the two parsers berth pull feeds with what users and registries write. */
#include <string.h>

#include "image-ref.h"
#include "tap.h"
#include "util.h"
#include "www-auth.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void good(const char *in, const char *defreg, const char *want) {
        ImageRef r = {};
        const char *reason = NULL;
        int k = image_ref_parse(in, defreg, &r, &reason);
        _cleanup_free_ char *got = k == 0 ? image_ref_format(&r) : NULL;
        if (!TEST_ASSERT(k == 0 && streq(got, want), "'%s' is %s", in, want))
                tap_diag("r=%d got=%s reason=%s", k, got ?: "(none)", reason ?: "(none)");
        image_ref_done(&r);
}

static void bad(const char *in, const char *reason_part) {
        ImageRef r = {};
        const char *reason = NULL;
        int k = image_ref_parse(in, NULL, &r, &reason);
        if (!TEST_ASSERT(k == -EINVAL && reason && strstr(reason, reason_part), "refuses '%s' (%s)", in ?: "(null)",
                         reason_part))
                tap_diag("r=%d reason=%s", k, reason ?: "(none)");
        image_ref_done(&r);
}

static void challenge(const char *in, int want_r, AuthScheme scheme, const char *realm, const char *service,
                      const char *scope) {
        AuthChallenge c = { .scheme = _AUTH_SCHEME_INVALID };
        int r = www_auth_parse(in, &c);
        bool ok = r == want_r;
        if (ok && r == 0)
                ok = c.scheme == scheme && streq_ptr(c.realm, realm) && streq_ptr(c.service, service) &&
                     streq_ptr(c.scope, scope);
        if (!TEST_ASSERT(ok, "challenge '%s'", in ?: "(null)"))
                tap_diag("r=%d scheme=%d realm=%s service=%s scope=%s", r, c.scheme, c.realm ?: "-",
                         c.service ?: "-", c.scope ?: "-");
        if (r == 0)
                auth_challenge_done(&c);
}

int main(void) {
        good("debian", NULL, "docker.io/library/debian:latest");
        good("debian:12", NULL, "docker.io/library/debian:12");
        good("team/app", NULL, "docker.io/team/app:latest");
        good("docker.io/debian:12", NULL, "docker.io/library/debian:12");
        good("debian:12", "registry.example:5000", "registry.example:5000/debian:12");
        good("host:5000/team/app:tag", NULL, "host:5000/team/app:tag");
        good("localhost/app", NULL, "localhost/app:latest");
        good("127.0.0.1:5000/a/b/c:v1.2-rc_3", NULL, "127.0.0.1:5000/a/b/c:v1.2-rc_3");
        good("[::1]:5000/app:1", NULL, "[::1]:5000/app:1");
        good("quay.io/org/app@sha256:" HEX64, NULL, "quay.io/org/app@sha256:" HEX64);
        good("app:1@sha256:" HEX64, NULL, "docker.io/library/app:1@sha256:" HEX64);
        good("a__b/c-d--e.f_g:X", NULL, "docker.io/a__b/c-d--e.f_g:X");

        bad(NULL, "empty");
        bad("", "empty");
        bad("Debian", "lowercase");
        bad("debian:", "tag");
        bad("debian:-x", "tag");
        bad("debian:a/b", "registry");
        bad("a//b", "repository");
        bad("a/b/", "repository");
        bad("../etc", "registry");
        bad("etc/../x", "repository");
        bad("deb ian", "repository");
        bad("debian@sha256:abc", "digest");
        bad("debian@sha256:" HEX64 "0", "digest");
        bad("debian@md5:0123456789abcdef0123456789abcdef", "digest");
        bad("debian@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest");
        bad("host:0/app", "registry");
        bad("host:65536/app", "registry");
        bad("host:x/app", "registry");
        bad("-host.io/app", "registry");
        bad("ho_st.io/app", "registry");
        bad("[zz]:5000/app", "registry");
        bad("a..b.io/app", "registry");
        char longref[IMAGE_REF_MAX + 2];
        memset(longref, 'a', sizeof longref - 1);
        longref[sizeof longref - 1] = '\0';
        bad(longref, "too long");
        /* 250 characters are a fine repository, but not below library/. */
        char repo250[251];
        memset(repo250, 'a', 250);
        repo250[250] = '\0';
        bad(repo250, "at most 255");
        _cleanup_free_ char *with_registry = xasprintf("quay.io/%s", repo250);
        _cleanup_free_ char *with_tag = xasprintf("%s:latest", with_registry);
        good(with_registry, NULL, with_tag);

        TEST_ASSERT(image_ref_registry_is_loopback("127.0.0.1:5000"), "127.0.0.1:5000 is loopback");
        TEST_ASSERT(image_ref_registry_is_loopback("localhost"), "localhost is loopback");
        TEST_ASSERT(image_ref_registry_is_loopback("[::1]:443"), "[::1] is loopback");
        TEST_ASSERT(!image_ref_registry_is_loopback("127.0.0.1.evil.example"), "127.0.0.1.evil.example is not");
        TEST_ASSERT(!image_ref_registry_is_loopback("localhost.evil.example:5000"), "localhost.evil... is not");
        TEST_ASSERT(!image_ref_registry_is_loopback("docker.io"), "docker.io is not");

        challenge("Basic realm=\"Registry Realm\"", 0, AUTH_SCHEME_BASIC, "Registry Realm", NULL, NULL);
        challenge("basic realm=x", 0, AUTH_SCHEME_BASIC, "x", NULL, NULL);
        challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                  "scope=\"repository:team/app:pull\"",
                  0, AUTH_SCHEME_BEARER, "https://auth.example/token", "registry.example",
                  "repository:team/app:pull");
        challenge("Bearer realm=\"https://a/t\" , service=reg, error=\"insufficient_scope\"", 0, AUTH_SCHEME_BEARER,
                  "https://a/t", "reg", NULL);
        challenge("Bearer realm=\"a\\\"b\"", 0, AUTH_SCHEME_BEARER, "a\"b", NULL, NULL);
        challenge("Basic realm=\"r\", Bearer realm=\"x\"", 0, AUTH_SCHEME_BASIC, "r", NULL, NULL);
        challenge("Bearer service=x", -EINVAL, 0, NULL, NULL, NULL);
        challenge("Bearer realm=\"unterminated", -EINVAL, 0, NULL, NULL, NULL);
        challenge("Bearer realm=\"a\",realm=\"b\"", -EINVAL, 0, NULL, NULL, NULL);
        challenge("Bearer realm=\"a\x01" "b\"", -EINVAL, 0, NULL, NULL, NULL);
        challenge("Bearer realm=a;b", -EINVAL, 0, NULL, NULL, NULL);
        challenge("Digest realm=\"x\", nonce=\"y\"", -EOPNOTSUPP, 0, NULL, NULL, NULL);
        challenge("", -EINVAL, 0, NULL, NULL, NULL);
        challenge(NULL, -EINVAL, 0, NULL, NULL, NULL);
        return tap_finish();
}
