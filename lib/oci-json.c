/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "digest.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

#define JSON_DEPTH 64
#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"

/* ----- JSON ----- */

void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

int json_parse(const char *what, const char *buf, size_t len, json_object **ret) {
        json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
        if (!tok)
                abort();
        json_object *o = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        /* Only whitespace may follow the document. */
        while (o && end < len && strchr(" \t\r\n", buf[end]))
                end++;
        if (!o || err != json_tokener_success || end != len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s is not a valid JSON object%s%s.", what,
                                       err != json_tokener_success ? ": " : "",
                                       err != json_tokener_success ? json_tokener_error_desc(err) : "");
        }
        *ret = o;
        return 0;
}

char *strdup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

json_object *jget(json_object *o, const char *key, json_type type) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key, json_type_string);
        return v ? json_object_get_string(v) : NULL;
}

/* A JSON array of strings as a NULL-terminated vector; -EBADMSG if any
 * element is no string or has a NUL. */
int jstrv(json_object *o, const char *key, char ***ret) {
        json_object *a = jget(o, key, json_type_array);
        char **l = NULL;
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!json_object_is_type(s, json_type_string) ||
                    strlen(json_object_get_string(s)) != (size_t) json_object_get_string_len(s)) {
                        strv_free(l);
                        return -EBADMSG;
                }
                l = strv_append(l, json_object_get_string(s));
        }
        *ret = l;
        return 0;
}

/* Read NAME (a small file of the source, not a blob) and parse it as a JSON
 * object.  Returns 0 or -errno (logged). */
int source_read_json(const Source *s, const char *name, json_object **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = source_read_file(s, name, JSON_MAX, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read %s: %m", s->path, name);
        return json_parse(name, buf, len, ret);
}

/* ----- Descriptors ----- */

int descriptor_parse(json_object *o, const char *what, Descriptor *ret) {
        Descriptor d = { .media_type = jstr(o, "mediaType"), .digest = jstr(o, "digest") };
        json_object *size = jget(o, "size", json_type_int);
        if (!d.digest || !size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: descriptor without digest or size.", what);
        d.size = json_object_get_int64(size);
        if (d.size < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: negative size.", what);
        int r = digest_parse(d.digest, NULL, NULL);
        if (r == -EOPNOTSUPP)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "%s: digest algorithm of '%.80s' is not supported (sha256, sha512 are).",
                                       what, d.digest);
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: malformed digest '%.80s'.", what, d.digest);
        json_object *p = jget(o, "platform", json_type_object);
        d.os = jstr(p, "os");
        d.arch = jstr(p, "architecture");
        d.variant = jstr(p, "variant");
        d.ref_name = jstr(jget(o, "annotations", json_type_object), REF_NAME_ANNOTATION);
        *ret = d;
        return 0;
}

/* "blobs/sha256/<hex>" for a parsed descriptor. */
char *blob_path(const char *digest) {
        const char *colon = strchr(digest, ':');
        return xasprintf("blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1);
}

char *short_digest(const char *digest) {
        const char *colon = strchr(digest, ':');
        return xasprintf("%.*s:%.12s", (int) (colon - digest), digest, colon + 1);
}

/* Read a JSON blob, check its size and digest before parsing a byte of it. */
int read_blob_json(const Source *s, const Descriptor *d, const char *what, json_object **ret) {
        if (d->size > (int64_t) JSON_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s %s is %" PRIi64 " bytes, more than %u.", what,
                                       d->digest, d->size, JSON_MAX);
        _cleanup_free_ char *path = blob_path(d->digest), *buf = NULL;
        size_t len;
        int r = source_read_file(s, path, JSON_MAX, &buf, &len);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: %s blob %s is missing.", s->path, what, path);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read %s blob %s: %m", s->path, what, path);
        if ((int64_t) len != d->size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s %s: size mismatch: the descriptor says %" PRIi64 " bytes, the blob has %zu.",
                                       what, d->digest, d->size, len);
        DigestAlgorithm alg;
        (void) digest_parse(d->digest, &alg, NULL);
        char got[DIGEST_STRING_MAX];
        digest_buffer(alg, buf, len, got);
        if (!streq(got, d->digest))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s %s: digest mismatch: the blob's digest is %s.",
                                       what, d->digest, got);
        return json_parse(what, buf, len, ret);
}
