/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: image_ref_parse() and www_auth_parse(), the two parsers
 * berth pull feeds with what users and registries write.  A reference that
 * passes must come out of image_ref_format() as text that parses back to
 * itself and holds nothing a URL path or index.json could misread; a
 * challenge that passes must hold no control bytes. */
#include <stdint.h>

#include "image-ref.h"
#include "util.h"
#include "www-auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        abort();
}

static void check_ref(const char *s, const char *default_registry) {
        ImageRef r = {};
        const char *reason = NULL;
        if (image_ref_parse(s, default_registry, &r, &reason) < 0) {
                if (!reason)
                        abort();
                return;
        }
        if (!r.registry || !r.repository || (!r.tag && !r.digest))
                abort();
        if (image_ref_registry_valid(r.registry) < 0 || (r.digest && !image_digest_valid(r.digest)))
                abort();
        /* Nothing that walks a path or splits a URL. */
        if (r.repository[0] == '/' || strstr(r.repository, "..") || strstr(r.repository, "//") ||
            strpbrk(r.repository, "?#%@: \\") || (r.tag && strpbrk(r.tag, "/?#%@: ")))
                abort();
        _cleanup_free_ char *full = image_ref_format(&r);
        ImageRef again = {};
        if (image_ref_parse(full, "never.example", &again, &reason) < 0)
                abort();
        _cleanup_free_ char *full2 = image_ref_format(&again);
        if (!streq(full, full2))
                abort();
        image_ref_done(&again);
        image_ref_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 8192)
                return 0;
        _cleanup_free_ char *s = xmalloc(size + 1);
        memcpy(s, data, size);
        s[size] = 0;

        check_ref(s, NULL);
        check_ref(s, "registry.example:5000");

        AuthChallenge c = { .scheme = _AUTH_SCHEME_INVALID };
        if (www_auth_parse(s, &c) == 0) {
                if (c.scheme != AUTH_SCHEME_BASIC && c.scheme != AUTH_SCHEME_BEARER)
                        abort();
                if (c.scheme == AUTH_SCHEME_BEARER && !c.realm)
                        abort();
                check_printable(c.realm);
                check_printable(c.service);
                check_printable(c.scope);
                auth_challenge_done(&c);
        }
        return 0;
}
