/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "auth-file.h"
#include "auth-path.h"
#include "fs.h"
#include "log.h"
#include "util.h"

static void wipe_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static void wipe_freep(char **s) {
        wipe_free(*s);
}

/* "user:password" from the base64 in an "auth" field. */
static int decode_auth(const char *b64, char **ret_user, char **ret_password) {
        size_t n = strlen(b64);
        if (n == 0 || n % 4 != 0 || n > 8192)
                return -EBADMSG;
        _cleanup_(wipe_freep) char *out = xmalloc(n / 4 * 3 + 1);
        int len = EVP_DecodeBlock((unsigned char *) out, (const unsigned char *) b64, (int) n);
        if (len < 0)
                return -EBADMSG;
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
                len--;
        out[len] = '\0';
        if (strlen(out) != (size_t) len)
                return -EBADMSG;
        char *colon = strchr(out, ':');
        if (!colon || colon == out)
                return -EBADMSG;
        *ret_user = strndup(out, (size_t) (colon - out));
        *ret_password = xstrdup(colon + 1);
        if (!*ret_user)
                abort();
        return 0;
}

static int lookup_in(const char *path, bool explicit, const char *registry, char **ret_user, char **ret_password) {
        _cleanup_(wipe_freep) char *text = NULL;
        int r = read_file_at(AT_FDCWD, path, AUTH_FILE_MAX, &text, NULL);
        if (r == -ENOENT && !explicit)
                return -ENOENT;
        if (r < 0)
                return log_error_errno(r, "Cannot read the auth file %s: %m", path);
        json_object *o = json_tokener_parse(text), *auths = NULL;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The auth file %s is not a JSON object.", path);
        }
        r = -ENOENT;
        if (json_object_object_get_ex(o, "auths", &auths) && json_object_is_type(auths, json_type_object)) {
                /* The spellings docker and podman use for a registry's key. */
                _cleanup_free_ char *k1 = xasprintf("https://%s", registry), *k2 = xasprintf("http://%s", registry),
                                    *k3 = xasprintf("https://%s/v1/", registry);
                const char *keys[] = { registry, k1, k2, k3,
                                       streq(registry, "docker.io") ? "https://index.docker.io/v1/" : NULL,
                                       streq(registry, "docker.io") ? "index.docker.io" : NULL };
                for (size_t i = 0; i < ELEMENTSOF(keys) && r == -ENOENT; i++) {
                        json_object *e, *a;
                        if (!keys[i] || !json_object_object_get_ex(auths, keys[i], &e) ||
                            !json_object_object_get_ex(e, "auth", &a) || !json_object_is_type(a, json_type_string))
                                continue;
                        r = decode_auth(json_object_get_string(a), ret_user, ret_password);
                        if (r < 0)
                                r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                                    "The auth file %s: the entry for %s is not base64 of "
                                                    "'user:password'.",
                                                    path, keys[i]);
                }
        }
        json_object_put(o);
        return r;
}

int auth_file_lookup(const char *path, const char *registry, char **ret_user, char **ret_password) {
        if (path)
                return lookup_in(path, true, registry, ret_user, ret_password);
        _cleanup_free_ char *found = NULL;
        if (auth_file_default(geteuid(), &found) < 0)
                return -ENOENT;
        return lookup_in(found, false, registry, ret_user, ret_password);
}
