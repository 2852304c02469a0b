/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "image-ref.h"
#include "util.h"

#define REPOSITORY_MAX 255
#define TAG_MAX 128

void image_ref_done(ImageRef *r) {
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (ImageRef) {};
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[n] == '\0';
}

bool image_digest_valid(const char *d) {
        const char *hex;
        if ((hex = startswith(d, "sha256:")))
                return strlen(hex) == 64 && is_hex_lower(hex, 64);
        if ((hex = startswith(d, "sha512:")))
                return strlen(hex) == 128 && is_hex_lower(hex, 128);
        return false;
}

/* One path component of a repository, as the distribution spec has it:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. */
static bool component_valid(const char *s, size_t n) {
        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n;) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                size_t j = i;
                if (s[i] == '.')
                        j = i + 1;
                else if (s[i] == '_')
                        j = i + (s[i + 1] == '_' && i + 1 < n ? 2 : 1);
                else if (s[i] == '-')
                        for (j = i; j < n && s[j] == '-'; j++)
                                ;
                else
                        return false;
                if (j >= n || !is_lower_alnum(s[j]))
                        return false;
                i = j;
        }
        return true;
}

static bool repository_valid(const char *s) {
        size_t len = strlen(s);
        if (len == 0 || len > REPOSITORY_MAX)
                return false;
        for (const char *p = s;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);
                if (!component_valid(p, n))
                        return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

bool image_ref_tag_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > TAG_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
                if (!word && (i == 0 || (c != '.' && c != '-')))
                        return false;
        }
        return true;
}

static bool port_valid(const char *s) {
        unsigned port;
        return s[0] != '0' && strlen(s) <= 5 && safe_atou(s, &port) >= 0 && port >= 1 && port <= 65535;
}

int image_ref_registry_valid(const char *reg) {
        if (isempty(reg) || strlen(reg) > 255)
                return -EINVAL;
        const char *port = NULL;
        if (reg[0] == '[') {
                /* [IPv6]:port: hex digits, ':' and '.' (a mapped IPv4) inside. */
                const char *end = strchr(reg, ']');
                if (!end || end == reg + 1 || strspn(reg + 1, "0123456789abcdefABCDEF:.") != (size_t) (end - reg - 1))
                        return -EINVAL;
                if (end[1] == ':')
                        port = end + 2;
                else if (end[1] != '\0')
                        return -EINVAL;
        } else {
                const char *colon = strchr(reg, ':');
                size_t hn = colon ? (size_t) (colon - reg) : strlen(reg);
                if (hn == 0 || reg[0] == '-' || reg[0] == '.' || reg[hn - 1] == '-' || reg[hn - 1] == '.')
                        return -EINVAL;
                for (size_t i = 0; i < hn; i++) {
                        char c = reg[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '.'))
                                return -EINVAL;
                        if (c == '.' && reg[i + 1] == '.')
                                return -EINVAL;
                }
                if (colon)
                        port = colon + 1;
        }
        if (port && !port_valid(port))
                return -EINVAL;
        return 0;
}

bool image_ref_registry_is_loopback(const char *reg) {
        size_t n = strcspn(reg, ":");
        if (reg[0] == '[')
                return startswith(reg, "[::1]") != NULL;
        if (n == strlen("localhost") && strncmp(reg, "localhost", n) == 0)
                return true;
        /* 127.0.0.0/8 in dotted form only. */
        if (strncmp(reg, "127.", 4) != 0)
                return false;
        unsigned dots = 0;
        for (size_t i = 0; i < n; i++)
                if (reg[i] == '.')
                        dots++;
                else if (reg[i] < '0' || reg[i] > '9')
                        return false;
        return dots == 3;
}

/* Does the first component name a registry rather than a repository? */
static bool looks_like_registry(const char *s, size_t n) {
        return memchr(s, '.', n) || memchr(s, ':', n) || memchr(s, '[', n) ||
               (n == strlen("localhost") && strncmp(s, "localhost", n) == 0);
}

static int fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

int image_ref_parse(const char *s, const char *default_registry, ImageRef *ret, const char **ret_reason) {
        if (isempty(s))
                return fail(ret_reason, "the reference is empty");
        if (strlen(s) > IMAGE_REF_MAX)
                return fail(ret_reason, "the reference is too long");
        _cleanup_free_ char *copy = xstrdup(s);
        _cleanup_free_ char *digest = NULL, *tag = NULL, *registry = NULL, *repository = NULL;

        char *at = strchr(copy, '@');
        if (at) {
                *at = '\0';
                if (!image_digest_valid(at + 1))
                        return fail(ret_reason, "the digest after '@' must be sha256: and 64 lowercase hex "
                                                "digits (or sha512: and 128)");
                digest = xstrdup(at + 1);
        }
        char *name = copy;
        char *slash = strchr(name, '/');
        if (slash && looks_like_registry(name, (size_t) (slash - name))) {
                *slash = '\0';
                registry = xstrdup(name);
                name = slash + 1;
                if (image_ref_registry_valid(registry) < 0)
                        return fail(ret_reason, "the registry must be a host name or address with an optional :PORT");
        } else {
                registry = xstrdup(default_registry ?: IMAGE_REF_DEFAULT_REGISTRY);
        }
        /* The tag is after the last ':' of the path part (the registry's
         * port is gone by now). */
        char *colon = strrchr(name, ':');
        if (colon) {
                *colon = '\0';
                if (!image_ref_tag_valid(colon + 1))
                        return fail(ret_reason, "the tag must be letters, digits, '_', '.' and '-', not "
                                                "starting with '.' or '-', at most 128");
                tag = xstrdup(colon + 1);
        }
        if (!repository_valid(name))
                return fail(ret_reason, "the repository must be lowercase letters and digits, separated by "
                                        "'.', '_', '__', '-' or '/', at most 255 characters");
        if (streq(registry, "docker.io") && !strchr(name, '/'))
                repository = xasprintf("library/%s", name);
        else
                repository = xstrdup(name);
        /* The limit is on the repository as the registry sees it. */
        if (strlen(repository) > REPOSITORY_MAX)
                return fail(ret_reason, "the repository must be lowercase letters and digits, separated by "
                                        "'.', '_', '__', '-' or '/', at most 255 characters");
        if (!tag && !digest)
                tag = xstrdup("latest");
        *ret = (ImageRef) {
                .registry = TAKE_PTR(registry),
                .repository = TAKE_PTR(repository),
                .tag = TAKE_PTR(tag),
                .digest = TAKE_PTR(digest),
        };
        return 0;
}

char *image_ref_format(const ImageRef *r) {
        return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "", r->tag ?: "",
                         r->digest ? "@" : "", r->digest ?: "");
}
