/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "oci-internal.h"
#include "util.h"

#define INDEX_NESTING_MAX 4

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ----- Selecting a manifest ----- */

void selection_done(Selection *s) {
        platform_done(&s->platform);
        free(s->manifest_digest);
        free(s->manifest_media_type);
        free(s->refs);
}

static bool is_index_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_INDEX) || streq_ptr(mt, MT_DOCKER_LIST);
}
static bool is_manifest_type(const char *mt) {
        return streq_ptr(mt, MT_OCI_MANIFEST) || streq_ptr(mt, MT_DOCKER_MANIFEST);
}


static int select_descriptor(Selection *sel, json_object *o, unsigned depth) {
        Descriptor d;
        int r = descriptor_parse(o, "index entry", &d);
        if (r < 0)
                return r;
        if (depth == 0 && d.ref_name) {
                char *n = xasprintf("%s%s%s", sel->refs ?: "", sel->refs ? ", " : "", d.ref_name);
                free(sel->refs);
                sel->refs = n;
        }
        const char *ref = sel->options->ref;
        if (depth == 0 && ref) {
                if (!streq_ptr(d.ref_name, ref) && !streq(d.digest, ref))
                        return 0;
                sel->ref_seen = true;
        }
        if (is_index_type(d.media_type)) {
                if (depth + 1 >= INDEX_NESTING_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(ELOOP), "Image indexes nest too deep.");
                if (!sel->source)
                        return 0; /* the fuzzer has no blobs */
                _cleanup_json_ json_object *nested = NULL;
                r = read_blob_json(sel->source, &d, "nested index", &nested);
                if (r < 0)
                        return r;
                return select_in_index(sel, nested, depth + 1);
        }
        if (!is_manifest_type(d.media_type))
                return 0; /* the spec says: skip what you do not know */
        if (!platform_matches(&sel->platform, d.os, d.arch, d.variant)) {
                sel->platform_miss = true;
                return 0;
        }
        if (sel->matches++ == 0) {
                sel->manifest_digest = xstrdup(d.digest);
                sel->manifest_media_type = xstrdup(d.media_type);
                sel->manifest_size = d.size;
        }
        return 0;
}

int select_in_index(Selection *sel, json_object *index, unsigned depth) {
        const char *mt = jstr(index, "mediaType");
        if (mt && !is_index_type(mt))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "An image index has media type '%.80s'.", mt);
        json_object *m = jget(index, "manifests", json_type_array);
        if (!m)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "An image index has no manifests list.");
        for (size_t i = 0; i < json_object_array_length(m); i++) {
                int r = select_descriptor(sel, json_object_array_get_idx(m, i), depth);
                if (r < 0)
                        return r;
        }
        return 0;
}
