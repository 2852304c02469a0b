/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "digest.h"
#include "log.h"
#include "oci-internal.h"
#include "util.h"

/* A docker reference as docker itself compares them: "busybox",
 * "library/busybox:latest" and "docker.io/library/busybox:latest" are one. */
static char *docker_ref_normalize(const char *ref) {
        const char *r = startswith(ref, "docker.io/") ?: ref;
        r = startswith(r, "library/") ?: r;
        const char *slash = strrchr(r, '/');
        bool tagged = strchr(slash ? slash : r, ':') || strchr(r, '@');
        return xasprintf("%s%s", r, tagged ? "" : ":latest");
}

static bool docker_tag_matches(json_object *entry, const char *ref) {
        json_object *tags = jget(entry, "RepoTags", json_type_array);
        _cleanup_free_ char *want = docker_ref_normalize(ref);
        for (size_t i = 0; tags && i < json_object_array_length(tags); i++) {
                json_object *t = json_object_array_get_idx(tags, i);
                if (!json_object_is_type(t, json_type_string))
                        continue;
                _cleanup_free_ char *have = docker_ref_normalize(json_object_get_string(t));
                if (streq(have, want))
                        return true;
        }
        return false;
}

/* "<hex>.json", "blobs/sha256/<hex>": the name promises a digest. */
static char *digest_from_name(const char *name) {
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        _cleanup_free_ char *d = xasprintf("sha256:%.*s", (int) strcspn(base, "."), base);
        if (digest_parse(d, NULL, NULL) < 0)
                return NULL;
        return TAKE_PTR(d);
}

int import_docker(const Source *s, int rootfd, const ImportOptions *o, const Platform *platform,
                         UnpackLimit *limit, json_object **ret_config, char **ret_info) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = source_read_file(s, "manifest.json", JSON_MAX, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read manifest.json: %m", s->path);
        /* The docker manifest is an array: wrap it to reuse the object check. */
        _cleanup_free_ char *wrapped = xasprintf("{\"m\":%s}", buf);
        _cleanup_json_ json_object *top = NULL;
        r = json_parse("manifest.json", wrapped, strlen(wrapped), &top);
        if (r < 0)
                return r;
        json_object *list = jget(top, "m", json_type_array);
        if (!list || json_object_array_length(list) == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: manifest.json lists no image.", s->path);
        json_object *entry = NULL;
        size_t n_list = json_object_array_length(list);
        for (size_t i = 0; i < n_list; i++) {
                json_object *e = json_object_array_get_idx(list, i);
                if (!o->ref || docker_tag_matches(e, o->ref)) {
                        if (entry && !o->ref)
                                return log_error_errno(SYNTHETIC_ERRNO(ESRCH),
                                                       "%s holds several images; choose one with --ref TAG.", s->path);
                        if (!entry)
                                entry = e;
                }
        }
        if (!entry)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "%s has no image tagged '%s'.", s->path, o->ref);

        const char *config_name = jstr(entry, "Config");
        _cleanup_strv_free_ char **layers = NULL;
        if (!config_name || jstrv(entry, "Layers", &layers) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: manifest.json entry without Config or Layers.",
                                       s->path);
        _cleanup_free_ char *cbuf = NULL;
        r = source_read_file(s, config_name, JSON_MAX, &cbuf, &len);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the image config %.80s: %m", s->path, config_name);
        _cleanup_free_ char *config_digest = digest_from_name(config_name);
        if (config_digest) {
                char got[DIGEST_STRING_MAX];
                digest_buffer(DIGEST_SHA256, cbuf, len, got);
                if (!streq(got, config_digest))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "config %s: digest mismatch: it is %s.",
                                               config_digest, got);
        }
        _cleanup_json_ json_object *config = NULL;
        r = json_parse("the image config", cbuf, len, &config);
        if (r < 0)
                return r;
        r = check_config_platform(config, platform);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **diff_ids = NULL;
        if (jstrv(jget(config, "rootfs", json_type_object), "diff_ids", &diff_ids) < 0 ||
            strv_length(diff_ids) != strv_length(layers))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image has %zu layers but %zu diff_ids.",
                                       strv_length(layers), strv_length(diff_ids));
        size_t n = strv_length(layers);
        for (size_t i = 0; i < n; i++) {
                /* Docker >= 25 names layers by digest: then check that too. */
                _cleanup_free_ char *digest = startswith(layers[i], "blobs/") ? digest_from_name(layers[i]) : NULL;
                _cleanup_free_ char *label = xasprintf("layer %zu/%zu (%.60s)", i + 1, n, layers[i]);
                LayerSpec spec = {
                        .label = label, .index = (unsigned) i + 1, .count = (unsigned) n,
                        .compression = LAYER_COMPRESSION_DETECT, .digest = digest, .size = -1,
                        .diff_id = diff_ids[i], .whiteouts = true, .progress = o->progress, .limit = limit,
                };
                r = apply_one(s, rootfd, layers[i], &spec);
                if (r < 0)
                        return r;
        }
        *ret_info = config_digest ? xasprintf("CONFIG=%s\n", config_digest) : xstrdup("");
        *ret_config = TAKE_PTR(config);
        return 0;
}
