/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/utsname.h>

#include "oci-internal.h"
#include "util.h"

/* ----- Platforms ----- */

int platform_parse(const char *s, char **ret_os, char **ret_arch, char **ret_variant) {
        const char *a = strchr(s, '/');
        if (!a || a == s || !a[1])
                return -EINVAL;
        const char *v = strchr(a + 1, '/');
        if (v && (!v[1] || strchr(v + 1, '/') || v == a + 1))
                return -EINVAL;
        *ret_os = strndup(s, (size_t) (a - s));
        *ret_arch = v ? strndup(a + 1, (size_t) (v - a - 1)) : xstrdup(a + 1);
        *ret_variant = v ? xstrdup(v + 1) : NULL;
        if (!*ret_os || !*ret_arch)
                abort();
        return 0;
}

void platform_done(Platform *p) {
        free(p->os);
        free(p->arch);
        free(p->variant);
}

/* The host's platform in Go's (and so OCI's) spelling. */
void platform_host(Platform *ret) {
        static const struct {
                const char *uname, *arch, *variant;
        } map[] = {
                { "x86_64", "amd64", NULL }, { "aarch64", "arm64", NULL }, { "armv7l", "arm", "v7" },
                { "armv6l", "arm", "v6" },   { "i686", "386", NULL },     { "i386", "386", NULL },
                { "ppc64le", "ppc64le", NULL }, { "s390x", "s390x", NULL }, { "riscv64", "riscv64", NULL },
        };
        struct utsname u;
        (void) uname(&u);
        *ret = (Platform) { .os = xstrdup("linux"), .arch = xstrdup(u.machine) };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(u.machine, map[i].uname)) {
                        free(ret->arch);
                        ret->arch = xstrdup(map[i].arch);
                        ret->variant = map[i].variant ? xstrdup(map[i].variant) : NULL;
                }
}

bool platform_matches(const Platform *want, const char *os, const char *arch, const char *variant) {
        if (!os && !arch)
                return true; /* not said: a single-platform layout */
        if (!streq_ptr(want->os, os) || !streq_ptr(want->arch, arch))
                return false;
        /* A variant only narrows when both sides name one. */
        return !want->variant || !variant || streq(want->variant, variant);
}

char *platform_string(const char *os, const char *arch, const char *variant) {
        return xasprintf("%s/%s%s%s", os ?: "?", arch ?: "?", variant ? "/" : "", variant ?: "");
}
